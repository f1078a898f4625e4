package operator

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/sqlite"
	"github.com/keyward/keyward/internal/vkey"
)

// loaded stands for the secrets a running keyward holds.
var loaded = []string{"client-key-value-0001", "provider-key-000001", "kwadmin-Ad9Ad9Ad9Ad9"}

func secrets(s string) bool {
	for _, v := range loaded {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}

func openDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func inputError(t *testing.T, err error, field string) {
	t.Helper()
	var in *InputError
	if !errors.As(err, &in) || !errors.Is(err, ErrInvalid) || in.Field != field {
		t.Fatalf("want an input error on %q, got %v", field, err)
	}
}

func TestCheckText(t *testing.T) {
	for name, tt := range map[string]struct {
		v  string
		ok bool
	}{
		"plain":         {"alice", true},
		"unicode":       {"José Müller", true},
		"email":         {"alice@example.com", true},
		"at the bound":  {strings.Repeat("a", MaxID), true},
		"empty":         {"", false},
		"blank":         {"   ", false},
		"over":          {strings.Repeat("a", MaxID+1), false},
		"60 KB":         {strings.Repeat("u", 60<<10), false},
		"NUL":           {"ali\x00ce", false},
		"newline":       {"alice\nkey.revoked admin", false},
		"carriage":      {"alice\r", false},
		"escape":        {"\x1b[31malice", false},
		"bidi override": {"alice\u202egnp.exe", false},
		"zero width":    {"al\u200bice", false},
		"bad UTF-8":     {"al\xffice", false},
		"DEL":           {"alice\x7f", false},
	} {
		err := CheckText("user", tt.v, MaxID)
		if tt.ok != (err == nil) {
			t.Errorf("%s: err = %v", name, err)
		}
		if err != nil {
			inputError(t, err, "user")
		}
	}
}

// TestInputErrorsNeverQuoteTheInput: an input error may be shown to a
// client as it is, so it must not carry the refused value.
func TestInputErrorsNeverQuoteTheInput(t *testing.T) {
	const marker = "MARKER"
	cfg := &config.Config{Plans: []config.Plan{{Name: "free"}}}
	for name, err := range map[string]error{
		"control":  CheckText("name", marker+"\n", MaxName),
		"long":     CheckText("name", marker+strings.Repeat("x", 200), MaxName),
		"secret":   CheckEchoed("subject", "client:"+loaded[0]+marker, MaxID, false, secrets),
		"key":      CheckEchoed("name", marker+" sk-proj-"+strings.Repeat("Ab1_", 12), MaxName, false, secrets),
		"plan":     CheckPlan(cfg, "plan", marker),
		"scope":    CheckNewKey(cfg, NewKey{Name: "n", Plan: "free", Scopes: []string{marker}}, nil),
		"model":    CheckNewKey(cfg, NewKey{Name: "n", Plan: "free", Scopes: []string{"model:" + marker}}, nil),
		"negative": CheckNewKey(cfg, NewKey{Name: "n", Plan: "free", TTL: -1}, nil),
	} {
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
			continue
		}
		if strings.Contains(err.Error(), marker) {
			t.Errorf("%s: the input is quoted: %v", name, err)
		}
	}
}

// TestEchoedInputsRefuseCredentials: whatever is stored and shown again
// must not be or hold a credential (issue #15).
func TestEchoedInputsRefuseCredentials(t *testing.T) {
	vk, err := vkey.New(true)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{
		"a loaded client key":       loaded[0],
		"inside a subject":          "client:" + loaded[0],
		"a loaded provider key":     "x" + loaded[1] + "y",
		"a loaded admin key":        loaded[2],
		"a virtual key":             vk,
		"a virtual key as key:":     "key:" + vk,
		"an OpenAI-shaped key":      "sk-proj-" + strings.Repeat("Ab1_", 12),
		"a bearer header":           "Authorization: Bearer abcdefghijklmnop",
		"a key= URL parameter":      "https://x.example/?key=abcdefghijkl",
		"an Anthropic-shaped key":   "sk-ant-api03-" + strings.Repeat("Zk4", 10),
		"a keyward-shaped test key": "kw_test_" + strings.Repeat("a1B2", 5),
	} {
		if err := CheckEchoed("subject", v, MaxID, false, secrets); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			inputError(t, err, "subject")
		}
	}
	for _, v := range []string{"alice", "client:env:CLIENT_KEY", "key_1a2b3c4d5e6f7a8b", "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"} {
		if err := CheckEchoed("subject", v, MaxID, false, secrets); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
	if err := CheckEchoed("user", "", MaxID, true, secrets); err != nil {
		t.Errorf("optional empty: %v", err)
	}
}

