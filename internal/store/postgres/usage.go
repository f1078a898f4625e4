package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/store"
)

var usageColumns = []string{"at", "request_id", "key_id", "user_id", "plan", "route", "provider", "model", "target_model",
	"input", "cached_input", "cache_write", "output", "reasoning", "cost_micros", "status", "metered", "latency_ms", "streamed",
	"minted_by", "minter_user", "minter_plan"}

// AppendUsage implements store.Usage with one COPY, which is atomic.
func (s *DB) AppendUsage(ctx context.Context, recs []store.UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"usage"}, usageColumns, pgx.CopyFromSlice(len(recs), func(i int) ([]any, error) {
		r := &recs[i]
		return []any{nanos(r.At), storable(r.RequestID), storable(r.Key), storable(r.User), storable(r.Plan), storable(r.Route),
			storable(r.Provider), storable(r.Model), storable(r.TargetModel),
			r.Input, r.CachedInput, r.CacheWrite, r.Output, r.Reasoning, r.CostMicros, int64(r.Status), storable(r.Metered),
			r.Latency.Milliseconds(), r.Streamed, storable(r.MintedBy), storable(r.MinterUser), storable(r.MinterPlan)}, nil
	}))
	if err != nil {
		return wrapf(ctx, classify(err), "append %d usage records", len(recs))
	}
	return nil
}

// usageWhere renders a filter as a WHERE clause.
func usageWhere(f store.UsageFilter, p *params) string {
	q := ` WHERE at >= ` + p.add(nanos(f.Since))
	if !f.Until.IsZero() {
		q += ` AND at < ` + p.add(nanos(f.Until))
	}
	for _, c := range []struct{ col, v string }{{"key_id", f.Key}, {"user_id", f.User}, {"model", f.Model}, {"plan", f.Plan}, {"request_id", f.RequestID}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ` + p.add(c.v)
		}
	}
	return q
}

// SummarizeUsage implements store.Usage. Sums are cast back to bigint, so
// one that overflows is an error, as in SQLite. Groups tied on cost are in
// the byte order of their names, and days are UTC whatever the session's
// time zone.
func (s *DB) SummarizeUsage(ctx context.Context, f store.UsageFilter, by string) ([]store.UsageGroup, error) {
	var group, order string
	switch by {
	case store.ByUser:
		group, order = "user_id", "SUM(cost_micros) DESC, g"
	case store.ByKey:
		group, order = "key_id", "SUM(cost_micros) DESC, g"
	case store.ByModel:
		group, order = "model", "SUM(cost_micros) DESC, g"
	case store.ByDay:
		// Whole seconds first, truncated toward zero as in SQLite.
		group, order = "to_char(to_timestamp(at / 1000000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')", "g"
	default:
		return nil, fmt.Errorf("summarize usage: unknown grouping %q", by)
	}
	var p params
	where := usageWhere(f, &p)
	rows, err := s.pool.Query(ctx, `SELECT `+group+` COLLATE "C" AS g, count(*), SUM(input)::bigint, SUM(cached_input)::bigint,
		SUM(cache_write)::bigint, SUM(output)::bigint, SUM(cost_micros)::bigint
		FROM usage`+where+` GROUP BY g ORDER BY `+order, p...)
	if err != nil {
		return nil, wrapf(ctx, err, "summarize usage by %s", by)
	}
	out, err := pgx.AppendRows([]store.UsageGroup{}, rows, func(r pgx.CollectableRow) (store.UsageGroup, error) {
		var g store.UsageGroup
		err := r.Scan(&g.Group, &g.Requests, &g.Input, &g.CachedInput, &g.CacheWrite, &g.Output, &g.CostMicros)
		return g, err
	})
	if err != nil {
		return nil, wrapf(ctx, err, "summarize usage by %s", by)
	}
	return out, nil
}

// ListUsage implements store.Usage.
func (s *DB) ListUsage(ctx context.Context, f store.UsageFilter, limit int) ([]store.UsageRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	var p params
	where := usageWhere(f, &p)
	rows, err := s.pool.Query(ctx, `SELECT `+strings.Join(usageColumns, ", ")+` FROM usage`+where+` ORDER BY at DESC, id DESC LIMIT `+p.add(limit), p...)
	if err != nil {
		return nil, wrapf(ctx, err, "list usage")
	}
	out, err := pgx.AppendRows([]store.UsageRecord{}, rows, func(row pgx.CollectableRow) (store.UsageRecord, error) {
		var (
			r           store.UsageRecord
			at, latency int64
		)
		err := row.Scan(&at, &r.RequestID, &r.Key, &r.User, &r.Plan, &r.Route, &r.Provider, &r.Model, &r.TargetModel,
			&r.Input, &r.CachedInput, &r.CacheWrite, &r.Output, &r.Reasoning, &r.CostMicros, &r.Status, &r.Metered, &latency, &r.Streamed,
			&r.MintedBy, &r.MinterUser, &r.MinterPlan)
		r.At, r.Latency = fromNanos(at), time.Duration(latency)*time.Millisecond
		return r, err
	})
	if err != nil {
		return nil, wrapf(ctx, err, "list usage")
	}
	return out, nil
}

// SpentMicros implements store.Usage: a record counts toward its own key,
// user and plan, and toward those of the key that minted its browser token.
func (s *DB) SpentMicros(ctx context.Context, f store.SpendFilter) (int64, error) {
	return retryRead(ctx, s, func() (int64, error) { return s.spentMicros(ctx, f) })
}

func (s *DB) spentMicros(ctx context.Context, f store.SpendFilter) (int64, error) {
	var p params
	match := func(key, user, plan string) string {
		var conds []string
		for _, c := range []struct{ col, v string }{{key, f.Key}, {user, f.User}, {plan, f.Plan}} {
			if c.v != "" {
				conds = append(conds, c.col+" = "+p.add(c.v))
			}
		}
		if len(conds) == 0 {
			return "true"
		}
		return strings.Join(conds, " AND ")
	}
	since := p.add(nanos(f.Since))
	own := match("key_id", "user_id", "plan")
	minter := match("minted_by", "minter_user", "minter_plan")
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(SUM(cost_micros), 0)::bigint FROM usage
		WHERE at >= `+since+` AND ((`+own+`) OR (minted_by <> '' AND `+minter+`))`, p...).Scan(&n)
	if err != nil {
		return 0, wrapf(ctx, err, "spent micros")
	}
	return n, nil
}

