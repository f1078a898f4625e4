// Package ledgertest is the contract every budget.Ledger keeps: a suite
// of tests that the in-memory ledger and the Redis one both pass, so that
// a gateway behaves the same with one replica or many.
package ledgertest

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/budget"
)

// Now is the instant the suite's requests start at (a Wednesday
// afternoon, UTC).
var Now = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)

// Source is a budget.SpendSource for tests: spend by scope, subject and
// period start, counting its calls per cap. The scope "broken" fails.
type Source struct {
	mu    sync.Mutex
	spent map[string]int64
	calls map[string]int
}

// NewSource returns a Source holding spent, keyed by
// "scope/subject/YYYY-MM-DD" (the period's start).
func NewSource(spent map[string]int64) *Source {
	return &Source{spent: spent, calls: map[string]int{}}
}

// Spent implements budget.SpendSource.
func (s *Source) Spent(_ context.Context, c budget.Cap, since time.Time) (int64, error) {
	if c.Scope == "broken" {
		return 0, errors.New("store down")
	}
	k := c.Scope + "/" + c.Key + c.User + "/" + since.Format(time.DateOnly)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[k]++
	return s.spent[k], nil
}

// Calls is how many times the spend under k was read.
func (s *Source) Calls(k string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[k]
}

// NewLedger returns a fresh, empty ledger reading earlier spend from src
// (nil: none), kept to the test t.
type NewLedger func(t *testing.T, src budget.SpendSource) budget.Ledger

// RunLedger runs the contract on the ledgers newLedger makes.
func RunLedger(t *testing.T, newLedger NewLedger) {
	tests := []struct {
		name string
		f    func(t *testing.T, newLedger NewLedger)
	}{
		{"ReserveSettleRelease", testReserveSettleRelease},
		{"AllOrNone", testAllOrNone},
		{"PeriodsRollOver", testPeriodsRollOver},
		{"LoadsOncePerCounter", testLoadsOncePerCounter},
		{"SourceError", testSourceError},
		{"SameCounterTwice", testSameCounterTwice},
		{"RaceNeverOvershoots", testRaceNeverOvershoots},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, newLedger) })
	}
}

func spent(t *testing.T, l budget.Ledger, c budget.Cap, now time.Time) (int64, int64) {
	t.Helper()
	s, r, err := l.Spent(context.Background(), c, now)
	if err != nil {
		t.Fatalf("Spent: %v", err)
	}
	return s, r
}

// testReserveSettleRelease: a reservation counts until it settles to the
// real cost or is released; a refusal names the cap and when it resets.
func testReserveSettleRelease(t *testing.T, newLedger NewLedger) {
	ctx := context.Background()
	l := newLedger(t, NewSource(map[string]int64{"key/k1/2026-11-25": 300_000}))
	day := budget.Cap{Scope: budget.ScopeKey, Key: "k1", Period: budget.Daily, Limit: 500_000, Source: "plan free"}
	month := budget.Cap{Scope: budget.ScopeKey, Key: "k1", Period: budget.Monthly, Limit: 5_000_000, Source: "plan free"}
	caps := []budget.Cap{day, month}

	r1, ref, err := l.Reserve(ctx, caps, 150_000, Now)
	if err != nil || ref != nil {
		t.Fatalf("first reserve: %v %+v", err, ref)
	}
	if r1.Amount() != 150_000 {
		t.Fatalf("Amount %d", r1.Amount())
	}
	// 300k spent before + 150k held: 100k more does not fit the day.
	r, ref, err := l.Reserve(ctx, caps, 100_000, Now)
	if err != nil || r != nil || ref == nil || ref.Cap != day || ref.Spent != 300_000 || ref.Reserved != 150_000 || ref.Amount != 100_000 {
		t.Fatalf("want a daily refusal, got %v %+v %v", r, ref, err)
	}
	if !ref.ResetAt.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("resets at %v", ref.ResetAt)
	}
	if msg := ref.Message(); !strings.Contains(msg, "daily spend cap of $0.50") || !strings.Contains(msg, "2026-11-26 00:00 UTC") || !strings.Contains(msg, "plan free") {
		t.Errorf("message: %s", msg)
	}
	// The monthly counter was not touched by the refused attempt.
	if s, r := spent(t, l, month, Now); s != 0 || r != 150_000 {
		t.Fatalf("month: spent %d reserved %d", s, r)
	}
	if err := r1.Settle(40_000); err != nil {
		t.Fatal(err)
	}
	if err := r1.Settle(40_000); !errors.Is(err, budget.ErrSettled) {
		t.Fatalf("second settle: %v", err)
	}
	if err := r1.Release(); !errors.Is(err, budget.ErrSettled) {
		t.Fatalf("release after settle: %v", err)
	}
	if s, r := spent(t, l, day, Now); s != 340_000 || r != 0 {
		t.Fatalf("day after settle: spent %d reserved %d", s, r)
	}
	if s, r := spent(t, l, month, Now); s != 40_000 || r != 0 {
		t.Fatalf("month after settle: spent %d reserved %d", s, r)
	}
	r2, ref, err := l.Reserve(ctx, caps, 160_000, Now)
	if err != nil || ref != nil {
		t.Fatalf("exact fit refused: %+v %v", ref, err)
	}
	if err := r2.Release(); err != nil {
		t.Fatal(err)
	}
	if err := r2.Settle(1); !errors.Is(err, budget.ErrSettled) {
		t.Fatalf("settle after release: %v", err)
	}
	if s, r := spent(t, l, day, Now); s != 340_000 || r != 0 {
		t.Fatalf("day after release: spent %d reserved %d", s, r)
	}
}

