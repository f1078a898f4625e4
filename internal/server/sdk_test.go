package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// sdkConfig serves mock models and key-echoing upstream models side by
// side, so the SDKs meet both real answers and mapped errors.
const sdkConfig = `listen: 127.0.0.1:0
providers:
  - name: mock
    kind: mock
    mock: {chunks: 4}
  - {name: evil, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:OPENAI_KEY]}
  - {name: evilclaude, kind: anthropic, base_url: "{{UPSTREAM}}/v1", keys: [env:ANTHROPIC_KEY]}
clients:
  keys: [env:CLIENT_KEY]
retry: {max_attempts: 1, auth_cooldown: 0s, rate_limit_cooldown: 0s, max_retry_after: 0s}
models:
  - {name: fast, targets: [{provider: mock, model: mock-fast}]}
  - {name: claude, targets: [{provider: mock, model: mock-claude}]}
  - {name: limited, targets: [{provider: evil, model: status-429}]}
  - {name: broken-stream, targets: [{provider: evil, model: stream-error}]}
  - {name: claude-limited, targets: [{provider: evilclaude, model: status-429}]}
  - {name: claude-broken-stream, targets: [{provider: evilclaude, model: stream-error}]}
`

func newSDKHarness(t *testing.T) *harness {
	up := newUpstream(t, evilUpstream())
	return newHarness(t, sdkConfig, map[string]string{"OPENAI_KEY": canaryOpenAI, "ANTHROPIC_KEY": canaryAnthropic, "CLIENT_KEY": canaryClient}, nil, up)
}

func openaiClient(h *harness, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(h.srv.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0), option.WithHTTPClient(h.srv.Client()))
}

func anthropicClient(h *harness, key string) anthropic.Client {
	return anthropic.NewClient(aoption.WithBaseURL(h.srv.URL), aoption.WithAPIKey(key), aoption.WithMaxRetries(0), aoption.WithHTTPClient(h.srv.Client()))
}

func TestOpenAISDK(t *testing.T) {
	h := newSDKHarness(t)
	ctx := context.Background()
	c := openaiClient(h, canaryClient)
	const want = "This is a mock response from keyward for model mock-fast."
	chat := openai.ChatCompletionNewParams{Model: "fast", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}}

	t.Run("chat", func(t *testing.T) {
		r, err := c.Chat.Completions.New(ctx, chat)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Choices[0].Message.Content; got != want {
			t.Errorf("content = %q", got)
		}
		if r.Usage.TotalTokens == 0 {
			t.Error("no usage")
		}
	})
	t.Run("chat stream", func(t *testing.T) {
		s := c.Chat.Completions.NewStreaming(ctx, chat)
		var acc openai.ChatCompletionAccumulator
		n := 0
		for s.Next() {
			acc.AddChunk(s.Current())
			n++
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if got := acc.Choices[0].Message.Content; got != want || n < 5 {
			t.Errorf("streamed %q in %d chunks", got, n)
		}
	})
	// keyward asks the provider for the usage chunk on every stream; the
	// SDK sees it only when it asked, and the chunks are the same either way.
	t.Run("chat stream usage only when asked", func(t *testing.T) {
		count := func(p openai.ChatCompletionNewParams) (chunks int, usage int64, withUsageField int) {
			s := c.Chat.Completions.NewStreaming(ctx, p)
			for s.Next() {
				ch := s.Current()
				chunks++
				usage += ch.Usage.TotalTokens
				if ch.JSON.Usage.Raw() != "" { // present, null or not
					withUsageField++
				}
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			return
		}
		plain, plainUsage, plainFields := count(chat)
		asked := chat
		asked.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		withUsage, askedUsage, _ := count(asked)
		if plainUsage != 0 || plainFields != 0 {
			t.Errorf("a client that did not ask got usage (%d tokens, %d chunks with a usage field)", plainUsage, plainFields)
		}
		if askedUsage == 0 || withUsage != plain+1 {
			t.Errorf("asked: %d chunks (plain %d), usage %d", withUsage, plain, askedUsage)
		}
	})
	t.Run("responses", func(t *testing.T) {
		params := responses.ResponseNewParams{Model: "fast", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello")}}
		r, err := c.Responses.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if r.OutputText() != want {
			t.Errorf("output = %q", r.OutputText())
		}
		s := c.Responses.NewStreaming(ctx, params)
		var text strings.Builder
		completed := false
		for s.Next() {
			ev := s.Current()
			switch ev.Type {
			case "response.output_text.delta":
				text.WriteString(ev.Delta)
			case "response.completed":
				completed = true
			}
		}
		if err := s.Err(); err != nil || !completed || text.String() != want {
			t.Errorf("stream: err=%v completed=%v text=%q", err, completed, text.String())
		}
	})
	t.Run("embeddings", func(t *testing.T) {
		r, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "fast", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Data) != 2 || len(r.Data[0].Embedding) == 0 {
			t.Errorf("embeddings = %+v", r.Data)
		}
	})
	t.Run("models", func(t *testing.T) {
		p, err := c.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range p.Data {
			ids = append(ids, m.ID)
		}
		if strings.Join(ids, ",") != "fast,claude,limited,broken-stream,claude-limited,claude-broken-stream" {
			t.Errorf("models = %v", ids)
		}
	})
	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name   string
			client openai.Client
			model  string
			status int
			code   string
		}{
			{"bad client key", openaiClient(h, "kw_test_wrong"), "fast", 401, "unauthorized"},
			{"unknown model", c, "nope", 400, "model_not_found"},
			{"upstream 429", c, "limited", 429, "upstream_rate_limited"},
		}
		for _, tc := range cases {
			_, err := tc.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: tc.model, Messages: chat.Messages})
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("%s: err = %v, want *openai.Error", tc.name, err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Code != tc.code || apiErr.Message == "" {
				t.Errorf("%s: got %d %q %q", tc.name, apiErr.StatusCode, apiErr.Code, apiErr.Message)
			}
			if apiErr.Response.Header.Get("X-Request-Id") == "" {
				t.Errorf("%s: no request id", tc.name)
			}
			assertNoCanary(t, tc.name, err.Error())
		}
	})
	t.Run("stream error", func(t *testing.T) {
		s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "broken-stream", Messages: chat.Messages})
		for s.Next() {
		}
		if s.Err() == nil || !strings.Contains(s.Err().Error(), "upstream_error") {
			t.Fatalf("stream error = %v", s.Err())
		}
		assertNoCanary(t, "stream error", s.Err().Error())
	})
}

