package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Plan is what a plan's rate limits are, as admission reads them (0: no
// such limit).
type Plan struct {
	Name                       string
	RPM, RPD, TPM, Concurrency int
}

// Holder is whose limits a request counts against under one plan: the
// subjects its requests and tokens count for ("key:…", "user:…", "ip:…")
// and those its concurrency counts for.
type Holder struct {
	Plan     Plan
	Subjects []string
	Slots    []string
}

// Estimate is what a request may use, in tokens, before it is sent.
type Estimate struct {
	Input, Output int64
}

// Total is input and output.
func (e Estimate) Total() int64 { return e.Input + e.Output }

// Refusal says which limit refused a request.
type Refusal struct {
	// Limit is "rpm", "rpd", "tpm", "concurrency", or "tpm_burst" for a
	// request that alone may use more than its plan's tokens per minute.
	Limit string
	Plan  Plan
	// Decision is the refusing limiter's answer (rpm, rpd and tpm).
	Decision Decision
	// Requests is the allowed request decision with the least left, when a
	// request limit let it through before a later one refused it.
	Requests *Decision
}

// taken is units a request took from a rate limit: given back when a
// later check refuses the request, or (tokens) reconciled with the real
// usage when it is done.
type taken struct {
	key   string
	limit Limit
	cost  int
}

// Admission is what an admitted request holds: the request and token
// units it took and its concurrency slots. Every exit path ends it: with
// Settle once it ran, or Rollback when a later check refused it.
type Admission struct {
	lim      Limiter
	requests []taken
	tokens   []taken
	release  []func()
	// Requests and Tokens are the allowed decisions with the least left,
	// for the x-ratelimit-* headers (nil when no such limit applied).
	Requests, Tokens *Decision
	// Estimate is the token estimate the tpm limits took.
	Estimate Estimate
}

// Admitter admits requests against plans' request, token and concurrency
// limits.
type Admitter struct {
	Limiter Limiter
	Slots   Slots
}

// Admit takes one request and the token estimate from every holder's
// limits, in order — requests per minute and per day, tokens per minute,
// then a concurrency slot per slot subject — and stops at the first
// refusal, giving back what it took. err is a limiter failure, also rolled
// back.
func (a Admitter) Admit(ctx context.Context, holders []Holder, est Estimate, now time.Time) (*Admission, *Refusal, error) {
	ad := &Admission{lim: a.Limiter, Estimate: est}
	refuse := func(r *Refusal, err error) (*Admission, *Refusal, error) {
		ad.Rollback(ctx)
		if r != nil && r.Limit != "rpm" && r.Limit != "rpd" {
			r.Requests = ad.Requests
		}
		return nil, r, err
	}
	if r, err := ad.takeRates(ctx, batcherOf(a.Limiter), holders, 1, &est, now); r != nil || err != nil {
		return refuse(r, err)
	}
	return a.acquireSlots(ctx, ad, holders, refuse)
}

// acquireSlots takes a concurrency slot per slot subject of every holder,
// after its rate limits were taken.
func (a Admitter) acquireSlots(ctx context.Context, ad *Admission, holders []Holder,
	refuse func(*Refusal, error) (*Admission, *Refusal, error)) (*Admission, *Refusal, error) {
	for _, w := range SlotsOf(holders) {
		rel, _, ok, err := a.Slots.Acquire(ctx, w.Key, w.Max)
		if err != nil || !ok {
			var r *Refusal
			if err == nil {
				r = &Refusal{Limit: "concurrency", Plan: w.Plan}
			}
			return refuse(r, err)
		}
		ad.release = append(ad.release, rel)
	}
	return ad, nil, nil
}

// SlotWanted is one concurrency slot a request takes: Max at once under
// Key, for a holder on Plan.
type SlotWanted struct {
	Key  string
	Max  int
	Plan Plan
}

// SlotsOf lists the slots Admit takes for holders, in the order it takes
// them.
func SlotsOf(holders []Holder) []SlotWanted {
	var ws []SlotWanted
	for _, h := range holders {
		if h.Plan.Concurrency <= 0 {
			continue
		}
		for _, s := range h.Slots {
			ws = append(ws, SlotWanted{Key: "conc:" + s, Max: h.Plan.Concurrency, Plan: h.Plan})
		}
	}
	return ws
}

// Check is one rate limit check of a batch: cost units of limit for key.
type Check struct {
	Key   string
	Limit Limit
	Cost  int
}

// Batcher is a Limiter that also takes several checks at once, all or
// none (a shared limiter does them in one round trip). Decisions come in
// the order of the checks; when one is refused nothing is taken.
type Batcher interface {
	AllowMany(ctx context.Context, checks []Check, now time.Time) ([]Decision, error)
}

// batcherOf is lim as a Batcher: itself when it is one, else its checks
// taken one by one (AllowEach).
func batcherOf(lim Limiter) Batcher {
	if b, ok := lim.(Batcher); ok {
		return b
	}
	return eachBatcher{lim}
}

type eachBatcher struct{ lim Limiter }

func (e eachBatcher) AllowMany(ctx context.Context, checks []Check, now time.Time) ([]Decision, error) {
	return AllowEach(ctx, e.lim, checks, now)
}

