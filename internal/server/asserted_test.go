package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/store"
)

// assertedConfig: an app server's key on a wide plan names its end users,
// who get the free plan (rpm 3, a small daily cap). The mock reports 100
// input and 50 output tokens at 1 and 2 µUSD each: 200 µUSD a request.
const assertedConfig = `listen: 127.0.0.1:0
providers:
  - name: mock
    kind: mock
    mock: {prompt_tokens: 100, completion_tokens: 50, chunks: 3}
clients:
  keys: [env:CLIENT_KEY]
auth:
  pepper: env:PEPPER
  admin_keys: [env:ADMIN]
  failed_per_minute: 100000
  asserted_users: {plan: free, from_body: true}
models:
  - {name: fast, targets: [{provider: mock, model: mock-fast}]}
pricing:
  - {model: mock-fast, input: 1, output: 2}
plans:
  - {name: server, max_output_tokens: 100, rpm: 1000, concurrency: 50, spend: {daily_usd: 5}}
  - {name: free, max_output_tokens: 100, rpm: 3, concurrency: 5}
  - {name: capped, max_output_tokens: 100, rpm: 1000, spend: {daily_usd: 0.003}}
  - {name: pro, max_output_tokens: 100, rpm: 2000}
  - {name: narrow, max_output_tokens: 100, rpm: 2}
`

func newAssertedHarness(t *testing.T) *harness {
	env := map[string]string{"PEPPER": meteredPepper, "ADMIN": adminCanary, "CLIENT_KEY": canaryClient}
	return newHarness(t, assertedConfig, env, nil, newUpstream(t, http.NotFoundHandler()))
}

const askFast = `{"model":"fast","messages":[{"role":"user","content":"hi"}]}`

