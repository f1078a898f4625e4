package provider

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/keyward/keyward/internal/config"
)

// DefaultAnthropicVersion is sent when neither the client nor the
// configuration names a version.
const DefaultAnthropicVersion = "2023-06-01"

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

// anthropic is the Messages API: messages and count_tokens, a dated
// anthropic-version, the allowlisted anthropic-beta values, and the key in
// X-Api-Key.
type anthropic struct {
	remote
	native
	base    *url.URL
	version string
	betas   map[string]bool
	anyBeta bool
}

func newAnthropic(c config.Provider) (Adapter, error) {
	u, err := baseURL(c)
	if err != nil {
		return nil, err
	}
	a := &anthropic{base: u, version: c.AnthropicVersion, betas: map[string]bool{}}
	if a.version == "" {
		a.version = DefaultAnthropicVersion
	}
	list := c.AnthropicBetas
	if list == nil {
		list = DefaultAnthropicBetas
	}
	for _, b := range list {
		if b == "*" {
			a.anyBeta = true
		}
		a.betas[b] = true
	}
	return a, nil
}

func (*anthropic) Serves(r Route) bool { return r == Messages || r == CountTokens }

func (a *anthropic) URL(r Route, _ string) *url.URL { return endpoint(a.base, r.Suffix()) }

// ChatTokenField is never used (the family serves no chat route); it is
// the classic name.
func (*anthropic) ChatTokenField() string { return "max_tokens" }

func (a *anthropic) Header(h, in http.Header, key *Key) {
	v := in.Get("Anthropic-Version")
	if !versionRE.MatchString(v) {
		v = a.version
	}
	h.Set("Anthropic-Version", v)
	if betas := a.allowedBetas(in.Values("Anthropic-Beta")); betas != "" {
		h.Set("Anthropic-Beta", betas)
	}
	setCredential(h, "X-Api-Key", "", key)
}

func (a *anthropic) allowedBetas(values []string) string {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		for _, b := range strings.Split(v, ",") {
			b = strings.TrimSpace(b)
			if !betaRE.MatchString(b) || seen[b] || !(a.anyBeta || a.betas[b]) {
				continue
			}
			seen[b] = true
			out = append(out, b)
		}
	}
	return strings.Join(out, ",")
}
