package postgres

import (
	"context"
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
// checking that its connection still answers: a connection lost without
// a word is noticed within listenIdle plus a second.
var listenIdle = 2 * time.Second

// Listen delivers the changes committed to this schema — by any replica,
// the CLI, or SQL typed by hand — over a connection of its own, outside
// the pool. After each (re)connection it first delivers ChangeAll (what
// happened while it was away is unknown) and reports live(true); when the
// connection fails it reports live(false) and connects again, backing off
// up to two seconds.
func (s *DB) Listen(ctx context.Context, fn func(store.Change), live func(bool)) error {
	backoff := 100 * time.Millisecond
	for {
		connected, err := s.listenOnce(ctx, fn, live)
		live(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if connected {
			backoff = 100 * time.Millisecond
		}
		_ = err // the caller learns of it through live(false); the reason is the pool's to log
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// listenOnce listens on one connection until it fails or ctx ends.
func (s *DB) listenOnce(ctx context.Context, fn func(store.Change), live func(bool)) (connected bool, err error) {
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
	live(true)
	fn(store.Change{Kind: store.ChangeAll})
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, ctx.Err()
		case err != nil && pgconn.Timeout(err) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, wrapf(ctx, err, "postgres: listen: ping")
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

// parseChange reads "<schema> <kind> <id>", keeping changes to schema.
func parseChange(payload, schema string) (store.Change, bool) {
	sch, rest, ok := strings.Cut(payload, " ")
	if !ok || sch != schema {
		return store.Change{}, false
	}
	kind, id, _ := strings.Cut(rest, " ")
	switch kind {
	case store.ChangeKey, store.ChangeUser, store.ChangeBudget, store.ChangeConfig, store.ChangeAll:
		return store.Change{Kind: kind, ID: id}, true
	}
	return store.Change{}, false
}

// Announce tells every listener of this schema of a change (ChangeConfig:
// reload the configuration).
func (s *DB) Announce(ctx context.Context, c store.Change) error {
	if strings.ContainsAny(c.Kind, " ") || c.Kind == "" {
		return errors.New("postgres: announce: a change needs a kind without spaces")
	}
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, current_schema() || ' ' || $2 || ' ' || $3)", changeChannel, c.Kind, c.ID); err != nil {
		return wrapf(ctx, err, "postgres: announce %s", c.Kind)
	}
	return nil
}
