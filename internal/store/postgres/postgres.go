// Package postgres is the store for keyward deployments that share one
// database between replicas: PostgreSQL through a pgx connection pool, with
// versioned migrations embedded in the binary and applied under an
// advisory lock, so replicas starting together migrate once.
//
// It answers every query as store/sqlite does for the same data (the
// storetest contract, and tests that compare the two query by query):
// times are kept as Unix nanoseconds, text sorts by its bytes, days are
// UTC days whatever the session's time zone, and sums that overflow an
// int64 are errors. One difference: a text column cannot hold NUL or
// invalid UTF-8, so in usage records and audit events those bytes are
// stored as U+FFFD rather than failing the write.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyward/keyward/internal/store"
)

// DB is the PostgreSQL store.
type DB struct {
	pool *pgxpool.Pool
	// listenPID is the server process of Listen's connection (for tests).
	listenPID atomic.Uint32
}

var _ store.Store = (*DB)(nil)

// Option changes how Open sets up the store.
type Option func(*options)

type options struct {
	maxConns int32
	migrate  bool
}

// MaxConns caps the pool's connections (default: pool_max_conns in the
// DSN, else the greater of 4 and the number of CPUs).
func MaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// SkipMigrations makes Open leave the schema alone, for deployments whose
// database role may not change it; Open then fails if a migration is
// pending (run Migrate with a role that may).
func SkipMigrations() Option { return func(o *options) { o.migrate = false } }

// Open connects to the database at dsn and brings the schema up to date;
// ctx bounds connecting and migrating only. dsn is a postgres:// URL or a
// key=value string, whose parameters include search_path (the schema to
// use), pool_max_conns, and default_query_exec_mode=exec behind a
// transaction-pooling PgBouncer.
//
// Each method's ctx bounds its statements: when it ends, the statement is
// cancelled on the server and the method returns ctx's error.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	o := options{migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// Not the parse error: it may quote the DSN, password and all.
		return nil, errors.New("postgres: the DSN is not a valid connection string (not shown: it may hold a password)")
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 10 * time.Second
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "keyward"
	}
	// A cancelled context cancels the query on the server too, and keeps
	// the connection; if the server does not answer, the connection is
	// dropped a second later.
	cc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrapf(ctx, err, "postgres")
	}
	s := &DB{pool: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, wrapf(ctx, err, "postgres: connect %s", target(cc))
	}
	if o.migrate {
		err = s.Migrate(ctx)
	} else {
		err = s.checkMigrated(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// target names the server and database for messages, without credentials.
func target(cc *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", cc.Host, cc.Port, cc.Database)
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *DB) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers, for readiness checks.
func (s *DB) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return wrapf(ctx, err, "postgres: ping")
	}
	return nil
}

// retryRead runs a read again when the connection it was given turns out
// lost: after a restart, a failover or pg_terminate_backend, each pooled
// connection fails its next query (and the pool drops it), which must
// not fail the request that drew it. It tries at most once per pooled
// connection, plus one; a connection that cannot be made is not tried
// again. A failure of the store is marked store.ErrUnavailable.
func retryRead[T any](ctx context.Context, s *DB, read func() (T, error)) (T, error) {
	tries := int(s.pool.Config().MaxConns) + 1
	for try := 1; ; try++ {
		v, err := read()
		if err == nil || try >= tries || ctx.Err() != nil || !connLost(err) {
			return v, classify(err)
		}
	}
}

