package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/redact/leakcheck"
)

// TestCanarySweepAccess extends the canary sweep to access control: the
// pepper, the admin key, the JWT secret, the token signing key, virtual
// keys, browser tokens and app JWTs are all canaries; every route is
// called with each of them, valid and refused, and none may appear in a
// response (other than the one that hands it out) or a log line.
func TestCanarySweepAccess(t *testing.T) {
	pepper := "pepper-CANARY-" + strings.Repeat("p3p", 8)
	admin := "admin-CANARY-" + strings.Repeat("adm", 8)
	jwtSecret := "jwtsecret-CANARY-" + strings.Repeat("jws", 10)
	signing := signingPEM(t)
	cfg := `listen: 127.0.0.1:0
providers:
  - {name: openai, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:OPENAI_KEY]}
  - {name: claude, kind: anthropic, base_url: "{{UPSTREAM}}/v1", keys: [env:ANTHROPIC_KEY]}
clients:
  keys: [env:CLIENT_KEY]
auth:
  pepper: env:PEPPER
  admin_keys: [env:ADMIN]
  failed_per_minute: 100000   # the sweep fails on purpose, many times
  jwt:
    - {issuer: https://app.test, audience: keyward, secret: env:JWT_SECRET, algorithms: [HS256], plan_claim: plan, default_plan: all}
  browser_tokens: {signing_key: file:signing.pem}
retry: {auth_cooldown: 0s}
plans:
  - {name: all}
cors:
  allowed_origins: [https://app.test]
models:
  - {name: ok, targets: [{provider: openai, model: ok}]}
  - {name: status-401, targets: [{provider: openai, model: status-401}]}
  - {name: claude-ok, targets: [{provider: claude, model: ok}]}
  - {name: claude-stream-error, targets: [{provider: claude, model: stream-error}]}
`
	env := map[string]string{"OPENAI_KEY": canaryOpenAI, "ANTHROPIC_KEY": canaryAnthropic, "CLIENT_KEY": canaryClient,
		"PEPPER": pepper, "ADMIN": admin, "JWT_SECRET": jwtSecret}
	h := newHarness(t, cfg, env, map[string]string{"signing.pem": signing}, newUpstream(t, evilUpstream()))
	ctx := context.Background()

	_, vk, err := h.keys.Create(ctx, auth.CreateOptions{Name: "minter", Plan: "all", Scopes: []string{"tokens:mint"}})
	if err != nil {
		t.Fatal(err)
	}
	_, serverKey, err := h.keys.Create(ctx, auth.CreateOptions{Name: "server", Plan: "all", Scopes: []string{auth.ScopeAssertUsers}})
	if err != nil {
		t.Fatal(err)
	}
	revokedRec, revoked, _ := h.keys.Create(ctx, auth.CreateOptions{Name: "revoked", Plan: "all"})
	h.keys.Revoke(ctx, revokedRec.ID, "test")
	r := h.do("POST", "/v1/tokens", `{"user":"u1","ttl_seconds":120,"origin":"https://app.test"}`, "Authorization", "Bearer "+vk)
	var minted struct{ Token string }
	if r.status != 200 || json.Unmarshal([]byte(r.body), &minted) != nil {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	// A token whose minting key was revoked after it was minted.
	orphanRec, orphanMinter, _ := h.keys.Create(ctx, auth.CreateOptions{Name: "revoked-minter", Plan: "all", Scopes: []string{"tokens:mint"}})
	r = h.do("POST", "/v1/tokens", `{"user":"u3","ttl_seconds":120,"origin":"https://app.test"}`, "Authorization", "Bearer "+orphanMinter)
	var orphan struct{ Token string }
	if r.status != 200 || json.Unmarshal([]byte(r.body), &orphan) != nil {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	h.keys.Revoke(ctx, orphanRec.ID, "test")
	appJWT := func(exp time.Duration) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://app.test", "aud": "keyward", "sub": "u2",
			"exp": time.Now().Add(exp).Unix(), "iat": time.Now().Unix()}).SignedString([]byte(jwtSecret))
		return s
	}
	userJWT := appJWT(time.Minute)
	canariesHere := append([]string{pepper, admin, jwtSecret, vk, serverKey, revoked, minted.Token, userJWT, orphanMinter, orphan.Token,
		strings.Split(signing, "\n")[1]}, canaries...)
	// Every secret the gateway loads, by any 24-character piece, raw or
	// encoded (tokens and virtual keys are not loaded; they count whole).
	loaded := leakcheck.New(pieceLen, append([]string{pepper, admin, jwtSecret, signing}, canaries...)...)

	type cred struct {
		name    string
		headers []string
	}
	creds := []cred{
		{"virtual key", []string{"Authorization", "Bearer " + vk}},
		{"revoked key", []string{"Authorization", "Bearer " + revoked}},
		{"browser token", []string{"Authorization", "Bearer " + minted.Token, "Origin", "https://app.test"}},
		{"browser token, other origin", []string{"Authorization", "Bearer " + minted.Token, "Origin", "https://evil.test"}},
		{"browser token, no origin", []string{"Authorization", "Bearer " + minted.Token}},
		{"browser token, revoked minter", []string{"Authorization", "Bearer " + orphan.Token, "Origin", "https://app.test"}},
		{"app jwt", []string{"Authorization", "Bearer " + userJWT}},
		{"expired app jwt", []string{"Authorization", "Bearer " + appJWT(-time.Hour)}},
		{"tampered app jwt", []string{"Authorization", "Bearer " + userJWT[:len(userJWT)-3] + "xyz"}},
		{"admin key", []string{"Authorization", "Bearer " + admin}},
		{"pepper as key", []string{"Authorization", "", "X-Api-Key", pepper}},
		{"jwt secret as key", []string{"Authorization", "Bearer " + jwtSecret}},
		// An app server naming its end user (X-Keyward-User), and everyone
		// else trying to.
		{"server key naming a user", []string{"Authorization", "Bearer " + serverKey, auth.UserHeader, "alice"}},
		{"server key naming a secret as its user", []string{"Authorization", "Bearer " + serverKey, auth.UserHeader, pepper}},
		{"server key naming a provider key as its user", []string{"Authorization", "Bearer " + serverKey, auth.UserHeader, canaryOpenAI}},
		{"minting key naming a user", []string{"Authorization", "Bearer " + vk, auth.UserHeader, "alice"}},
		{"browser token naming a user", []string{"Authorization", "Bearer " + minted.Token, "Origin", "https://app.test", auth.UserHeader, "alice"}},
		{"app jwt naming a user", []string{"Authorization", "Bearer " + userJWT, auth.UserHeader, "alice"}},
	}
	routes := []struct{ method, path, body string }{
		{"POST", "/v1/chat/completions", `{"model":"ok","messages":[]}`},
		{"POST", "/v1/chat/completions", `{"model":"status-401","messages":[]}`},
		{"POST", "/v1/responses", `{"model":"ok","input":"x"}`},
		{"POST", "/v1/embeddings", `{"model":"ok","input":"x"}`},
		{"POST", "/v1/messages", `{"model":"claude-ok","max_tokens":5,"messages":[]}`},
		{"POST", "/v1/messages", `{"model":"claude-stream-error","stream":true,"max_tokens":5,"messages":[]}`},
		{"POST", "/v1/messages/count_tokens", `{"model":"claude-ok","messages":[]}`},
		{"GET", "/v1/models", ``},
		{"POST", "/v1/tokens", `{"user":"u","ttl_seconds":60,"origin":"https://app.test"}`},
		{"POST", "/v1/decisions", `{"cost":1}`},
		{"POST", "/v1/decisions", `{"cost":1,"dry_run":true}`},
		{"GET", "/admin/api/keys", ``},
		{"GET", "/admin/api/audit", ``},
		{"POST", "/admin/api/keys/key_nope/revoke", ``},
		{"GET", "/admin/api/users", ``},
		{"PUT", "/admin/api/users/u1", `{"plan":"all"}`},
		{"GET", "/admin/api/usage?by=key", ``},
		{"GET", "/admin/api/usage?by=user&format=csv", ``},
		{"GET", "/admin/api/budgets", ``},
		{"PUT", "/admin/api/budgets/user/u9", `{"daily_usd":100}`},
		{"DELETE", "/admin/api/budgets/user/u9", ``},
		{"GET", "/metrics", ``},
		{"OPTIONS", "/v1/chat/completions", ``},
	}
	swept := 0
	for _, c := range creds {
		for _, rt := range routes {
			hdr := append([]string{}, c.headers...)
			if rt.method == "OPTIONS" {
				hdr = append(hdr, "Access-Control-Request-Method", "POST")
			}
			r := h.do(rt.method, rt.path, rt.body, hdr...)
			swept++
			where := fmt.Sprintf("%s %s %s", c.name, rt.method, rt.path)
			out := r.body + fmt.Sprint(r.header)
			assertNoPiece(t, loaded, where, out)
			for _, k := range canariesHere {
				if rt.path == "/v1/tokens" && r.status == 200 && strings.HasPrefix(k, "eyJ") {
					continue // the mint answer carries a (new) token by design
				}
				if strings.Contains(out, k) {
					t.Errorf("%s: a canary (%.10s…) is in the response", where, k)
				}
			}
		}
	}
	// Spot checks that the sweep exercised what it claims to.
	named := func(name string) []string {
		for _, c := range creds {
			if c.name == name {
				return c.headers
			}
		}
		t.Fatalf("no credential %q", name)
		return nil
	}
	for _, c := range []struct {
		hdr        []string
		path, body string
		want       int
	}{
		{named("virtual key"), "/v1/chat/completions", `{"model":"ok","messages":[]}`, 200},
		{named("browser token"), "/v1/chat/completions", `{"model":"ok","messages":[]}`, 200},
		{named("app jwt"), "/v1/chat/completions", `{"model":"ok","messages":[]}`, 200},
		{named("admin key"), "/admin/api/keys", ``, 200},
		{named("revoked key"), "/v1/chat/completions", `{"model":"ok"}`, 401},
		{named("browser token, revoked minter"), "/v1/chat/completions", `{"model":"ok","messages":[]}`, 401},
		{named("browser token"), "/admin/api/keys", ``, 403},
	} {
		method := "POST"
		if c.body == "" {
			method = "GET"
		}
		if r := h.do(method, c.path, c.body, c.hdr...); r.status != c.want {
			t.Errorf("spot check %s: %d, want %d: %s", c.path, r.status, c.want, r.body)
		}
	}
	time.Sleep(20 * time.Millisecond)
	logs := h.logs.String()
	for _, k := range canariesHere {
		if strings.Contains(logs, k) {
			t.Errorf("a canary (%.10s…) is in the logs", k)
		}
	}
	assertNoPiece(t, loaded, "logs", logs)
	if swept < 160 {
		t.Errorf("swept only %d", swept)
	}
}
