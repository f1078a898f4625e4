package provider

import "github.com/keyward/keyward/internal/config"

// compatible is any API that follows OpenAI's (Groq, Mistral, Ollama,
// vLLM, …): OpenAI's routes, URLs and bearer key under the configured base
// URL, and the classic output-token field, which they all accept.
type compatible struct{ openAI }

func newCompatible(c config.Provider) (Adapter, error) {
	u, err := baseURL(c)
	if err != nil {
		return nil, err
	}
	return compatible{openAI{base: u}}, nil
}

func (compatible) ChatTokenField() string { return "max_tokens" }
