// Package failover owns what keyward does while the Redis that replicas
// share fails: a Breaker that notes the outage once (log, metric), skips
// Redis for a moment after each failure instead of waiting on it in every
// request, and tries it again by itself; and wrappers of the rate limiter,
// the concurrency slots and the spend ledger that, per kind, fall back to
// this process's own (fail_open) or refuse (fail_closed).
package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/ratelimit"
)

// Policy is what a kind of limit does while Redis fails.
type Policy string

// The policies.
const (
	// Open decides in this process, as a single replica would.
	Open Policy = "fail_open"
	// Closed refuses: the request gets 503 unavailable.
	Closed Policy = "fail_closed"
)

// ErrDown is returned, wrapping Redis's own error, by a fail_closed kind
// while Redis fails. The Breaker has logged the outage already.
var ErrDown = errors.New("the shared limit store (Redis) is unavailable")

// Breaker tracks one shared service's health for every kind that uses it.
type Breaker struct {
	// Retry is how long Redis is skipped after a failure (default 1s).
	Retry time.Duration
	// Down and Up are called once per outage, when it starts and ends.
	Down func(err error)
	Up   func()
	// Fallback is called for each decision made without Redis, by kind
	// ("rates", "concurrency", "spend") and policy.
	Fallback func(kind string, p Policy)

	mu        sync.Mutex
	down      bool
	downUntil time.Time
	now       func() time.Time
}

func (b *Breaker) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// skip reports whether Redis is to be left alone now (a recent failure).
func (b *Breaker) skip() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.down && b.clock().Before(b.downUntil)
}

// failed notes a failure: the outage starts (once), Redis is skipped for
// Retry.
func (b *Breaker) failed(err error) {
	b.mu.Lock()
	first := !b.down
	b.down = true
	retry := b.Retry
	if retry <= 0 {
		retry = time.Second
	}
	b.downUntil = b.clock().Add(retry)
	b.mu.Unlock()
	if first && b.Down != nil {
		b.Down(err)
	}
}

// ok notes a success: an outage, if any, has ended.
func (b *Breaker) ok() {
	b.mu.Lock()
	was := b.down
	b.down = false
	b.mu.Unlock()
	if was && b.Up != nil {
		b.Up()
	}
}

// IsDown reports whether Redis is in an outage (for /readyz).
func (b *Breaker) IsDown() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.down
}

// call runs shared unless Redis is being skipped; on a failure (or while
// skipped) it runs local under Open, or returns ErrDown under Closed.
// A caller's own cancellation is not Redis's failure.
func call[T any](ctx context.Context, b *Breaker, kind string, p Policy, shared, local func() (T, error)) (T, error) {
	if !b.skip() {
		v, err := shared()
		switch {
		case err == nil:
			b.ok()
			return v, nil
		case ctx.Err() != nil:
			return v, err
		}
		b.failed(err)
		if p == Closed {
			return v, fmt.Errorf("%w: %v", ErrDown, err)
		}
	} else if p == Closed {
		var zero T
		return zero, ErrDown
	}
	if b.Fallback != nil {
		b.Fallback(kind, p)
	}
	return local()
}

// Limiter is a shared rate limiter with a local one to fall back to.
type Limiter struct {
	Shared, Local ratelimit.Limiter
	Policy        Policy
	Breaker       *Breaker
}

// Allow implements ratelimit.Limiter.
func (l Limiter) Allow(ctx context.Context, key string, lim ratelimit.Limit, cost int, now time.Time) (ratelimit.Decision, error) {
	return call(ctx, l.Breaker, "rates", l.Policy,
		func() (ratelimit.Decision, error) { return l.Shared.Allow(ctx, key, lim, cost, now) },
		func() (ratelimit.Decision, error) { return l.Local.Allow(ctx, key, lim, cost, now) })
}

// Adjust implements ratelimit.Limiter.
func (l Limiter) Adjust(ctx context.Context, key string, lim ratelimit.Limit, cost int, now time.Time) error {
	_, err := call(ctx, l.Breaker, "rates", l.Policy,
		func() (struct{}, error) { return struct{}{}, l.Shared.Adjust(ctx, key, lim, cost, now) },
		func() (struct{}, error) { return struct{}{}, l.Local.Adjust(ctx, key, lim, cost, now) })
	return err
}

// AllowMany implements ratelimit.Batcher when the shared limiter does;
// locally the checks are taken one by one, all or none.
func (l Limiter) AllowMany(ctx context.Context, checks []ratelimit.Check, now time.Time) ([]ratelimit.Decision, error) {
	b, ok := l.Shared.(ratelimit.Batcher)
	if !ok {
		return ratelimit.AllowEach(ctx, l, checks, now)
	}
	return call(ctx, l.Breaker, "rates", l.Policy,
		func() ([]ratelimit.Decision, error) { return b.AllowMany(ctx, checks, now) },
		func() ([]ratelimit.Decision, error) { return ratelimit.AllowEach(ctx, l.Local, checks, now) })
}

// Slots are shared concurrency slots with local ones to fall back to.
type Slots struct {
	Shared, Local ratelimit.Slots
	Policy        Policy
	Breaker       *Breaker
}

type acquired struct {
	release  func()
	inFlight int
	ok       bool
}

// Acquire implements ratelimit.Slots.
func (s Slots) Acquire(ctx context.Context, key string, max int) (func(), int, bool, error) {
	a, err := call(ctx, s.Breaker, "concurrency", s.Policy,
		func() (acquired, error) {
			rel, n, ok, err := s.Shared.Acquire(ctx, key, max)
			return acquired{rel, n, ok}, err
		},
		func() (acquired, error) {
			rel, n, ok, err := s.Local.Acquire(ctx, key, max)
			return acquired{rel, n, ok}, err
		})
	return a.release, a.inFlight, a.ok, err
}

// Ledger is a shared spend ledger with a local one to fall back to.
type Ledger struct {
	Shared, Local budget.Ledger
	Policy        Policy
	Breaker       *Breaker
}

type reserved struct {
	res     budget.Reservation
	refusal *budget.Refusal
}

// Reserve implements budget.Ledger.
func (l Ledger) Reserve(ctx context.Context, caps []budget.Cap, amount int64, now time.Time) (budget.Reservation, *budget.Refusal, error) {
	r, err := call(ctx, l.Breaker, "spend", l.Policy,
		func() (reserved, error) {
			res, rf, err := l.Shared.Reserve(ctx, caps, amount, now)
			return reserved{res, rf}, err
		},
		func() (reserved, error) {
			res, rf, err := l.Local.Reserve(ctx, caps, amount, now)
			return reserved{res, rf}, err
		})
	return r.res, r.refusal, err
}

type spent struct{ spent, reserved int64 }

// Spent implements budget.Ledger.
func (l Ledger) Spent(ctx context.Context, c budget.Cap, now time.Time) (int64, int64, error) {
	s, err := call(ctx, l.Breaker, "spend", l.Policy,
		func() (spent, error) { a, b, err := l.Shared.Spent(ctx, c, now); return spent{a, b}, err },
		func() (spent, error) { a, b, err := l.Local.Spent(ctx, c, now); return spent{a, b}, err })
	return s.spent, s.reserved, err
}
