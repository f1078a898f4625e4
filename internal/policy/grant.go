package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
)

// Grant is what a principal may do under its plan and scopes.
type Grant struct {
	// Plan is nil when the principal has none (global limits apply). For a
	// browser token it is the token's plan with every limit tightened to
	// its minting key's (see Narrow).
	Plan   *config.Plan
	scopes []string
	maxOut int
	// Minter is the key that minted a browser token (nil for others): the
	// grant never allows what the minter's does not, and the minter's spend
	// caps bound the token's spend too.
	Minter *Minter
}

// Minter is the virtual key a browser token was minted by, resolved when
// the token is used.
type Minter struct {
	Principal auth.Principal
	Grant     Grant
}

// Narrow limits g (a browser token's grant) to its minting key's as well:
// models and routes both allow, and each rate limit and cap is the tighter
// of the two plans' (0 meaning none). Spend caps are not merged: the
// token's plan caps its user, and the minter's caps apply in full as well.
func (g Grant) Narrow(m Minter) Grant {
	g.Minter = &m
	kp := m.Grant.Plan
	if kp == nil {
		return g
	}
	// A token without a plan of its own has only the key's limits.
	eff := config.Plan{Name: kp.Name, AllowUnbounded: kp.AllowUnbounded}
	if g.Plan != nil {
		eff = *g.Plan
		eff.AllowUnbounded = eff.AllowUnbounded && kp.AllowUnbounded
	}
	eff.RPM, eff.RPD, eff.TPM = tighter(eff.RPM, kp.RPM), tighter(eff.RPD, kp.RPD), tighter(eff.TPM, kp.TPM)
	eff.Concurrency = tighter(eff.Concurrency, kp.Concurrency)
	eff.MaxOutputTokens, eff.MaxPromptChars = tighter(eff.MaxOutputTokens, kp.MaxOutputTokens), tighter(eff.MaxPromptChars, kp.MaxPromptChars)
	eff.MaxBodyBytes = tighter(eff.MaxBodyBytes, kp.MaxBodyBytes)
	g.Plan = &eff
	return g
}

