package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded file, migrations/NNNN_what.sql.
type migration struct {
	version int64
	name    string
	sql     string
}

// migrations are the embedded migrations in version order.
var migrations = sync.OnceValues(func() ([]migration, error) { return parseMigrations(migrationFiles) })

func parseMigrations(fsys fs.FS) ([]migration, error) {
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		name := path.Base(f)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", name)
		}
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i, m := range ms {
		if m.version != int64(i+1) {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions run 1, 2, 3, … without gaps or repeats)", m.name, m.version, i+1)
		}
	}
	return ms, nil
}

// Migrate brings the schema in the search_path up to date. Each migration
// runs in its own transaction holding an advisory lock on the schema, so
// that replicas starting at once apply each exactly once; applied versions
// are kept in schema_migrations. Versions newer than this binary knows (a
// newer replica migrated first) are left alone.
func (s *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return wrapf(ctx, err, "postgres: migrate")
	}
	for {
		applied, err := s.migrateNext(ctx, ms)
		if err != nil {
			return wrapf(ctx, err, "postgres: migrate")
		}
		if !applied {
			return nil
		}
	}
}

// migrateNext applies the first pending migration and reports whether
// there was one.
func (s *DB) migrateNext(ctx context.Context, ms []migration) (applied bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSchema(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    bigint PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		done, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if done[m.version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			applied = true
			return nil
		}
		return nil
	})
	return applied, err
}

// lockSchema takes the transaction's advisory lock on migrating the
// current schema: schemas migrate independently of each other.
func lockSchema(ctx context.Context, tx pgx.Tx) error {
	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return errors.New("the search_path names no schema that exists")
	}
	h := fnv.New64a()
	h.Write([]byte("keyward.migrate\x00" + *schema))
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64()))
	return err
}

// querier is a pool or a transaction.
type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

func appliedVersions(ctx context.Context, q querier) (map[int64]bool, error) {
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	done := make(map[int64]bool, len(versions))
	for _, v := range versions {
		done[v] = true
	}
	return done, nil
}

// checkMigrated fails when a migration this binary knows is not applied.
func (s *DB) checkMigrated(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return wrapf(ctx, err, "postgres")
	}
	done, err := appliedVersions(ctx, s.pool)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: never migrated
		done, err = map[int64]bool{}, nil
	}
	if err != nil {
		return wrapf(ctx, err, "postgres: schema version")
	}
	var pending []string
	for _, m := range ms {
		if !done[m.version] {
			pending = append(pending, m.name)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("postgres: %d migrations pending (%s): migrations are skipped, so run them with a role that may change the schema",
			len(pending), strings.Join(pending, ", "))
	}
	return nil
}
