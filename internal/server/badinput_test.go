package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// capture is a fake provider that records the bodies it receives.
type capture struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	_ = json.NewDecoder(r.Body).Decode(&m)
	c.mu.Lock()
	c.bodies = append(c.bodies, m)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, okBody(r.URL.Path, "x"))
}

func (c *capture) last() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bodies) == 0 {
		return nil
	}
	return c.bodies[len(c.bodies)-1]
}

const limitsConfig = `listen: 127.0.0.1:0
providers:
  - {name: up, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:K]}
  - {name: claude, kind: anthropic, base_url: "{{UPSTREAM}}/v1", keys: [env:K]}
clients:
  keys: [env:CLIENT_KEY]
models:
  - {name: fast, targets: [{provider: up, model: gpt-x}]}
  - {name: claude, targets: [{provider: claude, model: claude-x}]}
limits: {max_body_bytes: 2048, max_prompt_chars: 100, max_output_tokens: 64, max_json_depth: 10, output_tokens: %s}
timeouts: {read_body: 300ms}
`

func newLimitsHarness(t *testing.T, mode string) (*harness, *capture) {
	c := &capture{}
	return newHarness(t, fmt.Sprintf(limitsConfig, mode), map[string]string{"K": "upstream-key-123456", "CLIENT_KEY": canaryClient}, nil, newUpstream(t, c)), c
}

func TestBadInput(t *testing.T) {
	h, _ := newLimitsHarness(t, "clamp")
	chat := "/v1/chat/completions"
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		headers []string
		status  int
		code    string
		msg     string
	}{
		{"no content type", "POST", chat, `{"model":"fast"}`, []string{"Content-Type", ""}, 415, "unsupported_media_type", "application/json"},
		{"form content type", "POST", chat, `model=fast`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		{"json with charset", "POST", chat, `{"model":"fast","messages":[]}`, []string{"Content-Type", "application/json; charset=utf-8"}, 200, "", ""},
		{"body too large", "POST", chat, `{"model":"fast","x":"` + strings.Repeat("a", 3000) + `"}`, nil, 413, "payload_too_large", "2048 bytes"},
		{"invalid json", "POST", chat, `{"model":"fast",,}`, nil, 400, "invalid_json", "at byte 16: invalid character ','"},
		{"empty body", "POST", chat, ``, nil, 400, "invalid_json", "empty"},
		{"not an object", "POST", chat, `["fast"]`, nil, 400, "invalid_json", "JSON object"},
		{"too deep", "POST", chat, `{"model":"fast","a":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`, nil, 400, "invalid_json", "nested deeper"},
		{"missing model", "POST", chat, `{"messages":[]}`, nil, 400, "model_required", ""},
		{"unknown model", "POST", chat, `{"model":"gpt-5"}`, nil, 400, "model_not_found", `\"gpt-5\" is not configured`},
		{"model on the wrong route", "POST", chat, `{"model":"claude"}`, nil, 400, "model_not_supported_on_route", ""},
		{"prompt too large", "POST", chat, `{"model":"fast","messages":[{"role":"user","content":"` + strings.Repeat("x", 101) + `"}]}`, nil, 413, "prompt_too_large", "limit is 100"},
		{"stream on embeddings", "POST", "/v1/embeddings", `{"model":"fast","stream":true,"input":"a"}`, nil, 400, "invalid_request", "does not stream"},
		{"negative max_tokens", "POST", chat, `{"model":"fast","max_tokens":-5}`, nil, 400, "invalid_request", "positive integer"},
		{"GET on a POST route", "GET", chat, ``, nil, 405, "method_not_allowed", "Use POST"},
		{"DELETE on models", "DELETE", "/v1/models", ``, nil, 405, "method_not_allowed", ""},
		{"unknown route", "POST", "/v1/proxy/https://evil.test", `{}`, nil, 404, "not_found", ""},
		{"no credential", "POST", chat, `{"model":"fast"}`, []string{"Authorization", ""}, 401, "unauthorized", ""},
		{"basic auth", "POST", chat, `{"model":"fast"}`, []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401, "unauthorized", ""},
		{"anthropic shape on messages", "POST", "/v1/messages", `{"model":`, nil, 400, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.method, tt.path, tt.body, tt.headers...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.code != "" && r.errorCode() != tt.code {
				t.Errorf("code %q, want %q: %s", r.errorCode(), tt.code, r.body)
			}
			if !strings.Contains(r.body, tt.msg) {
				t.Errorf("body lacks %q: %s", tt.msg, r.body)
			}
			if tt.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if tt.name == "anthropic shape on messages" && !strings.Contains(r.body, `"type":"error"`) {
				t.Errorf("not Anthropic-shaped: %s", r.body)
			}
		})
	}
}

