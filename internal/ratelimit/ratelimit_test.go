package ratelimit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/ratelimit/ratelimittest"
)

var t0 = ratelimittest.T0

func TestMemoryLimiter(t *testing.T) {
	ratelimittest.RunLimiter(t, func(*testing.T) ratelimit.Limiter { return ratelimit.NewMemory() })
}

func TestMemorySlots(t *testing.T) {
	ratelimittest.RunSlots(t, func(*testing.T) ratelimit.Slots { return ratelimit.NewMemorySlots() })
}

func TestSweep(t *testing.T) {
	m := ratelimit.NewMemory()
	l := ratelimit.PerMinute(6)
	m.Allow(context.Background(), "a", l, 2, t0)
	m.Allow(context.Background(), "b", l, 1, t0)
	m.Sweep(t0.Add(15 * time.Second))
	if m.Len() != 1 {
		t.Fatalf("sweep left %d keys, want 1 (a is still limited)", m.Len())
	}
	m.Sweep(t0.Add(time.Minute))
	if m.Len() != 0 {
		t.Fatalf("sweep left %d keys", m.Len())
	}
}

// TestMemoryBounded: keys whose limits have replenished are dropped as new
// keys arrive, without a background sweeper.
func TestMemoryBounded(t *testing.T) {
	m := ratelimit.NewMemory()
	l := ratelimit.PerMinute(10)
	for i := 0; i < 200_000; i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		m.Allow(context.Background(), fmt.Sprintf("ip:%d", i), l, 1, now)
	}
	// Keys live 6s (one unit of 10/min); 200k keys arrive over 200s.
	if n := m.Len(); n > 6_000+64*1024 {
		t.Fatalf("%d keys tracked; expired keys are not dropped", n)
	}
}

func TestSlotsForgetIdleKeys(t *testing.T) {
	s := ratelimit.NewMemorySlots()
	rel, _, _, _ := s.Acquire(context.Background(), "k", 1)
	if s.InFlight("k") != 1 || s.Total() != 1 {
		t.Fatal("not counted")
	}
	rel()
	if s.InFlight("k") != 0 || s.Total() != 0 {
		t.Fatal("not released")
	}
}

func TestNoAllocations(t *testing.T) {
	m := ratelimit.NewMemory()
	ctx := context.Background()
	m.Allow(ctx, "key:abc", ratelimit.PerMinute(1000), 1, t0)
	n := testing.AllocsPerRun(1000, func() {
		m.Allow(ctx, "key:abc", ratelimit.PerMinute(1000), 1, t0)
		m.Adjust(ctx, "key:abc", ratelimit.PerMinute(1000), -1, t0)
	})
	if n != 0 {
		t.Fatalf("%v allocations per Allow+Adjust", n)
	}
}

func BenchmarkAllow(b *testing.B) {
	m := ratelimit.NewMemory()
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%d", i)
	}
	l := ratelimit.PerMinute(1 << 30)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		now := t0
		for pb.Next() {
			m.Allow(ctx, keys[i&1023], l, 1, now)
			i++
		}
	})
}

func BenchmarkSlots(b *testing.B) {
	s := ratelimit.NewMemorySlots()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rel, _, _, _ := s.Acquire(ctx, "key:1", 1<<20)
			rel()
		}
	})
}
