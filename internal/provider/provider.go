package provider

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/keyward/keyward/internal/config"
)

// Provider is one configured upstream, ready to take requests. What its
// family does differently is its Adapter's; the rest is common.
type Provider struct {
	Name string
	Kind string

	adapter   Adapter
	pool      *Pool
	transport http.RoundTripper
	inProcess bool
}

// New builds a provider from its configuration, its loaded keys and the
// transport that reaches it (ignored for a family with its own, the mock).
func New(c config.Provider, keys []*Key, transport http.RoundTripper) (*Provider, error) {
	a, err := adapterFor(c)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", c.Name, err)
	}
	p := &Provider{Name: c.Name, Kind: c.Kind, adapter: a, pool: NewPool(keys, c.KeyStrategy), transport: transport}
	if local := a.Local(); local != nil {
		p.transport, p.inProcess = local, true
	}
	return p, nil
}

// Pool returns the provider's keys.
func (p *Provider) Pool() *Pool { return p.pool }

// Transport returns what reaches the provider.
func (p *Provider) Transport() http.RoundTripper { return p.transport }

// InProcess reports whether the provider is served in-process (the mock):
// a request handed to its transport has been sent.
func (p *Provider) InProcess() bool { return p.inProcess }

// Supports reports whether the provider serves a route.
func (p *Provider) Supports(r Route) bool { return p.adapter.Serves(r) }

// ChatTokenField is the output-token field injected into chat requests
// that did not set one: OpenAI's current name for OpenAI and Azure, the
// classic one for compatible APIs.
func (p *Provider) ChatTokenField() string { return p.adapter.ChatTokenField() }

// URL is the upstream URL of a route for a target model. Nothing in it
// comes from the client.
func (p *Provider) URL(r Route, model string) *url.URL { return p.adapter.URL(r, model) }

// Usage reads the usage of a complete answer on a route; ok is false
// when it reports none.
func (p *Provider) Usage(r Route, body []byte) (Tokens, bool) { return p.adapter.Usage(r, body) }

// Meter follows an answer streamed on a route.
func (p *Provider) Meter(r Route) *Meter { return p.adapter.Meter(r) }

// Failure reads an error body or an error event's data.
func (p *Provider) Failure(body []byte) UpstreamError { return p.adapter.Failure(body) }

// DefaultPrice is the provider's own price of a model in USD per 1M
// tokens, consulted after pricing: and the embedded table: the mock's
// models cost nothing. ok is false when it has none, as for a nil
// provider (one no longer configured).
func (p *Provider) DefaultPrice(model string) (input, output float64, ok bool) {
	if p == nil {
		return 0, 0, false
	}
	return p.adapter.Price(model)
}

// Header builds the complete outbound header set for one attempt: content
// negotiation, the provider's version and beta headers (client values
// only where allowlisted), and the credential. Nothing else of the
// client's headers is passed on.
func (p *Provider) Header(in http.Header, stream bool, key *Key) http.Header {
	h := make(http.Header, 6)
	h.Set("Content-Type", "application/json")
	if stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	h.Set("User-Agent", "keyward")
	p.adapter.Header(h, in, key)
	return h
}

// RequestIDHeaders are the upstream response headers that carry the
// provider's request id, in order of preference.
var RequestIDHeaders = []string{"X-Request-Id", "Request-Id", "Apim-Request-Id", "Mistral-Correlation-Id", "X-Groq-Request-Id"}

// setCredential is the one place a provider key is revealed: into the
// header of the request that goes to that provider. A nil key (the mock
// with no keys) sets nothing.
func setCredential(h http.Header, name, scheme string, k *Key) {
	if k == nil {
		return
	}
	v := k.value.Reveal()
	if scheme != "" {
		v = scheme + " " + v
	}
	h.Set(name, v)
}
