package provider

import (
	"net/http"
	"net/url"

	"github.com/keyward/keyward/internal/config"
)

// openAI is api.openai.com: chat, responses and embeddings under the base
// URL, a bearer key, and OpenAI's current output-token field.
type openAI struct {
	remote
	native
	base *url.URL
}

func newOpenAI(c config.Provider) (Adapter, error) {
	u, err := baseURL(c)
	if err != nil {
		return nil, err
	}
	return openAI{base: u}, nil
}

func (openAI) Serves(r Route) bool { return r == Chat || r == Responses || r == Embeddings }

func (a openAI) URL(r Route, _ string) *url.URL { return endpoint(a.base, r.Suffix()) }

func (openAI) Header(h, _ http.Header, key *Key) { bearer(h, key) }

func (openAI) ChatTokenField() string { return "max_completion_tokens" }
