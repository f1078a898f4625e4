package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gated streams events one at a time, each released by the test, and
// records the key of every request.
type gated struct {
	mu      sync.Mutex
	keys    []string
	release chan struct{}
}

func (g *gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	io.Copy(io.Discard, r.Body)
	g.mu.Lock()
	g.keys = append(g.keys, key)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	for i, e := range streamEvents("chat", "k="+key) {
		if i > 0 {
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, e)
		w.(http.Flusher).Flush()
	}
}

const reloadConfig = `listen: 127.0.0.1:0
providers:
  - {name: up, kind: openai-compatible, base_url: "{{UPSTREAM}}/v1", keys: [file:provider.key]}
clients:
  keys: [file:client.key]
models:
  - {name: fast, targets: [{provider: up, model: m}]}
`

func TestReloadDuringStream(t *testing.T) {
	up := &gated{release: make(chan struct{})}
	oldKey, newKey := "old-provider-key-0001", "new-provider-key-0002"
	h := newHarness(t, reloadConfig, nil, map[string]string{"provider.key": oldKey, "client.key": canaryClient}, newUpstream(t, up))

	// Start a stream and read its first event.
	req, _ := http.NewRequestWithContext(context.Background(), "POST", h.srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"fast","stream":true,"messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+canaryClient)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q", line)
	}
	gen := h.gw.Current().Generation

	// Rotate the provider key, add a model, rotate the client key; reload.
	if err := os.WriteFile(filepath.Join(h.dir, "provider.key"), []byte(newKey), 0o600); err != nil {
		t.Fatal(err)
	}
	newClient := "kw_test_rotatedclientkey000000000"
	os.WriteFile(filepath.Join(h.dir, "client.key"), []byte(newClient), 0o600)
	h.writeConfig(strings.ReplaceAll(reloadConfig, "{{UPSTREAM}}", strings.TrimSuffix(h.gw.Current().Config.Providers[0].BaseURL, "/v1")) +
		"  - {name: smart, targets: [{provider: up, model: m2}]}\n")
	if err := h.gw.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if h.gw.Current().Generation != gen+1 {
		t.Fatal("reload did not install")
	}

	// The live stream finishes, whole, on what it started with.
	close(up.release)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rest), "data: [DONE]") || strings.Contains(string(rest), "error") {
		t.Fatalf("stream after reload: %s", rest)
	}
	if strings.Contains(string(rest), oldKey) {
		t.Fatal("old key echoed: the in-flight stream lost its scrubber")
	}

	// New requests use the new configuration and keys; the old client key
	// is gone.
	if r := h.do("POST", "/v1/chat/completions", `{"model":"smart","messages":[]}`); r.status != 401 {
		t.Fatalf("old client key after rotation: %d", r.status)
	}
	r := h.do("POST", "/v1/chat/completions", `{"model":"smart","stream":true,"messages":[]}`, "Authorization", "Bearer "+newClient)
	if r.status != 200 || strings.Contains(r.body, newKey) {
		t.Fatalf("new model: %d %s", r.status, r.body)
	}
	up.mu.Lock()
	keys := append([]string(nil), up.keys...)
	up.mu.Unlock()
	if len(keys) != 2 || keys[0] != oldKey || keys[1] != newKey {
		t.Fatalf("upstream saw keys %q", keys)
	}

	// A broken reload keeps the running configuration.
	os.WriteFile(filepath.Join(h.dir, "provider.key"), []byte(""), 0o600)
	if err := h.gw.Reload("test"); err == nil {
		t.Fatal("reload with an empty key file must fail")
	}
	if r := h.do("POST", "/v1/chat/completions", `{"model":"smart","messages":[]}`, "Authorization", "Bearer "+newClient); r.status != 200 {
		t.Fatalf("after failed reload: %d %s", r.status, r.body)
	}
}
