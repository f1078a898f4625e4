package server

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/store"
)

const accessConfig = `listen: 127.0.0.1:0
providers:
  - {name: up, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:K]}
clients:
  keys: [env:CLIENT_KEY]
auth:
  pepper: env:PEPPER
  default_plan: free
models:
  - {name: fast, targets: [{provider: up, model: gpt-fast}]}
  - {name: smart, targets: [{provider: up, model: gpt-smart}]}
plans:
  - name: free
    models: [fast]
    routes: [chat, models]
    max_output_tokens: 32
  - name: pro
    models: [fast, smart]
`

func newAccessHarness(t *testing.T) (*harness, *capture) {
	c := &capture{}
	env := map[string]string{"K": "provider-key-000001", "CLIENT_KEY": canaryClient, "PEPPER": "pepper-for-tests-0001"}
	return newHarness(t, accessConfig, env, nil, newUpstream(t, c)), c
}

func createKey(t *testing.T, h *harness, o auth.CreateOptions) (string, string) {
	t.Helper()
	rec, plain, err := h.keys.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return rec.ID, plain
}

func TestVirtualKeysAndPlans(t *testing.T) {
	h, up := newAccessHarness(t)
	_, free := createKey(t, h, auth.CreateOptions{Name: "free", Plan: "free"})
	_, pro := createKey(t, h, auth.CreateOptions{Name: "pro", Plan: "pro"})
	_, scoped := createKey(t, h, auth.CreateOptions{Name: "scoped", Plan: "pro", Scopes: []string{"model:smart"}})
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
	chat := func(model string) string { return `{"model":"` + model + `","max_tokens":1000,"messages":[]}` }

	tests := []struct {
		name   string
		key    string
		path   string
		body   string
		status int
		code   string
	}{
		{"free uses its model", free, "/v1/chat/completions", chat("fast"), 200, ""},
		{"free may not use smart", free, "/v1/chat/completions", chat("smart"), 403, "forbidden_model"},
		{"free may not use embeddings", free, "/v1/embeddings", `{"model":"fast","input":"x"}`, 403, "forbidden_route"},
		{"pro uses smart", pro, "/v1/chat/completions", chat("smart"), 200, ""},
		{"pro uses embeddings", pro, "/v1/embeddings", `{"model":"fast","input":"x"}`, 200, ""},
		{"scope narrows pro", scoped, "/v1/chat/completions", chat("fast"), 403, "forbidden_model"},
		{"scope allows its model", scoped, "/v1/chat/completions", chat("smart"), 200, ""},
		{"static key gets the default plan", canaryClient, "/v1/chat/completions", chat("smart"), 403, "forbidden_model"},
		{"x-api-key works for virtual keys", "", "/v1/chat/completions", chat("fast"), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := bearer(tt.key)
			if tt.key == "" {
				hdr = []string{"Authorization", "", "X-Api-Key", free}
			}
			r := h.do("POST", tt.path, tt.body, hdr...)
			if r.status != tt.status || tt.code != "" && r.errorCode() != tt.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	// The free plan's output cap applies on top of the global one.
	h.do("POST", "/v1/chat/completions", chat("fast"), bearer(free)...)
	if got := up.last()["max_tokens"]; got != 32.0 {
		t.Errorf("free plan max_tokens upstream = %v, want 32", got)
	}
	h.do("POST", "/v1/chat/completions", chat("fast"), bearer(pro)...)
	if got := up.last()["max_tokens"]; got != 1000.0 {
		t.Errorf("pro plan max_tokens upstream = %v, want 1000", got)
	}
	// /v1/models lists what the credential may use.
	for key, want := range map[string]string{free: `"fast"`, pro: `"smart"`, scoped: `"smart"`} {
		r := h.do("GET", "/v1/models", "", bearer(key)...)
		if r.status != 200 || !strings.Contains(r.body, want) {
			t.Errorf("models: %d %s", r.status, r.body)
		}
	}
	if r := h.do("GET", "/v1/models", "", bearer(free)...); strings.Contains(r.body, "smart") {
		t.Errorf("free lists smart: %s", r.body)
	}
	for _, k := range []string{free, pro, scoped} {
		if strings.Contains(h.logs.String(), k) {
			t.Fatal("a virtual key reached the log")
		}
	}
}

func TestRefusedKeysLookAlike(t *testing.T) {
	h, _ := newAccessHarness(t)
	ctx := context.Background()
	revokedID, revoked := createKey(t, h, auth.CreateOptions{Name: "r", Plan: "pro"})
	if err := h.keys.Revoke(ctx, revokedID, "test"); err != nil {
		t.Fatal(err)
	}
	unknown := "kw_live_" + strings.Repeat("A", 49) // right shape, wrong checksum
	var bodies []string
	for _, k := range []string{revoked, unknown, "nonsense", canaryClient + "x"} {
		r := h.do("POST", "/v1/chat/completions", `{"model":"fast"}`, "Authorization", "Bearer "+k)
		if r.status != 401 {
			t.Fatalf("%.12s: %d", k, r.status)
		}
		// The same body but for the request id.
		bodies = append(bodies, strings.Split(r.body, `"request_id"`)[0])
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("401 bodies differ:\n%s\n%s", bodies[0], b)
		}
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"detail":"revoked key"`) || !strings.Contains(logs, `"detail":"unknown key"`) {
		t.Errorf("the log must say why: %s", logs)
	}
	if strings.Contains(logs, revoked) {
		t.Fatal("key in log")
	}
}

func TestPlanRemovedFromConfig(t *testing.T) {
	h, _ := newAccessHarness(t)
	_, k := createKey(t, h, auth.CreateOptions{Name: "gold", Plan: "gold"})
	r := h.do("POST", "/v1/chat/completions", `{"model":"fast"}`, "Authorization", "Bearer "+k)
	if r.status != 403 || r.errorCode() != "forbidden" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestFailedAuthenticationIsLimitedPerIP(t *testing.T) {
	h, _ := newAccessHarness(t)
	_, good := createKey(t, h, auth.CreateOptions{Name: "good", Plan: "pro"})
	for i := 0; i < 20; i++ {
		if r := h.do("POST", "/v1/chat/completions", `{"model":"fast"}`, "Authorization", "Bearer wrong-key-guess"); r.status != 401 {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	// The 21st failing attempt from the address is throttled; a valid key
	// from it is still served (issue #15: a throttle must not lock out the
	// clients who share an address with an attacker).
	r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, "Authorization", "Bearer wrong-key-guess")
	if r.status != 429 || r.errorCode() != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("after 20 failures: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, "Authorization", "Bearer "+good); r.status != 200 {
		t.Fatalf("a valid key after 20 failures: %d %s", r.status, r.body)
	}
	evs, err := h.db.Events(context.Background(), store.EventFilter{Kind: "auth.failures"})
	if err != nil || len(evs) != 1 || evs[0].Subject != "127.0.0.1" {
		t.Fatalf("audit: %+v %v", evs, err)
	}
}

func TestPlanRequestLimits(t *testing.T) {
	cfg := strings.Replace(accessConfig, "  - name: pro\n    models: [fast, smart]\n", "  - name: pro\n    models: [fast, smart]\n    rpm: 3\n", 1)
	env := map[string]string{"K": "provider-key-000001", "CLIENT_KEY": canaryClient, "PEPPER": "pepper-for-tests-0001"}
	h := newHarness(t, cfg, env, nil, newUpstream(t, &capture{}))
	_, a := createKey(t, h, auth.CreateOptions{Name: "a", Plan: "pro", User: "alice"})
	_, a2 := createKey(t, h, auth.CreateOptions{Name: "a2", Plan: "pro", User: "alice"})
	_, b := createKey(t, h, auth.CreateOptions{Name: "b", Plan: "pro", User: "bob"})
	chat := `{"model":"fast","messages":[]}`
	for i := 0; i < 3; i++ {
		r := h.do("POST", "/v1/chat/completions", chat, "Authorization", "Bearer "+a)
		if r.status != 200 || r.header.Get("X-Ratelimit-Remaining-Requests") != strconv.Itoa(2-i) || r.header.Get("X-Ratelimit-Limit-Requests") != "3" {
			t.Fatalf("request %d: %d %v", i, r.status, r.header)
		}
	}
	r := h.do("POST", "/v1/chat/completions", chat, "Authorization", "Bearer "+a)
	if r.status != 429 || r.errorCode() != "rate_limited_requests" || r.header.Get("Retry-After") != "20" || !strings.Contains(r.body, "3 requests per minute") {
		t.Fatalf("4th: %d %s %v", r.status, r.body, r.header)
	}
	// Alice's other key shares her user limit; Bob has his own.
	if r := h.do("POST", "/v1/chat/completions", chat, "Authorization", "Bearer "+a2); r.status != 429 {
		t.Fatalf("alice's second key: %d", r.status)
	}
	if r := h.do("POST", "/v1/chat/completions", chat, "Authorization", "Bearer "+b); r.status != 200 {
		t.Fatalf("bob: %d", r.status)
	}
	// The free plan has no request limit.
	for i := 0; i < 5; i++ {
		if r := h.do("POST", "/v1/chat/completions", chat, "Authorization", "Bearer "+canaryClient); r.status != 200 || r.header.Get("X-Ratelimit-Limit-Requests") != "" {
			t.Fatalf("unlimited plan: %d %v", r.status, r.header)
		}
	}
}
