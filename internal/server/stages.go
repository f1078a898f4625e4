package server

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/admission"
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

// call is one API request as it passes the stages of routes.go: each stage
// reads what the ones before it found and adds its own part; the proxy's
// result comes back in it, and each stage settles its part on the way out.
type call struct {
	route provider.Route
	snap  *live.Snapshot
	// who is calling, and what its plan allows (authenticate).
	who   auth.Principal
	grant policy.Grant
	ip    string
	// the parsed request, its model as it may be echoed, and the targets
	// that serve it on this route (authorize).
	req     *policy.Request
	model   string
	targets []live.Target
	// estimate is what the request may use, in tokens, before it is sent;
	// caps are the spend caps that apply and worst its cost at most, in
	// µUSD (price).
	estimate ratelimit.Estimate
	caps     []budget.Cap
	worst    int64
	started  time.Time
	// forwarded is set once the request reached the forward stage; result
	// is what the proxy reports, status what the client was answered.
	forwarded bool
	result    proxy.Info
	status    int
	// tokens and cost are what the request used (meter).
	tokens provider.Tokens
	cost   int64
}

// stage is one step of an API request: it does its part and hands the
// call on to next, or answers the request itself.
type stage func(w http.ResponseWriter, r *http.Request, c *call)

// begin starts a call for an authenticated request.
func (d Deps) begin(route provider.Route, next stage) authed {
	return func(w http.ResponseWriter, r *http.Request, cl caller) {
		info := infoOf(r.Context())
		info.route = route.String()
		next(w, r, &call{route: route, snap: info.snap, who: cl.who, grant: cl.grant, ip: cl.ip, started: time.Now()})
	}
}

// authorize is the policy stage: the credential may use the route, the
// body is JSON within the plan's size, it parses and passes the plan's
// caps (policy.Parse), and its model is configured, allowed and served on
// the route.
func (d Deps) authorize(next stage) stage {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		info := infoOf(r.Context())
		if !c.grant.AllowsRoute(c.route.String()) {
			fail(w, r, apierr.ForbiddenRoute, fmt.Sprintf("This credential may not use %s.", r.URL.Path), "")
			return
		}
		limits := c.grant.Limits(c.snap.Config.Limits)
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			fail(w, r, apierr.UnsupportedMedia, "The request body must be JSON; set Content-Type: application/json.", "")
			return
		}
		if r.ContentLength > limits.MaxBodyBytes {
			fail(w, r, apierr.PayloadTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", limits.MaxBodyBytes), strconv.FormatInt(r.ContentLength, 10))
			return
		}
		body, ok := readBody(w, r, limits.MaxBodyBytes, c.snap.Config.Timeouts.ReadBody)
		if !ok {
			return
		}
		req, err := policy.Parse(c.route, body, policy.LimitsFrom(limits))
		if err == nil && req.EndUserSet && c.snap.Config.Auth.AssertedUsers.FromBody &&
			c.who.Kind == auth.KindVirtualKey && auth.HasScope(c.who.Scopes, auth.ScopeAssertUsers) {
			// The body names the end user (auth.asserted_users.from_body):
			// the request becomes that user's, checked under its plan. A
			// member that is there but names no one ("", null, a number) is
			// refused, never read as "no user" — that would run the request
			// on the key's own, wider plan.
			if !auth.ValidUserID(req.EndUser) {
				fail(w, r, apierr.InvalidRequest, "The user the body names (\"user\" or metadata.user_id) must be 1 to 128 letters, digits or . _ @ : + | = -, starting with a letter or digit.", "")
				return
			}
			var ok bool
			if c.who, c.grant, ok = d.assertUser(w, r, c.snap, c.who, c.grant, []string{req.EndUser}); !ok {
				return
			}
			if !c.grant.AllowsRoute(c.route.String()) {
				fail(w, r, apierr.ForbiddenRoute, fmt.Sprintf("This credential may not use %s.", r.URL.Path), "")
				return
			}
			if limits = c.grant.Limits(c.snap.Config.Limits); int64(len(body)) > limits.MaxBodyBytes {
				fail(w, r, apierr.PayloadTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", limits.MaxBodyBytes), strconv.Itoa(len(body)))
				return
			}
			req, err = policy.Parse(c.route, body, policy.LimitsFrom(limits))
		}
		if err != nil {
			pe := err.(*policy.Error)
			fail(w, r, pe.Code, pe.Message, "")
			return
		}
		c.req, c.model = req, safeName(c.snap.Scrub.String(req.Model))
		c.estimate = ratelimit.Estimate{Input: usage.EstimateInput(req.PromptChars, req.PromptNumbers), Output: req.MaxOutput()}
		info.model, info.rawModel = c.model, req.Model
		targets := c.snap.Models[req.Model]
		if len(targets) == 0 {
			fail(w, r, apierr.ModelNotFound, fmt.Sprintf("The model %q is not configured; GET /v1/models lists the models you can use.", c.model), "")
			return
		}
		if !c.grant.AllowsModel(req.Model) {
			fail(w, r, apierr.ForbiddenModel, fmt.Sprintf("This credential may not use the model %q.", c.model), "")
			return
		}
		for _, t := range targets {
			if t.Provider.Supports(c.route) {
				c.targets = append(c.targets, t)
			}
		}
		if len(c.targets) == 0 {
			fail(w, r, apierr.ModelNotOnRoute, fmt.Sprintf("The model %q is not served on %s.", c.model, r.URL.Path), "")
			return
		}
		next(w, r, c)
	}
}

