package budget

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/store"
)

// Lister is what Table reads: the operators' budgets.
type Lister interface {
	ListBudgets(ctx context.Context) ([]store.Budget, error)
}

// Table caches the operators' budgets (store.Freshness), so the request
// path does not query the store each time, and a budget set with
// `keyward budgets set` applies within the cache's TTL in every process —
// at once where the store sends change events (Forget).
type Table struct {
	src   Lister
	cache *store.Cache[struct{}, map[string]store.Budget]
}

// NewTable returns a cache of src's budgets (f nil: store.DefaultFreshness).
func NewTable(src Lister, f *store.Freshness) *Table {
	return &Table{src: src, cache: store.NewCache[struct{}, map[string]store.Budget](f)}
}

// Forget drops the cached budgets (a change event).
func (t *Table) Forget() { t.cache.Clear() }

// Expire makes the budgets be read again (change events may have been
// missed); while the store fails they still serve within the grace
// period.
func (t *Table) Expire() { t.cache.Expire() }

// Get returns the budgets by scope + "\x00" + subject.
func (t *Table) Get(ctx context.Context) (map[string]store.Budget, error) {
	return t.cache.Get(ctx, struct{}{}, func(ctx context.Context) (map[string]store.Budget, error) {
		list, err := t.src.ListBudgets(ctx)
		if err != nil {
			return nil, err
		}
		m := make(map[string]store.Budget, len(list))
		for _, b := range list {
			m[b.Scope+"\x00"+b.Subject] = b
		}
		return m, nil
	})
}

// Spender is whose money a request spends: a credential, its user, and
// the plan it is on (nil: none).
type Spender struct {
	Key, User string
	Plan      *config.Plan
}

// CapsFor lists the spend caps of a spender: its plan's (per user on the
// plan, or per credential without a user) and the budgets set for its key
// and its user. t may be nil: plans' caps only.
func (t *Table) CapsFor(ctx context.Context, s Spender) ([]Cap, error) {
	var caps []Cap
	add := func(c Cap, daily, monthly int64) {
		if daily > 0 {
			c.Period, c.Limit = Daily, daily
			caps = append(caps, c)
		}
		if monthly > 0 {
			c.Period, c.Limit = Monthly, monthly
			caps = append(caps, c)
		}
	}
	if p := s.Plan; p != nil && p.Spend != nil {
		c := Cap{Scope: ScopeKey, Key: s.Key, Source: "plan " + p.Name}
		if s.User != "" {
			c = Cap{Scope: ScopePlanUser, Plan: p.Name, User: s.User, Source: "plan " + p.Name}
		}
		add(c, Micro(p.Spend.DailyUSD), Micro(p.Spend.MonthlyUSD))
	}
	if t == nil {
		return caps, nil
	}
	bs, err := t.Get(ctx)
	if err != nil {
		return nil, err
	}
	if b, ok := bs[ScopeKey+"\x00"+s.Key]; ok {
		add(Cap{Scope: ScopeKey, Key: s.Key, Source: "budget"}, b.DailyMicros, b.MonthlyMicros)
	}
	if s.User != "" {
		if b, ok := bs[ScopeUser+"\x00"+s.User]; ok {
			add(Cap{Scope: ScopeUser, User: s.User, Source: "budget"}, b.DailyMicros, b.MonthlyMicros)
		}
	}
	return caps, nil
}

// StoreSpend is the ledger's SpendSource over the store's usage records.
type StoreSpend struct{ Usage store.Usage }

// Spent implements SpendSource.
func (s StoreSpend) Spent(ctx context.Context, c Cap, since time.Time) (int64, error) {
	f := store.SpendFilter{Since: since}
	switch c.Scope {
	case ScopeKey:
		f.Key = c.Key
	case ScopeUser:
		f.User = c.User
	case ScopePlanUser:
		f.User, f.Plan = c.User, c.Plan
	default:
		return 0, fmt.Errorf("unknown budget scope %q", c.Scope)
	}
	return s.Usage.SpentMicros(ctx, f)
}
