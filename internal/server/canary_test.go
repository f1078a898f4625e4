package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/redact/leakcheck"
)

var canaryScenarios = []string{
	"ok", "status-400", "status-401", "status-403", "status-404", "status-429", "status-500", "status-503",
	"timeout", "hints", "bad-ctype", "stream", "stream-error", "stream-first-error", "stream-hang",
}

func canaryConfig() string {
	var b strings.Builder
	b.WriteString(`listen: 127.0.0.1:0
providers:
  - {name: openai, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:OPENAI_KEY]}
  - {name: claude, kind: anthropic, base_url: "{{UPSTREAM}}/v1", keys: [file:anthropic.key]}
  - {name: azure, kind: azure-openai, base_url: "{{UPSTREAM}}", keys: [env:AZURE_KEY]}
clients:
  keys: [env:CLIENT_KEY]
cors:
  allowed_origins: [https://a.test]
timeouts: {request: 400ms, stream_idle: 200ms}
retry: {max_attempts: 2, auth_cooldown: 0s, rate_limit_cooldown: 0s, max_retry_after: 0s}
models:
`)
	for _, s := range canaryScenarios {
		fmt.Fprintf(&b, "  - {name: %s, targets: [{provider: openai, model: %s}]}\n", s, s)
		fmt.Fprintf(&b, "  - {name: claude-%s, targets: [{provider: claude, model: %s}]}\n", s, s)
		fmt.Fprintf(&b, "  - {name: azure-%s, targets: [{provider: azure, model: %s}]}\n", s, s)
	}
	b.WriteString("  - {name: slow, targets: [{provider: openai, model: stream-slow}]}\n")
	b.WriteString("  - {name: claude-slow, targets: [{provider: claude, model: stream-slow}]}\n")
	return b.String()
}

func newCanaryHarness(t *testing.T) *harness {
	up := newUpstream(t, evilUpstream())
	return newHarness(t, canaryConfig(),
		map[string]string{"OPENAI_KEY": canaryOpenAI, "AZURE_KEY": canaryAzure, "CLIENT_KEY": canaryClient},
		map[string]string{"anthropic.key": canaryAnthropic + "\n"}, up)
}

type canaryRoute struct {
	path     string
	prefixes []string // model name prefixes (providers) the route serves
	body     func(model string, stream bool) string
	streams  bool
}

var canaryRoutes = []canaryRoute{
	{"/v1/chat/completions", []string{"", "azure-"}, func(m string, s bool) string {
		return fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"hi"}]}`, m, s)
	}, true},
	{"/v1/responses", []string{"", "azure-"}, func(m string, s bool) string {
		return fmt.Sprintf(`{"model":%q,"stream":%v,"input":"hi"}`, m, s)
	}, true},
	{"/v1/embeddings", []string{"", "azure-"}, func(m string, _ bool) string {
		return fmt.Sprintf(`{"model":%q,"input":["hi"]}`, m)
	}, false},
	{"/v1/messages", []string{"claude-"}, func(m string, s bool) string {
		return fmt.Sprintf(`{"model":%q,"stream":%v,"max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, m, s)
	}, true},
	{"/v1/messages/count_tokens", []string{"claude-"}, func(m string, _ bool) string {
		return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, m)
	}, false},
}

// expect is the status each scenario must produce, so the sweep proves it
// exercised the path it names.
func expect(scenario string, streamed bool) int {
	switch scenario {
	case "ok", "hints":
		return 200
	case "status-400", "status-404":
		return 400
	case "status-401", "status-403", "status-500", "bad-ctype", "stream-first-error":
		return 502
	case "status-429":
		return 429
	case "status-503":
		return 503
	case "timeout":
		return 504
	}
	if streamed {
		return 200
	}
	return 0 // stream scenarios on a non-streaming route: any mapped answer
}

