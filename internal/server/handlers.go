package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/proxy"
	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/vkey"
)

// reqInfo is what the access log and the metrics report about a request:
// the context carries it and nothing else. What a request's handlers need
// flows to them as values (caller, call).
type reqInfo struct {
	// principal is the caller's loggable id ("key:…", "token:…").
	principal string
	model     string
	code      apierr.Code
	detail    string
	proxy     proxy.Info
	// bodyRead is set once the request body has been read to its end.
	bodyRead bool
	// snap is the configuration this request runs on, from start to end,
	// whatever reloads happen meanwhile.
	snap      *live.Snapshot
	start     time.Time
	requestID string
	// route is the API route's name ("" for other paths); rawModel the
	// model as requested (a metrics label only when configured).
	route    string
	rawModel string
	// usage and cost are what a forwarded request used.
	usage provider.Tokens
	cost  int64
}

type infoKey struct{}

func withInfo(ctx context.Context, i *reqInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, i)
}

// infoOf returns the request's info; every request passes withAccessLog,
// which sets it.
func infoOf(ctx context.Context) *reqInfo {
	return ctx.Value(infoKey{}).(*reqInfo)
}

// fail writes a client error and notes it for the access log; detail goes
// to the log only.
func fail(w http.ResponseWriter, r *http.Request, code apierr.Code, msg, detail string) {
	i := infoOf(r.Context())
	i.code, i.detail = code, detail
	if r.ContentLength != 0 && !i.bodyRead {
		// Answer at once and drop the connection rather than let net/http
		// wait to drain a body that may never come (a stalled client).
		w.Header().Set("Connection", "close")
	}
	apierr.Write(w, familyOf(r), code, msg)
}

// allow answers 405 (with Allow) for any other method. HEAD is served as GET.
func allow(method string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == method || method == http.MethodGet && r.Method == http.MethodHead {
			if method == http.MethodGet && r.ContentLength != 0 {
				w.Header().Set("Connection", "close") // never wait to drain an unused body
			}
			next.ServeHTTP(w, r)
			return
		}
		allowed := method
		if method == http.MethodGet {
			allowed = "GET, HEAD"
		}
		w.Header().Set("Allow", allowed)
		fail(w, r, apierr.MethodNotAllowed, fmt.Sprintf("Use %s on this route.", method), r.Method)
	})
}

// notFound answers every path without a route. A path that is an API
// route without its /v1 — an SDK whose base URL lacks it — is told the
// right path. The message holds only keyward's own route names and a
// standard method, never what the client sent beyond them.
func notFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, exact := routeWithoutV1(r.URL.Path)
		if route == "" {
			fail(w, r, apierr.NotFound, "", "")
			return
		}
		asked := "at this path"
		if exact {
			asked = route
			if m := standardMethod(r.Method); m != "" {
				asked = m + " " + route
			}
		}
		fail(w, r, apierr.NotFound, fmt.Sprintf("No route %s; did you mean /v1%s? Set your SDK's base URL to keyward's address followed by /v1 (http://HOST:PORT/v1).",
			asked, route), "path without /v1")
	})
}

// apiRoutes are the API's paths after /v1, longest first so that
// /messages/count_tokens wins over /messages.
var apiRoutes = []string{"/messages/count_tokens", "/chat/completions", "/embeddings", "/responses", "/messages", "/models", "/tokens"}

// routeWithoutV1 finds the API route a path meant: exact when the path is
// the route itself (/chat/completions), else when the path ends in it
// after some other prefix (/api/chat/completions, /v1/v1/…, a trailing
// slash). It returns "" for anything else.
func routeWithoutV1(path string) (route string, exact bool) {
	p := strings.TrimSuffix(path, "/")
	for _, rt := range apiRoutes {
		if p == rt {
			return rt, true
		}
	}
	for _, rt := range apiRoutes {
		if strings.HasSuffix(p, rt) {
			return rt, false
		}
	}
	return "", false
}

