package postgres

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keyward/keyward/internal/pgtest"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/sqlite"
)

// The parity tests write the same data to this store and to SQLite and
// expect the same answer to every query: the contract's examples are few,
// and the two could differ in ordering ties, text order, day boundaries,
// time zones, empty strings, and the edges of time and integer ranges.

// pair is the two stores under comparison.
type pair struct {
	pg, lite store.Store
}

func openPair(t *testing.T) pair {
	t.Helper()
	_, dsn := pgtest.Schema(t)
	// A session time zone far from UTC: days must still be UTC days.
	pg := openDSN(t, pgtest.WithParam(dsn, "timezone", "Pacific/Kiritimati"))
	lite, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	return pair{pg: pg, lite: lite}
}

// same calls q on both stores and reports any difference in results or in
// whether they failed.
func same[T any](t *testing.T, p pair, what string, q func(store.Store) (T, error), opts ...cmp.Option) {
	t.Helper()
	want, wantErr := q(p.lite)
	got, err := q(p.pg)
	if (err != nil) != (wantErr != nil) {
		t.Errorf("%s: postgres error %v, sqlite error %v", what, err, wantErr)
		return
	}
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		t.Errorf("%s (-sqlite +postgres):\n%s", what, diff)
	}
}

// both applies a write to both stores; they must agree on failing.
func both(t *testing.T, p pair, what string, w func(store.Store) error) {
	t.Helper()
	same(t, p, what, func(s store.Store) (struct{}, error) { return struct{}{}, w(s) })
}

var (
	day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// Times a day boundary could go wrong at, and ones outside the
	// ordinary: before 1970, the zero time, nanoseconds, other zones.
	edgeTimes = []time.Time{
		day0.Add(-time.Nanosecond),
		day0,
		day0.Add(24*time.Hour - time.Nanosecond),
		day0.Add(24 * time.Hour),
		day0.Add(10*time.Hour + 123456789),
		time.Date(2026, 3, 2, 9, 30, 0, 0, time.FixedZone("+14", 14*3600)),  // 1 March in UTC
		time.Date(2026, 3, 1, 20, 0, 0, 0, time.FixedZone("-10", -10*3600)), // 2 March in UTC
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 58, 0, time.UTC),
		time.Unix(0, 1),
		{},
	}
	// Names that sort differently by bytes and by locale, or collide when
	// case or accents are folded; and the empty name.
	names   = []string{"alice", "Alice", "bob", "_bob", "Zed", "zed", "é", "e", "a b", "a-b", "ab", "日本", ""}
	models  = []string{"fast", "Fast", "smart", "", "gpt-4o"}
	plans   = []string{"free", "pro", ""}
	costs   = []int64{0, 7, 100, 100, 100, 2500, 1 << 40}
	keyIDs  = []string{"key:a", "key:B", "key:b", "client:env:X", "browser:1", ""}
	minters = []string{"key:a", "key:B", "key:app"}
)

func randomRecords(r *rand.Rand, n int) []store.UsageRecord {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	recs := make([]store.UsageRecord, n)
	for i := range recs {
		at := edgeTimes[r.IntN(len(edgeTimes))]
		if r.IntN(3) > 0 {
			at = day0.Add(time.Duration(r.Int64N(int64(72 * time.Hour))))
		}
		recs[i] = store.UsageRecord{
			At: at, RequestID: fmt.Sprintf("req_%d", r.IntN(n/2)), Key: pick(keyIDs), User: pick(names), Plan: pick(plans),
			Route: "chat", Provider: "openai", Model: pick(models), TargetModel: pick(models),
			Input: r.Int64N(5000), CachedInput: r.Int64N(100), CacheWrite: r.Int64N(100), Output: r.Int64N(2000), Reasoning: r.Int64N(10),
			CostMicros: costs[r.IntN(len(costs))], Status: []int{200, 429, 500}[r.IntN(3)], Metered: "reported",
			Latency: time.Duration(r.Int64N(int64(5 * time.Second))), Streamed: r.IntN(2) == 0,
		}
		if r.IntN(4) == 0 {
			recs[i].MintedBy, recs[i].MinterUser, recs[i].MinterPlan = pick(minters), pick(names), pick(plans)
		}
	}
	return recs
}

