// Package storetest is the contract every store implementation passes:
// run it from the implementation's own tests with a function that opens a
// fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/store"
)

// Run runs the whole contract. open must return an empty store that the
// test may close.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("keys", func(t *testing.T) { testKeys(t, open(t)) })
	t.Run("key lifecycle", func(t *testing.T) { testKeyLifecycle(t, open(t)) })
	t.Run("users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("concurrent", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("usage", func(t *testing.T) { testUsage(t, open(t)) })
	t.Run("minted spend", func(t *testing.T) { testMintedSpend(t, open(t)) })
	t.Run("budgets", func(t *testing.T) { testBudgets(t, open(t)) })
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func key(id, user string, n byte) store.Key {
	return store.Key{
		ID: id, Name: "key " + id, Hash: []byte{n, 1, 2, 3, 4, 5, 6, 7}, Prefix: "kw_test_Ab",
		User: user, Plan: "free", Scopes: []string{"tokens:mint", "models:fast"}, Test: true,
		CreatedAt: t0.Add(time.Duration(n) * time.Second),
	}
}

func testKeys(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	a, b, c := key("k1", "alice", 1), key("k2", "bob", 2), key("k3", "alice", 3)
	a.ExpiresAt = t0.Add(time.Hour)
	c.Scopes = nil
	for _, k := range []store.Key{a, b, c} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.KeyByID(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("KeyByID round trip (-want +got):\n%s", diff)
	}
	got, err = s.KeyByHash(ctx, b.Hash)
	if err != nil || got.ID != "k2" {
		t.Errorf("KeyByHash = %v, %v", got.ID, err)
	}
	if _, err := s.KeyByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing id: %v", err)
	}
	if _, err := s.KeyByHash(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing hash: %v", err)
	}
	dupHash := key("k9", "x", 1)
	if err := s.CreateKey(ctx, dupHash); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate hash: %v", err)
	}
	dupID := key("k1", "x", 9)
	if err := s.CreateKey(ctx, dupID); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate id: %v", err)
	}
	list, err := s.ListKeys(ctx, store.KeyFilter{User: "alice"})
	if err != nil || len(list) != 2 || list[0].ID != "k1" || list[1].ID != "k3" {
		t.Errorf("ListKeys(alice) = %v, %v", ids(list), err)
	}
	list, _ = s.ListKeys(ctx, store.KeyFilter{})
	if len(list) != 3 {
		t.Errorf("ListKeys() = %v", ids(list))
	}
}

func ids(ks []store.Key) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return out
}

