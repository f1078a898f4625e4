package provider

import (
	"net/http"
	"net/url"

	"github.com/keyward/keyward/internal/config"
)

// DefaultAzureAPIVersion is the latest dated GA api-version of Azure OpenAI
// inference.
const DefaultAzureAPIVersion = "2024-10-21"

// azure is Azure OpenAI: OpenAI's routes and token field, a deployment per
// model in the path with a dated api-version (or the v1 surface), and the
// key in Api-Key.
type azure struct {
	openAI
	version string
}

func newAzure(c config.Provider) (Adapter, error) {
	u, err := baseURL(c)
	if err != nil {
		return nil, err
	}
	a := azure{openAI: openAI{base: u}, version: c.APIVersion}
	if a.version == "" {
		a.version = DefaultAzureAPIVersion
	}
	return a, nil
}

func (a azure) URL(r Route, model string) *url.URL {
	if a.version == "v1" || r == Responses {
		// Azure serves the Responses API on its v1 surface only (model in
		// the body, no api-version).
		return endpoint(a.base, "/openai/v1"+r.Suffix())
	}
	u := endpoint(a.base, "/openai/deployments/"+url.PathEscape(model)+r.Suffix())
	u.RawQuery = url.Values{"api-version": {a.version}}.Encode()
	return u
}

func (azure) Header(h, _ http.Header, key *Key) { setCredential(h, "Api-Key", "", key) }
