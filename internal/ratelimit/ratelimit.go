// Package ratelimit enforces plans' request, token and concurrency limits.
// Admitter admits a request against every plan it counts under (requests
// per minute and day, a token estimate per minute, a concurrency slot) and
// hands back an Admission that settles or rolls back what it took. Beneath
// it, Limiter decides with the generic cell rate algorithm (GCRA): one
// timestamp per key, exact at any rate, burst-friendly, and cheap; Memory
// is the in-process implementation, and a shared (Redis) one implements the
// same Limiter. Slots bound requests in progress.
package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Limit is Rate events per Period, with up to Burst at once (Burst 0
// means Rate: a full period's worth may come at once).
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// PerMinute is n events a minute.
func PerMinute(n int) Limit { return Limit{Rate: n, Period: time.Minute} }

// PerDay is n events a day.
func PerDay(n int) Limit { return Limit{Rate: n, Period: 24 * time.Hour} }

func (l Limit) burst() int64 {
	if l.Burst > 0 {
		return int64(l.Burst)
	}
	return int64(l.Rate)
}

// interval is the emission interval: the time one unit of the limit
// "costs".
func (l Limit) interval() int64 { return int64(l.Period) / int64(l.Rate) }

// Decision is the outcome of one Allow.
type Decision struct {
	Allowed bool
	// Limit is the burst size (what x-ratelimit-limit-* reports).
	Limit int
	// Remaining is how many more units would be allowed now.
	Remaining int
	// RetryAfter is how long until this request would fit (0 if allowed).
	RetryAfter time.Duration
	// ResetAfter is how long until the limit is fully replenished.
	ResetAfter time.Duration
}

// ErrInvalidLimit is returned for a limit with no rate or period.
var ErrInvalidLimit = errors.New("ratelimit: rate and period must be positive")

// Limiter is what the request path needs from a rate limiter.
type Limiter interface {
	// Allow takes cost units for key if they fit, and reports the state
	// either way. A refused request takes nothing.
	Allow(ctx context.Context, key string, l Limit, cost int, now time.Time) (Decision, error)
	// Adjust moves key's state by cost units unconditionally: a positive
	// cost takes units even past the limit (a request used more than was
	// estimated), a negative one gives units back, never past a full
	// bucket (it used less).
	Adjust(ctx context.Context, key string, l Limit, cost int, now time.Time) error
}

const shardCount = 64

// Memory is an in-process Limiter: sharded, no global lock, and no
// allocation once a key is known.
type Memory struct {
	shards [shardCount]shard
}

type shard struct {
	mu  sync.Mutex
	tat map[string]int64 // theoretical arrival time, unix nanoseconds
	// added counts keys added since the shard was last swept.
	added int
	_     [32]byte // keep shards on separate cache lines
}

// sweepEvery is how many new keys a shard takes before it drops the keys
// whose limits are fully replenished, so memory stays bounded by the keys
// active within their periods without a background goroutine.
const sweepEvery = 1024

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory {
	m := &Memory{}
	for i := range m.shards {
		m.shards[i].tat = map[string]int64{}
	}
	return m
}

// fnv32a hashes the key without allocating.
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// Allow takes cost units for key if they fit, and reports the state either
// way. A refused request takes nothing.
func (m *Memory) Allow(_ context.Context, key string, l Limit, cost int, now time.Time) (Decision, error) {
	if l.Rate <= 0 || l.Period <= 0 {
		return Decision{}, ErrInvalidLimit
	}
	sh := &m.shards[fnv32a(key)%shardCount]
	t := now.UnixNano()
	sh.mu.Lock()
	stored, ok := sh.tat[key]
	d, newTat := decide(l, int64(cost), t, stored, ok)
	if d.Allowed && cost > 0 {
		if !ok {
			sh.noteAdded(t)
		}
		sh.tat[key] = newTat
	}
	sh.mu.Unlock()
	return d, nil
}

// Adjust implements Limiter.
func (m *Memory) Adjust(_ context.Context, key string, l Limit, cost int, now time.Time) error {
	if l.Rate <= 0 || l.Period <= 0 {
		return ErrInvalidLimit
	}
	if cost == 0 {
		return nil
	}
	sh := &m.shards[fnv32a(key)%shardCount]
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	stored, ok := sh.tat[key]
	tat := max(stored, t)
	tat += int64(cost) * l.interval()
	if tat <= t {
		delete(sh.tat, key) // back to a full bucket
		return nil
	}
	if !ok {
		sh.noteAdded(t)
	}
	sh.tat[key] = tat
	return nil
}

// noteAdded counts a new key and sweeps the shard now and then. The caller
// holds the lock.
func (sh *shard) noteAdded(now int64) {
	sh.added++
	if sh.added < sweepEvery {
		return
	}
	sh.added = 0
	for k, tat := range sh.tat {
		if tat <= now {
			delete(sh.tat, k)
		}
	}
}

// decide is GCRA: the request fits if, after it, the theoretical arrival
// time is no further ahead of now than the burst allows.
func decide(l Limit, cost, now, stored int64, known bool) (Decision, int64) {
	T := l.interval()
	burst := l.burst()
	tat := now
	if known && stored > now {
		tat = stored
	}
	tolerance := burst * T
	newTat := tat + cost*T
	allowAt := newTat - tolerance
	d := Decision{Limit: int(burst)}
	if cost > burst {
		// Can never fit: report when the bucket is full again.
		d.RetryAfter = time.Duration(tat - now)
		d.ResetAfter = time.Duration(tat - now)
		d.Remaining = int((tolerance - (tat - now)) / T)
		return d, tat
	}
	if now < allowAt {
		d.RetryAfter = time.Duration(allowAt - now)
		d.ResetAfter = time.Duration(tat - now)
		d.Remaining = int(max(0, (tolerance-(tat-now))/T))
		return d, tat
	}
	d.Allowed = true
	d.ResetAfter = time.Duration(newTat - now)
	d.Remaining = int((tolerance - (newTat - now)) / T)
	return d, newTat
}

// Sweep forgets keys whose limits are fully replenished at now; run it
// now and then to bound memory.
func (m *Memory) Sweep(now time.Time) {
	t := now.UnixNano()
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k, tat := range sh.tat {
			if tat <= t {
				delete(sh.tat, k)
			}
		}
		sh.mu.Unlock()
	}
}

// Len is the number of keys tracked (for metrics and tests).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].tat)
		m.shards[i].mu.Unlock()
	}
	return n
}
