package server

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksServer publishes one RSA key, as an identity provider does.
func jwksServer(t *testing.T, key *rsa.PrivateKey, kid string) string {
	n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": n, "e": e}}})
	return newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
}

func TestAppUserJWTs(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := jwksServer(t, key, "k1")
	cfg := `listen: 127.0.0.1:0
providers:
  - {name: up, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:K]}
auth:
  jwt:
    - issuer: https://clerk.example.test
      audience: my-app
      jwks_url: ` + jwks + `/.well-known/jwks.json
      algorithms: [RS256]
      plan_claim: public_metadata.plan
      default_plan: free
models:
  - {name: fast, targets: [{provider: up, model: gpt-fast}]}
  - {name: smart, targets: [{provider: up, model: gpt-smart}]}
plans:
  - {name: free, models: [fast]}
  - {name: pro, models: [fast, smart]}
`
	h := newHarness(t, cfg, map[string]string{"K": "provider-key-000001"}, nil, newUpstream(t, &capture{}))
	token := func(plan any, mut func(*jwt.MapClaims)) string {
		c := jwt.MapClaims{"iss": "https://clerk.example.test", "aud": "my-app", "sub": "user_1",
			"exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix()}
		if plan != nil {
			c["public_metadata"] = map[string]any{"plan": plan}
		}
		if mut != nil {
			mut(&c)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pro := token("pro", nil)
	tests := []struct {
		name, tok, model string
		status           int
	}{
		{"pro user uses smart", pro, "smart", 200},
		{"free by default", token(nil, nil), "smart", 403},
		{"free by default uses fast", token(nil, nil), "fast", 200},
		{"expired", token("pro", func(c *jwt.MapClaims) { (*c)["exp"] = time.Now().Add(-time.Hour).Unix() }), "fast", 401},
		{"wrong audience", token("pro", func(c *jwt.MapClaims) { (*c)["aud"] = "other" }), "fast", 401},
		{"unknown issuer", token("pro", func(c *jwt.MapClaims) { (*c)["iss"] = "https://evil.test" }), "fast", 401},
		{"tampered", pro[:len(pro)-4] + "AAAA", "fast", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/chat/completions", `{"model":"`+tt.model+`","messages":[]}`, "Authorization", "Bearer "+tt.tok)
			if r.status != tt.status {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	if !strings.Contains(h.logs.String(), `"principal":"jwt:https://clerk.example.test#user_1"`) {
		t.Errorf("principal not logged: %s", h.logs.String())
	}
	if strings.Contains(h.logs.String(), pro[20:60]) {
		t.Fatal("a JWT reached the log")
	}
}