// standardMethod returns m when it is a standard HTTP method, else "".
func standardMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return ""
}

// credential returns what the client presented: a bearer token or an
// x-api-key (the Anthropic SDK's header).
func credential(r *http.Request) string {
	if r.Header.Get("Authorization") != "" {
		return auth.BearerToken(r)
	}
	return r.Header.Get("X-Api-Key")
}

// caller is who an authenticated request comes from, as authenticate hands
// it to the handler after it: the principal, what its plan grants, and its
// address (trusted proxies resolved).
type caller struct {
	who   auth.Principal
	grant policy.Grant
	ip    string
}

// authed is a handler of authenticated requests.
type authed func(w http.ResponseWriter, r *http.Request, c caller)

// authenticate admits a request that presents a configured client key. It
// runs before anything of the body is read. Every configured key is
// compared, in constant time, whatever matched first.
//
// An address over its failed-authentication limit is throttled on its
// failing attempts only: the credential is checked in full as always, a
// valid one is served, a failing one gets 429 instead of 401 (see
// auth.FailureLimiter for why this tells a guesser nothing new).
func (d Deps) authenticate(next authed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := infoOf(r.Context()).snap
		info := infoOf(r.Context())
		ip := clientIP(r)
		p, reason, err := d.principal(r, snap)
		if err != nil {
			d.Logger.Error("authentication failed on a store error", "request_id", w.Header().Get(apierr.RequestIDHeader), "err", err)
			fail(w, r, apierr.Unavailable, "", "store error")
			return
		}
		if reason != "" {
			d.refuseCredential(w, r, ip, reason)
			return
		}
		var m policy.Minter
		if p.MintedBy != "" {
			// A browser token lives only while the key that minted it does,
			// and only ever narrows what that key may do.
			var reason string
			m, reason, err = d.minter(r.Context(), snap, p.MintedBy)
			switch {
			case err != nil:
				d.Logger.Error("minting key lookup failed", "request_id", w.Header().Get(apierr.RequestIDHeader), "err", err)
				fail(w, r, apierr.Unavailable, "", "store error")
				return
			case reason != "":
				d.refuseCredential(w, r, ip, reason)
				return
			}
			// A key owned by a user (a tenant) names its tokens' users
			// within its own namespace, so it cannot spend or limit
			// another tenant's users.
			if owner := m.Principal.User; owner != "" {
				p.User = owner + "/" + p.User
			}
		}
		p, err = d.Users.Apply(r.Context(), p)
		switch {
		case errors.Is(err, auth.ErrUserDisabled):
			fail(w, r, apierr.Forbidden, "This user is disabled.", p.User)
			return
		case err != nil:
			d.Logger.Error("user lookup failed", "request_id", w.Header().Get(apierr.RequestIDHeader), "err", err)
			fail(w, r, apierr.Unavailable, "", "store error")
			return
		}
		if p.Kind == auth.KindBrowserToken {
			// CSRF: a browser-authenticated state change must come from a
			// trusted origin (Origin / Sec-Fetch-Site).
			if err := csrf(snap).Check(r); err != nil {
				fail(w, r, apierr.OriginNotAllowed, "Cross-origin request refused.", err.Error())
				return
			}
		}
		info.principal = p.ID
		g, ok := policy.GrantFor(&snap.Config, p)
		if !ok {
			fail(w, r, apierr.Forbidden, "This credential's plan is not configured.", "plan "+p.Plan)
			return
		}
		if p.MintedBy != "" {
			g = g.Narrow(m)
		}
		if named, ok := r.Header[auth.UserHeader]; ok {
			// The app server names its end user: from here on the request
			// is that user's, within the key's rights.
			if p, g, ok = d.assertUser(w, r, snap, p, g, named); !ok {
				return
			}
		}
		next(w, r, caller{who: p, grant: g, ip: ip})
	})
}