// price is the spend stage's first half (budget): the spend caps of the
// caller and of a browser token's minting key, and the request's worst
// case against them — input bounded by its size and parts, output by its
// cap, at the dearest target. A request whose cost cannot be bounded, or
// that names a model without a price, is refused here, before it takes
// anything.
func (d Deps) price(next stage) stage {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		caps, err := d.capsOf(r.Context(), c.who, c.grant)
		if err != nil {
			d.limiterFailed(w, r, err)
			return
		}
		if len(caps) == 0 {
			next(w, r, c)
			return
		}
		if what := c.req.Unbounded(); what != "" && (c.grant.Plan == nil || !c.grant.Plan.AllowUnbounded) {
			d.Metrics.BudgetRejected("unbounded", "")
			fail(w, r, apierr.CostNotBounded, fmt.Sprintf("A spend cap applies, and the cost of a request with %s cannot be bounded before it is sent: the provider adds what keyward never sees. Send the whole conversation in the request instead, or ask for a plan with allow_unbounded.", what), what)
			return
		}
		targets := make([]budget.Target, len(c.targets))
		for i, t := range c.targets {
			targets[i] = budget.Target{Pricer: t.Provider, Model: t.Model} // the mock prices its models at zero
		}
		worst, unpriced := c.snap.Prices.Bound(targets, c.req.Model, usage.BoundInput(c.req.BodyBytes, c.req.Images, c.req.Documents),
			c.req.MaxOutput(), c.req.Route == provider.Messages, c.snap.Config.Usage.Unpriced == config.UnpricedZero)
		if unpriced >= 0 {
			t := c.targets[unpriced]
			d.Metrics.BudgetRejected("unpriced", "")
			fail(w, r, apierr.ModelNotPriced, fmt.Sprintf("The model %q has no price configured, and a spend cap applies; add it under pricing:.", c.model), t.Provider.Name+"/"+t.Model)
			return
		}
		c.caps, c.worst = caps, worst
		next(w, r, c)
	}
}

// admit takes what the request holds while it runs (admission.Gate, all
// or none, in one round trip when Redis keeps them): requests, the token
// estimate and concurrency (ratelimit) for the credential, its user and
// address — and a browser token's minting key — then the worst case
// reserved against every spend cap (budget). On the way out it
// reconciles the estimate with the tokens used, frees the slots and turns
// the reservation into the real cost — or gives everything back when a
// later stage refused the request or nothing was charged.
func (d Deps) admit(next stage) stage {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		held, refused, err := d.gate().Admit(r.Context(), admission.Request{
			Holders: holders(c.who, c.grant, c.ip), Estimate: c.estimate, Caps: c.caps, Worst: c.worst, Now: c.started})
		switch {
		case err != nil:
			d.limiterFailed(w, r, err)
			return
		case refused != nil && refused.Rate != nil:
			d.refuseLimit(w, r, refused.Rate, c.estimate)
			return
		case refused != nil:
			if refused.Requests != nil {
				setRateHeaders(w, "Requests", *refused.Requests)
			}
			if refused.Tokens != nil {
				setRateHeaders(w, "Tokens", *refused.Tokens)
			}
			sr := refused.Spend
			d.Metrics.BudgetRejected(sr.Cap.Scope, sr.Cap.Period.String())
			setRetryAfter(w, sr.ResetAt.Sub(c.started))
			fail(w, r, apierr.BudgetExceeded, sr.Message(), fmt.Sprintf("%s %s cap %d µUSD", sr.Cap.Scope, sr.Cap.Period, sr.Cap.Limit))
			return
		}
		rates, res := held.Rates, held.Spend
		if rates.Requests != nil {
			setRateHeaders(w, "Requests", *rates.Requests)
		}
		if rates.Tokens != nil {
			setRateHeaders(w, "Tokens", *rates.Tokens)
		}
		defer func() {
			if !c.forwarded {
				rates.Rollback(r.Context())
			} else if err := rates.Settle(r.Context(), c.tokens.Total(), time.Now()); err != nil {
				d.Logger.Error("reconciling a token limit failed", "request_id", infoOf(r.Context()).requestID, "err", err)
			}
			if res == nil {
				return
			}
			var err error
			switch {
			case !c.forwarded || c.result.Metered == proxy.MeteredNone:
				err = res.Release()
			default:
				if c.cost > res.Amount() {
					d.Logger.Warn("a request cost more than its reservation", "request_id", infoOf(r.Context()).requestID, "reserved_micros", res.Amount(), "cost_micros", c.cost)
				}
				err = res.Settle(c.cost)
			}
			if err != nil {
				d.Logger.Error("settling a spend reservation failed", "request_id", infoOf(r.Context()).requestID, "err", err)
			}
		}()
		next(w, r, c)
	}
}

