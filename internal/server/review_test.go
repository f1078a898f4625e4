package server

// Adversarial review of dcb4df9 (decoded checks) and 8c8510c (tokens only
// narrow their key). Each test fails on a bypass found.

import (
	"net/http"
	"sync"
	"testing"

	"github.com/keyward/keyward/internal/auth"
)

// TestReviewUnboundedUnderCap: requests whose cost the provider decides
// from state or options keyward never sees are forwarded under a spend cap:
//   - a Responses item reference without its optional "type";
//   - OpenAI's service_tier "priority" (billed about twice the standard
//     price, while reservations and settlement use standard prices);
//   - Gemini's OpenAI-compatible extra_body.google.cached_content (a
//     stored context of up to a million tokens added to the prompt).
//
// statefulFields is a denylist of known top-level fields; any field a
// provider adds that pulls in state or changes the price passes.
func TestReviewUnboundedUnderCap(t *testing.T) {
	h := newMeteredHarness(t, "    spend: {daily_usd: 1}\n", nil)
	for _, tt := range []struct{ name, path, body string }{
		{"untyped item reference", "/v1/responses", `{"model":"fast","input":[{"id":"msg_0123"}]}`},
		{"service tier priority", "/v1/chat/completions", `{"model":"fast","messages":[{"role":"user","content":"hi"}],"service_tier":"priority"}`},
		{"gemini cached content", "/v1/chat/completions", `{"model":"fast","messages":[{"role":"user","content":"hi"}],"extra_body":{"google":{"cached_content":"cachedContents/abc"}}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", tt.path, tt.body)
			if r.status == 200 {
				t.Fatalf("forwarded under a spend cap, reserved at the standard bound: %d", r.status)
			}
		})
	}
}

// TestReviewTokenSpendsAnotherUsersBudget: the token's "user" is whatever
// the minting key asks for, and the token's spend, rate limits and
// concurrency count against that user. A key owned by app-server mints a
// token for "bob" — another tenant with his own key and a user budget —
// and uses up bob's budget (and bob's user-level rpm/concurrency, and
// bob's name in the usage report).
func TestReviewTokenSpendsAnotherUsersBudget(t *testing.T) {
	h := newMintedHarness(t)
	_, appKey := createKey(t, h, auth.CreateOptions{Name: "app", User: "app-server", Plan: "server", Scopes: []string{"tokens:mint"}})
	_, bobKey := createKey(t, h, auth.CreateOptions{Name: "bob", User: "bob", Plan: "loose"})
	if r := h.do("PUT", "/admin/api/budgets/user/bob", `{"daily_usd":0.0015}`, bearer(adminCanary)...); r.status != 200 {
		t.Fatalf("put budget: %d %s", r.status, r.body)
	}
	r, tok := mint(t, h, appKey, `{"user":"bob","ttl_seconds":300,"origin":"`+app+`","plan":"free"}`)
	if r.status != 200 {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	browser := []string{"Authorization", "Bearer " + tok, "Origin", app, "Sec-Fetch-Site", "same-site"}
	for range 5 {
		if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, browser...); r.status != 200 {
			break
		}
	}
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, bearer(bobKey)...); r.status != 200 {
		t.Fatalf("bob's own key is refused after another tenant's key minted tokens in bob's name: %d %s", r.status, r.body)
	}
}

// TestReviewTokensMultiplyKeyLimits: a key on plan "tight" (2 in flight)
// mints three tokens for three made-up users; each token is limited to 2
// in flight on its own subjects (token id, token user), never on the key's,
// so together they run 6 at once — three times the key's limit. The same
// holds for rpm, rpd and tpm (the ip subject bounds only one address).
func TestReviewTokensMultiplyKeyLimits(t *testing.T) {
	h := newMintedHarness(t)
	_, key := createKey(t, h, auth.CreateOptions{Name: "tight", Plan: "tight", Scopes: []string{"tokens:mint"}})
	var toks []string
	for _, u := range []string{"u1", "u2", "u3"} {
		r, tok := mint(t, h, key, `{"user":"`+u+`","ttl_seconds":300,"origin":"`+app+`"}`)
		if r.status != 200 {
			t.Fatalf("mint: %d %s", r.status, r.body)
		}
		toks = append(toks, tok)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for _, tok := range toks {
		for range 2 {
			wg.Go(func() {
				r := h.do("POST", "/v1/chat/completions", `{"model":"slow","stream":true,"messages":[]}`,
					"Authorization", "Bearer "+tok, "Origin", app, "Sec-Fetch-Site", "same-site")
				if r.status == http.StatusOK {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if ok > 2 {
		t.Fatalf("%d streams at once from the tokens of a key limited to 2", ok)
	}
}
