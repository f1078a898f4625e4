package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/stream"
)

// Mock is the built-in provider: an http.RoundTripper that answers like
// OpenAI (chat, responses, embeddings) and Anthropic (messages,
// count_tokens), streaming included, with deterministic text and usage and
// injectable errors. Requests go through the whole proxy path as for a real
// provider; only the network is missing.
//
// Besides the configured failures, a prompt containing "[[mock:status=503]]"
// gets that status, and "[[mock:break=2]]" breaks a stream after 2 events,
// so an app's own CI can test its error handling.
type Mock struct {
	name  string
	cfg   config.Mock
	count atomic.Uint64
}

// NewMock returns the mock transport for a provider (cfg may be nil).
func NewMock(name string, cfg *config.Mock) *Mock {
	m := &Mock{name: name}
	if cfg != nil {
		m.cfg = *cfg
	}
	if m.cfg.Chunks == 0 {
		m.cfg.Chunks = 5
	}
	return m
}

// mockBaseURL is where the mock's requests appear to go; nothing is dialled.
var mockBaseURL = &url.URL{Scheme: "http", Host: "mock.keyward.invalid", Path: "/v1"}

// mockAdapter is the mock family: every route, in-process, and free — its
// models are priced at zero unless pricing: prices them. Its base URL is
// fixed; a configured one is ignored.
type mockAdapter struct {
	native
	m *Mock
}

func newMock(c config.Provider) (Adapter, error) { return mockAdapter{m: NewMock(c.Name, c.Mock)}, nil }

func (mockAdapter) Serves(Route) bool { return true }

func (mockAdapter) URL(r Route, _ string) *url.URL { return endpoint(mockBaseURL, r.Suffix()) }

func (mockAdapter) Header(h, _ http.Header, key *Key) { bearer(h, key) }

func (mockAdapter) ChatTokenField() string { return "max_tokens" }

func (a mockAdapter) Local() http.RoundTripper { return a.m }

func (mockAdapter) Price(string) (float64, float64, bool) { return 0, 0, true }

var mockTrigger = regexp.MustCompile(`\[\[mock:(status|break)=(\d{1,3})\]\]`)