// gate is how admit takes limits and reservations: Deps.Gate, or the
// limiter, slots and ledger one after the other.
func (d Deps) gate() admission.Gate {
	if d.Gate != nil {
		return d.Gate
	}
	return admission.Sequential{Limiter: d.Limiter, Slots: d.Slots, Ledger: d.Ledger}
}

// meter is the usage stage: once the proxy is done it prices what the
// request used, observes it in the metrics and records it (metadata only),
// before the stages above settle on it.
func (d Deps) meter(next stage) stage {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		defer func() {
			info := infoOf(r.Context())
			pi := c.result
			if pi.Metered != proxy.MeteredNone {
				c.tokens = pi.Usage
			}
			cost, priced := c.snap.Prices.CostFor(c.snap.Providers[pi.Provider], pi.TargetModel, c.req.Model, c.tokens)
			switch {
			case pi.TargetModel == "": // never sent
			case priced:
				c.cost = cost
			case c.snap.Prices.WarnOnce(pi.Provider + "/" + pi.TargetModel):
				d.Logger.Warn("model has no price; its usage is recorded at zero cost (add it under pricing:)", "provider", pi.Provider, "model", pi.TargetModel)
			}
			if pi.Attempts == 0 {
				return
			}
			info.usage, info.cost = c.tokens, c.cost
			d.Metrics.ObserveUsage(pi.Provider, c.model, c.tokens.Input, c.tokens.CachedInput, c.tokens.CacheWrite, c.tokens.Output, c.cost)
			if d.Usage == nil {
				return
			}
			rec := store.UsageRecord{
				At: c.started.UTC(), RequestID: info.requestID, Key: c.who.ID, User: c.who.User, Plan: planName(c.grant),
				Route: c.route.String(), Provider: pi.Provider, Model: c.model, TargetModel: pi.TargetModel,
				Input: c.tokens.Input, CachedInput: c.tokens.CachedInput, CacheWrite: c.tokens.CacheWrite, Output: c.tokens.Output,
				Reasoning: c.tokens.Reasoning, CostMicros: c.cost, Status: c.status, Metered: string(pi.Metered),
				Latency: time.Since(c.started), Streamed: pi.Streamed,
			}
			if m := c.grant.Minter; m != nil {
				rec.MintedBy, rec.MinterUser, rec.MinterPlan = m.Principal.ID, m.Principal.User, planName(m.Grant)
			}
			d.Usage.Record(rec)
		}()
		next(w, r, c)
	}
}

// forward is the last stage: the proxy sends the request to a target (with
// fallback) and streams the answer back; its result and the status the
// client got go back in the call, panics included.
func (d Deps) forward(w http.ResponseWriter, r *http.Request, c *call) {
	c.forwarded = true
	info := infoOf(r.Context())
	rw, _ := w.(*respWriter)
	defer func() {
		if rw != nil {
			c.status = rw.status
		}
		info.proxy = c.result
		if v := recover(); v != nil {
			// Settle as what withRecover will make of it — a 500, or a
			// connection cut because the client left — then let it.
			c.status = http.StatusInternalServerError
			if v == http.ErrAbortHandler {
				c.status = 499
			}
			panic(v)
		}
	}()
	if c.req.Stream {
		defer d.Metrics.StreamStarted()()
	}
	defer d.Metrics.RequestStarted()()
	d.Forwarder.Forward(w, r, proxy.Call{Route: c.route, Req: c.req, Targets: c.targets, Snap: c.snap, Info: &c.result,
		InputEstimate: c.estimate.Input})
}

// planName is a grant's plan's name ("" for none).
func planName(g policy.Grant) string {
	if g.Plan != nil {
		return g.Plan.Name
	}
	return ""
}
