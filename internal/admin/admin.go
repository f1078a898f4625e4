// Package admin is keyward's admin API: JSON under /admin/api/ for virtual
// keys, users, budgets, usage and the audit log. It is the edge of the
// operator services: it decodes and checks what a client sent, calls the
// service, and maps the service's errors to apierr codes in one place
// (fail), so no store or internal error text reaches a client. It is off
// unless admin keys are configured, and only an admin key gets in — never a
// virtual key, a client key or a browser token.
package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/operator"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
)

// Deps is what the admin API needs.
type Deps struct {
	Live     *live.Runtime
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

	// users and budgets are the services over Users and Budgets, shared
	// with the CLI; New builds them.
	users   *operator.Users
	budgets *operator.Budgets
}

// New returns the handler for /admin/api/.
func New(d Deps) http.Handler {
	if d.Users != nil {
		d.users = operator.NewUsers(operator.UsersOptions{Store: d.Users, Audit: d.Audit, Logger: d.Logger,
			Config: func() *config.Config { return &d.Live.Current().Config }, Secrets: d.secrets})
	}
	if d.Budgets != nil {
		d.budgets = operator.NewBudgets(operator.BudgetsOptions{Store: d.Budgets, Audit: d.Audit, Logger: d.Logger, Secrets: d.secrets})
	}
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

// authenticate admits admin keys only, compared in constant time. An
// address over its failed-authentication limit gets 429 for a key that
// fails and is served with one that is valid: the key is compared in full
// either way, so the throttle answers nothing a failure would not (see
// auth.FailureLimiter), and an attacker sharing the operator's address
// cannot lock the operator out.
func (d Deps) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := d.Live.Current()
		if len(snap.AdminKeys) == 0 {
			apierr.Write(w, apierr.OpenAI, apierr.NotFound, "The admin API is off: configure auth.admin_keys.")
			return
		}
		ip := d.ClientIP(r)
		match := secret.MatchIndex(snap.AdminKeys, auth.BearerToken(r))
		if match < 0 {
			throttled, until := d.Failures.Failed(ip)
			d.Logger.Info("admin authentication failed", "request_id", w.Header().Get(apierr.RequestIDHeader), "ip", ip, "throttled", throttled)
			if throttled {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int(time.Until(until).Seconds()+0.999))))
				apierr.Write(w, apierr.OpenAI, apierr.RateLimited, "Too many failed authentications from this address; retry later.")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="keyward-admin"`)
			apierr.Write(w, apierr.OpenAI, apierr.Unauthorized, "An admin key is required.")
			return
		}
		actor := "admin:" + string(snap.Config.Auth.AdminKeys[match])
		next.ServeHTTP(w, r.WithContext(contextWith(r, actor)))
	})
}

// secrets reports whether s holds a secret the running configuration
// loaded (its values follow reloads).
func (d Deps) secrets(s string) bool { return d.Live.Current().Scrub.Contains([]byte(s)) }

// scrub removes loaded secrets from a stored value before it is shown:
// records written before inputs were checked may hold one.
func (d Deps) scrub(s string) string { return d.Live.Current().Scrub.String(s) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// badRequest answers 400 with msg, which must be client-safe: fixed text,
// configured names, an operator.InputError — never err.Error() of
// anything else.
func badRequest(w http.ResponseWriter, msg string) {
	apierr.Write(w, apierr.OpenAI, apierr.InvalidRequest, msg)
}

// fail answers a domain error with the client-safe code it maps to; what
// is the noun of a missing record ("key", "user", "budget"). This is the
// one place errors become answers: an operator.InputError's text is made
// to be shown, every other error is named by its code only, and what the
// code does not cover is logged and answered as internal.
func (d Deps) fail(w http.ResponseWriter, err error, what string) {
	var in *operator.InputError
	switch {
	case errors.As(err, &in):
		badRequest(w, in.Error()+".")
	case errors.Is(err, store.ErrNotFound):
		apierr.Write(w, apierr.OpenAI, apierr.NotFound, "No such "+what+".")
	case errors.Is(err, auth.ErrKeyInactive):
		badRequest(w, "The key is revoked or expired.")
	case errors.Is(err, auth.ErrNoPepper):
		apierr.Write(w, apierr.OpenAI, apierr.Unavailable, "Virtual keys are off: configure auth.pepper.")
	default:
		d.internal(w, err)
	}
}

func (d Deps) internal(w http.ResponseWriter, err error) {
	d.Logger.Error("admin request failed", "request_id", w.Header().Get(apierr.RequestIDHeader), "err", err)
	apierr.Write(w, apierr.OpenAI, apierr.Internal, fmt.Sprintf("The request failed (see the log, request %s).", w.Header().Get(apierr.RequestIDHeader)))
}

// maxBody bounds an admin request body.
const maxBody = 64 << 10

// decode reads a small JSON body into v (a pointer to a struct) with
// DecodeStrict, answering the error itself. An empty body is {}.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(b) > maxBody {
		apierr.Write(w, apierr.OpenAI, apierr.PayloadTooLarge, "The body is too large or unreadable.")
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	if err := DecodeStrict(b, v); err != nil {
		var be *BodyError
		_ = errors.As(err, &be) // DecodeStrict returns nothing else
		badRequest(w, be.Msg)
		return false
	}
	return true
}

// DecodeStrict decodes one JSON object into v (a pointer to a struct) and
// refuses anything else: another top-level value, a field v does not
// have, a value of the wrong type, and any data after the object. Its
// errors are client-safe: they name v's own fields, never the body.
func DecodeStrict(b []byte, v any) error {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return &BodyError{"The body must be a JSON object."}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "" && fieldType(v, te.Field) != nil:
			return &BodyError{fmt.Sprintf("%q must be %s.", te.Field, jsonKind(fieldType(v, te.Field)))}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return &BodyError{fmt.Sprintf("The body has a field this route does not take (it takes: %s).", strings.Join(fieldNames(v), ", "))}
		}
		return &BodyError{"The body is not valid JSON."}
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return &BodyError{"The body has data after its JSON object."}
	}
	return nil
}

// BodyError says why DecodeStrict refused a body, in words safe to show
// the client.
type BodyError struct{ Msg string }

func (e *BodyError) Error() string { return e.Msg }

// fieldNames lists the JSON names of the struct v points to.
func fieldNames(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// fieldType returns the type of v's own field named by path (as json
// reports it: "scopes", or "scopes.1" for an element), nil for anything
// else — so only v's own field names are ever echoed.
func fieldType(v any, path string) reflect.Type {
	head, _, _ := strings.Cut(path, ".")
	if !slices.Contains(fieldNames(v), head) {
		return nil
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == head {
			return t.Field(i).Type
		}
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "a number"
	}
	return "of another type"
}

// noBody refuses a body on a route that takes none (an empty body or {}
// is fine).
func noBody(w http.ResponseWriter, r *http.Request) bool {
	var none struct{}
	return decode(w, r, &none)
}

// query reads an optional filter parameter, bounded and printable.
func (d Deps) query(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	v := r.URL.Query().Get(name)
	if err := operator.CheckOptional(name, v, operator.MaxFilter); err != nil {
		d.fail(w, err, "")
		return "", false
	}
	return v, true
}

// flag reads an optional boolean parameter: "", "true" or "false".
func flag(w http.ResponseWriter, r *http.Request, name string) (bool, bool) {
	switch r.URL.Query().Get(name) {
	case "", "false":
		return false, true
	case "true":
		return true, true
	}
	badRequest(w, fmt.Sprintf("%q must be true or false.", name))
	return false, false
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
	user, ok := d.query(w, r, "user")
	if !ok {
		return
	}
	all, ok := flag(w, r, "all")
	if !ok {
		return
	}
	ks, err := d.Keys.List(r.Context(), store.KeyFilter{User: user, IncludeRevoked: all})
	if err != nil {
		d.fail(w, err, "key")
		return
	}
	out := make([]map[string]any, 0, len(ks))
	for _, k := range ks {
		k.Name, k.User = d.scrub(k.Name), d.scrub(k.User)
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
	var ttl time.Duration
	if req.Expires != "" {
		var err error
		if ttl, err = time.ParseDuration(req.Expires); err != nil {
			badRequest(w, "\"expires\" must be a duration such as 720h.")
			return
		}
	}
	nk := operator.NewKey{Name: req.Name, User: req.User, Plan: req.Plan, Scopes: req.Scopes, TTL: ttl}
	if err := operator.CheckNewKey(&d.Live.Current().Config, nk, d.secrets); err != nil {
		d.fail(w, err, "key")
		return
	}
	rec, plain, err := d.Keys.Create(r.Context(), auth.CreateOptions{Name: req.Name, Plan: req.Plan, User: req.User, Scopes: req.Scopes, TTL: ttl, Test: req.Test, Actor: actorOf(r)})
	if err != nil {
		d.fail(w, err, "key")
		return
	}
	out := KeyJSON(rec)
	out["key"] = plain // the only time it is shown
	writeJSON(w, http.StatusCreated, out)
}

func (d Deps) revokeKey(w http.ResponseWriter, r *http.Request) {
	if d.keysOff(w) || !noBody(w, r) {
		return
	}
	id := r.PathValue("id")
	if err := operator.CheckKeyID(id); err != nil {
		d.fail(w, err, "key")
		return
	}
	if err := d.Keys.Revoke(r.Context(), id, actorOf(r)); err != nil {
		d.fail(w, err, "key")
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
		if grace, err = time.ParseDuration(req.Grace); err != nil {
			badRequest(w, "\"grace\" must be a duration such as 24h.")
			return
		}
	}
	id := r.PathValue("id")
	if err := errors.Join(operator.CheckKeyID(id), operator.CheckGrace(grace)); err != nil {
		d.fail(w, err, "key")
		return
	}
	rec, plain, err := d.Keys.Rotate(r.Context(), id, grace, actorOf(r))
	if err != nil {
		d.fail(w, err, "key")
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
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			badRequest(w, "\"limit\" must be from 0 to 1000.")
			return
		}
		limit = n
	}
	kind, ok := d.query(w, r, "kind")
	if !ok {
		return
	}
	evs, err := d.Audit.Events(r.Context(), store.EventFilter{Kind: kind, Limit: limit})
	if err != nil {
		d.fail(w, err, "event")
		return
	}
	out := make([]map[string]any, 0, len(evs))
	for _, e := range evs {
		out = append(out, map[string]any{"id": e.ID, "at": e.At, "kind": e.Kind, "actor": d.scrub(e.Actor), "subject": d.scrub(e.Subject), "detail": d.scrub(e.Detail)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (d Deps) userJSON(u store.User) map[string]any {
	return map[string]any{"id": d.scrub(u.ID), "plan": u.Plan, "disabled": u.Disabled, "created_at": u.CreatedAt, "updated_at": u.UpdatedAt}
}

func (d Deps) usersOff(w http.ResponseWriter) bool {
	if d.users == nil {
		apierr.Write(w, apierr.OpenAI, apierr.Unavailable, "No store is configured (auth.pepper).")
		return true
	}
	return false
}

func (d Deps) listUsers(w http.ResponseWriter, r *http.Request) {
	if d.usersOff(w) {
		return
	}
	us, err := d.users.List(r.Context())
	if err != nil {
		d.fail(w, err, "user")
		return
	}
	out := make([]map[string]any, 0, len(us))
	for _, u := range us {
		out = append(out, d.userJSON(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (d Deps) getUser(w http.ResponseWriter, r *http.Request) {
	if d.usersOff(w) {
		return
	}
	u, err := d.users.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		d.fail(w, err, "user")
		return
	}
	writeJSON(w, http.StatusOK, d.userJSON(u))
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
	u, err := d.users.Put(r.Context(), actorOf(r), store.User{ID: r.PathValue("id"), Plan: req.Plan, Disabled: req.Disabled})
	if err != nil {
		d.fail(w, err, "user")
		return
	}
	writeJSON(w, http.StatusOK, d.userJSON(u))
}
