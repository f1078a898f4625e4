package budget

import (
	"math"
	"regexp"
	"strings"
	"sync"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/provider"
)

// Price is a model's price in USD per 1M tokens.
type Price struct {
	Input, Output float64
	// CachedInput is input read from the prompt cache; CacheWrite is input
	// written to it (Anthropic, newer OpenAI models). Zero means the input
	// price.
	CachedInput, CacheWrite float64
	// CacheWriteLong prices input written to Anthropic's one-hour cache.
	// Zero means twice the input price, as Anthropic bills it.
	CacheWriteLong float64
	// Reasoning is set for a model that reasons before it answers whether
	// or not the request asks it to: a stream that ends early is charged
	// its whole output cap, as the provider bills the hidden reasoning.
	Reasoning bool
}

func (p Price) cacheWriteLong() float64 {
	if p.CacheWriteLong == 0 {
		return 2 * p.Input
	}
	return p.CacheWriteLong
}

// Cost is the price of a request's tokens, in micro-USD, rounded up (so
// a stream of tiny requests is never free). A price per 1M tokens is the
// price of one token in micro-USD.
func (p Price) Cost(t provider.Tokens) int64 {
	return int64(math.Ceil(p.exact(t) - 1e-9))
}

// BoundFor is the most input and output tokens can cost, whatever part
// of the input the provider reads from or writes to its cache; longCache
// counts Anthropic's one-hour cache writes (the Messages API), the dearest.
func (p Price) BoundFor(input, output int64, longCache bool) int64 {
	in := max(p.Input, p.CachedInput, p.CacheWrite)
	if longCache {
		in = max(in, p.cacheWriteLong())
	}
	return int64(math.Ceil(float64(input)*in + float64(output)*p.Output))
}

func (p Price) exact(t provider.Tokens) float64 {
	cached, write := p.CachedInput, p.CacheWrite
	if cached == 0 {
		cached = p.Input
	}
	if write == 0 {
		write = p.Input
	}
	long := min(t.CacheWriteLong, t.CacheWrite)
	return float64(t.Input)*p.Input + float64(t.CachedInput)*cached + float64(t.CacheWrite-long)*write +
		float64(long)*p.cacheWriteLong() + float64(t.Output)*p.Output
}

// Prices looks up a model's price: the configuration's rows first (by the
// model sent upstream, then by the configured name), then the embedded
// table. It is safe for concurrent use.
type Prices struct {
	override map[string]Price
	builtin  map[string]Price
	warned   sync.Map // unpriced model → struct{}
}

// NewPrices builds the lookup from the configuration's pricing rows.
func NewPrices(rows []config.Pricing) *Prices {
	p := &Prices{override: make(map[string]Price, len(rows)), builtin: builtinPrices}
	for _, r := range rows {
		p.override[strings.ToLower(r.Model)] = Price{Input: r.Input, Output: r.Output, CachedInput: r.CachedInput, CacheWrite: r.CacheWrite, CacheWriteLong: r.CacheWrite1h, Reasoning: r.Reasoning}
	}
	return p
}

// datedSuffix matches the snapshot dates providers append to model names
// (gpt-4.1-mini-2025-04-14, claude-sonnet-4-5-20250929).
var datedSuffix = regexp.MustCompile(`-(\d{4}-\d{2}-\d{2}|\d{8})$`)

// Lookup prices target (the model sent upstream), or alias (the model's
// configured name). ok is false when neither has a price.
func (p *Prices) Lookup(target, alias string) (Price, bool) {
	t, a := strings.ToLower(target), strings.ToLower(alias)
	for _, name := range []string{t, a} {
		if name == "" {
			continue
		}
		if pr, ok := p.override[name]; ok {
			return pr, true
		}
	}
	for _, name := range candidates(t) {
		if pr, ok := p.override[name]; ok {
			return pr, true
		}
		if pr, ok := p.builtin[name]; ok {
			return pr, true
		}
	}
	return Price{}, false
}

// A Pricer is a provider that prices models itself when neither the
// configuration nor the embedded table does (*provider.Provider: the mock's
// models are free).
type Pricer interface {
	DefaultPrice(model string) (input, output float64, ok bool)
}

// LookupFor prices target as Lookup does, then by the provider that serves
// it, so a pricing: row still overrides what the provider says.
func (p *Prices) LookupFor(pv Pricer, target, alias string) (Price, bool) {
	if pr, ok := p.Lookup(target, alias); ok || pv == nil {
		return pr, ok
	}
	in, out, ok := pv.DefaultPrice(target)
	return Price{Input: in, Output: out}, ok
}

// Target is a provider model a request may be sent to.
type Target struct {
	// Pricer is what serves it (its own default prices); Model the name
	// sent upstream.
	Pricer Pricer
	Model  string
}

// Bound is the most a request can cost at the dearest of its targets: its
// input and output tokens at the dearest input or cache price (Anthropic's
// one-hour cache writes too, when longCache). A target without a price is
// skipped when unpricedFree, else Bound stops and returns its index as
// unpriced (-1 when every target is priced).
func (p *Prices) Bound(targets []Target, alias string, input, output int64, longCache, unpricedFree bool) (worst int64, unpriced int) {
	for i, t := range targets {
		pr, ok := p.LookupFor(t.Pricer, t.Model, alias)
		if !ok {
			if unpricedFree {
				continue
			}
			return 0, i
		}
		worst = max(worst, pr.BoundFor(input, output, longCache))
	}
	return worst, -1
}

// CostFor is what tokens cost at a target's price; priced is false (and the
// cost 0) when it has none.
func (p *Prices) CostFor(pv Pricer, target, alias string, t provider.Tokens) (cost int64, priced bool) {
	pr, ok := p.LookupFor(pv, target, alias)
	if !ok {
		return 0, false
	}
	return pr.Cost(t), true
}

// candidates are the names a provider model is priced under: itself,
// without a "models/" or vendor prefix, and without a snapshot date.
func candidates(name string) []string {
	out := []string{name}
	base := strings.TrimPrefix(name, "models/")
	if i := strings.LastIndexByte(base, '/'); i >= 0 && !strings.HasPrefix(base, "openai/") && !strings.HasPrefix(base, "meta-llama/") && !strings.HasPrefix(base, "moonshotai/") && !strings.HasPrefix(base, "qwen/") {
		base = base[i+1:]
	}
	if base != name {
		out = append(out, base)
	}
	if d := datedSuffix.ReplaceAllString(base, ""); d != base {
		out = append(out, d)
	}
	return out
}

// Reasons reports whether a model (as sent upstream, or its configured
// name) reasons before it answers by default, by its price row.
func (p *Prices) Reasons(target, alias string) bool {
	pr, ok := p.Lookup(target, alias)
	return ok && pr.Reasoning
}

// WarnOnce reports true the first time an unpriced model is seen, so it is
// logged once rather than on every request.
func (p *Prices) WarnOnce(model string) bool {
	_, seen := p.warned.LoadOrStore(model, struct{}{})
	return !seen
}
