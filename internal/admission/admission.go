// Package admission takes what a request must hold before it is
// forwarded — its rate limits, its concurrency slots and its spend
// reservation — together, all or none: one after the other in this
// process's memory (Sequential), or in one Redis round trip when replicas
// share them there (Joint).
package admission

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/ratelimit"
)

// Request is what a request asks to hold.
type Request struct {
	Holders  []ratelimit.Holder
	Estimate ratelimit.Estimate
	// Caps are the spend caps to reserve Worst against (none: no
	// reservation).
	Caps  []budget.Cap
	Worst int64
	Now   time.Time
}

// Held is what an admitted request holds. Rates ends with Settle or
// Rollback; Spend (nil without caps) with Settle or Release.
type Held struct {
	Rates *ratelimit.Admission
	Spend budget.Reservation
}

// Refusal says why a request was not admitted: a rate or concurrency
// limit, or a spend cap. Rate limits are checked first: when both refuse,
// Rate says so.
type Refusal struct {
	Rate  *ratelimit.Refusal
	Spend *budget.Refusal
	// Requests and Tokens are the rate decisions that let a request
	// refused by a spend cap through (for its x-ratelimit-* headers).
	Requests, Tokens *ratelimit.Decision
}

// Gate admits requests.
type Gate interface {
	// Admit takes everything the request asks for, or nothing: a refusal,
	// or err when a limiter or the ledger failed.
	Admit(ctx context.Context, r Request) (*Held, *Refusal, error)
}

// Sequential takes the rate limits and slots (ratelimit.Admitter), then
// the reservation, giving the first back when the second is refused.
type Sequential struct {
	Limiter ratelimit.Limiter
	Slots   ratelimit.Slots
	Ledger  budget.Ledger
}

// Admit implements Gate.
func (s Sequential) Admit(ctx context.Context, r Request) (*Held, *Refusal, error) {
	return admit(ctx, ratelimit.Admitter{Limiter: s.Limiter, Slots: s.Slots}, r, func(ctx context.Context) (budget.Reservation, *budget.Refusal, error) {
		return s.Ledger.Reserve(ctx, r.Caps, r.Worst, r.Now)
	})
}

// admit runs the Admitter, then reserve when there are caps, and rolls
// the admission back if the reservation fails or is refused.
func admit(ctx context.Context, a ratelimit.Admitter, r Request, reserve func(context.Context) (budget.Reservation, *budget.Refusal, error)) (*Held, *Refusal, error) {
	rates, refused, err := a.Admit(ctx, r.Holders, r.Estimate, r.Now)
	switch {
	case err != nil:
		return nil, nil, err
	case refused != nil:
		return nil, &Refusal{Rate: refused}, nil
	}
	if len(r.Caps) == 0 {
		return &Held{Rates: rates}, nil, nil
	}
	res, sr, err := reserve(ctx)
	switch {
	case err != nil:
		rates.Rollback(ctx)
		return nil, nil, err
	case sr != nil:
		rates.Rollback(ctx)
		return nil, &Refusal{Spend: sr, Requests: rates.Requests, Tokens: rates.Tokens}, nil
	}
	return &Held{Rates: rates, Spend: res}, nil, nil
}
