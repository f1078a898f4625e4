package provider

// Tokens counts a request's tokens by how they are billed. Providers
// report input differently (OpenAI's prompt_tokens include cached tokens,
// Anthropic's input_tokens do not); Tokens is normalised so the kinds never
// overlap and Total is their sum.
type Tokens struct {
	// Input is the uncached input, billed at the input price.
	Input int64 `json:"input"`
	// CachedInput is input read from the provider's prompt cache.
	CachedInput int64 `json:"cached_input,omitempty"`
	// CacheWrite is input written to the prompt cache (Anthropic).
	CacheWrite int64 `json:"cache_write,omitempty"`
	// CacheWriteLong is the part of CacheWrite written to Anthropic's
	// one-hour cache, billed dearer than the five-minute one.
	CacheWriteLong int64 `json:"cache_write_long,omitempty"`
	// Output is every generated token, reasoning included.
	Output int64 `json:"output"`
	// Reasoning is the part of Output spent on reasoning (informational).
	Reasoning int64 `json:"reasoning,omitempty"`
}

// InputTotal is all input tokens, cached or not.
func (t Tokens) InputTotal() int64 { return t.Input + t.CachedInput + t.CacheWrite }

// Total is all tokens, input and output.
func (t Tokens) Total() int64 { return t.InputTotal() + t.Output }
