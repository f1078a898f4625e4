package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/store"
)

// mintedConfig has a minting key's plans and the plans of its tokens.
// The mock reports 100 input and 50 output tokens at 1 and 2 µUSD each.
const mintedConfig = `listen: 127.0.0.1:0
providers:
  - name: mock
    kind: mock
    mock: {prompt_tokens: 100, completion_tokens: 50, chunks: 5}
  - name: slow
    kind: mock
    mock: {prompt_tokens: 100, completion_tokens: 50, chunks: 40, chunk_delay: 25ms}
auth:
  pepper: env:PEPPER
  admin_keys: [env:ADMIN]
  failed_per_minute: 100000
  browser_tokens:
    signing_key: file:signing.pem
    max_ttl: 10m
models:
  - {name: fast, targets: [{provider: mock, model: mock-fast}]}
  - {name: slow, targets: [{provider: slow, model: mock-slow}]}
pricing:
  - {model: mock-fast, input: 1, output: 2}
  - {model: mock-slow, input: 1, output: 2}
plans:
  - {name: server, max_output_tokens: 100, concurrency: 20, spend: {daily_usd: 1}}
  - {name: tight, max_output_tokens: 100, concurrency: 2, rpm: 1000, spend: {daily_usd: 0.05}}
  - {name: free, max_output_tokens: 100, concurrency: 10, spend: {daily_usd: 0.5}}
  - {name: loose, max_output_tokens: 100}
cors:
  allowed_origins: [https://app.example.com]
`

func newMintedHarness(t *testing.T) *harness {
	env := map[string]string{"PEPPER": meteredPepper, "ADMIN": adminCanary}
	return newHarness(t, mintedConfig, env, map[string]string{"signing.pem": signingPEM(t)}, newUpstream(t, http.NotFoundHandler()))
}

// TestTokensOnlyNarrowTheirKey is the adversarial review's reproduction: a
// browser token must never do more than the key that minted it — in its
// plan, its limits, its spend and its lifetime.
func TestTokensOnlyNarrowTheirKey(t *testing.T) {
	h := newMintedHarness(t)
	keyID, key := createKey(t, h, auth.CreateOptions{Name: "app", User: "app-server", Plan: "server", Scopes: []string{"tokens:mint"}})
	_, tightKey := createKey(t, h, auth.CreateOptions{Name: "tight", Plan: "tight", Scopes: []string{"tokens:mint"}})
	admin := bearer(adminCanary)
	browser := func(tok string) []string {
		return []string{"Authorization", "Bearer " + tok, "Origin", app, "Sec-Fetch-Site", "same-site"}
	}

	t.Run("no wider plan is minted", func(t *testing.T) {
		for _, plan := range []string{"free", "loose", "server"} {
			r, _ := mint(t, h, tightKey, `{"user":"carol","ttl_seconds":300,"origin":"`+app+`","plan":"`+plan+`"}`)
			if r.status != 403 || !strings.Contains(r.body, "wider than this key's plan") {
				t.Errorf("plan %s minted by a key on plan tight: %d %s", plan, r.status, r.body)
			}
		}
		if r, _ := mint(t, h, tightKey, `{"user":"carol","ttl_seconds":300,"origin":"`+app+`"}`); r.status != 200 {
			t.Errorf("the key's own plan: %d %s", r.status, r.body)
		}
	})

	r, tok := mint(t, h, key, `{"user":"carol","ttl_seconds":300,"origin":"`+app+`","plan":"free"}`)
	if r.status != 200 {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, browser(tok)...); r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	h.flushed(1)
	// The key is owned by app-server: its tokens' users are app-server's.
	recs, err := h.db.ListUsage(context.Background(), store.UsageFilter{User: "app-server/carol"}, 10)
	if err != nil || len(recs) != 1 || recs[0].MintedBy != "key:"+keyID || recs[0].MinterUser != "app-server" || recs[0].MinterPlan != "server" {
		t.Fatalf("the token's usage does not name its minting key: %+v %v", recs, err)
	}

	t.Run("the key's tighter limits bind its tokens", func(t *testing.T) {
		// The operator tightens the key's plan: the token minted on "free"
		// (10 in flight) now runs at most 2 at once.
		h.writeConfig(strings.Replace(mintedConfig, "concurrency: 20,", "concurrency: 2,", 1))
		if err := h.gw.Reload("test"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		for range 20 {
			wg.Go(func() {
				r := h.do("POST", "/v1/chat/completions", `{"model":"slow","stream":true,"messages":[]}`, browser(tok)...)
				mu.Lock()
				codes[r.errorCode()]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[""] < 1 || codes[""] > 2 || codes["rate_limited_concurrency"] != 20-codes[""] {
			t.Fatalf("20 at once from a token of a key limited to 2: %v", codes)
		}
	})

	t.Run("the key's budget bounds its tokens", func(t *testing.T) {
		if r := h.do("PUT", "/admin/api/budgets/key/key:"+keyID, `{"daily_usd":0.0005}`, admin...); r.status != 200 {
			t.Fatalf("put budget: %d %s", r.status, r.body)
		}
		r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, browser(tok)...)
		if r.errorCode() != "insufficient_quota" || !strings.Contains(r.body, "budget") {
			t.Fatalf("a token of a key over its budget: %d %s", r.status, r.body)
		}
		if r := h.do("DELETE", "/admin/api/budgets/key/key:"+keyID, ``, admin...); r.status != 200 && r.status != 204 {
			t.Fatalf("delete budget: %d %s", r.status, r.body)
		}
		if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, browser(tok)...); r.status != 200 {
			t.Fatalf("after the budget is lifted: %d %s", r.status, r.body)
		}
	})

	t.Run("an operator budgets a token user by its namespaced id", func(t *testing.T) {
		if r := h.do("PUT", "/admin/api/budgets/user/app-server%2Fcarol", `{"daily_usd":0.0005}`, admin...); r.status != 200 {
			t.Fatalf("put budget: %d %s", r.status, r.body)
		}
		r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, browser(tok)...)
		if r.errorCode() != "insufficient_quota" {
			t.Fatalf("a token user over its budget: %d %s", r.status, r.body)
		}
		if r := h.do("DELETE", "/admin/api/budgets/user/app-server%2Fcarol", ``, admin...); r.status != 200 && r.status != 204 {
			t.Fatalf("delete budget: %d %s", r.status, r.body)
		}
	})

	t.Run("revoking the key ends its tokens", func(t *testing.T) {
		if r := h.do("POST", "/admin/api/keys/"+keyID+"/revoke", ``, admin...); r.status != 200 && r.status != 204 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, browser(tok)...)
		if r.status != 401 || r.errorCode() != "unauthorized" {
			t.Fatalf("a token of a revoked key: %d %s", r.status, r.body)
		}
	})

	// None of these paths logs a credential, whole or in part.
	logs := h.logs.String()
	for _, s := range []string{key, tightKey, tok, adminCanary, meteredPepper} {
		for i := 0; i+24 <= len(s); i += 8 {
			if strings.Contains(logs, s[i:i+24]) {
				t.Fatalf("a piece of a credential is in the log:\n%s", truncateForLog(logs))
			}
		}
	}
}