// assertUser makes a request sent with a users:assert key its end user's:
// the user's plan (the one assigned to it, else auth.asserted_users.plan,
// else the key's), limits, spend caps and usage apply, and so does its
// being disabled — all within the key's own (the key is the request's
// Minter, as for a browser token: its limits and caps count too). A key
// owned by a user names users in its owner's namespace. Anyone else naming
// a user is refused, never ignored. ok is false when the answer was sent.
func (d Deps) assertUser(w http.ResponseWriter, r *http.Request, snap *live.Snapshot, key auth.Principal, kg policy.Grant, named []string) (auth.Principal, policy.Grant, bool) {
	if key.Kind != auth.KindVirtualKey || !auth.HasScope(key.Scopes, auth.ScopeAssertUsers) {
		fail(w, r, apierr.Forbidden, "Only a virtual key with the users:assert scope may name a user ("+auth.UserHeader+").", string(key.Kind))
		return key, kg, false
	}
	if len(named) != 1 || !auth.ValidUserID(named[0]) {
		fail(w, r, apierr.InvalidRequest, auth.UserHeader+" must be one user id: 1 to 128 letters, digits or . _ @ : + | = -, starting with a letter or digit.", "")
		return key, kg, false
	}
	if looksLikeKey(snap, named[0]) {
		fail(w, r, apierr.InvalidRequest, "The user id looks like a key; name users by their id in your app, never by a credential.", "")
		return key, kg, false
	}
	p, g, err := d.userOf(r.Context(), snap, key, kg, named[0])
	switch {
	case errors.Is(err, errTenantID):
		fail(w, r, apierr.Forbidden, "This user id is a tenant's (it owns keys): a key without an owner may not name it. Give the app server's key an owner, and its users live in that owner's namespace.", "")
	case errors.Is(err, auth.ErrUserDisabled):
		fail(w, r, apierr.Forbidden, "This user is disabled.", p.User)
	case errors.Is(err, errNoPlan):
		fail(w, r, apierr.Forbidden, "This user's plan is not configured.", "plan "+p.Plan)
	case err != nil:
		d.Logger.Error("user lookup failed", "request_id", w.Header().Get(apierr.RequestIDHeader), "err", err)
		fail(w, r, apierr.Unavailable, "", "store error")
	default:
		infoOf(r.Context()).principal = p.ID
		return p, g, true
	}
	return key, kg, false
}

// errNoPlan is a principal whose plan the configuration does not have;
// errTenantID an end user named with a tenant's id by a key of no tenant.
var (
	errNoPlan   = errors.New("plan not configured")
	errTenantID = errors.New("user id owns keys")
)

// looksLikeKey reports a user id that is, holds or looks like a credential:
// it would be stored in usage records and shown again by the usage API.
func looksLikeKey(snap *live.Snapshot, id string) bool {
	return snap.Scrub.Contains([]byte(id)) || vkey.Valid(id) || redact.ScrubPatterns(id) != id
}

// userOf is the principal and grant of the user id named by a users:assert
// key (see assertUser); err is auth.ErrUserDisabled, errNoPlan or a store
// failure.
func (d Deps) userOf(ctx context.Context, snap *live.Snapshot, key auth.Principal, kg policy.Grant, id string) (auth.Principal, policy.Grant, error) {
	user := id
	if key.User != "" {
		user = key.User + "/" + id
	} else if d.Keys != nil {
		// A tenant's id is not an end user's: the key would reach the
		// tenant's plan, budgets and limits.
		owns, err := d.Keys.Owns(ctx, id)
		if err != nil {
			return auth.Principal{User: id}, policy.Grant{}, err
		}
		if owns {
			return auth.Principal{User: id}, policy.Grant{}, errTenantID
		}
	}
	plan := snap.Config.Auth.AssertedUsers.Plan
	if plan == "" {
		plan = key.Plan
	}
	p := auth.Principal{Kind: auth.KindAssertedUser, ID: key.ID, User: user, Plan: plan, MintedBy: key.ID}
	p, err := d.Users.Apply(ctx, p)
	if err != nil {
		return p, policy.Grant{}, err
	}
	g, ok := policy.GrantFor(&snap.Config, p)
	if !ok {
		return p, policy.Grant{}, errNoPlan
	}
	return p, g.Narrow(policy.Minter{Principal: key, Grant: kg}), nil
}

