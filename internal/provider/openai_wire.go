package provider

import (
	"bytes"
	"encoding/json"
)

// The wire formats of OpenAI's chat completions, Responses and embeddings
// APIs, which the compatible APIs, Azure and the mock copy: where usage
// is, which stream events carry text, end the stream or report an error.

// openaiUsage covers the usage objects of all three (and Groq's x_groq).
type openaiUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	// The Responses API's names.
	InputTokens        int64 `json:"input_tokens"`
	OutputTokens       int64 `json:"output_tokens"`
	InputTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

func (u *openaiUsage) tokens() Tokens {
	in, out := max(u.PromptTokens, 0)+max(u.InputTokens, 0), max(u.CompletionTokens, 0)+max(u.OutputTokens, 0)
	var cached, reasoning int64
	if d := u.PromptTokensDetails; d != nil {
		cached += d.CachedTokens
	}
	if d := u.InputTokensDetails; d != nil {
		cached += d.CachedTokens
	}
	if d := u.CompletionTokensDetails; d != nil {
		reasoning += d.ReasoningTokens
	}
	if d := u.OutputTokensDetails; d != nil {
		reasoning += d.ReasoningTokens
	}
	cached = clamp(cached, 0, in)
	return Tokens{Input: in - cached, CachedInput: cached, Output: out, Reasoning: clamp(reasoning, 0, out)}
}

// openaiBody reads the usage of a complete answer of any of the three.
func openaiBody(body []byte) (Tokens, bool) {
	u, ok := usageOf[openaiUsage](body)
	if !ok {
		return Tokens{}, false
	}
	return u.tokens(), true
}

// chatDialect is /chat/completions: data-only chunks ending in [DONE].
type chatDialect struct{}

func (chatDialect) usage(body []byte) (Tokens, bool) { return openaiBody(body) }

func (chatDialect) event(m *Meter, _ string, data []byte) bool {
	if len(data) == 0 || data[0] != '{' {
		return false // [DONE]
	}
	if !hasObject(data, "usage") && !bytes.Contains(data, []byte(`"x_groq"`)) {
		// The common case, a text chunk: measure its text without decoding.
		m.text(stringBytes(data, "content") + stringBytes(data, "refusal") + stringBytes(data, "reasoning_content") +
			stringBytes(data, "reasoning") + stringBytes(data, "arguments"))
		return false
	}
	var v struct {
		Choices []struct {
			Delta struct {
				Content          string `json:"content"`
				Refusal          string `json:"refusal"`
				ReasoningContent string `json:"reasoning_content"`
				Reasoning        string `json:"reasoning"`
				ToolCalls        []struct {
					Function struct {
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"delta"`
		} `json:"choices"`
		Usage *openaiUsage `json:"usage"`
		// Groq reports stream usage here.
		XGroq *struct {
			Usage *openaiUsage `json:"usage"`
		} `json:"x_groq"`
	}
	if json.Unmarshal(data, &v) != nil {
		return false
	}
	for _, c := range v.Choices {
		d := c.Delta
		n := len(d.Content) + len(d.Refusal) + len(d.ReasoningContent) + len(d.Reasoning)
		for _, tc := range d.ToolCalls {
			n += len(tc.Function.Arguments)
		}
		m.text(n)
	}
	u := v.Usage
	if u == nil && v.XGroq != nil {
		u = v.XGroq.Usage
	}
	if u != nil {
		m.t, m.reported, m.final = u.tokens(), true, true
	}
	return v.Usage != nil && len(v.Choices) == 0
}

// isError: an "error" event, or a chunk with a non-null error member.
func (chatDialect) isError(name string, data []byte) bool {
	if name == "error" {
		return true
	}
	if !bytes.Contains(data, []byte(`"error"`)) {
		return false
	}
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	return json.Unmarshal(data, &v) == nil && len(v.Error) > 0 && !bytes.Equal(v.Error, []byte("null"))
}

func (chatDialect) isTerminal(_ string, data []byte) bool {
	return bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]"))
}

// embeddingsDialect is /embeddings: never streamed; its stream checks are
// chat's (an embeddings answer that streams anyway is read as chat).
type embeddingsDialect struct{ chatDialect }

// responsesDialect is /responses: typed events, ending in
// response.completed or response.incomplete.
type responsesDialect struct{}

func (responsesDialect) usage(body []byte) (Tokens, bool) { return openaiBody(body) }

func (responsesDialect) event(m *Meter, _ string, data []byte) bool {
	if !hasObject(data, "usage") {
		// Only the final events carry usage; the rest matter for their
		// text deltas.
		if bytes.Contains(data, []byte(`.delta"`)) {
			m.text(stringBytes(data, "delta"))
		}
		return false
	}
	var v struct {
		Type     string `json:"type"`
		Delta    string `json:"delta"`
		Response *struct {
			Usage *openaiUsage `json:"usage"`
		} `json:"response"`
	}
	if json.Unmarshal(data, &v) != nil {
		return false
	}
	switch v.Type {
	case "response.output_text.delta", "response.refusal.delta", "response.function_call_arguments.delta",
		"response.reasoning_text.delta", "response.reasoning_summary_text.delta", "response.audio.transcript.delta",
		"response.custom_tool_call_input.delta", "response.code_interpreter_call_code.delta":
		m.text(len(v.Delta))
	case "response.completed", "response.incomplete", "response.failed":
		if v.Response != nil && v.Response.Usage != nil {
			m.t, m.reported, m.final = v.Response.Usage.tokens(), true, true
		}
	}
	return false
}

func (responsesDialect) isError(name string, data []byte) bool {
	if name == "error" || name == "response.failed" {
		return true
	}
	t := eventType(data)
	return t == "error" || t == "response.failed"
}

func (responsesDialect) isTerminal(name string, data []byte) bool {
	return named(name, data, "response.completed") || named(name, data, "response.incomplete")
}