func testKeyLifecycle(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	k := key("k1", "alice", 1)
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if !k.Active(t0) {
		t.Error("new key must be active")
	}
	// Expiry only ever moves earlier.
	if err := s.ExpireKey(ctx, "k1", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ExpireKey(ctx, "k1", t0.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.KeyByID(ctx, "k1")
	if !got.ExpiresAt.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("ExpiresAt = %v", got.ExpiresAt)
	}
	if got.Active(t0.Add(3*time.Hour)) || !got.Active(t0.Add(time.Hour)) {
		t.Error("Active ignores expiry")
	}
	// Last use only moves forward; unknown ids are ignored.
	if err := s.TouchKeys(ctx, map[string]time.Time{"k1": t0.Add(time.Minute), "ghost": t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchKeys(ctx, map[string]time.Time{"k1": t0}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.KeyByID(ctx, "k1")
	if !got.LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("LastUsedAt = %v", got.LastUsedAt)
	}
	// Revocation is idempotent and keeps the first time.
	if err := s.RevokeKey(ctx, "k1", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, "k1", t0.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.KeyByID(ctx, "k1")
	if !got.RevokedAt.Equal(t0.Add(10*time.Minute)) || got.Active(t0) {
		t.Errorf("RevokedAt = %v", got.RevokedAt)
	}
	if l, _ := s.ListKeys(ctx, store.KeyFilter{}); len(l) != 0 {
		t.Errorf("revoked key listed: %v", ids(l))
	}
	if l, _ := s.ListKeys(ctx, store.KeyFilter{IncludeRevoked: true}); len(l) != 1 {
		t.Errorf("IncludeRevoked: %v", ids(l))
	}
	for name, err := range map[string]error{
		"revoke": s.RevokeKey(ctx, "nope", t0),
		"expire": s.ExpireKey(ctx, "nope", t0),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s missing key: %v", name, err)
		}
	}
}

func testUsers(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	if _, err := s.User(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing user: %v", err)
	}
	if err := s.PutUser(ctx, store.User{ID: "bob", Plan: "pro", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutUser(ctx, store.User{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutUser(ctx, store.User{ID: "bob", Plan: "free", Disabled: true, CreatedAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(ctx, "bob")
	if err != nil || u.Plan != "free" || !u.Disabled || !u.CreatedAt.Equal(t0) || u.UpdatedAt.IsZero() {
		t.Errorf("bob = %+v, %v", u, err)
	}
	all, err := s.ListUsers(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "alice" {
		t.Errorf("ListUsers = %+v, %v", all, err)
	}
}

func testAudit(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		kind := "key.created"
		if i%2 == 1 {
			kind = "key.revoked"
		}
		if err := s.AppendEvent(ctx, store.Event{At: t0.Add(time.Duration(i) * time.Minute), Kind: kind, Actor: "cli", Subject: fmt.Sprintf("k%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Events(ctx, store.EventFilter{})
	if err != nil || len(evs) != 5 || evs[0].Subject != "k4" || evs[0].ID == 0 {
		t.Fatalf("Events = %+v, %v", evs, err)
	}
	evs, _ = s.Events(ctx, store.EventFilter{Kind: "key.revoked"})
	if len(evs) != 2 || evs[0].Subject != "k3" {
		t.Errorf("by kind: %+v", evs)
	}
	evs, _ = s.Events(ctx, store.EventFilter{Since: t0.Add(2 * time.Minute), Limit: 2})
	if len(evs) != 2 || evs[1].Subject != "k3" {
		t.Errorf("since+limit: %+v", evs)
	}
	if evs[0].At.IsZero() || evs[0].Actor != "cli" {
		t.Errorf("fields: %+v", evs[0])
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("c%02d", i)
			k := key(id, "u", byte(i))
			k.Hash = []byte("hash-" + id)
			if err := s.CreateKey(ctx, k); err != nil {
				errs <- err
				return
			}
			if err := s.TouchKeys(ctx, map[string]time.Time{id: t0.Add(time.Duration(i) * time.Second)}); err != nil {
				errs <- err
			}
			if _, err := s.KeyByHash(ctx, k.Hash); err != nil {
				errs <- err
			}
			if err := s.AppendEvent(ctx, store.Event{Kind: "key.created", Subject: id}); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if l, _ := s.ListKeys(ctx, store.KeyFilter{}); len(l) != 20 {
		t.Errorf("%d keys after concurrent creation", len(l))
	}
}

func rec(at time.Time, key, user, plan, model string, in, out, cost int64) store.UsageRecord {
	return store.UsageRecord{At: at, RequestID: "req_" + key, Key: key, User: user, Plan: plan, Route: "chat", Provider: "openai",
		Model: model, TargetModel: model + "-2025", Input: in, Output: out, CostMicros: cost, Status: 200, Metered: "reported",
		Latency: 1500 * time.Millisecond, Streamed: true}
}

func testUsage(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	day1, day2 := t0, t0.Add(24*time.Hour)
	recs := []store.UsageRecord{
		rec(day1, "key:a", "alice", "free", "fast", 100, 10, 1000),
		rec(day1.Add(time.Hour), "key:a", "alice", "free", "smart", 200, 20, 5000),
		rec(day2, "key:b", "bob", "pro", "fast", 50, 5, 300),
		rec(day2.Add(time.Minute), "key:c", "alice", "pro", "fast", 1, 1, 7),
	}
	recs[1].CachedInput, recs[1].CacheWrite, recs[1].Reasoning = 30, 40, 5
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendUsage(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	tests := []struct {
		name string
		f    store.UsageFilter
		by   string
		want []store.UsageGroup
	}{
		{"by user", store.UsageFilter{}, store.ByUser, []store.UsageGroup{
			{Group: "alice", Requests: 3, Input: 301, CachedInput: 30, CacheWrite: 40, Output: 31, CostMicros: 6007},
			{Group: "bob", Requests: 1, Input: 50, Output: 5, CostMicros: 300},
		}},
		{"by key since day2", store.UsageFilter{Since: day2}, store.ByKey, []store.UsageGroup{
			{Group: "key:b", Requests: 1, Input: 50, Output: 5, CostMicros: 300},
			{Group: "key:c", Requests: 1, Input: 1, Output: 1, CostMicros: 7},
		}},
		{"by model for alice", store.UsageFilter{User: "alice"}, store.ByModel, []store.UsageGroup{
			{Group: "smart", Requests: 1, Input: 200, CachedInput: 30, CacheWrite: 40, Output: 20, CostMicros: 5000},
			{Group: "fast", Requests: 2, Input: 101, Output: 11, CostMicros: 1007},
		}},
		{"by day", store.UsageFilter{}, store.ByDay, []store.UsageGroup{
			{Group: day1.Format(time.DateOnly), Requests: 2, Input: 300, CachedInput: 30, CacheWrite: 40, Output: 30, CostMicros: 6000},
			{Group: day2.Format(time.DateOnly), Requests: 2, Input: 51, Output: 6, CostMicros: 307},
		}},
		{"until excludes", store.UsageFilter{Until: day1.Add(time.Hour)}, store.ByModel, []store.UsageGroup{
			{Group: "fast", Requests: 1, Input: 100, Output: 10, CostMicros: 1000},
		}},
		{"nothing", store.UsageFilter{Key: "key:zz"}, store.ByUser, []store.UsageGroup{}},
	}
	for _, tt := range tests {
		got, err := s.SummarizeUsage(ctx, tt.f, tt.by)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if _, err := s.SummarizeUsage(ctx, store.UsageFilter{}, "bogus"); err == nil {
		t.Error("unknown grouping accepted")
	}
	for _, sp := range []struct {
		f    store.SpendFilter
		want int64
	}{
		{store.SpendFilter{Key: "key:a"}, 6000},
		{store.SpendFilter{User: "alice"}, 6007},
		{store.SpendFilter{User: "alice", Plan: "pro"}, 7},
		{store.SpendFilter{User: "alice", Since: day1.Add(time.Minute)}, 5007},
		{store.SpendFilter{User: "nobody"}, 0},
	} {
		got, err := s.SpentMicros(ctx, sp.f)
		if err != nil || got != sp.want {
			t.Errorf("SpentMicros(%+v) = %d, %v; want %d", sp.f, got, err, sp.want)
		}
	}
	list, err := s.ListUsage(ctx, store.UsageFilter{User: "alice"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.UsageRecord{recs[3], recs[1]}, list); diff != "" {
		t.Errorf("ListUsage newest first (-want +got):\n%s", diff)
	}
	if one, _ := s.ListUsage(ctx, store.UsageFilter{RequestID: "req_key:b"}, 0); len(one) != 1 || one[0].Key != "key:b" {
		t.Errorf("ListUsage by request id: %+v", one)
	}
	n, err := s.PruneUsage(ctx, day2)
	if err != nil || n != 2 {
		t.Fatalf("PruneUsage = %d, %v; want 2", n, err)
	}
	got, _ := s.SummarizeUsage(ctx, store.UsageFilter{}, store.ByDay)
	if len(got) != 1 || got[0].Group != day2.Format(time.DateOnly) {
		t.Errorf("after prune: %+v", got)
	}
}

// testMintedSpend: a browser token's usage counts toward its own key,
// user and plan, and toward the key that minted it, that key's user, and
// that user on the key's plan.
func testMintedSpend(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	tok := rec(t0, "token:keyward#j1", "carol", "free", "fast", 10, 10, 40)
	tok.MintedBy, tok.MinterUser, tok.MinterPlan = "key:app", "app-server", "server"
	recs := []store.UsageRecord{tok, rec(t0, "key:app", "app-server", "server", "fast", 1, 1, 2), rec(t0, "key:other", "dave", "server", "fast", 1, 1, 100)}
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for _, sp := range []struct {
		f    store.SpendFilter
		want int64
	}{
		{store.SpendFilter{Key: "token:keyward#j1"}, 40},
		{store.SpendFilter{User: "carol"}, 40},
		{store.SpendFilter{User: "carol", Plan: "free"}, 40},
		{store.SpendFilter{Key: "key:app"}, 42},
		{store.SpendFilter{User: "app-server"}, 42},
		{store.SpendFilter{User: "app-server", Plan: "server"}, 42},
		{store.SpendFilter{User: "app-server", Plan: "free"}, 0},
		{store.SpendFilter{User: "carol", Plan: "server"}, 0},
		{store.SpendFilter{Key: "key:other"}, 100},
	} {
		got, err := s.SpentMicros(ctx, sp.f)
		if err != nil || got != sp.want {
			t.Errorf("SpentMicros(%+v) = %d, %v; want %d", sp.f, got, err, sp.want)
		}
	}
	list, err := s.ListUsage(ctx, store.UsageFilter{User: "carol"}, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUsage: %v %v", list, err)
	}
	if diff := cmp.Diff(tok, list[0]); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

func testBudgets(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Budget(ctx, "user", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing budget: %v", err)
	}
	a := store.Budget{Scope: "user", Subject: "alice", DailyMicros: 500_000, UpdatedAt: t0}
	k := store.Budget{Scope: "key", Subject: "key:k1", MonthlyMicros: 9_000_000, UpdatedAt: t0}
	for _, b := range []store.Budget{a, k} {
		if err := s.PutBudget(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	a.DailyMicros, a.MonthlyMicros, a.UpdatedAt = 250_000, 1_000_000, t0.Add(time.Hour)
	if err := s.PutBudget(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Budget(ctx, "user", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("replaced budget (-want +got):\n%s", diff)
	}
	list, err := s.ListBudgets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Budget{k, a}, list); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if err := s.DeleteBudget(ctx, "key", "key:k1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBudget(ctx, "key", "key:k1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}