func TestUsageMatchesSQLite(t *testing.T) {
	t.Parallel()
	p := openPair(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(19, 2026))
	recs := randomRecords(r, 300)
	for i := 0; i < len(recs); i += 100 {
		batch := recs[i : i+100]
		both(t, p, "AppendUsage", func(s store.Store) error { return s.AppendUsage(ctx, batch) })
	}

	sinces := []time.Time{{}, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), day0, day0.Add(24*time.Hour + time.Nanosecond), day0.Add(10*time.Hour + 123456789)}
	var filters []store.UsageFilter
	for _, since := range sinces {
		filters = append(filters, store.UsageFilter{Since: since}, store.UsageFilter{Since: since, Until: day0.Add(36 * time.Hour)})
	}
	for _, n := range names[:4] {
		filters = append(filters, store.UsageFilter{User: n}, store.UsageFilter{User: n, Plan: "pro"})
	}
	for _, k := range keyIDs[:3] {
		filters = append(filters, store.UsageFilter{Key: k, Since: day0})
	}
	filters = append(filters, store.UsageFilter{Model: "Fast"}, store.UsageFilter{RequestID: "req_3"}, store.UsageFilter{Until: day0})

	for _, f := range filters {
		for _, by := range []string{store.ByUser, store.ByKey, store.ByModel, store.ByDay, "bogus"} {
			same(t, p, fmt.Sprintf("SummarizeUsage(%+v, %s)", f, by), func(s store.Store) ([]store.UsageGroup, error) { return s.SummarizeUsage(ctx, f, by) })
		}
		for _, limit := range []int{0, 3, 1000} {
			same(t, p, fmt.Sprintf("ListUsage(%+v, %d)", f, limit), func(s store.Store) ([]store.UsageRecord, error) { return s.ListUsage(ctx, f, limit) })
		}
	}

	spendKeys := append(append([]string{}, keyIDs...), "key:app")
	for _, since := range sinces {
		for _, k := range spendKeys {
			f := store.SpendFilter{Key: k, Since: since}
			same(t, p, fmt.Sprintf("SpentMicros(%+v)", f), func(s store.Store) (int64, error) { return s.SpentMicros(ctx, f) })
		}
		for _, u := range names {
			for _, pl := range plans {
				f := store.SpendFilter{User: u, Plan: pl, Since: since}
				same(t, p, fmt.Sprintf("SpentMicros(%+v)", f), func(s store.Store) (int64, error) { return s.SpentMicros(ctx, f) })
			}
		}
	}

	for _, before := range []time.Time{{}, edgeTimes[7], day0.Add(24 * time.Hour), day0.Add(48 * time.Hour)} {
		same(t, p, fmt.Sprintf("PruneUsage(%v)", before), func(s store.Store) (int64, error) { return s.PruneUsage(ctx, before) })
		same(t, p, "ListUsage after prune", func(s store.Store) ([]store.UsageRecord, error) { return s.ListUsage(ctx, store.UsageFilter{}, 1000) })
	}
}

