// Package admin is keyward's admin API: JSON under /admin/api/ for virtual
// keys and the audit log. It is off unless admin keys are configured, and
// only an admin key gets in — never a virtual key, a client key or a
// browser token.
package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
)

// Deps is what the admin API needs.
type Deps struct {
	Gateway  *gateway.Gateway
	Keys     *auth.Keys
	Audit    store.Audit
	Users    store.Users
	Failures *auth.FailureLimiter
	Logger   *slog.Logger
	// ClientIP names the caller for the failure limiter.
	ClientIP func(*http.Request) string
	// Usage answers usage reports; Budgets holds operators' spend caps
	// (nil: those routes answer 503).
	Usage   store.Usage
	Budgets store.Budgets
}

// New returns the handler for /admin/api/.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/api/keys", d.listKeys)
	mux.HandleFunc("POST /admin/api/keys", d.createKey)
	mux.HandleFunc("POST /admin/api/keys/{id}/revoke", d.revokeKey)
	mux.HandleFunc("POST /admin/api/keys/{id}/rotate", d.rotateKey)
	mux.HandleFunc("GET /admin/api/audit", d.audit)
	mux.HandleFunc("GET /admin/api/users", d.listUsers)
	mux.HandleFunc("GET /admin/api/users/{id}", d.getUser)
	mux.HandleFunc("PUT /admin/api/users/{id}", d.putUser)
	mux.HandleFunc("GET /admin/api/usage", d.usageReport)
	mux.HandleFunc("GET /admin/api/budgets", d.listBudgets)
	mux.HandleFunc("PUT /admin/api/budgets/{scope}/{subject}", d.putBudget)
	mux.HandleFunc("DELETE /admin/api/budgets/{scope}/{subject}", d.deleteBudget)
	mux.HandleFunc("/admin/api/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(r.URL.Path); allow != "" {
			w.Header().Set("Allow", allow)
			apierr.Write(w, apierr.OpenAI, apierr.MethodNotAllowed, "Use "+allow+" on this route.")
			return
		}
		apierr.Write(w, apierr.OpenAI, apierr.NotFound, "No such admin route.")
	})
	return d.authenticate(mux)
}

// Protect admits admin keys only to h (keyward's /metrics on the main
// listener).
func Protect(d Deps, h http.Handler) http.Handler { return d.authenticate(h) }

// allowed lists the methods of a known admin path ("" for an unknown one).
func allowed(path string) string {
	switch {
	case path == "/admin/api/keys":
		return "GET, POST"
	case path == "/admin/api/audit", path == "/admin/api/users", path == "/admin/api/usage", path == "/admin/api/budgets":
		return "GET"
	case strings.HasPrefix(path, "/admin/api/budgets/") && strings.Count(path, "/") == 5:
		return "PUT, DELETE"
	case strings.HasPrefix(path, "/admin/api/users/") && strings.Count(path, "/") == 4:
		return "GET, PUT"
	case strings.HasPrefix(path, "/admin/api/keys/") && (strings.HasSuffix(path, "/revoke") || strings.HasSuffix(path, "/rotate")) &&
		strings.Count(path, "/") == 5:
		return "POST"
	}
	return ""
}

type actorKey struct{}

// authenticate admits admin keys only, compared in constant time.
func (d Deps) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := d.Gateway.Current()
		if len(snap.AdminKeys) == 0 {
			apierr.Write(w, apierr.OpenAI, apierr.NotFound, "The admin API is off: configure auth.admin_keys.")
			return
		}
		ip := d.ClientIP(r)
		if blocked, _ := d.Failures.Blocked(ip); blocked {
			apierr.Write(w, apierr.OpenAI, apierr.RateLimited, "Too many failed authentications from this address; retry later.")
			return
		}
		match := secret.MatchIndex(snap.AdminKeys, auth.BearerToken(r))
		if match < 0 {
			d.Failures.Fail(ip)
			d.Logger.Info("admin authentication failed", "request_id", w.Header().Get(apierr.RequestIDHeader), "ip", ip)
			w.Header().Set("WWW-Authenticate", `Bearer realm="keyward-admin"`)
			apierr.Write(w, apierr.OpenAI, apierr.Unauthorized, "An admin key is required.")
			return
		}
		actor := "admin:" + string(snap.Config.Auth.AdminKeys[match])
		next.ServeHTTP(w, r.WithContext(contextWith(r, actor)))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func badRequest(w http.ResponseWriter, msg string) {
	apierr.Write(w, apierr.OpenAI, apierr.InvalidRequest, msg)
}

