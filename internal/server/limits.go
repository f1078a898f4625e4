package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/failover"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/ratelimit"
)

// resetString renders a duration as OpenAI's x-ratelimit-reset-* headers
// do ("1s", "6m0s").
func resetString(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(time.Millisecond).String()
}

// subjects are what a principal's limits count: the credential, its user
// (so fresh browser tokens or keys do not reset a user's limits) and, for
// browser tokens, the client's address. An asserted user's credential is
// the key that named it, counted under the key's own plan (as its Minter),
// not again under the user's.
func subjects(p auth.Principal, ip string) []string {
	out := []string{own(p)}
	if out[0] == "" {
		out = out[:0]
	}
	if p.User != "" {
		out = append(out, "user:"+p.User)
	}
	if p.Kind == auth.KindBrowserToken && ip != "" {
		out = append(out, "ip:"+ipSubject(ip))
	}
	return out
}

// slotsOf are what a principal's concurrency counts: the credential and
// its user.
func slotsOf(p auth.Principal) []string {
	out := []string{own(p)}
	if out[0] == "" {
		out = out[:0]
	}
	if p.User != "" {
		out = append(out, "user:"+p.User)
	}
	return out
}

// own is the credential a principal's own limits and caps count for: its
// ID, or "" for an asserted user (its key counts as its Minter).
func own(p auth.Principal) string {
	if p.Kind == auth.KindAssertedUser {
		return ""
	}
	return p.ID
}

// ipSubject is what an address is limited as: itself for IPv4, its /64
// for IPv6 (one subscriber holds a whole /64 and could rotate through it).
func ipSubject(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Unmap().Is4() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// holders are whose rate limits a request counts against: the caller's
// plan for its credential, user and address, and the plan of the key that
// minted its browser token or named its user, for that key.
func holders(who auth.Principal, g policy.Grant, ip string) []ratelimit.Holder {
	var hs []ratelimit.Holder
	if p := g.Plan; p != nil {
		hs = append(hs, ratelimit.Holder{Plan: rateLimits(p), Subjects: subjects(who, ip), Slots: slotsOf(who)})
	}
	if m := g.Minter; m != nil && m.Grant.Plan != nil {
		hs = append(hs, ratelimit.Holder{Plan: rateLimits(m.Grant.Plan), Subjects: subjects(m.Principal, ""), Slots: slotsOf(m.Principal)})
	}
	return hs
}

// capsOf are the spend caps a request reserves against: the caller's
// (its plan's and the operators' budgets on its credential and user) and
// those of the key that minted its token or named its user.
func (d Deps) capsOf(ctx context.Context, who auth.Principal, g policy.Grant) ([]budget.Cap, error) {
	caps, err := d.Budgets.CapsFor(ctx, budget.Spender{Key: own(who), User: who.User, Plan: g.Plan})
	if m := g.Minter; m != nil && err == nil {
		var minter []budget.Cap
		minter, err = d.Budgets.CapsFor(ctx, budget.Spender{Key: m.Principal.ID, User: m.Principal.User, Plan: m.Grant.Plan})
		caps = append(caps, minter...)
	}
	return caps, err
}

// rateLimits are a plan's rate limits, as admission reads them.
func rateLimits(p *config.Plan) ratelimit.Plan {
	return ratelimit.Plan{Name: p.Name, RPM: p.RPM, RPD: p.RPD, TPM: p.TPM, Concurrency: p.Concurrency}
}

// refuseLimit answers a request a rate limit refused: 429 with the
// limit's x-ratelimit-* headers, Retry-After and a message naming it — or
// 413 for a request larger than its plan's whole tokens per minute.
func (d Deps) refuseLimit(w http.ResponseWriter, r *http.Request, rf *ratelimit.Refusal, est ratelimit.Estimate) {
	metric := rf.Limit
	if rf.Requests != nil {
		setRateHeaders(w, "Requests", *rf.Requests)
	}
	var code apierr.Code
	var msg string
	switch rf.Limit {
	case "rpm", "rpd":
		per := map[string]string{"rpm": "minute", "rpd": "day"}[rf.Limit]
		setRateHeaders(w, "Requests", rf.Decision)
		setRetryAfter(w, rf.Decision.RetryAfter)
		code, msg = apierr.RequestsLimited, fmt.Sprintf("Request limit reached: %d requests per %s on plan %q.", rf.Decision.Limit, per, rf.Plan.Name)
	case "tpm":
		setRateHeaders(w, "Tokens", rf.Decision)
		setRetryAfter(w, rf.Decision.RetryAfter)
		code, msg = apierr.TokensLimited, fmt.Sprintf("Token limit reached: %d tokens per minute on plan %q; this request may use up to %d.", rf.Plan.TPM, rf.Plan.Name, est.Total())
	case "tpm_burst":
		metric = "tpm"
		code, msg = apierr.TokensOverLimit, fmt.Sprintf("This request may use up to %d tokens (about %d of input and up to %d of output), more than the %d tokens per minute plan %q allows: it can never be admitted. Send a shorter prompt or ask for fewer output tokens (max_tokens).", est.Total(), est.Input, est.Output, rf.Plan.TPM, rf.Plan.Name)
	case "concurrency":
		w.Header().Set("Retry-After", "1")
		code, msg = apierr.ConcurrencyLimited, fmt.Sprintf("At most %d requests may be in progress at once on plan %q; retry when one finishes.", rf.Plan.Concurrency, rf.Plan.Name)
	}
	d.Metrics.LimitRejected(metric)
	detail := metric
	if rf.Limit == "tpm_burst" {
		detail = "tpm burst"
	}
	fail(w, r, code, msg, detail)
}

func (d Deps) limiterFailed(w http.ResponseWriter, r *http.Request, err error) {
	d.Metrics.LimiterError()
	if errors.Is(err, failover.ErrDown) {
		// A fail_closed limit while Redis is down: the outage is logged once.
		fail(w, r, apierr.Unavailable, "Limits cannot be checked right now (the shared limit store is unavailable); retry shortly.", "redis down")
		return
	}
	d.Logger.Error("rate limiter or budget store failed; refusing the request", "request_id", w.Header().Get(apierr.RequestIDHeader), "err", err)
	fail(w, r, apierr.Unavailable, "", "limiter error")
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int((d+time.Second-1)/time.Second))))
}

// setRateHeaders sets OpenAI's x-ratelimit-{limit,remaining,reset}-{kind}.
func setRateHeaders(w http.ResponseWriter, kind string, d ratelimit.Decision) {
	h := w.Header()
	h.Set("X-Ratelimit-Limit-"+kind, strconv.Itoa(d.Limit))
	h.Set("X-Ratelimit-Remaining-"+kind, strconv.Itoa(d.Remaining))
	h.Set("X-Ratelimit-Reset-"+kind, resetString(d.ResetAfter))
}
