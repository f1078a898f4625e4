package redislimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/ratelimit/ratelimittest"
	"github.com/keyward/keyward/internal/redistest"
)

func TestLimiterContract(t *testing.T) {
	ratelimittest.RunLimiter(t, func(t *testing.T) ratelimit.Limiter {
		rdb := redistest.Client(t)
		return NewLimiter(rdb, redistest.Prefix(t, rdb))
	})
}

// memoryAllowMany is AllowMany's contract on Memory: each check in turn,
// and when one is refused, what the others took is given back.
func memoryAllowMany(m *ratelimit.Memory, checks []Check, now time.Time) []ratelimit.Decision {
	ctx := context.Background()
	ds := make([]ratelimit.Decision, len(checks))
	all := true
	for i, c := range checks {
		ds[i], _ = m.Allow(ctx, c.Key, c.Limit, c.Cost, now)
		all = all && ds[i].Allowed
	}
	if !all {
		for i := len(checks) - 1; i >= 0; i-- {
			if c := checks[i]; ds[i].Allowed && c.Cost > 0 {
				_ = m.Adjust(ctx, c.Key, c.Limit, -c.Cost, now)
			}
		}
	}
	return ds
}

// TestMatchesMemory runs random sequences of Allow, Adjust and AllowMany
// on both limiters and wants the same answers: at odd nanoseconds, with
// emission intervals that are no whole number of microseconds, and
// across the Unix epoch (instants before it are negative).
func TestMatchesMemory(t *testing.T) {
	limits := []ratelimit.Limit{
		ratelimit.PerMinute(7), // 8571428571ns
		ratelimit.PerDay(3),
		{Rate: 1000, Period: time.Minute, Burst: 10},
		{Rate: 3, Period: 10 * time.Second},
		{Rate: 13, Period: time.Second, Burst: 4},
	}
	for _, tc := range []struct {
		name   string
		start  time.Time
		adjust bool
	}{
		{"now", ratelimittest.T0.Add(123456789), true},
		// Memory reads a missing key as a TAT at the epoch in Adjust: no
		// Adjust across it.
		{"across the epoch", time.Unix(-40, 987654321), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb := redistest.Client(t)
			rl := NewLimiter(rdb, redistest.Prefix(t, rdb))
			mem := ratelimit.NewMemory()
			ctx := context.Background()
			r := rand.New(rand.NewPCG(19, 1))
			check := func() Check {
				k := r.IntN(len(limits))
				l := limits[k]
				b := l.Burst
				if b == 0 {
					b = l.Rate
				}
				return Check{Key: fmt.Sprint("k", k), Limit: l, Cost: r.IntN(b/2 + 2)}
			}
			now := tc.start
			for i := range 1500 {
				switch r.IntN(10) {
				case 0:
					now = now.Add(time.Duration(r.Int64N(int64(10 * time.Minute))))
				default:
					now = now.Add(time.Duration(r.Int64N(int64(2 * time.Second))))
				}
				switch op := r.IntN(10); {
				case op < 5:
					c := check()
					want, _ := mem.Allow(ctx, c.Key, c.Limit, c.Cost, now)
					got, err := rl.Allow(ctx, c.Key, c.Limit, c.Cost, now)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("op %d: Allow(%+v) at %v (-memory +redis):\n%s", i, c, now, diff)
					}
				case op < 7 && tc.adjust:
					c := check()
					c.Cost = r.IntN(c.Limit.Rate) - c.Limit.Rate/2
					if err := rl.Adjust(ctx, c.Key, c.Limit, c.Cost, now); err != nil {
						t.Fatal(err)
					}
					_ = mem.Adjust(ctx, c.Key, c.Limit, c.Cost, now)
				default:
					checks := make([]Check, 1+r.IntN(4))
					for j := range checks {
						checks[j] = check()
					}
					want := memoryAllowMany(mem, checks, now)
					got, err := rl.AllowMany(ctx, checks, now)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("op %d: AllowMany(%+v) at %v (-memory +redis):\n%s", i, checks, now, diff)
					}
				}
			}
		})
	}
}