type mockReq struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	MaxTokens     *int   `json:"max_tokens"`
	MaxCompletion *int   `json:"max_completion_tokens"`
	MaxOutput     *int   `json:"max_output_tokens"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Input json.RawMessage `json:"input"`
}

// RoundTrip implements http.RoundTripper.
func (m *Mock) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	route := routeOfPath(req.URL.Path)
	var r mockReq
	if err := json.Unmarshal(body, &r); err != nil || route == 0 {
		return m.errorResponse(req, 0, route, http.StatusBadRequest, "mock: cannot parse the request"), nil
	}
	if d := m.cfg.Latency; d > 0 {
		if err := sleep(req.Context(), d); err != nil {
			return nil, err
		}
	}
	// Only well-formed requests count, so fail_every stays predictable.
	n := m.count.Add(1)
	status, breakAfter := 0, m.cfg.FailAfterChunks
	if m.cfg.FailStatus != 0 && (m.cfg.FailEvery <= 1 || n%uint64(m.cfg.FailEvery) == 0) {
		status = m.cfg.FailStatus
	}
	for _, t := range mockTrigger.FindAllSubmatch(body, -1) {
		v, _ := strconv.Atoi(string(t[2]))
		if string(t[1]) == "status" && v >= 400 && v <= 599 {
			status = v
		} else if string(t[1]) == "break" {
			breakAfter = v
		}
	}
	if status != 0 {
		return m.errorResponse(req, n, route, status, fmt.Sprintf("mock: injected status %d", status)), nil
	}

	prompt := m.cfg.PromptTokens
	if prompt == 0 {
		prompt = max(1, len(body)/4)
	}
	text := m.cfg.Text
	if text == "" {
		text = "This is a mock response from keyward for model " + r.Model + "."
	}
	limit := 0
	for _, p := range []*int{r.MaxTokens, r.MaxCompletion, r.MaxOutput} {
		if p != nil && *p > 0 {
			limit = *p
		}
	}
	if r := []rune(text); limit > 0 && len(r) > limit*4 {
		text = string(r[:limit*4])
	}
	completion := m.cfg.CompletionTokens
	if completion == 0 {
		completion = max(1, (len(text)+3)/4)
	}
	u := usage{prompt: prompt, completion: completion}
	id := fmt.Sprintf("%s-mock-%d", m.name, n)

	var resp any
	switch route {
	case Embeddings:
		resp = mockEmbeddings(r, u)
	case CountTokens:
		resp = map[string]int{"input_tokens": prompt}
	default:
		if r.Stream {
			includeUsage := r.StreamOptions != nil && r.StreamOptions.IncludeUsage
			events := mockEvents(route, id, r.Model, chunkText(text, m.cfg.Chunks), u, includeUsage)
			return m.streamResponse(req, n, events, breakAfter), nil
		}
		resp = mockMessage(route, id, r.Model, text, u)
	}
	b, _ := json.Marshal(resp)
	return m.response(req, n, http.StatusOK, "application/json", io.NopCloser(bytes.NewReader(b)), int64(len(b))), nil
}

type usage struct{ prompt, completion int }

func routeOfPath(path string) Route {
	for _, r := range []Route{CountTokens, Chat, Responses, Embeddings, Messages} {
		if strings.HasSuffix(path, r.Suffix()) {
			return r
		}
	}
	return 0
}

func (m *Mock) response(req *http.Request, num uint64, status int, ctype string, body io.ReadCloser, n int64) *http.Response {
	h := http.Header{}
	h.Set("Content-Type", ctype)
	h.Set("X-Request-Id", "mockreq_"+strconv.FormatUint(num, 10))
	return &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: body, ContentLength: n, Request: req,
	}
}

func (m *Mock) errorResponse(req *http.Request, num uint64, route Route, status int, msg string) *http.Response {
	var v any
	if route == Messages || route == CountTokens {
		v = map[string]any{"type": "error", "error": map[string]string{"type": anthropicErrorType(status), "message": msg}}
	} else {
		v = map[string]any{"error": map[string]any{"message": msg, "type": "mock_error", "code": strconv.Itoa(status), "param": nil}}
	}
	b, _ := json.Marshal(v)
	resp := m.response(req, num, status, "application/json", io.NopCloser(bytes.NewReader(b)), int64(len(b)))
	if status == http.StatusTooManyRequests {
		resp.Header.Set("Retry-After", "1")
	}
	return resp
}

func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	return "api_error"
}

// chunkText splits text into n pieces of nearly equal length (fewer when
// the text is shorter than n).
func chunkText(text string, n int) []string {
	runes := []rune(text)
	if n <= 0 {
		n = 1
	}
	n = min(n, max(1, len(runes)))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, string(runes[i*len(runes)/n:(i+1)*len(runes)/n]))
	}
	return out
}

func mockEmbeddings(r mockReq, u usage) any {
	var inputs []json.RawMessage
	if err := json.Unmarshal(r.Input, &inputs); err != nil {
		inputs = []json.RawMessage{r.Input}
	}
	data := make([]any, len(inputs))
	for i, in := range inputs {
		vec := make([]float64, 8)
		for j := range vec {
			var h uint64
			for _, c := range in {
				h = h*31 + uint64(c) + uint64(j)
			}
			vec[j] = float64(int(h%2000)-1000) / 1000
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": vec}
	}
	return map[string]any{"object": "list", "data": data, "model": r.Model,
		"usage": map[string]int{"prompt_tokens": u.prompt, "total_tokens": u.prompt}}
}

const mockCreated = 1767225600 // 2026-01-01T00:00:00Z: deterministic output

func mockMessage(route Route, id, model, text string, u usage) any {
	switch route {
	case Messages:
		return map[string]any{"id": "msg_" + id, "type": "message", "role": "assistant", "model": model,
			"content":     []any{map[string]string{"type": "text", "text": text}},
			"stop_reason": "end_turn", "stop_sequence": nil,
			"usage": map[string]int{"input_tokens": u.prompt, "output_tokens": u.completion}}
	case Responses:
		return responseObject(id, model, text, "completed", u)
	default:
		return map[string]any{"id": "chatcmpl-" + id, "object": "chat.completion", "created": mockCreated, "model": model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": nil}},
			"usage":   map[string]int{"prompt_tokens": u.prompt, "completion_tokens": u.completion, "total_tokens": u.prompt + u.completion}}
	}
}

func responseObject(id, model, text, status string, u usage) map[string]any {
	obj := map[string]any{"id": "resp_" + id, "object": "response", "created_at": mockCreated, "status": status, "model": model,
		"output": []any{}, "usage": nil}
	if status == "completed" {
		obj["output"] = []any{map[string]any{"type": "message", "id": "msg_" + id, "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}}}
		obj["usage"] = map[string]int{"input_tokens": u.prompt, "output_tokens": u.completion, "total_tokens": u.prompt + u.completion}
	}
	return obj
}

// mockEvents renders a whole stream as SSE events.
func mockEvents(route Route, id, model string, chunks []string, u usage, includeUsage bool) [][]byte {
	var out [][]byte
	add := func(name string, v any) {
		b, _ := json.Marshal(v)
		out = append(out, stream.Append(nil, stream.Event{Name: name, Data: b}))
	}
	switch route {
	case Messages:
		add("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_" + id, "type": "message", "role": "assistant", "model": model,
			"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": u.prompt, "output_tokens": 1}}})
		add("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]string{"type": "text", "text": ""}})
		add("ping", map[string]string{"type": "ping"})
		for _, c := range chunks {
			add("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]string{"type": "text_delta", "text": c}})
		}
		add("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
		add("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": map[string]int{"output_tokens": u.completion}})
		add("message_stop", map[string]string{"type": "message_stop"})
	case Responses:
		seq := 0
		ev := func(typ string, fields map[string]any) {
			fields["type"] = typ
			fields["sequence_number"] = seq
			seq++
			add(typ, fields)
		}
		item := map[string]any{"type": "message", "id": "msg_" + id, "status": "in_progress", "role": "assistant", "content": []any{}}
		ev("response.created", map[string]any{"response": responseObject(id, model, "", "in_progress", u)})
		ev("response.in_progress", map[string]any{"response": responseObject(id, model, "", "in_progress", u)})
		ev("response.output_item.added", map[string]any{"output_index": 0, "item": item})
		ev("response.content_part.added", map[string]any{"item_id": "msg_" + id, "output_index": 0, "content_index": 0, "part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}})
		for _, c := range chunks {
			ev("response.output_text.delta", map[string]any{"item_id": "msg_" + id, "output_index": 0, "content_index": 0, "delta": c, "logprobs": []any{}})
		}
		text := strings.Join(chunks, "")
		ev("response.output_text.done", map[string]any{"item_id": "msg_" + id, "output_index": 0, "content_index": 0, "text": text, "logprobs": []any{}})
		ev("response.content_part.done", map[string]any{"item_id": "msg_" + id, "output_index": 0, "content_index": 0, "part": map[string]any{"type": "output_text", "text": text, "annotations": []any{}}})
		done := responseObject(id, model, text, "completed", u)
		ev("response.output_item.done", map[string]any{"output_index": 0, "item": done["output"].([]any)[0]})
		ev("response.completed", map[string]any{"response": done})
	default:
		base := func(delta map[string]any, finish any) map[string]any {
			m := map[string]any{"id": "chatcmpl-" + id, "object": "chat.completion.chunk", "created": mockCreated, "model": model,
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil}}}
			if includeUsage {
				m["usage"] = nil // as OpenAI sends it on every chunk but the last
			}
			return m
		}
		add("", base(map[string]any{"role": "assistant", "content": ""}, nil))
		for _, c := range chunks {
			add("", base(map[string]any{"content": c}, nil))
		}
		add("", base(map[string]any{}, "stop"))
		if includeUsage {
			add("", map[string]any{"id": "chatcmpl-" + id, "object": "chat.completion.chunk", "created": mockCreated, "model": model, "choices": []any{},
				"usage": map[string]int{"prompt_tokens": u.prompt, "completion_tokens": u.completion, "total_tokens": u.prompt + u.completion}})
		}
		out = append(out, []byte("data: [DONE]\n\n"))
	}
	return out
}

// streamResponse writes events with the configured delay, stopping when
// the request is cancelled; with breakAfter > 0 it sends an error event
// after that many events and ends.
func (m *Mock) streamResponse(req *http.Request, num uint64, events [][]byte, breakAfter int) *http.Response {
	pr, pw := io.Pipe()
	ctx := req.Context()
	route := routeOfPath(req.URL.Path)
	go func() {
		for i, e := range events {
			if i > 0 && m.cfg.ChunkDelay > 0 {
				if err := sleep(ctx, m.cfg.ChunkDelay); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			if breakAfter > 0 && i == breakAfter {
				e = mockStreamError(route)
				_, _ = pw.Write(e)
				pw.Close()
				return
			}
			if _, err := pw.Write(e); err != nil {
				return
			}
		}
		pw.Close()
	}()
	return m.response(req, num, http.StatusOK, "text/event-stream; charset=utf-8", pr, -1)
}

func mockStreamError(route Route) []byte {
	switch route {
	case Messages:
		return []byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"mock: stream broken\"}}\n\n")
	case Responses:
		return []byte("event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"mock: stream broken\",\"param\":null}\n\n")
	default:
		return []byte("data: {\"error\":{\"message\":\"mock: stream broken\",\"type\":\"server_error\",\"code\":null,\"param\":null}}\n\n")
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
