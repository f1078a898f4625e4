package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/secret"
)

// The app's own users arrive with JWTs from its identity provider (Auth.js,
// Clerk, Supabase, Auth0, any OIDC provider). Each configured issuer is
// verified strictly on its own terms: its algorithms, its keys (a JWKS, or
// Supabase's legacy HMAC secret), its audience. The unverified "iss" only
// chooses which issuer's rules apply; it grants nothing by itself.

// KindJWT is a user of the app, signed in with its identity provider.
const KindJWT Kind = "jwt"

// ErrJWTInvalid wraps every reason Verify refuses a token. Clients get one
// 401 for all of them; the log gets the reason.
var ErrJWTInvalid = errors.New("invalid jwt")

const (
	// maxJWTBytes bounds a token before it is parsed (Clerk tokens carrying
	// metadata run to a few KiB).
	maxJWTBytes = 16 << 10
	// maxJWTUserLen bounds the user id taken from a token.
	maxJWTUserLen = 256
	// maxJWTKIDLen bounds a "kid" before it reaches key lookup and logs.
	maxJWTKIDLen = 256
	// maxJWKSBytes bounds a JWKS response; real ones are a few KiB.
	maxJWKSBytes = 1 << 20
	// defaultJWTLeeway tolerates clock skew when an issuer sets none.
	defaultJWTLeeway = 30 * time.Second
	// minHMACSecretLen: a token's holder can brute-force a short HMAC
	// secret offline and then forge any user and plan.
	minHMACSecretLen = 32
)

// jwksAlgs are the algorithms verified with keys from a JWKS.
var jwksAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// hmacAlgs are the algorithms verified with an HMAC secret, and their hashes.
var hmacAlgs = map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}

// jwtTuning holds the timings of JWKS fetching, so tests can shorten them.
type jwtTuning struct {
	// refresh is how often every JWKS is fetched in the background.
	refresh time.Duration
	// refetch is the least time between fetches caused by an unknown kid
	// (a key rotation at the IdP), so a flood of random kids cannot
	// hammer the IdP.
	refetch time.Duration
	// timeout bounds one fetch.
	timeout time.Duration
}

var defaultJWTTuning = jwtTuning{refresh: 15 * time.Minute, refetch: time.Minute, timeout: 10 * time.Second}

// JWTVerifier accepts tokens from the configured issuers.
type JWTVerifier struct {
	issuers map[string]*jwtIssuer
	cancel  context.CancelFunc
}

// jwtIssuer is one issuer's rules and keys.
type jwtIssuer struct {
	cfg  config.JWTIssuer
	user string // the claim holding the user id
	// opts are the parser and validator options: algorithms, issuer,
	// audience, exp required, iat checked, leeway, clock.
	opts      []jwt.ParserOption
	validator *jwt.Validator
	// Exactly one of these verifies signatures.
	secret secret.Secret   // HMAC issuers
	keys   keyfunc.Keyfunc // JWKS issuers
}

// NewJWTVerifier builds a verifier for the configured issuers.
// hmacSecrets[i] is the loaded secret of issuers[i] when it uses secret:
// (zero otherwise). client fetches the JWKS documents (nil: a default
// client); now is the clock (nil: time.Now). Background JWKS refreshes run
// until ctx ends or Close is called. A JWKS that cannot be fetched does not
// fail the constructor: it is logged, and that issuer's tokens fail until
// it loads.
func NewJWTVerifier(ctx context.Context, issuers []config.JWTIssuer, hmacSecrets []secret.Secret, client *http.Client, now func() time.Time, log *slog.Logger) (*JWTVerifier, error) {
	return newJWTVerifier(ctx, issuers, hmacSecrets, client, now, log, defaultJWTTuning)
}

