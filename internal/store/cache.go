package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
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
	// a failure. live(true) is called when changes flow, live(false) when
	// they may be missed; after each (re)connection fn first gets
	// ChangeAll. It returns ctx's error.
	Listen(ctx context.Context, fn func(Change), live func(bool)) error
	// Announce tells every listening process of a change no table records
	// (ChangeConfig).
	Announce(ctx context.Context, c Change) error
}

// Freshness is how a process's caches of the store (keys, users, budgets)
// age, shared by all of them:
//
//   - A record is used without asking the store for TTL — or LiveTTL while
//     change events flow (SetLive), since a change then drops it at once.
//   - While the store fails, a record read before keeps being used for
//     Grace after it was read, so known keys keep working; what was never
//     read is refused. After a failure the store is not asked again for a
//     second by requests that can be answered from the cache.
//   - Each read of the store is bounded by Timeout.
type Freshness struct {
	TTL, LiveTTL, Grace, Timeout time.Duration
	Now                          func() time.Time
	// OnStale is called when a record is used past its TTL because the
	// store failed (for metrics).
	OnStale func()

	live      atomic.Bool
	downUntil atomic.Int64 // unix nanos
}

// DefaultFreshness is one second, no change events, no grace: a record
// read by one process reflects a change made by another within a second.
func DefaultFreshness() *Freshness { return &Freshness{TTL: time.Second} }

// SetLive records whether change events flow.
func (f *Freshness) SetLive(on bool) { f.live.Store(on) }

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

// storeDown reports whether the store failed within the last second.
func (f *Freshness) storeDown(now time.Time) bool { return now.UnixNano() < f.downUntil.Load() }

// Cache holds records read from the store, by K, aged by a Freshness. A
// not-found answer (ErrNotFound from fetch) is cached like a record; other
// errors are not. Forget, ForgetIf and Clear drop records; a read that
// was under way when they were called is not cached, so a change can
// never be overwritten by what was read before it.
type Cache[K comparable, V any] struct {
	f *Freshness
	// Max bounds the records held; beyond it all are dropped (default
	// 100,000).
	Max int

	mu    sync.Mutex
	m     map[K]cacheEntry[V]
	epoch uint64
}

type cacheEntry[V any] struct {
	v       V
	err     error
	fetched time.Time
	// expired entries are read again before use, but still serve within
	// the grace period while the store fails.
	expired bool
}

// NewCache returns an empty cache aged by f (nil: DefaultFreshness).
func NewCache[K comparable, V any](f *Freshness) *Cache[K, V] {
	if f == nil {
		f = DefaultFreshness()
	}
	return &Cache[K, V]{f: f, m: map[K]cacheEntry[V]{}}
}

// Get returns the record under k: the cached one while fresh, else what
// fetch reads (a failed fetch is answered from the cache within the grace
// period, else with its error).
func (c *Cache[K, V]) Get(ctx context.Context, k K, fetch func(context.Context) (V, error)) (V, error) {
	f := c.f
	now := f.now()
	c.mu.Lock()
	e, ok := c.m[k]
	epoch := c.epoch
	c.mu.Unlock()
	age := now.Sub(e.fetched)
	ok = ok && age >= 0
	if ok && age < f.ttl() && !e.expired {
		return e.v, e.err
	}
	inGrace := ok && age < f.Grace
	if inGrace && f.storeDown(now) {
		c.stale()
		return e.v, e.err
	}
	fctx := ctx
	if f.Timeout > 0 {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(ctx, f.Timeout)
		defer cancel()
	}
	v, err := fetch(fctx)
	if err != nil && !errors.Is(err, ErrNotFound) {
		if ctx.Err() == nil { // the store failed, not the caller
			f.downUntil.Store(now.Add(time.Second).UnixNano())
			if inGrace {
				c.stale()
				return e.v, e.err
			}
		}
		var zero V
		return zero, err
	}
	c.mu.Lock()
	if c.epoch == epoch {
		limit := c.Max
		if limit <= 0 {
			limit = 100_000
		}
		if len(c.m) >= limit {
			clear(c.m) // bound memory against floods of valid-looking keys
		}
		c.m[k] = cacheEntry[V]{v: v, err: err, fetched: now}
	}
	c.mu.Unlock()
	return v, err
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
	c.epoch++
	c.mu.Unlock()
}

// ForgetIf drops the records for which drop reports true.
func (c *Cache[K, V]) ForgetIf(drop func(K, V) bool) {
	c.mu.Lock()
	for k, e := range c.m {
		if drop(k, e.v) {
			delete(c.m, k)
		}
	}
	c.epoch++
	c.mu.Unlock()
}

// Expire makes every record be read again before it is used, keeping it
// for the grace period should the store fail (changes may have been
// missed, but what was read is still better than nothing while the store
// cannot say).
func (c *Cache[K, V]) Expire() {
	c.mu.Lock()
	for k, e := range c.m {
		e.expired = true
		c.m[k] = e
	}
	c.epoch++
	c.mu.Unlock()
}

// Clear drops every record.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	clear(c.m)
	c.epoch++
	c.mu.Unlock()
}
