package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/auth"
)

const browserConfig = `listen: 127.0.0.1:0
providers:
  - {name: up, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:K]}
auth:
  pepper: env:PEPPER
  browser_tokens:
    signing_key: file:signing.pem
    max_ttl: 10m
models:
  - {name: fast, targets: [{provider: up, model: gpt-fast}]}
  - {name: smart, targets: [{provider: up, model: gpt-smart}]}
plans:
  - {name: free, models: [fast], routes: [chat, models], max_output_tokens: 32}
  - {name: pro, models: [fast, smart]}
cors:
  allowed_origins: [https://app.example.com]
`

func signingPEM(t *testing.T) string {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func newBrowserHarness(t *testing.T) (*harness, *capture) {
	c := &capture{}
	env := map[string]string{"K": "provider-key-000001", "PEPPER": "pepper-for-tests-0001"}
	return newHarness(t, browserConfig, env, map[string]string{"signing.pem": signingPEM(t)}, newUpstream(t, c)), c
}

func mint(t *testing.T, h *harness, key, body string) (result, string) {
	t.Helper()
	r := h.do("POST", "/v1/tokens", body, "Authorization", "Bearer "+key)
	var v struct{ Token string }
	_ = json.Unmarshal([]byte(r.body), &v)
	return r, v.Token
}

const app = "https://app.example.com"

func TestBrowserTokens(t *testing.T) {
	h, up := newBrowserHarness(t)
	_, minter := createKey(t, h, auth.CreateOptions{Name: "minter", Plan: "pro", Scopes: []string{"tokens:mint"}})
	_, freeMinter := createKey(t, h, auth.CreateOptions{Name: "free-minter", Plan: "free", Scopes: []string{"tokens:mint"}})
	_, noScope := createKey(t, h, auth.CreateOptions{Name: "plain", Plan: "pro"})

	r, tok := mint(t, h, minter, `{"user":"alice","ttl_seconds":300,"origin":"`+app+`","models":["fast"],"max_output_tokens":20}`)
	if r.status != 200 || tok == "" || !strings.Contains(r.body, "expires_at") {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	chat := `{"model":"fast","max_tokens":500,"messages":[]}`
	browser := func(tok, origin string) []string {
		return []string{"Authorization", "Bearer " + tok, "Origin", origin, "Sec-Fetch-Site", "cross-site"}
	}

	t.Run("used from its origin", func(t *testing.T) {
		r := h.do("POST", "/v1/chat/completions", chat, browser(tok, app)...)
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != app {
			t.Fatalf("%d %s %v", r.status, r.body, r.header)
		}
		if got := up.last()["max_tokens"]; got != 20.0 {
			t.Errorf("token cap not applied: max_tokens=%v", got)
		}
	})
	for name, c := range map[string]struct {
		tok, origin, path, body string
		status                  int
		code                    string
	}{
		"another origin":           {tok, "https://evil.example.com", "/v1/chat/completions", chat, 403, "origin_not_allowed"},
		"no origin (replayed)":     {tok, "", "/v1/chat/completions", chat, 401, "unauthorized"},
		"a model it was not given": {tok, app, "/v1/chat/completions", `{"model":"smart"}`, 403, "forbidden_model"},
		"minting with a token":     {tok, app, "/v1/tokens", `{"user":"bob","ttl_seconds":60,"origin":"` + app + `"}`, 403, "forbidden"},
	} {
		t.Run(name, func(t *testing.T) {
			hdr := browser(c.tok, c.origin)
			if c.origin == "" {
				hdr = []string{"Authorization", "Bearer " + c.tok}
			}
			r := h.do("POST", c.path, c.body, hdr...)
			if r.status != c.status || r.errorCode() != c.code {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}

	t.Run("mint refusals", func(t *testing.T) {
		for name, c := range map[string]struct {
			key, body string
			status    int
			code      string
		}{
			"key without tokens:mint": {noScope, `{"user":"a","ttl_seconds":60,"origin":"` + app + `"}`, 403, "forbidden"},
			"ttl too long":            {minter, `{"user":"a","ttl_seconds":601,"origin":"` + app + `"}`, 400, "invalid_request"},
			"no user":                 {minter, `{"ttl_seconds":60,"origin":"` + app + `"}`, 400, "invalid_request"},
			"bad origin":              {minter, `{"user":"a","ttl_seconds":60,"origin":"https://app.example.com/path"}`, 400, "invalid_request"},
			"origin not allowed":      {minter, `{"user":"a","ttl_seconds":60,"origin":"https://evil.example.com"}`, 403, "origin_not_allowed"},
			"unknown field":           {minter, `{"user":"a","ttl_seconds":60,"origin":"` + app + `","admin":true}`, 400, "invalid_request"},
			"model beyond the key":    {freeMinter, `{"user":"a","ttl_seconds":60,"origin":"` + app + `","models":["smart"]}`, 403, "forbidden_model"},
			"plan beyond the key":     {freeMinter, `{"user":"a","ttl_seconds":60,"origin":"` + app + `","plan":"pro"}`, 403, "forbidden"},
			"unknown plan":            {minter, `{"user":"a","ttl_seconds":60,"origin":"` + app + `","plan":"gold"}`, 403, "forbidden"},
		} {
			r, _ := mint(t, h, c.key, c.body)
			if r.status != c.status || r.errorCode() != c.code {
				t.Errorf("%s: got %d %s", name, r.status, r.body)
			}
		}
	})

	t.Run("narrowing caps", func(t *testing.T) {
		r, tok := mint(t, h, freeMinter, `{"user":"a","ttl_seconds":60,"origin":"`+app+`","max_output_tokens":1000}`)
		if r.status != 200 || !strings.Contains(r.body, `"max_output_tokens":32`) || !strings.Contains(r.body, `"models":["fast"]`) {
			t.Fatalf("free minter: %s", r.body)
		}
		if r := h.do("POST", "/v1/embeddings", `{"model":"fast","input":"x"}`, browser(tok, app)...); r.status != 403 {
			t.Errorf("token used a route its plan lacks: %d", r.status)
		}
	})

	t.Run("preflight", func(t *testing.T) {
		r := h.do("OPTIONS", "/v1/chat/completions", "", "Origin", app, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization, content-type, x-stainless-os")
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != app || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "x-stainless-os") {
			t.Fatalf("preflight: %d %v", r.status, r.header)
		}
		r = h.do("OPTIONS", "/v1/chat/completions", "", "Origin", "https://evil.example.com", "Access-Control-Request-Method", "POST")
		if r.status != 403 || r.errorCode() != "origin_not_allowed" || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("evil preflight: %d %v", r.status, r.header)
		}
		r = h.do("OPTIONS", "/v1/chat/completions", "", "Origin", app, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "cookie")
		if r.status != 403 {
			t.Fatalf("forbidden header allowed: %d", r.status)
		}
	})
	if strings.Contains(h.logs.String(), tok) || strings.Contains(h.logs.String(), minter) {
		t.Fatal("a token or key reached the log")
	}
}
