package provider

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/stream"
)

const mockBase = "http://mock.keyward.invalid/v1"

// mockDo sends body to the mock at path and fails the test on a transport error.
func mockDo(t *testing.T, m *Mock, path, body string) *http.Response {
	t.Helper()
	resp, err := mockDoCtx(t, context.Background(), m, path, body)
	if err != nil {
		t.Fatalf("RoundTrip %s: %v", path, err)
	}
	return resp
}

func mockDoCtx(t *testing.T, ctx context.Context, m *Mock, path, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, mockBase+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return m.RoundTrip(req)
}

func decodeBody(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	return v
}

type sseEvent struct {
	name string
	data string
}

// readEvents reads a whole stream and returns its events and the error that
// ended it (nil at a clean end).
func readEvents(t *testing.T, resp *http.Response) ([]sseEvent, error) {
	t.Helper()
	defer resp.Body.Close()
	r := stream.NewReader(resp.Body, 1<<20)
	var out []sseEvent
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, sseEvent{name: ev.Name, data: string(ev.Data)})
	}
}

func eventNames(evs []sseEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.name)
	}
	return out
}

func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("event data %q: %v", s, err)
	}
	return v
}

// mockCfg is the fixed configuration of the shape tests: fixed text and
// usage so the expected bodies are literal.
func mockCfg() *config.Mock {
	return &config.Mock{Text: "Hello from the mock.", PromptTokens: 7, CompletionTokens: 5}
}

