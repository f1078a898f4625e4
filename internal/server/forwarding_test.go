package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a fake provider that keeps every request it receives.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r.Clone(context.Background()))
	rc.body = append(rc.body, string(b))
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, okBody(r.URL.Path, "x"))
}

const forwardConfig = `listen: 127.0.0.1:0
providers:
  - {name: oa, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:OA]}
  - {name: az, kind: azure-openai, base_url: "{{UPSTREAM}}", keys: [env:AZ], api_version: "2024-10-21"}
  - {name: an, kind: anthropic, base_url: "{{UPSTREAM}}/v1", keys: [env:AN], anthropic_betas: [prompt-caching-2024-07-31]}
clients:
  keys: [env:CLIENT_KEY]
models:
  - {name: oa, targets: [{provider: oa, model: gpt-4.1-mini}]}
  - {name: az, targets: [{provider: az, model: my-deployment}]}
  - {name: an, targets: [{provider: an, model: claude-sonnet-4-5}]}
`

// TestOutboundRequests checks what a provider receives: the configured URL,
// its own credential in its own header, allowlisted version/beta headers —
// and nothing of the client's credentials, cookies or other headers.
func TestOutboundRequests(t *testing.T) {
	up := &recorder{}
	env := map[string]string{"OA": "oa-key-00000001", "AZ": "az-key-00000002", "AN": "an-key-00000003", "CLIENT_KEY": canaryClient}
	h := newHarness(t, forwardConfig, env, nil, newUpstream(t, up))
	clientHeaders := []string{
		"Cookie", "session=" + canaryClient, "X-Forwarded-For", "10.0.0.1", "OpenAI-Organization", "org-evil",
		"Anthropic-Beta", "prompt-caching-2024-07-31,evil-beta-2025-01-01", "Anthropic-Version", "2023-06-01",
		"X-Custom", canaryClient, "Host", "evil.test",
	}
	tests := []struct {
		path, body         string
		url, header, value string
	}{
		{"/v1/chat/completions", `{"model":"oa","messages":[]}`, "/v1/chat/completions", "Authorization", "Bearer oa-key-00000001"},
		{"/v1/embeddings", `{"model":"az","input":"x"}`, "/openai/deployments/my-deployment/embeddings?api-version=2024-10-21", "Api-Key", "az-key-00000002"},
		{"/v1/responses", `{"model":"az","input":"x"}`, "/openai/v1/responses", "Api-Key", "az-key-00000002"},
		{"/v1/messages", `{"model":"an","max_tokens":5,"messages":[]}`, "/v1/messages", "X-Api-Key", "an-key-00000003"},
		{"/v1/messages/count_tokens", `{"model":"an","messages":[]}`, "/v1/messages/count_tokens", "X-Api-Key", "an-key-00000003"},
	}
	for _, tt := range tests {
		for _, auth := range [][]string{{"Authorization", "Bearer " + canaryClient}, {"Authorization", "", "X-Api-Key", canaryClient}} {
			r := h.do("POST", tt.path+"?key=evil&url=http://169.254.169.254/", tt.body, append(append([]string{}, auth...), clientHeaders...)...)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", tt.path, r.status, r.body)
			}
			up.mu.Lock()
			got := up.reqs[len(up.reqs)-1]
			up.mu.Unlock()
			if got.URL.RequestURI() != tt.url {
				t.Errorf("%s: upstream URL %s, want %s", tt.path, got.URL.RequestURI(), tt.url)
			}
			if got.Header.Get(tt.header) != tt.value {
				t.Errorf("%s: %s = %q", tt.path, tt.header, got.Header.Get(tt.header))
			}
			if got.Host == "evil.test" {
				t.Errorf("%s: client Host forwarded", tt.path)
			}
			for name, vals := range got.Header {
				for _, v := range vals {
					if strings.Contains(v, canaryClient) || strings.Contains(v, "evil") || strings.Contains(v, "10.0.0.1") {
						t.Errorf("%s: client header reached the provider: %s: %s", tt.path, name, v)
					}
				}
			}
			if strings.HasPrefix(tt.path, "/v1/messages") {
				if got.Header.Get("Anthropic-Beta") != "prompt-caching-2024-07-31" || got.Header.Get("Anthropic-Version") != "2023-06-01" {
					t.Errorf("anthropic headers: %v", got.Header)
				}
			}
		}
	}
}

// TestClientDisconnectCancelsUpstream: a client that leaves mid-stream
// cancels the provider request at once.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	cancelled := make(chan struct{})
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, streamEvents("chat", "x")[0])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(30 * time.Second):
		}
	})
	h := newHarness(t, reloadConfig, nil, map[string]string{"provider.key": "provider-key-000001", "client.key": canaryClient}, newUpstream(t, up))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"fast","stream":true}`))
	req.Header.Set("Authorization", "Bearer "+canaryClient)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(resp.Body).ReadString('\n'); !strings.HasPrefix(line, "data:") {
		t.Fatalf("first line %q", line)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled")
	}
	waitFor(t, "access log", func() bool { return strings.Contains(h.logs.String(), `"code":"client_closed"`) })
}
