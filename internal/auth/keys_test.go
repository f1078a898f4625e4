package auth

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/sqlite"
	"github.com/keyward/keyward/internal/vkey"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t *testing.T) (*sqlite.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

var pepper = secret.New("test-pepper-0123456789")

func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	db, dir := newStore(t)
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	k := NewKeys(db, KeysOptions{Pepper: pepper, Now: clk.now})
	// A second process on the same database (the CLI revoking while the
	// server serves).
	other := NewKeys(db, KeysOptions{Pepper: pepper, Now: clk.now})

	rec, plain, err := k.Create(ctx, CreateOptions{Name: "backend", User: "alice", Plan: "pro", Scopes: []string{"tokens:mint"}, Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if !vkey.IsLive(plain) || rec.Prefix != plain[:12] || rec.ID == "" {
		t.Fatalf("created %q %+v", plain, rec)
	}
	got, err := k.Authenticate(ctx, plain)
	if err != nil || got.ID != rec.ID || got.Plan != "pro" || !HasScope(got.Scopes, "tokens:mint") {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}

	// The plain key is nowhere in the database files.
	for _, name := range []string{"k.db", "k.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if bytes.Contains(b, []byte(plain)) || bytes.Contains(b, []byte(plain[12:])) {
			t.Fatalf("%s holds the key", name)
		}
	}

	// Revoked by the other process: refused within the cache TTL (1s).
	if _, err := other.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if err := k.Revoke(ctx, rec.ID, "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(ctx, plain); !errors.Is(err, ErrRevoked) {
		t.Fatalf("same process after revoke: %v", err)
	}
	clk.add(time.Second)
	if _, err := other.Authenticate(ctx, plain); !errors.Is(err, ErrRevoked) {
		t.Fatalf("other process 1s after revoke: %v", err)
	}

	// Unknown and malformed keys.
	fresh, _ := vkey.New(true)
	for _, s := range []string{fresh, "", "kw_live_short", strings.Repeat("x", 200), plain + "x"} {
		if _, err := k.Authenticate(ctx, s); !errors.Is(err, ErrUnknown) {
			t.Errorf("Authenticate(%.20q) = %v, want ErrUnknown", s, err)
		}
	}

	// Audit events exist and hold no key.
	evs, _ := db.Events(ctx, store.EventFilter{})
	if len(evs) != 2 || evs[0].Kind != "key.revoked" || evs[1].Kind != "key.created" {
		t.Fatalf("events %+v", evs)
	}
	for _, e := range evs {
		if strings.Contains(e.Detail+e.Subject+e.Actor, plain) {
			t.Fatal("audit holds the key")
		}
	}
}

func TestExpiryAndRotation(t *testing.T) {
	ctx := context.Background()
	db, _ := newStore(t)
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	k := NewKeys(db, KeysOptions{Pepper: pepper, Now: clk.now})
	rec, plain, err := k.Create(ctx, CreateOptions{Name: "short", TTL: time.Hour, Test: true})
	if err != nil || vkey.IsLive(plain) {
		t.Fatal(err)
	}
	newRec, newPlain, err := k.Rotate(ctx, rec.ID, 10*time.Minute, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if newRec.RotatedFrom != rec.ID || newRec.Name != "short" || !newRec.ExpiresAt.Equal(clk.now().Add(time.Hour)) {
		t.Fatalf("rotated %+v", newRec)
	}
	if _, err := k.Authenticate(ctx, plain); err != nil {
		t.Fatalf("old key within grace: %v", err)
	}
	clk.add(10 * time.Minute)
	if _, err := k.Authenticate(ctx, plain); !errors.Is(err, ErrExpired) {
		t.Fatalf("old key after grace: %v", err)
	}
	if _, err := k.Authenticate(ctx, newPlain); err != nil {
		t.Fatalf("new key: %v", err)
	}
	clk.add(time.Hour)
	if _, err := k.Authenticate(ctx, newPlain); !errors.Is(err, ErrExpired) {
		t.Fatalf("new key after its ttl: %v", err)
	}
	if _, _, err := k.Rotate(ctx, rec.ID, time.Minute, "admin"); err == nil {
		t.Fatal("rotating an expired key must fail")
	}
	if _, _, err := k.Rotate(ctx, "key_missing", time.Minute, "admin"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotate missing: %v", err)
	}
}

func TestLastUseIsBatched(t *testing.T) {
	ctx := context.Background()
	db, _ := newStore(t)
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	k := NewKeys(db, KeysOptions{Pepper: pepper, Now: clk.now})
	rec, plain, _ := k.Create(ctx, CreateOptions{Name: "a"})
	for i := 0; i < 50; i++ {
		clk.add(time.Second)
		if _, err := k.Authenticate(ctx, plain); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := db.KeyByID(ctx, rec.ID); !got.LastUsedAt.IsZero() {
		t.Fatal("last use written before the flush")
	}
	if err := k.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.KeyByID(ctx, rec.ID); !got.LastUsedAt.Equal(clk.now()) {
		t.Fatalf("LastUsedAt = %v, want %v", got.LastUsedAt, clk.now())
	}
}

func TestNoPepper(t *testing.T) {
	db, _ := newStore(t)
	k := NewKeys(db, KeysOptions{})
	if _, _, err := k.Create(context.Background(), CreateOptions{Name: "a"}); !errors.Is(err, ErrNoPepper) {
		t.Fatalf("Create without pepper: %v", err)
	}
	plain, _ := vkey.New(true)
	if _, err := k.Authenticate(context.Background(), plain); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Authenticate without pepper: %v", err)
	}
}

func TestPepperMatters(t *testing.T) {
	ctx := context.Background()
	db, _ := newStore(t)
	_, plain, _ := NewKeys(db, KeysOptions{Pepper: pepper}).Create(ctx, CreateOptions{Name: "a"})
	other := NewKeys(db, KeysOptions{Pepper: secret.New("another-pepper-999")})
	if _, err := other.Authenticate(ctx, plain); !errors.Is(err, ErrUnknown) {
		t.Fatalf("a different pepper must not find the key: %v", err)
	}
}
