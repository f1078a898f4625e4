// Package ratelimittest is the contract every ratelimit.Limiter and
// ratelimit.Slots implementation must pass: the in-memory ones and the
// shared (Redis) ones run the same tests.
package ratelimittest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/ratelimit"
)

// T0 is the tests' clock origin.
var T0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type step struct {
	at        time.Duration // since T0
	cost      int
	allowed   bool
	remaining int
	retry     time.Duration
	reset     time.Duration
}

// RunLimiter runs the Limiter contract. newLimiter returns a limiter whose
// keys are not shared with any other test (a fresh instance or a unique
// key prefix).
func RunLimiter(t *testing.T, newLimiter func(t *testing.T) ratelimit.Limiter) {
	ctx := context.Background()
	t.Run("GCRA", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name  string
			limit ratelimit.Limit
			steps []step
		}{
			{"burst then refuse", ratelimit.PerMinute(3), []step{
				{0, 1, true, 2, 0, 20 * time.Second}, {0, 1, true, 1, 0, 40 * time.Second}, {0, 1, true, 0, 0, time.Minute},
				{0, 1, false, 0, 20 * time.Second, time.Minute},
				{19 * time.Second, 1, false, 0, time.Second, 41 * time.Second},
				{20 * time.Second, 1, true, 0, 0, time.Minute},
			}},
			{"steady rate never refused", ratelimit.PerMinute(60), []step{
				{0, 1, true, 59, 0, time.Second}, {time.Second, 1, true, 59, 0, time.Second}, {2 * time.Second, 1, true, 59, 0, time.Second},
			}},
			{"replenishes fully", ratelimit.PerMinute(2), []step{
				{0, 1, true, 1, 0, 30 * time.Second}, {0, 1, true, 0, 0, time.Minute}, {time.Minute, 1, true, 1, 0, 30 * time.Second},
			}},
			{"cost above one", ratelimit.Limit{Rate: 100, Period: time.Minute}, []step{
				{0, 60, true, 40, 0, 36 * time.Second}, {0, 50, false, 40, 6 * time.Second, 36 * time.Second}, {0, 40, true, 0, 0, time.Minute},
			}},
			{"cost above burst never fits", ratelimit.Limit{Rate: 10, Period: time.Minute, Burst: 5}, []step{
				{0, 6, false, 5, 0, 0}, {0, 5, true, 0, 0, 30 * time.Second},
			}},
			{"explicit smaller burst", ratelimit.Limit{Rate: 60, Period: time.Minute, Burst: 2}, []step{
				{0, 1, true, 1, 0, time.Second}, {0, 1, true, 0, 0, 2 * time.Second}, {0, 1, false, 0, time.Second, 2 * time.Second}, {time.Second, 1, true, 0, 0, 2 * time.Second},
			}},
			{"per day", ratelimit.PerDay(2), []step{
				{0, 1, true, 1, 0, 12 * time.Hour}, {time.Hour, 1, true, 0, 0, 23 * time.Hour}, {2 * time.Hour, 1, false, 0, 10 * time.Hour, 22 * time.Hour},
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l := newLimiter(t)
				for i, s := range tt.steps {
					d, err := l.Allow(ctx, "k", tt.limit, s.cost, T0.Add(s.at))
					if err != nil {
						t.Fatal(err)
					}
					if d.Allowed != s.allowed || d.Remaining != s.remaining || d.RetryAfter != s.retry || d.ResetAfter != s.reset {
						t.Fatalf("step %d: got %+v, want allowed=%v remaining=%d retry=%v reset=%v", i, d, s.allowed, s.remaining, s.retry, s.reset)
					}
				}
			})
		}
	})

	t.Run("KeysIndependent", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		lim := ratelimit.PerMinute(6)
		if d, _ := l.Allow(ctx, "a", lim, 6, T0); !d.Allowed || d.Limit != 6 {
			t.Fatalf("%+v", d)
		}
		if d, _ := l.Allow(ctx, "b", lim, 6, T0); !d.Allowed {
			t.Fatal("keys are independent")
		}
		if _, err := l.Allow(ctx, "a", ratelimit.Limit{}, 1, T0); err == nil {
			t.Fatal("invalid limit accepted")
		}
		if err := l.Adjust(ctx, "a", ratelimit.Limit{}, 1, T0); err == nil {
			t.Fatal("invalid limit accepted by Adjust")
		}
	})

	t.Run("Adjust", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		lim := ratelimit.Limit{Rate: 1000, Period: time.Minute} // tokens per minute
		// An estimate of 800 is taken, the request used 200: 600 come back.
		if d, _ := l.Allow(ctx, "tpm", lim, 800, T0); !d.Allowed || d.Remaining != 200 {
			t.Fatalf("estimate: %+v", d)
		}
		if err := l.Adjust(ctx, "tpm", lim, -600, T0); err != nil {
			t.Fatal(err)
		}
		if d, _ := l.Allow(ctx, "tpm", lim, 800, T0); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("after refund: %+v", d)
		}
		// A request that used 500 more than estimated pushes the next one out.
		if err := l.Adjust(ctx, "tpm", lim, 500, T0); err != nil {
			t.Fatal(err)
		}
		d, _ := l.Allow(ctx, "tpm", lim, 1, T0)
		if d.Allowed || d.RetryAfter != 30*time.Second+60*time.Millisecond {
			t.Fatalf("after overuse: %+v", d)
		}
		// Refunds never make a bucket fuller than full.
		if err := l.Adjust(ctx, "fresh", lim, -5000, T0); err != nil {
			t.Fatal(err)
		}
		if d, _ := l.Allow(ctx, "fresh", lim, 1, T0); d.Remaining != 999 {
			t.Fatalf("over-refund: %+v", d)
		}
		if err := l.Adjust(ctx, "fresh", lim, 0, T0); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ConcurrentExact", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if d, err := l.Allow(ctx, "shared", ratelimit.PerMinute(50), 1, T0); err == nil && d.Allowed {
					allowed.Add(1)
				}
			}()
		}
		wg.Wait()
		if allowed.Load() != 50 {
			t.Fatalf("allowed %d, want exactly 50", allowed.Load())
		}
	})
}