// TestCanarySweep drives every route through every upstream behaviour with
// an upstream that echoes the provider key everywhere, and asserts that no
// canary reaches a response body, a response header, or a log line.
func TestCanarySweep(t *testing.T) {
	h := newCanaryHarness(t)
	var results []result
	record := func(t *testing.T, where string, r result) {
		t.Helper()
		assertNoCanary(t, where+" body", r.body)
		assertNoCanary(t, where+" headers", fmt.Sprint(r.header))
		// What a client joining the deltas or strings could read.
		assertNoPiece(t, canaryFinder(), where+" joined", append(leakcheck.StreamText([]byte(r.body)), leakcheck.JSONText([]byte(r.body))...)...)
		if r.header.Get("X-Request-Id") == "" && r.status > 0 {
			t.Errorf("%s: no X-Request-Id", where)
		}
		results = append(results, r)
	}

	for _, rt := range canaryRoutes {
		for _, prefix := range rt.prefixes {
			for _, sc := range canaryScenarios {
				stream := strings.HasPrefix(sc, "stream") && rt.streams
				name := rt.path + "/" + prefix + sc
				r := h.do("POST", rt.path, rt.body(prefix+sc, stream))
				record(t, name, r)
				if want := expect(sc, stream); want != 0 && r.status != want {
					t.Errorf("%s: status %d, want %d: %s", name, r.status, want, r.body)
				}
				if stream && r.status == 200 && sc != "stream" && !strings.Contains(r.body, "upstream_") {
					t.Errorf("%s: stream without keyward's closing error event: %s", name, r.body)
				}
				if (sc == "ok" || sc == "stream") && r.status == 200 && !strings.Contains(r.body, "[REDACTED]") {
					t.Errorf("%s: echoed key was not replaced: %s", name, r.body)
				}
			}
		}
	}

	t.Run("client errors", func(t *testing.T) {
		for i, c := range []struct {
			method, path, body string
			headers            []string
			want               int
		}{
			{"POST", "/v1/chat/completions", `{"model":"ok"}`, []string{"Authorization", "Bearer " + canaryOpenAI}, 401},
			{"POST", "/v1/messages", `{"model":"claude-ok"}`, []string{"Authorization", "", "X-Api-Key", canaryAnthropic}, 401},
			{"GET", "/v1/models", ``, []string{"Authorization", "Bearer " + canaryAzure}, 401},
			{"POST", "/v1/chat/completions", `{"model":"` + canaryOpenAI + `"}`, nil, 400},
			{"POST", "/v1/chat/completions", `{"model":"` + canaryAzure + `"}`, nil, 400},
			{"POST", "/v1/chat/completions", `{"model":"ok",` + canaryAzure, nil, 400},
			{"POST", "/v1/messages", `{"model":"` + canaryAnthropic + `","max_tokens":1}`, nil, 400},
			{"POST", "/v1/chat/completions", `{"model":"ok"}`, []string{"Content-Type", "text/plain"}, 415},
			{"GET", "/v1/chat/completions", ``, nil, 405},
			{"GET", "/v1/" + canaryAzure, ``, nil, 404},
			{"GET", "/v1/models", ``, nil, 200},
			{"GET", "/v1/models", ``, []string{"Anthropic-Version", "2023-06-01"}, 200},
			{"POST", "/v1/tokens", `{"user":"` + canaryOpenAI + `","ttl_seconds":60,"origin":"https://a.test"}`, nil, 403},
			{"POST", "/v1/tokens", `{}`, []string{"Authorization", "Bearer " + canaryAnthropic}, 401},
			{"OPTIONS", "/v1/chat/completions", ``, []string{"Origin", "https://a.test", "Access-Control-Request-Method", "POST"}, 204},
			{"POST", "/v1/chat/completions", `{"model":"ok"}`, []string{"Authorization", "Bearer eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJrZXl3YXJkIn0." + canaryAzure}, 401},
			{"GET", "/healthz", ``, nil, 200},
			{"GET", "/readyz", ``, nil, 200},
		} {
			r := h.do(c.method, c.path, c.body, c.headers...)
			record(t, fmt.Sprintf("client error %d %s", i, c.path), r)
			if r.status != c.want {
				t.Errorf("case %d %s %s: status %d, want %d: %s", i, c.method, c.path, r.status, c.want, r.body)
			}
		}
	})

	t.Run("client disconnect", func(t *testing.T) {
		for _, c := range []struct{ path, model string }{{"/v1/chat/completions", "slow"}, {"/v1/messages", "claude-slow"}} {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+c.path,
				strings.NewReader(`{"model":"`+c.model+`","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+canaryClient)
			req.Header.Set("Content-Type", "application/json")
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			_, _ = resp.Body.Read(buf)
			assertNoCanary(t, "disconnect first bytes", string(buf))
			cancel()
			resp.Body.Close()
		}
		waitFor(t, "disconnects logged", func() bool { return strings.Count(h.logs.String(), `"code":"client_closed"`) >= 2 })
	})

	t.Run("reload", func(t *testing.T) {
		// A good reload, then one whose file holds a literal key: the
		// error is logged, the running configuration stays.
		if err := h.gw.Reload("test"); err != nil {
			t.Fatal(err)
		}
		h.writeConfig(strings.Replace(canaryConfig(), "keys: [env:CLIENT_KEY]", "keys: ["+canaryOpenAI+"]", 1))
		if err := h.gw.Reload("test"); err == nil {
			t.Fatal("reload with a literal key must fail")
		} else {
			assertNoCanary(t, "reload error", err.Error())
		}
		h.writeConfig(canaryConfig() + "\nbogus: [" + canaryAzure)
		if err := h.gw.Reload("test"); err == nil {
			t.Fatal("reload with a syntax error must fail")
		} else {
			assertNoCanary(t, "reload error", err.Error())
		}
		r := h.do("POST", "/v1/chat/completions", `{"model":"status-401","messages":[]}`)
		record(t, "after reload", r)
		if r.status != 502 {
			t.Errorf("after failed reload: %d %s", r.status, r.body)
		}
	})

	time.Sleep(50 * time.Millisecond) // let the last access log lines land
	logs := h.logs.String()
	assertNoCanary(t, "logs", logs)
	for _, want := range []string{`"msg":"request"`, "provider refused a key", "upstream stream error", "reload failed", "upstream stream broke"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q — the sweep did not exercise that path", want)
		}
	}
	if len(results) < 130 {
		t.Errorf("only %d responses swept", len(results))
	}
}