// testAllOrNone: when one cap refuses, no cap holds anything.
func testAllOrNone(t *testing.T, newLedger NewLedger) {
	ctx := context.Background()
	l := newLedger(t, nil)
	key := budget.Cap{Scope: budget.ScopeKey, Key: "k", Period: budget.Daily, Limit: 1000, Source: "budget"}
	user := budget.Cap{Scope: budget.ScopeUser, User: "u", Period: budget.Monthly, Limit: 100, Source: "budget"}
	_, ref, err := l.Reserve(ctx, []budget.Cap{key, user}, 500, Now)
	if err != nil || ref == nil || ref.Cap != user || !ref.ResetAt.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("want the user's monthly cap to refuse: %+v %v", ref, err)
	}
	if s, r := spent(t, l, key, Now); s != 0 || r != 0 {
		t.Fatalf("the key's cap holds %d/%d after a refusal", s, r)
	}
	res, ref, err := l.Reserve(ctx, []budget.Cap{key, user}, 100, Now)
	if err != nil || ref != nil {
		t.Fatalf("a fit refused: %+v %v", ref, err)
	}
	for _, c := range []budget.Cap{key, user} {
		if _, r := spent(t, l, c, Now); r != 100 {
			t.Fatalf("%s holds %d, want 100", c.Scope, r)
		}
	}
	if err := res.Settle(60); err != nil {
		t.Fatal(err)
	}
	for _, c := range []budget.Cap{key, user} {
		if s, r := spent(t, l, c, Now); s != 60 || r != 0 {
			t.Fatalf("%s: spent %d reserved %d after settling 60", c.Scope, s, r)
		}
	}
	// No caps: nothing to refuse.
	res, ref, err = l.Reserve(ctx, nil, 10, Now)
	if err != nil || ref != nil || res == nil {
		t.Fatalf("no caps: %v %+v %v", res, ref, err)
	}
	if err := res.Release(); err != nil {
		t.Fatal(err)
	}
}

// testPeriodsRollOver: a new day or month starts from what the source
// holds for it, not from the last period's spend.
func testPeriodsRollOver(t *testing.T, newLedger NewLedger) {
	ctx := context.Background()
	l := newLedger(t, NewSource(map[string]int64{"key/k/2026-11-26": 200, "key/k/2026-12-01": 50}))
	day := budget.Cap{Scope: budget.ScopeKey, Key: "k", Period: budget.Daily, Limit: 1000}
	month := budget.Cap{Scope: budget.ScopeKey, Key: "k", Period: budget.Monthly, Limit: 1500}
	caps := []budget.Cap{day, month}
	res, ref, err := l.Reserve(ctx, caps, 1000, Now)
	if err != nil || ref != nil {
		t.Fatalf("%+v %v", ref, err)
	}
	res.Settle(1000)
	if _, ref, _ := l.Reserve(ctx, caps, 1, Now); ref == nil || ref.Cap != day {
		t.Fatalf("the day is spent: %+v", ref)
	}
	tomorrow := Now.Add(24 * time.Hour)
	if s, _ := spent(t, l, day, tomorrow); s != 200 {
		t.Fatalf("tomorrow starts at %d, want the source's 200", s)
	}
	// The month still counts today's 1000: 500 is all that is left.
	if _, ref, _ := l.Reserve(ctx, caps, 501, tomorrow); ref == nil || ref.Cap != month || ref.Spent != 1000 {
		t.Fatalf("want the month to refuse: %+v", ref)
	}
	res, ref, err = l.Reserve(ctx, caps, 500, tomorrow)
	if err != nil || ref != nil {
		t.Fatalf("%+v %v", ref, err)
	}
	res.Settle(500)
	if s, _ := spent(t, l, day, tomorrow); s != 700 {
		t.Fatalf("tomorrow spent %d, want 700", s)
	}
	december := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if s, _ := spent(t, l, month, december); s != 50 {
		t.Fatalf("december starts at %d, want the source's 50", s)
	}
	if _, ref, err := l.Reserve(ctx, caps, 950, december); err != nil || ref != nil {
		t.Fatalf("december: %+v %v", ref, err)
	}
	// The past day is as it was.
	if s, _ := spent(t, l, day, Now); s != 1000 {
		t.Fatalf("the 25th: %d", s)
	}
}

