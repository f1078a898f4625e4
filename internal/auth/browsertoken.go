package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/secret"
)

// Browser tokens are short-lived JWTs (EdDSA) a browser presents to call
// keyward directly. keyward mints them (POST /v1/tokens) with its own key,
// or an app server signs them offline with a key registered as an issuer.
// A token only ever narrows what its minter may do, is bound to one
// origin, and lives at most 15 minutes.

// TokenIssuer is the "iss" of tokens keyward mints itself.
const TokenIssuer = "keyward"

// TokenAudience is the "aud" every browser token carries.
const TokenAudience = "keyward"

// MaxTokenTTL is the longest any browser token may live.
const MaxTokenTTL = 15 * time.Minute

// TokenClaims are a browser token's claims.
type TokenClaims struct {
	jwt.RegisteredClaims
	Plan            string   `json:"plan,omitempty"`
	Models          []string `json:"models,omitempty"`
	Origin          string   `json:"origin"`
	MaxOutputTokens int      `json:"max_output_tokens,omitempty"`
	// MintedBy is the id of the virtual key that minted the token: the
	// token lives only while that key does, and within its limits.
	MintedBy string `json:"minted_by,omitempty"`
}

// Tokens mints and verifies browser tokens.
type Tokens struct {
	signer *secret.Signer // nil: keyward mints none
	maxTTL time.Duration
	now    func() time.Time
	// keys verify tokens keyward minted, by kid (current and older keys).
	keys map[string]ed25519.PublicKey
	// issuers verify offline tokens, by "iss".
	issuers map[string]OfflineIssuer
}

// OfflineIssuer is an app server allowed to sign tokens itself.
type OfflineIssuer struct {
	Key ed25519.PublicKey
	// Plan bounds the tokens it signs ("" for the default plan).
	Plan string
}

// TokensOptions configure Tokens.
type TokensOptions struct {
	Signer *secret.Signer
	// Verification are older keyward public keys, still accepted.
	Verification []ed25519.PublicKey
	Issuers      map[string]OfflineIssuer
	MaxTTL       time.Duration
	Now          func() time.Time
}

// NewTokens builds the token service.
func NewTokens(o TokensOptions) *Tokens {
	t := &Tokens{signer: o.Signer, maxTTL: o.MaxTTL, now: o.Now, keys: map[string]ed25519.PublicKey{}, issuers: o.Issuers}
	if t.maxTTL <= 0 || t.maxTTL > MaxTokenTTL {
		t.maxTTL = MaxTokenTTL
	}
	if t.now == nil {
		t.now = time.Now
	}
	if o.Signer != nil {
		pub := o.Signer.Public().(ed25519.PublicKey)
		t.keys[secret.KeyID(pub)] = pub
	}
	for _, k := range o.Verification {
		t.keys[secret.KeyID(k)] = k
	}
	return t
}

// CanMint reports whether keyward has a signing key.
func (t *Tokens) CanMint() bool { return t.signer != nil }

// Enabled reports whether any browser token can be verified.
func (t *Tokens) Enabled() bool { return len(t.keys) > 0 || len(t.issuers) > 0 }

// MaxTTL is the configured lifetime bound.
func (t *Tokens) MaxTTL() time.Duration { return t.maxTTL }

// ErrNoSigner means keyward has no signing key configured.
var ErrNoSigner = errors.New("auth.browser_tokens.signing_key is not configured")

// MintOptions are a new token's claims, already narrowed by the caller to
// what the minting key may grant.
type MintOptions struct {
	User, Origin, Plan string
	Models             []string
	MaxOutputTokens    int
	TTL                time.Duration
	// MintedBy is the minting virtual key's id ("key_…"); required.
	MintedBy string
}

