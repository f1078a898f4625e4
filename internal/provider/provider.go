package provider

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/keyward/keyward/internal/config"
)

// DefaultAnthropicVersion is sent when neither the client nor the
// configuration names a version.
const DefaultAnthropicVersion = "2023-06-01"

// DefaultAzureAPIVersion is the latest dated GA api-version of Azure OpenAI
// inference.
const DefaultAzureAPIVersion = "2024-10-21"

// DefaultAnthropicBetas are the anthropic-beta values passed on when a
// provider does not list its own: those that change what /v1/messages and
// count_tokens accept or return. Anything else a client sends is dropped.
var DefaultAnthropicBetas = []string{
	"prompt-caching-2024-07-31", "extended-cache-ttl-2025-04-11", "token-counting-2024-11-01",
	"pdfs-2024-09-25", "computer-use-2024-10-22", "computer-use-2025-01-24",
	"token-efficient-tools-2025-02-19", "output-128k-2025-02-19", "interleaved-thinking-2025-05-14",
	"fine-grained-tool-streaming-2025-05-14", "code-execution-2025-05-22", "context-management-2025-06-27",
	"context-1m-2025-08-07", "model-context-window-exceeded-2025-08-26", "structured-outputs-2025-11-13",
	"web-fetch-2025-09-10", "advanced-tool-use-2025-11-20", "effort-2025-11-24",
}

var (
	versionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	betaRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,80}-\d{4}-\d{2}-\d{2}$`)
)

// Provider is one configured upstream, ready to take requests.
type Provider struct {
	Name string
	Kind string

	base             *url.URL
	pool             *Pool
	transport        http.RoundTripper
	anthropicVersion string
	betas            map[string]bool
	anyBeta          bool
	azureVersion     string
}

// New builds a provider from its configuration, its loaded keys and the
// transport that reaches it (ignored for the mock, which is its own).
func New(c config.Provider, keys []*Key, transport http.RoundTripper) (*Provider, error) {
	p := &Provider{Name: c.Name, Kind: c.Kind, pool: NewPool(keys, c.KeyStrategy), transport: transport}
	raw := c.BaseURL
	if raw == "" {
		raw = config.DefaultBaseURL(c.Kind)
	}
	if c.Kind == config.KindMock {
		raw = "http://mock.keyward.invalid/v1"
		p.transport = NewMock(c.Name, c.Mock)
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("provider %s: base_url: %w", c.Name, err)
	}
	p.base = u
	if c.Kind == config.KindAnthropic {
		p.anthropicVersion = c.AnthropicVersion
		if p.anthropicVersion == "" {
			p.anthropicVersion = DefaultAnthropicVersion
		}
		list := c.AnthropicBetas
		if list == nil {
			list = DefaultAnthropicBetas
		}
		p.betas = map[string]bool{}
		for _, b := range list {
			if b == "*" {
				p.anyBeta = true
			}
			p.betas[b] = true
		}
	}
	if c.Kind == config.KindAzureOpenAI {
		p.azureVersion = c.APIVersion
		if p.azureVersion == "" {
			p.azureVersion = DefaultAzureAPIVersion
		}
	}
	return p, nil
}

// Pool returns the provider's keys.
func (p *Provider) Pool() *Pool { return p.pool }

// Transport returns what reaches the provider.
func (p *Provider) Transport() http.RoundTripper { return p.transport }

// Supports reports whether the provider serves a route.
func (p *Provider) Supports(r Route) bool {
	switch p.Kind {
	case config.KindAnthropic:
		return r == Messages || r == CountTokens
	case config.KindMock:
		return true
	default:
		return r == Chat || r == Responses || r == Embeddings
	}
}

// ChatTokenField is the output-token field injected into chat requests
// that did not set one: OpenAI's current name for OpenAI and Azure, the
// classic one for compatible APIs.
func (p *Provider) ChatTokenField() string {
	if p.Kind == config.KindOpenAI || p.Kind == config.KindAzureOpenAI {
		return "max_completion_tokens"
	}
	return "max_tokens"
}

// URL is the upstream URL of a route for a target model. Nothing in it
// comes from the client.
func (p *Provider) URL(r Route, model string) *url.URL {
	u := *p.base
	// add appends a path whose escaped form is given, keeping any escaping
	// in the base URL's own path.
	add := func(raw string) {
		unescaped, _ := url.PathUnescape(raw)
		u.Path = p.base.Path + unescaped
		u.RawPath = p.base.EscapedPath() + raw
	}
	switch {
	case p.Kind == config.KindAzureOpenAI && (p.azureVersion == "v1" || r == Responses):
		// Azure serves the Responses API on its v1 surface only (model in
		// the body, no api-version).
		add("/openai/v1" + r.Suffix())
	case p.Kind == config.KindAzureOpenAI:
		add("/openai/deployments/" + url.PathEscape(model) + r.Suffix())
		u.RawQuery = url.Values{"api-version": {p.azureVersion}}.Encode()
	default:
		add(r.Suffix())
	}
	return &u
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
	switch p.Kind {
	case config.KindAnthropic:
		v := in.Get("Anthropic-Version")
		if !versionRE.MatchString(v) {
			v = p.anthropicVersion
		}
		h.Set("Anthropic-Version", v)
		if betas := p.allowedBetas(in.Values("Anthropic-Beta")); betas != "" {
			h.Set("Anthropic-Beta", betas)
		}
		setCredential(h, "X-Api-Key", "", key)
	case config.KindAzureOpenAI:
		setCredential(h, "Api-Key", "", key)
	default:
		setCredential(h, "Authorization", "Bearer", key)
	}
	return h
}

func (p *Provider) allowedBetas(values []string) string {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		for _, b := range strings.Split(v, ",") {
			b = strings.TrimSpace(b)
			if !betaRE.MatchString(b) || seen[b] || !(p.anyBeta || p.betas[b]) {
				continue
			}
			seen[b] = true
			out = append(out, b)
		}
	}
	return strings.Join(out, ",")
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
