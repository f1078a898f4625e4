package auth

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/config"
)

// BearerToken returns the token of an "Authorization: Bearer …" header, or
// "" when there is none (another scheme, or nothing after it).
func BearerToken(r *http.Request) string {
	if v := r.Header.Get("Authorization"); len(v) > 7 && (v[:7] == "Bearer " || v[:7] == "bearer ") {
		return v[7:]
	}
	return ""
}

// Kind says how a principal authenticated.
type Kind string

// Principal kinds.
const (
	KindClientKey  Kind = "client_key"
	KindVirtualKey Kind = "virtual_key"
	KindAnonymous  Kind = "anonymous"
	// KindBrowserToken is a short-lived token held by a browser.
	KindBrowserToken Kind = "browser_token"
)

// Principal is who is calling, resolved to exactly one plan.
type Principal struct {
	Kind Kind
	// ID is loggable: "key:key_…", "client:env:NAME", "anonymous".
	ID     string
	User   string
	Plan   string
	Scopes []string
	// Origin binds a browser token to the page that may use it.
	Origin string
	// MaxOutputTokens narrows the plan's output cap (0: the plan's).
	MaxOutputTokens int
}

// Grant is what a principal may do under its plan and scopes.
type Grant struct {
	// Plan is nil when the principal has none (global limits apply).
	Plan   *config.Plan
	scopes []string
	maxOut int
}

// GrantFor resolves a principal's plan in a configuration: its own plan,
// else auth.default_plan. ok is false when the plan it names is not (or no
// longer) configured.
func GrantFor(cfg *config.Config, p Principal) (g Grant, ok bool) {
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
	if g.Plan != nil && len(g.Plan.Models) > 0 && !slices.Contains(g.Plan.Models, name) {
		return false
	}
	return g.scoped("model", name)
}

// AllowsRoute reports whether the grant may use a route (by name: chat,
// responses, embeddings, messages, count_tokens, models).
func (g Grant) AllowsRoute(name string) bool {
	if g.Plan != nil && len(g.Plan.Routes) > 0 && !slices.Contains(g.Plan.Routes, name) {
		return false
	}
	return g.scoped("route", name)
}

// Limits narrows the global limits by the plan's caps.
func (g Grant) Limits(l config.Limits) config.Limits {
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
		case s == "tokens:mint":
		case kind == "model" && modelExists(cfg, val):
		case kind == "route" && slices.Contains(config.RouteNames, val):
		default:
			return fmt.Errorf("unknown scope %q (tokens:mint, model:NAME, route:NAME)", s)
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
