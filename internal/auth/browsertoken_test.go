package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/secret"
)

func newSigner(t testing.TB) (*secret.Signer, ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return secret.NewSigner(priv), pub, priv
}

func TestBrowserTokenRoundTrip(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	signer, _, _ := newSigner(t)
	tk := NewTokens(TokensOptions{Signer: signer, MaxTTL: 10 * time.Minute, Now: clk.now})
	tok, exp, err := tk.Mint(MintOptions{User: "alice", Origin: "https://app.example.com", Plan: "free", Models: []string{"fast", "fast"}, MaxOutputTokens: 100, TTL: 5 * time.Minute, MintedBy: "key_minter"})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(clk.now().Add(5 * time.Minute)) {
		t.Errorf("expires %v", exp)
	}
	if !tk.IsBrowserToken(tok) {
		t.Fatal("not recognised as a browser token")
	}
	p, err := tk.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != KindBrowserToken || p.User != "alice" || p.Plan != "free" || p.Origin != "https://app.example.com" ||
		p.MaxOutputTokens != 100 || len(p.Scopes) != 1 || p.Scopes[0] != "model:fast" || !strings.HasPrefix(p.ID, "token:keyward#") ||
		p.MintedBy != "key:key_minter" {
		t.Fatalf("principal %+v", p)
	}
	clk.add(5*time.Minute + 6*time.Second)
	if _, err := tk.Verify(tok); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("expired token: %v", err)
	}
	if _, _, err := tk.Mint(MintOptions{User: "a", Origin: "https://x.test", TTL: 11 * time.Minute, MintedBy: "key_1"}); err == nil {
		t.Fatal("ttl above max_ttl must fail")
	}
	if _, _, err := NewTokens(TokensOptions{}).Mint(MintOptions{User: "a", Origin: "https://x.test", TTL: time.Minute, MintedBy: "key_1"}); !errors.Is(err, ErrNoSigner) {
		t.Fatalf("no signer: %v", err)
	}
	if _, _, err := tk.Mint(MintOptions{User: "a", Origin: "https://x.test", TTL: time.Minute}); err == nil {
		t.Fatal("a token without its minting key must not be minted")
	}
	// A keyward token that names no minting key is refused.
	orphan := sign(t, jwt.SigningMethodEdDSA, signer, signer.KeyID(), TokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: TokenIssuer, Subject: "a", Audience: jwt.ClaimStrings{TokenAudience},
			IssuedAt: jwt.NewNumericDate(clk.now()), ExpiresAt: jwt.NewNumericDate(clk.now().Add(time.Minute))},
		Origin: "https://x.test"})
	if _, err := tk.Verify(orphan); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("a token without a minting key: %v", err)
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBrowserTokenRejections(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: now}
	signer, pub, priv := newSigner(t)
	_, _, otherPriv := newSigner(t)
	_, offPub, offPriv := newSigner(t)
	_, oldPub, oldPriv := newSigner(t)
	tk := NewTokens(TokensOptions{Signer: signer, Verification: []ed25519.PublicKey{oldPub}, Now: clk.now,
		Issuers: map[string]OfflineIssuer{"my-app": {Key: offPub, Plan: "free"}}})
	claims := func(mut func(*TokenClaims)) TokenClaims {
		c := TokenClaims{
			RegisteredClaims: jwt.RegisteredClaims{Issuer: TokenIssuer, Subject: "alice", Audience: jwt.ClaimStrings{TokenAudience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)), ID: "j1"},
			Origin: "https://app.example.com", Plan: "free", MintedBy: "key_1",
		}
		if mut != nil {
			mut(&c)
		}
		return c
	}
	kid := secret.KeyID(pub)
	valid := sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(nil))
	if _, err := tk.Verify(valid); err != nil {
		t.Fatalf("valid: %v", err)
	}
	if _, err := tk.Verify(sign(t, jwt.SigningMethodEdDSA, oldPriv, secret.KeyID(oldPub), claims(nil))); err != nil {
		t.Fatalf("rotated verification key: %v", err)
	}
	p, err := tk.Verify(sign(t, jwt.SigningMethodEdDSA, offPriv, "", claims(func(c *TokenClaims) { c.Issuer = "my-app"; c.Plan = "" })))
	if err != nil || p.Plan != "free" {
		t.Fatalf("offline issuer: %+v %v", p, err)
	}
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"keyward","sub":"root","aud":["keyward"],"origin":"https://app.example.com","iat":1777636800,"exp":1777637100,"plan":"pro"}`)) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	tests := map[string]string{
		"expired":              sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c *TokenClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) })),
		"lives too long":       sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c *TokenClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(time.Hour)) })),
		"no iat":               sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c *TokenClaims) { c.IssuedAt = nil })),
		"issued in the future": sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c *TokenClaims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) })),
		"wrong audience":       sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c *TokenClaims) { c.Audience = jwt.ClaimStrings{"other"} })),
		"no origin":            sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c *TokenClaims) { c.Origin = "" })),
		"no subject":           sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c *TokenClaims) { c.Subject = "" })),
		"unknown key":          sign(t, jwt.SigningMethodEdDSA, otherPriv, kid, claims(nil)),
		"unknown kid":          sign(t, jwt.SigningMethodEdDSA, priv, "0000000000000000", claims(nil)),
		"unknown issuer":       sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c *TokenClaims) { c.Issuer = "evil" })),
		"offline widens plan":  sign(t, jwt.SigningMethodEdDSA, offPriv, "", claims(func(c *TokenClaims) { c.Issuer = "my-app"; c.Plan = "pro" })),
		"offline signed by us": sign(t, jwt.SigningMethodEdDSA, priv, "", claims(func(c *TokenClaims) { c.Issuer = "my-app" })),
		"hs256 with pub key":   sign(t, jwt.SigningMethodHS256, []byte(pub), kid, claims(nil)),
		"tampered":             tampered,
		"alg none":             none,
		"garbage":              "a.b.c",
		"huge":                 strings.Repeat("a", 9000) + "." + parts[1] + "." + parts[2],
	}
	for name, tok := range tests {
		if _, err := tk.Verify(tok); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), tok) {
			t.Errorf("%s: error holds the token", name)
		}
	}
	if tk.IsBrowserToken("not a token") || tk.IsBrowserToken(sign(t, jwt.SigningMethodEdDSA, priv, kid, claims(func(c *TokenClaims) { c.Issuer = "https://clerk.example" }))) {
		t.Error("IsBrowserToken too broad")
	}
}

func FuzzBrowserTokenVerify(f *testing.F) {
	signer, _, _ := newSigner(f)
	tk := NewTokens(TokensOptions{Signer: signer})
	tok, _, _ := tk.Mint(MintOptions{User: "u", Origin: "https://a.test", Plan: "p", Models: []string{"m"}, MaxOutputTokens: 1, TTL: time.Minute, MintedBy: "key_1"})
	f.Add(tok)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJrZXl3YXJkIn0.")
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := tk.Verify(s); err == nil && s != tok {
			t.Fatalf("accepted a token it did not mint: %q → %+v", s, p)
		}
		_ = tk.IsBrowserToken(s)
	})
}