func newJWTVerifier(ctx context.Context, issuers []config.JWTIssuer, hmacSecrets []secret.Secret, client *http.Client, now func() time.Time, log *slog.Logger, tune jwtTuning) (*JWTVerifier, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &JWTVerifier{issuers: make(map[string]*jwtIssuer, len(issuers)), cancel: func() {}}
	var errs []error
	for i, c := range issuers {
		var s secret.Secret
		if i < len(hmacSecrets) {
			s = hmacSecrets[i]
		}
		is, err := newJWTIssuer(c, s, now)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("jwt issuer %d (%q): %w", i, c.Issuer, err))
			continue
		case v.issuers[c.Issuer] != nil:
			errs = append(errs, fmt.Errorf("jwt issuer %d (%q): duplicate issuer", i, c.Issuer))
			continue
		}
		v.issuers[c.Issuer] = is
		if first, _, _ := strings.Cut(c.PlanClaim, "."); first == "user_metadata" || first == "unsafe_metadata" {
			log.Warn("jwt: plan_claim is in metadata users can write themselves; they can pick their own plan",
				"issuer", c.Issuer, "plan_claim", c.PlanClaim)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	bg, cancel := context.WithCancel(ctx)
	v.cancel = cancel
	client = jwksClient(client)
	// Fetch every JWKS at once, so startup waits for the slowest IdP, not
	// for all of them in turn.
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, is := range v.issuers {
		if is.cfg.JWKSURL == "" {
			continue
		}
		wg.Go(func() {
			if err := is.startJWKS(bg, client, now, log, tune); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("jwt issuer %q: %w", is.cfg.Issuer, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		cancel()
		return nil, err
	}
	return v, nil
}

// newJWTIssuer checks one issuer's configuration (again: a configuration
// built without config.Validate must not open algorithm confusion either).
func newJWTIssuer(c config.JWTIssuer, s secret.Secret, now func() time.Time) (*jwtIssuer, error) {
	if c.Issuer == "" {
		return nil, errors.New("issuer is required")
	}
	if len(c.Algorithms) == 0 {
		return nil, errors.New("algorithms are required")
	}
	switch {
	case c.JWKSURL != "" && c.Secret != "":
		return nil, errors.New("give jwks_url or secret, not both")
	case c.JWKSURL != "":
		// The URL is not echoed: it may carry a credential in its query.
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("jwks_url must be an absolute http(s) URL")
		}
		for _, alg := range c.Algorithms {
			if !slices.Contains(jwksAlgs, alg) {
				return nil, fmt.Errorf("algorithm %q cannot be verified with a JWKS (allowed: %s)", alg, strings.Join(jwksAlgs, ", "))
			}
		}
	case c.Secret != "":
		if s.IsZero() {
			return nil, errors.New("the HMAC secret is not loaded")
		}
		if s.Len() < minHMACSecretLen {
			return nil, fmt.Errorf("the HMAC secret is shorter than %d characters", minHMACSecretLen)
		}
		for _, alg := range c.Algorithms {
			if _, ok := hmacAlgs[alg]; !ok {
				return nil, fmt.Errorf("algorithm %q cannot be verified with an HMAC secret (allowed: HS256, HS384, HS512)", alg)
			}
		}
	default:
		return nil, errors.New("needs jwks_url or secret")
	}
	if c.Leeway < 0 {
		return nil, errors.New("leeway must not be negative")
	}
	leeway := c.Leeway
	if leeway == 0 {
		leeway = defaultJWTLeeway
	}
	user := c.UserClaim
	if user == "" {
		user = "sub"
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(slices.Clone(c.Algorithms)),
		jwt.WithIssuer(c.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	}
	if c.Audience != "" {
		opts = append(opts, jwt.WithAudience(c.Audience))
	}
	is := &jwtIssuer{cfg: c, user: user, opts: opts, validator: jwt.NewValidator(opts...)}
	if c.Secret != "" {
		is.secret = s
	}
	return is, nil
}

// startJWKS loads the issuer's JWKS and starts its background refresh.
func (is *jwtIssuer) startJWKS(ctx context.Context, client *http.Client, now func() time.Time, log *slog.Logger, tune jwtTuning) error {
	failed := func(_ context.Context, err error) {
		log.Warn("jwt: JWKS fetch failed", "issuer", is.cfg.Issuer, "err", jwksFetchError(err))
	}
	cached, err := jwkset.NewStorageFromHTTP(is.cfg.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:                    client,
		Ctx:                       ctx,
		HTTPTimeout:               tune.timeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       failed,
		RefreshInterval:           tune.refresh,
	})
	if err != nil {
		return errors.New("jwks_url is not a valid URL")
	}
	refetch, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:         map[string]jwkset.Storage{is.cfg.JWKSURL: cached},
		RateLimitWaitMax: tune.timeout, // also bounds the fetch itself
		// Never waits: jwksGate decides, without blocking callers.
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
	})
	if err != nil {
		return fmt.Errorf("jwks storage: %w", err)
	}
	store := &jwksStore{Storage: cached, refetch: refetch, gate: &jwksGate{now: now, every: tune.refetch}}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: store})
	if err != nil {
		return fmt.Errorf("jwks keyfunc: %w", err)
	}
	is.keys = kf
	if keys, err := cached.KeyReadAll(ctx); err != nil || len(keys) == 0 {
		log.Warn("jwt: no keys loaded from the issuer's JWKS; its tokens fail until they load", "issuer", is.cfg.Issuer)
	}
	return nil
}

