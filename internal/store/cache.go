package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Change is one change to what processes cache, told to every process
// that uses the store (Changes).
type Change struct {
	Kind string
	// ID is the key's or user's id ("" for budgets, config and all).
	ID string
}

// Kinds of change.
const (
	ChangeKey    = "key"    // a key was created, revoked, rotated or expired
	ChangeUser   = "user"   // a user's plan or disabling changed
	ChangeBudget = "budget" // an operator's budget was set or removed
	ChangeConfig = "config" // an operator asked every replica to reload its configuration
	// ChangeAll says changes may have been missed (the listener was
	// disconnected): forget everything cached.
	ChangeAll = "all"
)

// Changes is implemented by a store that tells every process using it of
// changes as they commit (PostgreSQL: LISTEN/NOTIFY), so caches can be
// dropped at once instead of waiting out a short TTL.
type Changes interface {
	// Listen calls fn with each change until ctx ends, reconnecting after
	// a failure. live(true, nil) is called when changes are known to flow,
	// live(false, why) when they may be missed; after each (re)connection
	// fn first gets ChangeAll. It returns ctx's error.
	Listen(ctx context.Context, fn func(Change), live func(on bool, why error)) error
	// Announce tells every listening process of a change no table records
	// (ChangeConfig).
	Announce(ctx context.Context, c Change) error
}

// Freshness is how a process's caches of the store (keys, users, budgets)
// age, shared by all of them:
//
//   - A record is used without asking the store for TTL — or LiveTTL while
//     change events flow (SetLive), since a change then drops it at once.
//   - While the store is unavailable (store.ErrUnavailable, or a read
//     timing out), a record read while change events flowed — with no
//     break in them since, other than the outage itself — keeps being used
//     for Grace after it was read, so known keys keep working. Without
//     that, a change made elsewhere might have been missed, so the record
//     is not used: what was never read, or read without events, is
//     refused, and so is an answer that a key or user does not exist.
//     After a failure the store is not asked again for a second by
//     requests that can be answered from the cache.
//   - Each read of the store is bounded by Timeout, and callers wanting
//     the same record share one read.
type Freshness struct {
	TTL, LiveTTL, Grace, Timeout time.Duration
	Now                          func() time.Time
	// OnStale is called when a record is used past its TTL because the
	// store failed (for metrics).
	OnStale func()

	live      atomic.Bool
	period    atomic.Uint64 // counts the periods in which events flowed
	downUntil atomic.Int64  // unix nanos
}

// DefaultFreshness is one second, no change events, no grace: a record
// read by one process reflects a change made by another within a second.
func DefaultFreshness() *Freshness { return &Freshness{TTL: time.Second} }

// SetLive records whether change events flow. Each time they start again
// a new period begins: records read before it may have missed changes.
func (f *Freshness) SetLive(on bool) {
	if on && f.live.CompareAndSwap(false, true) {
		f.period.Add(1)
		return
	}
	if !on {
		f.live.Store(false)
	}
}

// Live reports whether change events flow.
func (f *Freshness) Live() bool { return f.live.Load() }

func (f *Freshness) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Freshness) ttl() time.Duration {
	if f.live.Load() && f.LiveTTL > f.TTL {
		return f.LiveTTL
	}
	if f.TTL <= 0 {
		return time.Second
	}
	return f.TTL
}

// readPeriod is what a record read now is stamped with: the current
// period of change events, or 0 without them.
func (f *Freshness) readPeriod() uint64 {
	if !f.live.Load() {
		return 0
	}
	return f.period.Load()
}

// storeDown reports whether the store failed within the last second.
func (f *Freshness) storeDown(now time.Time) bool { return now.UnixNano() < f.downUntil.Load() }

// Cache holds records read from the store, by K, aged by a Freshness. A
// not-found answer (ErrNotFound from fetch) is cached like a record, apart
// (a flood of unknown keys does not push records out), and is never used
// while the store fails. Other errors are not cached. Forget, ForgetIf,
// Expire and Clear drop or age records; a read that was under way when
// they were called is not cached, so a change can never be overwritten by
// what was read before it.
type Cache[K comparable, V any] struct {
	f *Freshness
	// Max bounds the records held, and apart the not-found answers; beyond
	// it all of that kind are dropped (default 100,000).
	Max int

	mu      sync.Mutex
	m       map[K]cacheEntry[V]
	missing map[K]time.Time // not-found answers, by when
	epoch   uint64
	flights singleflight.Group
}

