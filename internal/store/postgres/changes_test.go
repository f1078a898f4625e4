package postgres

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyward/keyward/internal/pgtest"
	"github.com/keyward/keyward/internal/store"
)

// listener runs Listen on db until the test ends, passing changes and
// live reports to channels.
type listener struct {
	changes chan store.Change
	live    chan bool
}

func listen(t *testing.T, db *DB) *listener {
	t.Helper()
	l := &listener{changes: make(chan store.Change, 100), live: make(chan bool, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = db.Listen(ctx, func(c store.Change) { l.changes <- c }, func(on bool, _ error) { l.live <- on })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

func (l *listener) want(t *testing.T, what string, want store.Change) {
	t.Helper()
	select {
	case got := <-l.changes:
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: change (-want +got):\n%s", what, diff)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no change told", what)
	}
}

func (l *listener) none(t *testing.T, what string) {
	t.Helper()
	select {
	case got := <-l.changes:
		t.Fatalf("%s: told %+v, want nothing", what, got)
	case <-time.After(300 * time.Millisecond):
	}
}

func (l *listener) wantLive(t *testing.T, want bool) {
	t.Helper()
	select {
	case got := <-l.live:
		if got != want {
			t.Fatalf("live(%v), want live(%v)", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no live(%v)", want)
	}
}

// TestChanges: every change to what replicas cache is told to listeners
// of the same schema as it commits — whoever made it — and nothing else
// is: not a key's last use, not another schema's changes. A listener
// whose connection is terminated says so, reconnects, and says
// everything may have changed.
func TestChanges(t *testing.T) {
	t.Parallel()
	old := listenIdle
	listenIdle = 100 * time.Millisecond // idle checks run during the test
	t.Cleanup(func() { listenIdle = old })
	ctx := context.Background()
	schema, dsn := pgtest.Schema(t)
	db := openDSN(t, dsn)
	other := openTest(t)
	l := listen(t, db)
	l.wantLive(t, true)
	l.want(t, "after connecting", store.Change{Kind: store.ChangeAll})

	now := time.Now().UTC()
	k := store.Key{ID: "key_1", Name: "app", Hash: []byte("h1"), Prefix: "kw_live_abc", CreatedAt: now}
	steps := []struct {
		name string
		do   func() error
		want *store.Change
	}{
		{"create a key", func() error { return db.CreateKey(ctx, k) }, &store.Change{Kind: store.ChangeKey, ID: "key_1"}},
		{"its last use", func() error { return db.TouchKeys(ctx, map[string]time.Time{"key_1": now}) }, nil},
		{"another schema's key", func() error { return other.CreateKey(ctx, k) }, nil},
		{"revoke it", func() error { return db.RevokeKey(ctx, "key_1", now) }, &store.Change{Kind: store.ChangeKey, ID: "key_1"}},
		{"expire it", func() error { return db.ExpireKey(ctx, "key_1", now) }, &store.Change{Kind: store.ChangeKey, ID: "key_1"}},
		{"a user", func() error { return db.PutUser(ctx, store.User{ID: "alice", Disabled: true}) }, &store.Change{Kind: store.ChangeUser, ID: "alice"}},
		{"a budget", func() error {
			return db.PutBudget(ctx, store.Budget{Scope: "user", Subject: "alice", DailyMicros: 5, UpdatedAt: now})
		}, &store.Change{Kind: store.ChangeBudget}},
		{"a budget removed", func() error { return db.DeleteBudget(ctx, "user", "alice") }, &store.Change{Kind: store.ChangeBudget}},
		{"announced", func() error { return db.Announce(ctx, store.Change{Kind: store.ChangeConfig}) }, &store.Change{Kind: store.ChangeConfig}},
		{"announced elsewhere", func() error { return other.Announce(ctx, store.Change{Kind: store.ChangeConfig}) }, nil},
		{"by hand, after the listener sat idle", func() error {
			time.Sleep(3 * listenIdle)
			_, err := pgtest.AdminPool(t).Exec(ctx, "UPDATE "+schema+".users SET plan = 'pro' WHERE id = 'alice'")
			return err
		}, &store.Change{Kind: store.ChangeUser, ID: "alice"}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.want == nil {
			l.none(t, s.name)
		} else {
			l.want(t, s.name, *s.want)
		}
	}

	// The listener's connection is cut: it says changes may be missed,
	// reconnects, and says everything may have changed.
	var terminated bool
	if err := pgtest.AdminPool(t).QueryRow(ctx, "SELECT pg_terminate_backend($1)", int64(db.listenPID.Load())).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("terminating the listener's connection: %v %v", terminated, err)
	}
	l.wantLive(t, false)
	l.wantLive(t, true)
	l.want(t, "after reconnecting", store.Change{Kind: store.ChangeAll})
	if err := db.PutUser(ctx, store.User{ID: "bob"}); err != nil {
		t.Fatal(err)
	}
	l.want(t, "after reconnecting, a user", store.Change{Kind: store.ChangeUser, ID: "bob"})
}

func TestParseChange(t *testing.T) {
	tests := []struct {
		payload string
		want    store.Change
		ok      bool
	}{
		{"s1 key key_1", store.Change{Kind: "key", ID: "key_1"}, true},
		{"s1 budget ", store.Change{Kind: "budget"}, true},
		{"s1 config", store.Change{Kind: "config"}, true},
		{"s2 key key_1", store.Change{}, false},
		{"s1 tables x", store.Change{}, false},
		{"", store.Change{}, false},
		{"s1", store.Change{}, false},
	}
	for _, tt := range tests {
		got, ok := parseChange(tt.payload, "s1")
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseChange(%q) = %+v, %v; want %+v, %v", tt.payload, got, ok, tt.want, tt.ok)
		}
	}
}

// TestConnLost: only a lost connection makes a read run again, never a
// statement that failed on its own.
func TestConnLost(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"terminated by an administrator", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}, true},
		{"server shutting down", &pgconn.PgError{Severity: "FATAL", Code: "57P02"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"wrapped", fmt.Errorf("key by hash: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"closed", net.ErrClosed, true},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"cancelled", context.Canceled, false},
		{"not found", store.ErrNotFound, false},
	}
	for _, tt := range tests {
		if got := connLost(tt.err); got != tt.want {
			t.Errorf("%s: connLost = %v, want %v", tt.name, got, tt.want)
		}
	}
}
