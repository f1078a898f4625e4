package redisledger

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/budget/ledgertest"
	"github.com/keyward/keyward/internal/ratelimit/redislimit"
	"github.com/keyward/keyward/internal/redistest"
)

func TestContract(t *testing.T) {
	rdb := redistest.Client(t)
	ledgertest.RunLedger(t, func(t *testing.T, src budget.SpendSource) budget.Ledger {
		return NewLedger(rdb, redistest.Prefix(t, rdb), src, 0)
	})
}

var day = budget.Cap{Scope: budget.ScopeKey, Key: "k1", Period: budget.Daily, Limit: 1_000_000, Source: "budget"}

// TestRebuildAfterFlush: a count Redis lost is rebuilt from the usage
// records, once, even when two replicas rebuild it at the same time.
func TestRebuildAfterFlush(t *testing.T) {
	rdb := redistest.Client(t)
	ctx := context.Background()
	prefix := redistest.Prefix(t, rdb)
	src := ledgertest.NewSource(map[string]int64{"key/k1/2026-11-25": 300_000})
	a := NewLedger(rdb, prefix, src, 0)
	res, _, err := a.Reserve(ctx, []budget.Cap{day}, 100_000, ledgertest.Now)
	if err != nil {
		t.Fatal(err)
	}
	res.Settle(50_000)
	// The settled request's record lands in the store; then Redis is
	// flushed.
	src = ledgertest.NewSource(map[string]int64{"key/k1/2026-11-25": 350_000})
	if err := rdb.Del(ctx, a.Key(day, ledgertest.Now)).Err(); err != nil {
		t.Fatal(err)
	}
	// Two replicas find the key missing at once: both read the records,
	// one count is kept.
	both := &barrier{src: src, n: 2, ready: make(chan struct{})}
	r1, r2 := NewLedger(rdb, prefix, both, 0), NewLedger(rdb, prefix, both, 0)
	var wg sync.WaitGroup
	for _, l := range []*Ledger{r1, r2} {
		wg.Go(func() {
			if _, ref, err := l.Reserve(ctx, []budget.Cap{day}, 200_000, ledgertest.Now); err != nil || ref != nil {
				t.Errorf("reserve after the flush: %+v %v", ref, err)
			}
		})
	}
	wg.Wait()
	if n := src.Calls("key/k1/2026-11-25"); n != 2 {
		t.Fatalf("the records were read %d times, want once by each replica", n)
	}
	s, r, err := r1.Spent(ctx, day, ledgertest.Now)
	if err != nil || s != 350_000 || r != 400_000 {
		t.Fatalf("after the rebuild: spent %d reserved %d (%v), want 350000 and 400000", s, r, err)
	}
	// 350k + 400k held: 250k fits, 250_001 does not.
	if _, ref, _ := r1.Reserve(ctx, []budget.Cap{day}, 250_001, ledgertest.Now); ref == nil {
		t.Fatal("the rebuilt count was not enforced")
	}
}

// barrier is a SpendSource whose reads wait until n of them are under way
// (or a second has passed), so replicas rebuild a key at the same time.
type barrier struct {
	src   budget.SpendSource
	n     int
	mu    sync.Mutex
	ready chan struct{}
}

func (b *barrier) Spent(ctx context.Context, c budget.Cap, since time.Time) (int64, error) {
	b.mu.Lock()
	if b.n--; b.n == 0 {
		close(b.ready)
	}
	b.mu.Unlock()
	select {
	case <-b.ready:
	case <-time.After(time.Second):
	}
	return b.src.Spent(ctx, c, since)
}