// Close stops the background JWKS refreshes.
func (v *JWTVerifier) Close() { v.cancel() }

// Verify checks a token and maps it to the app user it names. Errors wrap
// ErrJWTInvalid, are meant for the log only and never contain the token.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	if len(token) > maxJWTBytes {
		return Principal{}, fmt.Errorf("%w: longer than %d bytes", ErrJWTInvalid, maxJWTBytes)
	}
	claims := jwt.MapClaims{}
	tok, parts, err := jwt.NewParser(jwt.WithStrictDecoding()).ParseUnverified(token, claims)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrJWTInvalid, err)
	}
	iss, err := claims.GetIssuer()
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrJWTInvalid, err)
	}
	is, ok := v.issuers[iss]
	if !ok {
		return Principal{}, fmt.Errorf("%w: unknown issuer %q", ErrJWTInvalid, jwtClip(iss, 128))
	}
	if is.keys != nil {
		claims = jwt.MapClaims{}
		_, err = jwt.NewParser(is.opts...).ParseWithClaims(token, claims, is.keyfunc(ctx))
	} else {
		err = is.verifyHMAC(tok, parts, claims)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("%w: issuer %q: %w", ErrJWTInvalid, iss, err)
	}
	return is.principal(claims)
}

// verifyHMAC checks an HMAC issuer's token. golang-jwt's HMAC method wants
// the key as bytes, which would take the secret out of its type; so the
// signature is computed here with Secret.HMACSum, and the claims are
// checked with the same validator options as a JWKS issuer's.
func (is *jwtIssuer) verifyHMAC(tok *jwt.Token, parts []string, claims jwt.MapClaims) error {
	// ParseUnverified only accepts a registered method name here.
	alg, _ := tok.Header["alg"].(string)
	h, ok := hmacAlgs[alg]
	if !ok || !slices.Contains(is.cfg.Algorithms, alg) {
		return fmt.Errorf("%w: signing method %s is not allowed", jwt.ErrTokenSignatureInvalid, alg)
	}
	want := is.secret.HMACSum(h, []byte(parts[0]+"."+parts[1]))
	if !hmac.Equal(want, tok.Signature) {
		return jwt.ErrTokenSignatureInvalid
	}
	if err := is.validator.Validate(claims); err != nil {
		return fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err)
	}
	return nil
}

// keyfunc finds the JWKS key for a token and insists it is the kind of key
// the token's algorithm uses: a JWKS never yields an HMAC key, nor an RSA
// key for an EC algorithm.
func (is *jwtIssuer) keyfunc(ctx context.Context) jwt.Keyfunc {
	lookup := is.keys.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		if kid, ok := t.Header["kid"].(string); ok && len(kid) > maxJWTKIDLen {
			return nil, errors.New("kid is too long")
		}
		alg := t.Method.Alg()
		key, err := lookup(t)
		if err != nil {
			return nil, err
		}
		if set, ok := key.(jwt.VerificationKeySet); ok {
			// No kid: try the keys that fit the algorithm.
			var fit jwt.VerificationKeySet
			for _, k := range set.Keys {
				if jwtKeyFits(alg, k) {
					fit.Keys = append(fit.Keys, k)
				}
			}
			if len(fit.Keys) == 0 {
				return nil, fmt.Errorf("no %s key in the issuer's JWKS", alg)
			}
			return fit, nil
		}
		if !jwtKeyFits(alg, key) {
			return nil, fmt.Errorf("the JWKS key under this kid does not fit %s", alg)
		}
		return key, nil
	}
}

// jwtKeyFits reports whether key is a public key of the type and size alg
// verifies with.
func jwtKeyFits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")) && k.N != nil && k.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		if k.Curve == nil {
			return false
		}
		want := map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
		return want != "" && k.Curve.Params().Name == want
	case ed25519.PublicKey:
		return alg == "EdDSA" && len(k) == ed25519.PublicKeySize
	}
	return false
}

