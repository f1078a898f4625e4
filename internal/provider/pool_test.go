package provider

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/secret"
)

// t0 is the fixed "now" of the cooldown tests; nothing here reads the clock.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testKeys returns keys k0, k1, … with the given weights and distinct values.
func testKeys(weights ...int) []*Key {
	keys := make([]*Key, len(weights))
	for i, w := range weights {
		keys[i] = NewKey(fmt.Sprintf("k%d", i), secret.New(fmt.Sprintf("test-key-value-%d", i)), w)
	}
	return keys
}

// ids names keys in order; never nil, so an empty result compares to []string{}.
func ids(keys []*Key) []string {
	out := []string{}
	for _, k := range keys {
		out = append(out, k.ID())
	}
	return out
}

// candidateRounds calls Candidates n times and returns each call's candidate list.
func candidateRounds(p *Pool, now time.Time, n int) [][]string {
	var out [][]string
	for i := 0; i < n; i++ {
		c, _ := p.Candidates(now)
		out = append(out, ids(c))
	}
	return out
}

func TestPoolRoundRobinOrder(t *testing.T) {
	want := [][]string{
		{"k0", "k1", "k2"},
		{"k1", "k2", "k0"},
		{"k2", "k0", "k1"},
		{"k0", "k1", "k2"},
		{"k1", "k2", "k0"},
	}
	tests := []struct {
		name     string
		strategy string
		weights  []int
	}{
		{"default strategy", "", []int{0, 0, 0}},
		{"round_robin", config.StrategyRoundRobin, []int{0, 0, 0}},
		// Round robin ignores weights: a weight-0 key is not standby.
		{"round_robin ignores weights", config.StrategyRoundRobin, []int{5, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool(testKeys(tt.weights...), tt.strategy)
			got := candidateRounds(p, t0, len(want))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("candidates per call (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPoolWeighted(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		// wantFirst is the key picked first on each call over one full
		// schedule: the smooth weighted round robin order.
		wantFirst []string
	}{
		{"3:1", []int{3, 1}, []string{"k0", "k0", "k1", "k0"}},
		{"1:3", []int{1, 3}, []string{"k1", "k0", "k1", "k1"}},
		{"equal weights reduce to one round each", []int{2, 2}, []string{"k0", "k1"}},
		{"gcd reduces 6:2 to 3:1", []int{6, 2}, []string{"k0", "k0", "k1", "k0"}},
		// nginx's example: a=5 b=1 c=1 gives a a b a c a a, never b and c
		// bunched at one end.
		{"5:1:1 interleaves", []int{5, 1, 1}, []string{"k0", "k0", "k1", "k0", "k2", "k0", "k0"}},
		{"single key", []int{4}, []string{"k0"}},
		{"standby key is never picked first", []int{3, 0, 1}, []string{"k0", "k0", "k2", "k0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := testKeys(tt.weights...)
			p := NewPool(keys, config.StrategyWeighted)
			const rounds = 3
			var first []string
			counts := map[string]int{}
			for i := 0; i < rounds*len(tt.wantFirst); i++ {
				c, retry := p.Candidates(t0)
				if !retry.IsZero() {
					t.Fatalf("call %d: retry = %v with no key cooling", i, retry)
				}
				// Every call offers every key exactly once.
				if len(c) != len(keys) {
					t.Fatalf("call %d: candidates %v, want all %d keys", i, ids(c), len(keys))
				}
				seen := map[string]bool{}
				for _, k := range c {
					if seen[k.ID()] {
						t.Fatalf("call %d: %s offered twice in %v", i, k.ID(), ids(c))
					}
					seen[k.ID()] = true
				}
				if i < len(tt.wantFirst) {
					first = append(first, c[0].ID())
				}
				counts[c[0].ID()]++
			}
			if diff := cmp.Diff(tt.wantFirst, first); diff != "" {
				t.Errorf("first picks over one schedule (-want +got):\n%s", diff)
			}
			wantCounts := map[string]int{}
			for _, id := range tt.wantFirst {
				wantCounts[id] += rounds
			}
			if diff := cmp.Diff(wantCounts, counts); diff != "" {
				t.Errorf("first-pick counts over %d schedules (-want +got):\n%s", rounds, diff)
			}
		})
	}
}

func TestPoolWeightedFallbackOrder(t *testing.T) {
	// After the strategy's pick come the other weighted keys in schedule
	// order, then the standby keys in configuration order.
	p := NewPool(testKeys(0, 3, 0, 1), config.StrategyWeighted)
	want := [][]string{
		{"k1", "k3", "k0", "k2"},
		{"k1", "k3", "k0", "k2"},
		{"k3", "k1", "k0", "k2"},
		{"k1", "k3", "k0", "k2"},
	}
	if diff := cmp.Diff(want, candidateRounds(p, t0, len(want))); diff != "" {
		t.Errorf("candidates per call (-want +got):\n%s", diff)
	}
}

func TestPoolStandby(t *testing.T) {
	tests := []struct {
		name      string
		weights   []int
		cool      map[int]time.Duration // key index → cooldown from t0
		at        time.Time
		want      []string
		wantRetry time.Time
	}{
		{
			name:    "standby comes last",
			weights: []int{1, 0, 1},
			want:    []string{"k0", "k2", "k1"},
		},
		{
			name:      "standby used when the others cool down",
			weights:   []int{1, 0, 1},
			cool:      map[int]time.Duration{0: time.Minute, 2: 2 * time.Minute},
			at:        t0,
			want:      []string{"k1"},
			wantRetry: t0.Add(time.Minute),
		},
		{
			name:      "weighted keys return after their cooldown",
			weights:   []int{1, 0, 1},
			cool:      map[int]time.Duration{0: time.Minute, 2: 2 * time.Minute},
			at:        t0.Add(time.Minute),
			want:      []string{"k0", "k1"},
			wantRetry: t0.Add(2 * time.Minute),
		},
		{
			name:      "cooling standby is left out too",
			weights:   []int{1, 0},
			cool:      map[int]time.Duration{1: time.Minute},
			at:        t0,
			want:      []string{"k0"},
			wantRetry: t0.Add(time.Minute),
		},
		{
			name:    "all keys standby",
			weights: []int{0, 0},
			want:    []string{"k0", "k1"},
		},
		{
			name:      "everything cooling",
			weights:   []int{2, 0},
			cool:      map[int]time.Duration{0: 3 * time.Second, 1: 2 * time.Second},
			at:        t0,
			want:      []string{},
			wantRetry: t0.Add(2 * time.Second),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := testKeys(tt.weights...)
			for i, d := range tt.cool {
				keys[i].Cooldown(t0, d)
			}
			at := tt.at
			if at.IsZero() {
				at = t0
			}
			got, retry := NewPool(keys, config.StrategyWeighted).Candidates(at)
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			if !retry.Equal(tt.wantRetry) {
				t.Errorf("retry = %v, want %v", retry, tt.wantRetry)
			}
		})
	}
}

func TestPoolCooldown(t *testing.T) {
	// k1 cools for 30s, k2 for 10s, both from t0. Each case asks a fresh
	// pool (so the round robin starts at k0) at a given time.
	tests := []struct {
		name      string
		at        time.Time
		coolK0    bool
		want      []string
		wantRetry time.Time
	}{
		{"before either returns", t0, false, []string{"k0"}, t0.Add(10 * time.Second)},
		{"one nanosecond early", t0.Add(10*time.Second - 1), false, []string{"k0"}, t0.Add(10 * time.Second)},
		{"k2 back exactly at its time", t0.Add(10 * time.Second), false, []string{"k0", "k2"}, t0.Add(30 * time.Second)},
		{"k1 back too", t0.Add(30 * time.Second), false, []string{"k0", "k1", "k2"}, time.Time{}},
		{"long after", t0.Add(time.Hour), false, []string{"k0", "k1", "k2"}, time.Time{}},
		{"all cooling", t0, true, []string{}, t0.Add(5 * time.Second)},
		{"earlier time than the cooldown start", t0.Add(-time.Hour), false, []string{"k0"}, t0.Add(10 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := testKeys(0, 0, 0)
			keys[1].Cooldown(t0, 30*time.Second)
			keys[2].Cooldown(t0, 10*time.Second)
			if tt.coolK0 {
				keys[0].Cooldown(t0, 5*time.Second)
			}
			got, retry := NewPool(keys, config.StrategyRoundRobin).Candidates(tt.at)
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			if !retry.Equal(tt.wantRetry) {
				t.Errorf("retry = %v, want %v", retry, tt.wantRetry)
			}
		})
	}
}

func TestPoolNoKeys(t *testing.T) {
	for _, strategy := range []string{config.StrategyRoundRobin, config.StrategyWeighted} {
		t.Run(strategy, func(t *testing.T) {
			got, retry := NewPool(nil, strategy).Candidates(t0)
			if len(got) != 0 || !retry.IsZero() {
				t.Errorf("Candidates = %v, %v; want none and zero time", ids(got), retry)
			}
		})
	}
}

func TestKeyCooldownNeverShortens(t *testing.T) {
	type cooldown struct {
		from time.Time
		d    time.Duration
	}
	tests := []struct {
		name  string
		calls []cooldown
		want  time.Time // CoolingUntil(t0)
	}{
		{"fresh key", nil, time.Time{}},
		{"one cooldown", []cooldown{{t0, time.Minute}}, t0.Add(time.Minute)},
		{"shorter second cooldown is ignored", []cooldown{{t0, time.Minute}, {t0, 10 * time.Second}}, t0.Add(time.Minute)},
		{"later but still earlier end is ignored", []cooldown{{t0, time.Minute}, {t0.Add(30 * time.Second), 10 * time.Second}}, t0.Add(time.Minute)},
		{"longer second cooldown extends", []cooldown{{t0, time.Minute}, {t0, 2 * time.Minute}}, t0.Add(2 * time.Minute)},
		{"later start extends", []cooldown{{t0, time.Minute}, {t0.Add(50 * time.Second), time.Minute}}, t0.Add(110 * time.Second)},
		{"zero duration does nothing", []cooldown{{t0, time.Minute}, {t0, 0}}, t0.Add(time.Minute)},
		{"negative duration does nothing", []cooldown{{t0, time.Minute}, {t0, -time.Hour}}, t0.Add(time.Minute)},
		{"cooldown in the past is not cooling now", []cooldown{{t0.Add(-time.Hour), time.Minute}}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := NewKey("k", secret.New("test-key-value"), 1)
			for _, c := range tt.calls {
				k.Cooldown(c.from, c.d)
			}
			if got := k.CoolingUntil(t0); !got.Equal(tt.want) {
				t.Errorf("CoolingUntil = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeyAdopt(t *testing.T) {
	tests := []struct {
		name      string
		prev      *Key
		wantAdopt bool
	}{
		{"same id and value", NewKey("openai/env:A", secret.New("test-key-value-a"), 1), true},
		{"same id and value, other weight", NewKey("openai/env:A", secret.New("test-key-value-a"), 7), true},
		{"same id, rotated value", NewKey("openai/env:A", secret.New("test-key-value-b"), 1), false},
		{"same id, value a prefix", NewKey("openai/env:A", secret.New("test-key-value-"), 1), false},
		{"other id, same value", NewKey("openai/env:B", secret.New("test-key-value-a"), 1), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prev != nil {
				tt.prev.Cooldown(t0, time.Minute)
			}
			k := NewKey("openai/env:A", secret.New("test-key-value-a"), 1)
			k.Adopt(tt.prev)
			want := time.Time{}
			if tt.wantAdopt {
				want = t0.Add(time.Minute)
			}
			if got := k.CoolingUntil(t0); !got.Equal(want) {
				t.Fatalf("CoolingUntil after Adopt = %v, want %v", got, want)
			}
			if tt.prev == nil {
				return
			}
			// Adopted state is shared: a key cooled through the new
			// snapshot is cool in the old one (still serving in-flight
			// requests) and vice versa; otherwise they stay independent.
			k.Cooldown(t0, time.Hour)
			prevWant := t0.Add(time.Minute)
			if tt.wantAdopt {
				prevWant = t0.Add(time.Hour)
			}
			if got := tt.prev.CoolingUntil(t0); !got.Equal(prevWant) {
				t.Errorf("prev CoolingUntil = %v, want %v", got, prevWant)
			}
		})
	}
}

func TestPoolConcurrentRoundRobinIsExact(t *testing.T) {
	// The counter is atomic, so concurrent callers still split the first
	// picks exactly evenly; run with -race.
	p := NewPool(testKeys(0, 0, 0), config.StrategyRoundRobin)
	const workers, calls = 4, 75
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for i := 0; i < calls; i++ {
				c, _ := p.Candidates(t0)
				local[c[0].ID()]++
				c[len(c)-1].Cooldown(t0.Add(-time.Hour), time.Second) // concurrent writes to the state
			}
			mu.Lock()
			defer mu.Unlock()
			for id, n := range local {
				counts[id] += n
			}
		}()
	}
	wg.Wait()
	want := map[string]int{"k0": 100, "k1": 100, "k2": 100}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("first picks (-want +got):\n%s", diff)
	}
}

func TestPoolCounterPastMaxInt(t *testing.T) {
	p := NewPool(testKeys(0, 0, 0), config.StrategyRoundRobin)
	p.next.Store(uint64(math.MaxInt) + 1)
	got, _ := p.Candidates(t0)
	if len(got) != 3 {
		t.Errorf("candidates = %v, want all three keys", ids(got))
	}
}