// RunSlots runs the Slots contract; newSlots is like RunLimiter's.
func RunSlots(t *testing.T, newSlots func(t *testing.T) ratelimit.Slots) {
	ctx := context.Background()
	t.Run("Bounded", func(t *testing.T) {
		t.Parallel()
		s := newSlots(t)
		r1, n, ok, err := s.Acquire(ctx, "k", 2)
		if err != nil || !ok || n != 0 {
			t.Fatalf("first: %v %v %v", n, ok, err)
		}
		r2, n, ok, _ := s.Acquire(ctx, "k", 2)
		if !ok || n != 1 {
			t.Fatalf("second: %v %v", n, ok)
		}
		if _, n, ok, _ := s.Acquire(ctx, "k", 2); ok || n != 2 {
			t.Fatalf("third taken: %v %v", n, ok)
		}
		if _, _, ok, _ := s.Acquire(ctx, "other", 1); !ok {
			t.Fatal("keys are independent")
		}
		r1()
		r1() // twice is harmless
		r3, _, ok, _ := s.Acquire(ctx, "k", 2)
		if !ok {
			t.Fatal("released slot not reusable")
		}
		if _, _, ok, _ := s.Acquire(ctx, "k", 2); ok {
			t.Fatal("double release freed two slots")
		}
		r2()
		r3()
		if _, _, _, err := s.Acquire(ctx, "k", 0); err == nil {
			t.Fatal("max 0 accepted")
		}
	})
	t.Run("ConcurrentExact", func(t *testing.T) {
		t.Parallel()
		s := newSlots(t)
		var held, peak atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for j := 0; j < 20; j++ {
					rel, _, ok, err := s.Acquire(ctx, "shared", 3)
					if err != nil || !ok {
						continue
					}
					n := held.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					held.Add(-1)
					rel()
				}
			}()
		}
		close(start)
		wg.Wait()
		if peak.Load() > 3 {
			t.Fatalf("%d slots held at once, max 3", peak.Load())
		}
		if _, _, ok, _ := s.Acquire(ctx, "shared", 1); !ok {
			t.Fatal("slots leaked")
		}
	})
}