// decode reads a small JSON body strictly.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil || len(b) > 64<<10 {
		apierr.Write(w, apierr.OpenAI, apierr.PayloadTooLarge, "The body is too large or unreadable.")
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		badRequest(w, "Invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// KeyJSON is a key's record as the admin API and `keyward keys list --json`
// show it (never the key: it is not stored).
func KeyJSON(k store.Key) map[string]any {
	opt := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t
	}
	return map[string]any{"id": k.ID, "name": k.Name, "prefix": k.Prefix, "user": k.User, "plan": k.Plan, "scopes": k.Scopes,
		"test": k.Test, "created_at": k.CreatedAt, "expires_at": opt(k.ExpiresAt), "revoked_at": opt(k.RevokedAt),
		"last_used_at": opt(k.LastUsedAt), "rotated_from": k.RotatedFrom}
}

func (d Deps) keysOff(w http.ResponseWriter) bool {
	if d.Keys == nil || !d.Keys.Enabled() {
		apierr.Write(w, apierr.OpenAI, apierr.Unavailable, "Virtual keys are off: configure auth.pepper.")
		return true
	}
	return false
}

func (d Deps) listKeys(w http.ResponseWriter, r *http.Request) {
	if d.keysOff(w) {
		return
	}
	ks, err := d.Keys.List(r.Context(), store.KeyFilter{User: r.URL.Query().Get("user"), IncludeRevoked: r.URL.Query().Get("all") == "true"})
	if err != nil {
		d.internal(w, err)
		return
	}
	out := make([]map[string]any, 0, len(ks))
	for _, k := range ks {
		out = append(out, KeyJSON(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

type createReq struct {
	Name    string   `json:"name"`
	Plan    string   `json:"plan"`
	User    string   `json:"user"`
	Scopes  []string `json:"scopes"`
	Expires string   `json:"expires"` // a Go duration, e.g. "720h"
	Test    bool     `json:"test"`
}

func (d Deps) createKey(w http.ResponseWriter, r *http.Request) {
	if d.keysOff(w) {
		return
	}
	var req createReq
	if !decode(w, r, &req) {
		return
	}
	if req.Name == "" {
		badRequest(w, "\"name\" is required.")
		return
	}
	cfg := d.Gateway.Current().Config
	if err := auth.CheckGrant(cfg, req.Plan, req.Scopes); err != nil {
		badRequest(w, err.Error())
		return
	}
	var ttl time.Duration
	if req.Expires != "" {
		var err error
		if ttl, err = time.ParseDuration(req.Expires); err != nil || ttl < 0 {
			badRequest(w, "\"expires\" must be a duration such as 720h.")
			return
		}
	}
	rec, plain, err := d.Keys.Create(r.Context(), auth.CreateOptions{Name: req.Name, Plan: req.Plan, User: req.User, Scopes: req.Scopes, TTL: ttl, Test: req.Test, Actor: actorOf(r)})
	if err != nil {
		d.internal(w, err)
		return
	}
	out := KeyJSON(rec)
	out["key"] = plain // the only time it is shown
	writeJSON(w, http.StatusCreated, out)
}

func (d Deps) revokeKey(w http.ResponseWriter, r *http.Request) {
	if d.keysOff(w) {
		return
	}
	id := r.PathValue("id")
	if err := d.Keys.Revoke(r.Context(), id, actorOf(r)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			apierr.Write(w, apierr.OpenAI, apierr.NotFound, "No such key.")
			return
		}
		d.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "revoked": true})
}

func (d Deps) rotateKey(w http.ResponseWriter, r *http.Request) {
	if d.keysOff(w) {
		return
	}
	var req struct {
		Grace string `json:"grace"`
	}
	if !decode(w, r, &req) {
		return
	}
	grace := 24 * time.Hour
	if req.Grace != "" {
		var err error
		if grace, err = time.ParseDuration(req.Grace); err != nil || grace < 0 {
			badRequest(w, "\"grace\" must be a duration such as 24h.")
			return
		}
	}
	rec, plain, err := d.Keys.Rotate(r.Context(), r.PathValue("id"), grace, actorOf(r))
	switch {
	case errors.Is(err, store.ErrNotFound):
		apierr.Write(w, apierr.OpenAI, apierr.NotFound, "No such key.")
		return
	case err != nil && errors.Is(err, auth.ErrNoPepper):
		d.internal(w, err)
		return
	case err != nil:
		badRequest(w, err.Error())
		return
	}
	out := KeyJSON(rec)
	out["key"] = plain
	writeJSON(w, http.StatusCreated, out)
}

func (d Deps) audit(w http.ResponseWriter, r *http.Request) {
	if d.Audit == nil {
		apierr.Write(w, apierr.OpenAI, apierr.Unavailable, "No store is configured.")
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit < 0 || limit > 1000 {
		badRequest(w, "\"limit\" must be from 0 to 1000.")
		return
	}
	evs, err := d.Audit.Events(r.Context(), store.EventFilter{Kind: r.URL.Query().Get("kind"), Limit: limit})
	if err != nil {
		d.internal(w, err)
		return
	}
	out := make([]map[string]any, 0, len(evs))
	for _, e := range evs {
		out = append(out, map[string]any{"id": e.ID, "at": e.At, "kind": e.Kind, "actor": e.Actor, "subject": e.Subject, "detail": e.Detail})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (d Deps) internal(w http.ResponseWriter, err error) {
	d.Logger.Error("admin request failed", "request_id", w.Header().Get(apierr.RequestIDHeader), "err", err)
	apierr.Write(w, apierr.OpenAI, apierr.Internal, fmt.Sprintf("The request failed (see the log, request %s).", w.Header().Get(apierr.RequestIDHeader)))
}

func userJSON(u store.User) map[string]any {
	return map[string]any{"id": u.ID, "plan": u.Plan, "disabled": u.Disabled, "created_at": u.CreatedAt, "updated_at": u.UpdatedAt}
}

func (d Deps) usersOff(w http.ResponseWriter) bool {
	if d.Users == nil {
		apierr.Write(w, apierr.OpenAI, apierr.Unavailable, "No store is configured (auth.pepper).")
		return true
	}
	return false
}

func (d Deps) listUsers(w http.ResponseWriter, r *http.Request) {
	if d.usersOff(w) {
		return
	}
	us, err := d.Users.ListUsers(r.Context())
	if err != nil {
		d.internal(w, err)
		return
	}
	out := make([]map[string]any, 0, len(us))
	for _, u := range us {
		out = append(out, userJSON(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (d Deps) getUser(w http.ResponseWriter, r *http.Request) {
	if d.usersOff(w) {
		return
	}
	u, err := d.Users.User(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		apierr.Write(w, apierr.OpenAI, apierr.NotFound, "No such user.")
		return
	}
	if err != nil {
		d.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, userJSON(u))
}

// putUser assigns a user's plan (which overrides a JWT's plan claim) and
// disables or enables the user (every credential of a disabled user is
// refused).
func (d Deps) putUser(w http.ResponseWriter, r *http.Request) {
	if d.usersOff(w) {
		return
	}
	var req struct {
		Plan     string `json:"plan"`
		Disabled bool   `json:"disabled"`
	}
	if !decode(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	if id == "" || len(id) > 256 {
		badRequest(w, "A user id is 1 to 256 characters.")
		return
	}
	if req.Plan != "" {
		cfg := d.Gateway.Current().Config
		if _, ok := cfg.Plan(req.Plan); !ok {
			badRequest(w, fmt.Sprintf("No plan %q is configured.", req.Plan))
			return
		}
	}
	if err := d.Users.PutUser(r.Context(), store.User{ID: id, Plan: req.Plan, Disabled: req.Disabled}); err != nil {
		d.internal(w, err)
		return
	}
	d.auditEvent(r, "user.updated", id, fmt.Sprintf("plan=%q disabled=%v", req.Plan, req.Disabled))
	u, err := d.Users.User(r.Context(), id)
	if err != nil {
		d.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, userJSON(u))
}
