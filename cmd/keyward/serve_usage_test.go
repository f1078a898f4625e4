package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/sqlite"
)

// TestServeUsageFlushedOnShutdown: usage records still queued when serve
// stops are written before it returns; metrics.listen serves /metrics
// without a key on its own address.
func TestServeUsageFlushedOnShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg := `listen: 127.0.0.1:0
providers:
  - {name: mock, kind: mock, mock: {prompt_tokens: 10, completion_tokens: 5}}
models:
  - {name: fast, targets: [{provider: mock, model: mock-fast}]}
clients:
  keys: [env:CLIENT_KEY]
pricing:
  - {model: mock-fast, input: 1, output: 2}
usage:
  flush_interval: 1m   # nothing is written before shutdown
  batch_size: 1000
metrics:
  listen: 127.0.0.1:0
store:
  path: data/keyward.db
`
	path := filepath.Join(dir, "keyward.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const key = "client-key-for-usage-tests-0001"
	r := startServe(t, serveFlags{config: path}, map[string]string{"CLIENT_KEY": key})
	for i := 0; i < 7; i++ {
		if status, body := do(t, "POST", r.url("/v1/chat/completions"), key, `{"model":"fast","messages":[]}`); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	// The metrics address is in the log.
	var maddr string
	poll(t, "metrics address", func() (bool, string) {
		for _, line := range strings.Split(r.stderr.String(), "\n") {
			var v struct {
				Msg, Addr string
			}
			if json.Unmarshal([]byte(line), &v) == nil && v.Msg == "metrics listening" {
				maddr = v.Addr
				return true, ""
			}
		}
		return false, r.stderr.String()
	})
	status, body := do(t, "GET", "http://"+maddr+"/metrics", "", "")
	if status != 200 || !strings.Contains(body, `keyward_requests_total{code="",model="fast",provider="mock",route="chat",status="200"} 7`) ||
		!strings.Contains(body, "keyward_usage_queue_depth") {
		t.Fatalf("metrics: %d %s", status, body)
	}
	if strings.Contains(body, key) {
		t.Fatal("the client key is in the metrics")
	}
	// Moved to metrics.listen, /metrics is not on the API listener.
	if status, _ := do(t, "GET", r.url("/metrics"), key, ""); status != 404 {
		t.Fatalf("/metrics on the API listener: %d", status)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g, err := db.SummarizeUsage(context.Background(), store.UsageFilter{}, store.ByModel)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 1 || g[0].Requests != 7 || g[0].CostMicros != 7*20 {
		t.Fatalf("after shutdown: %+v", g)
	}
}