func TestBudgets(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	b := NewBudgets(BudgetsOptions{Store: db, Audit: db, Secrets: secrets})

	// Issue #15: a static client key named by its value is refused, and
	// nothing is stored or audited.
	_, err := b.Set(ctx, "admin:env:ADMIN", budget.ScopeKey, "client:"+loaded[0], 1, 0)
	inputError(t, err, "subject")
	if list, _ := b.List(ctx); len(list) != 0 {
		t.Fatalf("stored: %+v", list)
	}

	rec, err := b.Set(ctx, "cli", budget.ScopeKey, " k_8f3a ", 0, 20)
	if err != nil || rec.Subject != "key:k_8f3a" || rec.MonthlyMicros != 20_000_000 {
		t.Fatalf("set: %+v %v", rec, err)
	}
	if _, err := b.Set(ctx, "cli", budget.ScopeKey, "client:env:CLIENT_KEY", 1, 0); err != nil {
		t.Fatalf("a client key by reference: %v", err)
	}
	for name, tt := range map[string]struct {
		scope, subject string
		daily, monthly float64
		field          string
	}{
		"scope":    {"team", "x", 1, 0, "scope"},
		"negative": {budget.ScopeUser, "alice", -1, 0, "daily_usd"},
		"huge":     {budget.ScopeUser, "alice", 0, 2e6, "monthly_usd"},
		"none":     {budget.ScopeUser, "alice", 0, 0, "daily_usd or monthly_usd"},
		"newline":  {budget.ScopeUser, "ali\nce", 1, 0, "subject"},
		"empty":    {budget.ScopeUser, "", 1, 0, "subject"},
	} {
		_, err := b.Set(ctx, "cli", tt.scope, tt.subject, tt.daily, tt.monthly)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		inputError(t, err, tt.field)
	}
	if subject, err := b.Delete(ctx, "cli", budget.ScopeKey, "k_8f3a"); err != nil || subject != "key:k_8f3a" {
		t.Fatalf("delete: %q %v", subject, err)
	}
	if _, err := b.Delete(ctx, "cli", budget.ScopeKey, "k_8f3a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	evs, err := db.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+" "+e.Actor+" "+e.Subject)
	}
	want := []string{EventBudgetDeleted + " cli key:key:k_8f3a", EventBudgetSet + " cli key:client:env:CLIENT_KEY", EventBudgetSet + " cli key:key:k_8f3a"}
	if strings.Join(kinds, "|") != strings.Join(want, "|") {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
}

func TestUsers(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	cfg := &config.Config{Plans: []config.Plan{{Name: "free"}, {Name: "pro"}}}
	us := NewUsers(UsersOptions{Store: db, Audit: db, Secrets: secrets, Config: func() *config.Config { return cfg }})

	u, err := us.Put(ctx, "admin:env:ADMIN", store.User{ID: "alice", Plan: "pro", Disabled: true})
	if err != nil || u.ID != "alice" || u.Plan != "pro" || !u.Disabled || u.CreatedAt.IsZero() {
		t.Fatalf("put: %+v %v", u, err)
	}
	_, err = us.Put(ctx, "cli", store.User{ID: "bob", Plan: "gold"})
	inputError(t, err, "plan")
	if !strings.Contains(err.Error(), "plans: free, pro") || strings.Contains(err.Error(), "gold") {
		t.Errorf("plan error: %v", err)
	}
	for name, id := range map[string]string{"newline": "bob\nx", "NUL": "b\x00b", "long": strings.Repeat("b", 300), "secret": loaded[2]} {
		_, err := us.Put(ctx, "cli", store.User{ID: id})
		inputError(t, err, "user")
		if name == "secret" && strings.Contains(err.Error(), loaded[2]) {
			t.Fatal("secret echoed")
		}
	}
	if _, err := us.Get(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := us.Get(ctx, "a\nb"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("get bad id: %v", err)
	}
	if list, err := us.List(ctx); err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	evs, _ := db.Events(ctx, store.EventFilter{Kind: EventUserUpdated})
	if len(evs) != 1 || evs[0].Subject != "alice" || evs[0].Actor != "admin:env:ADMIN" || evs[0].Detail != `plan="pro" disabled=true` {
		t.Fatalf("audit: %+v", evs)
	}
}

// failingStore fails every call with a store error that must stay in the
// log.
type failingStore struct{ store.Budgets }

var errDisk = errors.New("sqlite: disk I/O error at /var/lib/keyward/keyward.db")

func (failingStore) PutBudget(context.Context, store.Budget) error  { return errDisk }
func (failingStore) AppendEvent(context.Context, store.Event) error { return errDisk }
func (failingStore) Events(context.Context, store.EventFilter) ([]store.Event, error) {
	return nil, errDisk
}

// TestStoreErrorsAreWrapped: a store failure comes back wrapped (for the
// log), not as an input error, and a lost audit event is logged.
func TestStoreErrorsAreWrapped(t *testing.T) {
	var logs bytes.Buffer
	b := NewBudgets(BudgetsOptions{Store: failingStore{}, Audit: failingStore{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	_, err := b.Set(context.Background(), "cli", budget.ScopeUser, "alice", 1, 0)
	if !errors.Is(err, errDisk) || errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}

	db := openDB(t)
	b = NewBudgets(BudgetsOptions{Store: db, Audit: failingStore{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := b.Set(context.Background(), "cli", budget.ScopeUser, "alice", 1, 0); err != nil {
		t.Fatalf("a lost audit event fails the change: %v", err)
	}
	if !strings.Contains(logs.String(), "audit event lost") {
		t.Fatalf("not logged: %s", logs.String())
	}
}
