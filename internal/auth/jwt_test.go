package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/secret"
)

var jwtT0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// jwtTestTuning keeps background refreshes out of the way; tests that
// want them set their own.
var jwtTestTuning = jwtTuning{refresh: time.Hour, refetch: time.Minute, timeout: 5 * time.Second}

const (
	jwtIssClerk    = "https://clerk.example.com"
	jwtIssAuth0    = "https://tenant.auth0.example/"
	jwtIssSupabase = "https://proj.supabase.example/auth/v1"
	jwtHMACSecret  = "super-secret-jwt-token-with-at-least-32-characters-long"
)

type jwtClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *jwtClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *jwtClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwtKeys are generated once: RSA generation is slow under -race.
var jwtKeys = sync.OnceValue(func() (k struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// jwksKey is one key a test JWKS publishes.
type jwksKey struct {
	kid string
	pub any
	alg string // the JWK's "alg", often left out as IdPs do
}

// jwksServer is a fake IdP JWKS endpoint whose key set, status and body
// tests can change, and which counts fetches.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu     sync.Mutex
	status int
	body   []byte
}

func newJWKSServer(t *testing.T, keys ...jwksKey) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.publish(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		status, body := s.status, s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(t *testing.T, keys ...jwksKey) {
	t.Helper()
	ctx := context.Background()
	m := jwkset.NewMemoryStorage()
	for _, k := range keys {
		j, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: jwkset.ALG(k.alg)}})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.KeyWrite(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := m.JSONPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.setResponse(http.StatusOK, raw)
}

func (s *jwksServer) setResponse(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

// jwtLog collects log output from background goroutines.
type jwtLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *jwtLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *jwtLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *jwtLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func jwtSign(t testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
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

// jwtClaims are valid claims from iss at jwtT0, changed by mods.
func jwtClaims(iss string, mods ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": iss,
		"sub": "user_1",
		"iat": jwtT0.Add(-10 * time.Second).Unix(),
		"nbf": jwtT0.Add(-10 * time.Second).Unix(),
		"exp": jwtT0.Add(5 * time.Minute).Unix(),
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func jwtSet(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
func jwtDel(k string) func(jwt.MapClaims)        { return func(c jwt.MapClaims) { delete(c, k) } }
func jwtAt(d time.Duration) int64                { return jwtT0.Add(d).Unix() }

// jwtFixture is a verifier for three issuers: a Clerk-like JWKS issuer
// with RSA, EC and Ed25519 keys; an Auth0-like JWKS issuer with an
// audience; and a Supabase-like HMAC issuer.
type jwtFixture struct {
	v            *JWTVerifier
	clk          *jwtClock
	clerk, auth0 *jwksServer
	log          *jwtLog
}

func newJWTFixture(t *testing.T) *jwtFixture {
	t.Helper()
	k := jwtKeys()
	f := &jwtFixture{clk: &jwtClock{t: jwtT0}, log: &jwtLog{}}
	f.clerk = newJWKSServer(t,
		jwksKey{kid: "a-rsa", pub: &k.rsa.PublicKey},
		jwksKey{kid: "a-ec", pub: &k.ec.PublicKey, alg: "ES256"},
		jwksKey{kid: "a-ed", pub: k.ed.Public()},
	)
	// The wrong-issuer case signs with Clerk's key under this issuer's kid.
	f.auth0 = newJWKSServer(t, jwksKey{kid: "k1", pub: &k.rsa2.PublicKey})
	issuers := []config.JWTIssuer{
		{Issuer: jwtIssClerk, JWKSURL: f.clerk.URL + "/.well-known/jwks.json", Algorithms: []string{"RS256", "ES256", "EdDSA"},
			PlanClaim: "public_metadata.plan", DefaultPlan: "free"},
		{Issuer: jwtIssAuth0, JWKSURL: f.auth0.URL + "/.well-known/jwks.json", Algorithms: []string{"RS256"},
			Audience: "https://api.keyward.test", PlanClaim: "https://keyward.test/plan"},
		{Issuer: jwtIssSupabase, Secret: "env:SUPABASE_JWT_SECRET", Algorithms: []string{"HS256", "HS384"},
			Audience: "authenticated", UserClaim: "sub", PlanClaim: "app_metadata.plan", DefaultPlan: "free", Leeway: 5 * time.Second},
	}
	secrets := []secret.Secret{{}, {}, secret.New(jwtHMACSecret)}
	v, err := newJWTVerifier(context.Background(), issuers, secrets, f.clerk.Client(), f.clk.now, f.log.logger(), jwtTestTuning)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	f.v = v
	return f
}

// checkJWTErr asserts that a refusal is an ErrJWTInvalid and carries no
// part of the token that could be replayed.
func checkJWTErr(t *testing.T, err error, token string) {
	t.Helper()
	if !errors.Is(err, ErrJWTInvalid) {
		t.Errorf("error %v does not wrap ErrJWTInvalid", err)
	}
	msg := err.Error()
	if token != "" && strings.Contains(msg, token) {
		t.Errorf("error contains the token: %s", msg)
	}
	for i, seg := range strings.Split(token, ".") {
		if i > 0 && len(seg) >= 8 && strings.Contains(msg, seg) {
			t.Errorf("error contains segment %d of the token: %s", i, msg)
		}
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestJWTVerify(t *testing.T) {
	f := newJWTFixture(t)
	k := jwtKeys()
	hs := []byte(jwtHMACSecret)

	clerk := func(mods ...func(jwt.MapClaims)) jwt.MapClaims {
		return jwtClaims(jwtIssClerk, append([]func(jwt.MapClaims){jwtSet("public_metadata", map[string]any{"plan": "pro"})}, mods...)...)
	}
	auth0 := func(mods ...func(jwt.MapClaims)) jwt.MapClaims {
		return jwtClaims(jwtIssAuth0, append([]func(jwt.MapClaims){jwtSet("aud", []string{"https://api.keyward.test", "https://tenant.auth0.example/userinfo"})}, mods...)...)
	}
	supa := func(mods ...func(jwt.MapClaims)) jwt.MapClaims {
		return jwtClaims(jwtIssSupabase, append([]func(jwt.MapClaims){jwtSet("aud", "authenticated"), jwtSet("role", "authenticated"),
			jwtSet("app_metadata", map[string]any{"plan": "team", "provider": "email"})}, mods...)...)
	}
	rs := func(c jwt.MapClaims) string { return jwtSign(t, jwt.SigningMethodRS256, k.rsa, "a-rsa", c) }
	hs256 := func(c jwt.MapClaims) string { return jwtSign(t, jwt.SigningMethodHS256, hs, "", c) }

	clerkUser := func(plan string) Principal {
		return Principal{Kind: KindJWT, ID: "jwt:" + jwtIssClerk + "#user_1", User: "user_1", Plan: plan}
	}
	supaUser := func(plan string) Principal {
		return Principal{Kind: KindJWT, ID: "jwt:" + jwtIssSupabase + "#user_1", User: "user_1", Plan: plan}
	}

	// Algorithm confusion: HS256 "signed" with the RSA public key's bytes.
	pkix, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pkcs1 := x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)

	unsigned := jwtSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "a-rsa", clerk())

	valid := rs(clerk())
	vp := strings.Split(valid, ".")
	tampered := vp[0] + "." + b64(`{"iss":"`+jwtIssClerk+`","sub":"admin","exp":`+fmt.Sprint(jwtAt(time.Hour))+`,"public_metadata":{"plan":"enterprise"}}`) + "." + vp[2]
	validHS := hs256(supa())
	hp := strings.Split(validHS, ".")
	tamperedHS := hp[0] + "." + b64(`{"iss":"`+jwtIssSupabase+`","sub":"admin","aud":"authenticated","exp":`+fmt.Sprint(jwtAt(time.Hour))+`,"app_metadata":{"plan":"enterprise"}}`) + "." + hp[2]

	long := strings.Repeat("x", maxJWTUserLen+1)

	tests := []struct {
		name  string
		token string
		want  Principal // zero: refused
		errIs error     // a further reason the refusal must carry
	}{
		// Accepted.
		{name: "RS256", token: valid, want: clerkUser("pro")},
		{name: "ES256", token: jwtSign(t, jwt.SigningMethodES256, k.ec, "a-ec", clerk()), want: clerkUser("pro")},
		{name: "EdDSA", token: jwtSign(t, jwt.SigningMethodEdDSA, k.ed, "a-ed", clerk()), want: clerkUser("pro")},
		{name: "ES256 without kid tries the fitting keys", token: jwtSign(t, jwt.SigningMethodES256, k.ec, "", clerk()), want: clerkUser("pro")},
		{name: "HS256 via secret", token: validHS, want: supaUser("team")},
		{name: "HS384 via secret", token: jwtSign(t, jwt.SigningMethodHS384, hs, "", supa()), want: supaUser("team")},
		{name: "audience in a list", token: jwtSign(t, jwt.SigningMethodRS256, k.rsa2, "k1", auth0(jwtSet("https://keyward.test/plan", "pro"))),
			want: Principal{Kind: KindJWT, ID: "jwt:" + jwtIssAuth0 + "#user_1", User: "user_1", Plan: "pro"}},
		{name: "within leeway: nbf and iat 20s ahead, exp 20s ago", token: rs(clerk(jwtSet("nbf", jwtAt(20*time.Second)), jwtSet("iat", jwtAt(20*time.Second)), jwtSet("exp", jwtAt(-20*time.Second)))),
			want: clerkUser("pro")},
		{name: "no iat, no nbf", token: rs(clerk(jwtDel("iat"), jwtDel("nbf"))), want: clerkUser("pro")},

		// Plan and user mapping.
		{name: "plan missing: default", token: rs(clerk(jwtDel("public_metadata"))), want: clerkUser("free")},
		{name: "plan not a string: default", token: rs(clerk(jwtSet("public_metadata", map[string]any{"plan": 3}))), want: clerkUser("free")},
		{name: "plan is an object: default", token: rs(clerk(jwtSet("public_metadata", map[string]any{"plan": map[string]any{"name": "pro"}}))), want: clerkUser("free")},
		{name: "plan path through a non-object: default", token: rs(clerk(jwtSet("public_metadata", "pro"))), want: clerkUser("free")},
		{name: "plan empty: default", token: rs(clerk(jwtSet("public_metadata", map[string]any{"plan": ""}))), want: clerkUser("free")},
		{name: "plan missing, no default plan", token: jwtSign(t, jwt.SigningMethodRS256, k.rsa2, "k1", auth0()),
			want: Principal{Kind: KindJWT, ID: "jwt:" + jwtIssAuth0 + "#user_1", User: "user_1"}},
		{name: "user claim missing", token: rs(clerk(jwtDel("sub")))},
		{name: "user claim not a string", token: rs(clerk(jwtSet("sub", 42)))},
		{name: "user claim empty", token: rs(clerk(jwtSet("sub", "")))},
		{name: "user claim too long", token: rs(clerk(jwtSet("sub", long)))},
		{name: "user claim with a NUL", token: rs(clerk(jwtSet("sub", "evil\x00user")))},
		{name: "user claim with a newline", token: rs(clerk(jwtSet("sub", "evil\nuser")))},

		// Time.
		{name: "expired", token: rs(clerk(jwtSet("exp", jwtAt(-time.Minute)))), errIs: jwt.ErrTokenExpired},
		{name: "expired (HMAC)", token: hs256(supa(jwtSet("exp", jwtAt(-time.Minute)))), errIs: jwt.ErrTokenExpired},
		{name: "not yet valid", token: rs(clerk(jwtSet("nbf", jwtAt(time.Minute)))), errIs: jwt.ErrTokenNotValidYet},
		{name: "iat in the future beyond leeway", token: rs(clerk(jwtSet("iat", jwtAt(2*time.Minute)))), errIs: jwt.ErrTokenUsedBeforeIssued},
		{name: "issuer leeway of 5s applies", token: hs256(supa(jwtSet("nbf", jwtAt(20*time.Second)))), errIs: jwt.ErrTokenNotValidYet},
		{name: "missing exp", token: rs(clerk(jwtDel("exp"))), errIs: jwt.ErrTokenRequiredClaimMissing},
		{name: "missing exp (HMAC)", token: hs256(supa(jwtDel("exp"))), errIs: jwt.ErrTokenRequiredClaimMissing},
		{name: "exp not a number", token: rs(clerk(jwtSet("exp", "tomorrow")))},

		// Issuer and audience.
		{name: "unknown issuer", token: rs(clerk(jwtSet("iss", "https://evil.example")))},
		{name: "no issuer", token: rs(clerk(jwtDel("iss")))},
		{name: "issuer not a string", token: rs(clerk(jwtSet("iss", []string{jwtIssClerk})))},
		{name: "wrong issuer: another issuer's key under its kid", token: jwtSign(t, jwt.SigningMethodRS256, k.rsa, "k1", auth0()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "wrong issuer: HMAC issuer's token claiming a JWKS issuer", token: jwtSign(t, jwt.SigningMethodHS256, hs, "", clerk())},
		{name: "wrong audience", token: jwtSign(t, jwt.SigningMethodRS256, k.rsa2, "k1", auth0(jwtSet("aud", "https://other.example"))), errIs: jwt.ErrTokenInvalidAudience},
		{name: "missing audience", token: jwtSign(t, jwt.SigningMethodRS256, k.rsa2, "k1", auth0(jwtDel("aud"))), errIs: jwt.ErrTokenRequiredClaimMissing},
		{name: "wrong audience (HMAC)", token: hs256(supa(jwtSet("aud", "anon-other"))), errIs: jwt.ErrTokenInvalidAudience},

		// Algorithms.
		{name: "alg none", token: unsigned, errIs: jwt.ErrTokenSignatureInvalid},
		{name: "alg none to the HMAC issuer", token: jwtSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", supa()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "algorithm confusion: HS256 keyed with the RSA public key PEM", token: jwtSign(t, jwt.SigningMethodHS256, pemKey, "a-rsa", clerk()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "algorithm confusion: HS256 keyed with the RSA public key PKIX DER", token: jwtSign(t, jwt.SigningMethodHS256, pkix, "a-rsa", clerk()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "algorithm confusion: HS256 keyed with the RSA public key PKCS#1 DER", token: jwtSign(t, jwt.SigningMethodHS256, pkcs1, "", clerk()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "RS256 token to the HMAC issuer", token: jwtSign(t, jwt.SigningMethodRS256, k.rsa, "a-rsa", supa()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "EdDSA token to the HMAC issuer", token: jwtSign(t, jwt.SigningMethodEdDSA, k.ed, "", supa()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "RS512 when the issuer allows RS256", token: jwtSign(t, jwt.SigningMethodRS512, k.rsa, "a-rsa", clerk()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "PS256 when the issuer allows RS256", token: jwtSign(t, jwt.SigningMethodPS256, k.rsa, "a-rsa", clerk()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "HS512 when the issuer allows HS256 and HS384", token: jwtSign(t, jwt.SigningMethodHS512, hs, "", supa()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "JWK alg differs from the token's", token: jwtSign(t, jwt.SigningMethodEdDSA, k.ed, "a-ec", clerk()), errIs: jwt.ErrTokenUnverifiable},
		{name: "key of another type under the kid (JWK alg set)", token: jwtSign(t, jwt.SigningMethodES256, k.ec, "a-ed", clerk()), errIs: jwt.ErrTokenUnverifiable},
		{name: "key of another type under the kid (no JWK alg)", token: jwtSign(t, jwt.SigningMethodES256, k.ec, "a-rsa", clerk()), errIs: jwt.ErrTokenUnverifiable},
		{name: "EdDSA without kid, signed by a key not in the JWKS", token: jwtSign(t, jwt.SigningMethodEdDSA, ed25519.NewKeyFromSeed(make([]byte, 32)), "", clerk()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "unknown kid", token: jwtSign(t, jwt.SigningMethodRS256, k.rsa2, "nope", clerk()), errIs: jwt.ErrTokenUnverifiable},
		{name: "kid too long", token: jwtSign(t, jwt.SigningMethodRS256, k.rsa, strings.Repeat("k", 300), clerk()), errIs: jwt.ErrTokenUnverifiable},
		{name: "kid not a string", token: func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, clerk())
			tok.Header["kid"] = 7
			s, _ := tok.SignedString(k.rsa)
			return s
		}(), errIs: jwt.ErrTokenUnverifiable},

		// Signatures.
		{name: "tampered payload", token: tampered, errIs: jwt.ErrTokenSignatureInvalid},
		{name: "tampered payload (HMAC)", token: tamperedHS, errIs: jwt.ErrTokenSignatureInvalid},
		{name: "wrong HMAC secret", token: jwtSign(t, jwt.SigningMethodHS256, []byte("another-secret-that-is-also-32-chars-or-more"), "", supa()), errIs: jwt.ErrTokenSignatureInvalid},
		{name: "signature of another token", token: vp[0] + "." + vp[1] + "." + strings.Split(rs(clerk(jwtSet("sub", "user_2"))), ".")[2], errIs: jwt.ErrTokenSignatureInvalid},
		{name: "HMAC signature truncated", token: hp[0] + "." + hp[1] + "." + hp[2][:20], errIs: jwt.ErrTokenSignatureInvalid},
		{name: "HMAC signature empty", token: hp[0] + "." + hp[1] + ".", errIs: jwt.ErrTokenSignatureInvalid},
		{name: "signature with padding", token: valid + "==", errIs: jwt.ErrTokenMalformed},

		// Malformed.
		{name: "empty", token: "", errIs: jwt.ErrTokenMalformed},
		{name: "one segment", token: "abcdef", errIs: jwt.ErrTokenMalformed},
		{name: "two segments", token: vp[0] + "." + vp[1], errIs: jwt.ErrTokenMalformed},
		{name: "four segments", token: valid + ".xyz", errIs: jwt.ErrTokenMalformed},
		{name: "bad base64 header", token: "!!!." + vp[1] + "." + vp[2], errIs: jwt.ErrTokenMalformed},
		{name: "bad base64 payload", token: vp[0] + ".***." + vp[2], errIs: jwt.ErrTokenMalformed},
		{name: "bad base64 signature", token: vp[0] + "." + vp[1] + ".@@@@", errIs: jwt.ErrTokenMalformed},
		{name: "header not JSON", token: b64("alg") + "." + vp[1] + "." + vp[2], errIs: jwt.ErrTokenMalformed},
		{name: "payload not an object", token: vp[0] + "." + b64(`["x"]`) + "." + vp[2], errIs: jwt.ErrTokenMalformed},
		{name: "unknown alg", token: b64(`{"alg":"XX999","typ":"JWT"}`) + "." + vp[1] + "." + vp[2], errIs: jwt.ErrTokenUnverifiable},
		{name: "huge token", token: vp[0] + "." + b64(strings.Repeat("A", maxJWTBytes)) + "." + vp[2]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.v.Verify(context.Background(), tc.token)
			if tc.want.Kind == "" {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				checkJWTErr(t, err, tc.token)
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Errorf("error %v is not %v", err, tc.errIs)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("principal (-want +got):\n%s", d)
			}
		})
	}
}

// TestJWTKeyRotation: a kid the cache lacks is fetched, at most once per
// interval, so a rotation at the IdP is picked up and random kids cost the
// IdP one request a minute.
func TestJWTKeyRotation(t *testing.T) {
	k := jwtKeys()
	clk := &jwtClock{t: jwtT0}
	srv := newJWKSServer(t, jwksKey{kid: "r1", pub: &k.rsa.PublicKey})
	iss := []config.JWTIssuer{{Issuer: jwtIssClerk, JWKSURL: srv.URL, Algorithms: []string{"RS256"}}}
	v, err := newJWTVerifier(context.Background(), iss, nil, srv.Client(), clk.now, nil, jwtTestTuning)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	ctx := context.Background()

	hits := func(want int64) {
		t.Helper()
		if got := srv.hits.Load(); got != want {
			t.Fatalf("JWKS fetched %d times, want %d", got, want)
		}
	}
	verify := func(tok string, ok bool) {
		t.Helper()
		_, err := v.Verify(ctx, tok)
		if ok && err != nil {
			t.Fatalf("refused: %v", err)
		}
		if !ok && err == nil {
			t.Fatal("accepted")
		}
	}
	old := jwtSign(t, jwt.SigningMethodRS256, k.rsa, "r1", jwtClaims(jwtIssClerk))
	rotated := jwtSign(t, jwt.SigningMethodRS256, k.rsa2, "r2", jwtClaims(jwtIssClerk))
	random := func() string {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return jwtSign(t, jwt.SigningMethodRS256, k.rsa2, hex.EncodeToString(b[:]), jwtClaims(jwtIssClerk))
	}

	hits(1) // at startup
	verify(old, true)
	verify(old, true)
	hits(1) // cached

	verify(rotated, false) // not published yet: one refetch
	hits(2)
	for range 50 {
		verify(random(), false)
	}
	hits(2) // the flood waited for its turn without fetching

	srv.publish(t, jwksKey{kid: "r1", pub: &k.rsa.PublicKey}, jwksKey{kid: "r2", pub: &k.rsa2.PublicKey})
	verify(rotated, false) // still inside the interval
	hits(2)

	clk.add(jwtTestTuning.refetch)
	verify(rotated, true) // the refetch picks up the new key
	hits(3)
	verify(random(), false)
	verify(rotated, true)
	verify(old, true)
	hits(3)

	// The IdP retires the old key: gone at the next fetch.
	srv.publish(t, jwksKey{kid: "r2", pub: &k.rsa2.PublicKey})
	clk.add(jwtTestTuning.refetch)
	verify(random(), false)
	hits(4)
	verify(old, false)
	verify(rotated, true)
}

// TestJWKSBackgroundRefresh: the cached set is refreshed on a timer, with
// no token needed to trigger it.
func TestJWKSBackgroundRefresh(t *testing.T) {
	k := jwtKeys()
	clk := &jwtClock{t: jwtT0}
	srv := newJWKSServer(t, jwksKey{kid: "r1", pub: &k.rsa.PublicKey})
	iss := []config.JWTIssuer{{Issuer: jwtIssClerk, JWKSURL: srv.URL, Algorithms: []string{"RS256"}}}
	tune := jwtTuning{refresh: 10 * time.Millisecond, refetch: time.Hour, timeout: 5 * time.Second}
	v, err := newJWTVerifier(context.Background(), iss, nil, srv.Client(), clk.now, nil, tune)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	ctx := context.Background()
	rotated := jwtSign(t, jwt.SigningMethodRS256, k.rsa2, "r2", jwtClaims(jwtIssClerk))
	if _, err := v.Verify(ctx, rotated); err == nil { // uses up the unknown-kid refetch for the hour
		t.Fatal("accepted before the key was published")
	}
	srv.publish(t, jwksKey{kid: "r2", pub: &k.rsa2.PublicKey})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := v.Verify(ctx, rotated)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background refresh never loaded the new key: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestJWKSUnavailableAtStartup: keyward starts anyway, says so, refuses
// that issuer's tokens, and recovers when the JWKS loads.
func TestJWKSUnavailableAtStartup(t *testing.T) {
	k := jwtKeys()
	const canary = "canary-query-credential-8f3a"
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name    string
		setup   func(s *jwksServer)
		url     func(s *jwksServer) string
		logHas  string
		recover bool
	}{
		{name: "status 503", setup: func(s *jwksServer) { s.setResponse(http.StatusServiceUnavailable, []byte("down")) },
			logHas: "invalid HTTP status code", recover: true},
		{name: "not JSON", setup: func(s *jwksServer) { s.setResponse(http.StatusOK, []byte("<html>")) },
			logHas: "decode", recover: true},
		{name: "oversized body", setup: func(s *jwksServer) {
			s.setResponse(http.StatusOK, append([]byte(`{"keys":[],"x":"`), bytes.Repeat([]byte("a"), maxJWKSBytes)...))
		}, logHas: "larger than", recover: true},
		{name: "unreachable, credential in the query", url: func(*jwksServer) string { return closed.URL + "/jwks?api_key=" + canary },
			logHas: "JWKS fetch failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &jwtClock{t: jwtT0}
			srv := newJWKSServer(t, jwksKey{kid: "r1", pub: &k.rsa.PublicKey})
			if tc.setup != nil {
				tc.setup(srv)
			}
			u := srv.URL + "/jwks"
			if tc.url != nil {
				u = tc.url(srv)
			}
			logs := &jwtLog{}
			iss := []config.JWTIssuer{{Issuer: jwtIssClerk, JWKSURL: u, Algorithms: []string{"RS256"}}}
			v, err := newJWTVerifier(context.Background(), iss, nil, srv.Client(), clk.now, logs.logger(), jwtTestTuning)
			if err != nil {
				t.Fatalf("an unavailable JWKS stopped startup: %v", err)
			}
			t.Cleanup(v.Close)
			for _, want := range []string{"JWKS fetch failed", "no keys loaded", tc.logHas, jwtIssClerk} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs)
				}
			}
			tok := jwtSign(t, jwt.SigningMethodRS256, k.rsa, "r1", jwtClaims(jwtIssClerk))
			_, err = v.Verify(context.Background(), tok)
			if err == nil {
				t.Fatal("accepted without keys")
			}
			checkJWTErr(t, err, tok)
			if strings.Contains(logs.String(), canary) || strings.Contains(err.Error(), canary) {
				t.Errorf("the JWKS URL's query leaked:\nlog: %s\nerr: %v", logs, err)
			}
			if !tc.recover {
				return
			}
			srv.publish(t, jwksKey{kid: "r1", pub: &k.rsa.PublicKey})
			clk.add(jwtTestTuning.refetch)
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("not recovered once the JWKS loads: %v", err)
			}
		})
	}
}