// tighter is the stricter of two limits where 0 means none.
func tighter[T int | int64](a, b T) T {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// PlanWithin says how a plan is looser than its minting key's ("" when
// it is not): a browser token may be minted only with a plan whose every
// limit is at least as tight as the key's.
func PlanWithin(tok, key *config.Plan) string {
	if key == nil {
		return ""
	}
	if tok == nil {
		return "it has no limits"
	}
	for _, l := range []struct {
		name     string
		tok, key int64
	}{
		{"rpm", int64(tok.RPM), int64(key.RPM)}, {"rpd", int64(tok.RPD), int64(key.RPD)}, {"tpm", int64(tok.TPM), int64(key.TPM)},
		{"concurrency", int64(tok.Concurrency), int64(key.Concurrency)},
		{"max_output_tokens", int64(tok.MaxOutputTokens), int64(key.MaxOutputTokens)},
		{"max_prompt_chars", int64(tok.MaxPromptChars), int64(key.MaxPromptChars)},
		{"max_body_bytes", tok.MaxBodyBytes, key.MaxBodyBytes},
	} {
		if l.key > 0 && (l.tok <= 0 || l.tok > l.key) {
			return fmt.Sprintf("its %s is not within the key's %d", l.name, l.key)
		}
	}
	var ks, ts config.Spend
	if key.Spend != nil {
		ks = *key.Spend
	}
	if tok.Spend != nil {
		ts = *tok.Spend
	}
	if ks.DailyUSD > 0 && (ts.DailyUSD <= 0 || ts.DailyUSD > ks.DailyUSD) {
		return fmt.Sprintf("its spend.daily_usd is not within the key's %g", ks.DailyUSD)
	}
	if ks.MonthlyUSD > 0 && (ts.MonthlyUSD <= 0 || ts.MonthlyUSD > ks.MonthlyUSD) {
		return fmt.Sprintf("its spend.monthly_usd is not within the key's %g", ks.MonthlyUSD)
	}
	if tok.AllowUnbounded && !key.AllowUnbounded {
		return "it allows unbounded requests and the key's does not"
	}
	if len(key.Models) > 0 {
		if len(tok.Models) == 0 {
			return "it allows every model"
		}
		for _, m := range tok.Models {
			if !slices.Contains(key.Models, m) {
				return fmt.Sprintf("it allows the model %q", m)
			}
		}
	}
	if len(key.Routes) > 0 {
		if len(tok.Routes) == 0 {
			return "it allows every route"
		}
		for _, r := range tok.Routes {
			if !slices.Contains(key.Routes, r) {
				return fmt.Sprintf("it allows the route %q", r)
			}
		}
	}
	return ""
}

// GrantFor resolves a principal's plan in a configuration: its own plan,
// else auth.default_plan. ok is false when the plan it names is not (or no
// longer) configured.
func GrantFor(cfg *config.Config, p auth.Principal) (g Grant, ok bool) {
	name := p.Plan
	if name == "" {
		name = cfg.Auth.DefaultPlan
	}
	g.scopes, g.maxOut = p.Scopes, p.MaxOutputTokens
	if name == "" {
		return g, true
	}
	plan, found := cfg.Plan(name)
	if !found {
		return g, false
	}
	g.Plan = plan
	return g, true
}

// scoped reports whether scopes of the given kind ("model", "route")
// allow v: with none of that kind, everything is allowed.
func (g Grant) scoped(kind, v string) bool {
	any := false
	for _, s := range g.scopes {
		k, val, _ := strings.Cut(s, ":")
		if k == kind {
			any = true
			if val == v {
				return true
			}
		}
	}
	return !any
}

// Models lists the model scopes ("model:X") of the grant; nil when the
// scopes do not restrict models.
func (g Grant) Models() []string {
	var out []string
	for _, s := range g.scopes {
		if k, v, _ := strings.Cut(s, ":"); k == "model" {
			out = append(out, v)
		}
	}
	return out
}

// MaxOutputTokens is the grant's output cap under the global limit.
func (g Grant) MaxOutputTokens(global int) int {
	return g.Limits(config.Limits{MaxOutputTokens: global}).MaxOutputTokens
}

// AllowsModel reports whether the grant may use a model.
func (g Grant) AllowsModel(name string) bool {
	if g.Minter != nil && !g.Minter.Grant.AllowsModel(name) {
		return false
	}
	if g.Plan != nil && len(g.Plan.Models) > 0 && !slices.Contains(g.Plan.Models, name) {
		return false
	}
	return g.scoped("model", name)
}

// AllowsRoute reports whether the grant may use a route (by name: chat,
// responses, embeddings, messages, count_tokens, models).
func (g Grant) AllowsRoute(name string) bool {
	if g.Minter != nil && !g.Minter.Grant.AllowsRoute(name) {
		return false
	}
	if g.Plan != nil && len(g.Plan.Routes) > 0 && !slices.Contains(g.Plan.Routes, name) {
		return false
	}
	return g.scoped("route", name)
}

// Limits narrows the global limits by the plan's caps (and a browser
// token's minting key's). LimitsFrom turns the result into what Parse
// checks.
func (g Grant) Limits(l config.Limits) config.Limits {
	if g.Minter != nil {
		l = g.Minter.Grant.Limits(l)
	}
	if g.maxOut > 0 && g.maxOut < l.MaxOutputTokens {
		l.MaxOutputTokens = g.maxOut
	}
	if g.Plan == nil {
		return l
	}
	if c := g.Plan.MaxOutputTokens; c > 0 && c < l.MaxOutputTokens {
		l.MaxOutputTokens = c
	}
	if c := g.Plan.MaxPromptChars; c > 0 && c < l.MaxPromptChars {
		l.MaxPromptChars = c
	}
	if c := g.Plan.MaxBodyBytes; c > 0 && c < l.MaxBodyBytes {
		l.MaxBodyBytes = c
	}
	return l
}

// CheckGrant refuses plans and scopes the configuration does not know.
func CheckGrant(cfg config.Config, plan string, scopes []string) error {
	if _, ok := cfg.Plan(plan); !ok {
		var names []string
		for _, p := range cfg.Plans {
			names = append(names, p.Name)
		}
		return fmt.Errorf("no plan %q in the configuration (plans: %s)", plan, strings.Join(names, ", "))
	}
	for _, s := range scopes {
		kind, val, _ := strings.Cut(s, ":")
		switch {
		case s == auth.ScopeMint, s == auth.ScopeAssertUsers:
		case kind == "model" && modelExists(cfg, val):
		case kind == "route" && slices.Contains(config.RouteNames, val):
		default:
			return fmt.Errorf("unknown scope %q (tokens:mint, users:assert, model:NAME, route:NAME)", s)
		}
	}
	return nil
}

func modelExists(cfg config.Config, name string) bool {
	for _, m := range cfg.Models {
		if m.Name == name {
			return true
		}
	}
	return false
}

// LimitsFrom converts configured limits (possibly narrowed by a grant)
// into what the request parser checks.
func LimitsFrom(l config.Limits) Limits {
	return Limits{
		MaxPromptChars:  l.MaxPromptChars,
		MaxOutputTokens: l.MaxOutputTokens,
		RejectOverCap:   l.OutputTokens == config.OutputReject,
		MaxJSONDepth:    l.MaxJSONDepth,
	}
}
