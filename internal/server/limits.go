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

// taken is units a request took from a rate limit: given back when a
// later check refuses the request, or (tokens) reconciled with the real
// usage when it is done.
type taken struct {
	key   string
	limit ratelimit.Limit
	cost  int
}

// admission is what a request holds while it runs: rate-limit units, its
// concurrency slots and its spend reservation. Every exit path ends it
// with settle (it ran) or rollback (it was refused before it was sent).
type admission struct {
	d       Deps
	started time.Time
	// requests are the rpm/rpd units taken; tokens the tpm estimate.
	requests []taken
	tokens   []taken
	estimate int
	release  []func()
	res      *budget.Reservation
	// capped is set when a spend cap applies.
	capped bool
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

// admit applies the plan's request, token and concurrency limits and
// reserves the request's worst-case cost against every spend cap. It
// answers the refusal itself and returns nil when the request may not go.
func (d Deps) admit(w http.ResponseWriter, r *http.Request, req *policy.Request, targets []live.Target) *admission {
	info := infoOf(r.Context())
	plan := info.grant.Plan
	a := &admission{d: d, started: time.Now()}
	ctx := r.Context()
	now := a.started
	// What the request counts against: its own plan's limits for its
	// credential, user and (browser tokens) address — and, for a browser
	// token, its minting key's plan limits for that key and its user, so
	// that a key's tokens together never do more than the key may.
	type holder struct {
		plan        *config.Plan
		subs, slots []string
	}
	holders := []holder{{plan, subjects(info.principal, info.clientIP), slotsOf(info.principal)}}
	if m := info.grant.Minter; m != nil {
		holders = append(holders, holder{m.Grant.Plan, subjects(m.Principal, ""), slotsOf(m.Principal)})
	}
	for _, h := range holders {
		if h.plan == nil {
			continue
		}
		if !a.limitRequests(w, r, h.plan, h.subs, now) || !a.limitTokens(w, r, h.plan, h.subs, req, now) {
			a.rollback(ctx)
			return nil
		}
		if h.plan.Concurrency <= 0 {
			continue
		}
		for _, s := range h.slots {
			rel, _, ok, err := d.Slots.Acquire(ctx, "conc:"+s, h.plan.Concurrency)
			if err != nil {
				a.rollback(ctx)
				d.limiterFailed(w, r, err)
				return nil
			}
			if !ok {
				a.rollback(ctx)
				d.Metrics.LimitRejected("concurrency")
				w.Header().Set("Retry-After", "1")
				fail(w, r, apierr.ConcurrencyLimited, fmt.Sprintf("At most %d requests may be in progress at once on plan %q; retry when one finishes.", h.plan.Concurrency, h.plan.Name), "concurrency")
				return nil
			}
			a.release = append(a.release, rel)
		}
	}
	if !a.reserve(w, r, req, targets, now) {
		a.rollback(ctx)
		return nil
	}
	return a
}

func (a *admission) limitRequests(w http.ResponseWriter, r *http.Request, plan *config.Plan, subs []string, now time.Time) bool {
	var tightest *ratelimit.Decision
	for _, lim := range []struct {
		name  string
		limit ratelimit.Limit
		per   string
	}{{"rpm", ratelimit.PerMinute(plan.RPM), "minute"}, {"rpd", ratelimit.PerDay(plan.RPD), "day"}} {
		if lim.limit.Rate <= 0 {
			continue
		}
		refused, err := a.take(r.Context(), lim.name+":"+plan.Name, lim.limit, 1, subs, now, &a.requests, &tightest)
		if !a.answer(w, r, err, refused, "Requests", lim.name, apierr.RequestsLimited,
			func(d ratelimit.Decision) string {
				return fmt.Sprintf("Request limit reached: %d requests per %s on plan %q.", d.Limit, lim.per, plan.Name)
			}) {
			return false
		}
	}
	if tightest != nil {
		setRateHeaders(w, "Requests", *tightest)
	}
	return true
}

// limitTokens takes the request's token estimate — its input estimated
// from the prompt (text and token arrays), plus the output cap — from the
// plan's tokens-per-minute limit. A request estimated above the whole
// limit could never be admitted: it is refused as too large, not as a
// limit to wait for.
func (a *admission) limitTokens(w http.ResponseWriter, r *http.Request, plan *config.Plan, subs []string, req *policy.Request, now time.Time) bool {
	if plan.TPM <= 0 {
		return true
	}
	input := usage.EstimateInput(req.PromptChars, req.PromptNumbers)
	output := int64(req.OutputTokens) * int64(max(req.Choices, 1))
	if input+output > int64(plan.TPM) {
		a.d.Metrics.LimitRejected("tpm")
		fail(w, r, apierr.TokensOverLimit, fmt.Sprintf("This request may use up to %d tokens (about %d of input and up to %d of output), more than the %d tokens per minute plan %q allows: it can never be admitted. Send a shorter prompt or ask for fewer output tokens (max_tokens).", input+output, input, output, plan.TPM, plan.Name), "tpm burst")
		return false
	}
	a.estimate = int(input + output)
	var tightest *ratelimit.Decision
	refused, err := a.take(r.Context(), "tpm:"+plan.Name, ratelimit.PerMinute(plan.TPM), a.estimate, subs, now, &a.tokens, &tightest)
	if !a.answer(w, r, err, refused, "Tokens", "tpm", apierr.TokensLimited,
		func(ratelimit.Decision) string {
			return fmt.Sprintf("Token limit reached: %d tokens per minute on plan %q; this request may use up to %d.", plan.TPM, plan.Name, a.estimate)
		}) {
		return false
	}
	if tightest != nil {
		setRateHeaders(w, "Tokens", *tightest)
	}
	return true
}

// take takes cost units of limit from every subject, under keys
// prefix:subject. It stops at the first refusal and returns its decision;
// the units taken so far are appended to got (to be given back or
// reconciled), and tightest tracks the allowed decision with the least
// left, for the x-ratelimit headers.
func (a *admission) take(ctx context.Context, prefix string, limit ratelimit.Limit, cost int, subs []string, now time.Time,
	got *[]taken, tightest **ratelimit.Decision) (*ratelimit.Decision, error) {
	for _, s := range subs {
		key := prefix + ":" + s
		dec, err := a.d.Limiter.Allow(ctx, key, limit, cost, now)
		if err != nil {
			return nil, err
		}
		if !dec.Allowed {
			return &dec, nil
		}
		*got = append(*got, taken{key, limit, cost})
		if *tightest == nil || dec.Remaining < (*tightest).Remaining {
			*tightest = &dec
		}
	}
	return nil, nil
}

// answer reports whether take let the request through; otherwise it
// answers the refusal — a limiter failure with 503, a limit with 429, its
// x-ratelimit-*-kind headers, Retry-After and message — and counts it as
// metric.
func (a *admission) answer(w http.ResponseWriter, r *http.Request, err error, refused *ratelimit.Decision, kind, metric string,
	code apierr.Code, message func(ratelimit.Decision) string) bool {
	switch {
	case err != nil:
		a.d.limiterFailed(w, r, err)
		return false
	case refused != nil:
		a.d.Metrics.LimitRejected(metric)
		setRateHeaders(w, kind, *refused)
		setRetryAfter(w, refused.RetryAfter)
		fail(w, r, code, message(*refused), metric)
		return false
	}
	return true
}

// reserve holds the request's worst-case cost against every spend cap
// that applies: the input bounded by the body's size, the output by its
// cap, at the dearest of the targets it may go to.
func (a *admission) reserve(w http.ResponseWriter, r *http.Request, req *policy.Request, targets []live.Target, now time.Time) bool {
	d := a.d
	info := infoOf(r.Context())
	caps, err := d.capsFor(r.Context(), info.principal, info.grant.Plan)
	if m := info.grant.Minter; m != nil && err == nil {
		// A browser token spends its minting key's money too.
		var minter []budget.Cap
		minter, err = d.capsFor(r.Context(), m.Principal, m.Grant.Plan)
		caps = append(caps, minter...)
	}
	if err != nil {
		d.limiterFailed(w, r, err)
		return false
	}
	if len(caps) == 0 {
		return true
	}
	a.capped = true
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

// capsFor lists the spend caps of a principal: its plan's (per user on
// the plan, or per credential without a user) and the budgets set for its
// key and its user.
func (d Deps) capsFor(ctx context.Context, p auth.Principal, plan *config.Plan) ([]budget.Cap, error) {
	var caps []budget.Cap
	add := func(c budget.Cap, daily, monthly int64) {
		if daily > 0 {
			c.Period, c.Limit = budget.Daily, daily
			caps = append(caps, c)
		}
		if monthly > 0 {
			c.Period, c.Limit = budget.Monthly, monthly
			caps = append(caps, c)
		}
	}
	if plan != nil && plan.Spend != nil {
		c := budget.Cap{Scope: budget.ScopeKey, Key: p.ID, Source: "plan " + plan.Name}
		if p.User != "" {
			c = budget.Cap{Scope: budget.ScopePlanUser, Plan: plan.Name, User: p.User, Source: "plan " + plan.Name}
		}
		add(c, budget.Micro(plan.Spend.DailyUSD), budget.Micro(plan.Spend.MonthlyUSD))
	}
	if d.Budgets != nil {
		bs, err := d.Budgets.Get(ctx)
		if err != nil {
			return nil, err
		}
		if b, ok := bs[budget.ScopeKey+"\x00"+p.ID]; ok {
			add(budget.Cap{Scope: budget.ScopeKey, Key: p.ID, Source: "budget"}, b.DailyMicros, b.MonthlyMicros)
		}
		if p.User != "" {
			if b, ok := bs[budget.ScopeUser+"\x00"+p.User]; ok {
				add(budget.Cap{Scope: budget.ScopeUser, User: p.User, Source: "budget"}, b.DailyMicros, b.MonthlyMicros)
			}
		}
	}
	return caps, nil
}

// rollback gives back everything a refused request took.
func (a *admission) rollback(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for _, t := range append(a.requests, a.tokens...) {
		_ = a.d.Limiter.Adjust(ctx, t.key, t.limit, -t.cost, time.Now())
	}
	a.requests, a.tokens = nil, nil
	for _, rel := range a.release {
		rel()
	}
	a.release = nil
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
	for _, t := range a.tokens {
		if diff := int(tok.Total()) - t.cost; diff != 0 {
			if err := a.d.Limiter.Adjust(ctx, t.key, t.limit, diff, time.Now()); err != nil {
				a.d.Logger.Error("reconciling a token limit failed", "request_id", info.requestID, "err", err)
			}
		}
	}
	for _, rel := range a.release {
		rel()
	}
	a.release = nil
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
