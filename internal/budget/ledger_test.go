package budget

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)

type fakeSpend map[string]int64

func (f fakeSpend) Spent(_ context.Context, c Cap, since time.Time) (int64, error) {
	scope, subject := c.Scope, c.Key+c.User
	if scope == "broken" {
		return 0, errors.New("store down")
	}
	return f[scope+"/"+subject+"/"+since.Format(time.DateOnly)], nil
}

func TestPeriods(t *testing.T) {
	tests := []struct {
		p          Period
		at         time.Time
		start, end string
	}{
		{Daily, now, "2026-11-25", "2026-11-26"},
		{Monthly, now, "2026-11-01", "2026-12-01"},
		{Monthly, time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), "2026-12-01", "2027-01-01"},
		{Daily, time.Date(2026, 11, 25, 23, 30, 0, 0, time.FixedZone("x", -3600)), "2026-11-26", "2026-11-27"},
	}
	for _, tt := range tests {
		if s, e := tt.p.Start(tt.at).Format(time.DateOnly), tt.p.End(tt.at).Format(time.DateOnly); s != tt.start || e != tt.end {
			t.Errorf("%v at %v: %s..%s, want %s..%s", tt.p, tt.at, s, e, tt.start, tt.end)
		}
	}
}

func TestUSD(t *testing.T) {
	for micro, want := range map[int64]string{0: "$0.00", 500_000: "$0.50", 5_000_000: "$5.00", 1_234_567: "$1.234567", 10: "$0.00001", 1_100_000: "$1.10"} {
		if got := USD(micro); got != want {
			t.Errorf("USD(%d) = %s, want %s", micro, got, want)
		}
	}
	if Micro(0.5) != 500_000 || Micro(0.1) != 100_000 || Micro(5) != 5_000_000 {
		t.Error("Micro rounding")
	}
}

func TestReserveSettleRelease(t *testing.T) {
	ctx := context.Background()
	src := fakeSpend{"key/k1/2026-11-25": 300_000}
	l := NewMemoryLedger(src)
	day := Cap{Scope: ScopeKey, Key: "k1", Period: Daily, Limit: 500_000, Source: "plan free"}
	month := Cap{Scope: ScopeKey, Key: "k1", Period: Monthly, Limit: 5_000_000, Source: "plan free"}
	caps := []Cap{day, month}

	r1, ref, err := l.Reserve(ctx, caps, 150_000, now)
	if err != nil || ref != nil {
		t.Fatalf("first reserve: %v %+v", err, ref)
	}
	// 300k spent before + 150k held: 100k more does not fit the day.
	_, ref, _ = l.Reserve(ctx, caps, 100_000, now)
	if ref == nil || ref.Cap.Period != Daily || ref.Spent != 300_000 || ref.Reserved != 150_000 {
		t.Fatalf("want a daily refusal, got %+v", ref)
	}
	if msg := ref.Message(); !strings.Contains(msg, "daily spend cap of $0.50") || !strings.Contains(msg, "2026-11-26 00:00 UTC") || !strings.Contains(msg, "plan free") {
		t.Errorf("message: %s", msg)
	}
	// The monthly counter was not touched by the refused attempt.
	if s, r, _ := l.Spent(ctx, month, now); s != 0 || r != 150_000 {
		t.Fatalf("month: spent %d reserved %d", s, r)
	}
	if err := r1.Settle(40_000); err != nil {
		t.Fatal(err)
	}
	if err := r1.Settle(40_000); !errors.Is(err, ErrSettled) {
		t.Fatalf("second settle: %v", err)
	}
	if s, r, _ := l.Spent(ctx, day, now); s != 340_000 || r != 0 {
		t.Fatalf("day after settle: spent %d reserved %d", s, r)
	}
	r2, ref, _ := l.Reserve(ctx, caps, 160_000, now)
	if ref != nil {
		t.Fatalf("exact fit refused: %+v", ref)
	}
	if err := r2.Release(); err != nil {
		t.Fatal(err)
	}
	if s, r, _ := l.Spent(ctx, day, now); s != 340_000 || r != 0 {
		t.Fatalf("day after release: spent %d reserved %d", s, r)
	}
	// A new day starts from what the store holds for it (nothing).
	tomorrow := now.Add(24 * time.Hour)
	if _, ref, _ := l.Reserve(ctx, caps, 500_000, tomorrow); ref != nil {
		t.Fatalf("new day refused: %+v", ref)
	}
	l.Sweep(tomorrow)
	if _, _, err := l.Reserve(ctx, []Cap{{Scope: "broken", Key: "x", Limit: 1}}, 1, now); err == nil {
		t.Fatal("store error swallowed")
	}
}

