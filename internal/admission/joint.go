package admission

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/budget/redisledger"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/ratelimit/redislimit"
)

// Joint admits a request in one Redis round trip: a marker key, its rate
// checks (one script for all of them), its concurrency slots and its
// spend reservation are queued on one pipeline. Each step after the rate
// checks runs only while the marker exists, and the first step that
// refuses deletes it, so a refused request takes nothing after its
// refusal — exactly as Sequential, which stops there. When the round trip
// fails, what it took is given back and the request goes through Fallback
// — the same limits through internal/failover, which applies
// redis.on_failure — and so it does while Down reports an outage. A
// request larger than a plan's tokens per minute (refused, but only after
// the checks before it) goes through Fallback too.
type Joint struct {
	Client  redis.UniversalClient
	Limiter *redislimit.Limiter
	Slots   *redislimit.Slots
	Ledger  *redisledger.Ledger
	// Fallback is used while Redis fails, and settles what Joint admitted
	// (its Limiter reconciles token estimates).
	Fallback Sequential
	Down     func() bool
	// OnFallback is told why a round trip failed (for the log).
	OnFallback func(error)

	loaded atomic.Bool // the scripts are loaded
}

// errJoint stops an admission whose round trip failed; Joint then admits
// through Fallback.
var errJoint = errors.New("admission: the joint round trip failed")

// Admit implements Gate.
func (j *Joint) Admit(ctx context.Context, r Request) (*Held, *Refusal, error) {
	if j.Down != nil && j.Down() || tokenBurst(r) {
		return j.Fallback.Admit(ctx, r)
	}
	if !j.loaded.Load() {
		if redislimit.LoadScripts(ctx, j.Client) != nil || redisledger.LoadScripts(ctx, j.Client) != nil {
			return j.Fallback.Admit(ctx, r)
		}
		j.loaded.Store(true)
	}
	p := &prefetch{j: j, r: r}
	held, refused, err := func() (*Held, *Refusal, error) {
		defer p.giveBackUnclaimed(ctx) // panics included
		return admit(ctx, ratelimit.Admitter{Limiter: p, Slots: p}, r, p.reserve)
	}()
	if p.failed {
		if j.OnFallback != nil {
			j.OnFallback(p.why)
		}
		return j.Fallback.Admit(ctx, r)
	}
	return held, refused, err
}

// tokenBurst reports whether a holder's plan refuses the request's token
// estimate outright (more than its tokens per minute).
func tokenBurst(r Request) bool {
	for _, h := range r.Holders {
		if h.Plan.TPM > 0 && r.Estimate.Total() > int64(h.Plan.TPM) {
			return true
		}
	}
	return false
}

// prefetch is one request's round trip. It is the Limiter and Slots of
// the ratelimit.Admitter that reads its answers: the Admitter's one
// AllowMany call (or its first Acquire, or the reservation, when there is
// nothing before it) sends everything; the Acquires and the reservation
// that follow take what came back.
type prefetch struct {
	j   *Joint
	r   Request
	ran bool
	// failed: a part of the round trip failed (why); what it took was
	// given back.
	failed bool
	why    error

	decisions []ratelimit.Decision
	slots     []slotAnswer
	next      int // the next slot the Admitter asks for
	res       budget.Reservation
	refusal   *budget.Refusal
	claimed   bool // the reservation was handed out
	skipped   bool // the reservation was not made: an earlier step refused
}

type slotAnswer struct {
	key     string
	release func()
	n       int
	ok      bool
	claimed bool
	skipped bool // not taken: an earlier step refused
}

