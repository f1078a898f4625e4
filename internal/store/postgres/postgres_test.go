package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/pgtest"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/storetest"
)

// The tests need a PostgreSQL server: KEYWARD_TEST_POSTGRES, else a local
// one with trust authentication. Each test works in a schema of its own,
// dropped afterwards, so tests run in parallel and leave nothing behind.
// Without a server they skip, except in CI (CI=true), where they fail.

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Close()
	os.Exit(code)
}

// openDSN opens the store at dsn, closed when the test ends.
func openDSN(t testing.TB, dsn string, opts ...Option) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openTest opens a store in a fresh schema.
func openTest(t testing.TB) *DB {
	_, dsn := pgtest.Schema(t)
	return openDSN(t, dsn)
}

func TestContract(t *testing.T) {
	t.Parallel()
	pgtest.AdminPool(t) // skip or fail once, not in every part
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

type appliedRow struct {
	Version int64
	Name    string
	At      time.Time
}

func applied(t *testing.T, schema string) []appliedRow {
	t.Helper()
	rows, err := pgtest.AdminPool(t).Query(context.Background(), `SELECT version, name, applied_at FROM `+schema+`.schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[appliedRow])
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema, dsn := pgtest.Schema(t)
	db := openDSN(t, dsn)
	first := applied(t, schema)
	ms, _ := migrations()
	if len(first) != len(ms) || first[len(first)-1].Version != ms[len(ms)-1].version {
		t.Fatalf("applied %+v, embedded %d migrations", first, len(ms))
	}
	if err := db.PutUser(ctx, store.User{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	openDSN(t, dsn) // and a second Open, which migrates too
	if again := applied(t, schema); !equalRows(first, again) {
		t.Errorf("migrations ran again: %+v, then %+v", first, again)
	}
	if _, err := db.User(ctx, "alice"); err != nil {
		t.Errorf("data after migrating again: %v", err)
	}
}

func equalRows(a, b []appliedRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Version != b[i].Version || a[i].Name != b[i].Name || !a[i].At.Equal(b[i].At) {
			return false
		}
	}
	return true
}

// TestConcurrentOpenMigratesOnce: replicas starting together. The
// migrations create tables without IF NOT EXISTS, so a second run of any
// of them would fail an Open.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	schema, dsn := pgtest.Schema(t)
	const replicas = 6
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, replicas)
	)
	for range replicas {
		wg.Go(func() {
			<-start
			db, err := Open(context.Background(), dsn, MaxConns(2))
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ms, _ := migrations()
	if got := applied(t, schema); len(got) != len(ms) {
		t.Errorf("schema_migrations = %+v, want %d rows", got, len(ms))
	}
}

// holdMigrationLock takes the migration lock of schema, as a replica in
// the middle of migrating would, until the test ends.
func holdMigrationLock(t *testing.T, schema string) {
	t.Helper()
	ctx := context.Background()
	tx, err := pgtest.AdminPool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) })
	h := fnv.New64a()
	h.Write([]byte("keyward.migrate\x00" + schema))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
		t.Fatal(err)
	}
}

func TestOpenWaitsForMigrationLockUntilCancelled(t *testing.T) {
	t.Parallel()
	schema, dsn := pgtest.Schema(t)
	holdMigrationLock(t, schema)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	db, err := Open(ctx, dsn)
	if err == nil {
		db.Close()
		t.Fatal("Open migrated while another replica held the lock")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
	d := time.Since(start)
	t.Logf("Open returned %v after its context ended", d-300*time.Millisecond)
	if d > 2*time.Second {
		t.Errorf("Open returned %v after its context ended", d-300*time.Millisecond)
	}
}

func TestCancelledQueryReturnsPromptly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema, dsn := pgtest.Schema(t)
	app := pgtest.RandomName("kw_cancel_")
	db := openDSN(t, pgtest.WithParam(dsn, "application_name", app))
	if err := db.CreateKey(ctx, store.Key{ID: "k1", Hash: []byte("h1"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	dead, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.KeyByID(dead, "k1"); !errors.Is(err, context.Canceled) {
		t.Errorf("KeyByID with a cancelled context: %v", err)
	}

	// Another transaction holds the key's row, so revoking it waits.
	tx, err := pgtest.AdminPool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM `+schema+`.keys WHERE id = 'k1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	err = db.RevokeKey(short, "k1", time.Now())
	d := time.Since(start)
	t.Logf("RevokeKey returned %v after its context ended", d-200*time.Millisecond)
	if d > 1500*time.Millisecond {
		t.Errorf("RevokeKey returned %v after its context ended", d-200*time.Millisecond)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RevokeKey past its deadline: %v", err)
	}
	// The server stopped waiting too: the statement was cancelled there,
	// not just abandoned.
	var waiting int
	if err := pgtest.AdminPool(t).QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if waiting != 0 {
		t.Errorf("%d statements still waiting on the server", waiting)
	}
	tx.Rollback(ctx)
	if err := db.RevokeKey(ctx, "k1", time.Now()); err != nil {
		t.Errorf("the pool after a cancellation: %v", err)
	}
}

func TestSkipMigrations(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.Schema(t)
	if db, err := Open(context.Background(), dsn, SkipMigrations()); err == nil || !strings.Contains(err.Error(), "pending") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open of an unmigrated schema without migrating: %v", err)
	}
	openDSN(t, dsn)                   // migrates
	openDSN(t, dsn, SkipMigrations()) // now current
}

func TestOpenFailures(t *testing.T) {
	t.Parallel()
	pgtest.AdminPool(t)
	const password = "hunter2-not-shown"
	tests := []struct{ name, dsn string }{
		{"malformed", "postgres://u:" + password + "@127.0.0.1:5432/test?sslmode=disable&connect_timeout=bogus"},
		{"nothing listening", "postgres://u:" + password + "@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"},
		{"no such schema", pgtest.WithParam(pgtest.DSN(), "search_path", pgtest.RandomName("kw_missing_"))},
	}
	for _, tt := range tests {
		start := time.Now()
		db, err := Open(context.Background(), tt.dsn)
		if err == nil {
			db.Close()
			t.Errorf("%s: Open succeeded", tt.name)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error shows the password: %v", tt.name, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", tt.name, d)
		}
	}
}

// TestTouchKeysConcurrently: batches touching the same keys in different
// orders, as replicas do, neither deadlock nor move a last use back.
func TestTouchKeysConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 16 {
		id := fmt.Sprintf("k%02d", i)
		ids = append(ids, id)
		if err := db.CreateKey(ctx, store.Key{ID: id, Hash: []byte(id), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 6 {
		wg.Go(func() {
			for round := range 15 {
				used := map[string]time.Time{}
				for i, id := range ids {
					used[id] = t0.Add(time.Duration((w*31+round*17+i*7)%97) * time.Second)
				}
				if err := db.TouchKeys(ctx, used); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, id := range ids {
		want := time.Duration(0)
		for w := range 6 {
			for round := range 15 {
				want = max(want, time.Duration((w*31+round*17+i*7)%97)*time.Second)
			}
		}
		if k, err := db.KeyByID(ctx, id); err != nil || !k.LastUsedAt.Equal(t0.Add(want)) {
			t.Errorf("%s: LastUsedAt = %v, %v; want %v", id, k.LastUsedAt, err, t0.Add(want))
		}
	}
}

// TestOddBytes: a text column cannot hold NUL or invalid UTF-8. A usage
// record or audit event with them is kept, with those bytes replaced,
// rather than failing its whole batch.
func TestOddBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := []store.UsageRecord{
		{At: at, RequestID: "r1", User: "ok"},
		{At: at.Add(time.Second), RequestID: "r2", User: "nul\x00here", Model: "bad\xffutf8"},
	}
	if err := db.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListUsage(ctx, store.UsageFilter{}, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("ListUsage = %+v, %v", got, err)
	}
	if got[0].User != "nul\uFFFDhere" || got[0].Model != "bad\uFFFDutf8" || got[1].User != "ok" {
		t.Errorf("records: %q %q %q", got[0].User, got[0].Model, got[1].User)
	}
	if err := db.AppendEvent(ctx, store.Event{At: at, Kind: "auth.failures", Subject: "x\x00y"}); err != nil {
		t.Fatal(err)
	}
	if evs, err := db.Events(ctx, store.EventFilter{}); err != nil || len(evs) != 1 || evs[0].Subject != "x\uFFFDy" {
		t.Errorf("Events = %+v, %v", evs, err)
	}
}

// TestTextSortsByBytes: every text column of the schema has the "C"
// collation, so lists, ties and groups come out in SQLite's byte order
// whatever the database's locale (this test server's may well be C too).
func TestTextSortsByBytes(t *testing.T) {
	t.Parallel()
	schema, dsn := pgtest.Schema(t)
	openDSN(t, dsn)
	rows, err := pgtest.AdminPool(t).Query(context.Background(), `SELECT c.relname || '.' || a.attname, coalesce(co.collname, '')
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_collation co ON co.oid = a.attcollation
		WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname <> 'schema_migrations' AND a.attnum > 0 AND a.attcollation <> 0`, schema)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Column, Collation string }])
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 20 {
		t.Fatalf("only %d text columns found", len(cols))
	}
	for _, c := range cols {
		if c.Collation != "C" {
			t.Errorf("%s: collation %q", c.Column, c.Collation)
		}
	}
}

func TestParseMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []int64
		wantErr bool
	}{
		{"ordered by number", fstest.MapFS{"migrations/0002_b.sql": file("b"), "migrations/0001_a.sql": file("a"), "migrations/0010_c.txt": file("-")}, []int64{1, 2}, false},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": file("a"), "migrations/0003_c.sql": file("c")}, nil, true},
		{"repeat", fstest.MapFS{"migrations/0001_a.sql": file("a"), "migrations/01_b.sql": file("b")}, nil, true},
		{"no number", fstest.MapFS{"migrations/init.sql": file("a")}, nil, true},
		{"zero", fstest.MapFS{"migrations/0000_a.sql": file("a")}, nil, true},
	}
	for _, tt := range tests {
		ms, err := parseMigrations(tt.fsys)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.name, err)
			continue
		}
		var got []int64
		for _, m := range ms {
			got = append(got, m.version)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: versions %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := migrations(); err != nil {
		t.Errorf("embedded migrations: %v", err)
	}
}