// testLoadsOncePerCounter: spend is read from the source the first time a
// counter is used, then kept.
func testLoadsOncePerCounter(t *testing.T, newLedger NewLedger) {
	ctx := context.Background()
	src := NewSource(map[string]int64{"key/k/2026-11-25": 100})
	l := newLedger(t, src)
	day := budget.Cap{Scope: budget.ScopeKey, Key: "k", Period: budget.Daily, Limit: 1000}
	for range 5 {
		res, ref, err := l.Reserve(ctx, []budget.Cap{day}, 10, Now)
		if err != nil || ref != nil {
			t.Fatalf("%+v %v", ref, err)
		}
		res.Settle(10)
	}
	if s, _ := spent(t, l, day, Now); s != 150 {
		t.Fatalf("spent %d, want 150", s)
	}
	if n := src.Calls("key/k/2026-11-25"); n != 1 {
		t.Fatalf("the source was read %d times", n)
	}
}

// testSourceError: a source that fails fails the reservation.
func testSourceError(t *testing.T, newLedger NewLedger) {
	l := newLedger(t, NewSource(nil))
	res, ref, err := l.Reserve(context.Background(), []budget.Cap{{Scope: "broken", Key: "x", Limit: 1}}, 1, Now)
	if err == nil || res != nil || ref != nil {
		t.Fatalf("store error swallowed: %v %+v %v", res, ref, err)
	}
}

// testSameCounterTwice: a plan's cap and a budget on the same key check
// their own limits but hold and charge the amount once.
func testSameCounterTwice(t *testing.T, newLedger NewLedger) {
	l := newLedger(t, nil)
	ctx := context.Background()
	caps := []budget.Cap{
		{Scope: budget.ScopeKey, Key: "k", Period: budget.Daily, Limit: 1000, Source: "plan"},
		{Scope: budget.ScopeKey, Key: "k", Period: budget.Daily, Limit: 5000, Source: "budget"},
	}
	for i := 0; i < 10; i++ {
		res, ref, err := l.Reserve(ctx, caps, 100, Now)
		if err != nil || ref != nil {
			t.Fatalf("request %d refused (%+v, %v): spend counted twice", i, ref, err)
		}
		res.Settle(100)
	}
	if _, ref, _ := l.Reserve(ctx, caps, 100, Now); ref == nil || ref.Cap.Limit != 1000 {
		t.Fatalf("the tighter cap must refuse the 11th: %+v", ref)
	}
	if s, _ := spent(t, l, caps[0], Now); s != 1000 {
		t.Fatalf("spent %d, want 1000", s)
	}
}

// testRaceNeverOvershoots: 200 requests race for one cap; each reserves
// its upper bound and settles a real cost at or below it. The total real
// spend never passes the cap, and the cap is used, not left idle.
func testRaceNeverOvershoots(t *testing.T, newLedger NewLedger) {
	l := newLedger(t, nil)
	caps := []budget.Cap{
		{Scope: budget.ScopeKey, Key: "k", Period: budget.Daily, Limit: 1_000_000},
		{Scope: budget.ScopeUser, User: "u", Period: budget.Monthly, Limit: 2_000_000},
	}
	settled, admitted := Race(t, []budget.Ledger{l}, caps, 200)
	s, res := spent(t, l, caps[0], Now)
	if s != settled || res != 0 {
		t.Fatalf("ledger spent %d reserved %d, settled %d", s, res, settled)
	}
	if s > caps[0].Limit {
		t.Fatalf("spent %d over the cap %d", s, caps[0].Limit)
	}
	if admitted < 20 {
		t.Fatalf("only %d admitted", admitted)
	}
}

// Race runs n requests at once against caps, spread over the ledgers
// (replicas sharing their state), each reserving 10k–50k and then
// releasing or settling at most that. It returns the total settled and
// how many were admitted; errors fail t.
func Race(t *testing.T, ledgers []budget.Ledger, caps []budget.Cap, n int) (settled, admitted int64) {
	t.Helper()
	ctx := context.Background()
	var sum, ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			l := ledgers[int(seed)%len(ledgers)]
			rng := rand.New(rand.NewPCG(seed, 1))
			<-start
			most := int64(10_000 + rng.IntN(40_000))
			r, ref, err := l.Reserve(ctx, caps, most, Now)
			if err != nil {
				errs <- err
				return
			}
			if ref != nil {
				return
			}
			ok.Add(1)
			if rng.IntN(3) == 0 {
				err = r.Release()
			} else {
				cost := rng.Int64N(most + 1)
				sum.Add(cost)
				err = r.Settle(cost)
			}
			if err != nil {
				errs <- err
			}
		}(uint64(i))
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("race: %v", err)
	}
	return sum.Load(), ok.Load()
}
