package server

import (
	"encoding/json"
	"strings"
	"testing"
)

const adminConfig = `listen: 127.0.0.1:0
providers:
  - {name: up, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:K]}
clients:
  keys: [env:CLIENT_KEY]
auth:
  pepper: env:PEPPER
  admin_keys: [env:ADMIN]
models:
  - {name: fast, targets: [{provider: up, model: gpt-fast}]}
plans:
  - {name: free, models: [fast]}
cors:
  allowed_origins: [https://app.example.com]
`

var adminKey = "kwadmin-" + strings.Repeat("Ad9", 12)

func TestAdminAPI(t *testing.T) {
	c := &capture{}
	env := map[string]string{"K": "provider-key-000001", "CLIENT_KEY": canaryClient, "PEPPER": "pepper-for-tests-0001", "ADMIN": adminKey}
	h := newHarness(t, adminConfig, env, nil, newUpstream(t, c))
	as := func(k string) []string { return []string{"Authorization", "Bearer " + k} }

	r := h.do("POST", "/admin/api/keys", `{"name":"backend","plan":"free","scopes":["tokens:mint"],"expires":"720h"}`, as(adminKey)...)
	var created struct{ ID, Key string }
	if r.status != 201 || json.Unmarshal([]byte(r.body), &created) != nil || created.Key == "" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, as(created.Key)...); r.status != 200 {
		t.Fatalf("new key: %d %s", r.status, r.body)
	}

	// Only an admin key gets in.
	for name, k := range map[string]string{"virtual key": created.Key, "client key": canaryClient, "wrong": "nope", "none": ""} {
		if r := h.do("GET", "/admin/api/keys", "", as(k)...); r.status != 401 {
			t.Errorf("%s: %d", name, r.status)
		}
	}
	r = h.do("GET", "/admin/api/keys", "", as(adminKey)...)
	if r.status != 200 || !strings.Contains(r.body, created.ID) || strings.Contains(r.body, created.Key) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	for name, c := range map[string]struct {
		method, path, body string
		status             int
	}{
		"unknown plan":    {"POST", "/admin/api/keys", `{"name":"x","plan":"gold"}`, 400},
		"unknown field":   {"POST", "/admin/api/keys", `{"name":"x","plan":"free","admin":true}`, 400},
		"bad expiry":      {"POST", "/admin/api/keys", `{"name":"x","plan":"free","expires":"soon"}`, 400},
		"no name":         {"POST", "/admin/api/keys", `{"plan":"free"}`, 400},
		"revoke missing":  {"POST", "/admin/api/keys/key_nope/revoke", ``, 404},
		"unknown route":   {"GET", "/admin/api/users/x", ``, 404},
		"wrong method":    {"DELETE", "/admin/api/keys", ``, 405},
		"cross-origin":    {"GET", "/admin/api/keys", ``, 403},
		"audit bad limit": {"GET", "/admin/api/audit?limit=5000", ``, 400},
	} {
		hdr := as(adminKey)
		if name == "cross-origin" {
			hdr = append(hdr, "Origin", "https://app.example.com")
		}
		if r := h.do(c.method, c.path, c.body, hdr...); r.status != c.status {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}

	r = h.do("POST", "/admin/api/keys/"+created.ID+"/rotate", `{"grace":"0s"}`, as(adminKey)...)
	var rotated struct{ ID, Key string }
	if r.status != 201 || json.Unmarshal([]byte(r.body), &rotated) != nil || rotated.Key == "" {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast"}`, as(created.Key)...); r.status != 401 {
		t.Fatalf("rotated-out key: %d", r.status)
	}
	if r := h.do("POST", "/admin/api/keys/"+rotated.ID+"/revoke", ``, as(adminKey)...); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast"}`, as(rotated.Key)...); r.status != 401 {
		t.Fatalf("revoked key: %d", r.status)
	}
	r = h.do("GET", "/admin/api/audit", "", as(adminKey)...)
	for _, want := range []string{"key.created", "key.rotated", "key.revoked", `"actor":"admin:env:ADMIN"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("audit lacks %s: %s", want, r.body)
		}
	}
	for _, secret := range []string{adminKey, created.Key, rotated.Key} {
		if strings.Contains(h.logs.String(), secret) || strings.Contains(r.body, secret) {
			t.Fatal("a key reached the log or the audit")
		}
	}
}

func TestAdminUsers(t *testing.T) {
	env := map[string]string{"K": "provider-key-000001", "CLIENT_KEY": canaryClient, "PEPPER": "pepper-for-tests-0001", "ADMIN": adminKey}
	h := newHarness(t, adminConfig, env, nil, newUpstream(t, &capture{}))
	as := []string{"Authorization", "Bearer " + adminKey}
	r := h.do("POST", "/admin/api/keys", `{"name":"m","plan":"free","user":"mallory"}`, as...)
	var k struct{ Key string }
	json.Unmarshal([]byte(r.body), &k)
	if r := h.do("PUT", "/admin/api/users/mallory", `{"disabled":true}`, as...); r.status != 200 || !strings.Contains(r.body, `"disabled":true`) {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`, "Authorization", "Bearer "+k.Key); r.status != 403 {
		t.Fatalf("disabled user's key: %d %s", r.status, r.body)
	}
	for name, c := range map[string]struct {
		method, path, body string
		status             int
	}{
		"get":          {"GET", "/admin/api/users/mallory", ``, 200},
		"list":         {"GET", "/admin/api/users", ``, 200},
		"missing":      {"GET", "/admin/api/users/nobody", ``, 404},
		"unknown plan": {"PUT", "/admin/api/users/bob", `{"plan":"gold"}`, 400},
		"bad field":    {"PUT", "/admin/api/users/bob", `{"role":"admin"}`, 400},
		"wrong method": {"DELETE", "/admin/api/users/bob", ``, 405},
	} {
		if r := h.do(c.method, c.path, c.body, as...); r.status != c.status {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := h.do("GET", "/admin/api/audit?kind=user.updated", "", as...); !strings.Contains(r.body, "mallory") {
		t.Errorf("audit: %s", r.body)
	}
}

func TestAdminOffWithoutAdminKeys(t *testing.T) {
	h, _ := newAccessHarness(t)
	if r := h.do("GET", "/admin/api/keys", "", "Authorization", "Bearer "+adminKey); r.status != 404 {
		t.Fatalf("admin API answered: %d %s", r.status, r.body)
	}
}