func TestNewJWTVerifierRefuses(t *testing.T) {
	const jwks = "https://idp.example/.well-known/jwks.json"
	good := secret.New(jwtHMACSecret)
	tests := []struct {
		name    string
		issuers []config.JWTIssuer
		secrets []secret.Secret
		errHas  string
	}{
		{name: "HMAC with a JWKS", issuers: []config.JWTIssuer{{Issuer: "a", JWKSURL: jwks, Algorithms: []string{"RS256", "HS256"}}}, errHas: "HS256"},
		{name: "none", issuers: []config.JWTIssuer{{Issuer: "a", JWKSURL: jwks, Algorithms: []string{"none"}}}, errHas: "none"},
		{name: "unknown algorithm", issuers: []config.JWTIssuer{{Issuer: "a", JWKSURL: jwks, Algorithms: []string{"rs256"}}}, errHas: "rs256"},
		{name: "RSA with a secret", issuers: []config.JWTIssuer{{Issuer: "a", Secret: "env:X", Algorithms: []string{"RS256"}}}, secrets: []secret.Secret{good}, errHas: "RS256"},
		{name: "none with a secret", issuers: []config.JWTIssuer{{Issuer: "a", Secret: "env:X", Algorithms: []string{"none"}}}, secrets: []secret.Secret{good}, errHas: "none"},
		{name: "secret not loaded", issuers: []config.JWTIssuer{{Issuer: "a", Secret: "env:X", Algorithms: []string{"HS256"}}}, errHas: "not loaded"},
		{name: "secret too short", issuers: []config.JWTIssuer{{Issuer: "a", Secret: "env:X", Algorithms: []string{"HS256"}}}, secrets: []secret.Secret{secret.New("short-secret")}, errHas: "shorter"},
		{name: "both", issuers: []config.JWTIssuer{{Issuer: "a", JWKSURL: jwks, Secret: "env:X", Algorithms: []string{"HS256"}}}, secrets: []secret.Secret{good}, errHas: "not both"},
		{name: "neither", issuers: []config.JWTIssuer{{Issuer: "a", Algorithms: []string{"RS256"}}}, errHas: "needs"},
		{name: "no algorithms", issuers: []config.JWTIssuer{{Issuer: "a", JWKSURL: jwks}}, errHas: "algorithms"},
		{name: "no issuer", issuers: []config.JWTIssuer{{JWKSURL: jwks, Algorithms: []string{"RS256"}}}, errHas: "issuer is required"},
		{name: "duplicate issuer", issuers: []config.JWTIssuer{{Issuer: "a", JWKSURL: jwks, Algorithms: []string{"RS256"}}, {Issuer: "a", JWKSURL: jwks, Algorithms: []string{"RS256"}}}, errHas: "duplicate"},
		{name: "jwks_url not http", issuers: []config.JWTIssuer{{Issuer: "a", JWKSURL: "file:///etc/jwks.json?k=canary", Algorithms: []string{"RS256"}}}, errHas: "http(s)"},
		{name: "negative leeway", issuers: []config.JWTIssuer{{Issuer: "a", JWKSURL: jwks, Algorithms: []string{"RS256"}, Leeway: -time.Second}}, errHas: "leeway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := newJWTVerifier(context.Background(), tc.issuers, tc.secrets, nil, nil, nil, jwtTestTuning)
			if err == nil {
				v.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q lacks %q", err, tc.errHas)
			}
			if strings.Contains(err.Error(), jwtHMACSecret) || strings.Contains(err.Error(), "canary") {
				t.Errorf("error leaks configuration secrets: %v", err)
			}
		})
	}
}

