package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/redact/leakcheck"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/stream"
)

const testKey = "sk-proj-proxytestKEY0123456789abcdef"

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    map[string]string
		want time.Duration
	}{
		{"none", nil, 0},
		{"seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{"fractional", map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond},
		{"ms wins", map[string]string{"Retry-After": "3", "Retry-After-Ms": "250"}, 250 * time.Millisecond},
		{"http date", map[string]string{"Retry-After": now.Add(7 * time.Second).Format(http.TimeFormat)}, 7 * time.Second},
		{"past date", map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{"junk", map[string]string{"Retry-After": "soon"}, 0},
		{"negative", map[string]string{"Retry-After": "-4"}, 0},
		{"absurd", map[string]string{"Retry-After": "1e12"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.h {
				h.Set(k, v)
			}
			if got := retryAfter(h, now); got != tt.want {
				t.Errorf("retryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseFailureBody(t *testing.T) {
	scrub := secret.NewScrubber(secret.New(testKey))
	tests := []struct {
		name              string
		body              string
		typ, code, param  string
		messageHasNoKey   bool
		messageHasContent string
	}{
		{"openai", `{"error":{"message":"Incorrect API key provided: ` + testKey + `","type":"invalid_request_error","code":"invalid_api_key","param":null}}`,
			"invalid_request_error", "invalid_api_key", "", true, "Incorrect API key"},
		{"anthropic", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, "overloaded_error", "", "", true, "Overloaded"},
		{"responses event", `{"type":"error","code":"server_error","message":"boom","param":"input"}`, "", "server_error", "input", true, "boom"},
		{"key as code is dropped", `{"error":{"type":"invalid_request_error","code":"` + testKey + `","param":"has space"}}`, "invalid_request_error", "", "", true, ""},
		{"numeric code", `{"error":{"type":"tokens","code":429}}`, "tokens", "429", "", true, ""},
		{"not json", `<html>` + testKey + `</html>`, "", "", "", true, "<html>"},
		{"key slices in identifiers", `{"error":{"type":"` + testKey[8:] + `","code":"` + testKey[3:27] + `","param":"` + testKey[10:30] + `"}}`, "", "", "", true, ""},
		{"unknown words", `{"error":{"type":"proxytestKEY","code":"abc_def","param":"messages.secretField"}}`, "", "", "", true, ""},
		{"param path into the request", `{"error":{"type":"invalid_request_error","code":"invalid_value","param":"messages[0].content"}}`, "invalid_request_error", "invalid_value", "messages[0].content", true, ""},
		{"param with a long index", `{"error":{"param":"messages[123456].content"}}`, "", "", "", true, ""},
	}
	req := []byte(`{"model":"m","input":"x","messages":[{"role":"user","content":"hi"}]}`)
	for _, kind := range []string{config.KindOpenAI, config.KindAnthropic} {
		p, err := provider.New(config.Provider{Name: "p", Kind: kind}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				f := &failure{}
				f.set(p.Failure([]byte(tt.body)), scrub, req)
				if diff := cmp.Diff([]string{tt.typ, tt.code, tt.param}, []string{f.errType, f.errCode, f.errParam}); diff != "" {
					t.Errorf("identifiers (-want +got):\n%s", diff)
				}
				if strings.Contains(f.message, testKey) {
					t.Errorf("message holds the key: %q", f.message)
				}
				if !strings.Contains(f.message, tt.messageHasContent) {
					t.Errorf("message %q lacks %q", f.message, tt.messageHasContent)
				}
			})
		}
	}
}

func TestClientError(t *testing.T) {
	tests := []struct {
		f    failure
		code apierr.Code
	}{
		{failure{kind: "status", status: 400, errCode: "context_length_exceeded"}, apierr.UpstreamBadRequest},
		{failure{kind: "status", status: 404}, apierr.UpstreamBadRequest},
		{failure{kind: "status", status: 401}, apierr.UpstreamAuth},
		{failure{kind: "status", status: 403}, apierr.UpstreamAuth},
		{failure{kind: "status", status: 413}, apierr.PayloadTooLarge},
		{failure{kind: "status", status: 429}, apierr.UpstreamRateLimited},
		{failure{kind: "status", status: 500}, apierr.UpstreamError},
		{failure{kind: "status", status: 503}, apierr.UpstreamUnavailable},
		{failure{kind: "status", status: 529}, apierr.UpstreamUnavailable},
		{failure{kind: "status", status: 504}, apierr.UpstreamTimeout},
		{failure{kind: "status", status: 302}, apierr.UpstreamError},
		{failure{kind: "transport", err: errors.New("connection refused")}, apierr.UpstreamUnavailable},
		{failure{kind: "transport", err: context.DeadlineExceeded}, apierr.UpstreamTimeout},
		{failure{kind: "stream", status: 200}, apierr.UpstreamError},
		{failure{kind: "content_type", status: 200}, apierr.UpstreamError},
		{failure{kind: "cooling", status: 429}, apierr.UpstreamRateLimited},
		{failure{kind: "cooling", status: 503}, apierr.UpstreamUnavailable},
	}
	for _, tt := range tests {
		code, msg := tt.f.clientError()
		if code != tt.code {
			t.Errorf("%+v: code %s, want %s", tt.f, code, tt.code)
		}
		if tt.f.errCode != "" && !strings.Contains(msg, tt.f.errCode) {
			t.Errorf("%+v: message %q lacks the upstream code", tt.f, msg)
		}
	}
	retry := map[int]bool{400: false, 401: true, 403: true, 404: false, 408: true, 409: true, 413: false, 422: false, 429: true, 500: true, 502: true, 503: true, 504: true, 529: true}
	for status, want := range retry {
		if got := (&failure{kind: "status", status: status}).retryable(); got != want {
			t.Errorf("retryable(%d) = %v", status, got)
		}
	}
}

// TestCommentIsNeverAnError: a comment line is passed on (scrubbed),
// never read as the provider's error or its end. The events of each wire
// format are told apart in internal/provider (TestEventClassification).
func TestCommentIsNeverAnError(t *testing.T) {
	for _, r := range []provider.Route{provider.Chat, provider.Responses, provider.Messages} {
		b := &sseBody{at: &attempt{meter: testProvider(t).Meter(r)}}
		if b.isError(stream.Event{Comment: true, Data: []byte(`{"type":"error","error":{}}`)}) {
			t.Errorf("%v: a comment read as an error", r)
		}
	}
}

func TestGuardWriter(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "req_1")
	g := &guardWriter{w: rec}
	g.Header().Set("Link", "<https://evil.test/"+testKey+">")
	g.WriteHeader(http.StatusEarlyHints) // dropped, staged headers cleared
	g.Header().Set("Content-Type", "application/json")
	g.Header().Set("X-Upstream-Request-Id", "abc")
	g.Header().Set("Set-Cookie", "k="+testKey)
	g.Header().Set("X-Ratelimit-Remaining-Requests", "1")
	io.WriteString(g, "{}")
	g.Header().Set("X-Trailer", testKey) // after the header: goes nowhere
	g.WriteHeader(500)                   // second status ignored
	if err := g.FlushError(); err != nil {
		t.Fatal(err)
	}
	want := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req_1"}}
	if diff := cmp.Diff(want, rec.Header()); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if rec.Code != 200 || rec.Body.String() != "{}" {
		t.Errorf("got %d %q", rec.Code, rec.Body)
	}
}

func TestRequestID(t *testing.T) {
	scrub := secret.NewScrubber(secret.New(testKey))
	tests := []struct {
		h    map[string]string
		want string
	}{
		{map[string]string{"X-Request-Id": "req_abc123"}, "req_abc123"},
		{map[string]string{"Request-Id": "req_01ABC"}, "req_01ABC"},
		{map[string]string{"Apim-Request-Id": "8f1c-22"}, "8f1c-22"},
		{map[string]string{"X-Request-Id": testKey}, ""},
		{map[string]string{"X-Request-Id": "req_" + testKey[8:]}, ""},
		{map[string]string{"X-Request-Id": "has space"}, ""},
		{map[string]string{"X-Request-Id": strings.Repeat("a", 200)}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.h {
			h.Set(k, v)
		}
		if got := requestID(h, scrub); got != tt.want {
			t.Errorf("requestID(%v) = %q, want %q", tt.h, got, tt.want)
		}
	}
}

// newTestAttempt builds what an sseBody needs, outside a reverse proxy.
func newTestAttempt(t testing.TB, route provider.Route) *attempt {
	p, err := provider.New(config.Provider{Name: "p", Kind: config.KindOpenAI}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := &live.Snapshot{Scrub: secret.NewScrubber(secret.New(testKey))}
	_, cancel := context.WithCancel(context.Background())
	return &attempt{
		call:   &Call{Route: route, Snap: snap, Info: &Info{}},
		target: live.Target{Provider: p, Model: "m"},
		reqID:  "req_test", client: context.Background(), cancel: cancel,
	}
}

func TestSSEBody(t *testing.T) {
	tests := []struct {
		name     string
		route    provider.Route
		upstream string
		want     string // substring of the output
		code     apierr.Code
	}{
		{"complete chat", provider.Chat, "data: {\"a\":\"" + testKey + "\"}\n\ndata: [DONE]\n\n", `{"a":"[REDACTED]"}`, ""},
		{"chat error mid-stream", provider.Chat, "data: {\"a\":1}\n\ndata: {\"error\":{\"message\":\"" + testKey + "\"}}\n\ndata: {\"a\":2}\n\n", `"code":"upstream_error"`, apierr.UpstreamError},
		{"ends early", provider.Messages, "event: message_start\ndata: {}\n\n", "ended the stream early", apierr.UpstreamError},
		{"messages complete", provider.Messages, "event: message_start\ndata: {}\n\nevent: message_stop\ndata: {}\n\n", "message_stop", ""},
		{"responses failed", provider.Responses, "event: response.created\ndata: {}\n\nevent: response.failed\ndata: {\"response\":{\"error\":{\"message\":\"" + testKey + "\"}}}\n\n", "event: error", apierr.UpstreamError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := newTestAttempt(t, tt.route)
			b := newSSEBody(io.NopCloser(strings.NewReader(tt.upstream)), at, slog.New(slog.DiscardHandler), 0)
			if fl := b.peek(); fl != nil {
				t.Fatalf("peek: %+v", fl)
			}
			out, err := io.ReadAll(b)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(out, []byte(testKey)) {
				t.Fatalf("key leaked: %s", out)
			}
			if !bytes.Contains(out, []byte(tt.want)) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			if at.call.Info.Code != tt.code {
				t.Errorf("code %q, want %q", at.call.Info.Code, tt.code)
			}
			if tt.code != "" && bytes.Contains(out, []byte(`{"a":2}`)) {
				t.Error("events after an error were passed on")
			}
		})
	}
}

func TestSSEBodyIdleTimeout(t *testing.T) {
	at := newTestAttempt(t, provider.Chat)
	ctx, cancel := context.WithCancel(context.Background())
	at.cancel = cancel
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "data: {\"a\":1}\n\n")
		<-ctx.Done() // the idle timer cancels the attempt
		pw.CloseWithError(ctx.Err())
	}()
	b := newSSEBody(pr, at, slog.New(slog.DiscardHandler), 20*time.Millisecond)
	if fl := b.peek(); fl != nil {
		t.Fatal(fl)
	}
	out, _ := io.ReadAll(b)
	if !bytes.Contains(out, []byte("upstream_timeout")) || at.call.Info.Code != apierr.UpstreamTimeout {
		t.Fatalf("got %s (%s)", out, at.call.Info.Code)
	}
}

func TestSSEBodyPeekFailures(t *testing.T) {
	for name, up := range map[string]string{
		"empty":       "",
		"first error": "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n",
	} {
		at := newTestAttempt(t, provider.Chat)
		b := newSSEBody(io.NopCloser(strings.NewReader(up)), at, slog.New(slog.DiscardHandler), 0)
		fl := b.peek()
		if fl == nil || !fl.retryable() {
			t.Errorf("%s: peek = %+v, want a retryable failure", name, fl)
		}
	}
}

// FuzzSSEBody feeds arbitrary upstream bytes through the stream rewriter:
// it must never fail the read, never pass the key on, and always end with
// the route's terminal event or keyward's own error event.
func FuzzSSEBody(f *testing.F) {
	f.Add("data: {\"x\":\""+testKey+"\"}\n\ndata: [DONE]\n\n", uint8(0))
	f.Add("event: error\ndata: {\"type\":\"error\"}\n\n", uint8(2))
	f.Add("event: response.completed\ndata: {}\n\n", uint8(1))
	f.Add(": ping\n\ndata: "+testKey[:10], uint8(0))
	f.Add("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\""+testKey[:14]+"\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\""+testKey[14:]+"\"}}]}\n\ndata: [DONE]\n\n", uint8(0))
	f.Add("data: [x"+testKey[:12]+"\n\ndata: "+testKey[12:]+"\n\n", uint8(0))
	f.Fuzz(func(t *testing.T, upstream string, r uint8) {
		route := []provider.Route{provider.Chat, provider.Responses, provider.Messages}[int(r)%3]
		at := newTestAttempt(t, route)
		b := newSSEBody(io.NopCloser(strings.NewReader(upstream)), at, slog.New(slog.DiscardHandler), 0)
		var out []byte
		if fl := b.peek(); fl != nil {
			return // the attempt fails before anything is sent
		}
		out, err := io.ReadAll(b)
		if err != nil {
			t.Fatalf("read error: %v", err)
		}
		if bytes.Contains(out, []byte(testKey)) {
			t.Fatalf("key passed on: %q", out)
		}
		for _, s := range append(leakcheck.StreamText(out), string(out)) {
			if l, ok := testFinder.Find(s); ok {
				t.Fatalf("%s in %q", l, s)
			}
		}
		// The output is a well-formed event stream whose last event is a
		// terminal one or keyward's error.
		rd := stream.NewReader(bytes.NewReader(out), 1<<30)
		var last stream.Event
		for {
			ev, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("output not parseable: %v", err)
			}
			if !ev.Comment {
				last = ev
				last.Data = bytes.Clone(ev.Data)
			}
		}
		if !testProvider(t).Meter(route).IsTerminal(last.Name, last.Data) && !bytes.Contains(last.Data, []byte(`"request_id":"req_test"`)) {
			t.Fatalf("stream ends on %q/%q, neither terminal nor keyward's error", last.Name, last.Data)
		}
	})
}

// testProvider is a provider of the native wire formats, to read answers
// with.
func testProvider(t testing.TB) *provider.Provider {
	t.Helper()
	p, err := provider.New(config.Provider{Name: "mock", Kind: config.KindMock}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
