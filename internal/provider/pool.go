package provider

import (
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/secret"
)

// Key is one provider key with its cooldown state. Its id names it in logs
// ("openai/env:OPENAI_API_KEY"); its value never leaves this package except
// through setCredential.
type Key struct {
	id     string
	value  secret.Secret
	weight int
	st     *keyState
}

type keyState struct {
	until atomic.Int64 // unix nanoseconds; the key is skipped before then
}

// NewKey returns a key with a fresh state.
func NewKey(id string, value secret.Secret, weight int) *Key {
	return &Key{id: id, value: value, weight: weight, st: &keyState{}}
}

// ID is the key's loggable identity.
func (k *Key) ID() string { return k.id }

// Secret returns the key for scrubbers; it prints as [REDACTED].
func (k *Key) Secret() secret.Secret { return k.value }

// Cooldown leaves the key out until now+d (extending, never shortening).
func (k *Key) Cooldown(now time.Time, d time.Duration) {
	until := now.Add(d).UnixNano()
	for {
		cur := k.st.until.Load()
		if cur >= until || k.st.until.CompareAndSwap(cur, until) {
			return
		}
	}
}

// CoolingUntil is when the key may be used again (zero when it may now).
func (k *Key) CoolingUntil(now time.Time) time.Time {
	u := k.st.until.Load()
	if u <= now.UnixNano() {
		return time.Time{}
	}
	return time.Unix(0, u)
}

// Adopt takes over prev's cooldown state when both hold the same value, so
// a reload does not forget that a key was rejected.
func (k *Key) Adopt(prev *Key) {
	if prev != nil && prev.id == k.id && prev.value.Equal(k.value) {
		k.st = prev.st
	}
}

// Pool hands out a provider's keys, round robin or by weight, skipping keys
// in cooldown. It is lock-free.
type Pool struct {
	keys     []*Key
	schedule []int // indexes into keys, one round of the strategy
	standby  []int // weight-0 keys: used only when the others cool down
	next     atomic.Uint64
}

// NewPool builds a pool. With the weighted strategy a key's weight is its
// share of requests (0: standby); round robin ignores weights.
func NewPool(keys []*Key, strategy string) *Pool {
	p := &Pool{keys: keys}
	if strategy != config.StrategyWeighted {
		for i := range keys {
			p.schedule = append(p.schedule, i)
		}
		return p
	}
	// Smooth weighted round robin (as nginx does), precomputed for one round.
	var total int
	g := 0
	for i, k := range keys {
		if k.weight <= 0 {
			p.standby = append(p.standby, i)
			continue
		}
		g = gcd(g, k.weight)
	}
	cur := make([]int, len(keys))
	weights := make([]int, len(keys))
	for i, k := range keys {
		if k.weight > 0 {
			weights[i] = k.weight / g
			total += weights[i]
		}
	}
	for n := 0; n < total; n++ {
		best := -1
		for i := range keys {
			if weights[i] == 0 {
				continue
			}
			cur[i] += weights[i]
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		p.schedule = append(p.schedule, best)
	}
	return p
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Keys returns every key of the pool.
func (p *Pool) Keys() []*Key { return p.keys }

// Candidates returns the keys one request should try, in order: the one the
// strategy picks first, then the others, then standby keys; keys in cooldown
// are left out. The second result is the earliest time a cooling key comes
// back (zero when none is cooling).
func (p *Pool) Candidates(now time.Time) ([]*Key, time.Time) {
	if len(p.keys) == 0 {
		return nil, time.Time{}
	}
	var (
		out   = make([]*Key, 0, len(p.keys))
		seen  = make([]bool, len(p.keys))
		retry time.Time
	)
	add := func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		k := p.keys[i]
		if u := k.CoolingUntil(now); !u.IsZero() {
			if retry.IsZero() || u.Before(retry) {
				retry = u
			}
			return
		}
		out = append(out, k)
	}
	if len(p.schedule) > 0 {
		start := int((p.next.Add(1) - 1) % uint64(len(p.schedule)))
		for j := 0; j < len(p.schedule); j++ {
			add(p.schedule[(start+j)%len(p.schedule)])
		}
	}
	for _, i := range p.standby {
		add(i)
	}
	return out, retry
}