func TestOutputTokenCap(t *testing.T) {
	t.Run("clamp", func(t *testing.T) {
		h, c := newLimitsHarness(t, "clamp")
		for _, tc := range []struct {
			path, body, field string
			want              float64
		}{
			{"/v1/chat/completions", `{"model":"fast","max_tokens":100000}`, "max_tokens", 64},
			{"/v1/chat/completions", `{"model":"fast","max_completion_tokens":65}`, "max_completion_tokens", 64},
			{"/v1/chat/completions", `{"model":"fast","max_tokens":10}`, "max_tokens", 10},
			{"/v1/chat/completions", `{"model":"fast"}`, "max_completion_tokens", 64},
			{"/v1/responses", `{"model":"fast","max_output_tokens":999}`, "max_output_tokens", 64},
			{"/v1/messages", `{"model":"claude","max_tokens":4096,"messages":[]}`, "max_tokens", 64},
		} {
			r := h.do("POST", tc.path, tc.body)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", tc.body, r.status, r.body)
			}
			got := c.last()
			if got[tc.field] != tc.want {
				t.Errorf("%s: upstream saw %s=%v, want %v", tc.body, tc.field, got[tc.field], tc.want)
			}
			if got["model"] == "fast" || got["model"] == "claude" {
				t.Errorf("alias forwarded: %v", got["model"])
			}
		}
	})
	t.Run("reject", func(t *testing.T) {
		h, c := newLimitsHarness(t, "reject")
		r := h.do("POST", "/v1/chat/completions", `{"model":"fast","max_tokens":65}`)
		if r.status != 400 || r.errorCode() != "max_tokens_exceeded" || c.last() != nil {
			t.Fatalf("got %d %s (upstream called: %v)", r.status, r.body, c.last() != nil)
		}
	})
}

// rawRequest sends bytes on a fresh connection and returns the response
// status line (or the error that ended the connection).
func rawRequest(t *testing.T, addr, head string, body io.Reader) (string, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		return "", err
	}
	if body != nil {
		go io.Copy(conn, body)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestHostileClients(t *testing.T) {
	h, c := newLimitsHarness(t, "clamp")
	addr := h.srv.Listener.Addr().String()
	auth := "Authorization: Bearer " + canaryClient + "\r\nContent-Type: application/json\r\n"

	t.Run("huge Content-Length is refused before the body is read", func(t *testing.T) {
		pr, pw := io.Pipe() // a body that never comes
		defer pw.Close()
		line, err := rawRequest(t, addr, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: 1000000000\r\n\r\n", pr)
		if err != nil || !strings.Contains(line, "413") {
			t.Fatalf("got %q, %v", line, err)
		}
	})
	t.Run("chunked body over the limit", func(t *testing.T) {
		big := strings.Repeat("a", 4096)
		line, err := rawRequest(t, addr, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"+auth+"Transfer-Encoding: chunked\r\n\r\n"+
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big), nil)
		if err != nil || !strings.Contains(line, "413") {
			t.Fatalf("got %q, %v", line, err)
		}
	})
	t.Run("slow body times out", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		go io.WriteString(pw, `{"model":"fa`) // then stall
		line, err := rawRequest(t, addr, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: 100\r\n\r\n", pr)
		if err != nil || !strings.Contains(line, "400") {
			t.Fatalf("got %q, %v", line, err)
		}
	})
	t.Run("unauthenticated body is not read", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		line, err := rawRequest(t, addr, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n", pr)
		if err != nil || !strings.Contains(line, "401") {
			t.Fatalf("got %q, %v", line, err)
		}
	})
	if c.last() != nil {
		t.Error("a refused request reached the upstream")
	}
}
