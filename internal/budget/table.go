package budget

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/store"
)

// Lister is what Table reads: the operators' budgets.
type Lister interface {
	ListBudgets(ctx context.Context) ([]store.Budget, error)
}

// Table caches the operators' budgets for a short time, so the request
// path does not query the store each time, and a budget set with
// `keyward budgets set` applies within TTL in every process.
type Table struct {
	src Lister
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	at     time.Time
	byName map[string]store.Budget
}

// NewTable returns a cache of src's budgets (ttl 0: one second).
func NewTable(src Lister, ttl time.Duration) *Table {
	if ttl <= 0 {
		ttl = time.Second
	}
	return &Table{src: src, ttl: ttl, now: time.Now}
}

// Get returns the budgets by scope + "\x00" + subject.
func (t *Table) Get(ctx context.Context) (map[string]store.Budget, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byName != nil && t.now().Sub(t.at) < t.ttl {
		return t.byName, nil
	}
	list, err := t.src.ListBudgets(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.Budget, len(list))
	for _, b := range list {
		m[b.Scope+"\x00"+b.Subject] = b
	}
	t.byName, t.at = m, t.now()
	return m, nil
}
