// Package pgtest is what tests share to use a real PostgreSQL: the one at
// KEYWARD_TEST_POSTGRES, else a local one with trust authentication; an
// admin pool to look behind a store's back; and a fresh schema per test,
// dropped after it, so tests run in parallel and leave nothing behind.
// Without a server the tests are skipped — unless CI=true, where they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DSN is the test server's connection string.
func DSN() string {
	if v := os.Getenv("KEYWARD_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

var admin struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

// AdminPool is the tests' own connection to the server, for creating
// schemas and looking behind a store's back.
func AdminPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	admin.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cfg, err := pgxpool.ParseConfig(DSN())
		if err != nil {
			admin.err = errors.New("KEYWARD_TEST_POSTGRES is not a valid connection string")
			return
		}
		cfg.MaxConns = 4
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			if err = pool.Ping(ctx); err != nil {
				pool.Close()
			}
		}
		admin.pool, admin.err = pool, err
	})
	if admin.err != nil {
		msg := fmt.Sprintf("PostgreSQL at %s is not reachable (KEYWARD_TEST_POSTGRES names another): %v", redacted(DSN()), admin.err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return admin.pool
}

// Close closes the admin pool (from a TestMain, after the tests).
func Close() {
	if admin.pool != nil {
		admin.pool.Close()
	}
}

func redacted(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(a key=value string)"
}

// WithParam sets a connection parameter in a URL or key=value DSN.
func WithParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			panic(err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "='" + value + "'"
}

// RandomName is prefix and 16 random hex digits: a name no other test
// uses.
func RandomName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Schema creates an empty schema, dropped when the test ends, and
// returns its name and a DSN whose search_path is it.
func Schema(t testing.TB) (schema, dsn string) {
	t.Helper()
	pool := AdminPool(t)
	schema = RandomName("kw_test_")
	if _, err := pool.Exec(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema, WithParam(DSN(), "search_path", schema)
}