// TestAssertedUsers: a users:assert key names the end user of each
// request; the user's plan, limits, caps, disabling and usage apply as for
// any user, within the key's. Nobody else may name a user.
func TestAssertedUsers(t *testing.T) {
	h := newAssertedHarness(t)
	keyID, server := createKey(t, h, auth.CreateOptions{Name: "app", Plan: "server", Scopes: []string{auth.ScopeAssertUsers}})
	_, plain := createKey(t, h, auth.CreateOptions{Name: "plain", Plan: "server"})
	as := func(key, user string) []string {
		return []string{"Authorization", "Bearer " + key, auth.UserHeader, user}
	}
	admin := bearer(adminCanary)

	t.Run("refused without the scope", func(t *testing.T) {
		for name, hdr := range map[string][]string{
			"key without users:assert": as(plain, "alice"),
			"static client key":        {auth.UserHeader, "alice"},
		} {
			r := h.do("POST", "/v1/chat/completions", askFast, hdr...)
			if r.status != 403 || r.errorCode() != "forbidden" || !strings.Contains(r.body, "users:assert") {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
		}
	})

	t.Run("ids are validated", func(t *testing.T) {
		for _, id := range []string{" ", "a/b", "-x", "a b", strings.Repeat("a", 129), "ü", "a\tb", "a,b"} {
			r := h.do("POST", "/v1/chat/completions", askFast, as(server, id)...)
			if r.status != 400 || r.errorCode() != "invalid_request" || !strings.Contains(r.body, auth.UserHeader) {
				t.Errorf("id %q: %d %s", id, r.status, r.body)
			}
		}
		for _, id := range []string{"alice@example.com", "auth0|5f1c", "user_2abcXYZ", strings.Repeat("a", 128), "9"} {
			if r := h.do("POST", "/v1/chat/completions", askFast, as(server, id)...); r.status != 200 {
				t.Errorf("id %q refused: %d %s", id, r.status, r.body)
			}
		}
		// Two values are ambiguous: refused.
		req, _ := http.NewRequest("POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(askFast))
		req.Header.Set("Authorization", "Bearer "+server)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add(auth.UserHeader, "alice")
		req.Header.Add(auth.UserHeader, "bob")
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("two users: %d", resp.StatusCode)
		}
	})

	t.Run("each user has its own plan's rate limit", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if r := h.do("POST", "/v1/chat/completions", askFast, as(server, "rate-alice")...); r.status != 200 {
				t.Fatalf("request %d: %d %s", i, r.status, r.body)
			}
		}
		r := h.do("POST", "/v1/chat/completions", askFast, as(server, "rate-alice")...)
		if r.status != 429 || r.errorCode() != "rate_limited_requests" || !strings.Contains(r.body, `plan \"free\"`) {
			t.Fatalf("4th request in a minute: %d %s", r.status, r.body)
		}
		if r := h.do("POST", "/v1/chat/completions", askFast, as(server, "rate-bob")...); r.status != 200 {
			t.Errorf("another user is not limited by alice: %d %s", r.status, r.body)
		}
		if r := h.do("POST", "/v1/chat/completions", askFast, "Authorization", "Bearer "+server); r.status != 200 {
			t.Errorf("the key itself is not limited by its users: %d %s", r.status, r.body)
		}
	})

	t.Run("the user's assigned plan applies, narrowed by the key's", func(t *testing.T) {
		if r := h.do("PUT", "/admin/api/users/assigned-carol", `{"plan":"narrow"}`, admin...); r.status != 200 {
			t.Fatalf("assign: %d %s", r.status, r.body)
		}
		for i := 0; i < 2; i++ {
			if r := h.do("POST", "/v1/chat/completions", askFast, as(server, "assigned-carol")...); r.status != 200 {
				t.Fatalf("request %d: %d %s", i, r.status, r.body)
			}
		}
		if r := h.do("POST", "/v1/chat/completions", askFast, as(server, "assigned-carol")...); r.status != 429 || !strings.Contains(r.body, `plan \"narrow\"`) {
			t.Errorf("3rd request on plan narrow (rpm 2): %d %s", r.status, r.body)
		}
		// A wider plan assigned to the user never widens the key's.
		_, tiny := createKey(t, h, auth.CreateOptions{Name: "tiny", Plan: "narrow", Scopes: []string{auth.ScopeAssertUsers}})
		if r := h.do("PUT", "/admin/api/users/wide-dave", `{"plan":"pro"}`, admin...); r.status != 200 {
			t.Fatalf("assign: %d %s", r.status, r.body)
		}
		codes := []int{}
		for i := 0; i < 3; i++ {
			codes = append(codes, h.do("POST", "/v1/chat/completions", askFast, as(tiny, "wide-dave")...).status)
		}
		if diff := cmp.Diff([]int{200, 200, 429}, codes); diff != "" {
			t.Errorf("user on pro through a key on narrow (rpm 2) (-want +got):\n%s", diff)
		}
	})

	t.Run("a disabled user is refused", func(t *testing.T) {
		if r := h.do("PUT", "/admin/api/users/gone-erin", `{"disabled":true}`, admin...); r.status != 200 {
			t.Fatalf("disable: %d %s", r.status, r.body)
		}
		waitFor(t, "the user cache to see erin disabled", func() bool {
			r := h.do("POST", "/v1/chat/completions", askFast, as(server, "gone-erin")...)
			return r.status == 403 && strings.Contains(r.body, "disabled")
		})
	})

	t.Run("usage is the user's, under the key", func(t *testing.T) {
		r := h.do("POST", "/v1/chat/completions", askFast, as(server, "usage-frank")...)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		waitFor(t, "frank's record", func() bool {
			recs, _ := h.db.ListUsage(t.Context(), store.UsageFilter{RequestID: r.header.Get("X-Request-Id")}, 1)
			return len(recs) == 1
		})
		rec := h.record(r.header.Get("X-Request-Id"))
		got := []string{rec.Key, rec.User, rec.Plan, rec.MintedBy, rec.MinterPlan}
		if diff := cmp.Diff([]string{"key:" + keyID, "usage-frank", "free", "key:" + keyID, "server"}, got); diff != "" {
			t.Errorf("record (-want +got):\n%s", diff)
		}
	})

	t.Run("a key owned by a tenant names users in its namespace", func(t *testing.T) {
		_, tenant := createKey(t, h, auth.CreateOptions{Name: "tenant", User: "acme", Plan: "server", Scopes: []string{auth.ScopeAssertUsers}})
		r := h.do("POST", "/v1/chat/completions", askFast, as(tenant, "grace")...)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		waitFor(t, "grace's record", func() bool {
			recs, _ := h.db.ListUsage(t.Context(), store.UsageFilter{RequestID: r.header.Get("X-Request-Id")}, 1)
			return len(recs) == 1
		})
		if rec := h.record(r.header.Get("X-Request-Id")); rec.User != "acme/grace" || rec.MinterUser != "acme" {
			t.Errorf("user %q, minter user %q", rec.User, rec.MinterUser)
		}
	})

	t.Run("the body names the user when configured", func(t *testing.T) {
		body := `{"model":"fast","user":"body-heidi","messages":[{"role":"user","content":"hi"}]}`
		for i := 0; i < 3; i++ {
			if r := h.do("POST", "/v1/chat/completions", body, "Authorization", "Bearer "+server); r.status != 200 {
				t.Fatalf("request %d: %d %s", i, r.status, r.body)
			}
		}
		if r := h.do("POST", "/v1/chat/completions", body, "Authorization", "Bearer "+server); r.status != 429 {
			t.Errorf("heidi's 4th: %d %s", r.status, r.body)
		}
		// Without users:assert the field is only OpenAI's: not an assertion.
		for i := 0; i < 4; i++ {
			if r := h.do("POST", "/v1/chat/completions", body, "Authorization", "Bearer "+plain); r.status != 200 {
				t.Fatalf("plain key, request %d: %d %s", i, r.status, r.body)
			}
		}
		// The header wins over the body.
		hdrBody := `{"model":"fast","user":"body-heidi","messages":[]}`
		if r := h.do("POST", "/v1/chat/completions", hdrBody, as(server, "header-ivan")...); r.status != 200 {
			t.Errorf("header user with another body user: %d %s", r.status, r.body)
		}
		if r := h.do("POST", "/v1/chat/completions", strings.Replace(body, "body-heidi", "bad user", 1), "Authorization", "Bearer "+server); r.status != 400 {
			t.Errorf("invalid body user: %d %s", r.status, r.body)
		}
	})
}

