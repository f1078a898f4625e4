package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/internal/proxy"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/store/sqlite"
	"github.com/keyward/keyward/internal/usage"
)

// benchUpstream answers like OpenAI chat: a JSON completion, or a stream
// of 20 chunks when asked to stream.
func benchUpstream() http.Handler {
	chunk := []byte(`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"token "}}]}` + "\n\n")
	body := []byte(okBody("/chat/completions", "x"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte(`"stream":true`)) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < 20; i++ {
				w.Write(chunk)
				w.(http.Flusher).Flush()
			}
			io.WriteString(w, "data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_upstream_1")
		w.Write(body)
	})
}

// benchLimits is a plan with every limit on (generous, so none refuses):
// request and token rates, concurrency, and daily and monthly spend caps.
const benchLimits = `auth: {default_plan: metered}
plans:
  - name: metered
    rpm: 100000000
    rpd: 1000000000
    tpm: 2000000000
    concurrency: 1000
    spend: {daily_usd: 1000000, monthly_usd: 1000000}
`

// benchKeyward is keyward's handler; with limits it enforces benchLimits
// and records usage (SQLite, async) and metrics, as serve does.
func benchKeyward(b *testing.B, upstream string, limits bool) http.Handler {
	src := `
providers:
  - {name: up, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:K]}
clients:
  keys: [env:CLIENT_KEY]
models:
  - {name: fast, targets: [{provider: up, model: gpt-4.1-mini}]}
`
	if limits {
		src += benchLimits
	}
	cfg, err := config.Parse([]byte(strings.ReplaceAll(src, "{{UPSTREAM}}", upstream)))
	if err != nil {
		b.Fatal(err)
	}
	scrub := redact.NewScrubber()
	// Production logging: JSON, info level, through the redacting handler.
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(io.Discard, nil), scrub))
	env := map[string]string{"K": canaryOpenAI, "CLIENT_KEY": canaryClient}
	gw, err := live.New(cfg, live.Options{Getenv: func(k string) string { return env[k] }, Transport: benchTransport(), Logger: log, Scrubber: scrub})
	if err != nil {
		b.Fatal(err)
	}
	d := Deps{Live: gw, Forwarder: proxy.New(proxy.Options{Logger: log}), Logger: log,
		Limiter: ratelimit.NewMemory(), Slots: ratelimit.NewMemorySlots(), Ledger: budget.NewMemoryLedger(nil), Failures: auth.NewFailureLimiter(cfg.Auth.FailedPerMinute, nil)}
	if limits {
		db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "kw.db"))
		if err != nil {
			b.Fatal(err)
		}
		w := usage.NewWriter(db, usage.WriterOptions{QueueSize: 100_000, Logger: log})
		b.Cleanup(func() { w.Close(context.Background()); db.Close() })
		d.Ledger, d.Usage, d.Budgets, d.Metrics = budget.NewMemoryLedger(budget.StoreSpend{Usage: db}), w, budget.NewTable(db, nil), metrics.New(w.Len)
	}
	return New(d)
}

func benchTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// BenchmarkForward compares keyward's whole request path (auth, body
// limit, JSON policy, model resolution, key pool, header allowlist, body
// scrubbing, access log) with a bare httputil.ReverseProxy, on the same
// loopback upstream, in one run. Compare the pairs:
//
//	go test ./internal/server -run '^$' -bench Forward -benchmem -count 6
func BenchmarkForward(b *testing.B) {
	up := httptest.NewServer(benchUpstream())
	defer up.Close()
	target, _ := url.Parse(up.URL + "/v1")
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: benchTransport(),
	}
	kw := benchKeyward(b, up.URL, false)
	kwLimits := benchKeyward(b, up.URL, true)
	for _, mode := range []struct {
		name string
		body string
	}{
		{"json", `{"model":"fast","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"max_tokens":64}`},
		{"stream", `{"model":"fast","stream":true,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"max_tokens":64}`},
	} {
		for _, p := range []struct {
			name string
			h    http.Handler
		}{{"bare", bare}, {"keyward", kw}, {"keyward+limits", kwLimits}} {
			b.Run(mode.name+"/"+p.name, func(b *testing.B) {
				b.ReportAllocs()
				body := []byte(mode.body)
				for b.Loop() {
					req := httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+canaryClient)
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					p.h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}