// AllowEach takes checks from lim one by one, all or none: at the first
// refusal it gives back what it took, and every decision from there on is
// that refusal; a failure gives back what was taken too.
func AllowEach(ctx context.Context, lim Limiter, checks []Check, now time.Time) ([]Decision, error) {
	decs := make([]Decision, len(checks))
	giveBack := func(i int) {
		for _, t := range checks[:i] {
			_ = lim.Adjust(ctx, t.Key, t.Limit, -t.Cost, now)
		}
	}
	for i, c := range checks {
		d, err := lim.Allow(ctx, c.Key, c.Limit, c.Cost, now)
		if err != nil {
			giveBack(i)
			return nil, err
		}
		if !d.Allowed {
			giveBack(i)
			for j := i; j < len(checks); j++ {
				decs[j] = d
			}
			return decs, nil
		}
		decs[i] = d
	}
	return decs, nil
}

// takeRates takes every holder's request limits (cost units each) and,
// with an estimate, its token limit, in one call of a Batcher, in order —
// per holder requests per minute, per day, then tokens per minute, each
// for every subject — and answers the first refusal (nothing is taken
// then), or the units taken and the tightest allowed decisions.
func (ad *Admission) takeRates(ctx context.Context, b Batcher, holders []Holder, cost int, est *Estimate, now time.Time) (*Refusal, error) {
	type what struct {
		name   string
		plan   Plan
		tokens bool
	}
	n := 0
	for _, h := range holders {
		n += 3 * len(h.Subjects)
	}
	checks, whats := make([]Check, 0, n), make([]what, 0, n)
	// burst is a request larger than a plan's whole tokens per minute:
	// refused there, after the checks before it (as one by one).
	var burst *Refusal
holders:
	for _, h := range holders {
		rates := [...]struct {
			name  string
			limit Limit
			cost  int
		}{{"rpm", PerMinute(h.Plan.RPM), cost}, {"rpd", PerDay(h.Plan.RPD), cost}, {"tpm", PerMinute(h.Plan.TPM), 0}}
		if est != nil {
			rates[2].cost = int(est.Total())
		} else {
			rates[2].limit = Limit{} // a decision counts requests only
		}
		for _, l := range rates {
			if l.limit.Rate <= 0 {
				continue
			}
			if l.name == "tpm" && est.Total() > int64(h.Plan.TPM) {
				burst = &Refusal{Limit: "tpm_burst", Plan: h.Plan}
				break holders
			}
			for _, s := range h.Subjects {
				checks = append(checks, Check{Key: l.name + ":" + h.Plan.Name + ":" + s, Limit: l.limit, Cost: l.cost})
				whats = append(whats, what{l.name, h.Plan, l.name == "tpm"})
			}
		}
	}
	if len(checks) == 0 {
		return burst, nil
	}
	decs, err := b.AllowMany(ctx, checks, now)
	if err != nil {
		return nil, err
	}
	if len(decs) != len(checks) {
		return nil, fmt.Errorf("ratelimit: %d decisions for %d checks", len(decs), len(checks))
	}
	var requests, tokens *Decision
	tighten := func(t **Decision, d *Decision) {
		if *t == nil || d.Remaining < (*t).Remaining {
			*t = d
		}
	}
	for i := range decs {
		d := &decs[i]
		if !d.Allowed {
			// As one by one: the request decisions allowed before it stand
			// in the refusal's headers; nothing was taken.
			ad.Requests = requests
			return refusal(whats[i].name, whats[i].plan, d), nil
		}
		if whats[i].tokens {
			tighten(&tokens, d)
		} else {
			tighten(&requests, d)
		}
	}
	for i, c := range checks {
		t := taken{c.Key, c.Limit, c.Cost}
		if whats[i].tokens {
			ad.tokens = append(ad.tokens, t)
		} else {
			ad.requests = append(ad.requests, t)
		}
	}
	ad.Requests, ad.Tokens = requests, tokens
	return burst, nil // a burst refusal gives back what was taken (Rollback)
}

// Decide takes cost requests from every holder's request limits (per
// minute and per day) only — no tokens, no slot — for the app's own
// routes that ask keyward whether a user may go on. The Admission holds
// what was taken: nothing to settle, but Rollback gives it back (a dry
// run).
func (a Admitter) Decide(ctx context.Context, holders []Holder, cost int, now time.Time) (*Admission, *Refusal, error) {
	ad := &Admission{lim: a.Limiter}
	if r, err := ad.takeRates(ctx, batcherOf(a.Limiter), holders, cost, nil, now); r != nil || err != nil {
		ad.Rollback(ctx)
		return nil, r, err
	}
	return ad, nil, nil
}

func refusal(limit string, p Plan, dec *Decision) *Refusal {
	if dec == nil {
		return nil
	}
	return &Refusal{Limit: limit, Plan: p, Decision: *dec}
}

// Rollback gives back everything a request that was refused later took.
func (ad *Admission) Rollback(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for _, t := range append(ad.requests, ad.tokens...) {
		_ = ad.lim.Adjust(ctx, t.key, t.limit, -t.cost, time.Now())
	}
	ad.requests, ad.tokens = nil, nil
	ad.free()
}

// Settle ends a request that ran: its token estimate becomes the tokens it
// used, and its slots are freed. err is the first reconciliation that
// failed (the slots are freed regardless).
func (ad *Admission) Settle(ctx context.Context, used int64, now time.Time) error {
	ctx = context.WithoutCancel(ctx)
	var first error
	for _, t := range ad.tokens {
		if diff := int(used) - t.cost; diff != 0 {
			if err := ad.lim.Adjust(ctx, t.key, t.limit, diff, now); err != nil && first == nil {
				first = err
			}
		}
	}
	ad.free()
	return first
}

func (ad *Admission) free() {
	for _, rel := range ad.release {
		rel()
	}
	ad.release = nil
}
