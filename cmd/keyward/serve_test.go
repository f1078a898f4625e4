package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests start the real serve (http.Server, signal handling, file
// watching) on 127.0.0.1:0. They are not parallel: serve registers for
// SIGHUP while it runs and the reload tests send one to the process.

// waitFor bounds every wait on the server; it is a deadline, not a timing
// expectation.
const waitFor = 5 * time.Second

// syncBuffer is an io.Writer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is one serve call in a goroutine.
type running struct {
	addr           string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

func (r *running) url(path string) string { return "http://" + r.addr + path }

// startServe runs serve until the test ends (or stop is called) and waits
// for it to listen.
func startServe(t *testing.T, f serveFlags, environ map[string]string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: new(syncBuffer), stderr: new(syncBuffer), cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	e := env{getenv: mapEnv(environ), stdout: r.stdout, stderr: r.stderr}
	go func() { r.done <- serve(ctx, e, f, ready) }()
	select {
	case r.addr = <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("serve returned before listening: %v", err)
	case <-time.After(waitFor):
		cancel()
		t.Fatal("serve did not report its address")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitFor):
			t.Error("serve did not return after its context ended")
		}
	})
	return r
}

// stop cancels serve's context and returns what serve returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(waitFor):
		t.Fatal("serve did not return after its context ended")
		return nil
	}
}

// poll calls cond until it reports true or the deadline passes; the last
// message explains the failure.
func poll(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: gave up after %v: %s", what, waitFor, msg)
		}
		<-tick.C
	}
}

var testClient = &http.Client{Timeout: waitFor}