type cacheEntry[V any] struct {
	v       V
	fetched time.Time
	period  uint64 // Freshness.readPeriod when read
	// expired entries are read again before use, but still serve within
	// the grace period while the store fails.
	expired bool
}

// NewCache returns an empty cache aged by f (nil: DefaultFreshness).
func NewCache[K comparable, V any](f *Freshness) *Cache[K, V] {
	if f == nil {
		f = DefaultFreshness()
	}
	return &Cache[K, V]{f: f, m: map[K]cacheEntry[V]{}, missing: map[K]time.Time{}}
}

// Get returns the record under k: the cached one while fresh, else what
// fetch reads (when the store is unavailable, the cached record within
// the grace period, else the error).
func (c *Cache[K, V]) Get(ctx context.Context, k K, fetch func(context.Context) (V, error)) (V, error) {
	var zero V
	f := c.f
	now := f.now()
	c.mu.Lock()
	e, ok := c.m[k]
	missingAt, missing := c.missing[k]
	c.mu.Unlock()
	ttl := f.ttl()
	if age := now.Sub(missingAt); missing && age >= 0 && age < ttl {
		return zero, ErrNotFound
	}
	age := now.Sub(e.fetched)
	ok = ok && age >= 0
	if ok && age < ttl && !e.expired {
		return e.v, nil
	}
	inGrace := ok && age < f.Grace && e.period != 0 && e.period == f.period.Load()
	if inGrace && f.storeDown(now) {
		c.stale()
		return e.v, nil
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	// One read per record at a time: the callers that want it meanwhile
	// share it. The read is not bound to the first caller's context (a
	// caller that leaves stops waiting, the read goes on), only to
	// Timeout (10 s when unset).
	ch := c.flights.DoChan(fmt.Sprint(k), func() (any, error) {
		timeout := f.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		c.mu.Lock()
		epoch := c.epoch
		c.mu.Unlock()
		period := f.readPeriod()
		v, err := fetch(fctx)
		if err == nil || errors.Is(err, ErrNotFound) {
			c.put(k, v, err, epoch, period, now)
		}
		return flight[V]{v}, err
	})
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	v, err := res.Val.(flight[V]).v, res.Err
	if err != nil && !errors.Is(err, ErrNotFound) {
		// The store failed (not the caller, not the statement).
		if ctx.Err() == nil && (errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
			f.downUntil.Store(now.Add(time.Second).UnixNano())
			if inGrace {
				c.stale()
				return e.v, nil
			}
		}
		return zero, err
	}
	return v, err
}

// flight carries a read's value through singleflight.
type flight[V any] struct{ v V }

// put caches what a read answered, unless the cache changed since it
// began (epoch).
func (c *Cache[K, V]) put(k K, v V, err error, epoch, period uint64, now time.Time) {
	limit := c.Max
	if limit <= 0 {
		limit = 100_000
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if err != nil { // not found
		delete(c.m, k)
		if len(c.missing) >= limit {
			clear(c.missing)
		}
		c.missing[k] = now
		return
	}
	delete(c.missing, k)
	if len(c.m) >= limit {
		clear(c.m) // bound memory
	}
	c.m[k] = cacheEntry[V]{v: v, fetched: now, period: period}
}

func (c *Cache[K, V]) stale() {
	if c.f.OnStale != nil {
		c.f.OnStale()
	}
}

// Forget drops the record under k.
func (c *Cache[K, V]) Forget(k K) {
	c.mu.Lock()
	delete(c.m, k)
	delete(c.missing, k)
	c.epoch++
	c.mu.Unlock()
}

// ForgetIf drops the records for which drop reports true, and every
// not-found answer (one may be for the record that changed).
func (c *Cache[K, V]) ForgetIf(drop func(K, V) bool) {
	c.mu.Lock()
	for k, e := range c.m {
		if drop(k, e.v) {
			delete(c.m, k)
		}
	}
	clear(c.missing)
	c.epoch++
	c.mu.Unlock()
}

// Expire makes every record be read again before it is used (changes may
// have been missed) and drops the not-found answers.
func (c *Cache[K, V]) Expire() {
	c.mu.Lock()
	for k, e := range c.m {
		e.expired = true
		c.m[k] = e
	}
	clear(c.missing)
	c.epoch++
	c.mu.Unlock()
}

// Clear drops every record.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	clear(c.m)
	clear(c.missing)
	c.epoch++
	c.mu.Unlock()
}