func TestAllowManyOneRoundTrip(t *testing.T) {
	t.Parallel()
	rdb := redistest.OwnClient(t)
	rt := &redistest.RoundTrips{}
	rdb.AddHook(rt)
	l := NewLimiter(rdb, redistest.Prefix(t, rdb))
	ctx := context.Background()
	now := ratelimittest.T0
	checks := []Check{
		{Key: "rpm:free:key:k1", Limit: ratelimit.PerMinute(10), Cost: 1},
		{Key: "rpd:free:key:k1", Limit: ratelimit.PerDay(100), Cost: 1},
		{Key: "tpm:free:key:k1", Limit: ratelimit.PerMinute(10000), Cost: 800},
		{Key: "rpm:free:user:u1", Limit: ratelimit.PerMinute(10), Cost: 1},
	}
	// The first call may find the script not loaded yet (EVALSHA, then
	// EVAL); from then on it is one EVALSHA.
	if _, err := l.AllowMany(ctx, checks, now); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		rt.Reset()
		ds, err := l.AllowMany(ctx, checks, now)
		if err != nil {
			t.Fatal(err)
		}
		if rt.N.Load() != 1 || rt.Names()[0] != "evalsha" {
			t.Fatalf("call %d: round trips %v, want one evalsha", i, rt.Names())
		}
		if !ds[0].Allowed || ds[0].Remaining != 10-2-i || ds[2].Remaining != 10000-800*(i+2) {
			t.Fatalf("call %d: %+v", i, ds)
		}
	}
	rt.Reset()
	if _, err := l.Allow(ctx, "single", ratelimit.PerMinute(1), 1, now); err != nil {
		t.Fatal(err)
	}
	if err := l.Adjust(ctx, "single", ratelimit.PerMinute(1), -1, now); err != nil {
		t.Fatal(err)
	}
	if got := rt.Names(); len(got) > 3 { // Adjust's script may not be loaded yet
		t.Fatalf("Allow and Adjust: round trips %v", got)
	}
	rt.Reset()
	if err := l.Adjust(ctx, "single", ratelimit.PerMinute(1), 1, now); err != nil {
		t.Fatal(err)
	}
	if rt.N.Load() != 1 {
		t.Fatalf("Adjust: round trips %v, want one", rt.Names())
	}
}

