package usage

import (
	"bytes"
	"encoding/json"

	"github.com/keyward/keyward/internal/provider"
)

// openaiUsage covers the usage objects of OpenAI's chat completions,
// Responses and embeddings APIs (and the compatible APIs that copy them).
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

// anthropicUsage is the usage object of Anthropic's Messages API. Its
// input_tokens exclude cache reads and writes.
type anthropicUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	CacheCreation            *struct {
		Ephemeral1h *int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
}

// merge takes the fields u sets over t: Anthropic's stream repeats counts
// cumulatively (message_start, then message_delta), so the latest wins.
func (u *anthropicUsage) merge(t Tokens) Tokens {
	if u.InputTokens != nil {
		t.Input = max(*u.InputTokens, 0)
	}
	if u.OutputTokens != nil {
		t.Output = max(*u.OutputTokens, 0)
	}
	if u.CacheCreationInputTokens != nil {
		t.CacheWrite = max(*u.CacheCreationInputTokens, 0)
	}
	if u.CacheReadInputTokens != nil {
		t.CachedInput = max(*u.CacheReadInputTokens, 0)
	}
	if c := u.CacheCreation; c != nil && c.Ephemeral1h != nil {
		t.CacheWriteLong = clamp(*c.Ephemeral1h, 0, t.CacheWrite)
	}
	return t
}

