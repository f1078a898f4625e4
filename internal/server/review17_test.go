package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/store"
)

// The harness of asserted_test.go: key plan "server" (rpm 1000, $5/day),
// asserted users on "free" (rpm 3), auth.asserted_users.from_body on.

// TestReview17BodyUserBlankRunsAsKey: with from_body, a body whose "user"
// is present but "" or null (an app passing session?.user?.id for a user
// it has no id for, or a client-controlled field) is not refused the way
// an empty X-Keyward-User is: the request silently runs as the server key
// itself, on the key's wide plan, with no per-user limit or cap at all.
func TestReview17BodyUserBlankRunsAsKey(t *testing.T) {
	h := newAssertedHarness(t)
	_, server := createKey(t, h, auth.CreateOptions{Name: "app", Plan: "server", Scopes: []string{auth.ScopeAssertUsers}})
	for _, user := range []string{`""`, `null`} {
		body := `{"model":"fast","user":` + user + `,"messages":[{"role":"user","content":"hi"}]}`
		var codes []int
		for i := 0; i < 5; i++ {
			codes = append(codes, h.do("POST", "/v1/chat/completions", body, bearer(server)...).status)
		}
		// Wanted: refused (400) like an empty header, or held to the
		// asserted users' plan (free: rpm 3). Got: 5 × 200 on plan server.
		if codes[0] == 200 && codes[4] == 200 {
			t.Errorf(`"user": %s ran as the server key on its own plan: %v`, user, codes)
		}
	}
}

// TestReview17AssertedUserIDHoldingAKeyIsEchoed: an asserted user id is
// validated for its characters only. A provider key (or any loaded secret
// of that charset) named as the user — by a bug in the app, or through
// from_body — is stored in the usage records and returned verbatim by the
// admin usage API (JSON and CSV). The operator path refuses such ids
// (operator.CheckEchoed); this path does not. The access canary sweep
// names a provider key as a user but never reads the usage API after.
func TestReview17AssertedUserIDHoldingAKeyIsEchoed(t *testing.T) {
	h := newAssertedHarness(t)
	_, server := createKey(t, h, auth.CreateOptions{Name: "app", Plan: "server", Scopes: []string{auth.ScopeAssertUsers}})
	r := h.do("POST", "/v1/chat/completions", askFast, "Authorization", "Bearer "+server, auth.UserHeader, canaryOpenAI)
	if r.status != 200 {
		return // refused: what is wanted
	}
	waitFor(t, "the usage record", func() bool {
		recs, _ := h.db.ListUsage(t.Context(), store.UsageFilter{RequestID: r.header.Get("X-Request-Id")}, 1)
		return len(recs) == 1
	})
	for _, path := range []string{"/admin/api/usage?by=user", "/admin/api/usage?by=user&format=csv"} {
		a := h.do("GET", path, "", bearer(adminCanary)...)
		if strings.Contains(a.body, canaryOpenAI) {
			t.Errorf("%s returns the provider key named as a user:\n%s", path, a.body)
		}
	}
}

// TestReview17UnownedKeyReachesTenant: the app server's own key (no owner)
// names users in the same namespace as key owners (tenants). An end user
// whose id is a tenant's — "acme" — gets the plan the operator assigned to
// the tenant (pro, not free) and spends the tenant's budget, until the
// tenant's own key is refused.
func TestReview17UnownedKeyReachesTenant(t *testing.T) {
	h := newAssertedHarness(t)
	admin := bearer(adminCanary)
	_, server := createKey(t, h, auth.CreateOptions{Name: "app", Plan: "server", Scopes: []string{auth.ScopeAssertUsers}})
	_, tenant := createKey(t, h, auth.CreateOptions{Name: "acme-key", User: "acme", Plan: "server"})
	if r := h.do("PUT", "/admin/api/budgets/user/acme", `{"daily_usd":0.002}`, admin...); r.status != 200 {
		t.Fatalf("budget: %d %s", r.status, r.body)
	}
	if r := h.do("PUT", "/admin/api/users/acme", `{"plan":"pro"}`, admin...); r.status != 200 {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	var codes []int
	for i := 0; i < 6; i++ {
		codes = append(codes, h.do("POST", "/v1/chat/completions", askFast, "Authorization", "Bearer "+server, auth.UserHeader, "acme").status)
	}
	if codes[3] == 200 {
		t.Errorf("the app's end user \"acme\" got the tenant's plan (4 requests in a minute on free's rpm 3): %v", codes)
	}
	if r := h.do("POST", "/v1/chat/completions", askFast, bearer(tenant)...); r.status != 200 {
		t.Errorf("tenant acme's own key, after the app's end user \"acme\" spent: %d %s", r.status, r.body)
	}
}

// TestReview17ProtectThenCallDoubleCounts: a Route Handler that checks
// with protect() and then makes the same user's request through keyward
// must ask with dry_run (as the example and the README do): a decision
// that takes a request and the call that takes another would count each
// app request twice, so a decision would answer "allowed" and the call it
// allowed be refused right after.
func TestReview17ProtectThenCallDoubleCounts(t *testing.T) {
	h := newAssertedHarness(t)
	_, server := createKey(t, h, auth.CreateOptions{Name: "app", Plan: "server", Scopes: []string{auth.ScopeAssertUsers}})
	as := []string{"Authorization", "Bearer " + server, auth.UserHeader, "pat"}
	decide := func() decision {
		var d decision
		_ = json.Unmarshal([]byte(h.do("POST", "/v1/decisions", `{"dry_run":true}`, as...).body), &d)
		return d
	}
	for i := 0; i < 3; i++ { // free: rpm 3, so three app requests
		d := decide()
		if !d.Success {
			t.Fatalf("app request %d: decision refused: %+v", i, d)
		}
		if c := h.do("POST", "/v1/chat/completions", askFast, as...); c.status != 200 {
			t.Fatalf("app request %d: the decision said allowed (remaining %d), the call it allowed got %d %s", i, d.Remaining, c.status, c.errorCode())
		}
	}
	if d := decide(); d.Success || d.Reason != "rate_limited_requests" {
		t.Errorf("the 4th app request in a minute: %+v", d)
	}
}