// TestAssertedUserSpendCap: each asserted user is held to its own daily
// cap; another user of the same key is not.
func TestAssertedUserSpendCap(t *testing.T) {
	h := newAssertedHarness(t)
	_, server := createKey(t, h, auth.CreateOptions{Name: "app", Plan: "server", Scopes: []string{auth.ScopeAssertUsers}})
	if r := h.do("PUT", "/admin/api/users/spender", `{"plan":"capped"}`, bearer(adminCanary)...); r.status != 200 {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	as := func(user string) []string {
		return []string{"Authorization", "Bearer " + server, auth.UserHeader, user}
	}
	refused := false
	for i := 0; i < 40 && !refused; i++ {
		r := h.do("POST", "/v1/chat/completions", askFast, as("spender")...)
		switch {
		case r.status == 429 && r.errorCode() == "insufficient_quota":
			refused = true
		case r.status != 200:
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if !refused {
		t.Fatal("the user's daily cap of 0.003 USD never refused a request of 0.0002 USD")
	}
	if r := h.do("POST", "/v1/chat/completions", askFast, as("saver")...); r.status != 200 {
		t.Errorf("another user of the same key: %d %s", r.status, r.body)
	}
}

// TestDecisions: POST /v1/decisions answers whether a user may go on, under
// the same request limits and caps as keyward's own routes.
func TestDecisions(t *testing.T) {
	h := newAssertedHarness(t)
	_, server := createKey(t, h, auth.CreateOptions{Name: "app", Plan: "server", Scopes: []string{auth.ScopeAssertUsers}})
	_, plain := createKey(t, h, auth.CreateOptions{Name: "plain", Plan: "server"})
	decide := func(user, body string) (result, decision) {
		t.Helper()
		r := h.do("POST", "/v1/decisions", body, "Authorization", "Bearer "+server, auth.UserHeader, user)
		var d decision
		if r.status == 200 {
			if err := json.Unmarshal([]byte(r.body), &d); err != nil {
				t.Fatalf("%s: %v", r.body, err)
			}
		}
		return r, d
	}
	r, d := decide("judy", `{"dry_run":true}`)
	if r.status != 200 || !d.Success || d.Limit != 3 || d.Remaining != 2 || d.Reason != "allowed" || d.Reset == 0 {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	var remaining []int
	for i := 0; i < 3; i++ {
		_, d := decide("judy", ``)
		remaining = append(remaining, d.Remaining)
	}
	if diff := cmp.Diff([]int{2, 1, 0}, remaining); diff != "" {
		t.Errorf("remaining after each decision (a dry run took nothing) (-want +got):\n%s", diff)
	}
	if _, d := decide("judy", `{"cost":1}`); d.Success || d.Reason != "rate_limited_requests" || d.Limit != 3 {
		t.Errorf("4th decision: %+v", d)
	}
	// The same limit as keyward's own routes.
	if r := h.do("POST", "/v1/chat/completions", askFast, "Authorization", "Bearer "+server, auth.UserHeader, "judy"); r.status != 429 {
		t.Errorf("judy's chat after her decisions: %d", r.status)
	}
	if _, d := decide("kim", `{"cost":3}`); !d.Success || d.Remaining != 0 {
		t.Errorf("cost 3: %+v", d)
	}
	for _, body := range []string{`{"cost":0}`, `{"cost":1001}`, `{"cost":"1"}`, `{"extra":1}`, `[]`, `{"cost":1}{}`} {
		if r, _ := decide("kim", body); r.status != 400 || r.errorCode() != "invalid_request" {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	if r := h.do("POST", "/v1/decisions", ``, "Authorization", "Bearer "+plain); r.status != 403 {
		t.Errorf("a key without users:assert: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/decisions", ``, "Authorization", "Bearer nope"); r.status != 401 {
		t.Errorf("no key: %d %s", r.status, r.body)
	}
	// A spent cap is a refusal too: broke spent its whole day (before a
	// restart, say: the ledger reads it from the usage records).
	if r := h.do("PUT", "/admin/api/users/broke", `{"plan":"capped"}`, bearer(adminCanary)...); r.status != 200 {
		t.Fatal(r.body)
	}
	spent := store.UsageRecord{At: time.Now().UTC(), RequestID: "req_spent", Key: "key:other", User: "broke", Plan: "capped",
		Route: "chat", Provider: "mock", Model: "fast", TargetModel: "mock-fast", CostMicros: 3000, Status: 200}
	if err := h.db.AppendUsage(t.Context(), []store.UsageRecord{spent}); err != nil {
		t.Fatal(err)
	}
	if _, d := decide("broke", `{"dry_run":true}`); d.Success || d.Reason != "insufficient_quota" || d.Reset == 0 {
		t.Errorf("a user whose cap is spent: %+v", d)
	}
	if r := h.do("POST", "/v1/chat/completions", askFast, "Authorization", "Bearer "+server, auth.UserHeader, "broke"); r.status != 429 || r.errorCode() != "insufficient_quota" {
		t.Errorf("broke's chat: %d %s", r.status, r.body)
	}
}

// TestBrowserAccessOffSaysWhy: with browser tokens but no
// cors.allowed_origins, minting and a preflight are refused with a message
// that names the setting, instead of a token no page can use.
func TestBrowserAccessOffSaysWhy(t *testing.T) {
	cfg := strings.Replace(mintedConfig, "cors:\n  allowed_origins: [https://app.example.com]\n", "", 1)
	env := map[string]string{"PEPPER": meteredPepper, "ADMIN": adminCanary}
	h := newHarness(t, cfg, env, map[string]string{"signing.pem": signingPEM(t)}, newUpstream(t, http.NotFoundHandler()))
	_, key := createKey(t, h, auth.CreateOptions{Name: "app", Plan: "server", Scopes: []string{auth.ScopeMint}})
	r, _ := mint(t, h, key, `{"user":"u","ttl_seconds":60,"origin":"http://localhost:3000"}`)
	if r.status != 403 || r.errorCode() != "origin_not_allowed" || !strings.Contains(r.body, "cors.allowed_origins is empty") {
		t.Errorf("mint: %d %s", r.status, r.body)
	}
	r = h.do("OPTIONS", "/v1/chat/completions", "", "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST")
	if r.status != 403 || !strings.Contains(r.body, "cors.allowed_origins is empty") {
		t.Errorf("preflight: %d %s", r.status, r.body)
	}
}
