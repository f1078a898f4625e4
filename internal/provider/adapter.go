package provider

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/keyward/keyward/internal/config"
)

// Adapter is what keyward knows of one provider family: the routes it
// serves, where a route goes, the headers and credential it takes, how its
// answers report usage and errors, and where it differs from a remote API
// (the mock's in-process transport, its models' price). A family is one
// file and one entry in kinds; one that speaks the routes' own wire
// formats embeds native for the reading of answers.
type Adapter interface {
	// Serves reports whether the family serves a route.
	Serves(r Route) bool
	// URL is the upstream URL of a route for a target model. Nothing in
	// it comes from the client.
	URL(r Route, model string) *url.URL
	// Header adds the family's version headers (a client's values only
	// where allowlisted) and the credential to h.
	Header(h, in http.Header, key *Key)
	// ChatTokenField is the output-token field injected into chat
	// requests that set none.
	ChatTokenField() string
	// Local is the in-process transport that serves the family, or nil
	// when it is reached over the network.
	Local() http.RoundTripper
	// Usage reads the usage of a complete (non-streamed) answer on a
	// route; ok is false when it reports none.
	Usage(r Route, body []byte) (t Tokens, ok bool)
	// Meter follows an answer streamed on a route: its usage, its text,
	// its error and terminal events.
	Meter(r Route) *Meter
	// Failure reads an error body or an error event's data.
	Failure(body []byte) UpstreamError
	// Price is the family's own price of a model in USD per 1M tokens,
	// for a model neither pricing: nor the embedded table prices; ok is
	// false when it has none.
	Price(model string) (input, output float64, ok bool)
}

// kinds builds each family's adapter from its configuration. It is the one
// place a provider kind is told apart: a new family is a file and a line
// here (plus its config kind and its prices).
var kinds = map[string]func(config.Provider) (Adapter, error){
	config.KindOpenAI:           newOpenAI,
	config.KindOpenAICompatible: newCompatible,
	config.KindAzureOpenAI:      newAzure,
	config.KindAnthropic:        newAnthropic,
	config.KindMock:             newMock,
}

// adapterFor builds the adapter of a provider's kind.
func adapterFor(c config.Provider) (Adapter, error) {
	build, ok := kinds[c.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q", c.Kind)
	}
	return build(c)
}

// remote is embedded by the families reached over the network: no
// transport or price of their own.
type remote struct{}

func (remote) Local() http.RoundTripper              { return nil }
func (remote) Price(string) (float64, float64, bool) { return 0, 0, false }

// baseURL parses a provider's base URL, its kind's default when none is
// configured.
func baseURL(c config.Provider) (*url.URL, error) {
	raw := c.BaseURL
	if raw == "" {
		raw = config.DefaultBaseURL(c.Kind)
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	return u, nil
}

// endpoint appends to base a path whose escaped form is given, keeping any
// escaping in the base URL's own path. The result is a copy.
func endpoint(base *url.URL, raw string) *url.URL {
	u := *base
	unescaped, _ := url.PathUnescape(raw)
	u.Path = base.Path + unescaped
	u.RawPath = base.EscapedPath() + raw
	return &u
}

// bearer sends the credential as OpenAI does.
func bearer(h http.Header, key *Key) { setCredential(h, "Authorization", "Bearer", key) }
