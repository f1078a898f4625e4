package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/keyward/keyward/internal/store"
)

// changeChannel is the channel the triggers of migration 0002 notify on,
// with "<schema> <kind> <id>".
const changeChannel = "keyward_changes"

var _ store.Changes = (*DB)(nil)

// listenIdle is how long the listener waits for a notification before
// proving that notifications still reach it: it sends one to itself
// through the pool and must hear it within listenIdle. A connection lost
// without a word — or one that never hears anything, as behind a
// transaction-pooling PgBouncer — is noticed within twice listenIdle.
var listenIdle = 2 * time.Second

// Listen delivers the changes committed to this schema — by any replica,
// the CLI, or SQL typed by hand — over a connection of its own, outside
// the pool. It reports live(true, nil) only once a notification it sent
// itself came back, after delivering ChangeAll (what happened while it
// was away is unknown); when notifications stop or cannot start it
// reports live(false, why) and connects again, backing off up to two
// seconds.
func (s *DB) Listen(ctx context.Context, fn func(store.Change), live func(on bool, why error)) error {
	backoff := 100 * time.Millisecond
	for {
		connected, err := s.listenOnce(ctx, fn, live)
		if ctx.Err() != nil {
			live(false, nil)
			return ctx.Err()
		}
		live(false, err)
		if connected {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// errDeaf is a listener that does not hear what it sends itself.
var errDeaf = errors.New("postgres: listen: a notification sent to this listener did not arrive (behind a transaction-pooling PgBouncer, point store.dsn at PostgreSQL itself or a session-pooling one)")

// listenOnce listens on one connection until it fails or ctx ends;
// connected says notifications flowed.
func (s *DB) listenOnce(ctx context.Context, fn func(store.Change), live func(bool, error)) (connected bool, err error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	// A wait that times out must keep the connection: the default handler
	// sets a deadline instead of cancelling on the server.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, wrapf(ctx, err, "postgres: listen")
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return false, wrapf(ctx, err, "postgres: listen")
	}
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return false, wrapf(ctx, err, "postgres: listen")
	}
	s.listenPID.Store(conn.PgConn().PID())
	var b [9]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	// Until its own notification comes back, nothing says it hears.
	if err := s.hearSelf(ctx, conn, schema, nonce, fn); err != nil {
		return false, err
	}
	fn(store.Change{Kind: store.ChangeAll})
	live(true, nil)
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, ctx.Err()
		case err != nil && pgconn.Timeout(err) && !conn.IsClosed():
			if err := s.hearSelf(ctx, conn, schema, nonce, fn); err != nil {
				return true, err
			}
		case err != nil:
			return true, wrapf(ctx, err, "postgres: listen")
		default:
			if c, ok := parseChange(n.Payload, schema); ok {
				fn(c)
			}
		}
	}
}

// hearSelf sends a notification through the pool and waits up to
// listenIdle for it on conn, passing on the changes that come first.
func (s *DB) hearSelf(ctx context.Context, conn *pgx.Conn, schema, nonce string, fn func(store.Change)) error {
	want := schema + " " + pingKind + " " + nonce
	pctx, cancel := context.WithTimeout(ctx, listenIdle)
	defer cancel()
	if _, err := s.pool.Exec(pctx, "SELECT pg_notify($1, $2)", changeChannel, want); err != nil {
		return wrapf(ctx, err, "postgres: listen: notify")
	}
	for {
		n, err := conn.WaitForNotification(pctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && pgconn.Timeout(err):
			return errDeaf
		case err != nil:
			return wrapf(ctx, err, "postgres: listen")
		case n.Payload == want:
			return nil
		}
		if c, ok := parseChange(n.Payload, schema); ok {
			fn(c)
		}
	}
}

// pingKind is the kind of the notifications a listener sends itself.
const pingKind = "ping"

// parseChange reads "<schema> <kind> <id>", keeping changes to schema of
// the kinds the triggers and Announce send. Anyone who may connect to the
// database may notify; the worst a forged change does is make replicas
// read records again (or reload their configuration, at most once a
// second).
func parseChange(payload, schema string) (store.Change, bool) {
	sch, rest, ok := strings.Cut(payload, " ")
	if !ok || sch != schema {
		return store.Change{}, false
	}
	kind, id, _ := strings.Cut(rest, " ")
	switch kind {
	case store.ChangeKey, store.ChangeUser, store.ChangeBudget, store.ChangeConfig:
		return store.Change{Kind: kind, ID: id}, true
	}
	return store.Change{}, false
}

// Announce tells every listener of this schema of a change (ChangeConfig:
// reload the configuration).
func (s *DB) Announce(ctx context.Context, c store.Change) error {
	if c.Kind != store.ChangeConfig {
		return errors.New("postgres: announce: only a configuration reload is announced; the tables announce their own changes")
	}
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, current_schema() || ' ' || $2 || ' ' || $3)", changeChannel, c.Kind, c.ID); err != nil {
		return wrapf(ctx, err, "postgres: announce %s", c.Kind)
	}
	return nil
}