// pruneBatch bounds how many records one statement deletes, so a large
// backlog does not hold locks for long.
const pruneBatch = 5000

// PruneUsage implements store.Usage. Replicas pruning at once skip each
// other's batches instead of waiting for them.
func (s *DB) PruneUsage(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `WITH doomed AS (SELECT id FROM usage WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
			DELETE FROM usage WHERE id IN (SELECT id FROM doomed)`, nanos(before), pruneBatch)
		if err != nil {
			return total, wrapf(ctx, err, "prune usage")
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

// PutBudget implements store.Budgets.
func (s *DB) PutBudget(ctx context.Context, b store.Budget) error {
	if b.UpdatedAt.IsZero() {
		b.UpdatedAt = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO budgets (scope, subject, daily_micros, monthly_micros, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (scope, subject) DO UPDATE SET daily_micros = excluded.daily_micros, monthly_micros = excluded.monthly_micros, updated_at = excluded.updated_at`,
		b.Scope, b.Subject, b.DailyMicros, b.MonthlyMicros, nanos(b.UpdatedAt))
	if err != nil {
		return wrapf(ctx, err, "put budget %s %q", b.Scope, b.Subject)
	}
	return nil
}

func scanBudget(r pgx.Row) (store.Budget, error) {
	var (
		b       store.Budget
		updated int64
	)
	err := r.Scan(&b.Scope, &b.Subject, &b.DailyMicros, &b.MonthlyMicros, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Budget{}, store.ErrNotFound
	}
	b.UpdatedAt = fromNanos(updated)
	return b, err
}

// Budget implements store.Budgets.
func (s *DB) Budget(ctx context.Context, scope, subject string) (store.Budget, error) {
	b, err := scanBudget(s.pool.QueryRow(ctx, `SELECT scope, subject, daily_micros, monthly_micros, updated_at FROM budgets WHERE scope = $1 AND subject = $2`, scope, subject))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return b, wrapf(ctx, err, "budget %s %q", scope, subject)
	}
	return b, err
}

// ListBudgets implements store.Budgets.
func (s *DB) ListBudgets(ctx context.Context) ([]store.Budget, error) {
	return retryRead(ctx, s, func() ([]store.Budget, error) { return s.listBudgets(ctx) })
}

func (s *DB) listBudgets(ctx context.Context) ([]store.Budget, error) {
	rows, err := s.pool.Query(ctx, `SELECT scope, subject, daily_micros, monthly_micros, updated_at FROM budgets ORDER BY scope, subject`)
	if err != nil {
		return nil, wrapf(ctx, err, "list budgets")
	}
	out, err := pgx.AppendRows([]store.Budget{}, rows, func(r pgx.CollectableRow) (store.Budget, error) { return scanBudget(r) })
	if err != nil {
		return nil, wrapf(ctx, err, "list budgets")
	}
	return out, nil
}

// DeleteBudget implements store.Budgets.
func (s *DB) DeleteBudget(ctx context.Context, scope, subject string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM budgets WHERE scope = $1 AND subject = $2`, scope, subject)
	if err != nil {
		return wrapf(ctx, err, "delete budget %s %q", scope, subject)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
