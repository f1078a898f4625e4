package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "keyward.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutUser(ctx, store.User{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, path) // migrations already applied: a no-op
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.User(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	if db, err := Open(context.Background(), filepath.Join(dir, "new", "sub", "k.db")); err != nil {
		t.Fatalf("directories are created: %v", err)
	} else {
		db.Close()
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(context.Background(), filepath.Join(file, "k.db")); err == nil {
		t.Fatal("a path under a file must fail")
	}
}
