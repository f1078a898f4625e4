package usage

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/stream"
)

func readEvents(t testing.TB, name string) []stream.Event {
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

func TestFromBody(t *testing.T) {
	tests := []struct {
		file  string
		route provider.Route
		want  Tokens
	}{
		{"openai_chat.json", provider.Chat, Tokens{Input: 19, Output: 10}},
		{"openai_responses.json", provider.Responses, Tokens{Input: 128, CachedInput: 1920, Output: 300, Reasoning: 256}},
		{"openai_embeddings.json", provider.Embeddings, Tokens{Input: 8}},
		{"anthropic_messages.json", provider.Messages, Tokens{Input: 12, CachedInput: 2048, Output: 6}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := FromBody(tt.route, b)
			if !ok {
				t.Fatal("no usage found")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
		})
	}
	long := `{"usage":{"input_tokens":5,"cache_creation_input_tokens":300,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":7}}`
	if got, _ := FromBody(provider.Messages, []byte(long)); got != (Tokens{Input: 5, CacheWrite: 300, CacheWriteLong: 200, Output: 7}) {
		t.Errorf("one-hour cache writes: %+v", got)
	}
	for _, body := range []string{`{}`, `{"usage":null}`, `not json`, `[]`} {
		if _, ok := FromBody(provider.Chat, []byte(body)); ok {
			t.Errorf("FromBody(%s) reported usage", body)
		}
	}
	if got, ok := FromBody(provider.CountTokens, []byte(`{"input_tokens":99}`)); !ok || got.Total() != 0 {
		t.Errorf("count_tokens is free; got %+v %v", got, ok)
	}
}

func TestMeterStreams(t *testing.T) {
	tests := []struct {
		file        string
		route       provider.Route
		want        Tokens
		usageChunks int
		// wantEstimate is the output estimate of the text passed on.
		wantEstimate int64
	}{
		{"openai_chat_stream.sse", provider.Chat, Tokens{Input: 210, CachedInput: 1024, Output: 42, Reasoning: 10}, 1, 3},
		{"groq_chat_stream.sse", provider.Chat, Tokens{Input: 40, Output: 2}, 0, 1},
		{"openai_responses_stream.sse", provider.Responses, Tokens{Input: 64, CachedInput: 256, Output: 75, Reasoning: 64}, 0, 2},
		{"anthropic_messages_stream.sse", provider.Messages, Tokens{Input: 25, CacheWrite: 1500, CachedInput: 3000, Output: 15}, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := NewMeter(tt.route)
			n := 0
			for _, ev := range readEvents(t, tt.file) {
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
		route provider.Route
		keep  int // events seen before the cut
		want  Tokens
	}{
		// OpenAI reports nothing until the end: the input is estimated,
		// the output is the two text chunks seen.
		{"openai_chat_stream.sse", provider.Chat, 3, Tokens{Input: 500, Output: 3}}, // 11 bytes of text
		{"openai_responses_stream.sse", provider.Responses, 7, Tokens{Input: 500, Output: 1}},
		// Anthropic's message_start gives the real input.
		{"anthropic_messages_stream.sse", provider.Messages, 5, Tokens{Input: 25, CacheWrite: 1500, CachedInput: 3000, Output: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := NewMeter(tt.route)
			for _, ev := range readEvents(t, tt.file)[:tt.keep] {
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

func TestEstimates(t *testing.T) {
	if got := EstimateInput(400, 0); got != 108 {
		t.Errorf("EstimateInput(400, 0) = %d", got)
	}
	// A token array is a token a number.
	if got := EstimateInput(0, 4000); got != 4008 {
		t.Errorf("EstimateInput(0, 4000) = %d", got)
	}
	if got, want := BoundInput(500, 1, 1), int64(500)+inputAllowance+imageAllowance+documentAllowance; got != want {
		t.Errorf("BoundInput = %d, want %d", got, want)
	}
	if got := BoundInput(70, 0, 0); got != 70+inputAllowance {
		t.Errorf("BoundInput(text) = %d", got)
	}
}

func FuzzMeter(f *testing.F) {
	for _, name := range []string{"openai_chat_stream.sse", "openai_responses_stream.sse", "anthropic_messages_stream.sse", "groq_chat_stream.sse"} {
		for _, ev := range readEvents(f, name) {
			f.Add(ev.Data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range []provider.Route{provider.Chat, provider.Responses, provider.Messages} {
			m := NewMeter(r)
			m.Event("", data)
			tok := m.Partial(10)
			if tok.Input < 0 || tok.Output < 0 || tok.CachedInput < 0 || tok.CacheWrite < 0 || tok.Reasoning > tok.Output {
				t.Fatalf("route %v: impossible tokens %+v from %q", r, tok, data)
			}
			if b, ok := FromBody(r, data); ok && (b.Input < 0 || b.Output < 0 || b.CachedInput < 0) {
				t.Fatalf("negative tokens %+v", b)
			}
		}
	})
}