// do sends a request and returns the status and body.
func do(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	resp, err := send(method, url, key, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

func send(method, url, key, body string) (*http.Response, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return testClient.Do(req)
}

// chatContent decodes the assistant text of a chat completion.
func chatContent(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Choices) != 1 {
		t.Fatalf("not a chat completion (%v): %s", err, body)
	}
	return v.Choices[0].Message.Content
}

// modelIDs lists the ids of a GET /v1/models answer.
func modelIDs(body string) ([]string, error) {
	var v struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range v.Data {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// quickstartCopy copies the quickstart example into a temporary directory,
// with edit applied to the YAML, and returns the config path and the client
// key.
func quickstartCopy(t *testing.T, edit func(string) string) (path, key string) {
	t.Helper()
	dir := t.TempDir()
	key = readFile(t, quickstartKey)
	writeFile(t, dir, "quickstart.key", key)
	path = writeFile(t, dir, "quickstart.yaml", edit(readFile(t, quickstartConfig)))
	return path, strings.TrimSpace(key)
}

func jsonLogs(text string) func(string) string {
	return func(s string) string {
		out := strings.Replace(s, "format: text", "format: json", 1)
		if out == s {
			panic("quickstart.yaml no longer sets log.format: text; update the test")
		}
		return out + text
	}
}

const chatBody = `{"model":"fast","messages":[{"role":"user","content":"Hello"}]}`

func TestServeQuickstart(t *testing.T) {
	key := strings.TrimSpace(readFile(t, quickstartKey))
	r := startServe(t, serveFlags{config: quickstartConfig, listen: "127.0.0.1:0"}, nil)

	wantBanner := `keyward is listening on http://` + r.addr + `
models: [fast claude-sonnet]
try:
  curl http://` + r.addr + `/v1/chat/completions -H "Authorization: Bearer $(cat ../../examples/quickstart.key)" -H "Content-Type: application/json" -d '{"model":"fast","messages":[{"role":"user","content":"Hello"}]}'
`
	if diff := cmp.Diff(wantBanner, r.stdout.String()); diff != "" {
		t.Errorf("banner mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		name       string
		method     string
		path       string
		key        string
		body       string
		wantStatus int
		wantText   string // chat content, when not empty
	}{
		{"chat with the quickstart key", "POST", "/v1/chat/completions", key, chatBody, 200, "This is a mock response from keyward for model mock-fast."},
		{"chat without a key", "POST", "/v1/chat/completions", "", chatBody, 401, ""},
		{"chat with a wrong key", "POST", "/v1/chat/completions", "kw_wrong_key_0000000000000", chatBody, 401, ""},
		{"models", "GET", "/v1/models", key, "", 200, ""},
		{"healthz", "GET", "/healthz", "", "", 200, ""},
		{"readyz", "GET", "/readyz", "", "", 200, ""},
		{"unknown path", "GET", "/nope", "", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, tt.method, r.url(tt.path), tt.key, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", status, tt.wantStatus, body)
			}
			if tt.wantText != "" {
				if diff := cmp.Diff(tt.wantText, chatContent(t, body)); diff != "" {
					t.Errorf("content mismatch (-want +got):\n%s", diff)
				}
			}
			if strings.Contains(body, key) {
				t.Errorf("response contains the client key: %s", body)
			}
		})
	}

	if err := r.stop(t); err != nil {
		t.Fatalf("serve returned %v after cancel, want nil", err)
	}
	logs := r.stderr.String()
	if !strings.Contains(logs, "keyward listening") || !strings.Contains(logs, "path=/v1/chat/completions") {
		t.Errorf("stderr lacks the startup or access log lines:\n%s", logs)
	}
	for where, text := range map[string]string{"stdout": r.stdout.String(), "stderr": logs} {
		if strings.Contains(text, key) {
			t.Errorf("%s contains the client key", where)
		}
	}
}

// TestServeJSONLogs runs the quickstart with JSON logs and checks every
// line, including a request that carries the client key in its body.
func TestServeJSONLogs(t *testing.T) {
	cfg, key := quickstartCopy(t, jsonLogs(""))
	r := startServe(t, serveFlags{config: cfg, listen: "127.0.0.1:0"}, nil)

	if status, body := do(t, "POST", r.url("/v1/chat/completions"), key, chatBody); status != 200 {
		t.Fatalf("chat: %d %s", status, body)
	}
	// The key echoed back as a model name must be scrubbed from the answer
	// and from the log.
	status, body := do(t, "POST", r.url("/v1/chat/completions"), key, `{"model":"`+key+`","messages":[{"role":"user","content":"Hello"}]}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "model_not_found") || strings.Contains(body, key) {
		t.Errorf("unknown model named like the key: %d %s", status, body)
	}
	// The access log records the path as sent; the redacting log handler
	// must catch a key there.
	status, body = do(t, "GET", r.url("/v1/models/"+key), key, "")
	if status != http.StatusNotFound || strings.Contains(body, key) {
		t.Errorf("key in the path: %d %s", status, body)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("serve returned %v after cancel, want nil", err)
	}

	logs := r.stderr.String()
	if strings.Contains(logs, key) {
		t.Errorf("logs contain the client key:\n%s", logs)
	}
	var msgs []string
	statuses := map[float64]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(logs, "\n"), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("stderr line %d is not JSON (%v): %q", i+1, err, line)
			continue
		}
		msg, _ := v["msg"].(string)
		msgs = append(msgs, msg)
		if msg == "request" {
			s, _ := v["status"].(float64)
			statuses[s] = true
		}
	}
	for _, want := range []string{"keyward listening", "request", "shutting down; draining in-flight requests"} {
		if !strings.Contains(strings.Join(msgs, "\n"), want) {
			t.Errorf("no log line %q in %q", want, msgs)
		}
	}
	if diff := cmp.Diff(map[float64]bool{200: true, 400: true, 404: true}, statuses); diff != "" {
		t.Errorf("access log statuses (-want +got):\n%s", diff)
	}
}

func TestServeInsecureNoAuth(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "keyward.yaml", `
providers:
  - {name: mock, kind: mock}
models:
  - {name: fast, targets: [{provider: mock, model: m}]}
`)
	r := startServe(t, serveFlags{config: cfg, listen: "127.0.0.1:0", insecureNoAuth: true}, nil)
	if !strings.HasPrefix(r.stdout.String(), "keyward is listening on http://"+r.addr+"\n") {
		t.Errorf("banner %q does not name %s", r.stdout.String(), r.addr)
	}
	if strings.Contains(r.stdout.String(), "Authorization") {
		t.Errorf("banner without client keys shows an Authorization header: %q", r.stdout.String())
	}
	status, body := do(t, "POST", r.url("/v1/chat/completions"), "", chatBody)
	if status != 200 {
		t.Fatalf("anonymous chat: %d %s", status, body)
	}
	if got := chatContent(t, body); !strings.Contains(got, "mock response") {
		t.Errorf("content %q", got)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
}

// TestServeRunEndToEnd starts serve through run, as main does, and stops it
// by cancelling the context.
func TestServeRunEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := new(syncBuffer), new(syncBuffer)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, mapEnv(map[string]string{"KEYWARD_CONFIG": quickstartConfig}), stdout, stderr)
	}()
	var addr string
	poll(t, "banner", func() (bool, string) {
		line, _, _ := strings.Cut(stdout.String(), "\n")
		var ok bool
		addr, ok = strings.CutPrefix(line, "keyward is listening on http://")
		return ok, fmt.Sprintf("stdout %q", stdout.String())
	})
	if status, body := do(t, "GET", "http://"+addr+"/healthz", "", ""); status != 200 {
		t.Errorf("healthz: %d %s", status, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(waitFor):
		t.Fatal("run did not return after cancel")
	}
}

// TestServeDrainsStream cancels serve while a stream is in flight: the
// stream must finish whole, serve must return nil only after it, and the
// gateway must stop being ready.
func TestServeDrainsStream(t *testing.T) {
	cfg, key := quickstartCopy(t, jsonLogs(""))
	r := startServe(t, serveFlags{config: cfg, listen: "127.0.0.1:0"}, nil)

	resp, err := send("POST", r.url("/v1/chat/completions"), key, `{"model":"fast","stream":true,"messages":[{"role":"user","content":"Hello"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "data: ") {
		t.Fatalf("first stream line %q, %v", first, err)
	}

	r.cancel()
	// New connections see the drain: 503 from /readyz, or refused once the
	// listener is closed.
	noKeepAlive := &http.Client{Timeout: waitFor, Transport: &http.Transport{DisableKeepAlives: true}}
	poll(t, "readyz during drain", func() (bool, string) {
		resp, err := noKeepAlive.Get(r.url("/readyz"))
		if err != nil {
			return true, ""
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable, fmt.Sprintf("status %d", resp.StatusCode)
	})

	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(br)
		rest <- first + string(b)
	}()
	var serveErr error
	select {
	case serveErr = <-r.done:
		r.done <- serveErr
	case <-time.After(waitFor):
		t.Fatal("serve did not return while draining a stream")
	}
	// The access log line is written when the handler returns; serve must
	// not return before it.
	logsAtReturn := r.stderr.String()
	if serveErr != nil {
		t.Errorf("serve returned %v after cancel, want nil", serveErr)
	}

	var text string
	select {
	case stream := <-rest:
		if !strings.HasSuffix(stream, "data: [DONE]\n\n") {
			t.Errorf("stream was cut short:\n%s", stream)
		}
		for _, line := range strings.Split(stream, "\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok || data == "[DONE]" {
				continue
			}
			var chunk struct {
				Choices []struct {
					Delta struct {
						Content string `json:"content"`
					} `json:"delta"`
				} `json:"choices"`
			}
			if err := json.Unmarshal([]byte(data), &chunk); err != nil {
				t.Errorf("bad chunk %q: %v", data, err)
			}
			for _, c := range chunk.Choices {
				text += c.Delta.Content
			}
		}
	case <-time.After(waitFor):
		t.Fatal("stream did not end after serve returned")
	}
	if want := "This is a mock response from keyward for model mock-fast."; text != want {
		t.Errorf("streamed text %q, want %q", text, want)
	}
	if !strings.Contains(logsAtReturn, `"stream":true`) {
		t.Errorf("when serve returned, the stream's access log line was not written yet:\n%s", logsAtReturn)
	}

	if _, err := noKeepAlive.Get(r.url("/readyz")); err == nil {
		t.Error("/readyz still answers after serve returned")
	}
}

// upstream is an OpenAI-compatible fake that records the credential of
// every request.
type upstream struct {
	mu   sync.Mutex
	auth []string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	u.mu.Lock()
	u.auth = append(u.auth, r.Header.Get("Authorization"))
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"from upstream"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`)
}

func (u *upstream) last() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.auth) == 0 {
		return ""
	}
	return u.auth[len(u.auth)-1]
}

// reloadConfig has the mock and an upstream provider whose key is a file.
func reloadConfig(upstreamURL, pollInterval, extraModels string) string {
	return `listen: 127.0.0.1:0
providers:
  - {name: mock, kind: mock}
  - {name: up, kind: openai-compatible, base_url: "` + upstreamURL + `/v1", keys: [file:provider.key]}
models:
  - {name: fast, targets: [{provider: mock, model: mock-fast}]}
` + extraModels + `clients:
  keys: [file:client.key]
reload:
  poll_interval: ` + pollInterval + `
`
}

// replaceFile swaps a file's content atomically, as a secret mount or
// editor would, so the watcher never reads half a key.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestServeReloadOnSIGHUP(t *testing.T) {
	up := new(upstream)
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	dir := t.TempDir()
	clientKey, providerKey := "kw_test_client_sighup_000000001", "upstream-provider-key-sighup-01"
	writeFile(t, dir, "client.key", clientKey)
	writeFile(t, dir, "provider.key", providerKey)
	// Polling off: only the signal can bring the new model in.
	cfg := writeFile(t, dir, "keyward.yaml", reloadConfig(upSrv.URL, "0s", ""))

	// A SIGHUP the process does not handle would kill the test binary;
	// holding our own registration turns a serve bug into a test failure.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	r := startServe(t, serveFlags{config: cfg}, nil)
	status, body := do(t, "GET", r.url("/v1/models"), clientKey, "")
	if ids, err := modelIDs(body); status != 200 || err != nil || !cmp.Equal(ids, []string{"fast"}) {
		t.Fatalf("models before reload: %d %s", status, body)
	}

	replaceFile(t, cfg, reloadConfig(upSrv.URL, "0s", "  - {name: smart, targets: [{provider: up, model: m}]}\n"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll(t, "new model after SIGHUP", func() (bool, string) {
		status, body := do(t, "GET", r.url("/v1/models"), clientKey, "")
		ids, err := modelIDs(body)
		return status == 200 && err == nil && cmp.Equal(ids, []string{"fast", "smart"}), fmt.Sprintf("%d %s", status, body)
	})

	status, body = do(t, "POST", r.url("/v1/chat/completions"), clientKey, `{"model":"smart","messages":[{"role":"user","content":"Hello"}]}`)
	if status != 200 || chatContent(t, body) != "from upstream" {
		t.Fatalf("chat to the reloaded model: %d %s", status, body)
	}
	if got, want := up.last(), "Bearer "+providerKey; got != want {
		t.Errorf("upstream saw Authorization %q, want %q", got, want)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
	for where, text := range map[string]string{"stdout": r.stdout.String(), "stderr": r.stderr.String()} {
		for name, s := range map[string]string{"client key": clientKey, "provider key": providerKey} {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the %s", where, name)
			}
		}
	}
	if !strings.Contains(r.stderr.String(), `"reason":"SIGHUP"`) {
		t.Errorf("no reload log line with reason SIGHUP:\n%s", r.stderr.String())
	}
}

// TestServeReloadKeepsRunningConfigOnError: a SIGHUP with a broken file keeps the running
// configuration.
func TestServeReloadKeepsRunningConfigOnError(t *testing.T) {
	up := new(upstream)
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	dir := t.TempDir()
	clientKey := "kw_test_client_badreload_00001"
	writeFile(t, dir, "client.key", clientKey)
	writeFile(t, dir, "provider.key", "upstream-provider-key-bad-0001")
	cfg := writeFile(t, dir, "keyward.yaml", reloadConfig(upSrv.URL, "0s", ""))
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	r := startServe(t, serveFlags{config: cfg}, nil)
	replaceFile(t, cfg, reloadConfig(upSrv.URL, "0s", "  - {name: broken, targets: [{provider: nobody, model: m}]}\n"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll(t, "reload failure logged", func() (bool, string) {
		return strings.Contains(r.stderr.String(), "reload failed"), r.stderr.String()
	})
	status, body := do(t, "GET", r.url("/v1/models"), clientKey, "")
	if ids, err := modelIDs(body); status != 200 || err != nil || !cmp.Equal(ids, []string{"fast"}) {
		t.Errorf("models after a failed reload: %d %s", status, body)
	}
	if status, body := do(t, "GET", r.url("/readyz"), "", ""); status != 200 {
		t.Errorf("readyz after a failed reload: %d %s", status, body)
	}
}

func TestServeReloadOnSecretFileChange(t *testing.T) {
	up := new(upstream)
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	dir := t.TempDir()
	clientKey := "kw_test_client_rotate_00000001"
	oldKey, newKey := "upstream-provider-key-old-0001", "upstream-provider-key-new-0002"
	writeFile(t, dir, "client.key", clientKey)
	keyPath := writeFile(t, dir, "provider.key", oldKey+"\n")
	cfg := writeFile(t, dir, "keyward.yaml", reloadConfig(upSrv.URL, "20ms", "  - {name: smart, targets: [{provider: up, model: m}]}\n"))

	r := startServe(t, serveFlags{config: cfg}, nil)
	chat := `{"model":"smart","messages":[{"role":"user","content":"Hello"}]}`
	if status, body := do(t, "POST", r.url("/v1/chat/completions"), clientKey, chat); status != 200 {
		t.Fatalf("chat: %d %s", status, body)
	}
	if got, want := up.last(), "Bearer "+oldKey; got != want {
		t.Fatalf("upstream saw %q, want %q", got, want)
	}

	replaceFile(t, keyPath, newKey+"\n")
	poll(t, "rotated key reaches the upstream", func() (bool, string) {
		status, body := do(t, "POST", r.url("/v1/chat/completions"), clientKey, chat)
		return status == 200 && up.last() == "Bearer "+newKey, fmt.Sprintf("%d %s; upstream saw %q", status, body, up.last())
	})
	// The log scrubber follows the reload: the new key is masked even where
	// a client puts it in the path.
	for _, k := range []string{newKey, clientKey} {
		if status, body := do(t, "GET", r.url("/v1/models/"+k), clientKey, ""); status != http.StatusNotFound {
			t.Errorf("GET /v1/models/<key>: %d %s", status, body)
		}
	}
	if err := r.stop(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
	logs := r.stderr.String()
	if !strings.Contains(logs, `"reason":"secret file changed"`) {
		t.Errorf("no reload log line for the changed file:\n%s", logs)
	}
	for name, s := range map[string]string{"client key": clientKey, "old provider key": oldKey, "new provider key": newKey} {
		if strings.Contains(logs, s) || strings.Contains(r.stdout.String(), s) {
			t.Errorf("output contains the %s", name)
		}
	}
}

// TestServeHostileClients talks raw TCP to serve's http.Server with tight
// header limits.
func TestServeHostileClients(t *testing.T) {
	cfg, _ := quickstartCopy(t, jsonLogs(`
timeouts:
  read_header: 200ms
`))
	// quickstart already has a limits section.
	raw := readFile(t, cfg)
	if !strings.Contains(raw, "\nlimits:\n") {
		t.Fatal("quickstart.yaml no longer has a limits section; update the test")
	}
	raw = strings.Replace(raw, "\nlimits:\n", "\nlimits:\n  max_header_bytes: 4096\n", 1)
	if err := os.WriteFile(cfg, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startServe(t, serveFlags{config: cfg, listen: "127.0.0.1:0"}, nil)

	dial := func(t *testing.T) net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", r.addr, waitFor)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// hangUp reads until the server hangs up; our own deadline firing
	// first means the server kept the connection open.
	hangUp := func(c net.Conn) error {
		_ = c.SetReadDeadline(time.Now().Add(waitFor))
		b, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("server kept a stalled connection open for %v", waitFor)
		}
		if bytes.Contains(b, []byte("200 OK")) {
			return fmt.Errorf("server answered an incomplete request: %q", b)
		}
		return nil
	}

	stalled := []struct {
		name string
		sent string
	}{
		{"nothing", ""},
		{"partial request line", "GET /heal"},
		{"request line without headers end", "GET /healthz HTTP/1.1\r\n"},
		{"partial header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaa"},
	}
	for _, tt := range stalled {
		t.Run("stall/"+tt.name, func(t *testing.T) {
			c := dial(t)
			if _, err := io.WriteString(c, tt.sent); err != nil {
				t.Fatal(err)
			}
			if err := hangUp(c); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("drip", func(t *testing.T) {
		// A slowloris client keeps sending a byte at a time; the header
		// timeout is a deadline for the whole header, not per read.
		c := dial(t)
		closed := make(chan error, 1)
		go func() { closed <- hangUp(c) }()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		req := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: " + strings.Repeat("a", 1000)
		for i := 0; ; i++ {
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
				return
			case <-tick.C:
				if i < len(req) {
					_, _ = c.Write([]byte{req[i]})
				}
			}
		}
	})

	headers := []struct {
		name       string
		size       int
		wantStatus int
	}{
		{"headers within the limit", 2000, http.StatusOK},
		{"headers over the limit", 16 << 10, http.StatusRequestHeaderFieldsTooLarge},
		{"many headers over the limit", -1, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range headers {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t)
			_ = c.SetDeadline(time.Now().Add(waitFor))
			var req strings.Builder
			req.WriteString("GET /healthz HTTP/1.1\r\nHost: x\r\n")
			if tt.size >= 0 {
				req.WriteString("X-Big: " + strings.Repeat("a", tt.size) + "\r\n")
			} else {
				for i := range 400 {
					fmt.Fprintf(&req, "X-H%d: %s\r\n", i, strings.Repeat("b", 40))
				}
			}
			req.WriteString("Connection: close\r\n\r\n")
			if _, err := io.WriteString(c, req.String()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}

	// The server survives all of it.
	if status, body := do(t, "GET", r.url("/healthz"), "", ""); status != 200 {
		t.Errorf("healthz after hostile clients: %d %s", status, body)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
}