// run sends the round trip and reads every answer.
func (p *prefetch) run(ctx context.Context, checks []ratelimit.Check) {
	p.ran = true
	j, r := p.j, p.r
	var b [12]byte
	_, _ = rand.Read(b[:])
	marker := j.Limiter.Prefixed(base64.RawURLEncoding.EncodeToString(b[:]))
	pipe := j.Client.Pipeline()
	pipe.Set(ctx, marker, 1, markerTTL)
	rates := j.Limiter.QueueAllowMany(ctx, pipe, checks, r.Now, marker)
	wanted := ratelimit.SlotsOf(r.Holders)
	acquires := make([]func() (func(), int, bool, error), len(wanted))
	for i, w := range wanted {
		acquires[i] = j.Slots.QueueAcquire(ctx, pipe, w.Key, w.Max, marker)
	}
	var reserve func(context.Context) (budget.Reservation, *budget.Refusal, error)
	if len(r.Caps) > 0 {
		reserve = j.Ledger.QueueReserve(ctx, pipe, r.Caps, r.Worst, r.Now, marker)
	}
	pipe.Del(ctx, marker)
	_, _ = pipe.Exec(ctx) // each answer is read below, with its own error

	var errs []error
	decisions, err := rates()
	errs = append(errs, err)
	p.decisions = decisions
	for i, acquire := range acquires {
		rel, n, ok, err := acquire()
		skipped := errors.Is(err, redislimit.ErrSkipped) // an earlier step refused: nothing taken
		if skipped {
			err = nil
		}
		errs = append(errs, err)
		p.slots = append(p.slots, slotAnswer{key: wanted[i].Key, release: rel, n: n, ok: ok, skipped: skipped})
	}
	if reserve != nil {
		p.res, p.refusal, err = reserve(ctx)
		if errors.Is(err, redisledger.ErrSkipped) {
			err, p.skipped = nil, true
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		if strings.Contains(err.Error(), "NOSCRIPT") {
			j.loaded.Store(false)
		}
		p.failed, p.why = true, err
		p.giveBackRates(ctx, checks)
	}
}

// markerTTL bounds how long an admission's marker outlives a round trip
// that did not delete it (it always does, unless Redis failed midway).
const markerTTL = 10 * time.Second

// giveBackRates returns the rate units a failed round trip took (the
// checks are all or none: taken only when every one was allowed).
func (p *prefetch) giveBackRates(ctx context.Context, checks []ratelimit.Check) {
	if len(p.decisions) != len(checks) {
		return
	}
	for _, d := range p.decisions {
		if !d.Allowed {
			return
		}
	}
	ctx = context.WithoutCancel(ctx)
	for _, c := range checks {
		_ = p.j.Fallback.Limiter.Adjust(ctx, c.Key, c.Limit, -c.Cost, time.Now())
	}
}

// giveBackUnclaimed frees what the round trip took that the admission did
// not keep: slots after a refusal, a reservation after a rate refusal —
// everything when the round trip failed.
func (p *prefetch) giveBackUnclaimed(ctx context.Context) {
	for i := range p.slots {
		if s := &p.slots[i]; s.ok && (!s.claimed || p.failed) {
			s.release()
		}
	}
	if p.res != nil && (!p.claimed || p.failed) {
		_ = p.res.Release()
	}
}

// AllowMany implements ratelimit.Batcher: the round trip.
func (p *prefetch) AllowMany(ctx context.Context, checks []ratelimit.Check, _ time.Time) ([]ratelimit.Decision, error) {
	if p.ran {
		return nil, errors.New("admission: AllowMany called twice")
	}
	p.run(ctx, checks)
	if p.failed {
		return nil, errJoint
	}
	return p.decisions, nil
}

// Allow implements ratelimit.Limiter; the Admitter uses AllowMany.
func (p *prefetch) Allow(ctx context.Context, key string, l ratelimit.Limit, cost int, now time.Time) (ratelimit.Decision, error) {
	ds, err := p.AllowMany(ctx, []ratelimit.Check{{Key: key, Limit: l, Cost: cost}}, now)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	return ds[0], nil
}

// Adjust implements ratelimit.Limiter: reconciling and giving back go
// through the fallback's limiter (which follows redis.on_failure).
func (p *prefetch) Adjust(ctx context.Context, key string, l ratelimit.Limit, cost int, now time.Time) error {
	return p.j.Fallback.Limiter.Adjust(ctx, key, l, cost, now)
}

// Acquire implements ratelimit.Slots: the next slot the round trip took.
func (p *prefetch) Acquire(ctx context.Context, key string, _ int) (func(), int, bool, error) {
	if !p.ran {
		p.run(ctx, nil)
	}
	if p.failed {
		return nil, 0, false, errJoint
	}
	if p.next >= len(p.slots) || p.slots[p.next].key != key {
		p.failed = true
		return nil, 0, false, errors.New("admission: slots asked for out of order")
	}
	s := &p.slots[p.next]
	p.next++
	if s.skipped { // cannot be: the Admitter stops at the refusal that skipped it
		p.failed, p.why = true, errors.New("admission: a skipped slot was asked for")
		return nil, 0, false, errJoint
	}
	if !s.ok {
		return nil, s.n, false, nil
	}
	s.claimed = true
	return s.release, s.n, true, nil
}

// reserve hands out the reservation the round trip made.
func (p *prefetch) reserve(ctx context.Context) (budget.Reservation, *budget.Refusal, error) {
	if !p.ran {
		p.run(ctx, nil)
	}
	if p.failed {
		return nil, nil, errJoint
	}
	if p.refusal != nil {
		return nil, p.refusal, nil
	}
	if p.skipped {
		p.failed, p.why = true, errors.New("admission: a skipped reservation was asked for")
		return nil, nil, errJoint
	}
	p.claimed = true
	return p.res, nil, nil
}
