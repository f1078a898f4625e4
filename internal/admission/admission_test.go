package admission

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/budget/redisledger"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/ratelimit/redislimit"
	"github.com/keyward/keyward/internal/redistest"
)

// noSpend is a spend source with nothing spent before.
type noSpend struct{}

func (noSpend) Spent(context.Context, budget.Cap, time.Time) (int64, error) { return 0, nil }

// backend is one set of Redis limits under a prefix of its own.
type backend struct {
	rdb    *redis.Client
	lim    *redislimit.Limiter
	slots  *redislimit.Slots
	ledger *redisledger.Ledger
	rt     *redistest.RoundTrips
}

func newBackend(t *testing.T) backend {
	t.Helper()
	b := newBenchBackend(t)
	b.rdb.AddHook(b.rt)
	return b
}

func (b backend) sequential() Sequential {
	return Sequential{Limiter: b.lim, Slots: b.slots, Ledger: b.ledger}
}

func (b backend) joint() *Joint {
	return &Joint{Client: b.rdb, Limiter: b.lim, Slots: b.slots, Ledger: b.ledger, Fallback: b.sequential()}
}

var (
	free   = ratelimit.Plan{Name: "free", RPM: 3, RPD: 100, TPM: 10_000, Concurrency: 2}
	server = ratelimit.Plan{Name: "server", RPM: 600, TPM: 100_000, Concurrency: 1}
)

func holders(user string) []ratelimit.Holder {
	return []ratelimit.Holder{
		{Plan: free, Subjects: []string{"token:" + user, "user:" + user}, Slots: []string{"user:" + user}},
		{Plan: server, Subjects: []string{"key:k1"}, Slots: []string{"key:k1:" + user}},
	}
}

func dailyCap(limit int64) []budget.Cap {
	return []budget.Cap{{Scope: budget.ScopeUser, User: "u", Period: budget.Daily, Limit: limit, Source: "budget"}}
}

// outcome is what an admission came to, for comparing Joint with
// Sequential.
type outcome struct {
	Admitted bool
	Rate     string // the limit that refused
	Spend    bool   // a spend cap refused
	Err      bool
}

func outcomeOf(h *Held, r *Refusal, err error) outcome {
	switch {
	case err != nil:
		return outcome{Err: true}
	case r != nil && r.Rate != nil:
		return outcome{Rate: r.Rate.Limit}
	case r != nil:
		return outcome{Spend: true}
	}
	return outcome{Admitted: h != nil}
}

// state is what the backend holds: slots in flight and the cap's spend.
type state struct {
	Slots             int
	Spent, Reserved   int64
	RequestsLeftOfRPM int
}

func stateOf(t *testing.T, b backend, now time.Time) state {
	t.Helper()
	ctx := context.Background()
	spent, reserved, err := b.ledger.Spent(ctx, dailyCap(1)[0], now)
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.lim.Allow(ctx, "rpm:free:user:u", ratelimit.PerMinute(free.RPM), 0, now)
	if err != nil {
		t.Fatal(err)
	}
	return state{Slots: b.slots.Held(), Spent: spent, Reserved: reserved, RequestsLeftOfRPM: d.Remaining}
}

// TestJointMatchesSequential: Joint admits and refuses exactly as
// Sequential does — the same refusals, and afterwards the same slots,
// reservations and request units held — in every case, refusals at each
// step included.
func TestJointMatchesSequential(t *testing.T) {
	type step struct {
		caps  []budget.Cap
		worst int64
		est   ratelimit.Estimate
		keep  bool // hold what was admitted (else settle it at once)
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"admitted, settled", []step{{caps: dailyCap(1000), worst: 100}}},
		{"admitted and held", []step{{caps: dailyCap(1000), worst: 100, keep: true}}},
		{"no caps", []step{{keep: true}}},
		{"rate refused after three", []step{{}, {}, {}, {caps: dailyCap(1000), worst: 100}}},
		{"slot refused while one is held", []step{{keep: true}, {caps: dailyCap(1000), worst: 100}}},
		{"spend refused", []step{{caps: dailyCap(1000), worst: 600, keep: true}, {caps: dailyCap(1000), worst: 600}}},
		{"tokens beyond the plan's minute", []step{{caps: dailyCap(1000), worst: 100, est: ratelimit.Estimate{Input: 20_000}}}},
	}
	now := time.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(b backend, g Gate) ([]outcome, state) {
				var got []outcome
				for i, s := range tt.steps {
					h, r, err := g.Admit(context.Background(), Request{Holders: holders("u"), Estimate: s.est, Caps: s.caps, Worst: s.worst, Now: now})
					got = append(got, outcomeOf(h, r, err))
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if h != nil && !s.keep {
						h.Rates.Settle(context.Background(), 0, now)
						if h.Spend != nil {
							h.Spend.Settle(50)
						}
					}
				}
				return got, stateOf(t, b, now)
			}
			seqB, jointB := newBackend(t), newBackend(t)
			wantOut, wantState := run(seqB, seqB.sequential())
			gotOut, gotState := run(jointB, jointB.joint())
			if diff := cmp.Diff(wantOut, gotOut); diff != "" {
				t.Errorf("outcomes (-sequential +joint):\n%s", diff)
			}
			if diff := cmp.Diff(wantState, gotState); diff != "" {
				t.Errorf("what is held afterwards (-sequential +joint):\n%s", diff)
			}
		})
	}
}