// TestSumOverflowMatchesSQLite: a sum past int64 fails in both stores,
// one that just fits does not.
func TestSumOverflowMatchesSQLite(t *testing.T) {
	t.Parallel()
	p := openPair(t)
	ctx := context.Background()
	fits := []store.UsageRecord{
		{At: day0, Key: "key:fit", User: "fit", CostMicros: math.MaxInt64 - 1, Input: math.MaxInt64},
		{At: day0, Key: "key:fit", User: "fit", CostMicros: 1},
	}
	over := []store.UsageRecord{
		{At: day0, Key: "key:over", User: "over", CostMicros: math.MaxInt64},
		{At: day0, Key: "key:over", User: "over", CostMicros: 1},
	}
	both(t, p, "AppendUsage", func(s store.Store) error { return s.AppendUsage(ctx, append(fits, over...)) })
	for _, f := range []store.UsageFilter{{Key: "key:fit"}, {Key: "key:over"}, {}} {
		same(t, p, fmt.Sprintf("SummarizeUsage(%+v)", f), func(s store.Store) ([]store.UsageGroup, error) { return s.SummarizeUsage(ctx, f, store.ByKey) })
	}
	for _, f := range []store.SpendFilter{{Key: "key:fit"}, {User: "over"}, {}} {
		same(t, p, fmt.Sprintf("SpentMicros(%+v)", f), func(s store.Store) (int64, error) { return s.SpentMicros(ctx, f) })
	}
	if _, err := p.pg.SpentMicros(ctx, store.SpendFilter{User: "over"}); err == nil {
		t.Error("an overflowing sum did not fail")
	}
}

func TestKeysMatchSQLite(t *testing.T) {
	t.Parallel()
	p := openPair(t)
	ctx := context.Background()
	var keys []store.Key
	for i, id := range []string{"k_b", "k_A", "k_a", "k é", "k0", "k9"} {
		k := store.Key{ID: id, Name: "name " + id, Hash: []byte{byte(i), 0, 0xff}, Prefix: "kw_live_x", User: names[i%4],
			Plan: plans[i%3], Scopes: []string{"models:fast", ""}, Test: i%2 == 0, CreatedAt: day0.Add(time.Duration(i%3) * time.Second), RotatedFrom: "k_" + id}
		switch i {
		case 1:
			k.Scopes = nil
		case 2:
			k.Scopes = []string{}
		case 3:
			k.ExpiresAt, k.RevokedAt, k.LastUsedAt = edgeTimes[7], edgeTimes[4], edgeTimes[5]
		case 4:
			k.Hash = []byte{}
		}
		keys = append(keys, k)
		both(t, p, "CreateKey "+id, func(s store.Store) error { return s.CreateKey(ctx, k) })
	}
	both(t, p, "CreateKey without a hash", func(s store.Store) error { return s.CreateKey(ctx, store.Key{ID: "nohash"}) })
	both(t, p, "CreateKey with a taken hash", func(s store.Store) error { return s.CreateKey(ctx, store.Key{ID: "dup", Hash: keys[0].Hash}) })

	listAll := func(what string) {
		t.Helper()
		for _, f := range []store.KeyFilter{{}, {IncludeRevoked: true}, {User: "alice"}, {User: "Alice", IncludeRevoked: true}, {User: "nobody"}} {
			same(t, p, fmt.Sprintf("%s: ListKeys(%+v)", what, f), func(s store.Store) ([]store.Key, error) { return s.ListKeys(ctx, f) })
		}
		for _, k := range keys {
			same(t, p, what+": KeyByID "+k.ID, func(s store.Store) (store.Key, error) { return s.KeyByID(ctx, k.ID) })
			same(t, p, what+": KeyByHash "+k.ID, func(s store.Store) (store.Key, error) { return s.KeyByHash(ctx, k.Hash) })
		}
		same(t, p, what+": KeyByHash(nil)", func(s store.Store) (store.Key, error) { return s.KeyByHash(ctx, nil) })
	}
	listAll("created")

	// The edges of revoking, expiring and touching, the zero time among them.
	for _, at := range []time.Time{day0.Add(time.Hour), day0.Add(2 * time.Hour), day0, {}, edgeTimes[7]} {
		for _, k := range keys[:3] {
			both(t, p, fmt.Sprintf("ExpireKey(%s, %v)", k.ID, at), func(s store.Store) error { return s.ExpireKey(ctx, k.ID, at) })
		}
		both(t, p, fmt.Sprintf("RevokeKey(k_b, %v)", at), func(s store.Store) error { return s.RevokeKey(ctx, "k_b", at) })
		both(t, p, fmt.Sprintf("TouchKeys(%v)", at), func(s store.Store) error {
			return s.TouchKeys(ctx, map[string]time.Time{"k_A": at, "k0": at.Add(time.Nanosecond), "ghost": at})
		})
		both(t, p, "RevokeKey(ghost)", func(s store.Store) error { return s.RevokeKey(ctx, "ghost", at) })
		both(t, p, "ExpireKey(ghost)", func(s store.Store) error { return s.ExpireKey(ctx, "ghost", at) })
	}
	both(t, p, "TouchKeys(nil)", func(s store.Store) error { return s.TouchKeys(ctx, nil) })
	listAll("after updates")
}