// Mint signs a token.
func (t *Tokens) Mint(o MintOptions) (string, time.Time, error) {
	if t.signer == nil {
		return "", time.Time{}, ErrNoSigner
	}
	if o.TTL <= 0 || o.TTL > t.maxTTL {
		return "", time.Time{}, fmt.Errorf("ttl must be from 1s to %s", t.maxTTL)
	}
	if o.MintedBy == "" {
		return "", time.Time{}, errors.New("a token needs the key that mints it")
	}
	now := t.now().Truncate(time.Second)
	exp := now.Add(o.TTL)
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	c := TokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: TokenIssuer, Subject: o.User, Audience: jwt.ClaimStrings{TokenAudience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
			ID: hex.EncodeToString(jti[:]),
		},
		Plan: o.Plan, Models: o.Models, Origin: o.Origin, MaxOutputTokens: o.MaxOutputTokens, MintedBy: o.MintedBy,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = t.signer.KeyID()
	s, err := tok.SignedString(t.signer)
	return s, exp, err
}

// Token verification failures (logged; the client sees one 401).
var (
	ErrTokenInvalid = errors.New("invalid browser token")
	ErrTokenTTL     = errors.New("browser token lives longer than allowed")
)

// IsBrowserToken reports whether a token's unverified issuer is keyward or
// a registered offline issuer, so it goes to Verify rather than to the
// app's JWT issuers.
func (t *Tokens) IsBrowserToken(token string) bool {
	var c jwt.RegisteredClaims
	if len(token) > maxTokenBytes {
		return false
	}
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil {
		return false
	}
	_, offline := t.issuers[c.Issuer]
	return c.Issuer == TokenIssuer || offline
}

const maxTokenBytes = 8 << 10

// Verify checks a browser token and returns its principal.
func (t *Tokens) Verify(token string) (Principal, error) {
	if len(token) > maxTokenBytes {
		return Principal{}, ErrTokenInvalid
	}
	var c TokenClaims
	keyfunc := func(tok *jwt.Token) (any, error) {
		iss, _ := tok.Claims.GetIssuer()
		if iss == TokenIssuer {
			kid, _ := tok.Header["kid"].(string)
			if k, ok := t.keys[kid]; ok {
				return k, nil
			}
			return nil, errors.New("unknown kid")
		}
		if is, ok := t.issuers[iss]; ok {
			return is.Key, nil
		}
		return nil, errors.New("unknown issuer")
	}
	_, err := jwt.ParseWithClaims(token, &c, keyfunc,
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience(TokenAudience), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithLeeway(5*time.Second), jwt.WithTimeFunc(t.now))
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	if c.IssuedAt == nil || c.ExpiresAt.Sub(c.IssuedAt.Time) > t.maxTTL || c.ExpiresAt.Sub(t.now()) > t.maxTTL+5*time.Second {
		return Principal{}, ErrTokenTTL
	}
	if c.Subject == "" || len(c.Subject) > 256 || c.Origin == "" {
		return Principal{}, fmt.Errorf("%w: sub and origin are required", ErrTokenInvalid)
	}
	plan, parent := c.Plan, ""
	if c.Issuer == TokenIssuer {
		// keyward's own tokens live within the key that minted them.
		if c.MintedBy == "" {
			return Principal{}, fmt.Errorf("%w: no minting key", ErrTokenInvalid)
		}
		parent = "key:" + c.MintedBy
	} else if is, ok := t.issuers[c.Issuer]; ok {
		// An offline issuer's tokens get its plan, never one they name.
		if plan != "" && plan != is.Plan {
			return Principal{}, fmt.Errorf("%w: plan %q is not the issuer's", ErrTokenInvalid, plan)
		}
		plan = is.Plan
	}
	p := Principal{Kind: KindBrowserToken, ID: "token:" + c.Issuer + "#" + c.ID, User: c.Subject, Plan: plan,
		Origin: c.Origin, MaxOutputTokens: max(c.MaxOutputTokens, 0), MintedBy: parent}
	for _, m := range slices.Compact(slices.Sorted(slices.Values(c.Models))) {
		p.Scopes = append(p.Scopes, "model:"+m)
	}
	return p, nil
}
