package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// step is one scripted upstream answer.
type step struct {
	status  int
	headers map[string]string
	// stream: send events; breakAfter > 0 drops the connection after that
	// many events; firstError sends an error event first.
	stream     bool
	breakAfter int
	firstError bool
}

// scripted is a fake provider whose answers are scripted per key, and
// which records which key each request used.
type scripted struct {
	mu     sync.Mutex
	script map[string][]step
	hits   []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.hits = append(s.hits, key)
	st := step{status: 200}
	if q := s.script[key]; len(q) > 0 {
		st = q[0]
		if len(q) > 1 {
			s.script[key] = q[1:]
		}
	}
	s.mu.Unlock()
	for k, v := range st.headers {
		w.Header().Set(k, v)
	}
	if st.stream {
		w.Header().Set("Content-Type", "text/event-stream")
		if st.firstError {
			io.WriteString(w, "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n")
			return
		}
		events := streamEvents("chat", "from "+key)
		for i, e := range events {
			if st.breakAfter > 0 && i == st.breakAfter {
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // cut the connection mid-stream
			}
			io.WriteString(w, e)
			w.(http.Flusher).Flush()
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st.status)
	if st.status >= 400 {
		fmt.Fprintf(w, `{"error":{"message":"scripted","type":"invalid_request_error","code":"scripted_%d","param":"messages"}}`, st.status)
		return
	}
	io.WriteString(w, okBody("/chat/completions", "from "+key))
}

func (s *scripted) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hits
	s.hits = nil
	return h
}

const fallbackConfig = `listen: 127.0.0.1:0
providers:
  - {name: p1, kind: openai, base_url: "{{UPSTREAM}}/p1", keys: [env:K1, env:K2]}
  - {name: p2, kind: openai-compatible, base_url: "{{UPSTREAM}}/p2", keys: [env:K3]}
  - {name: solo, kind: openai-compatible, base_url: "{{UPSTREAM}}/solo", keys: [env:K4]}
  - {name: dead, kind: openai-compatible, base_url: "http://127.0.0.1:1/v1", keys: [env:K5]}
clients:
  keys: [env:CLIENT_KEY]
retry: {max_attempts: 3, auth_cooldown: 1h, rate_limit_cooldown: 1h, max_retry_after: 2s}
models:
  - {name: a, targets: [{provider: p1, model: m1}, {provider: p2, model: m2}]}
  - {name: solo, targets: [{provider: solo, model: m}]}
  - {name: d, targets: [{provider: dead, model: m}, {provider: p2, model: m2}]}
`

var fallbackEnv = map[string]string{
	"K1": "key-one-0000000001", "K2": "key-two-0000000002", "K3": "key-three-00000003",
	"K4": "key-four-0000000004", "K5": "key-five-0000000005", "CLIENT_KEY": canaryClient,
}

const chatBody = `{"model":%q,"stream":%v,"messages":[{"role":"user","content":"hi"}]}`