// TestLeaseExpires: a reservation never settled (its replica died) stops
// counting once its lease is over; settling it late still charges.
func TestLeaseExpires(t *testing.T) {
	rdb := redistest.Client(t)
	ctx := context.Background()
	l := NewLedger(rdb, redistest.Prefix(t, rdb), nil, time.Minute)
	dead, _, err := l.Reserve(ctx, []budget.Cap{day}, 900_000, ledgertest.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ref, _ := l.Reserve(ctx, []budget.Cap{day}, 200_000, ledgertest.Now.Add(59*time.Second)); ref == nil || ref.Reserved != 900_000 {
		t.Fatalf("a live lease must count: %+v", ref)
	}
	later := ledgertest.Now.Add(time.Minute)
	res, ref, err := l.Reserve(ctx, []budget.Cap{day}, 200_000, later)
	if err != nil || ref != nil {
		t.Fatalf("an expired lease still counts: %+v %v", ref, err)
	}
	if s, r, _ := l.Spent(ctx, day, later); s != 0 || r != 200_000 {
		t.Fatalf("spent %d reserved %d, want 0 and 200000", s, r)
	}
	if err := dead.Settle(100_000); err != nil {
		t.Fatal(err)
	}
	res.Release()
	if s, r, _ := l.Spent(ctx, day, later); s != 100_000 || r != 0 {
		t.Fatalf("spent %d reserved %d after a late settle, want 100000 and 0", s, r)
	}
}

// TestKeys: keys name no subject, and expire after their period (plus a
// lease and the grace).
func TestKeys(t *testing.T) {
	rdb := redistest.Client(t)
	ctx := context.Background()
	prefix := redistest.Prefix(t, rdb)
	l := NewLedger(rdb, prefix, nil, time.Minute)
	month := day
	month.Period = budget.Monthly
	if _, _, err := l.Reserve(ctx, []budget.Cap{day, month}, 1, ledgertest.Now); err != nil {
		t.Fatal(err)
	}
	keys := redistest.KeysUnder(t, rdb, prefix)
	if len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "k1") || !strings.HasPrefix(k, prefix+"spend:") {
			t.Errorf("key %q", k)
		}
	}
	for c, want := range map[budget.Cap]time.Duration{day: 11*time.Hour + time.Minute + keyGrace, month: 6*24*time.Hour - 13*time.Hour + time.Minute + keyGrace} {
		ttl, err := rdb.PTTL(ctx, l.Key(c, ledgertest.Now)).Result()
		if err != nil || ttl > want || ttl < want-5*time.Second {
			t.Errorf("%s key expires in %v (%v), want %v", c.Period, ttl, err, want)
		}
	}
}

// TestReplicasNeverOvershoot: three replicas share one Redis; 300 requests
// race for one cap through them, and the settled spend stays within it.
func TestReplicasNeverOvershoot(t *testing.T) {
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	var ls []budget.Ledger
	for range 3 {
		ls = append(ls, NewLedger(rdb, prefix, nil, 0))
	}
	caps := []budget.Cap{
		{Scope: budget.ScopeKey, Key: "k", Period: budget.Daily, Limit: 1_000_000},
		{Scope: budget.ScopeUser, User: "u", Period: budget.Monthly, Limit: 2_000_000},
	}
	settled, admitted := ledgertest.Race(t, ls, caps, 300)
	s, r, err := ls[1].Spent(context.Background(), caps[0], ledgertest.Now)
	if err != nil || s != settled || r != 0 {
		t.Fatalf("ledger spent %d reserved %d (%v), settled %d", s, r, err, settled)
	}
	if s > caps[0].Limit || admitted < 1 {
		t.Fatalf("spent %d of %d, %d admitted", s, caps[0].Limit, admitted)
	}
	t.Logf("%d admitted, %d settled", admitted, settled)
}

// TestRedisDown: with nothing listening, every call fails at once.
func TestRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rdb, err := redislimit.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	l := NewLedger(rdb, "", nil, 0)
	down := &reservation{l: l, keys: []string{l.Key(day, ledgertest.Now)}, id: "x", amount: 1}
	ops := map[string]func() error{
		"Reserve": func() error {
			_, _, err := l.Reserve(context.Background(), []budget.Cap{day}, 1, ledgertest.Now)
			return err
		},
		"Spent": func() error {
			_, _, err := l.Spent(context.Background(), day, ledgertest.Now)
			return err
		},
		"Settle": func() error { return down.Settle(1) },
	}
	for name, op := range ops {
		start := time.Now()
		if err := op(); err == nil {
			t.Fatalf("%s: no error", name)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("%s: failed after %v", name, took)
		}
	}
}

// TestSettleAfterFlush: a Settle that finds its key gone does not create
// a count without the earlier spend; the next use rebuilds it from the
// records, which hold the settled cost.
func TestSettleAfterFlush(t *testing.T) {
	rdb := redistest.Client(t)
	ctx := context.Background()
	src := ledgertest.NewSource(map[string]int64{"key/k1/2026-11-25": 700_000})
	l := NewLedger(rdb, redistest.Prefix(t, rdb), src, 0)
	res, _, err := l.Reserve(ctx, []budget.Cap{day}, 100_000, ledgertest.Now)
	if err != nil {
		t.Fatal(err)
	}
	key := l.Key(day, ledgertest.Now)
	if err := rdb.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if err := res.Settle(100_000); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Fatalf("settle recreated the key: %d %v", n, err)
	}
	if s, r, err := l.Spent(ctx, day, ledgertest.Now); err != nil || s != 700_000 || r != 0 {
		t.Fatalf("rebuilt: spent %d reserved %d (%v), want the records' 700000", s, r, err)
	}
	if n := src.Calls("key/k1/2026-11-25"); n != 2 {
		t.Fatalf("the records were read %d times, want 2 (first use, after the flush)", n)
	}
}