func TestMockNonStreaming(t *testing.T) {
	tests := []struct {
		name string
		path string
		body string
		want map[string]any
	}{
		{
			name: "chat",
			path: "/chat/completions",
			body: `{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}`,
			want: map[string]any{
				"id": "chatcmpl-m-mock-1", "object": "chat.completion", "created": float64(mockCreated), "model": "gpt-x",
				"choices": []any{map[string]any{
					"index": 0.0, "message": map[string]any{"role": "assistant", "content": "Hello from the mock."},
					"finish_reason": "stop", "logprobs": nil,
				}},
				"usage": map[string]any{"prompt_tokens": 7.0, "completion_tokens": 5.0, "total_tokens": 12.0},
			},
		},
		{
			name: "chat with stream false",
			path: "/chat/completions",
			body: `{"model":"gpt-x","stream":false,"messages":[]}`,
			want: map[string]any{
				"id": "chatcmpl-m-mock-1", "object": "chat.completion", "created": float64(mockCreated), "model": "gpt-x",
				"choices": []any{map[string]any{
					"index": 0.0, "message": map[string]any{"role": "assistant", "content": "Hello from the mock."},
					"finish_reason": "stop", "logprobs": nil,
				}},
				"usage": map[string]any{"prompt_tokens": 7.0, "completion_tokens": 5.0, "total_tokens": 12.0},
			},
		},
		{
			name: "responses",
			path: "/responses",
			body: `{"model":"gpt-x","input":"hi"}`,
			want: map[string]any{
				"id": "resp_m-mock-1", "object": "response", "created_at": float64(mockCreated), "status": "completed", "model": "gpt-x",
				"output": []any{map[string]any{
					"type": "message", "id": "msg_m-mock-1", "status": "completed", "role": "assistant",
					"content": []any{map[string]any{"type": "output_text", "text": "Hello from the mock.", "annotations": []any{}}},
				}},
				"usage": map[string]any{"input_tokens": 7.0, "output_tokens": 5.0, "total_tokens": 12.0},
			},
		},
		{
			name: "messages",
			path: "/messages",
			body: `{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
			want: map[string]any{
				"id": "msg_m-mock-1", "type": "message", "role": "assistant", "model": "claude-x",
				"content":     []any{map[string]any{"type": "text", "text": "Hello from the mock."}},
				"stop_reason": "end_turn", "stop_sequence": nil,
				"usage": map[string]any{"input_tokens": 7.0, "output_tokens": 5.0},
			},
		},
		{
			name: "count_tokens",
			path: "/messages/count_tokens",
			body: `{"model":"claude-x","messages":[{"role":"user","content":"hi"}]}`,
			want: map[string]any{"input_tokens": 7.0},
		},
		{
			name: "count_tokens ignores stream",
			path: "/messages/count_tokens",
			body: `{"model":"claude-x","stream":true,"messages":[]}`,
			want: map[string]any{"input_tokens": 7.0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := mockDo(t, NewMock("m", mockCfg()), tt.path, tt.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if id := resp.Header.Get("X-Request-Id"); id != "mockreq_1" {
				t.Errorf("X-Request-Id = %q, want mockreq_1", id)
			}
			if diff := cmp.Diff(tt.want, decodeBody(t, resp)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMockDefaults(t *testing.T) {
	// With nothing configured the text names the model and usage is
	// estimated at 4 characters a token.
	body := `{"model":"gpt-x","messages":[{"role":"user","content":"Say something."}]}`
	resp := mockDo(t, NewMock("m", nil), "/chat/completions", body)
	got := decodeBody(t, resp)
	text := "This is a mock response from keyward for model gpt-x."
	want := map[string]any{"prompt_tokens": float64(len(body) / 4), "completion_tokens": float64((len(text) + 3) / 4),
		"total_tokens": float64(len(body)/4 + (len(text)+3)/4)}
	if diff := cmp.Diff(want, got["usage"]); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	if c := got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]; c != text {
		t.Errorf("content = %q, want %q", c, text)
	}
}

func TestMockEmbeddings(t *testing.T) {
	type embedding struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	type response struct {
		Object string         `json:"object"`
		Data   []embedding    `json:"data"`
		Model  string         `json:"model"`
		Usage  map[string]int `json:"usage"`
	}
	get := func(t *testing.T, input string) response {
		t.Helper()
		resp := mockDo(t, NewMock("m", mockCfg()), "/embeddings", `{"model":"emb","input":`+input+`}`)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		var r response
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name  string
		input string
		n     int
	}{
		{"string", `"hello"`, 1},
		{"array of strings", `["hello","world","again"]`, 3},
		{"token array", `[1,2,3]`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, tt.input)
			if r.Object != "list" || r.Model != "emb" || len(r.Data) != tt.n {
				t.Fatalf("got object %q model %q with %d items, want list, emb, %d", r.Object, r.Model, len(r.Data), tt.n)
			}
			if diff := cmp.Diff(map[string]int{"prompt_tokens": 7, "total_tokens": 7}, r.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
			for i, e := range r.Data {
				if e.Object != "embedding" || e.Index != i || len(e.Embedding) != 8 {
					t.Errorf("data[%d] = %q index %d with %d dims", i, e.Object, e.Index, len(e.Embedding))
				}
			}
			if diff := cmp.Diff(r, get(t, tt.input)); diff != "" {
				t.Errorf("not deterministic (-first +second):\n%s", diff)
			}
		})
	}
	a, b := get(t, `"hello"`), get(t, `"world"`)
	if cmp.Equal(a.Data[0].Embedding, b.Data[0].Embedding) {
		t.Error("different inputs gave the same vector")
	}
	arr := get(t, `["hello","world"]`)
	if !cmp.Equal(arr.Data[0].Embedding, a.Data[0].Embedding) || !cmp.Equal(arr.Data[1].Embedding, b.Data[0].Embedding) {
		t.Error("an input's vector depends on the other inputs of the request")
	}
}

func TestMockEmbeddingRange(t *testing.T) {
	resp := mockDo(t, NewMock("m", nil), "/embeddings", `{"model":"emb","input":"the quick brown fox jumps over the lazy dog"}`)
	var r struct {
		Data []struct {
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, v := range r.Data[0].Embedding {
		if v < -1 || v >= 1 {
			t.Errorf("component %v outside [-1, 1)", v)
		}
	}
}

// textOf extracts the reply text from a non-streaming body of a route.
func textOf(t *testing.T, route Route, body map[string]any) string {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("unexpected %s body shape %v: %v", route, body, r)
		}
	}()
	switch route {
	case Messages:
		return body["content"].([]any)[0].(map[string]any)["text"].(string)
	case Responses:
		return body["output"].([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)["text"].(string)
	default:
		return body["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"].(string)
	}
}

func TestMockMaxTokensTruncates(t *testing.T) {
	const text = "0123456789abcdefghijklmnopqrstuvwxyz"
	tests := []struct {
		name  string
		text  string
		route Route
		path  string
		body  string
		want  string
	}{
		{"chat max_tokens", text, Chat, "/chat/completions", `{"model":"m","max_tokens":2}`, "01234567"},
		{"chat max_completion_tokens", text, Chat, "/chat/completions", `{"model":"m","max_completion_tokens":3}`, "0123456789ab"},
		{"responses max_output_tokens", text, Responses, "/responses", `{"model":"m","max_output_tokens":1}`, "0123"},
		{"messages max_tokens", text, Messages, "/messages", `{"model":"m","max_tokens":4}`, "0123456789abcdef"},
		{"no limit", text, Chat, "/chat/completions", `{"model":"m"}`, text},
		{"zero is no limit", text, Chat, "/chat/completions", `{"model":"m","max_tokens":0}`, text},
		{"limit above the text", text, Messages, "/messages", `{"model":"m","max_tokens":1000}`, text},
		{"exactly the text", text, Chat, "/chat/completions", `{"model":"m","max_tokens":9}`, text},
		{"cuts runes, not bytes", "ééééééééé", Chat, "/chat/completions", `{"model":"m","max_tokens":1}`, "éééé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := mockDo(t, NewMock("m", &config.Mock{Text: tt.text}), tt.path, tt.body)
			if got := textOf(t, tt.route, decodeBody(t, resp)); got != tt.want {
				t.Errorf("text = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMockStreamChat(t *testing.T) {
	tests := []struct {
		name      string
		chunks    int
		text      string
		body      string
		wantParts []string
		wantUsage bool
	}{
		{"default five chunks", 0, "abcdefghij", `{"model":"m","stream":true}`, []string{"ab", "cd", "ef", "gh", "ij"}, false},
		{"three chunks", 3, "abcdefghi", `{"model":"m","stream":true}`, []string{"abc", "def", "ghi"}, false},
		{"more chunks than runes", 10, "abc", `{"model":"m","stream":true}`, []string{"a", "b", "c"}, false},
		{"one chunk", 1, "abc", `{"model":"m","stream":true}`, []string{"abc"}, false},
		{"include_usage", 2, "abcd", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, []string{"ab", "cd"}, true},
		{"include_usage false", 2, "abcd", `{"model":"m","stream":true,"stream_options":{"include_usage":false}}`, []string{"ab", "cd"}, false},
		{"max_tokens applies to streams", 2, "abcdefghijklmnop", `{"model":"m","stream":true,"max_tokens":2}`, []string{"abcd", "efgh"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMock("m", &config.Mock{Text: tt.text, Chunks: tt.chunks, PromptTokens: 7, CompletionTokens: 5})
			resp := mockDo(t, m, "/chat/completions", tt.body)
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, ct)
			}
			evs, err := readEvents(t, resp)
			if err != nil {
				t.Fatalf("stream ended with %v", err)
			}
			if n := len(evs); n == 0 || evs[n-1].data != "[DONE]" {
				t.Fatalf("stream does not end with data: [DONE]: %v", evs)
			}
			evs = evs[:len(evs)-1]
			for _, e := range evs {
				if e.name != "" {
					t.Errorf("chat event has a name %q", e.name)
				}
			}
			var usage map[string]any
			if tt.wantUsage {
				last := jsonOf(t, evs[len(evs)-1].data)
				evs = evs[:len(evs)-1]
				if diff := cmp.Diff([]any{}, last["choices"]); diff != "" {
					t.Errorf("usage chunk choices (-want +got):\n%s", diff)
				}
				usage, _ = last["usage"].(map[string]any)
			}
			if diff := cmp.Diff(map[string]any{"prompt_tokens": 7.0, "completion_tokens": 5.0, "total_tokens": 12.0}, usage); tt.wantUsage && diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
			// role chunk, content chunks, finish chunk
			if len(evs) != len(tt.wantParts)+2 {
				t.Fatalf("got %d chunks before [DONE], want %d: %v", len(evs), len(tt.wantParts)+2, evs)
			}
			var parts []string
			for i, e := range evs {
				d := jsonOf(t, e.data)
				if d["object"] != "chat.completion.chunk" || d["id"] != "chatcmpl-m-mock-1" || d["model"] != "m" {
					t.Errorf("chunk %d header fields: %v", i, d)
				}
				// With include_usage OpenAI sends "usage": null on every
				// chunk but the last; without it, no usage field at all.
				if u, ok := d["usage"]; ok != tt.wantUsage || u != nil {
					t.Errorf("chunk %d usage field = %v (present %v), want present=%v and null", i, u, ok, tt.wantUsage)
				}
				choice := d["choices"].([]any)[0].(map[string]any)
				delta := choice["delta"].(map[string]any)
				switch {
				case i == 0:
					if diff := cmp.Diff(map[string]any{"role": "assistant", "content": ""}, delta); diff != "" {
						t.Errorf("first delta (-want +got):\n%s", diff)
					}
				case i == len(evs)-1:
					if choice["finish_reason"] != "stop" || len(delta) != 0 {
						t.Errorf("last chunk = %v, want empty delta with finish_reason stop", choice)
					}
				default:
					if choice["finish_reason"] != nil {
						t.Errorf("chunk %d finish_reason = %v", i, choice["finish_reason"])
					}
					parts = append(parts, delta["content"].(string))
				}
			}
			if diff := cmp.Diff(tt.wantParts, parts); diff != "" {
				t.Errorf("content parts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMockStreamResponses(t *testing.T) {
	for _, chunks := range []int{1, 3} {
		t.Run(map[int]string{1: "one chunk", 3: "three chunks"}[chunks], func(t *testing.T) {
			m := NewMock("m", &config.Mock{Text: "abcdef", Chunks: chunks, PromptTokens: 7, CompletionTokens: 5})
			evs, err := readEvents(t, mockDo(t, m, "/responses", `{"model":"m","stream":true,"input":"hi"}`))
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"}
			for i := 0; i < chunks; i++ {
				want = append(want, "response.output_text.delta")
			}
			want = append(want, "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed")
			if diff := cmp.Diff(want, eventNames(evs)); diff != "" {
				t.Fatalf("event names (-want +got):\n%s", diff)
			}
			var text string
			for i, e := range evs {
				d := jsonOf(t, e.data)
				if d["type"] != e.name || d["sequence_number"] != float64(i) {
					t.Errorf("event %d: type %v sequence_number %v, want %s and %d", i, d["type"], d["sequence_number"], e.name, i)
				}
				if e.name == "response.output_text.delta" {
					text += d["delta"].(string)
				}
				if e.name == "response.output_text.done" && d["text"] != "abcdef" {
					t.Errorf("output_text.done text = %v", d["text"])
				}
			}
			if text != "abcdef" {
				t.Errorf("deltas join to %q, want abcdef", text)
			}
			done := jsonOf(t, evs[len(evs)-1].data)["response"].(map[string]any)
			if done["status"] != "completed" || textOf(t, Responses, done) != "abcdef" {
				t.Errorf("completed response = %v", done)
			}
			if diff := cmp.Diff(map[string]any{"input_tokens": 7.0, "output_tokens": 5.0, "total_tokens": 12.0}, done["usage"]); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMockStreamMessages(t *testing.T) {
	for _, chunks := range []int{2, 4} {
		t.Run(map[int]string{2: "two chunks", 4: "four chunks"}[chunks], func(t *testing.T) {
			m := NewMock("m", &config.Mock{Text: "abcdefgh", Chunks: chunks, PromptTokens: 7, CompletionTokens: 5})
			evs, err := readEvents(t, mockDo(t, m, "/messages", `{"model":"claude-x","stream":true,"max_tokens":100}`))
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"message_start", "content_block_start", "ping"}
			for i := 0; i < chunks; i++ {
				want = append(want, "content_block_delta")
			}
			want = append(want, "content_block_stop", "message_delta", "message_stop")
			if diff := cmp.Diff(want, eventNames(evs)); diff != "" {
				t.Fatalf("event names (-want +got):\n%s", diff)
			}
			var text string
			for i, e := range evs {
				d := jsonOf(t, e.data)
				if d["type"] != e.name {
					t.Errorf("event %d: data type %v under event: %s", i, d["type"], e.name)
				}
				if e.name == "content_block_delta" {
					text += d["delta"].(map[string]any)["text"].(string)
				}
			}
			if text != "abcdefgh" {
				t.Errorf("deltas join to %q, want abcdefgh", text)
			}
			start := jsonOf(t, evs[0].data)["message"].(map[string]any)
			if start["id"] != "msg_m-mock-1" || start["model"] != "claude-x" || start["usage"].(map[string]any)["input_tokens"] != 7.0 {
				t.Errorf("message_start = %v", start)
			}
			delta := jsonOf(t, evs[len(evs)-2].data)
			if diff := cmp.Diff(map[string]any{"output_tokens": 5.0}, delta["usage"]); diff != "" {
				t.Errorf("message_delta usage (-want +got):\n%s", diff)
			}
		})
	}
}

// openAIError and anthropicError are the error bodies the mock must send.
func openAIError(status, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"message": msg, "type": "mock_error", "code": status, "param": nil}}
}

func anthropicError(typ, msg string) map[string]any {
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}
}

func TestMockFailEvery(t *testing.T) {
	tests := []struct {
		name  string
		every int
		want  []int
	}{
		{"every third", 3, []int{200, 200, 503, 200, 200, 503, 200}},
		{"every second", 2, []int{200, 503, 200, 503}},
		{"every one", 1, []int{503, 503, 503}},
		{"zero means every", 0, []int{503, 503, 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMock("m", &config.Mock{FailStatus: 503, FailEvery: tt.every})
			var got []int
			for range tt.want {
				resp := mockDo(t, m, "/chat/completions", `{"model":"m"}`)
				resp.Body.Close()
				got = append(got, resp.StatusCode)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMockErrorBodies(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		path       string
		want       map[string]any
		retryAfter string
	}{
		{"chat 503", 503, "/chat/completions", openAIError("503", "mock: injected status 503"), ""},
		{"responses 500", 500, "/responses", openAIError("500", "mock: injected status 500"), ""},
		{"embeddings 401", 401, "/embeddings", openAIError("401", "mock: injected status 401"), ""},
		{"chat 429 has Retry-After", 429, "/chat/completions", openAIError("429", "mock: injected status 429"), "1"},
		{"messages 529", 529, "/messages", anthropicError("overloaded_error", "mock: injected status 529"), ""},
		{"messages 429", 429, "/messages", anthropicError("rate_limit_error", "mock: injected status 429"), "1"},
		{"messages 401", 401, "/messages", anthropicError("authentication_error", "mock: injected status 401"), ""},
		{"messages 403", 403, "/messages", anthropicError("permission_error", "mock: injected status 403"), ""},
		{"messages 404", 404, "/messages", anthropicError("not_found_error", "mock: injected status 404"), ""},
		{"messages 413", 413, "/messages", anthropicError("request_too_large", "mock: injected status 413"), ""},
		{"messages 400", 400, "/messages", anthropicError("invalid_request_error", "mock: injected status 400"), ""},
		{"messages 500", 500, "/messages", anthropicError("api_error", "mock: injected status 500"), ""},
		{"count_tokens 503", 503, "/messages/count_tokens", anthropicError("api_error", "mock: injected status 503"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMock("m", &config.Mock{FailStatus: tt.status, FailEvery: 1})
			// A stream request fails the same way, before any event.
			resp := mockDo(t, m, tt.path, `{"model":"m","stream":true}`)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if ra := resp.Header.Get("Retry-After"); ra != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", ra, tt.retryAfter)
			}
			if diff := cmp.Diff(tt.want, decodeBody(t, resp)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMockStatusTrigger(t *testing.T) {
	tests := []struct {
		name   string
		cfg    *config.Mock
		path   string
		body   string
		status int
		want   map[string]any // error body; nil for a 200
	}{
		{"chat 503", nil, "/chat/completions", `{"model":"m","messages":[{"role":"user","content":"go [[mock:status=503]] now"}]}`,
			503, openAIError("503", "mock: injected status 503")},
		{"messages 429", nil, "/messages", `{"model":"m","system":"[[mock:status=429]]","messages":[]}`,
			429, anthropicError("rate_limit_error", "mock: injected status 429")},
		{"responses 400", nil, "/responses", `{"model":"m","input":"[[mock:status=400]]"}`,
			400, openAIError("400", "mock: injected status 400")},
		{"last trigger wins", nil, "/chat/completions", `{"model":"m","messages":[{"role":"user","content":"[[mock:status=500]] [[mock:status=502]]"}]}`,
			502, openAIError("502", "mock: injected status 502")},
		{"trigger beats configured failure", &config.Mock{FailStatus: 500, FailEvery: 1}, "/chat/completions", `{"model":"m","messages":[{"role":"user","content":"[[mock:status=504]]"}]}`,
			504, openAIError("504", "mock: injected status 504")},
		{"success status ignored", nil, "/chat/completions", `{"model":"m","messages":[{"role":"user","content":"[[mock:status=200]]"}]}`, 200, nil},
		{"out of range ignored", nil, "/chat/completions", `{"model":"m","messages":[{"role":"user","content":"[[mock:status=600]]"}]}`, 200, nil},
		{"malformed ignored", nil, "/chat/completions", `{"model":"m","messages":[{"role":"user","content":"[[mock:status=5030]] [mock:status=503] [[mock:status= 503]]"}]}`, 200, nil},
		{"break on a non-stream request ignored", nil, "/chat/completions", `{"model":"m","messages":[{"role":"user","content":"[[mock:break=1]]"}]}`, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := mockDo(t, NewMock("m", tt.cfg), tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			body := decodeBody(t, resp)
			if tt.want == nil {
				return
			}
			if diff := cmp.Diff(tt.want, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMockBreakTrigger(t *testing.T) {
	tests := []struct {
		name      string
		cfg       *config.Mock
		path      string
		body      string
		wantNames []string
		wantError string // data of the final error event
	}{
		{
			name:      "chat break=2",
			path:      "/chat/completions",
			body:      `{"model":"m","stream":true,"messages":[{"role":"user","content":"[[mock:break=2]]"}]}`,
			wantNames: []string{"", "", ""},
			wantError: `{"error":{"message":"mock: stream broken","type":"server_error","code":null,"param":null}}`,
		},
		{
			name:      "messages break=2",
			path:      "/messages",
			body:      `{"model":"m","stream":true,"messages":[{"role":"user","content":"[[mock:break=2]]"}]}`,
			wantNames: []string{"message_start", "content_block_start", "error"},
			wantError: `{"type":"error","error":{"type":"overloaded_error","message":"mock: stream broken"}}`,
		},
		{
			name:      "responses break=3",
			path:      "/responses",
			body:      `{"model":"m","stream":true,"input":"[[mock:break=3]]"}`,
			wantNames: []string{"response.created", "response.in_progress", "response.output_item.added", "error"},
			wantError: `{"type":"error","code":"server_error","message":"mock: stream broken","param":null}`,
		},
		{
			name:      "configured fail_after_chunks",
			cfg:       &config.Mock{FailAfterChunks: 1},
			path:      "/messages",
			body:      `{"model":"m","stream":true,"messages":[]}`,
			wantNames: []string{"message_start", "error"},
			wantError: `{"type":"error","error":{"type":"overloaded_error","message":"mock: stream broken"}}`,
		},
		{
			name:      "trigger overrides fail_after_chunks",
			cfg:       &config.Mock{FailAfterChunks: 1},
			path:      "/messages",
			body:      `{"model":"m","stream":true,"messages":[{"role":"user","content":"[[mock:break=2]]"}]}`,
			wantNames: []string{"message_start", "content_block_start", "error"},
			wantError: `{"type":"error","error":{"type":"overloaded_error","message":"mock: stream broken"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := mockDo(t, NewMock("m", tt.cfg), tt.path, tt.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200 (the break comes mid-stream)", resp.StatusCode)
			}
			evs, err := readEvents(t, resp)
			if err != nil {
				t.Fatalf("stream ended with %v, want a clean end after the error event", err)
			}
			if diff := cmp.Diff(tt.wantNames, eventNames(evs)); diff != "" {
				t.Fatalf("event names (-want +got):\n%s", diff)
			}
			if got := evs[len(evs)-1].data; got != tt.wantError {
				t.Errorf("error event data = %s\nwant %s", got, tt.wantError)
			}
		})
	}
}

func TestMockBadRequest(t *testing.T) {
	tests := []struct {
		name string
		path string
		body string
		want map[string]any
	}{
		{"not json", "/chat/completions", `{"model":`, openAIError("400", "mock: cannot parse the request")},
		{"empty body", "/responses", ``, openAIError("400", "mock: cannot parse the request")},
		{"unknown path", "/models", `{"model":"m"}`, openAIError("400", "mock: cannot parse the request")},
		{"anthropic shape on messages", "/messages", `[`, anthropicError("invalid_request_error", "mock: cannot parse the request")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMock("m", mockCfg())
			resp := mockDo(t, m, tt.path, tt.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", resp.StatusCode)
			}
			if diff := cmp.Diff(tt.want, decodeBody(t, resp)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			// A rejected request does not count towards ids or fail_every.
			if got := decodeBody(t, mockDo(t, m, "/messages", `{"model":"m"}`))["id"]; got != "msg_m-mock-1" {
				t.Errorf("next id = %v, want msg_m-mock-1", got)
			}
		})
	}
}

func TestMockNilBody(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, mockBase+"/chat/completions", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := NewMock("m", nil).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", resp.StatusCode)
	}
}

