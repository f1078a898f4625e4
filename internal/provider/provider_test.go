package provider

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/secret"
)

func newProvider(t *testing.T, c config.Provider, keys ...*Key) *Provider {
	t.Helper()
	if c.Name == "" {
		c.Name = "p"
	}
	p, err := New(c, keys, http.DefaultTransport)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return p
}

func TestURL(t *testing.T) {
	openai := config.Provider{Kind: config.KindOpenAI}
	groq := config.Provider{Kind: config.KindOpenAICompatible, BaseURL: "https://api.groq.com/openai/v1"}
	azure := config.Provider{Kind: config.KindAzureOpenAI, BaseURL: "https://res.openai.azure.com"}
	azurePreview := config.Provider{Kind: config.KindAzureOpenAI, BaseURL: "https://res.openai.azure.com/", APIVersion: "2025-04-01-preview"}
	azureV1 := config.Provider{Kind: config.KindAzureOpenAI, BaseURL: "https://res.openai.azure.com", APIVersion: "v1"}
	anthropic := config.Provider{Kind: config.KindAnthropic}
	tests := []struct {
		name  string
		cfg   config.Provider
		route Route
		model string
		want  string
	}{
		{"openai chat", openai, Chat, "gpt-4.1", "https://api.openai.com/v1/chat/completions"},
		{"openai responses", openai, Responses, "gpt-4.1", "https://api.openai.com/v1/responses"},
		{"openai embeddings", openai, Embeddings, "text-embedding-3-small", "https://api.openai.com/v1/embeddings"},
		{"openai explicit base with trailing slash", config.Provider{Kind: config.KindOpenAI, BaseURL: "https://api.openai.com/v1/"}, Chat, "m", "https://api.openai.com/v1/chat/completions"},
		{"compatible base path chat", groq, Chat, "llama-3.3-70b", "https://api.groq.com/openai/v1/chat/completions"},
		{"compatible base path responses", groq, Responses, "llama-3.3-70b", "https://api.groq.com/openai/v1/responses"},
		{"compatible base path embeddings", groq, Embeddings, "nomic", "https://api.groq.com/openai/v1/embeddings"},
		{"compatible loopback http", config.Provider{Kind: config.KindOpenAICompatible, BaseURL: "http://localhost:11434/v1"}, Chat, "llama3", "http://localhost:11434/v1/chat/completions"},
		{"compatible base with port and escaped space", config.Provider{Kind: config.KindOpenAICompatible, BaseURL: "https://llm.example.com:8443/my%20team/v1"}, Chat, "m", "https://llm.example.com:8443/my%20team/v1/chat/completions"},
		{"azure chat", azure, Chat, "gpt-4o", "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"},
		{"azure embeddings", azure, Embeddings, "embed-small", "https://res.openai.azure.com/openai/deployments/embed-small/embeddings?api-version=2024-10-21"},
		{"azure configured api-version", azurePreview, Chat, "gpt-4o", "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2025-04-01-preview"},
		{"azure deployment is one escaped segment", azure, Chat, "team a/gpt:4o", "https://res.openai.azure.com/openai/deployments/team%20a%2Fgpt:4o/chat/completions?api-version=2024-10-21"},
		{"azure deployment cannot climb the path", azure, Chat, "../../x", "https://res.openai.azure.com/openai/deployments/..%2F..%2Fx/chat/completions?api-version=2024-10-21"},
		{"azure deployment under a base path", config.Provider{Kind: config.KindAzureOpenAI, BaseURL: "https://apim.example.com/a%20b"}, Chat, "d", "https://apim.example.com/a%20b/openai/deployments/d/chat/completions?api-version=2024-10-21"},
		{"azure responses", azure, Responses, "gpt-4o", "https://res.openai.azure.com/openai/v1/responses"}, // Responses lives on Azure's v1 surface
		{"azure responses configured api-version", azurePreview, Responses, "gpt-4o", "https://res.openai.azure.com/openai/v1/responses"},
		{"azure v1 chat", azureV1, Chat, "gpt-4o", "https://res.openai.azure.com/openai/v1/chat/completions"},
		{"azure v1 responses", azureV1, Responses, "gpt-4o", "https://res.openai.azure.com/openai/v1/responses"},
		{"azure v1 embeddings", azureV1, Embeddings, "embed-small", "https://res.openai.azure.com/openai/v1/embeddings"},
		{"anthropic messages", anthropic, Messages, "claude-sonnet-4-5", "https://api.anthropic.com/v1/messages"},
		{"anthropic count_tokens", anthropic, CountTokens, "claude-sonnet-4-5", "https://api.anthropic.com/v1/messages/count_tokens"},
		{"anthropic explicit base", config.Provider{Kind: config.KindAnthropic, BaseURL: "https://proxy.example.com/anthropic/v1/"}, Messages, "c", "https://proxy.example.com/anthropic/v1/messages"},
		{"mock chat", config.Provider{Kind: config.KindMock}, Chat, "m", "http://mock.keyward.invalid/v1/chat/completions"},
		{"mock count_tokens", config.Provider{Kind: config.KindMock}, CountTokens, "m", "http://mock.keyward.invalid/v1/messages/count_tokens"},
		{"mock ignores a base url", config.Provider{Kind: config.KindMock, BaseURL: "https://evil.example.com"}, Messages, "m", "http://mock.keyward.invalid/v1/messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.cfg)
			if got := p.URL(tt.route, tt.model).String(); got != tt.want {
				t.Errorf("URL = %s\n want %s", got, tt.want)
			}
		})
	}
}

