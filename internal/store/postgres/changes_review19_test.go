package postgres

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyward/keyward/internal/pgtest"
	"github.com/keyward/keyward/internal/store"
)

// Review 19. Each test asserts the behaviour the review reports as a
// finding (so it passes today and fails once the finding is fixed).

// TestReview19ForgedNotify: NOTIFY needs no privilege, so any role that
// may connect can send on the channel. A forged "all" (which the triggers
// never send) or "ping" is not a change; "config" and "key" are (the worst
// they do is make replicas read again, or reload at most once a second).
func TestReview19ForgedNotify(t *testing.T) {
	ctx := context.Background()
	schema, dsn := pgtest.Schema(t)
	db := openDSN(t, dsn)
	l := listen(t, db)
	l.wantLive(t, true)
	l.want(t, "after connecting", store.Change{Kind: store.ChangeAll})

	admin := pgtest.AdminPool(t)
	if _, err := admin.Exec(ctx, `CREATE ROLE `+schema+`_ro LOGIN`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DROP ROLE `+schema+`_ro`) })
	conn, err := admin.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET ROLE `+schema+`_ro`); err != nil { // no grant on the schema at all
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), `RESET ROLE`)
	for _, kind := range []string{"all", "ping", "tables"} {
		if _, err := conn.Exec(ctx, `SELECT pg_notify('keyward_changes', $1)`, schema+" "+kind+" forged"); err != nil {
			t.Fatal(err)
		}
		l.none(t, "forged "+kind)
	}
	if err := db.Announce(ctx, store.Change{Kind: store.ChangeAll}); err == nil {
		t.Error("Announce sent a change the tables announce themselves")
	}
}

// TestReview19TruncateIsTold: TRUNCATE fires no row trigger; a statement
// trigger tells replicas that every key, user or budget changed.
func TestReview19TruncateIsTold(t *testing.T) {
	ctx := context.Background()
	schema, dsn := pgtest.Schema(t)
	db := openDSN(t, dsn)
	l := listen(t, db)
	l.wantLive(t, true)
	l.want(t, "after connecting", store.Change{Kind: store.ChangeAll})
	for _, tt := range []struct {
		table string
		want  store.Change
	}{
		{"keys", store.Change{Kind: store.ChangeKey}},
		{"users", store.Change{Kind: store.ChangeUser}},
		{"budgets", store.Change{Kind: store.ChangeBudget}},
	} {
		if _, err := pgtest.AdminPool(t).Exec(ctx, `TRUNCATE `+schema+`.`+tt.table); err != nil {
			t.Fatal(err)
		}
		l.want(t, "TRUNCATE "+tt.table, tt.want)
	}
}

// TestReview19NULUserIsAQueryError: a read failing for its input (22021:
// a NUL byte) is the statement's failure, not the store's: never
// ErrUnavailable, so it cannot make a healthy store look down.
func TestReview19NULUserIsAQueryError(t *testing.T) {
	db := openTest(t)
	_, err := db.User(context.Background(), "evil\x00user")
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

// TestReview19RetryReadOnConnectTimeout: a connection that cannot be made
// is not tried again once per pooled connection: one read against a
// server that does not answer costs one connect timeout, and says the
// store is unavailable.
func TestReview19RetryReadOnConnectTimeout(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	db := openDSN(t, dsn, MaxConns(3))
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	cfg := db.pool.Config()
	cfg.ConnConfig.Host = "127.0.0.1"
	cfg.ConnConfig.Port = uint16(ln.Addr().(*net.TCPAddr).Port)
	cfg.ConnConfig.ConnectTimeout = 300 * time.Millisecond
	cfg.ConnConfig.Fallbacks = nil
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &DB{pool: pool}
	defer s.Close()
	start := time.Now()
	_, err = s.KeyByID(context.Background(), "key_1")
	took := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) || took >= 2*cfg.ConnConfig.ConnectTimeout {
		t.Fatalf("err %v after %v: want ErrUnavailable after one connect timeout", err, took)
	}
}