func TestUsersAuditBudgetsMatchSQLite(t *testing.T) {
	t.Parallel()
	p := openPair(t)
	ctx := context.Background()
	// UpdatedAt is the time of writing, which differs between the two.
	ignoreUpdated := cmpopts.IgnoreFields(store.User{}, "UpdatedAt")
	same(t, p, "ListUsers of an empty store", func(s store.Store) ([]store.User, error) { return s.ListUsers(ctx) })
	for i, id := range names {
		// Not the zero time: that is the time of writing too.
		u := store.User{ID: id, Plan: plans[i%3], Disabled: i%4 == 0, CreatedAt: edgeTimes[i%(len(edgeTimes)-1)]}
		both(t, p, "PutUser "+id, func(s store.Store) error { return s.PutUser(ctx, u) })
	}
	for _, id := range names[:3] {
		u := store.User{ID: id, Plan: "changed", CreatedAt: day0.Add(time.Hour)}
		both(t, p, "PutUser again "+id, func(s store.Store) error { return s.PutUser(ctx, u) })
	}
	same(t, p, "ListUsers", func(s store.Store) ([]store.User, error) { return s.ListUsers(ctx) }, ignoreUpdated)
	for _, id := range append(names, "nobody") {
		same(t, p, "User "+id, func(s store.Store) (store.User, error) { return s.User(ctx, id) }, ignoreUpdated)
	}

	for i := range 40 {
		e := store.Event{At: edgeTimes[i%(len(edgeTimes)-1)], Kind: []string{"key.created", "key.revoked", "auth.failures"}[i%3],
			Actor: names[i%len(names)], Subject: fmt.Sprintf("k%d", i%5), Detail: fmt.Sprintf("n=%d", i)}
		both(t, p, "AppendEvent", func(s store.Store) error { return s.AppendEvent(ctx, e) })
	}
	for _, f := range []store.EventFilter{{}, {Limit: 7}, {Kind: "key.revoked"}, {Kind: "auth.failures", Since: day0, Limit: 3},
		{Since: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, {Kind: "none"}, {Limit: -1}} {
		same(t, p, fmt.Sprintf("Events(%+v)", f), func(s store.Store) ([]store.Event, error) { return s.Events(ctx, f) })
	}

	for i, subject := range names {
		b := store.Budget{Scope: []string{"user", "key"}[i%2], Subject: subject, DailyMicros: int64(i) * 1000, MonthlyMicros: math.MaxInt64 - int64(i),
			UpdatedAt: edgeTimes[i%(len(edgeTimes)-1)]}
		both(t, p, "PutBudget "+subject, func(s store.Store) error { return s.PutBudget(ctx, b) })
	}
	same(t, p, "ListBudgets", func(s store.Store) ([]store.Budget, error) { return s.ListBudgets(ctx) })
	for _, subject := range []string{"alice", "Alice", "nobody"} {
		same(t, p, "Budget "+subject, func(s store.Store) (store.Budget, error) { return s.Budget(ctx, "user", subject) })
		both(t, p, "DeleteBudget "+subject, func(s store.Store) error { return s.DeleteBudget(ctx, "user", subject) })
	}
	same(t, p, "ListBudgets after deleting", func(s store.Store) ([]store.Budget, error) { return s.ListBudgets(ctx) })
}