func TestJWTWarnsOnUserWritablePlanClaim(t *testing.T) {
	logs := &jwtLog{}
	iss := []config.JWTIssuer{{Issuer: jwtIssSupabase, Secret: "env:X", Algorithms: []string{"HS256"}, PlanClaim: "user_metadata.plan"}}
	v, err := newJWTVerifier(context.Background(), iss, []secret.Secret{secret.New(jwtHMACSecret)}, nil, nil, logs.logger(), jwtTestTuning)
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	if !strings.Contains(logs.String(), "users can write") {
		t.Errorf("no warning:\n%s", logs)
	}
}

func TestJWTKeyFits(t *testing.T) {
	k := jwtKeys()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 1023), E: 65537}
	tests := []struct {
		alg  string
		key  any
		want bool
	}{
		{"RS256", &k.rsa.PublicKey, true},
		{"PS512", &k.rsa.PublicKey, true},
		{"ES256", &k.ec.PublicKey, true},
		{"ES384", &p384.PublicKey, true},
		{"EdDSA", k.ed.Public(), true},
		{"HS256", []byte("oct key from a JWKS"), false},
		{"HS256", &k.rsa.PublicKey, false},
		{"RS256", &k.ec.PublicKey, false},
		{"RS256", small, false},
		{"RS256", k.rsa, false}, // private keys are turned public before this
		{"ES256", &p384.PublicKey, false},
		{"ES512", &k.ec.PublicKey, false},
		{"EdDSA", &k.ec.PublicKey, false},
		{"ES256", &ecdsa.PublicKey{}, false},
		{"EdDSA", ed25519.PublicKey{1, 2, 3}, false},
		{"none", nil, false},
	}
	for _, tc := range tests {
		if got := jwtKeyFits(tc.alg, tc.key); got != tc.want {
			t.Errorf("jwtKeyFits(%s, %T) = %v, want %v", tc.alg, tc.key, got, tc.want)
		}
	}
}

