package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/store"
)

// AppendUsage implements store.Usage.
func (s *DB) AppendUsage(ctx context.Context, recs []store.UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO usage (at, request_id, key_id, user_id, plan, route, provider, model, target_model,
		input, cached_input, cache_write, output, reasoning, cost_micros, status, metered, latency_ms, streamed, minted_by, minter_user, minter_plan)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range recs {
		streamed := 0
		if r.Streamed {
			streamed = 1
		}
		if _, err := stmt.ExecContext(ctx, nanos(r.At), r.RequestID, r.Key, r.User, r.Plan, r.Route, r.Provider, r.Model, r.TargetModel,
			r.Input, r.CachedInput, r.CacheWrite, r.Output, r.Reasoning, r.CostMicros, r.Status, r.Metered, r.Latency.Milliseconds(), streamed,
			r.MintedBy, r.MinterUser, r.MinterPlan); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// usageWhere renders a filter as a WHERE clause.
func usageWhere(f store.UsageFilter) (string, []any) {
	q, args := ` WHERE at >= ?`, []any{nanos(f.Since)}
	if !f.Until.IsZero() {
		q += ` AND at < ?`
		args = append(args, nanos(f.Until))
	}
	for _, c := range []struct{ col, v string }{{"key_id", f.Key}, {"user_id", f.User}, {"model", f.Model}, {"plan", f.Plan}, {"request_id", f.RequestID}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	return q, args
}

// SummarizeUsage implements store.Usage.
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
		group, order = "strftime('%Y-%m-%d', at / 1000000000, 'unixepoch')", "g"
	default:
		return nil, fmt.Errorf("summarize usage: unknown grouping %q", by)
	}
	where, args := usageWhere(f)
	rows, err := s.db.QueryContext(ctx, `SELECT `+group+` AS g, COUNT(*), SUM(input), SUM(cached_input), SUM(cache_write), SUM(output), SUM(cost_micros)
		FROM usage`+where+` GROUP BY g ORDER BY `+order, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.UsageGroup{}
	for rows.Next() {
		var g store.UsageGroup
		if err := rows.Scan(&g.Group, &g.Requests, &g.Input, &g.CachedInput, &g.CacheWrite, &g.Output, &g.CostMicros); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// ListUsage implements store.Usage.
func (s *DB) ListUsage(ctx context.Context, f store.UsageFilter, limit int) ([]store.UsageRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	where, args := usageWhere(f)
	rows, err := s.db.QueryContext(ctx, `SELECT at, request_id, key_id, user_id, plan, route, provider, model, target_model,
		input, cached_input, cache_write, output, reasoning, cost_micros, status, metered, latency_ms, streamed, minted_by, minter_user, minter_plan
		FROM usage`+where+` ORDER BY at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.UsageRecord{}
	for rows.Next() {
		var (
			r           store.UsageRecord
			at, latency int64
			streamed    int
		)
		if err := rows.Scan(&at, &r.RequestID, &r.Key, &r.User, &r.Plan, &r.Route, &r.Provider, &r.Model, &r.TargetModel,
			&r.Input, &r.CachedInput, &r.CacheWrite, &r.Output, &r.Reasoning, &r.CostMicros, &r.Status, &r.Metered, &latency, &streamed,
			&r.MintedBy, &r.MinterUser, &r.MinterPlan); err != nil {
			return nil, err
		}
		r.At, r.Latency, r.Streamed = fromNanos(at), time.Duration(latency)*time.Millisecond, streamed != 0
		out = append(out, r)
	}
	return out, rows.Err()
}

// SpentMicros implements store.Usage: a record counts toward its own key,
// user and plan, and toward those of the key that minted its browser token.
func (s *DB) SpentMicros(ctx context.Context, f store.SpendFilter) (int64, error) {
	match := func(key, user, plan string) (string, []any) {
		var conds []string
		var args []any
		for _, c := range []struct{ col, v string }{{key, f.Key}, {user, f.User}, {plan, f.Plan}} {
			if c.v != "" {
				conds = append(conds, c.col+" = ?")
				args = append(args, c.v)
			}
		}
		if len(conds) == 0 {
			return "1", nil
		}
		return strings.Join(conds, " AND "), args
	}
	own, ownArgs := match("key_id", "user_id", "plan")
	minter, minterArgs := match("minted_by", "minter_user", "minter_plan")
	args := append(append([]any{nanos(f.Since)}, ownArgs...), minterArgs...)
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT SUM(cost_micros) FROM usage WHERE at >= ? AND ((`+own+`) OR (minted_by != '' AND `+minter+`))`, args...).Scan(&n)
	return n.Int64, err
}

// PruneUsage implements store.Usage. It deletes in batches so a large
// backlog does not hold the write lock for long.
func (s *DB) PruneUsage(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, `DELETE FROM usage WHERE id IN (SELECT id FROM usage WHERE at < ? LIMIT 5000)`, nanos(before))
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if n < 5000 {
			return total, nil
		}
	}
}

// PutBudget implements store.Budgets.
func (s *DB) PutBudget(ctx context.Context, b store.Budget) error {
	if b.UpdatedAt.IsZero() {
		b.UpdatedAt = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO budgets (scope, subject, daily_micros, monthly_micros, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (scope, subject) DO UPDATE SET daily_micros = excluded.daily_micros, monthly_micros = excluded.monthly_micros, updated_at = excluded.updated_at`,
		b.Scope, b.Subject, b.DailyMicros, b.MonthlyMicros, nanos(b.UpdatedAt))
	return err
}

func scanBudget(r scanner) (store.Budget, error) {
	var (
		b       store.Budget
		updated int64
	)
	err := r.Scan(&b.Scope, &b.Subject, &b.DailyMicros, &b.MonthlyMicros, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Budget{}, store.ErrNotFound
	}
	b.UpdatedAt = fromNanos(updated)
	return b, err
}

// Budget implements store.Budgets.
func (s *DB) Budget(ctx context.Context, scope, subject string) (store.Budget, error) {
	return scanBudget(s.db.QueryRowContext(ctx, `SELECT scope, subject, daily_micros, monthly_micros, updated_at FROM budgets WHERE scope = ? AND subject = ?`, scope, subject))
}

// ListBudgets implements store.Budgets.
func (s *DB) ListBudgets(ctx context.Context) ([]store.Budget, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT scope, subject, daily_micros, monthly_micros, updated_at FROM budgets ORDER BY scope, subject`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Budget{}
	for rows.Next() {
		b, err := scanBudget(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// DeleteBudget implements store.Budgets.
func (s *DB) DeleteBudget(ctx context.Context, scope, subject string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM budgets WHERE scope = ? AND subject = ?`, scope, subject)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}