func TestMockCancelStopsDelayedStream(t *testing.T) {
	tests := []struct {
		name string
		path string
		body string
	}{
		{"chat", "/chat/completions", `{"model":"m","stream":true}`},
		{"responses", "/responses", `{"model":"m","stream":true,"input":"x"}`},
		{"messages", "/messages", `{"model":"m","stream":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The first event is sent at once; the next one would take an
			// hour, so only the cancellation can end the stream.
			m := NewMock("m", &config.Mock{ChunkDelay: time.Hour})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := mockDoCtx(t, ctx, m, tt.path, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			r := stream.NewReader(resp.Body, 1<<20)
			if _, err := r.Next(); err != nil {
				t.Fatalf("first event: %v", err)
			}
			cancel()
			// The writer goroutine closes the pipe with the context's
			// error and returns, so reading ends with that error.
			for {
				_, err := r.Next()
				if err == nil {
					continue
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("read after cancel: %v, want context.Canceled", err)
				}
				break
			}
		})
	}
}

func TestMockLatencyHonoursCancel(t *testing.T) {
	m := NewMock("m", &config.Mock{Latency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := mockDoCtx(t, ctx, m, "/chat/completions", `{"model":"m"}`)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RoundTrip = %v, %v; want context.Canceled", resp, err)
	}
	if n := m.count.Load(); n != 0 {
		t.Errorf("a cancelled request was counted (%d)", n)
	}
}

func TestMockThroughHTTPClient(t *testing.T) {
	// The mock provider plugs into an http.Client like any transport.
	p, err := New(config.Provider{Name: "local", Kind: config.KindMock, Mock: mockCfg()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: p.Transport()}
	resp, err := c.Post(p.URL(Messages, "claude-x").String(), "application/json", strings.NewReader(`{"model":"claude-x","max_tokens":10}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := textOf(t, Messages, decodeBody(t, resp)); got != "Hello from the mock." {
		t.Errorf("text = %q", got)
	}
	if resp.Request == nil || resp.Request.URL.Host != "mock.keyward.invalid" {
		t.Errorf("response.Request = %v", resp.Request)
	}
}