func TestLooksLikeJWT(t *testing.T) {
	k := jwtKeys()
	valid := jwtSign(t, jwt.SigningMethodRS256, k.rsa, "a", jwtClaims(jwtIssClerk))
	unsigned := jwtSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", jwtClaims(jwtIssClerk))
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"signed", valid, true},
		{"unsigned", unsigned, true},
		{"empty", "", false},
		{"virtual key", "kw_live_0123456789abcdef0123456789abcdef", false},
		{"two segments", "eyJhbGciOiJIUzI1NiJ9.e30", false},
		{"four segments", valid + ".x", false},
		{"empty payload", "eyJhbGciOiJIUzI1NiJ9..sig", false},
		{"header without alg", b64(`{"typ":"JWT"}`) + ".e30.c2ln", false},
		{"alg not a string", b64(`{"alg":1}`) + ".e30.c2ln", false},
		{"alg empty", b64(`{"alg":""}`) + ".e30.c2ln", false},
		{"header not JSON", b64("alg") + ".e30.c2ln", false},
		{"header a JSON array", b64(`["alg"]`) + ".e30.c2ln", false},
		{"padding", "eyJhbGciOiJIUzI1NiJ9.e30=.c2ln", false},
		{"standard base64", "eyJhbGciOiJIUzI1NiJ9.e3+/.c2ln", false},
		{"huge", b64(`{"alg":"RS256"}`) + "." + strings.Repeat("A", maxJWTBytes) + ".c2ln", false},
	}
	for _, tc := range tests {
		if got := LooksLikeJWT(tc.s); got != tc.want {
			t.Errorf("%s: LooksLikeJWT = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestJWKSBodyCap(t *testing.T) {
	// Exactly the cap is fine; one byte more is not.
	for _, tc := range []struct {
		n    int
		fail bool
	}{{maxJWKSBytes, false}, {maxJWKSBytes + 1, true}} {
		body := &jwksBody{ReadCloser: noopCloser{bytes.NewReader(make([]byte, tc.n))}}
		var buf bytes.Buffer
		_, err := buf.ReadFrom(body)
		if (err != nil) != tc.fail {
			t.Errorf("%d bytes: err = %v, want failure %v", tc.n, err, tc.fail)
		}
	}
}

type noopCloser struct{ *bytes.Reader }

func (noopCloser) Close() error { return nil }

func FuzzVerify(f *testing.F) {
	k := jwtKeys()
	clk := &jwtClock{t: jwtT0}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m := jwkset.NewMemoryStorage()
		j, _ := jwkset.NewJWKFromKey(&k.rsa.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "a-rsa"}})
		_ = m.KeyWrite(context.Background(), j)
		raw, _ := m.JSONPublic(context.Background())
		_, _ = w.Write(raw)
	}))
	defer srv.Close()
	iss := []config.JWTIssuer{
		{Issuer: jwtIssClerk, JWKSURL: srv.URL, Algorithms: []string{"RS256"}, PlanClaim: "public_metadata.plan"},
		{Issuer: jwtIssSupabase, Secret: "env:X", Algorithms: []string{"HS256"}, PlanClaim: "app_metadata.plan"},
	}
	v, err := newJWTVerifier(context.Background(), iss, []secret.Secret{{}, secret.New(jwtHMACSecret)}, srv.Client(), clk.now, nil, jwtTestTuning)
	if err != nil {
		f.Fatal(err)
	}
	defer v.Close()

	rs := jwtSign(f, jwt.SigningMethodRS256, k.rsa, "a-rsa", jwtClaims(jwtIssClerk, jwtSet("public_metadata", map[string]any{"plan": "pro"})))
	hs := jwtSign(f, jwt.SigningMethodHS256, []byte(jwtHMACSecret), "", jwtClaims(jwtIssSupabase, jwtSet("app_metadata", map[string]any{"plan": []any{1}})))
	for _, s := range []string{
		rs, hs, "", ".", "..", "a.b.c", rs + ".", strings.TrimSuffix(hs, hs[len(hs)-3:]),
		b64(`{"alg":"none"}`) + "." + b64(`{"iss":"`+jwtIssClerk+`","sub":"x","exp":9999999999}`) + ".",
		b64(`{"alg":"HS256"}`) + "." + b64(`{"iss":"`+jwtIssSupabase+`","sub":{"a":1},"exp":1e300}`) + ".AAAA",
		b64(`{"alg":"RS256","kid":null}`) + "." + b64(`{"iss":"`+jwtIssClerk+`"}`) + ".AAAA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		LooksLikeJWT(s)
		p, err := v.Verify(context.Background(), s)
		if err != nil {
			if !errors.Is(err, ErrJWTInvalid) {
				t.Fatalf("error %v does not wrap ErrJWTInvalid", err)
			}
			if len(s) >= 16 && strings.Contains(err.Error(), s) {
				t.Fatalf("error contains the token: %v", err)
			}
			return
		}
		if p.Kind != KindJWT || p.User == "" || !strings.HasPrefix(p.ID, "jwt:") {
			t.Fatalf("accepted with a bad principal: %+v", p)
		}
	})
}