// principal maps verified claims to the user and plan they name.
func (is *jwtIssuer) principal(c jwt.MapClaims) (Principal, error) {
	user, _ := jwtClaimAt(c, is.user).(string)
	if user == "" {
		return Principal{}, fmt.Errorf("%w: issuer %q: claim %q is missing or not a string", ErrJWTInvalid, is.cfg.Issuer, is.user)
	}
	if len(user) > maxJWTUserLen {
		return Principal{}, fmt.Errorf("%w: issuer %q: claim %q is longer than %d bytes", ErrJWTInvalid, is.cfg.Issuer, is.user, maxJWTUserLen)
	}
	// A user id is stored, logged and looked up: no control characters
	// (a NUL is refused by PostgreSQL) and valid UTF-8.
	if !utf8.ValidString(user) || strings.ContainsFunc(user, unicode.IsControl) {
		return Principal{}, fmt.Errorf("%w: issuer %q: claim %q holds control characters or invalid UTF-8", ErrJWTInvalid, is.cfg.Issuer, is.user)
	}
	plan := is.cfg.DefaultPlan
	if is.cfg.PlanClaim != "" {
		if p, _ := jwtClaimAt(c, is.cfg.PlanClaim).(string); p != "" {
			plan = p
		}
	}
	return Principal{Kind: KindJWT, ID: "jwt:" + is.cfg.Issuer + "#" + user, User: user, Plan: plan}, nil
}

// jwtClaimAt returns the claim at a dotted path ("app_metadata.plan"), or
// nil. A top-level claim whose name has dots in it (Auth0's namespaced
// "https://example.com/plan") is found too.
func jwtClaimAt(c jwt.MapClaims, path string) any {
	if v, ok := c[path]; ok {
		return v
	}
	var cur any = map[string]any(c)
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

// LooksLikeJWT is a cheap shape check (three base64url segments, a header
// that is a JSON object with "alg") used to route a credential to the JWT
// verifier. It verifies nothing.
func LooksLikeJWT(s string) bool {
	if len(s) > maxJWTBytes || strings.Count(s, ".") != 2 {
		return false
	}
	header, rest, _ := strings.Cut(s, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	// The signature may be empty: an unsigned token is still a JWT, and
	// the verifier says why it is refused.
	if header == "" || payload == "" || !jwtIsB64URL(header) || !jwtIsB64URL(payload) || !jwtIsB64URL(sig) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	var h map[string]any
	if json.Unmarshal(raw, &h) != nil {
		return false
	}
	alg, ok := h["alg"].(string)
	return ok && alg != ""
}

func jwtIsB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func jwtClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// jwksStore is an issuer's cached JWKS. A kid it does not hold triggers a
// fetch, at most once per jwksGate interval, so a key rotated in at the
// IdP is picked up without waiting for the background refresh.
type jwksStore struct {
	// Storage is the cached set, refreshed in the background; its reads
	// never fetch.
	jwkset.Storage
	// refetch reads through to the IdP for a key the cache lacks.
	refetch jwkset.Storage
	gate    *jwksGate
}

// KeyRead returns the key with the given kid.
func (s *jwksStore) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	k, err := s.Storage.KeyRead(ctx, kid)
	if errors.Is(err, jwkset.ErrKeyNotFound) && s.gate.allow() {
		return s.refetch.KeyRead(ctx, kid)
	}
	return k, err
}

// KeyReadAll returns every key (for tokens without a kid), fetching the
// set once more when it is empty (the IdP was down at startup).
func (s *jwksStore) KeyReadAll(ctx context.Context) ([]jwkset.JWK, error) {
	keys, err := s.Storage.KeyReadAll(ctx)
	if err == nil && len(keys) == 0 && s.gate.allow() {
		_, _ = s.refetch.KeyRead(ctx, "") // any read of an empty set fetches
		return s.Storage.KeyReadAll(ctx)
	}
	return keys, err
}

// jwksGate allows one fetch per interval, on the injected clock, and never
// makes a caller wait for its turn.
type jwksGate struct {
	now   func() time.Time
	every time.Duration

	mu   sync.Mutex
	used bool
	last time.Time
}

func (g *jwksGate) allow() bool {
	t := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.used && t.Sub(g.last) < g.every {
		return false
	}
	g.used, g.last = true, t
	return true
}

// jwksClient is client with JWKS responses capped at maxJWKSBytes, so a
// compromised or broken IdP endpoint cannot exhaust memory.
func jwksClient(client *http.Client) *http.Client {
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = jwksTransport{base: base}
	return &c
}

type jwksTransport struct{ base http.RoundTripper }

func (t jwksTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &jwksBody{ReadCloser: resp.Body}
	return resp, nil
}

var errJWKSTooLarge = fmt.Errorf("JWKS response is larger than %d bytes", maxJWKSBytes)

type jwksBody struct {
	io.ReadCloser
	n int64
}

func (b *jwksBody) Read(p []byte) (int, error) {
	if b.n > maxJWKSBytes {
		return 0, errJWKSTooLarge
	}
	if rem := maxJWKSBytes + 1 - b.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if b.n > maxJWKSBytes {
		return 0, errJWKSTooLarge
	}
	return n, err
}

// jwksFetchError describes a failed fetch without the URL, whose query may
// carry a credential.
func jwksFetchError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
