package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/sqlite"
)

const testConfig = `providers: [{name: m, kind: mock, keys: [env:PROVIDER_KEY]}]
models: [{name: fast, targets: [{provider: m, model: x}]}]
clients: {keys: [env:CLIENT_KEY]}
auth: {pepper: env:PEPPER, admin_keys: [env:ADMIN], failed_per_minute: 3}
plans: [{name: free}, {name: pro}]
`

var testEnv = map[string]string{
	"PROVIDER_KEY": "provider-secret-value-0001",
	"CLIENT_KEY":   "client-secret-value-00001",
	"PEPPER":       "pepper-secret-value-00001",
	"ADMIN":        "admin-secret-value-000001",
}

// keyStore lets a test make the store fail on a rotation.
type keyStore struct {
	*sqlite.DB
	keyByID, expire error
}

func (s keyStore) KeyByID(ctx context.Context, id string) (store.Key, error) {
	if s.keyByID != nil {
		return store.Key{}, s.keyByID
	}
	return s.DB.KeyByID(ctx, id)
}

func (s keyStore) ExpireKey(ctx context.Context, id string, at time.Time) error {
	if s.expire != nil {
		return s.expire
	}
	return s.DB.ExpireKey(ctx, id, at)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type api struct {
	t    *testing.T
	h    http.Handler
	db   *sqlite.DB
	st   *keyStore
	keys *auth.Keys
	logs *syncBuffer
	ip   string
}

func newAPI(t *testing.T) *api {
	t.Helper()
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := live.New(cfg, live.Options{Getenv: func(k string) string { return testEnv[k] }})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := &api{t: t, db: db, st: &keyStore{DB: db}, logs: &syncBuffer{}, ip: "192.0.2.1"}
	log := slog.New(slog.NewTextHandler(a.logs, nil))
	a.keys = auth.NewKeys(a.st, auth.KeysOptions{Pepper: gw.Current().Pepper, Logger: log})
	a.h = New(Deps{Live: gw, Keys: a.keys, Audit: db, Users: db, Usage: db, Budgets: db, Logger: log,
		Failures: auth.NewFailureLimiter(cfg.Auth.FailedPerMinute, nil),
		ClientIP: func(*http.Request) string { return a.ip }})
	return a
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) code() string {
	var v struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal([]byte(a.body), &v)
	return v.Error.Code
}

func (a *api) do(method, path, body string, key ...string) answer {
	a.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	k := testEnv["ADMIN"]
	if len(key) > 0 {
		k = key[0]
	}
	if k != "" {
		r.Header.Set("Authorization", "Bearer "+k)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return answer{w.Code, w.Header(), w.Body.String()}
}

// TestRotateStoreFailureIsInternal (issue #16): a store failure during a
// rotation reaches the client as the generic internal_error; the store's
// words are in the log only. Before, they came back in a 400.
func TestRotateStoreFailureIsInternal(t *testing.T) {
	a := newAPI(t)
	rec, _, err := a.keys.Create(context.Background(), auth.CreateOptions{Name: "backend", Plan: "free"})
	if err != nil {
		t.Fatal(err)
	}
	const detail = "database disk image is malformed (/var/lib/keyward/keyward.db)"
	for name, st := range map[string]keyStore{
		"read the old key":   {keyByID: errors.New(detail)},
		"expire the old key": {expire: errors.New(detail)},
	} {
		t.Run(name, func(t *testing.T) {
			a.st.keyByID, a.st.expire = st.keyByID, st.expire
			defer func() { a.st.keyByID, a.st.expire = nil, nil }()
			r := a.do("POST", "/admin/api/keys/"+rec.ID+"/rotate", `{"grace":"1h"}`)
			if r.status != 500 || r.code() != "internal_error" {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if strings.Contains(r.body, "malformed") || strings.Contains(r.body, "/var/lib") {
				t.Fatalf("store detail reached the client: %s", r.body)
			}
			if !strings.Contains(a.logs.String(), "database disk image is malformed") {
				t.Fatalf("store detail not logged: %s", a.logs.String())
			}
		})
	}
	// Domain errors keep their codes.
	if r := a.do("POST", "/admin/api/keys/key_nope/rotate", ``); r.status != 404 || r.code() != "not_found" {
		t.Fatalf("missing: %d %s", r.status, r.body)
	}
	if err := a.keys.Revoke(context.Background(), rec.ID, "test"); err != nil {
		t.Fatal(err)
	}
	r := a.do("POST", "/admin/api/keys/"+rec.ID+"/rotate", ``)
	if r.status != 400 || r.code() != "invalid_request" || !strings.Contains(r.body, "The key is revoked or expired.") || strings.Contains(r.body, rec.ID) {
		t.Fatalf("revoked: %d %s", r.status, r.body)
	}
}

// TestAdminInputsAreValidated (issue #15): every admin input is decoded
// strictly and checked like a user id — bounded, printable, not a secret.
func TestAdminInputsAreValidated(t *testing.T) {
	a := newAPI(t)
	big := strings.Repeat("u", 60<<10)
	for name, tt := range map[string]struct {
		method, path, body string
		status             int
	}{
		"60 KB user":             {"POST", "/admin/api/keys", `{"name":"x","plan":"free","user":"` + big + `"}`, 400},
		"NUL in name":            {"POST", "/admin/api/keys", `{"name":"a\u0000b","plan":"free"}`, 400},
		"newline in name":        {"POST", "/admin/api/keys", `{"name":"a\nkey.revoked","plan":"free"}`, 400},
		"newline in user":        {"POST", "/admin/api/keys", `{"name":"x","plan":"free","user":"bob\r\nx"}`, 400},
		"long name":              {"POST", "/admin/api/keys", `{"name":"` + strings.Repeat("n", 129) + `","plan":"free"}`, 400},
		"trailing garbage":       {"POST", "/admin/api/keys", `{"name":"x","plan":"free"} garbage`, 400},
		"second object":          {"POST", "/admin/api/keys", `{"name":"x","plan":"free"}{"name":"y"}`, 400},
		"array body":             {"POST", "/admin/api/keys", `[{"name":"x","plan":"free"}]`, 400},
		"wrong type":             {"POST", "/admin/api/keys", `{"name":"x","plan":"free","scopes":"tokens:mint"}`, 400},
		"name is a client key":   {"POST", "/admin/api/keys", `{"name":"` + testEnv["CLIENT_KEY"] + `","plan":"free"}`, 400},
		"user is the admin key":  {"POST", "/admin/api/keys", `{"name":"x","plan":"free","user":"` + testEnv["ADMIN"] + `"}`, 400},
		"negative expiry":        {"POST", "/admin/api/keys", `{"name":"x","plan":"free","expires":"-1h"}`, 400},
		"rotate garbage":         {"POST", "/admin/api/keys/key_x/rotate", `{"grace":"1h"}]`, 400},
		"rotate negative grace":  {"POST", "/admin/api/keys/key_x/rotate", `{"grace":"-1h"}`, 400},
		"revoke with a body":     {"POST", "/admin/api/keys/key_x/revoke", `{"force":true}`, 400},
		"revoke long id":         {"POST", "/admin/api/keys/" + strings.Repeat("k", 65) + "/revoke", ``, 400},
		"user id newline":        {"PUT", "/admin/api/users/bob%0Aadmin", `{"plan":"free"}`, 400},
		"user id long":           {"PUT", "/admin/api/users/" + strings.Repeat("b", 257), `{}`, 400},
		"user id is a secret":    {"PUT", "/admin/api/users/" + testEnv["PEPPER"], `{}`, 400},
		"user trailing data":     {"PUT", "/admin/api/users/bob", `{"plan":"free"}x`, 400},
		"budget trailing data":   {"PUT", "/admin/api/budgets/user/bob", `{"daily_usd":1} {}`, 400},
		"budget NUL subject":     {"PUT", "/admin/api/budgets/user/b%00b", `{"daily_usd":1}`, 400},
		"budget delete body":     {"DELETE", "/admin/api/budgets/user/bob", `{"x":1}`, 400},
		"keys filter newline":    {"GET", "/admin/api/keys?user=a%0Ab", ``, 400},
		"keys all=yes":           {"GET", "/admin/api/keys?all=yes", ``, 400},
		"audit limit not number": {"GET", "/admin/api/audit?limit=ten", ``, 400},
		"audit kind control":     {"GET", "/admin/api/audit?kind=a%1Bb", ``, 400},
		"usage user long":        {"GET", "/admin/api/usage?user=" + strings.Repeat("u", 300), ``, 400},
	} {
		t.Run(name, func(t *testing.T) {
			r := a.do(tt.method, tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			for _, s := range []string{big[:64], "garbage", "key.revoked", "force", testEnv["CLIENT_KEY"], testEnv["ADMIN"], testEnv["PEPPER"]} {
				if strings.Contains(r.body, s) {
					t.Errorf("the answer echoes %.20q: %s", s, r.body)
				}
			}
		})
	}
	// Nothing was made.
	if r := a.do("GET", "/admin/api/keys?all=true", ``); r.status != 200 || r.body != `{"data":[]}` {
		t.Fatalf("keys: %d %s", r.status, r.body)
	}
	// The well-formed requests still work.
	if r := a.do("POST", "/admin/api/keys", `{"name":"José's key","plan":"free","user":"alice@example.com","scopes":["tokens:mint"]}`+"\n"); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := a.do("PUT", "/admin/api/users/alice@example.com", ``); r.status != 200 {
		t.Fatalf("put user with an empty body: %d %s", r.status, r.body)
	}
}

// TestBudgetSubjectIsNeverASecret (issue #15): a budget named by a
// configured credential is refused, and never reaches the budget list, the
// audit log or an answer. The reference names a static client key.
func TestBudgetSubjectIsNeverASecret(t *testing.T) {
	a := newAPI(t)
	for name, v := range testEnv {
		for _, path := range []string{"/admin/api/budgets/key/client:" + v, "/admin/api/budgets/key/" + v, "/admin/api/budgets/user/" + v, "/admin/api/budgets/user/x-" + v + "-y"} {
			r := a.do("PUT", path, `{"daily_usd":1}`)
			if r.status != 400 || r.code() != "invalid_request" || strings.Contains(r.body, v) {
				t.Errorf("%s %s: %d %s", name, path, r.status, r.body)
			}
		}
		if r := a.do("DELETE", "/admin/api/budgets/key/client:"+v, ``); r.status != 400 || strings.Contains(r.body, v) {
			t.Errorf("delete %s: %d %s", name, r.status, r.body)
		}
	}
	if r := a.do("PUT", "/admin/api/budgets/key/client:env:CLIENT_KEY", `{"daily_usd":1}`); r.status != 200 || !strings.Contains(r.body, `"subject":"client:env:CLIENT_KEY"`) {
		t.Fatalf("by reference: %d %s", r.status, r.body)
	}
	list := a.do("GET", "/admin/api/budgets", ``)
	audit := a.do("GET", "/admin/api/audit", ``)
	for name, v := range testEnv {
		for where, s := range map[string]string{"list": list.body, "audit": audit.body, "log": a.logs.String()} {
			if strings.Contains(s, v) {
				t.Errorf("%s in the %s", name, where)
			}
		}
	}
	if !strings.Contains(audit.body, `"subject":"key:client:env:CLIENT_KEY"`) {
		t.Errorf("audit: %s", audit.body)
	}
}

// TestListsScrubStoredSecrets: a record written before inputs were checked
// (or by another tool) is shown without the secret it holds.
func TestListsScrubStoredSecrets(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	secret := testEnv["CLIENT_KEY"]
	if err := a.db.PutBudget(ctx, store.Budget{Scope: "key", Subject: "client:" + secret, DailyMicros: 1}); err != nil {
		t.Fatal(err)
	}
	_ = a.db.PutUser(ctx, store.User{ID: secret})
	_ = a.db.AppendEvent(ctx, store.Event{Kind: "budget.set", Subject: "key:client:" + secret})
	for _, p := range []string{"/admin/api/budgets", "/admin/api/users", "/admin/api/audit"} {
		r := a.do("GET", p, ``)
		if r.status != 200 || strings.Contains(r.body, secret) || !strings.Contains(r.body, "REDACTED") {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}

// TestAdminKeyWorksFromAThrottledAddress (issue #15): failures from an
// address throttle its failing attempts only; the admin key still gets in.
func TestAdminKeyWorksFromAThrottledAddress(t *testing.T) {
	a := newAPI(t)
	for i := 0; i < 3; i++ {
		if r := a.do("GET", "/admin/api/keys", ``, "wrong-admin-key"); r.status != 401 {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	var bodies []string
	for _, k := range []string{"wrong-admin-key", "", testEnv["CLIENT_KEY"]} {
		r := a.do("GET", "/admin/api/keys", ``, k)
		if r.status != 429 || r.code() != "rate_limited" || r.header.Get("Retry-After") == "" || r.header.Get("WWW-Authenticate") != "" {
			t.Fatalf("throttled failure: %d %v %s", r.status, r.header, r.body)
		}
		bodies = append(bodies, r.body)
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("throttled answers differ by credential:\n%s", strings.Join(bodies, "\n"))
	}
	if r := a.do("GET", "/admin/api/keys", ``); r.status != 200 {
		t.Fatalf("admin key from a throttled address: %d %s", r.status, r.body)
	}
	a.ip = "198.51.100.7"
	if r := a.do("GET", "/admin/api/keys", ``, "wrong-admin-key"); r.status != 401 {
		t.Fatalf("another address: %d", r.status)
	}
}

func TestDecodeStrict(t *testing.T) {
	type req struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
		Test   bool     `json:"test"`
	}
	for _, tt := range []struct {
		body, want string
	}{
		{`{"name":"x"}`, ""},
		{" \n{\"name\":\"x\"}\n\t ", ""},
		{`{"name":"x"} {}`, "The body has data after its JSON object."},
		{`{"name":"x"}]`, "The body has data after its JSON object."},
		{`{"name":"x"}garbage`, "The body has data after its JSON object."},
		{`{"name":"x","admin":true}`, "The body has a field this route does not take (it takes: name, scopes, test)."},
		{`{"<script>":1}`, "The body has a field this route does not take (it takes: name, scopes, test)."},
		{`{"name":1}`, `"name" must be a string.`},
		{`{"scopes":[1]}`, `"scopes" must be an array of strings.`},
		{`{"scopes":"tokens:mint"}`, `"scopes" must be an array of strings.`},
		{`{"test":"yes"}`, `"test" must be true or false.`},
		{`[]`, "The body must be a JSON object."},
		{`null`, "The body must be a JSON object."},
		{`"x"`, "The body must be a JSON object."},
		{`{"name":`, "The body is not valid JSON."},
		{`{"name":"x",}`, "The body is not valid JSON."},
	} {
		var v req
		err := DecodeStrict([]byte(tt.body), &v)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.body, got, tt.want)
		}
	}
}

// TestNoErrorTextInAnswers keeps the class closed: the only error text an
// admin handler may put in an answer is an operator.InputError's, in fail.
func TestNoErrorTextInAnswers(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	allowed := map[string]bool{
		"badRequest(w, in.Error()+\".\")":                                true, // fail: made to be shown
		"case strings.HasPrefix(err.Error(), \"json: unknown field \"):": true, // classifies, answers fixed text
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			code := strings.TrimSpace(line)
			if strings.HasPrefix(code, "//") || !strings.Contains(code, ".Error()") {
				continue
			}
			if !allowed[code] {
				t.Errorf("%s:%d: error text may reach an answer: %s", f, i+1, code)
			}
		}
	}
}
