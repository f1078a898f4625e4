package redislimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/ratelimit/ratelimittest"
	"github.com/keyward/keyward/internal/redistest"
)

func TestSlotsContract(t *testing.T) {
	ratelimittest.RunSlots(t, func(t *testing.T) ratelimit.Slots {
		rdb := redistest.Client(t)
		s := NewSlots(rdb, redistest.Prefix(t, rdb), 0)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

const testTTL = 300 * time.Millisecond

// newTestSlots is Slots with a short TTL, closed after the test.
func newTestSlots(t *testing.T, prefix string) *Slots {
	s := NewSlots(redistest.Client(t), prefix, testTTL)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLeaseExpires: a replica that crashes holding a slot (never releases
// it, stops renewing) holds it for the TTL, not longer.
func TestLeaseExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := redistest.Prefix(t, redistest.Client(t))
	crashed := newTestSlots(t, prefix)
	start := time.Now()
	releaseCrashed, _, ok, err := crashed.Acquire(ctx, "k", 1)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	crashed.Close() // the process dies: no release, no renewal

	other := newTestSlots(t, prefix)
	if _, n, ok, err := other.Acquire(ctx, "k", 1); ok || n != 1 || err != nil {
		t.Fatalf("taken twice: %v %v %v", n, ok, err)
	}
	var release func()
	for release == nil {
		if time.Since(start) > testTTL+3*time.Second {
			t.Fatal("the crashed replica's slot never came back")
		}
		time.Sleep(10 * time.Millisecond)
		rel, n, ok, err := other.Acquire(ctx, "k", 1)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if n != 0 {
				t.Fatalf("%d in flight after expiry", n)
			}
			release = rel
		}
	}
	// Redis's clock runs as ours: the lease cannot expire before the TTL.
	if took := time.Since(start); took < testTTL-10*time.Millisecond {
		t.Fatalf("slot back after %v, before the TTL", took)
	}
	// The crashed holder's late release frees nothing of the new holder's.
	releaseCrashed()
	if _, _, ok, _ := other.Acquire(ctx, "k", 1); ok {
		t.Fatal("a stale release freed another lease")
	}
	release()
	if _, _, ok, _ := other.Acquire(ctx, "k", 1); !ok {
		t.Fatal("released slot not free")
	}
}

// TestRenewalKeepsLease: a slot held for many TTLs stays taken.
func TestRenewalKeepsLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := redistest.Prefix(t, redistest.Client(t))
	holder := newTestSlots(t, prefix)
	other := newTestSlots(t, prefix)
	release, _, ok, err := holder.Acquire(ctx, "k", 1)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	for end := time.Now().Add(5 * testTTL); time.Now().Before(end); time.Sleep(25 * time.Millisecond) {
		if _, _, ok, err := other.Acquire(ctx, "k", 1); ok || err != nil {
			t.Fatalf("held slot taken (%v)", err)
		}
	}
	if holder.Held() != 1 {
		t.Fatalf("holder holds %d leases", holder.Held())
	}
	release()
	if holder.Held() != 0 {
		t.Fatalf("released, still %d leases", holder.Held())
	}
	if _, _, ok, _ := other.Acquire(ctx, "k", 1); !ok {
		t.Fatal("released slot not free")
	}
}

// TestRenewerForgetsLostLease: a lease that is gone (it expired while
// Redis was out of reach) is not brought back.
func TestRenewerForgetsLostLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	s := newTestSlots(t, prefix)
	release, _, ok, err := s.Acquire(ctx, "k", 1)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	rdb.Del(ctx, redisKey(prefix, "slot:", "k"))
	deadline := time.Now().Add(3 * time.Second)
	for s.Held() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a lost lease is still renewed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n, _ := rdb.Exists(ctx, redisKey(prefix, "slot:", "k")).Result(); n != 0 {
		t.Fatal("renewal brought a lost lease back")
	}
	release() // harmless
}

// TestAcquireRetried: the acquire script run twice for one lease (a retry
// after a lost reply) takes one slot.
func TestAcquireRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t)
	key := redisKey(redistest.Prefix(t, rdb), "slot:", "k")
	for i, want := range [][]int64{{1, 0}, {1, 0}} {
		got, err := acquireScript.Run(ctx, rdb, []string{key}, 2, 1000, "lease-1").Int64Slice()
		if err != nil || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("run %d: %v %v, want %v", i, got, err, want)
		}
	}
	if n, _ := rdb.ZCard(ctx, key).Result(); n != 1 {
		t.Fatalf("%d leases for one", n)
	}
	if ttl, _ := rdb.PTTL(ctx, key).Result(); ttl <= 0 || ttl > time.Second {
		t.Fatalf("the set expires in %v", ttl)
	}
}

func TestSlotsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	s := NewSlots(rdb, prefix, 0)
	release, _, ok, err := s.Acquire(ctx, "k", 1)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close() // twice is harmless
	if _, _, _, err := s.Acquire(ctx, "k", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("acquire after close: %v", err)
	}
	release()
	if n, _ := rdb.Exists(ctx, redisKey(prefix, "slot:", "k")).Result(); n != 0 {
		t.Fatal("release after close left the lease")
	}
	if s.ttl != DefaultTTL {
		t.Fatalf("default TTL %v", s.ttl)
	}
}

// TestScriptCacheFlushed: after Redis forgets its scripts (a restart, a
// failover), every call loads them again, the renewer's pipeline too. Not
// parallel: SCRIPT FLUSH is server-wide.
func TestScriptCacheFlushed(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	holder := newTestSlots(t, prefix)
	other := newTestSlots(t, prefix)
	release, _, ok, err := holder.Acquire(ctx, "k", 1)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	defer release()
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * testTTL)
	if _, _, ok, err := other.Acquire(ctx, "k", 1); ok || err != nil {
		t.Fatalf("the lease was not renewed after SCRIPT FLUSH (%v)", err)
	}
	l := NewLimiter(rdb, prefix)
	for range 2 {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Allow(ctx, "k", ratelimit.PerMinute(1), 1, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := l.Adjust(ctx, "k", ratelimit.PerMinute(1), -1, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}
