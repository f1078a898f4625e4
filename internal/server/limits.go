package server

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/proxy"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/usage"
)

// resetString renders a duration as OpenAI's x-ratelimit-reset-* headers
// do ("1s", "6m0s").
func resetString(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(time.Millisecond).String()
}

// admission is what a request holds while it runs: its rate-limit units
// and concurrency slots, and its spend reservation. Every exit path ends it
// with settle (it ran) or rollback (it was refused before it was sent).
type admission struct {
	d       Deps
	started time.Time
	held    *ratelimit.Admission
	res     *budget.Reservation
}

// subjects are what a principal's limits count: the credential, its user
// (so fresh browser tokens or keys do not reset a user's limits) and, for
// browser tokens, the client's address.
func subjects(p auth.Principal, ip string) []string {
	out := []string{p.ID}
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
	out := []string{p.ID}
	if p.User != "" {
		out = append(out, "user:"+p.User)
	}
	return out
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

// admit applies the plans' request, token and concurrency limits
// (ratelimit.Admitter) and reserves the request's worst-case cost against
// every spend cap. It answers the refusal itself and returns nil when the
// request may not go.
func (d Deps) admit(w http.ResponseWriter, r *http.Request, req *policy.Request, targets []live.Target) *admission {
	info := infoOf(r.Context())
	a := &admission{d: d, started: time.Now()}
	ctx := r.Context()
	now := a.started
	// What the request counts against: its own plan's limits for its
	// credential, user and (browser tokens) address — and, for a browser
	// token, its minting key's plan limits for that key and its user, so
	// that a key's tokens together never do more than the key may.
	var holders []ratelimit.Holder
	if p := info.grant.Plan; p != nil {
		holders = append(holders, ratelimit.Holder{Plan: rateLimits(p), Subjects: subjects(info.principal, info.clientIP), Slots: slotsOf(info.principal)})
	}
	if m := info.grant.Minter; m != nil && m.Grant.Plan != nil {
		holders = append(holders, ratelimit.Holder{Plan: rateLimits(m.Grant.Plan), Subjects: subjects(m.Principal, ""), Slots: slotsOf(m.Principal)})
	}
	est := ratelimit.Estimate{Input: usage.EstimateInput(req.PromptChars, req.PromptNumbers), Output: int64(req.OutputTokens) * int64(max(req.Choices, 1))}
	held, refused, err := ratelimit.Admitter{Limiter: d.Limiter, Slots: d.Slots}.Admit(ctx, holders, est, now)
	switch {
	case err != nil:
		d.limiterFailed(w, r, err)
		return nil
	case refused != nil:
		d.refuseLimit(w, r, refused, est)
		return nil
	}
	if held.Requests != nil {
		setRateHeaders(w, "Requests", *held.Requests)
	}
	if held.Tokens != nil {
		setRateHeaders(w, "Tokens", *held.Tokens)
	}
	a.held = held
	if !a.reserve(w, r, req, targets, now) {
		a.rollback(ctx)
		return nil
	}
	return a
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

// reserve holds the request's worst-case cost against every spend cap
// that applies: the input bounded by the body's size, the output by its
// cap, at the dearest of the targets it may go to.
func (a *admission) reserve(w http.ResponseWriter, r *http.Request, req *policy.Request, targets []live.Target, now time.Time) bool {
	d := a.d
	info := infoOf(r.Context())
	caps, err := d.Budgets.CapsFor(r.Context(), budget.Spender{Key: info.principal.ID, User: info.principal.User, Plan: info.grant.Plan})
	if m := info.grant.Minter; m != nil && err == nil {
		// A browser token spends its minting key's money too.
		var minter []budget.Cap
		minter, err = d.Budgets.CapsFor(r.Context(), budget.Spender{Key: m.Principal.ID, User: m.Principal.User, Plan: m.Grant.Plan})
		caps = append(caps, minter...)
	}
	if err != nil {
		d.limiterFailed(w, r, err)
		return false
	}
	if len(caps) == 0 {
		return true
	}
	snap := info.snap
	if what := req.Unbounded(); what != "" && (info.grant.Plan == nil || !info.grant.Plan.AllowUnbounded) {
		d.Metrics.BudgetRejected("unbounded", "")
		fail(w, r, apierr.CostNotBounded, fmt.Sprintf("A spend cap applies, and the cost of a request with %s cannot be bounded before it is sent: the provider adds what keyward never sees. Send the whole conversation in the request instead, or ask for a plan with allow_unbounded.", what), what)
		return false
	}
	input, output := usage.BoundInput(req.BodyBytes, req.Images, req.Documents), int64(req.OutputTokens)*int64(max(req.Choices, 1))
	var worst int64
	for _, t := range targets {
		p, ok := snap.Prices.LookupFor(t.Provider, t.Model, req.Model) // the mock prices its models at zero
		if !ok {
			if snap.Config.Usage.Unpriced == config.UnpricedZero {
				continue // recorded at zero cost
			}
			d.Metrics.BudgetRejected("unpriced", "")
			fail(w, r, apierr.ModelNotPriced, fmt.Sprintf("The model %q has no price configured, and a spend cap applies; add it under pricing:.", info.model), t.Provider.Name+"/"+t.Model)
			return false
		}
		worst = max(worst, p.BoundFor(input, output, req.Route == provider.Messages))
	}
	res, refusal, err := d.Ledger.Reserve(r.Context(), caps, worst, now)
	if err != nil {
		d.limiterFailed(w, r, err)
		return false
	}
	if refusal != nil {
		d.Metrics.BudgetRejected(refusal.Cap.Scope, refusal.Cap.Period.String())
		setRetryAfter(w, refusal.ResetAt.Sub(now))
		fail(w, r, apierr.BudgetExceeded, refusal.Message(), fmt.Sprintf("%s %s cap %d µUSD", refusal.Cap.Scope, refusal.Cap.Period, refusal.Cap.Limit))
		return false
	}
	a.res = res
	return true
}

// rollback gives back everything a refused request took.
func (a *admission) rollback(ctx context.Context) {
	if a.held != nil {
		a.held.Rollback(ctx)
	}
	if a.res != nil {
		_ = a.res.Release()
		a.res = nil
	}
}

// settle ends a request that was forwarded: its reservation becomes the
// real cost, its token estimate the real usage, its slots are freed, and
// its usage is recorded. It runs on every exit path of the handler,
// panics included.
func (a *admission) settle(r *http.Request, req *policy.Request, targets []live.Target, status int) {
	info := infoOf(r.Context())
	pi := info.proxy
	ctx := context.WithoutCancel(r.Context())
	tok := pi.Usage
	if pi.Metered == proxy.MeteredNone {
		tok = usage.Tokens{}
	}
	var cost int64
	price, priced := info.snap.Prices.LookupFor(info.snap.Providers[pi.Provider], pi.TargetModel, req.Model)
	if pi.TargetModel == "" {
		priced = true // never sent
	}
	if priced {
		cost = price.Cost(tok)
	} else if info.snap.Prices.WarnOnce(pi.Provider + "/" + pi.TargetModel) {
		a.d.Logger.Warn("model has no price; its usage is recorded at zero cost (add it under pricing:)", "provider", pi.Provider, "model", pi.TargetModel)
	}
	if a.res != nil {
		var err error
		if pi.Metered == proxy.MeteredNone {
			err = a.res.Release()
		} else {
			if cost > a.res.Amount() {
				a.d.Logger.Warn("a request cost more than its reservation", "request_id", info.requestID, "reserved_micros", a.res.Amount(), "cost_micros", cost)
			}
			err = a.res.Settle(cost)
		}
		if err != nil {
			a.d.Logger.Error("settling a spend reservation failed", "request_id", info.requestID, "err", err)
		}
	}
	if err := a.held.Settle(ctx, tok.Total(), time.Now()); err != nil {
		a.d.Logger.Error("reconciling a token limit failed", "request_id", info.requestID, "err", err)
	}
	if pi.Attempts == 0 {
		return
	}
	info.usage, info.cost = tok, cost
	model := info.model
	a.d.Metrics.ObserveUsage(pi.Provider, model, tok.Input, tok.CachedInput, tok.CacheWrite, tok.Output, cost)
	if a.d.Usage == nil {
		return
	}
	var minter auth.Principal
	var minterPlan string
	if m := info.grant.Minter; m != nil {
		minter = m.Principal
		if m.Grant.Plan != nil {
			minterPlan = m.Grant.Plan.Name
		}
	}
	a.d.Usage.Record(store.UsageRecord{
		At: a.started.UTC(), RequestID: info.requestID, Key: info.principal.ID, User: info.principal.User, Plan: planName(info),
		Route: req.Route.String(), Provider: pi.Provider, Model: model, TargetModel: pi.TargetModel,
		Input: tok.Input, CachedInput: tok.CachedInput, CacheWrite: tok.CacheWrite, Output: tok.Output, Reasoning: tok.Reasoning,
		CostMicros: cost, Status: status, Metered: string(pi.Metered), Latency: time.Since(a.started), Streamed: pi.Streamed,
		MintedBy: minter.ID, MinterUser: minter.User, MinterPlan: minterPlan,
	})
}

func planName(i *reqInfo) string {
	if i.grant.Plan != nil {
		return i.grant.Plan.Name
	}
	return ""
}

func (d Deps) limiterFailed(w http.ResponseWriter, r *http.Request, err error) {
	d.Metrics.LimiterError()
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