func TestFallback(t *testing.T) {
	k1, k2, k3, k4 := fallbackEnv["K1"], fallbackEnv["K2"], fallbackEnv["K3"], fallbackEnv["K4"]
	tests := []struct {
		name     string
		script   map[string][]step
		model    string
		stream   bool
		requests int // sent in sequence; the checks apply to the last
		status   int
		code     string
		hits     []string // keys the upstream saw, over all requests
		body     string   // substring of the last body
	}{
		{name: "success uses first key", model: "a", requests: 1, status: 200, hits: []string{k1}, body: "from [REDACTED]"},
		{name: "round robin", model: "a", requests: 2, status: 200, hits: []string{k1, k2}},
		{name: "429 tries next key, then the key cools down", model: "a", requests: 2,
			script: map[string][]step{k1: {{status: 429}}}, status: 200, hits: []string{k1, k2, k2}},
		{name: "5xx falls back to next target", model: "a", requests: 1,
			script: map[string][]step{k1: {{status: 500}}, k2: {{status: 502}}}, status: 200, hits: []string{k1, k2, k3}},
		{name: "attempts are bounded", model: "a", requests: 1,
			script: map[string][]step{k1: {{status: 503}}, k2: {{status: 503}}, k3: {{status: 503}}}, status: 503, code: "upstream_unavailable", hits: []string{k1, k2, k3}},
		{name: "connect error falls back", model: "d", requests: 1, status: 200, hits: []string{k3}},
		{name: "401 cools the key down", model: "a", requests: 2,
			script: map[string][]step{k1: {{status: 401}}}, status: 200, hits: []string{k1, k2, k2}},
		{name: "400 is not retried", model: "a", requests: 1,
			script: map[string][]step{k1: {{status: 400}}}, status: 400, code: "upstream_bad_request", hits: []string{k1},
			// The upstream's own code ("scripted_400") is not a known provider
			// word: it is never shown (#15), the known type and the param are.
			body: "(status 400; type invalid_request_error, param messages)"},
		{name: "no retry after the first byte", model: "a", stream: true, requests: 1,
			script: map[string][]step{k1: {{stream: true, breakAfter: 2}}}, status: 200, hits: []string{k1}, body: "upstream_error"},
		{name: "stream failing at its first event falls back", model: "a", stream: true, requests: 1,
			script: map[string][]step{k1: {{stream: true, firstError: true}}, k2: {{stream: true}}}, status: 200, hits: []string{k1, k2}, body: "[DONE]"},
		{name: "short Retry-After is waited out", model: "solo", requests: 1,
			script: map[string][]step{k4: {{status: 429, headers: map[string]string{"Retry-After-Ms": "30"}}, {status: 200}}}, status: 200, hits: []string{k4, k4}},
		{name: "long Retry-After goes to the client", model: "solo", requests: 1,
			script: map[string][]step{k4: {{status: 429, headers: map[string]string{"Retry-After": "60"}}}}, status: 429, code: "upstream_rate_limited", hits: []string{k4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &scripted{script: tt.script}
			if up.script == nil {
				up.script = map[string][]step{}
			}
			h := newHarness(t, fallbackConfig, fallbackEnv, nil, newUpstream(t, up))
			var r result
			for i := 0; i < tt.requests; i++ {
				r = h.do("POST", "/v1/chat/completions", fmt.Sprintf(chatBody, tt.model, tt.stream))
			}
			if r.status != tt.status || tt.code != "" && r.errorCode() != tt.code {
				t.Fatalf("got %d %s, want %d %s: %s", r.status, r.errorCode(), tt.status, tt.code, r.body)
			}
			if tt.body != "" && !strings.Contains(r.body, tt.body) {
				t.Errorf("body lacks %q: %s", tt.body, r.body)
			}
			if strings.Contains(r.body, "scripted_") {
				t.Errorf("an unknown upstream error code is shown: %s", r.body)
			}
			if diff := cmp.Diff(tt.hits, up.take()); diff != "" {
				t.Errorf("keys used (-want +got):\n%s", diff)
			}
			if tt.name == "long Retry-After goes to the client" && r.header.Get("Retry-After") != "60" {
				t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
			}
			for _, k := range []string{k1, k2, k3, k4} {
				if strings.Contains(h.logs.String(), k) {
					t.Errorf("log holds a key value")
				}
			}
			if tt.name == "401 cools the key down" && !strings.Contains(h.logs.String(), `"key":"p1/env:K1"`) {
				t.Errorf("cooldown not logged by key id: %s", h.logs.String())
			}
		})
	}
}

func TestAllKeysCooling(t *testing.T) {
	k4 := fallbackEnv["K4"]
	up := &scripted{script: map[string][]step{k4: {{status: 401}}}}
	h := newHarness(t, fallbackConfig, fallbackEnv, nil, newUpstream(t, up))
	r := h.do("POST", "/v1/chat/completions", fmt.Sprintf(chatBody, "solo", false))
	if r.status != 502 || r.errorCode() != "upstream_auth_failed" {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/chat/completions", fmt.Sprintf(chatBody, "solo", false))
	if r.status != 503 || r.errorCode() != "upstream_unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("while cooling: %d %s %v", r.status, r.body, r.header)
	}
	if diff := cmp.Diff([]string{k4}, up.take()); diff != "" {
		t.Errorf("a cooling key must not be tried (-want +got):\n%s", diff)
	}
}
