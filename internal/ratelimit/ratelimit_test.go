package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type step struct {
	at        time.Duration // since t0
	cost      int
	allowed   bool
	remaining int
	retry     time.Duration
}

func TestGCRA(t *testing.T) {
	tests := []struct {
		name  string
		limit Limit
		steps []step
	}{
		{"burst then refuse", PerMinute(3), []step{
			{0, 1, true, 2, 0}, {0, 1, true, 1, 0}, {0, 1, true, 0, 0},
			{0, 1, false, 0, 20 * time.Second},
			{19 * time.Second, 1, false, 0, time.Second},
			{20 * time.Second, 1, true, 0, 0},
		}},
		{"steady rate never refused", PerMinute(60), []step{
			{0, 1, true, 59, 0}, {time.Second, 1, true, 59, 0}, {2 * time.Second, 1, true, 59, 0},
		}},
		{"replenishes fully", PerMinute(2), []step{
			{0, 1, true, 1, 0}, {0, 1, true, 0, 0}, {time.Minute, 1, true, 1, 0},
		}},
		{"cost above one", Limit{Rate: 100, Period: time.Minute}, []step{
			{0, 60, true, 40, 0}, {0, 50, false, 40, 6 * time.Second}, {0, 40, true, 0, 0},
		}},
		{"cost above burst never fits", Limit{Rate: 10, Period: time.Minute, Burst: 5}, []step{
			{0, 6, false, 5, 0}, {0, 5, true, 0, 0},
		}},
		{"explicit smaller burst", Limit{Rate: 60, Period: time.Minute, Burst: 2}, []step{
			{0, 1, true, 1, 0}, {0, 1, true, 0, 0}, {0, 1, false, 0, time.Second}, {time.Second, 1, true, 0, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory()
			for i, s := range tt.steps {
				d, err := m.Allow(context.Background(), "k", tt.limit, s.cost, t0.Add(s.at))
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed != s.allowed || d.Remaining != s.remaining || d.RetryAfter != s.retry {
					t.Fatalf("step %d: got %+v, want allowed=%v remaining=%d retry=%v", i, d, s.allowed, s.remaining, s.retry)
				}
			}
		})
	}
}

func TestResetAfterAndKeysIndependent(t *testing.T) {
	m := NewMemory()
	l := PerMinute(6) // one per 10s
	d, _ := m.Allow(context.Background(), "a", l, 2, t0)
	if d.ResetAfter != 20*time.Second || d.Limit != 6 {
		t.Fatalf("%+v", d)
	}
	if d, _ := m.Allow(context.Background(), "b", l, 6, t0); !d.Allowed {
		t.Fatal("keys are independent")
	}
	if _, err := m.Allow(context.Background(), "a", Limit{}, 1, t0); err == nil {
		t.Fatal("invalid limit accepted")
	}
	m.Sweep(t0.Add(time.Minute))
	if m.Len() != 0 {
		t.Fatalf("sweep left %d keys", m.Len())
	}
}

// TestConcurrentExact: N goroutines racing on one key get exactly the
// burst, never more.
func TestConcurrentExact(t *testing.T) {
	m := NewMemory()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, _ := m.Allow(context.Background(), "shared", PerMinute(50), 1, t0); d.Allowed {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 50 {
		t.Fatalf("allowed %d, want exactly 50", allowed.Load())
	}
}

func TestNoAllocations(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	m.Allow(ctx, "key:abc", PerMinute(1000), 1, t0)
	n := testing.AllocsPerRun(1000, func() {
		m.Allow(ctx, "key:abc", PerMinute(1000), 1, t0)
	})
	if n != 0 {
		t.Fatalf("%v allocations per Allow", n)
	}
}

func BenchmarkAllow(b *testing.B) {
	m := NewMemory()
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%d", i)
	}
	l := PerMinute(1 << 30)
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
