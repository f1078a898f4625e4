// Package sqlite is the embedded store: one SQLite file (WAL mode) through
// modernc.org/sqlite, a pure-Go driver, with versioned migrations embedded
// in the binary.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/keyward/keyward/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the SQLite store.
type DB struct{ db *sql.DB }

var _ store.Store = (*DB)(nil)

// Open opens (creating it and its directory if needed) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	s := &DB{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", name)
		}
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// nanos and fromNanos are how times are stored (store.UnixNanos).
var (
	nanos     = store.UnixNanos
	fromNanos = store.FromUnixNanos
)

const keyColumns = `id, name, hash, prefix, user_id, plan, scopes, test, created_at, expires_at, revoked_at, last_used_at, rotated_from`

type scanner interface{ Scan(...any) error }

func scanKey(r scanner) (store.Key, error) {
	var (
		k                                       store.Key
		scopes                                  string
		test                                    int
		created, expires, revoked, lastUsedNano int64
	)
	err := r.Scan(&k.ID, &k.Name, &k.Hash, &k.Prefix, &k.User, &k.Plan, &scopes, &test, &created, &expires, &revoked, &lastUsedNano, &k.RotatedFrom)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Key{}, store.ErrNotFound
	}
	if err != nil {
		return store.Key{}, err
	}
	if scopes != "" {
		if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
			return store.Key{}, fmt.Errorf("key %s: scopes: %w", k.ID, err)
		}
	}
	k.Test = test != 0
	k.CreatedAt, k.ExpiresAt, k.RevokedAt, k.LastUsedAt = fromNanos(created), fromNanos(expires), fromNanos(revoked), fromNanos(lastUsedNano)
	return k, nil
}

// CreateKey implements store.Keys.
func (s *DB) CreateKey(ctx context.Context, k store.Key) error {
	scopes := ""
	if len(k.Scopes) > 0 {
		b, _ := json.Marshal(k.Scopes)
		scopes = string(b)
	}
	test := 0
	if k.Test {
		test = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Hash, k.Prefix, k.User, k.Plan, scopes, test, nanos(k.CreatedAt), nanos(k.ExpiresAt), nanos(k.RevokedAt), nanos(k.LastUsedAt), k.RotatedFrom)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return store.ErrExists
	}
	return err
}

// KeyByID implements store.Keys.
func (s *DB) KeyByID(ctx context.Context, id string) (store.Key, error) {
	return scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = ?`, id))
}

// KeyByHash implements store.Keys.
func (s *DB) KeyByHash(ctx context.Context, hash []byte) (store.Key, error) {
	return scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE hash = ?`, hash))
}

// ListKeys implements store.Keys.
func (s *DB) ListKeys(ctx context.Context, f store.KeyFilter) ([]store.Key, error) {
	q := `SELECT ` + keyColumns + ` FROM keys WHERE 1=1`
	var args []any
	if f.User != "" {
		q += ` AND user_id = ?`
		args = append(args, f.User)
	}
	if !f.IncludeRevoked {
		q += ` AND revoked_at = 0`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *DB) updateKey(ctx context.Context, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var exists int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM keys WHERE id = ?`, args[len(args)-1]).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return store.ErrNotFound
		}
	}
	return nil
}

// RevokeKey implements store.Keys.
func (s *DB) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return s.updateKey(ctx, `UPDATE keys SET revoked_at = ? WHERE revoked_at = 0 AND id = ?`, nanos(at), id)
}

// ExpireKey implements store.Keys.
func (s *DB) ExpireKey(ctx context.Context, id string, at time.Time) error {
	return s.updateKey(ctx, `UPDATE keys SET expires_at = ? WHERE (expires_at = 0 OR expires_at > ?) AND id = ?`, nanos(at), nanos(at), id)
}

// TouchKeys implements store.Keys.
func (s *DB) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE keys SET last_used_at = ? WHERE id = ? AND last_used_at < ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for id, at := range used {
		if _, err := stmt.ExecContext(ctx, nanos(at), id, nanos(at)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// PutUser implements store.Users.
func (s *DB) PutUser(ctx context.Context, u store.User) error {
	now := time.Now().UnixNano()
	created := nanos(u.CreatedAt)
	if created == 0 {
		created = now
	}
	disabled := 0
	if u.Disabled {
		disabled = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (id, plan, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET plan = excluded.plan, disabled = excluded.disabled, updated_at = excluded.updated_at`,
		u.ID, u.Plan, disabled, created, now)
	return err
}

func scanUser(r scanner) (store.User, error) {
	var (
		u                store.User
		disabled         int
		created, updated int64
	)
	err := r.Scan(&u.ID, &u.Plan, &disabled, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	u.Disabled = disabled != 0
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, err
}

// User implements store.Users.
func (s *DB) User(ctx context.Context, id string) (store.User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT id, plan, disabled, created_at, updated_at FROM users WHERE id = ?`, id))
}

// ListUsers implements store.Users.
func (s *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, plan, disabled, created_at, updated_at FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// AppendEvent implements store.Audit.
func (s *DB) AppendEvent(ctx context.Context, e store.Event) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit (at, kind, actor, subject, detail) VALUES (?, ?, ?, ?, ?)`,
		nanos(e.At), e.Kind, e.Actor, e.Subject, e.Detail)
	return err
}

// Events implements store.Audit.
func (s *DB) Events(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := `SELECT id, at, kind, actor, subject, detail FROM audit WHERE at >= ?`
	args := []any{nanos(f.Since)}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			e  store.Event
			at int64
		)
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.Actor, &e.Subject, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