// refuseCredential answers a credential that failed: 401, or 429 once the
// address has failed too often (a valid credential from it still works).
func (d Deps) refuseCredential(w http.ResponseWriter, r *http.Request, ip, reason string) {
	if throttled, until := d.Failures.Failed(ip); throttled {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(time.Until(until).Seconds()+0.999))))
		fail(w, r, apierr.RateLimited, "Too many failed authentications from this address; retry later.", "auth failures: "+reason)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="keyward"`)
	fail(w, r, apierr.Unauthorized, "", reason)
}

// minter resolves the virtual key that minted a browser token, as it is
// now: refused (reason) when it was revoked, expired or deleted, its user
// disabled, its plan gone, or it may no longer mint; err is a store
// failure.
func (d Deps) minter(ctx context.Context, snap *live.Snapshot, id string) (m policy.Minter, reason string, err error) {
	if d.Keys == nil {
		return m, "browser token minted by an unknown key", nil
	}
	rec, err := d.Keys.Active(ctx, strings.TrimPrefix(id, "key:"))
	switch {
	case errors.Is(err, auth.ErrUnknown), errors.Is(err, auth.ErrRevoked), errors.Is(err, auth.ErrExpired):
		return m, "browser token's minting key: " + err.Error(), nil
	case err != nil:
		return m, "", err
	}
	if !auth.HasScope(rec.Scopes, auth.ScopeMint) {
		return m, "browser token's minting key may no longer mint", nil
	}
	kp := auth.Principal{Kind: auth.KindVirtualKey, ID: "key:" + rec.ID, User: rec.User, Plan: rec.Plan, Scopes: rec.Scopes}
	kp, err = d.Users.Apply(ctx, kp)
	switch {
	case errors.Is(err, auth.ErrUserDisabled):
		return m, "browser token's minting key belongs to a disabled user", nil
	case err != nil:
		return m, "", err
	}
	kg, ok := policy.GrantFor(&snap.Config, kp)
	if !ok {
		return m, "browser token's minting key has a plan that is not configured", nil
	}
	return policy.Minter{Principal: kp, Grant: kg}, "", nil
}

// principal identifies the caller: a virtual key (by shape), else a static
// client key, else anonymous when allowed. reason says why it was refused
// (for the log); err is a store failure.
func (d Deps) principal(r *http.Request, snap *live.Snapshot) (p auth.Principal, reason string, err error) {
	if len(snap.ClientKeys) == 0 && snap.Pepper.IsZero() && d.InsecureNoAuth {
		return auth.Principal{Kind: auth.KindAnonymous, ID: "anonymous"}, "", nil
	}
	cred := credential(r)
	if cred == "" {
		return p, "no credential", nil
	}
	if snap.Tokens.Enabled() && snap.Tokens.IsBrowserToken(cred) {
		p, err := snap.Tokens.Verify(cred)
		if err != nil {
			return p, err.Error(), nil
		}
		// Bound to one page: the browser's Origin must be the token's.
		if r.Header.Get("Origin") != p.Origin {
			return auth.Principal{}, "browser token used from another origin", nil
		}
		return p, "", nil
	}
	if d.JWT != nil && auth.LooksLikeJWT(cred) {
		p, err := d.JWT.Verify(r.Context(), cred)
		if err != nil {
			return auth.Principal{}, err.Error(), nil
		}
		return p, "", nil
	}
	if vkey.Valid(cred) && d.Keys != nil {
		rec, err := d.Keys.Authenticate(r.Context(), cred)
		switch {
		case errors.Is(err, auth.ErrUnknown), errors.Is(err, auth.ErrRevoked), errors.Is(err, auth.ErrExpired):
			return p, err.Error(), nil
		case err != nil:
			return p, "", err
		}
		return auth.Principal{Kind: auth.KindVirtualKey, ID: "key:" + rec.ID, User: rec.User, Plan: rec.Plan, Scopes: rec.Scopes}, "", nil
	}
	match := secret.MatchIndex(snap.ClientKeys, cred)
	if match < 0 {
		return p, "unknown key", nil
	}
	return auth.Principal{Kind: auth.KindClientKey, ID: "client:" + string(snap.Config.Clients.Keys[match])}, "", nil
}

// clientIP is the connection's address — unless that is a configured
// trusted proxy, in which case X-Forwarded-For is read from the right, and
// the first address that is not a trusted proxy is the client. (Anyone can
// send X-Forwarded-For; only the entries trusted proxies appended count.)
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	info, _ := r.Context().Value(infoKey{}).(*reqInfo)
	if info == nil || len(info.snap.TrustedProxies) == 0 {
		return host
	}
	trusted := func(s string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range info.snap.TrustedProxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		if !trusted(h) {
			if a, err := netip.ParseAddr(h); err == nil {
				return a.Unmap().String()
			}
			return host // garbage where an address should be: trust nothing
		}
	}
	return host
}

// safeName bounds and scrubs a client-sent name before it is echoed.
func safeName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return redact.ScrubPatterns(s)
}

// readBody reads at most limit bytes within the read timeout. It answers
// the error itself and reports false when the body cannot be used.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration) ([]byte, bool) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		fail(w, r, apierr.InvalidRequest, "The request body could not be read completely.", err.Error())
		return nil, false
	}
	if int64(len(body)) > limit {
		fail(w, r, apierr.PayloadTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", limit), "")
		return nil, false
	}
	infoOf(r.Context()).bodyRead = true
	return body, true
}

// models lists the configured model names, in OpenAI's shape, or in
// Anthropic's when the client sends anthropic-version (the Anthropic SDK).
func (d Deps) models() authed {
	return func(w http.ResponseWriter, r *http.Request, c caller) {
		snap := infoOf(r.Context()).snap
		if !c.grant.AllowsRoute("models") {
			fail(w, r, apierr.ForbiddenRoute, "This credential may not list models.", "")
			return
		}
		var names []string
		for _, n := range snap.ModelNames {
			if c.grant.AllowsModel(n) {
				names = append(names, n)
			}
		}
		var v any
		if r.Header.Get("Anthropic-Version") != "" {
			type model struct {
				Type        string `json:"type"`
				ID          string `json:"id"`
				DisplayName string `json:"display_name"`
				CreatedAt   string `json:"created_at"`
			}
			data := make([]model, 0, len(names))
			for _, n := range names {
				data = append(data, model{"model", n, n, "2026-01-01T00:00:00Z"})
			}
			var first, last *string
			if len(data) > 0 {
				first, last = &data[0].ID, &data[len(data)-1].ID
			}
			v = map[string]any{"data": data, "has_more": false, "first_id": first, "last_id": last}
		} else {
			type model struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				Created int64  `json:"created"`
				OwnedBy string `json:"owned_by"`
			}
			data := make([]model, 0, len(names))
			for _, n := range names {
				data = append(data, model{n, "model", 0, "keyward"})
			}
			v = map[string]any{"object": "list", "data": data}
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func (d Deps) readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.Draining.Load() {
			fail(w, r, apierr.ShuttingDown, "", "")
			return
		}
		if d.Degraded != nil {
			// Still serving, but not as configured: say why (fixed words,
			// never an error's text). A load balancer keeps the replica.
			if why := d.Degraded(r.Context()); len(why) > 0 {
				writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "reasons": why, "generation": infoOf(r.Context()).snap.Generation})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "generation": infoOf(r.Context()).snap.Generation})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
