package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/policy"
)

// csrf returns the cross-origin protection for a snapshot: its CORS
// origins are the trusted ones.
func csrf(snap *live.Snapshot) *http.CrossOriginProtection {
	csrfMu.Lock()
	defer csrfMu.Unlock()
	if c, ok := csrfBySnap[snap]; ok {
		return c
	}
	c := http.NewCrossOriginProtection()
	for _, o := range snap.Config.CORS.AllowedOrigins {
		_ = c.AddTrustedOrigin(o) // validated by config
	}
	clear(csrfBySnap) // one snapshot is live at a time; drop older ones
	csrfBySnap[snap] = c
	return c
}

var (
	csrfMu     sync.Mutex
	csrfBySnap = map[*live.Snapshot]*http.CrossOriginProtection{}
)

// mintRequest is the body of POST /v1/tokens.
type mintRequest struct {
	User            string   `json:"user"`
	TTLSeconds      int      `json:"ttl_seconds"`
	Origin          string   `json:"origin"`
	Models          []string `json:"models"`
	Plan            string   `json:"plan"`
	MaxOutputTokens int      `json:"max_output_tokens"`
}

// mintToken is POST /v1/tokens: an app server holding a virtual key with
// the tokens:mint scope gets a short-lived token for one user and one
// origin, that can only narrow the key's own rights.
func (d Deps) mintToken() authed {
	return func(w http.ResponseWriter, r *http.Request, c caller) {
		snap := infoOf(r.Context()).snap
		p := c.who
		if p.Kind != auth.KindVirtualKey || !auth.HasScope(p.Scopes, auth.ScopeMint) {
			fail(w, r, apierr.Forbidden, "Browser tokens are minted with a virtual key that has the tokens:mint scope.", string(p.Kind))
			return
		}
		if !snap.Tokens.CanMint() {
			fail(w, r, apierr.Unavailable, "Token minting is not configured (auth.browser_tokens.signing_key).", "")
			return
		}
		body, ok := readBody(w, r, 16<<10, snap.Config.Timeouts.ReadBody)
		if !ok {
			return
		}
		var req mintRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(w, r, apierr.InvalidRequest, "The body must be {user, ttl_seconds, origin, models?, plan?, max_output_tokens?}: "+safeName(err.Error()), "")
			return
		}
		maxTTL := int(snap.Tokens.MaxTTL() / time.Second)
		switch {
		case req.User == "" || len(req.User) > 256:
			fail(w, r, apierr.InvalidRequest, "\"user\" is required (at most 256 characters).", "")
			return
		case looksLikeKey(snap, req.User):
			// It would be stored in usage records and shown again.
			fail(w, r, apierr.InvalidRequest, "\"user\" looks like a key; name users by their id in your app, never by a credential.", "")
			return
		case req.TTLSeconds < 1 || req.TTLSeconds > maxTTL:
			fail(w, r, apierr.InvalidRequest, fmt.Sprintf("\"ttl_seconds\" must be from 1 to %d.", maxTTL), "")
			return
		case !config.ValidOrigin(req.Origin) || strings.HasSuffix(req.Origin, "/"):
			fail(w, r, apierr.InvalidRequest, "\"origin\" must be an origin such as https://app.example.com.", "")
			return
		case len(snap.Config.CORS.AllowedOrigins) == 0:
			// A token no page may use: say so now, not as a CORS error in
			// the browser later.
			fail(w, r, apierr.OriginNotAllowed, "Browser access is off: cors.allowed_origins is empty, so no page could use this token. Add the app's origin to cors.allowed_origins.", "")
			return
		case !slices.Contains(snap.Config.CORS.AllowedOrigins, req.Origin):
			fail(w, r, apierr.OriginNotAllowed, "\"origin\" is not in cors.allowed_origins.", "")
			return
		case req.MaxOutputTokens < 0:
			fail(w, r, apierr.InvalidRequest, "\"max_output_tokens\" must not be negative.", "")
			return
		}

		// The token's rights: the minting key's grant, narrowed by the plan
		// asked for, the models asked for and the output cap asked for.
		keyGrant := c.grant
		plan := req.Plan
		if plan == "" && keyGrant.Plan != nil {
			plan = keyGrant.Plan.Name
		}
		tokGrant, ok := policy.GrantFor(&snap.Config, auth.Principal{Plan: plan})
		if !ok {
			fail(w, r, apierr.Forbidden, fmt.Sprintf("No plan %q is configured.", safeName(plan)), "")
			return
		}
		if why := policy.PlanWithin(tokGrant.Plan, keyGrant.Plan); why != "" {
			fail(w, r, apierr.Forbidden, fmt.Sprintf("The plan %q is wider than this key's plan: %s. A token only ever narrows the key that mints it.", safeName(plan), why), "")
			return
		}
		for _, route := range config.RouteNames {
			if tokGrant.AllowsRoute(route) && !keyGrant.AllowsRoute(route) {
				fail(w, r, apierr.Forbidden, fmt.Sprintf("The plan %q allows routes this key may not use.", safeName(plan)), route)
				return
			}
		}
		models := req.Models
		if len(models) == 0 {
			for _, m := range snap.ModelNames {
				if keyGrant.AllowsModel(m) && tokGrant.AllowsModel(m) {
					models = append(models, m)
				}
			}
		}
		for _, m := range models {
			if !keyGrant.AllowsModel(m) || !tokGrant.AllowsModel(m) {
				fail(w, r, apierr.ForbiddenModel, fmt.Sprintf("The token may not grant the model %q.", safeName(m)), "")
				return
			}
		}
		if len(models) == 0 {
			fail(w, r, apierr.ForbiddenModel, "The token would grant no model.", "")
			return
		}
		global := snap.Config.Limits.MaxOutputTokens
		maxOut := min(keyGrant.MaxOutputTokens(global), tokGrant.MaxOutputTokens(global))
		if req.MaxOutputTokens > 0 {
			maxOut = min(maxOut, req.MaxOutputTokens)
		}
		tok, exp, err := snap.Tokens.Mint(auth.MintOptions{User: req.User, Origin: req.Origin, Plan: plan, Models: models,
			MaxOutputTokens: maxOut, TTL: time.Duration(req.TTLSeconds) * time.Second, MintedBy: strings.TrimPrefix(p.ID, "key:")})
		if err != nil {
			fail(w, r, apierr.Internal, "", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_at": exp.UTC().Format(time.RFC3339), "models": models, "max_output_tokens": maxOut})
	}
}