// connLost reports whether err says an established connection was lost
// (rather than the statement failing, or a connection not being made).
func connLost(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 57P01..03: the server is shutting
		// down or terminated this backend.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// classify marks err store.ErrUnavailable when the store failed — lost or
// refused connections, timeouts, a read-only or full database, lock and
// statement timeouts, conflicts to try again — and store.ErrBadRecord
// when the data was refused (classes 22 and 23).
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) {
		return err
	}
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &pe):
		switch c := pe.Code; {
		case strings.HasPrefix(c, "22"), strings.HasPrefix(c, "23"):
			return fmt.Errorf("%w: %w", store.ErrBadRecord, err)
		case strings.HasPrefix(c, "08"), strings.HasPrefix(c, "53"), strings.HasPrefix(c, "57"), strings.HasPrefix(c, "40"),
			c == "25006", c == "55P03", c == "55006":
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	case connLost(err), errors.As(err, &ce), pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// nanos and fromNanos are how times are stored (store.UnixNanos).
var (
	nanos     = store.UnixNanos
	fromNanos = store.FromUnixNanos
)

// storable makes s acceptable to a text column, which cannot hold NUL or
// invalid UTF-8 (SQLite can). It is used where a record must not be lost
// to one odd byte: usage records, whose batch fails as a whole, and audit
// events.
func storable(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// wrapf wraps a database error with what was being done. When ctx has
// ended it wraps ctx's error too: the server then reports only that it
// cancelled the statement.
func wrapf(ctx context.Context, err error, format string, args ...any) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%w)", cerr, err)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// isUniqueViolation reports whether err is a unique or primary key
// constraint failing.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// params collects positional query arguments.
type params []any

// add appends v and returns its placeholder.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

const keyColumns = `id, name, hash, prefix, user_id, plan, scopes, test, created_at, expires_at, revoked_at, last_used_at, rotated_from`

func scanKey(r pgx.Row) (store.Key, error) {
	var (
		k                                   store.Key
		created, expires, revoked, lastUsed int64
	)
	err := r.Scan(&k.ID, &k.Name, &k.Hash, &k.Prefix, &k.User, &k.Plan, &k.Scopes, &k.Test, &created, &expires, &revoked, &lastUsed, &k.RotatedFrom)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Key{}, store.ErrNotFound
	}
	if err != nil {
		return store.Key{}, err
	}
	// As in SQLite, no scopes and an empty hash read back as nil.
	if len(k.Scopes) == 0 {
		k.Scopes = nil
	}
	if len(k.Hash) == 0 {
		k.Hash = nil
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt, k.LastUsedAt = fromNanos(created), fromNanos(expires), fromNanos(revoked), fromNanos(lastUsed)
	return k, nil
}

// CreateKey implements store.Keys.
func (s *DB) CreateKey(ctx context.Context, k store.Key) error {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		k.ID, k.Name, k.Hash, k.Prefix, k.User, k.Plan, scopes, k.Test, nanos(k.CreatedAt), nanos(k.ExpiresAt), nanos(k.RevokedAt), nanos(k.LastUsedAt), k.RotatedFrom)
	if isUniqueViolation(err) {
		return store.ErrExists
	}
	if err != nil {
		return wrapf(ctx, err, "create key %q", k.ID)
	}
	return nil
}

// KeyByID implements store.Keys.
func (s *DB) KeyByID(ctx context.Context, id string) (store.Key, error) {
	return retryRead(ctx, s, func() (store.Key, error) { return s.keyByID(ctx, id) })
}

func (s *DB) keyByID(ctx context.Context, id string) (store.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = $1`, id))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return k, wrapf(ctx, err, "key %q", id)
	}
	return k, err
}

// KeyByHash implements store.Keys.
func (s *DB) KeyByHash(ctx context.Context, hash []byte) (store.Key, error) {
	return retryRead(ctx, s, func() (store.Key, error) { return s.keyByHash(ctx, hash) })
}

func (s *DB) keyByHash(ctx context.Context, hash []byte) (store.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM keys WHERE hash = $1`, hash))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return k, wrapf(ctx, err, "key by hash")
	}
	return k, err
}

// ListKeys implements store.Keys.
func (s *DB) ListKeys(ctx context.Context, f store.KeyFilter) ([]store.Key, error) {
	return retryRead(ctx, s, func() ([]store.Key, error) { return s.listKeys(ctx, f) })
}