// TestJointOneRoundTrip: a request's whole admission — 7 rate checks for
// two holders, two concurrency slots and a spend reservation — is one
// round trip to Redis; Sequential takes four.
func TestJointOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	req := Request{Holders: holders("u"), Estimate: ratelimit.Estimate{Input: 100, Output: 100}, Caps: dailyCap(1_000_000), Worst: 100, Now: time.Now()}
	jb, sb := newBackend(t), newBackend(t)
	for _, g := range []struct {
		name string
		b    backend
		gate Gate
		want int64
	}{{"joint", jb, jb.joint(), 1}, {"sequential", sb, sb.sequential(), 4}} {
		b := g.b
		for i := range 3 {
			b.rt.Reset()
			h, r, err := g.gate.Admit(ctx, req)
			if err != nil || r != nil {
				t.Fatalf("%s: %+v %v", g.name, r, err)
			}
			n, names := b.rt.N.Load(), b.rt.Names()
			h.Rates.Settle(ctx, 0, time.Now())
			h.Spend.Release()
			if i > 0 && n != g.want { // the first may load the scripts
				t.Fatalf("%s admission %d: %d round trips %v, want %d", g.name, i, n, names, g.want)
			}
		}
	}
}

// TestJointFallsBack: when the round trip fails — its scripts flushed
// from Redis, or Redis gone — what it took is given back and the request
// is admitted through Fallback; the next admission is one round trip again.
func TestJointFallsBack(t *testing.T) {
	b := newBackend(t)
	ctx := context.Background()
	j := b.joint()
	roomy := ratelimit.Plan{Name: "roomy", RPM: 10, Concurrency: 5}
	req := Request{Holders: []ratelimit.Holder{{Plan: roomy, Subjects: []string{"user:u"}, Slots: []string{"user:u"}}},
		Caps: dailyCap(1_000_000), Worst: 100, Now: time.Now()}
	admitOnce := func(what string) (roundTrips []string) {
		t.Helper()
		b.rt.Reset()
		h, r, err := j.Admit(ctx, req)
		roundTrips = b.rt.Names()
		if err != nil || r != nil {
			t.Fatalf("%s: %+v %v", what, r, err)
		}
		h.Rates.Settle(ctx, 0, time.Now())
		h.Spend.Release()
		return roundTrips
	}
	admitOnce("first")
	if err := b.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	admitOnce("after SCRIPT FLUSH")
	// Only the reservation fails: the rates and slots the round trip took
	// are given back, and the fallback takes them once.
	if err := b.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := redislimit.LoadScripts(ctx, b.rdb); err != nil {
		t.Fatal(err)
	}
	j.loaded.Store(true)
	admitOnce("with the ledger's script missing")
	rts := admitOnce("again") // the scripts loaded again, then one round trip
	if len(rts) == 0 || rts[len(rts)-1] != "pipeline" || slices.ContainsFunc(rts[:len(rts)-1], func(n string) bool { return n != "script" }) {
		t.Fatalf("after the scripts were loaded again: round trips %v", rts)
	}
	if rts := admitOnce("and again"); len(rts) != 1 {
		t.Fatalf("round trips %v, want one", rts)
	}
	if got := stateOf(t, b, req.Now); got.Slots != 0 || got.Reserved != 0 {
		t.Fatalf("held after settling: %+v", got)
	}
	// Five admissions took five requests: the failed round trips none.
	if d, err := b.lim.Allow(ctx, "rpm:roomy:user:u", ratelimit.PerMinute(roomy.RPM), 0, req.Now); err != nil || d.Remaining != 5 {
		t.Fatalf("requests left %d (%v), want 5", d.Remaining, err)
	}

	// Redis gone: the fallback (here in memory) admits.
	gone := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer gone.Close()
	g := &Joint{Client: gone, Limiter: redislimit.NewLimiter(gone, "x:"), Slots: b.slots, Ledger: redisledger.NewLedger(gone, "x:", noSpend{}, 0),
		Fallback: Sequential{Limiter: ratelimit.NewMemory(), Slots: ratelimit.NewMemorySlots(), Ledger: budget.NewMemoryLedger(noSpend{})}}
	h, r, err := g.Admit(ctx, req)
	if err != nil || r != nil || h == nil {
		t.Fatalf("with Redis gone: %+v %v", r, err)
	}
}

// BenchmarkAdmit: one request's admission and settling against the Redis
// of this machine, Joint against Sequential.
func BenchmarkAdmit(b *testing.B) {
	for _, name := range []string{"sequential", "joint"} {
		b.Run(name, func(b *testing.B) {
			be := newBenchBackend(b)
			var g Gate = be.sequential()
			if name == "joint" {
				g = be.joint()
			}
			plan := ratelimit.Plan{Name: "bench", RPM: 1 << 30, TPM: 1 << 30, Concurrency: 1 << 20}
			req := Request{Holders: []ratelimit.Holder{{Plan: plan, Subjects: []string{"user:u", "ip:192.0.2.1"}, Slots: []string{"user:u"}}},
				Estimate: ratelimit.Estimate{Input: 10, Output: 10}, Caps: dailyCap(1 << 50), Worst: 1}
			ctx := context.Background()
			for b.Loop() {
				req.Now = time.Now()
				h, r, err := g.Admit(ctx, req)
				if err != nil || r != nil {
					b.Fatal(r, err)
				}
				h.Rates.Settle(ctx, 20, time.Now())
				h.Spend.Settle(1)
			}
		})
	}
}

// newBenchBackend is a backend without the round-trip counter.
func newBenchBackend(tb testing.TB) backend {
	rdb := redistest.OwnClient(tb)
	prefix := redistest.Prefix(tb, rdb)
	slots := redislimit.NewSlots(rdb, prefix, 0)
	tb.Cleanup(func() { slots.Close() })
	return backend{rdb: rdb, lim: redislimit.NewLimiter(rdb, prefix), slots: slots,
		ledger: redisledger.NewLedger(rdb, prefix, noSpend{}, 0), rt: &redistest.RoundTrips{}}
}
