package provider

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/stream"
)

// wire reads answers the way every family so far does.
var wire native

func fixtureEvents(t testing.TB, name string) []stream.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	rd := stream.NewReader(bytes.NewReader(b), 1<<20)
	var evs []stream.Event
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			t.Fatal(err)
		}
		ev.Data = bytes.Clone(ev.Data)
		evs = append(evs, ev)
	}
}

func TestUsageFromBody(t *testing.T) {
	tests := []struct {
		file  string
		route Route
		want  Tokens
	}{
		{"openai_chat.json", Chat, Tokens{Input: 19, Output: 10}},
		{"openai_responses.json", Responses, Tokens{Input: 128, CachedInput: 1920, Output: 300, Reasoning: 256}},
		{"openai_embeddings.json", Embeddings, Tokens{Input: 8}},
		{"anthropic_messages.json", Messages, Tokens{Input: 12, CachedInput: 2048, Output: 6}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := wire.Usage(tt.route, b)
			if !ok {
				t.Fatal("no usage found")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
		})
	}
	long := `{"usage":{"input_tokens":5,"cache_creation_input_tokens":300,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":7}}`
	if got, _ := wire.Usage(Messages, []byte(long)); got != (Tokens{Input: 5, CacheWrite: 300, CacheWriteLong: 200, Output: 7}) {
		t.Errorf("one-hour cache writes: %+v", got)
	}
	for _, body := range []string{`{}`, `{"usage":null}`, `not json`, `[]`} {
		if _, ok := wire.Usage(Chat, []byte(body)); ok {
			t.Errorf("wire.Usage(%s) reported usage", body)
		}
	}
	if got, ok := wire.Usage(CountTokens, []byte(`{"input_tokens":99}`)); !ok || got.Total() != 0 {
		t.Errorf("count_tokens is free; got %+v %v", got, ok)
	}
}

func TestMeterStreams(t *testing.T) {
	tests := []struct {
		file        string
		route       Route
		want        Tokens
		usageChunks int
		// wantEstimate is the output estimate of the text passed on.
		wantEstimate int64
	}{
		{"openai_chat_stream.sse", Chat, Tokens{Input: 210, CachedInput: 1024, Output: 42, Reasoning: 10}, 1, 3},
		{"groq_chat_stream.sse", Chat, Tokens{Input: 40, Output: 2}, 0, 1},
		{"openai_responses_stream.sse", Responses, Tokens{Input: 64, CachedInput: 256, Output: 75, Reasoning: 64}, 0, 2},
		{"anthropic_messages_stream.sse", Messages, Tokens{Input: 25, CacheWrite: 1500, CachedInput: 3000, Output: 15}, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := wire.Meter(tt.route)
			n := 0
			for _, ev := range fixtureEvents(t, tt.file) {
				if m.Event(ev.Name, ev.Data) {
					n++
				}
			}
			if any, final := m.Reported(); !any || !final {
				t.Fatalf("Reported() = %v, %v", any, final)
			}
			if diff := cmp.Diff(tt.want, m.Tokens()); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
			if n != tt.usageChunks {
				t.Errorf("%d usage-only chunks, want %d", n, tt.usageChunks)
			}
			if got := m.OutputEstimate(); got != tt.wantEstimate {
				t.Errorf("output estimate %d, want %d", got, tt.wantEstimate)
			}
		})
	}
}

// TestMeterPartial: a stream cut short is charged its input and the
// output passed on so far, never zero.
func TestMeterPartial(t *testing.T) {
	tests := []struct {
		file  string
		route Route
		keep  int // events seen before the cut
		want  Tokens
	}{
		// OpenAI reports nothing until the end: the input is estimated,
		// the output is the two text chunks seen.
		{"openai_chat_stream.sse", Chat, 3, Tokens{Input: 500, Output: 3}}, // 11 bytes of text
		{"openai_responses_stream.sse", Responses, 7, Tokens{Input: 500, Output: 1}},
		// Anthropic's message_start gives the real input.
		{"anthropic_messages_stream.sse", Messages, 5, Tokens{Input: 25, CacheWrite: 1500, CachedInput: 3000, Output: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := wire.Meter(tt.route)
			for _, ev := range fixtureEvents(t, tt.file)[:tt.keep] {
				m.Event(ev.Name, ev.Data)
			}
			if _, final := m.Reported(); final {
				t.Fatal("a cut stream reported final usage")
			}
			if diff := cmp.Diff(tt.want, m.Partial(500)); diff != "" {
				t.Errorf("partial (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventClassification(t *testing.T) {
	ev := func(name, data string) stream.Event { return stream.Event{Name: name, Data: []byte(data)} }
	tests := []struct {
		name            string
		route           Route
		ev              stream.Event
		isErr, terminal bool
	}{
		{"chat chunk", Chat, ev("", `{"choices":[{"delta":{"content":"an error occurred"}}]}`), false, false},
		{"chat chunk with error text", Chat, ev("", `{"choices":[{"delta":{"content":"\"error\""}}]}`), false, false},
		{"chat error", Chat, ev("", `{"error":{"message":"x"}}`), true, false},
		{"chat null error", Chat, ev("", `{"error":null,"choices":[]}`), false, false},
		{"chat named error", Chat, ev("error", `{}`), true, false},
		{"chat done", Chat, ev("", `[DONE]`), false, true},
		{"responses delta", Responses, ev("response.output_text.delta", `{"type":"response.output_text.delta","delta":"error"}`), false, false},
		{"responses error", Responses, ev("error", `{"type":"error","code":"x"}`), true, false},
		{"responses error unnamed", Responses, ev("", `{"type":"error"}`), true, false},
		{"responses failed", Responses, ev("response.failed", `{"type":"response.failed"}`), true, false},
		{"responses completed", Responses, ev("response.completed", `{}`), false, true},
		{"responses incomplete", Responses, ev("", `{"type":"response.incomplete"}`), false, true},
		{"messages delta", Messages, ev("content_block_delta", `{"type":"content_block_delta"}`), false, false},
		{"messages error", Messages, ev("error", `{"type":"error"}`), true, false},
		{"messages stop", Messages, ev("message_stop", `{"type":"message_stop"}`), false, true},
	}
	for _, tt := range tests {
		m := wire.Meter(tt.route)
		if got := m.IsError(tt.ev.Name, tt.ev.Data); got != tt.isErr {
			t.Errorf("%s: isError = %v", tt.name, got)
		}
		if got := m.IsTerminal(tt.ev.Name, tt.ev.Data); got != tt.terminal {
			t.Errorf("%s: isTerminal = %v", tt.name, got)
		}
	}
}

func FuzzMeter(f *testing.F) {
	for _, name := range []string{"openai_chat_stream.sse", "openai_responses_stream.sse", "anthropic_messages_stream.sse", "groq_chat_stream.sse"} {
		for _, ev := range fixtureEvents(f, name) {
			f.Add(ev.Data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range []Route{Chat, Responses, Messages} {
			m := wire.Meter(r)
			m.Event("", data)
			tok := m.Partial(10)
			if tok.Input < 0 || tok.Output < 0 || tok.CachedInput < 0 || tok.CacheWrite < 0 || tok.Reasoning > tok.Output {
				t.Fatalf("route %v: impossible tokens %+v from %q", r, tok, data)
			}
			if b, ok := wire.Usage(r, data); ok && (b.Input < 0 || b.Output < 0 || b.CachedInput < 0) {
				t.Fatalf("negative tokens %+v", b)
			}
		}
	})
}
