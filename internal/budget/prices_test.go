package budget

import (
	"testing"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/provider"
)

var _ Pricer = (*provider.Provider)(nil)

func TestPriceLookup(t *testing.T) {
	p := NewPrices([]config.Pricing{
		{Model: "gpt-4.1-mini", Input: 0.40, Output: 1.60, CachedInput: 0.10},
		{Model: "Local-Llama", Input: 0.01, Output: 0.02},
		{Model: "fast", Input: 9, Output: 9},
	})
	tests := []struct {
		target, alias string
		want          Price
		ok            bool
	}{
		{"gpt-4.1-mini", "", Price{Input: 0.40, Output: 1.60, CachedInput: 0.10}, true},
		{"gpt-4.1-mini-2025-04-14", "", Price{Input: 0.40, Output: 1.60, CachedInput: 0.10}, true},
		{"claude-haiku-4-5-20251001", "", builtinPrices["claude-haiku-4-5"], true},
		{"models/gemini-2.5-flash", "", builtinPrices["gemini-2.5-flash"], true},
		{"openai/gpt-oss-120b", "", builtinPrices["openai/gpt-oss-120b"], true},
		{"local-llama", "", Price{Input: 0.01, Output: 0.02}, true},
		// The configured name prices a target the table does not know.
		{"my-finetune", "fast", Price{Input: 9, Output: 9}, true},
		// A target price in config wins over the alias.
		{"gpt-4.1-mini", "fast", Price{Input: 0.40, Output: 1.60, CachedInput: 0.10}, true},
		{"gpt-4.1-mini-custom", "", Price{}, false},
		{"", "", Price{}, false},
	}
	for _, tt := range tests {
		got, ok := p.Lookup(tt.target, tt.alias)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Lookup(%q, %q) = %+v, %v; want %+v, %v", tt.target, tt.alias, got, ok, tt.want, tt.ok)
		}
	}
	if !p.WarnOnce("x") || p.WarnOnce("x") {
		t.Error("WarnOnce must be true once")
	}
}

// ownPrice is a provider that prices the models it lists itself.
type ownPrice map[string]Price

func (o ownPrice) DefaultPrice(model string) (float64, float64, bool) {
	p, ok := o[model]
	return p.Input, p.Output, ok
}

func TestLookupFor(t *testing.T) {
	p := NewPrices([]config.Pricing{{Model: "fast", Input: 9, Output: 9}})
	free := ownPrice{"mock-1": {}, "gpt-4.1-mini": {}}
	var gone *provider.Provider
	tests := []struct {
		name          string
		pv            Pricer
		target, alias string
		want          Price
		ok            bool
	}{
		{"the provider's own price", free, "mock-1", "", Price{}, true},
		{"a pricing row overrides it", free, "mock-1", "fast", Price{Input: 9, Output: 9}, true},
		{"the table overrides it", free, "gpt-4.1-mini", "", builtinPrices["gpt-4.1-mini"], true},
		{"the provider does not price the model", free, "my-finetune", "", Price{}, false},
		{"its price is per 1M tokens", ownPrice{"m": {Input: 1, Output: 2}}, "m", "", Price{Input: 1, Output: 2}, true},
		{"no provider", nil, "my-finetune", "", Price{}, false},
		{"a provider no longer configured", gone, "my-finetune", "", Price{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.LookupFor(tt.pv, tt.target, tt.alias)
			if ok != tt.ok || got != tt.want {
				t.Errorf("LookupFor(%q, %q) = %+v, %v; want %+v, %v", tt.target, tt.alias, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCost(t *testing.T) {
	p := Price{Input: 3, Output: 15, CachedInput: 0.30, CacheWrite: 3.75}
	tok := provider.Tokens{Input: 1000, CachedInput: 2000, CacheWrite: 100, Output: 500}
	// 3000 + 600 + 375 + 7500 micro-USD
	if got := p.Cost(tok); got != 11475 {
		t.Errorf("Cost = %d", got)
	}
	// One-hour cache writes cost twice the input unless priced.
	if got := p.Cost(provider.Tokens{CacheWrite: 100, CacheWriteLong: 40}); got != 60*3.75+40*6 {
		t.Errorf("1h cache writes: %d", got)
	}
	if b := p.BoundFor(10, 0, true); b != 60 {
		t.Errorf("the Messages bound must use the 1h price: %d", b)
	}
	if b := p.BoundFor(10, 0, false); b != 38 {
		t.Errorf("bound without 1h cache: %d", b)
	}
	// Unset cache prices fall back to the input price.
	if got := (Price{Input: 2, Output: 8}).Cost(provider.Tokens{CachedInput: 10, CacheWrite: 10}); got != 40 {
		t.Errorf("fallback Cost = %d", got)
	}
	small := Price{Input: 0.10}
	if c, b := small.Cost(provider.Tokens{Input: 3}), small.BoundFor(3, 0, false); c != 1 || b != 1 {
		t.Errorf("0.3 micro-USD: Cost %d, BoundFor %d (want 1: never free)", c, b)
	}
	if c := (Price{Input: 0.4}).Cost(provider.Tokens{Input: 10}); c != 4 {
		t.Errorf("an exact cost is not rounded up: %d", c)
	}
	for name, pr := range builtinPrices {
		if pr.Input < 0 || pr.Output < 0 || pr.CachedInput < 0 || pr.CacheWrite < 0 || pr.Input == 0 {
			t.Errorf("%s: bad price %+v", name, pr)
		}
		if name != normalize(name) {
			t.Errorf("%s: table keys are lower-case names without snapshot dates", name)
		}
	}
}

func normalize(s string) string {
	c := candidates(s)
	return c[len(c)-1]
}

// TestBound: a request's bound is at its dearest target; an unpriced
// target is refused (its index) unless unpriced models are free.
func TestBound(t *testing.T) {
	p := NewPrices([]config.Pricing{{Model: "cheap", Input: 1, Output: 2}, {Model: "dear", Input: 3, Output: 10}})
	targets := []Target{{Model: "cheap"}, {Model: "dear"}, {Model: "mystery"}}
	if worst, unpriced := p.Bound(targets[:2], "m", 100, 10, false, false); worst != 400 || unpriced != -1 {
		t.Errorf("Bound = %d, %d; want 400 (dear: 100×3 + 10×10), -1", worst, unpriced)
	}
	if _, unpriced := p.Bound(targets, "m", 100, 10, false, false); unpriced != 2 {
		t.Errorf("unpriced target = %d, want 2", unpriced)
	}
	if worst, unpriced := p.Bound(targets, "m", 100, 10, false, true); worst != 400 || unpriced != -1 {
		t.Errorf("unpriced free: %d, %d", worst, unpriced)
	}
	if cost, ok := p.CostFor(nil, "cheap", "m", provider.Tokens{Input: 10, Output: 5}); !ok || cost != 20 {
		t.Errorf("CostFor = %d, %v; want 20", cost, ok)
	}
	if _, ok := p.CostFor(nil, "mystery", "m", provider.Tokens{Input: 10}); ok {
		t.Error("an unpriced model has a cost")
	}
}