func clamp(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

// FromBody reads the usage of a complete (non-streaming) response body.
// ok is false when the body reports none.
func FromBody(route provider.Route, body []byte) (t Tokens, ok bool) {
	switch route {
	case provider.Messages:
		var v struct {
			Usage *anthropicUsage `json:"usage"`
		}
		if json.Unmarshal(body, &v) != nil || v.Usage == nil {
			return Tokens{}, false
		}
		return v.Usage.merge(Tokens{}), true
	case provider.CountTokens:
		// Counting tokens is free; the count is not usage.
		return Tokens{}, true
	default:
		var v struct {
			Usage *openaiUsage `json:"usage"`
		}
		if json.Unmarshal(body, &v) != nil || v.Usage == nil {
			return Tokens{}, false
		}
		return v.Usage.tokens(), true
	}
}

// Meter follows a response stream event by event: it collects the usage
// the provider reports and, for a stream that ends before it does (the
// client left), an estimate of the output seen so far.
type Meter struct {
	route provider.Route
	t     Tokens
	// reported is set once the stream carried usage; final once it carried
	// the end-of-stream usage.
	reported, final bool
	// deltaEvents and deltaBytes measure the generated text passed on.
	deltaEvents, deltaBytes int64
}

// NewMeter returns a meter for a route's stream.
func NewMeter(route provider.Route) *Meter { return &Meter{route: route} }

// Event feeds one event: its SSE name ("" for data-only streams) and data.
// usageOnly reports a chat chunk that carries usage and no choices: the
// chunk stream_options.include_usage adds.
func (m *Meter) Event(name string, data []byte) (usageOnly bool) {
	switch m.route {
	case provider.Messages:
		m.anthropicEvent(data)
	case provider.Responses:
		m.responsesEvent(data)
	default:
		return m.chatEvent(data)
	}
	return false
}

func (m *Meter) chatEvent(data []byte) bool {
	if len(data) == 0 || data[0] != '{' {
		return false // [DONE]
	}
	if !hasObject(data, "usage") && !bytes.Contains(data, []byte(`"x_groq"`)) {
		// The common case, a text chunk: measure its text without decoding.
		if n := stringBytes(data, "content") + stringBytes(data, "refusal") + stringBytes(data, "reasoning_content") +
			stringBytes(data, "reasoning") + stringBytes(data, "arguments"); n > 0 {
			m.deltaEvents++
			m.deltaBytes += int64(n)
		}
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
		if n > 0 {
			m.deltaEvents++
			m.deltaBytes += int64(n)
		}
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

// hasObject reports whether data has a member key whose value is an
// object (not null). A key inside a JSON string cannot match: its quotes
// would be escaped.
func hasObject(data []byte, key string) bool {
	for rest := data; ; {
		i := bytes.Index(rest, []byte(`"`+key+`"`))
		if i < 0 {
			return false
		}
		rest = rest[i+len(key)+2:]
		v := bytes.TrimLeft(rest, " \t\r\n")
		if len(v) > 0 && v[0] == ':' {
			v = bytes.TrimLeft(v[1:], " \t\r\n")
			if len(v) > 0 && v[0] == '{' {
				return true
			}
		}
	}
}

// stringBytes sums the raw lengths of the string values of every member
// named key: the text a chunk carries, escapes counted as written (close
// enough for an estimate, and never decoded).
func stringBytes(data []byte, key string) int {
	n := 0
	for rest := data; ; {
		i := bytes.Index(rest, []byte(`"`+key+`"`))
		if i < 0 {
			return n
		}
		rest = rest[i+len(key)+2:]
		v := bytes.TrimLeft(rest, " \t\r\n")
		if len(v) == 0 || v[0] != ':' {
			continue
		}
		v = bytes.TrimLeft(v[1:], " \t\r\n")
		if len(v) == 0 || v[0] != '"' {
			continue
		}
		for j := 1; j < len(v); j++ {
			if v[j] == '\\' {
				j++
				continue
			}
			if v[j] == '"' {
				n += j - 1
				rest = v[j+1:]
				break
			}
		}
	}
}

func (m *Meter) responsesEvent(data []byte) {
	if !hasObject(data, "usage") {
		// Only the final events carry usage; the rest matter for their
		// text deltas.
		if bytes.Contains(data, []byte(`.delta"`)) {
			if n := stringBytes(data, "delta"); n > 0 {
				m.deltaEvents++
				m.deltaBytes += int64(n)
			}
		}
		return
	}
	var v struct {
		Type     string `json:"type"`
		Delta    string `json:"delta"`
		Response *struct {
			Usage *openaiUsage `json:"usage"`
		} `json:"response"`
	}
	if json.Unmarshal(data, &v) != nil {
		return
	}
	switch v.Type {
	case "response.output_text.delta", "response.refusal.delta", "response.function_call_arguments.delta",
		"response.reasoning_text.delta", "response.reasoning_summary_text.delta", "response.audio.transcript.delta",
		"response.custom_tool_call_input.delta", "response.code_interpreter_call_code.delta":
		if v.Delta != "" {
			m.deltaEvents++
			m.deltaBytes += int64(len(v.Delta))
		}
	case "response.completed", "response.incomplete", "response.failed":
		if v.Response != nil && v.Response.Usage != nil {
			m.t, m.reported, m.final = v.Response.Usage.tokens(), true, true
		}
	}
}

func (m *Meter) anthropicEvent(data []byte) {
	if !hasObject(data, "usage") {
		if bytes.Contains(data, []byte(`"content_block_delta"`)) {
			if n := stringBytes(data, "text") + stringBytes(data, "partial_json") + stringBytes(data, "thinking"); n > 0 {
				m.deltaEvents++
				m.deltaBytes += int64(n)
			}
		}
		return
	}
	var v struct {
		Type    string `json:"type"`
		Message *struct {
			Usage *anthropicUsage `json:"usage"`
		} `json:"message"`
		Delta *struct {
			Text        string `json:"text"`
			PartialJSON string `json:"partial_json"`
			Thinking    string `json:"thinking"`
		} `json:"delta"`
		Usage *anthropicUsage `json:"usage"`
	}
	if json.Unmarshal(data, &v) != nil {
		return
	}
	switch v.Type {
	case "message_start":
		if v.Message != nil && v.Message.Usage != nil {
			// Input is final here; output_tokens is a placeholder that the
			// deltas replace.
			m.t = v.Message.Usage.merge(m.t)
			m.reported = true
		}
	case "content_block_delta":
		if d := v.Delta; d != nil {
			if n := len(d.Text) + len(d.PartialJSON) + len(d.Thinking); n > 0 {
				m.deltaEvents++
				m.deltaBytes += int64(n)
			}
		}
	case "message_delta":
		if v.Usage != nil {
			m.t = v.Usage.merge(m.t)
			m.reported, m.final = true, true
		}
	}
}

// Reported reports whether the provider sent any usage, and whether it
// sent its end-of-stream figures.
func (m *Meter) Reported() (any, final bool) { return m.reported, m.final }

// Generated reports whether the stream passed any generated text on.
func (m *Meter) Generated() bool { return m.deltaEvents > 0 }

// Tokens is the usage the provider reported so far.
func (m *Meter) Tokens() Tokens { return m.t }

// Partial is what a stream that ended early used: the usage reported so
// far, with the output raised to an estimate of the text passed on (never
// below what the provider counted). inputEstimate stands in for input the
// provider had not reported yet.
func (m *Meter) Partial(inputEstimate int64) Tokens {
	t := m.t
	if t.InputTotal() == 0 {
		t.Input = inputEstimate
	}
	t.Output = max(t.Output, m.OutputEstimate())
	return t
}

// OutputEstimate is the output tokens of the text streamed so far: a token
// per four bytes, and at least one per event that carried text (providers
// stream about a token an event).
func (m *Meter) OutputEstimate() int64 {
	return max(m.deltaEvents, (m.deltaBytes+3)/4)
}

// EstimateInput is a realistic estimate of a prompt's tokens, for token
// rate limits: a token per four characters of text, a token per number
// (token arrays are a token each), plus a little for each message's
// framing.
func EstimateInput(promptChars, promptNumbers int) int64 {
	return int64(promptChars+3)/4 + int64(promptNumbers) + 8
}

const (
	// imageAllowance and documentAllowance are the most input tokens an
	// image or a document part is taken to cost: an image (the dearest
	// tokenisers, gpt-4.1-nano's patches, reach about 3.8k), a document or
	// file (Anthropic and OpenAI read at most 100 PDF pages, about 3k tokens
	// each as text and image), however it is sent — inline or by reference.
	imageAllowance    = 4_000
	documentAllowance = 300_000
	// inputAllowance covers what a provider adds to every prompt
	// (Anthropic's tool-use system prompt is the largest, a few hundred
	// tokens).
	inputAllowance = 1000
)

// BoundInput is an upper bound of a request's input tokens, for spend
// reservations: tokenizers produce at most a token per byte of text, the
// provider adds inputAllowance at most, and each image or document part
// (counted on the decoded request) is allowed its allowance more. (Input
// the provider adds from state it keeps is not bounded here: see
// policy.Request.Unbounded.)
func BoundInput(bodyBytes, images, documents int) int64 {
	return int64(bodyBytes) + inputAllowance + int64(images)*imageAllowance + int64(documents)*documentAllowance
}
