package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/auth"
)

// Issue #15, end to end: each reproduction from the report is a case here.

// TestThrottledAddressServesValidCredentials: 20 failures from one address
// (every client behind a proxy not in trusted_proxies shares one) throttle
// that address's failing attempts only. Client keys, virtual keys and the
// admin key from it are still served; every failing attempt gets the same
// 429, whatever failed.
func TestThrottledAddressServesValidCredentials(t *testing.T) {
	env := map[string]string{"K": "provider-key-000001", "CLIENT_KEY": canaryClient, "PEPPER": "pepper-for-tests-0001", "ADMIN": adminKey}
	h := newHarness(t, adminConfig, env, nil, newUpstream(t, &capture{}))
	_, good := createKey(t, h, auth.CreateOptions{Name: "good", Plan: "free"})
	revokedID, revoked := createKey(t, h, auth.CreateOptions{Name: "old", Plan: "free"})
	if err := h.keys.Revoke(t.Context(), revokedID, "test"); err != nil {
		t.Fatal(err)
	}
	chat := `{"model":"fast","messages":[]}`
	for i := 0; i < 20; i++ {
		if r := h.do("POST", "/v1/chat/completions", chat, "Authorization", "Bearer attacker-guess"); r.status != 401 {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}

	for name, hdr := range map[string][]string{
		"client key":         {"Authorization", "Bearer " + canaryClient},
		"virtual key":        {"Authorization", "Bearer " + good},
		"x-api-key":          {"Authorization", "", "X-Api-Key", good},
		"client key, again":  {"Authorization", "Bearer " + canaryClient},
		"virtual key, again": {"Authorization", "Bearer " + good},
	} {
		if r := h.do("POST", "/v1/chat/completions", chat, hdr...); r.status != 200 {
			t.Errorf("%s from a throttled address: %d %s", name, r.status, r.body)
		}
	}
	if r := h.do("GET", "/admin/api/keys", "", "Authorization", "Bearer "+adminKey); r.status != 200 {
		t.Errorf("admin key from a throttled address: %d %s", r.status, r.body)
	}

	// Failing attempts: one answer, whatever failed.
	type shape struct{ Status, Code, Type, Message, RetryAfter, WWWAuth string }
	var first *shape
	for name, hdr := range map[string][]string{
		"unknown key":       {"Authorization", "Bearer attacker-guess"},
		"no credential":     {"Authorization", ""},
		"revoked key":       {"Authorization", "Bearer " + revoked},
		"well-formed guess": {"Authorization", "Bearer kw_live_" + strings.Repeat("a", 49)},
		"JWT-shaped":        {"Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln"},
		"admin key on /v1":  {"Authorization", "Bearer " + adminKey},
	} {
		r := h.do("POST", "/v1/chat/completions", chat, hdr...)
		var body struct {
			Error struct{ Code, Type, Message string }
		}
		_ = json.Unmarshal([]byte(r.body), &body)
		got := shape{statusText(r.status), body.Error.Code, body.Error.Type, body.Error.Message, nonEmpty(r.header.Get("Retry-After")), r.header.Get("WWW-Authenticate")}
		if got.Status != "429" || got.Code != "rate_limited" || got.RetryAfter != "set" {
			t.Errorf("%s: %+v", name, got)
		}
		if first == nil {
			first = &got
		} else if got != *first {
			t.Errorf("%s: answered %+v, others %+v", name, got, *first)
		}
	}
	// The admin API throttles its own failures the same way.
	for i := 0; i < 2; i++ {
		r := h.do("GET", "/admin/api/keys", "", "Authorization", "Bearer wrong-admin")
		if r.status != 429 || r.errorCode() != "rate_limited" {
			t.Fatalf("admin failure from a throttled address: %d %s", r.status, r.body)
		}
	}
	if r := h.do("GET", "/admin/api/keys", "", "Authorization", "Bearer "+adminKey); r.status != 200 {
		t.Errorf("admin key after admin failures: %d", r.status)
	}
}

func statusText(status int) string { b, _ := json.Marshal(status); return string(b) }

func nonEmpty(s string) string {
	if s == "" {
		return ""
	}
	return "set"
}

// TestPathWithoutV1: an SDK whose base URL lacks /v1 is told the right
// path and base URL; nothing the client sent is echoed beyond keyward's
// own route names.
func TestPathWithoutV1(t *testing.T) {
	h, _ := newAccessHarness(t)
	for _, tt := range []struct {
		method, path, want string
	}{
		{"POST", "/chat/completions", "No route POST /chat/completions; did you mean /v1/chat/completions? Set your SDK's base URL to keyward's address followed by /v1 (http://HOST:PORT/v1)."},
		{"POST", "/messages", "No route POST /messages; did you mean /v1/messages?"},
		{"POST", "/messages/count_tokens", "did you mean /v1/messages/count_tokens?"},
		{"POST", "/responses", "No route POST /responses; did you mean /v1/responses?"},
		{"POST", "/embeddings", "No route POST /embeddings; did you mean /v1/embeddings?"},
		{"GET", "/models", "No route GET /models; did you mean /v1/models?"},
		{"POST", "/tokens", "did you mean /v1/tokens?"},
		{"POST", "/chat/completions/", "No route POST /chat/completions; did you mean /v1/chat/completions?"},
		{"POST", "/openai/chat/completions", "No route at this path; did you mean /v1/chat/completions?"},
		{"POST", "/v1/v1/chat/completions", "No route at this path; did you mean /v1/chat/completions?"},
		{"POST", "/%3Cscript%3Ealert(1)%3C%2Fscript%3E/chat/completions", "No route at this path; did you mean /v1/chat/completions?"},
		{"BREW", "/chat/completions", "No route /chat/completions; did you mean /v1/chat/completions?"},
		{"POST", "/sk-proj-" + strings.Repeat("Ab1_", 12) + "/embeddings", "No route at this path; did you mean /v1/embeddings?"},
	} {
		r := h.do(tt.method, tt.path, `{}`)
		var body struct {
			Error struct{ Code, Message string }
		}
		_ = json.Unmarshal([]byte(r.body), &body)
		if r.status != 404 || body.Error.Code != "not_found" || !strings.Contains(body.Error.Message, tt.want) {
			t.Errorf("%s %s: %d %s", tt.method, tt.path, r.status, r.body)
		}
		for _, s := range []string{"script", "openai/", "sk-proj", "BREW", "v1/v1"} {
			if strings.Contains(r.body, s) {
				t.Errorf("%s %s: echoes %q: %s", tt.method, tt.path, s, r.body)
			}
		}
	}
	for _, p := range []string{"/", "/v2/chat", "/v1/models/gpt-4o", "/favicon.ico", "/chat"} {
		r := h.do("GET", p, "")
		if r.status != 404 || strings.Contains(r.body, "did you mean") {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}

// TestAdminRefusesSecretsAndBadInput: the report's admin reproductions.
func TestAdminRefusesSecretsAndBadInput(t *testing.T) {
	env := map[string]string{"K": "provider-key-000001", "CLIENT_KEY": canaryClient, "PEPPER": "pepper-for-tests-0001", "ADMIN": adminKey}
	h := newHarness(t, adminConfig, env, nil, newUpstream(t, &capture{}))
	as := []string{"Authorization", "Bearer " + adminKey}

	// A budget named by the client key's value.
	r := h.do("PUT", "/admin/api/budgets/key/client:"+canaryClient, `{"daily_usd":1}`, as...)
	if r.status != 400 {
		t.Errorf("budget by a client key's value: %d %s", r.status, r.body)
	}
	r = h.do("PUT", "/admin/api/budgets/key/client:env:CLIENT_KEY", `{"daily_usd":1}`, as...)
	if r.status != 200 {
		t.Errorf("budget by the client key's reference: %d %s", r.status, r.body)
	}
	// Key creation: a 60 KB user, NUL and newlines, trailing JSON.
	for name, body := range map[string]string{
		"60 KB user":       `{"name":"x","plan":"free","user":"` + strings.Repeat("u", 60<<10) + `"}`,
		"NUL in name":      `{"name":"a\u0000b","plan":"free"}`,
		"newline in user":  `{"name":"x","plan":"free","user":"a\nb"}`,
		"trailing garbage": `{"name":"x","plan":"free"}garbage`,
		"secret as name":   `{"name":"` + canaryClient + `","plan":"free"}`,
		"provider key":     `{"name":"x","plan":"free","user":"provider-key-000001"}`,
	} {
		if r := h.do("POST", "/admin/api/keys", body, as...); r.status != 400 || r.errorCode() != "invalid_request" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := h.do("PUT", "/admin/api/users/pepper-for-tests-0001", `{}`, as...); r.status != 400 {
		t.Errorf("user id = the pepper: %d %s", r.status, r.body)
	}
	list := h.do("GET", "/admin/api/budgets", "", as...)
	keys := h.do("GET", "/admin/api/keys?all=true", "", as...)
	audit := h.do("GET", "/admin/api/audit", "", as...)
	all := list.body + keys.body + audit.body + h.logs.String()
	for _, s := range []string{canaryClient, "provider-key-000001", "pepper-for-tests-0001", adminKey} {
		if strings.Contains(all, s) {
			t.Errorf("%.12s… reached a list, the audit log or a log line", s)
		}
	}
	if keys.body != `{"data":[]}` {
		t.Errorf("a refused key was made: %s", keys.body)
	}
}
