package provider

import (
	"bytes"
	"encoding/json"
)

// The wire format of Anthropic's Messages API: where usage is, which
// stream events carry text, end the stream or report an error.

// anthropicUsage is the usage object of the Messages API. Its
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

// merge takes the fields u sets over t: the stream repeats counts
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

// messagesDialect is /messages: named events from message_start to
// message_stop.
type messagesDialect struct{}

func (messagesDialect) usage(body []byte) (Tokens, bool) {
	u, ok := usageOf[anthropicUsage](body)
	if !ok {
		return Tokens{}, false
	}
	return u.merge(Tokens{}), true
}

func (messagesDialect) event(m *Meter, _ string, data []byte) bool {
	if !hasObject(data, "usage") {
		if bytes.Contains(data, []byte(`"content_block_delta"`)) {
			m.text(stringBytes(data, "text") + stringBytes(data, "partial_json") + stringBytes(data, "thinking"))
		}
		return false
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
		return false
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
			m.text(len(d.Text) + len(d.PartialJSON) + len(d.Thinking))
		}
	case "message_delta":
		if v.Usage != nil {
			m.t = v.Usage.merge(m.t)
			m.reported, m.final = true, true
		}
	}
	return false
}

func (messagesDialect) isError(name string, data []byte) bool { return named(name, data, "error") }

func (messagesDialect) isTerminal(name string, data []byte) bool {
	return named(name, data, "message_stop")
}

// countTokensDialect is /messages/count_tokens: counting is free, so its
// count is not usage. It never streams.
type countTokensDialect struct{ messagesDialect }

func (countTokensDialect) usage([]byte) (Tokens, bool) { return Tokens{}, true }