func (s *DB) listKeys(ctx context.Context, f store.KeyFilter) ([]store.Key, error) {
	var p params
	q := `SELECT ` + keyColumns + ` FROM keys WHERE true`
	if f.User != "" {
		q += ` AND user_id = ` + p.add(f.User)
	}
	if !f.IncludeRevoked {
		q += ` AND revoked_at = 0`
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY created_at, id`, p...)
	if err != nil {
		return nil, wrapf(ctx, err, "list keys")
	}
	list, err := pgx.AppendRows([]store.Key(nil), rows, func(r pgx.CollectableRow) (store.Key, error) { return scanKey(r) })
	if err != nil {
		return nil, wrapf(ctx, err, "list keys")
	}
	return list, nil
}

// updateKey runs update, a statement on the key with id $1, and says
// ErrNotFound when there is no such key (an update that changed nothing
// because of its conditions is not an error).
func (s *DB) updateKey(ctx context.Context, op, update string, args ...any) error {
	var n int
	err := s.pool.QueryRow(ctx, `WITH target AS (SELECT 1 FROM keys WHERE id = $1), changed AS (`+update+` RETURNING 1)
		SELECT count(*) FROM target`, args...).Scan(&n)
	if err != nil {
		return wrapf(ctx, err, "%s key %q", op, args[0])
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// RevokeKey implements store.Keys.
func (s *DB) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return s.updateKey(ctx, "revoke", `UPDATE keys SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0`, id, nanos(at))
}

// ExpireKey implements store.Keys.
func (s *DB) ExpireKey(ctx context.Context, id string, at time.Time) error {
	return s.updateKey(ctx, "expire", `UPDATE keys SET expires_at = $2 WHERE id = $1 AND (expires_at = 0 OR expires_at > $2)`, id, nanos(at))
}

// TouchKeys implements store.Keys in one round trip. The rows are locked
// in id order before they are updated (an UPDATE's own order is its plan's),
// so that batches from several replicas touching the same keys cannot
// deadlock; the two statements form one implicit transaction.
func (s *DB) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	ids := make([]string, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ats := make([]int64, len(ids))
	for i, id := range ids {
		ats[i] = nanos(used[id])
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT keys.id FROM keys JOIN unnest($1::text[], $2::bigint[]) AS t(id, at) ON keys.id = t.id
		WHERE keys.last_used_at < t.at ORDER BY keys.id FOR UPDATE OF keys`, ids, ats)
	b.Queue(`UPDATE keys SET last_used_at = t.at FROM unnest($1::text[], $2::bigint[]) AS t(id, at)
		WHERE keys.id = t.id AND keys.last_used_at < t.at`, ids, ats)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return wrapf(ctx, err, "touch %d keys", len(ids))
	}
	return nil
}

// PutUser implements store.Users.
func (s *DB) PutUser(ctx context.Context, u store.User) error {
	now := time.Now().UnixNano()
	created := nanos(u.CreatedAt)
	if created == 0 {
		created = now
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, plan, disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET plan = excluded.plan, disabled = excluded.disabled, updated_at = excluded.updated_at`,
		u.ID, u.Plan, u.Disabled, created, now)
	if err != nil {
		return wrapf(ctx, err, "put user %q", u.ID)
	}
	return nil
}

func scanUser(r pgx.Row) (store.User, error) {
	var (
		u                store.User
		created, updated int64
	)
	err := r.Scan(&u.ID, &u.Plan, &u.Disabled, &created, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	if err != nil {
		return store.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, nil
}

// User implements store.Users.
func (s *DB) User(ctx context.Context, id string) (store.User, error) {
	return retryRead(ctx, s, func() (store.User, error) { return s.user(ctx, id) })
}

func (s *DB) user(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT id, plan, disabled, created_at, updated_at FROM users WHERE id = $1`, id))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return u, wrapf(ctx, err, "user %q", id)
	}
	return u, err
}

// ListUsers implements store.Users.
func (s *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, plan, disabled, created_at, updated_at FROM users ORDER BY id`)
	if err != nil {
		return nil, wrapf(ctx, err, "list users")
	}
	list, err := pgx.AppendRows([]store.User(nil), rows, func(r pgx.CollectableRow) (store.User, error) { return scanUser(r) })
	if err != nil {
		return nil, wrapf(ctx, err, "list users")
	}
	return list, nil
}

// AppendEvent implements store.Audit.
func (s *DB) AppendEvent(ctx context.Context, e store.Event) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit (at, kind, actor, subject, detail) VALUES ($1, $2, $3, $4, $5)`,
		nanos(e.At), storable(e.Kind), storable(e.Actor), storable(e.Subject), storable(e.Detail))
	if err != nil {
		return wrapf(ctx, err, "append event %q", e.Kind)
	}
	return nil
}

// Events implements store.Audit.
func (s *DB) Events(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var p params
	q := `SELECT id, at, kind, actor, subject, detail FROM audit WHERE at >= ` + p.add(nanos(f.Since))
	if f.Kind != "" {
		q += ` AND kind = ` + p.add(f.Kind)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ` + p.add(f.Limit)
	rows, err := s.pool.Query(ctx, q, p...)
	if err != nil {
		return nil, wrapf(ctx, err, "events")
	}
	list, err := pgx.AppendRows([]store.Event(nil), rows, func(r pgx.CollectableRow) (store.Event, error) {
		var (
			e  store.Event
			at int64
		)
		err := r.Scan(&e.ID, &at, &e.Kind, &e.Actor, &e.Subject, &e.Detail)
		e.At = fromNanos(at)
		return e, err
	})
	if err != nil {
		return nil, wrapf(ctx, err, "events")
	}
	return list, nil
}
