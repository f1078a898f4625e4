package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/internal/proxy"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/sqlite"
	"github.com/keyward/keyward/internal/usage"
)

// Canary keys: shaped like real keys, never real. The Azure one has no
// recognisable shape, so only exact-value scrubbing can catch it.
var (
	canaryOpenAI    = "sk-proj-CANARYopenai" + strings.Repeat("Q7x", 14) + "T3BlbkFJcanary"
	canaryAnthropic = "sk-ant-api03-CANARYanthropic" + strings.Repeat("Zk4", 24) + "-AA"
	canaryAzure     = "c4a7a2f0e1d94b6f8a3c5d7e9f1b2c4a"
	canaryClient    = "kw_test_CANARYclient" + strings.Repeat("Pc9", 10)
	canaries        = []string{canaryOpenAI, canaryAnthropic, canaryAzure, canaryClient}
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness runs keyward's handler on an httptest server, configured from
// YAML in a temp dir, with logs captured.
type harness struct {
	t       *testing.T
	dir     string
	cfgPath string
	env     map[string]string
	gw      *live.Runtime
	srv     *httptest.Server
	logs    *syncBuffer
	db      *sqlite.DB
	keys    *auth.Keys // set when the configuration has a pepper
	usage   *usage.Writer
	metrics *metrics.Metrics
}

// newHarness writes cfgYAML (with {{UPSTREAM}} replaced) and files, and
// starts keyward. env is what env: references see.
func newHarness(t *testing.T, cfgYAML string, env map[string]string, files map[string]string, upstream string) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), env: env, logs: &syncBuffer{}}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h.cfgPath = filepath.Join(h.dir, "keyward.yaml")
	h.writeConfig(strings.ReplaceAll(cfgYAML, "{{UPSTREAM}}", upstream))
	cfg, err := config.LoadFile(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	scrub := redact.NewScrubber()
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}), scrub))
	h.gw, err = live.New(cfg, live.Options{
		ConfigPath: h.cfgPath,
		Getenv:     func(k string) string { return h.env[k] },
		Transport:  panicTransport{http.DefaultTransport.(*http.Transport).Clone()},
		Logger:     log,
		Scrubber:   scrub,
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(h.dir, "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h.db = db
	if pepper := h.gw.Current().Pepper; !pepper.IsZero() {
		h.keys = auth.NewKeys(db, auth.KeysOptions{Pepper: pepper, Logger: log})
	}
	h.metrics = metrics.New(func() int { return h.usage.Len() })
	h.usage = usage.NewWriter(db, usage.WriterOptions{FlushInterval: time.Millisecond, Logger: log, OnDrop: h.metrics.UsageDropped})
	t.Cleanup(func() { h.usage.Close(context.Background()) })
	deps := Deps{Live: h.gw, Keys: h.keys, Forwarder: proxy.New(proxy.Options{Logger: log}), Logger: log,
		Audit: db, UserStore: db, Users: auth.NewUsers(db, nil),
		UsageStore: db, BudgetStore: db, Budgets: budget.NewTable(db, &store.Freshness{TTL: time.Nanosecond}), Usage: h.usage, Metrics: h.metrics,
		Limiter: ratelimit.NewMemory(), Slots: ratelimit.NewMemorySlots(), Ledger: budget.NewMemoryLedger(budget.StoreSpend{Usage: db}),
		Failures: auth.NewAuditedFailureLimiter(cfg.Auth.FailedPerMinute, log, db)}
	if len(cfg.Auth.JWT) > 0 {
		v, err := auth.NewJWTVerifier(context.Background(), cfg.Auth.JWT, h.gw.Current().JWTSecrets, http.DefaultClient, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		deps.JWT = v
	}
	handler := New(deps)
	h.srv = httptest.NewUnstartedServer(handler)
	h.srv.Config.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) writeConfig(s string) {
	h.t.Helper()
	if err := os.WriteFile(h.cfgPath, []byte(s), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// result is a whole response as the client saw it.
type result struct {
	status int
	header http.Header
	body   string
}

func (r result) errorCode() string {
	var v struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(r.body), &v)
	return v.Error.Code
}

// do sends a request with the canary client key (unless headers override).
func (h *harness) do(method, path, body string, headers ...string) result {
	h.t.Helper()
	return h.doCtx(context.Background(), method, path, body, headers...)
}

func (h *harness) doCtx(ctx context.Context, method, path, body string, headers ...string) result {
	h.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+canaryClient)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		return result{status: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// assertNoCanary fails if any canary (or a distinctive part of one) is in
// s, or any 24-character piece of one, raw or encoded.
func assertNoCanary(t *testing.T, where, s string) {
	t.Helper()
	for _, c := range canaries {
		if strings.Contains(s, c) || strings.Contains(s, c[8:24]) {
			t.Errorf("canary %s… leaked in %s:\n%s", c[:12], where, truncateForLog(s))
		}
	}
	assertNoPiece(t, canaryFinder(), where, s)
}

func truncateForLog(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newUpstream starts a fake provider and returns its URL.
func newUpstream(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// panicTransport panics on an outbound request whose body holds
// "[[test:panic]]", so tests can drive the handler's panic path.
type panicTransport struct{ base http.RoundTripper }

func (p panicTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.GetBody != nil {
		if b, err := r.GetBody(); err == nil {
			body, _ := io.ReadAll(b)
			if strings.Contains(string(body), "[[test:panic]]") {
				panic("test: transport panic")
			}
		}
	}
	return p.base.RoundTrip(r)
}