// TestRaceNeverOvershoots: 200 requests race for one cap; each reserves
// its upper bound and settles a real cost at or below it. The total real
// spend never passes the cap, and the cap is used, not left idle.
func TestRaceNeverOvershoots(t *testing.T) {
	ctx := context.Background()
	l := NewMemoryLedger(nil)
	caps := []Cap{
		{Scope: ScopeKey, Key: "k", Period: Daily, Limit: 1_000_000},
		{Scope: ScopeUser, User: "u", Period: Monthly, Limit: 2_000_000},
	}
	var spent, admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			<-start
			max := int64(10_000 + rng.IntN(40_000))
			r, ref, err := l.Reserve(ctx, caps, max, now)
			if err != nil || ref != nil {
				return
			}
			admitted.Add(1)
			switch rng.IntN(3) {
			case 0:
				r.Release()
			default:
				cost := rng.Int64N(max + 1)
				spent.Add(cost)
				r.Settle(cost)
			}
		}(uint64(i))
	}
	close(start)
	wg.Wait()
	s, res, _ := l.Spent(ctx, caps[0], now)
	if s != spent.Load() || res != 0 {
		t.Fatalf("ledger spent %d reserved %d, settled %d", s, res, spent.Load())
	}
	if s > caps[0].Limit {
		t.Fatalf("spent %d over the cap %d", s, caps[0].Limit)
	}
	if admitted.Load() < 20 {
		t.Fatalf("only %d admitted", admitted.Load())
	}
}

// TestLedgerBounded: counters of past periods are dropped as new ones
// arrive, without a background sweeper.
func TestLedgerBounded(t *testing.T) {
	l := NewMemoryLedger(nil)
	ctx := context.Background()
	day := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 5000; i++ {
		now := day.AddDate(0, 0, i/1000) // 1000 keys a day for 5 days
		c := Cap{Scope: ScopeKey, Key: fmt.Sprintf("k%d", i), Period: Daily, Limit: 10}
		res, _, err := l.Reserve(ctx, []Cap{c}, 1, now)
		if err != nil {
			t.Fatal(err)
		}
		res.Settle(1)
	}
	if n := l.Len(); n > 2*sweepEvery+1000 {
		t.Fatalf("%d counters held for 5000 keys over 5 days", n)
	}
}

// TestSameCounterTwice: a plan's cap and a budget on the same key check
// their own limits but hold and charge the amount once.
func TestSameCounterTwice(t *testing.T) {
	l := NewMemoryLedger(nil)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	caps := []Cap{
		{Scope: ScopeKey, Key: "k", Period: Daily, Limit: 1000, Source: "plan"},
		{Scope: ScopeKey, Key: "k", Period: Daily, Limit: 5000, Source: "budget"},
	}
	for i := 0; i < 10; i++ {
		res, ref, err := l.Reserve(ctx, caps, 100, now)
		if err != nil || ref != nil {
			t.Fatalf("request %d refused (%+v): spend counted twice", i, ref)
		}
		res.Settle(100)
	}
	if _, ref, _ := l.Reserve(ctx, caps, 100, now); ref == nil || ref.Cap.Limit != 1000 {
		t.Fatalf("the tighter cap must refuse the 11th: %+v", ref)
	}
	if spent, _, _ := l.Spent(ctx, caps[0], now); spent != 1000 {
		t.Fatalf("spent %d, want 1000", spent)
	}
}