func TestURLReturnsACopy(t *testing.T) {
	for _, kind := range []config.Provider{
		{Kind: config.KindOpenAI},
		{Kind: config.KindAzureOpenAI, BaseURL: "https://res.openai.azure.com"},
	} {
		t.Run(kind.Kind, func(t *testing.T) {
			p := newProvider(t, kind)
			want := p.URL(Chat, "d").String()
			u := p.URL(Chat, "d")
			u.Host, u.Path, u.RawPath, u.RawQuery = "evil.example.com", "/x", "", "a=b"
			if got := p.URL(Chat, "d").String(); got != want {
				t.Errorf("after mutating a returned URL: %s, want %s", got, want)
			}
		})
	}
}

func TestURLEscapedBasePathKept(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Provider
		want string
	}{
		{"compatible", config.Provider{Kind: config.KindOpenAICompatible, BaseURL: "https://gw.example.com/acct%2Fgw/v1"}, "https://gw.example.com/acct%2Fgw/v1/chat/completions"},
		{"azure v1", config.Provider{Kind: config.KindAzureOpenAI, APIVersion: "v1", BaseURL: "https://gw.example.com/acct%2Fgw"}, "https://gw.example.com/acct%2Fgw/openai/v1/chat/completions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newProvider(t, tt.cfg).URL(Chat, "m").String(); got != tt.want {
				t.Errorf("URL = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	_, err := New(config.Provider{Name: "broken", Kind: config.KindOpenAICompatible, BaseURL: "https://h/%zz"}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "provider broken") {
		t.Errorf("New with an unparsable base URL: err = %v, want one naming the provider", err)
	}
}

func TestTransport(t *testing.T) {
	rt := http.DefaultTransport
	p, err := New(config.Provider{Name: "o", Kind: config.KindOpenAI}, nil, rt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Transport() != rt {
		t.Errorf("openai transport = %T, want the given one", p.Transport())
	}
	m, err := New(config.Provider{Name: "m", Kind: config.KindMock}, nil, rt)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Transport().(*Mock); !ok {
		t.Errorf("mock transport = %T, want *Mock", m.Transport())
	}
}

// hostile is a client header set none of which may reach a provider.
func hostile() http.Header {
	h := http.Header{}
	for k, v := range map[string]string{
		"Authorization":       "Bearer client-key-must-not-pass",
		"Cookie":              "session=abc",
		"X-Forwarded-For":     "10.0.0.1",
		"X-Real-Ip":           "10.0.0.1",
		"Openai-Organization": "org-client",
		"Openai-Project":      "proj-client",
		"Openai-Beta":         "assistants=v2",
		"Api-Key":             "client-api-key",
		"X-Api-Key":           "client-x-api-key",
		"Host":                "evil.example.com",
		"Content-Length":      "999",
		"Accept-Encoding":     "gzip",
		"Accept":              "text/html",
		"Content-Type":        "text/plain",
		"User-Agent":          "client/1.0",
		"X-Stainless-Os":      "Linux",
		"Helicone-Auth":       "Bearer x",
	} {
		h.Set(k, v)
	}
	return h
}

func TestHeader(t *testing.T) {
	key := NewKey("p/env:K", secret.New("test-provider-key-1234"), 1)
	base := func(stream bool, extra ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}, "User-Agent": {"keyward"}}
		if stream {
			h["Accept"] = []string{"text/event-stream"}
		}
		for i := 0; i+1 < len(extra); i += 2 {
			h[http.CanonicalHeaderKey(extra[i])] = []string{extra[i+1]}
		}
		return h
	}
	withClient := func(h http.Header, kv ...string) http.Header {
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	anthropic := config.Provider{Kind: config.KindAnthropic}
	anthropicPinned := config.Provider{Kind: config.KindAnthropic, AnthropicVersion: "2024-01-01"}
	tests := []struct {
		name   string
		cfg    config.Provider
		in     http.Header
		stream bool
		key    *Key
		want   http.Header
	}{
		{"openai bearer", config.Provider{Kind: config.KindOpenAI}, hostile(), false, key,
			base(false, "Authorization", "Bearer test-provider-key-1234")},
		{"openai stream", config.Provider{Kind: config.KindOpenAI}, hostile(), true, key,
			base(true, "Authorization", "Bearer test-provider-key-1234")},
		{"openai without a key sets no credential", config.Provider{Kind: config.KindOpenAI}, hostile(), false, nil,
			base(false)},
		{"compatible bearer", config.Provider{Kind: config.KindOpenAICompatible, BaseURL: "https://api.groq.com/openai/v1"}, hostile(), false, key,
			base(false, "Authorization", "Bearer test-provider-key-1234")},
		{"azure api-key", config.Provider{Kind: config.KindAzureOpenAI, BaseURL: "https://res.openai.azure.com"}, hostile(), true, key,
			base(true, "Api-Key", "test-provider-key-1234")},
		{"anthropic x-api-key and default version", anthropic, hostile(), false, key,
			base(false, "X-Api-Key", "test-provider-key-1234", "Anthropic-Version", DefaultAnthropicVersion)},
		{"anthropic nil client header", anthropic, nil, true, key,
			base(true, "X-Api-Key", "test-provider-key-1234", "Anthropic-Version", DefaultAnthropicVersion)},
		{"anthropic configured version", anthropicPinned, http.Header{}, false, key,
			base(false, "X-Api-Key", "test-provider-key-1234", "Anthropic-Version", "2024-01-01")},
		{"anthropic client date wins", anthropicPinned, withClient(hostile(), "Anthropic-Version", "2023-01-01"), false, key,
			base(false, "X-Api-Key", "test-provider-key-1234", "Anthropic-Version", "2023-01-01")},
		{"anthropic first client value counts", anthropic, withClient(http.Header{}, "Anthropic-Version", "latest", "Anthropic-Version", "2023-01-01"), false, key,
			base(false, "X-Api-Key", "test-provider-key-1234", "Anthropic-Version", DefaultAnthropicVersion)},
		{"mock without keys", config.Provider{Kind: config.KindMock}, hostile(), false, nil,
			base(false)},
		{"mock with a key", config.Provider{Kind: config.KindMock}, hostile(), false, key,
			base(false, "Authorization", "Bearer test-provider-key-1234")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newProvider(t, tt.cfg).Header(tt.in, tt.stream, tt.key)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeaderAnthropicVersion(t *testing.T) {
	tests := []struct {
		name   string
		client string
		want   string
	}{
		{"date", "2023-06-01", "2023-06-01"},
		{"other date", "2099-12-31", "2099-12-31"},
		{"empty", "", "2024-01-01"},
		{"word", "latest", "2024-01-01"},
		{"short date", "2023-6-1", "2024-01-01"},
		{"leading space", " 2023-06-01", "2024-01-01"},
		{"trailing text", "2023-06-01,2024-01-01", "2024-01-01"},
		{"beta name", "prompt-caching-2024-07-31", "2024-01-01"},
		{"injection attempt", "2023-06-01\r\nX-Api-Key: x", "2024-01-01"},
		{"unicode digits", "２０２３-06-01", "2024-01-01"},
	}
	p := newProvider(t, config.Provider{Kind: config.KindAnthropic, AnthropicVersion: "2024-01-01"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := http.Header{"Anthropic-Version": {tt.client}}
			got := p.Header(in, false, nil).Values("Anthropic-Version")
			if diff := cmp.Diff([]string{tt.want}, got); diff != "" {
				t.Errorf("Anthropic-Version (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeaderAnthropicBeta(t *testing.T) {
	tests := []struct {
		name  string
		allow []string // nil: DefaultAnthropicBetas
		in    []string // one entry per header line
		want  []string // nil: no Anthropic-Beta header
	}{
		{"none sent", nil, nil, nil},
		{"default list passes a known beta", nil, []string{"prompt-caching-2024-07-31"}, []string{"prompt-caching-2024-07-31"}},
		{"default list drops an unknown well-formed beta", nil, []string{"my-private-beta-2025-01-01"}, nil},
		{"comma separated", nil, []string{"prompt-caching-2024-07-31, pdfs-2024-09-25"}, []string{"prompt-caching-2024-07-31,pdfs-2024-09-25"}},
		{"repeated header lines", nil, []string{"prompt-caching-2024-07-31", "pdfs-2024-09-25"}, []string{"prompt-caching-2024-07-31,pdfs-2024-09-25"}},
		{"client order kept", nil, []string{"pdfs-2024-09-25,prompt-caching-2024-07-31"}, []string{"pdfs-2024-09-25,prompt-caching-2024-07-31"}},
		{"deduplicated", nil, []string{"pdfs-2024-09-25,pdfs-2024-09-25", " pdfs-2024-09-25 "}, []string{"pdfs-2024-09-25"}},
		{"mixed known and unknown", nil, []string{"evil-2025-01-01,pdfs-2024-09-25", "x"}, []string{"pdfs-2024-09-25"}},
		{"malformed values dropped", nil, []string{"PDFS-2024-09-25", "pdfs", "pdfs-2024-9-25", "pdfs-2024-09-25;x", "*", "", ",,", "pdfs-2024-09-25 extra"}, nil},
		{"custom list replaces the default", []string{"pdfs-2024-09-25"}, []string{"prompt-caching-2024-07-31,pdfs-2024-09-25"}, []string{"pdfs-2024-09-25"}},
		{"custom list allows a private beta", []string{"my-private-beta-2025-01-01"}, []string{"my-private-beta-2025-01-01"}, []string{"my-private-beta-2025-01-01"}},
		{"empty custom list allows none", []string{}, []string{"prompt-caching-2024-07-31"}, nil},
		{"star allows any well-formed beta", []string{"*"}, []string{"my-private-beta-2025-01-01, prompt-caching-2024-07-31"}, []string{"my-private-beta-2025-01-01,prompt-caching-2024-07-31"}},
		{"star still drops malformed values", []string{"*"}, []string{"Bad Beta", "*", "x-2025-01-01\r\nX-Api-Key: y", "ok-beta-2025-01-01"}, []string{"ok-beta-2025-01-01"}},
		{"star with others", []string{"pdfs-2024-09-25", "*"}, []string{"anything-2025-02-02"}, []string{"anything-2025-02-02"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, config.Provider{Kind: config.KindAnthropic, AnthropicBetas: tt.allow})
			in := http.Header{}
			for _, v := range tt.in {
				in.Add("Anthropic-Beta", v)
			}
			got := p.Header(in, false, nil).Values("Anthropic-Beta")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Anthropic-Beta (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeaderDefaultBetasAreWellFormed(t *testing.T) {
	// A default entry the shape check rejects could never pass.
	for _, b := range DefaultAnthropicBetas {
		if !betaRE.MatchString(b) {
			t.Errorf("DefaultAnthropicBetas has %q, which allowedBetas always drops", b)
		}
	}
}

func TestHeaderOnlyCredentialCarriesTheKey(t *testing.T) {
	// The key value appears in exactly one header value, for every kind.
	key := NewKey("p/env:K", secret.New("test-provider-key-1234"), 1)
	for _, c := range []config.Provider{
		{Kind: config.KindOpenAI},
		{Kind: config.KindOpenAICompatible, BaseURL: "https://x.example.com/v1"},
		{Kind: config.KindAzureOpenAI, BaseURL: "https://res.openai.azure.com"},
		{Kind: config.KindAnthropic},
		{Kind: config.KindMock},
	} {
		t.Run(c.Kind, func(t *testing.T) {
			h := newProvider(t, c).Header(hostile(), true, key)
			n := 0
			for name, vs := range h {
				for _, v := range vs {
					if strings.Contains(v, "test-provider-key-1234") {
						n++
					}
					if strings.Contains(v, "client") || strings.Contains(v, "10.0.0.1") {
						t.Errorf("client value leaked in %s: %q", name, v)
					}
				}
			}
			if n != 1 {
				t.Errorf("key appears in %d header values, want 1: %v", n, h)
			}
		})
	}
}

func TestSupports(t *testing.T) {
	all := []Route{Chat, Responses, Embeddings, Messages, CountTokens}
	openAIish := map[Route]bool{Chat: true, Responses: true, Embeddings: true}
	tests := []struct {
		name string
		cfg  config.Provider
		want map[Route]bool
	}{
		{"openai", config.Provider{Kind: config.KindOpenAI}, openAIish},
		{"compatible", config.Provider{Kind: config.KindOpenAICompatible, BaseURL: "https://x.example.com/v1"}, openAIish},
		{"azure", config.Provider{Kind: config.KindAzureOpenAI, BaseURL: "https://res.openai.azure.com"}, openAIish},
		{"anthropic", config.Provider{Kind: config.KindAnthropic}, map[Route]bool{Messages: true, CountTokens: true}},
		{"mock", config.Provider{Kind: config.KindMock}, map[Route]bool{Chat: true, Responses: true, Embeddings: true, Messages: true, CountTokens: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.cfg)
			got := map[Route]bool{}
			for _, r := range all {
				if p.Supports(r) {
					got[r] = true
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("supported routes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatTokenField(t *testing.T) {
	tests := []struct {
		cfg  config.Provider
		want string
	}{
		{config.Provider{Kind: config.KindOpenAI}, "max_completion_tokens"},
		{config.Provider{Kind: config.KindAzureOpenAI, BaseURL: "https://res.openai.azure.com"}, "max_completion_tokens"},
		{config.Provider{Kind: config.KindOpenAICompatible, BaseURL: "https://x.example.com/v1"}, "max_tokens"},
		{config.Provider{Kind: config.KindMock}, "max_tokens"},
		{config.Provider{Kind: config.KindAnthropic}, "max_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.Kind, func(t *testing.T) {
			if got := newProvider(t, tt.cfg).ChatTokenField(); got != tt.want {
				t.Errorf("ChatTokenField = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRouteTable(t *testing.T) {
	tests := []struct {
		route     Route
		name      string
		suffix    string
		canStream bool
	}{
		{Chat, "chat", "/chat/completions", true},
		{Responses, "responses", "/responses", true},
		{Embeddings, "embeddings", "/embeddings", false},
		{Messages, "messages", "/messages", true},
		{CountTokens, "count_tokens", "/messages/count_tokens", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.route.String() != tt.name || tt.route.Suffix() != tt.suffix || tt.route.CanStream() != tt.canStream {
				t.Errorf("route %d = (%q, %q, %v), want (%q, %q, %v)", tt.route,
					tt.route.String(), tt.route.Suffix(), tt.route.CanStream(), tt.name, tt.suffix, tt.canStream)
			}
		})
	}
}

func TestDefaultPrice(t *testing.T) {
	tests := []struct {
		cfg  config.Provider
		free bool
	}{
		{config.Provider{Kind: config.KindOpenAI}, false},
		{config.Provider{Kind: config.KindOpenAICompatible, BaseURL: "https://x.example.com/v1"}, false},
		{config.Provider{Kind: config.KindAzureOpenAI, BaseURL: "https://res.openai.azure.com"}, false},
		{config.Provider{Kind: config.KindAnthropic}, false},
		{config.Provider{Kind: config.KindMock}, true}, // free because its models cost nothing, not by its name
	}
	for _, tt := range tests {
		t.Run(tt.cfg.Kind, func(t *testing.T) {
			in, out, ok := newProvider(t, tt.cfg).DefaultPrice("any-model")
			if ok != tt.free || in != 0 || out != 0 {
				t.Errorf("DefaultPrice = %v, %v, %v; want 0, 0, %v", in, out, ok, tt.free)
			}
		})
	}
	if _, _, ok := (*Provider)(nil).DefaultPrice("m"); ok {
		t.Error("a nil provider has a price")
	}
}

func TestInProcess(t *testing.T) {
	for _, kind := range config.Kinds {
		t.Run(kind, func(t *testing.T) {
			c := config.Provider{Kind: kind, BaseURL: "https://x.example.com/v1"}
			if got, want := newProvider(t, c).InProcess(), kind == config.KindMock; got != want {
				t.Errorf("InProcess = %v, want %v", got, want)
			}
		})
	}
}

func TestNewRejectsUnknownKind(t *testing.T) {
	if _, err := New(config.Provider{Name: "x", Kind: "gemini"}, nil, nil); err == nil || !strings.Contains(err.Error(), "provider x") {
		t.Errorf("New with an unknown kind: err = %v, want one naming the provider", err)
	}
}

// TestEveryKindHasAnAdapter keeps the registry and the configuration's
// list of kinds in step.
func TestEveryKindHasAnAdapter(t *testing.T) {
	for _, kind := range config.Kinds {
		if kinds[kind] == nil {
			t.Errorf("kind %q has no adapter", kind)
		}
	}
	if len(kinds) != len(config.Kinds) {
		t.Errorf("%d adapters for %d kinds", len(kinds), len(config.Kinds))
	}
}