func TestAllowManyAllOrNothing(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t)
	l := NewLimiter(rdb, redistest.Prefix(t, rdb))
	ctx := context.Background()
	now := ratelimittest.T0
	rpm, tpm := ratelimit.PerMinute(3), ratelimit.PerMinute(1000)
	remaining := func(key string, lim ratelimit.Limit) int {
		t.Helper()
		// A zero-cost check reports without taking.
		d, err := l.Allow(ctx, key, lim, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		return d.Remaining
	}
	if _, err := l.Allow(ctx, "tpm", tpm, 900, now); err != nil {
		t.Fatal(err)
	}
	// rpm fits, tpm does not: neither is taken.
	ds, err := l.AllowMany(ctx, []Check{{Key: "rpm", Limit: rpm, Cost: 1}, {Key: "rpd", Limit: ratelimit.PerDay(5), Cost: 1}, {Key: "tpm", Limit: tpm, Cost: 200}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ds[0].Allowed || !ds[1].Allowed || ds[2].Allowed || ds[2].RetryAfter != 6*time.Second {
		t.Fatalf("refused batch: %+v", ds)
	}
	if r := remaining("rpm", rpm); r != 3 {
		t.Fatalf("a refused batch took from rpm: %d left", r)
	}
	if r := remaining("rpd", ratelimit.PerDay(5)); r != 5 {
		t.Fatalf("a refused batch took from rpd: %d left", r)
	}
	if r := remaining("tpm", tpm); r != 100 {
		t.Fatalf("a refused batch took from tpm: %d left", r)
	}
	// A batch that fits takes from every key, the same key twice too.
	ds, err = l.AllowMany(ctx, []Check{{Key: "rpm", Limit: rpm, Cost: 1}, {Key: "tpm", Limit: tpm, Cost: 50}, {Key: "rpm", Limit: rpm, Cost: 1}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ds[0].Allowed || !ds[1].Allowed || !ds[2].Allowed || ds[0].Remaining != 2 || ds[2].Remaining != 1 {
		t.Fatalf("batch: %+v", ds)
	}
	if r := remaining("rpm", rpm); r != 1 {
		t.Fatalf("rpm: %d left, want 1", r)
	}
	if r := remaining("tpm", tpm); r != 50 {
		t.Fatalf("tpm: %d left, want 50", r)
	}
	// The same key twice, the second does not fit: the first is not taken.
	ds, err = l.AllowMany(ctx, []Check{{Key: "rpm", Limit: rpm, Cost: 1}, {Key: "rpm", Limit: rpm, Cost: 1}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ds[0].Allowed || ds[1].Allowed {
		t.Fatalf("same key twice: %+v", ds)
	}
	if r := remaining("rpm", rpm); r != 1 {
		t.Fatalf("rpm after a refused batch: %d left, want 1", r)
	}
	if ds, err := l.AllowMany(ctx, nil, now); err != nil || ds != nil {
		t.Fatalf("no checks: %v %v", ds, err)
	}
	if _, err := l.AllowMany(ctx, []Check{{Key: "rpm", Limit: rpm, Cost: 1}, {Key: "bad", Limit: ratelimit.Limit{}, Cost: 1}}, now); !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Fatalf("invalid limit: %v", err)
	}
	if _, err := l.Allow(ctx, "fine", ratelimit.Limit{Rate: 2, Period: time.Nanosecond}, 1, now); !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Fatalf("two a nanosecond: %v", err)
	}
}

// TestKeys checks that any key string is safe, every key ends up under
// the prefix in one shape, and idle keys expire.
func TestKeys(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	l := NewLimiter(rdb, prefix)
	ctx := context.Background()
	now := time.Now()
	keys := []string{"", "{tag}", "a}b{c", "*", "key:kw_live_x", "sp ace\x00nul\n", strings.Repeat("long", 5000), "ünï"}
	for _, k := range keys {
		d, err := l.Allow(ctx, k, ratelimit.PerMinute(2), 1, now)
		if err != nil || !d.Allowed || d.Remaining != 1 {
			t.Fatalf("%.20q: %+v %v", k, d, err)
		}
	}
	got := redistest.KeysUnder(t, rdb, prefix)
	if len(got) != len(keys) {
		t.Fatalf("%d keys stored for %d keys: %q", len(got), len(keys), got)
	}
	for _, k := range got {
		rest, ok := strings.CutPrefix(k, prefix+"rl:")
		if !ok || len(rest) != 22 || strings.ContainsAny(rest, "{}") {
			t.Fatalf("key %q", k)
		}
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil || ttl <= 30*time.Second || ttl > 31*time.Second {
			t.Fatalf("%q expires in %v (%v), want 30s and the grace", k, ttl, err)
		}
	}
	// What is stored is the TAT, in Unix nanoseconds.
	v, err := rdb.Get(ctx, redisKey(prefix, "rl:", "{tag}")).Result()
	if want := fmt.Sprint(now.Add(30 * time.Second).UnixNano()); err != nil || v != want {
		t.Fatalf("stored %q (%v), want %s", v, err, want)
	}
	// Refunding everything deletes the key.
	if err := l.Adjust(ctx, "{tag}", ratelimit.PerMinute(2), -1, now); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, redisKey(prefix, "rl:", "{tag}")).Result(); n != 0 {
		t.Fatal("a full bucket is still stored")
	}
	// Default prefix.
	if k := redisKey(NewLimiter(rdb, "").prefix, "rl:", "x"); !strings.HasPrefix(k, "kw:rl:") {
		t.Fatalf("default key %q", k)
	}
}

// TestBadState: a key holding something else is an error, not a panic.
func TestBadState(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	l := NewLimiter(rdb, prefix)
	ctx := context.Background()
	rdb.Set(ctx, redisKey(prefix, "rl:", "garbage"), "not a time", time.Minute)
	rdb.ZAdd(ctx, redisKey(prefix, "rl:", "zset"), redis.Z{Member: "m"})
	for _, k := range []string{"garbage", "zset"} {
		if _, err := l.Allow(ctx, k, ratelimit.PerMinute(1), 1, ratelimittest.T0); err == nil {
			t.Errorf("Allow on %s: no error", k)
		}
		if err := l.Adjust(ctx, k, ratelimit.PerMinute(1), 1, ratelimittest.T0); err == nil {
			t.Errorf("Adjust on %s: no error", k)
		}
	}
}

// BenchmarkAllow compares one Allow on Redis (one round trip) with one on
// Memory, serially and from many goroutines.
func BenchmarkAllow(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("rpm:free:key:", i)
	}
	lim := ratelimit.PerMinute(1 << 30)
	ctx := context.Background()
	run := func(b *testing.B, l ratelimit.Limiter) {
		now := time.Now()
		b.Run("serial", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := l.Allow(ctx, keys[i%len(keys)], lim, 1, now); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(len(keys))
				for pb.Next() {
					if _, err := l.Allow(ctx, keys[i%len(keys)], lim, 1, now); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
	b.Run("memory", func(b *testing.B) { run(b, ratelimit.NewMemory()) })
	b.Run("redis", func(b *testing.B) {
		rdb := redistest.Client(b)
		run(b, NewLimiter(rdb, redistest.Prefix(b, rdb)))
	})
}

// BenchmarkRoundTrip is the floor under BenchmarkAllow/redis: one GET.
func BenchmarkRoundTrip(b *testing.B) {
	rdb := redistest.Client(b)
	key := redistest.Prefix(b, rdb) + "x"
	ctx := context.Background()
	for b.Loop() {
		if err := rdb.Get(ctx, key).Err(); err != nil && err != redis.Nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllowMany is a request's four checks in one round trip, against
// four Allows.
func BenchmarkAllowMany(b *testing.B) {
	rdb := redistest.Client(b)
	l := NewLimiter(rdb, redistest.Prefix(b, rdb))
	ctx := context.Background()
	now := time.Now()
	checks := []Check{
		{Key: "rpm:free:key:k1", Limit: ratelimit.PerMinute(1 << 30), Cost: 1},
		{Key: "rpd:free:key:k1", Limit: ratelimit.PerDay(1 << 30), Cost: 1},
		{Key: "tpm:free:key:k1", Limit: ratelimit.PerMinute(1 << 30), Cost: 800},
		{Key: "rpm:free:user:u1", Limit: ratelimit.PerMinute(1 << 30), Cost: 1},
	}
	b.Run("one AllowMany", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.AllowMany(ctx, checks, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("four Allows", func(b *testing.B) {
		for b.Loop() {
			for _, c := range checks {
				if _, err := l.Allow(ctx, c.Key, c.Limit, c.Cost, now); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestAdmissionOneRoundTrip: a request's whole rate admission — every
// holder's requests per minute and day and tokens per minute, for each of
// its subjects — is one round trip to Redis (the Admitter batches them).
func TestAdmissionOneRoundTrip(t *testing.T) {
	t.Parallel()
	rdb := redistest.OwnClient(t)
	rt := &redistest.RoundTrips{}
	rdb.AddHook(rt)
	a := ratelimit.Admitter{Limiter: NewLimiter(rdb, redistest.Prefix(t, rdb)), Slots: ratelimit.NewMemorySlots()}
	holders := []ratelimit.Holder{
		{Plan: ratelimit.Plan{Name: "free", RPM: 10, RPD: 100, TPM: 10000}, Subjects: []string{"token:t1", "user:u1", "ip:192.0.2.1"}},
		{Plan: ratelimit.Plan{Name: "server", RPM: 600, TPM: 100000}, Subjects: []string{"key:k1"}},
	}
	ctx := context.Background()
	est := ratelimit.Estimate{Input: 100, Output: 200}
	for i := range 4 {
		rt.Reset()
		ad, rf, err := a.Admit(ctx, holders, est, time.Now())
		if err != nil || rf != nil {
			t.Fatalf("admission %d: %+v %v", i, rf, err)
		}
		if i > 0 && (rt.N.Load() != 1 || rt.Names()[0] != "evalsha") { // the first may load the script
			t.Fatalf("admission %d: round trips %v, want one evalsha for 11 checks", i, rt.Names())
		}
		if ad.Requests == nil || ad.Requests.Remaining != 10-1-i {
			t.Fatalf("admission %d: requests left %+v", i, ad.Requests)
		}
	}
}