func TestAnthropicSDK(t *testing.T) {
	h := newSDKHarness(t)
	ctx := context.Background()
	c := anthropicClient(h, canaryClient)
	const want = "This is a mock response from keyward for model mock-claude."
	params := anthropic.MessageNewParams{Model: "claude", MaxTokens: 100, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello"))}}

	t.Run("messages", func(t *testing.T) {
		m, err := c.Messages.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Content) != 1 || m.Content[0].Text != want || m.Usage.OutputTokens == 0 {
			t.Errorf("message = %+v", m)
		}
	})
	t.Run("stream", func(t *testing.T) {
		s := c.Messages.NewStreaming(ctx, params)
		var m anthropic.Message
		for s.Next() {
			if err := m.Accumulate(s.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if len(m.Content) != 1 || m.Content[0].Text != want || m.StopReason != "end_turn" {
			t.Errorf("accumulated = %+v", m)
		}
	})
	t.Run("count tokens", func(t *testing.T) {
		r, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude", Messages: params.Messages})
		if err != nil {
			t.Fatal(err)
		}
		if r.InputTokens <= 0 {
			t.Errorf("input tokens = %d", r.InputTokens)
		}
	})
	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name   string
			client anthropic.Client
			model  string
			status int
			typ    string
		}{
			{"bad client key", anthropicClient(h, "kw_test_wrong"), "claude", 401, "authentication_error"},
			{"unknown model", c, "nope", 400, "invalid_request_error"},
			{"upstream 429", c, "claude-limited", 429, "rate_limit_error"},
		}
		for _, tc := range cases {
			p := params
			p.Model = anthropic.Model(tc.model)
			_, err := tc.client.Messages.New(ctx, p)
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("%s: err = %v, want *anthropic.Error", tc.name, err)
			}
			if apiErr.StatusCode != tc.status || string(apiErr.Type()) != tc.typ || apiErr.RequestID == "" {
				t.Errorf("%s: got %d %q request-id %q", tc.name, apiErr.StatusCode, apiErr.Type(), apiErr.RequestID)
			}
			assertNoCanary(t, tc.name, err.Error())
		}
	})
	t.Run("stream error", func(t *testing.T) {
		p := params
		p.Model = "claude-broken-stream"
		s := c.Messages.NewStreaming(ctx, p)
		for s.Next() {
		}
		var apiErr *anthropic.Error
		if !errors.As(s.Err(), &apiErr) || apiErr.Type() != "api_error" {
			t.Fatalf("stream error = %v", s.Err())
		}
		assertNoCanary(t, "stream error", s.Err().Error())
	})
}
