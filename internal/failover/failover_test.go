package failover

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/ratelimit"
)

// flaky is a shared service that fails while broken is set.
type flaky struct {
	mu     sync.Mutex
	broken bool
	calls  int
}

var errRedis = errors.New("dial tcp: connection refused")

func (f *flaky) try() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.broken {
		return errRedis
	}
	return nil
}

func (f *flaky) set(b bool) { f.mu.Lock(); f.broken = b; f.mu.Unlock() }

type flakyLimiter struct {
	*flaky
	ratelimit.Limiter
}

func (l flakyLimiter) Allow(ctx context.Context, key string, lim ratelimit.Limit, cost int, now time.Time) (ratelimit.Decision, error) {
	if err := l.try(); err != nil {
		return ratelimit.Decision{}, err
	}
	return l.Limiter.Allow(ctx, key, lim, cost, now)
}

type events struct {
	mu        sync.Mutex
	down, up  int
	fallbacks map[string]int
}

func (e *events) breaker(now *time.Time) *Breaker {
	e.fallbacks = map[string]int{}
	return &Breaker{Retry: time.Second, now: func() time.Time { return *now },
		Down:     func(error) { e.mu.Lock(); e.down++; e.mu.Unlock() },
		Up:       func() { e.mu.Lock(); e.up++; e.mu.Unlock() },
		Fallback: func(kind string, p Policy) { e.mu.Lock(); e.fallbacks[kind+"/"+string(p)]++; e.mu.Unlock() }}
}

// TestLimiterFallsBackAndRecovers: while Redis fails, fail_open decides
// with the local limiter, the outage is noted once, Redis is skipped for
// Retry after a failure, and tried again by itself; fail_closed refuses
// with ErrDown.
func TestLimiterFallsBackAndRecovers(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var ev events
	br := ev.breaker(&now)
	redis := &flaky{}
	shared := flakyLimiter{redis, ratelimit.NewMemory()}
	open := Limiter{Shared: shared, Local: ratelimit.NewMemory(), Policy: Open, Breaker: br}
	closed := Limiter{Shared: shared, Local: ratelimit.NewMemory(), Policy: Closed, Breaker: br}
	lim := ratelimit.PerMinute(2)

	if d, err := open.Allow(ctx, "k", lim, 1, now); err != nil || !d.Allowed || d.Remaining != 1 {
		t.Fatalf("healthy: %+v %v", d, err)
	}
	redis.set(true)
	for i := 0; i < 3; i++ {
		d, err := open.Allow(ctx, "k", lim, 1, now)
		if err != nil || d.Allowed != (i < 2) {
			t.Fatalf("fail_open, call %d: %+v %v (local limiter: 2 a minute)", i, d, err)
		}
	}
	if _, err := closed.Allow(ctx, "k", lim, 1, now); !errors.Is(err, ErrDown) {
		t.Fatalf("fail_closed: %v", err)
	}
	if redis.calls != 2 {
		t.Errorf("Redis was tried %d times; after the first failure it is skipped for Retry", redis.calls)
	}
	if ev.down != 1 || ev.up != 0 || ev.fallbacks["rates/fail_open"] != 3 || !br.IsDown() {
		t.Errorf("down %d up %d fallbacks %v", ev.down, ev.up, ev.fallbacks)
	}
	now = now.Add(2 * time.Second) // Retry passed: Redis is tried again, still down
	if _, err := open.Allow(ctx, "k2", lim, 1, now); err != nil || redis.calls != 3 || ev.down != 1 {
		t.Fatalf("retry while down: %v, calls %d, down %d", err, redis.calls, ev.down)
	}
	redis.set(false)
	now = now.Add(2 * time.Second)
	if d, err := closed.Allow(ctx, "k", lim, 1, now); err != nil || !d.Allowed {
		t.Fatalf("after recovery: %+v %v", d, err)
	}
	if ev.up != 1 || br.IsDown() {
		t.Errorf("recovery not noted: up %d", ev.up)
	}
	// A caller's cancellation is not an outage.
	redis.set(true)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := open.Allow(cctx, "k", lim, 1, now); err == nil || br.IsDown() {
		t.Errorf("a cancelled request: err %v, down %v", err, br.IsDown())
	}
}

// TestAllowManyLocallyAllOrNone: the local batch gives back what it took
// when a later check is refused.
func TestAllowManyLocallyAllOrNone(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	local := ratelimit.NewMemory()
	checks := []ratelimit.Check{{Key: "a", Limit: ratelimit.PerMinute(5), Cost: 1}, {Key: "b", Limit: ratelimit.PerMinute(1), Cost: 2}}
	decs, err := ratelimit.AllowEach(ctx, local, checks, now)
	if err != nil || decs[1].Allowed {
		t.Fatalf("%+v %v", decs, err)
	}
	if d, _ := local.Allow(ctx, "a", ratelimit.PerMinute(5), 0, now); d.Remaining != 5 {
		t.Errorf("a refused batch kept %d of a", 5-d.Remaining)
	}
}

type flakyLedger struct {
	*flaky
	budget.Ledger
}

func (l flakyLedger) Reserve(ctx context.Context, caps []budget.Cap, amount int64, now time.Time) (budget.Reservation, *budget.Refusal, error) {
	if err := l.try(); err != nil {
		return nil, nil, err
	}
	return l.Ledger.Reserve(ctx, caps, amount, now)
}

type noSpend struct{}

func (noSpend) Spent(context.Context, budget.Cap, time.Time) (int64, error) { return 0, nil }

// TestLedgerPolicies: spend fails closed by default (ErrDown); fail_open
// reserves in this process.
func TestLedgerPolicies(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	var ev events
	br := ev.breaker(&now)
	redis := &flaky{broken: true}
	shared := flakyLedger{redis, budget.NewMemoryLedger(noSpend{})}
	caps := []budget.Cap{{Scope: budget.ScopeKey, Key: "key:k", Period: budget.Daily, Limit: 1000}}
	if _, _, err := (Ledger{Shared: shared, Local: budget.NewMemoryLedger(noSpend{}), Policy: Closed, Breaker: br}).Reserve(ctx, caps, 10, now); !errors.Is(err, ErrDown) {
		t.Fatalf("fail_closed: %v", err)
	}
	res, rf, err := (Ledger{Shared: shared, Local: budget.NewMemoryLedger(noSpend{}), Policy: Open, Breaker: br}).Reserve(ctx, caps, 10, now)
	if err != nil || rf != nil || res.Amount() != 10 {
		t.Fatalf("fail_open: %v %+v %v", res, rf, err)
	}
}
