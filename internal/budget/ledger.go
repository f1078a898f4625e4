// Package budget prices requests and enforces spend caps. Before a request
// is forwarded the most it can cost is reserved against every cap that
// applies, all or none; afterwards the reservation settles to the real
// cost, or is released when nothing was charged. As long as reservations
// are upper bounds, the real spend never passes a cap, however many
// requests race for it.
package budget

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Period is a cap's window, in UTC.
type Period int

// Periods.
const (
	Daily Period = iota
	Monthly
)

func (p Period) String() string {
	if p == Monthly {
		return "monthly"
	}
	return "daily"
}

// Start is the beginning of the period that holds t.
func (p Period) Start(t time.Time) time.Time {
	t = t.UTC()
	if p == Monthly {
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// End is the beginning of the next period.
func (p Period) End(t time.Time) time.Time {
	s := p.Start(t)
	if p == Monthly {
		return s.AddDate(0, 1, 0)
	}
	return s.AddDate(0, 0, 1)
}

// Scopes name what a cap counts.
const (
	ScopeKey  = "key"  // one credential (Key: the principal id)
	ScopeUser = "user" // one user across credentials (User)
	// ScopePlanUser is one user's spend on one plan (Plan and User).
	ScopePlanUser = "plan-user"
)

// Cap is one spend cap.
type Cap struct {
	Scope string
	// Key, User and Plan name what the scope counts; the others are empty.
	Key, User, Plan string
	Period          Period
	// Limit is in micro-USD.
	Limit int64
	// Source says where the cap comes from, for messages ("plan free",
	// "budget").
	Source string
}

// Counter names what the cap counts in the period that holds now: caps
// with the same Counter count the same spend, whatever their limits.
func (c Cap) Counter(now time.Time) string {
	return c.Scope + "\x00" + c.Key + "\x00" + c.User + "\x00" + c.Plan + "\x00" + c.Period.String() + "\x00" + c.Period.Start(now).Format(time.DateOnly)
}

// SpendSource reports what a cap's subject has spent since a time, in
// micro-USD: the records already written, so spend survives restarts.
type SpendSource interface {
	Spent(ctx context.Context, c Cap, since time.Time) (int64, error)
}

// Refusal says which cap a reservation did not fit.
type Refusal struct {
	Cap Cap
	// Spent and Reserved are the cap's state at the time, in micro-USD.
	Spent, Reserved int64
	// Amount is what the request needed.
	Amount int64
	// ResetAt is when the cap's period ends.
	ResetAt time.Time
}

// Message is a client-safe explanation.
func (r *Refusal) Message() string {
	return fmt.Sprintf("The %s spend cap of %s for this %s (%s) is reached: %s used, this request may cost up to %s. It resets at %s.",
		r.Cap.Period, USD(r.Cap.Limit), scopeNoun(r.Cap.Scope), r.Cap.Source, USD(r.Spent+r.Reserved), USD(r.Amount),
		r.ResetAt.UTC().Format("2006-01-02 15:04 UTC"))
}

func scopeNoun(scope string) string {
	switch scope {
	case ScopeUser:
		return "user"
	case ScopePlanUser:
		return "user on this plan"
	}
	return "key"
}

// USD formats micro-USD as dollars.
func USD(micro int64) string {
	s := fmt.Sprintf("$%d.%06d", micro/1_000_000, micro%1_000_000)
	s = strings.TrimRight(s, "0")
	if i := strings.IndexByte(s, '.'); len(s)-i < 3 {
		s += strings.Repeat("0", 3-(len(s)-i))
	}
	return s
}

// ValidUSD reports whether an amount can be a cap: from 0 to 1,000,000
// US dollars.
func ValidUSD(v float64) bool { return v >= 0 && v <= 1e6 }

// Micro converts dollars to micro-USD, rounding to the nearest.
func Micro(usd float64) int64 { return int64(usd*1e6 + 0.5) }

// ErrSettled is returned when a reservation is settled or released twice.
var ErrSettled = errors.New("budget: reservation already settled")

// Ledger holds spend and reservations per cap and period. Reserve holds
// an amount against every cap, all or none; the Reservation then settles
// to the real cost or is released. MemoryLedger is the implementation for
// one process, redisledger.Ledger the one replicas share.
type Ledger interface {
	// Reserve holds amount (micro-USD) against every cap, all or none. It
	// returns a Refusal, and no Reservation, when some cap cannot take it.
	Reserve(ctx context.Context, caps []Cap, amount int64, now time.Time) (Reservation, *Refusal, error)
	// Spent reports a cap's settled spend and open reservations in the
	// period that holds now.
	Spent(ctx context.Context, c Cap, now time.Time) (spent, reserved int64, err error)
}

// Reservation is an amount held against caps until it is settled or
// released. Settle or Release must be called exactly once (more calls
// return ErrSettled and change nothing).
type Reservation interface {
	// Amount is what was reserved.
	Amount() int64
	// Settle replaces the reservation with the real cost.
	Settle(cost int64) error
	// Release gives the reservation back: nothing was charged.
	Release() error
}

var _ Ledger = (*MemoryLedger)(nil)

// MemoryLedger is a Ledger in memory, loading what was spent before from
// a SpendSource the first time a counter is used: right for one replica.
type MemoryLedger struct {
	src SpendSource
	mu  sync.Mutex
	c   map[string]*counter
	// loading serialises the first load of each counter.
	loading sync.Map // counter name → *sync.Mutex
	// added counts counters created since the last sweep.
	added int
}

// sweepEvery is how many new counters the ledger takes before it drops
// those of past periods.
const sweepEvery = 1024

type counter struct {
	spent, reserved int64
	end             time.Time
}

// NewMemoryLedger returns a ledger reading earlier spend from src (nil:
// none).
func NewMemoryLedger(src SpendSource) *MemoryLedger {
	return &MemoryLedger{src: src, c: map[string]*counter{}}
}

// memReservation is a MemoryLedger's Reservation.
type memReservation struct {
	l      *MemoryLedger
	keys   []string
	amount int64
	done   bool
}

// Amount implements Reservation.
func (r *memReservation) Amount() int64 { return r.amount }

// Reserve implements Ledger.
func (l *MemoryLedger) Reserve(ctx context.Context, caps []Cap, amount int64, now time.Time) (Reservation, *Refusal, error) {
	if amount < 0 {
		amount = 0
	}
	keys := make([]string, len(caps))
	for i, c := range caps {
		keys[i] = c.Counter(now)
		if err := l.load(ctx, keys[i], c, now); err != nil {
			return nil, nil, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range caps {
		ct := l.c[keys[i]]
		if ct.spent+ct.reserved+amount > c.Limit {
			return nil, &Refusal{Cap: c, Spent: ct.spent, Reserved: ct.reserved, Amount: amount, ResetAt: c.Period.End(now)}, nil
		}
	}
	// Two caps may count the same thing (a plan's cap and a budget for the
	// same key): each is checked above, the amount is held once.
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		l.c[k].reserved += amount
	}
	return &memReservation{l: l, keys: keys, amount: amount}, nil, nil
}

// load makes sure a counter exists, reading the spend so far once.
func (l *MemoryLedger) load(ctx context.Context, key string, c Cap, now time.Time) error {
	l.mu.Lock()
	_, ok := l.c[key]
	l.mu.Unlock()
	if ok {
		return nil
	}
	m, _ := l.loading.LoadOrStore(key, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	l.mu.Lock()
	_, ok = l.c[key]
	l.mu.Unlock()
	if ok {
		return nil
	}
	var spent int64
	if l.src != nil {
		var err error
		spent, err = l.src.Spent(ctx, c, c.Period.Start(now))
		if err != nil {
			return fmt.Errorf("budget: reading spend of %s %s: %w", c.Scope, c.Period, err)
		}
	}
	l.mu.Lock()
	l.c[key] = &counter{spent: spent, end: c.Period.End(now)}
	if l.added++; l.added >= sweepEvery {
		// Forget past periods now and then, so memory stays bounded by the
		// subjects active in the current ones.
		l.added = 0
		l.sweepLocked(now)
	}
	l.mu.Unlock()
	l.loading.Delete(key)
	return nil
}

// Settle implements Reservation.
func (r *memReservation) Settle(cost int64) error {
	return r.finish(cost)
}

// Release implements Reservation.
func (r *memReservation) Release() error { return r.finish(0) }

func (r *memReservation) finish(cost int64) error {
	if r == nil {
		return nil
	}
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.done {
		return ErrSettled
	}
	r.done = true
	for _, k := range r.keys {
		if ct, ok := l.c[k]; ok {
			ct.reserved -= r.amount
			ct.spent += max(cost, 0)
		}
	}
	return nil
}

// Spent implements Ledger (loading the counter if needed).
func (l *MemoryLedger) Spent(ctx context.Context, c Cap, now time.Time) (spent, reserved int64, err error) {
	key := c.Counter(now)
	if err := l.load(ctx, key, c, now); err != nil {
		return 0, 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ct := l.c[key]
	return ct.spent, ct.reserved, nil
}

// Sweep forgets counters of past periods with nothing reserved.
func (l *MemoryLedger) Sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
}

// Len is the number of counters held.
func (l *MemoryLedger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.c)
}

func (l *MemoryLedger) sweepLocked(now time.Time) {
	for k, ct := range l.c {
		if !now.Before(ct.end) && ct.reserved == 0 {
			delete(l.c, k)
		}
	}
}
