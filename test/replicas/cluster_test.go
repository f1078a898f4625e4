package replicas

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/pgtest"
	"github.com/keyward/keyward/internal/redistest"
)

// startTimeout bounds a replica's start and a CLI command.
const startTimeout = 30 * time.Second

// build is the keyward binary, built once for the package (and only
// when a test gets past its services' checks).
var build struct {
	once sync.Once
	dir  string
	path string
	out  []byte
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	pgtest.Close()
	os.Exit(code)
}

// binary builds ./cmd/keyward from the module root, without -race: the
// rate test needs the replicas fast.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "keyward-replicas-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "keyward")
		cmd := exec.Command("go", "build", "-o", build.path, "./cmd/keyward")
		cmd.Dir = filepath.Join("..", "..")
		build.out, build.err = cmd.CombinedOutput()
	})
	if build.err != nil {
		t.Fatalf("go build ./cmd/keyward: %v\n%s", build.err, build.out)
	}
	return build.path
}

// setup is what a test's cluster runs with.
type setup struct {
	// config is the YAML after the common part (listen, log, auth, store,
	// redis): providers, models, pricing, plans, timeouts.
	config string
	// redis is more fields of the redis mapping ("lease_ttl: 2s").
	redis string
	// env is more environment (provider keys), each value a secret.
	env map[string]string
	// logLevel is log.level (default info: every request is logged).
	logLevel string
}

// cluster is one configuration on a PostgreSQL schema and a Redis prefix
// of the test's own, and the replicas and CLI commands run on it. Every
// process's output is checked, when the test ends, for the secrets it
// was given.
type cluster struct {
	t      *testing.T
	bin    string
	cfg    string
	env    []string
	client *http.Client
	admin  string // the admin API's key
	info   bool   // the replicas log at level info

	mu      sync.Mutex
	secrets map[string]string // what it is → value
	outputs []output
}

// output is what a process wrote, looked at for secrets when the test
// ends.
type output struct {
	who  string
	text func() string
}

// newCluster writes the configuration, migrates the store with the
// binary and returns the cluster, no replica started yet.
func newCluster(t *testing.T, s setup) *cluster {
	t.Helper()
	_, dsn := pgtest.Schema(t)
	prefix := redistest.Prefix(t, redistest.Client(t))
	bin := binary(t)

	dsn, dbPassword := withPassword(dsn, "replica-db-pw-"+pgtest.RandomName(""))
	if s.logLevel == "" {
		s.logLevel = "info"
	}
	c := &cluster{t: t, bin: bin, admin: "kw-admin-" + pgtest.RandomName(""), info: s.logLevel == "info", secrets: map[string]string{}}
	c.secrets["the pepper"] = "replica-pepper-" + pgtest.RandomName("")
	c.secrets["the admin key"] = c.admin
	if dbPassword != "" {
		c.secrets["the PostgreSQL password"] = dbPassword
	}
	if u, err := url.Parse(redistest.URL()); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			c.secrets["the Redis password"] = pw
		}
	}
	vars := map[string]string{"PEPPER": c.secrets["the pepper"], "ADMIN_KEY": c.admin, "DATABASE_URL": dsn, "REDIS_URL": redistest.URL()}
	for k, v := range s.env {
		vars[k] = v
		c.secrets[k] = v
	}
	c.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range vars {
		c.env = append(c.env, k+"="+v)
	}
	redisFields := ""
	if s.redis != "" {
		redisFields = ", " + s.redis
	}
	c.cfg = filepath.Join(t.TempDir(), "keyward.yaml")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
log: {level: %s}
auth: {pepper: env:PEPPER, admin_keys: [env:ADMIN_KEY]}
store: {driver: postgres, dsn: env:DATABASE_URL}
redis: {url: env:REDIS_URL, prefix: %q%s}
`, s.logLevel, prefix, redisFields) + s.config
	if err := os.WriteFile(c.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// Registered before any process starts, so it runs after they have
	// all been stopped.
	t.Cleanup(c.checkSecrets)
	c.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, DisableCompression: true}}
	t.Cleanup(c.client.CloseIdleConnections)

	if out := c.cli("store", "migrate", "--config", c.cfg); !strings.Contains(out, "store (postgres): migrated") {
		t.Fatalf("store migrate printed %q", out)
	}
	return c
}

// withPassword puts pw in a URL DSN that has none (the test server trusts
// local connections and never asks for it), so the tests can look for it
// in every output; it returns the DSN and its password ("" for a
// key=value DSN without one).
func withPassword(dsn, pw string) (string, string) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || u.User == nil {
		return dsn, ""
	}
	if p, ok := u.User.Password(); ok {
		return dsn, p
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), pw
}

func (c *cluster) addOutput(who string, text func() string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outputs = append(c.outputs, output{who, text})
}

func (c *cluster) addSecret(what, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secrets[what] = v
}

// checkSecrets fails the test if any process wrote a secret it was given.
func (c *cluster) checkSecrets() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.outputs {
		text := o.text()
		for what, v := range c.secrets {
			if strings.Contains(text, v) {
				c.t.Errorf("%s wrote %s", o.who, what)
			}
		}
	}
}

// cli runs the binary with the cluster's environment and returns its
// standard output, failing the test if it fails.
func (c *cluster) cli(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, &stdout, &stderr
	err := cmd.Run()
	name := "keyward " + strings.Join(args[:min(2, len(args))], " ")
	c.addOutput(name+" (stderr)", stderr.String)
	if err != nil {
		c.t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	return stdout.String()
}

// createKey makes a virtual key on plan with the binary and returns its
// id and the key, which joins the secrets no replica may log.
func (c *cluster) createKey(plan string) (id, key string) {
	c.t.Helper()
	out := c.cli("keys", "create", "--config", c.cfg, "--name", "app-"+plan, "--plan", plan, "--json")
	var v struct{ ID, Key string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ID == "" || v.Key == "" {
		c.t.Fatalf("keys create printed %q (%v)", out, err)
	}
	c.addSecret("the virtual key "+v.ID, v.Key)
	return v.ID, v.Key
}

// replica is one `keyward serve` process.
type replica struct {
	name   string
	addr   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{}
	once   sync.Once
}

func (r *replica) url(path string) string { return "http://" + r.addr + path }

// start starts n replicas named A, B, C…, each a `keyward serve` of the
// cluster's configuration, and waits until each is ready. They are
// stopped when the test ends.
func (c *cluster) start(n int) []*replica {
	c.t.Helper()
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = c.startOne(string(rune('A' + i)))
	}
	return rs
}

func (c *cluster) startOne(name string) *replica {
	t := c.t
	t.Helper()
	r := &replica{name: name, stdout: new(syncBuffer), stderr: new(syncBuffer), exited: make(chan struct{})}
	r.cmd = exec.Command(c.bin, "serve", "--config", c.cfg)
	r.cmd.Env, r.cmd.Stdout, r.cmd.Stderr = c.env, r.stdout, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start replica %s: %v", name, err)
	}
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	c.addOutput("replica "+name, func() string { return r.stdout.String() + r.stderr.String() })
	t.Cleanup(func() {
		c.stop(r)
		for _, line := range strings.Split(r.stderr.String(), "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Errorf("replica %s logged an error: %s", name, line)
			}
		}
		if t.Failed() {
			t.Logf("replica %s's log (last 4 KB):\n%s", name, tail(r.stderr.String(), 4<<10))
		}
	})

	deadline := time.Now().Add(startTimeout)
	for r.addr == "" {
		r.addr = between(r.stdout.String(), "keyward is listening on http://", "\n")
		select {
		case <-r.exited:
			t.Fatalf("replica %s exited before listening: %s\n%s", name, r.cmd.ProcessState, r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s did not report its address:\n%s", name, r.stderr.String())
		}
	}
	for {
		status, body := c.do(http.MethodGet, r, "/readyz", "", "")
		if status == http.StatusOK && strings.Contains(body, `"status":"ready"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s is not ready: %d %s", name, status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c.info && !strings.Contains(r.stderr.String(), "kept in Redis") {
		t.Fatalf("replica %s does not keep its limits in Redis:\n%s", name, r.stderr.String())
	}
	return r
}

// stop stops replicas (replica.stop), after closing the client's idle
// connections: http.Server.Shutdown waits 5 s for a connection that
// never carried a request, and the client opens some of those under
// load.
func (c *cluster) stop(rs ...*replica) {
	c.client.CloseIdleConnections()
	for _, r := range rs {
		r.stop()
	}
}

// stop ends the process with SIGTERM (SIGKILL if it has not exited in
// 15 s) and waits for it. It does nothing the second time.
func (r *replica) stop() {
	r.once.Do(func() {
		select {
		case <-r.exited:
			return
		default:
		}
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(15 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	})
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (r *replica) kill() {
	r.once.Do(func() {
		_ = r.cmd.Process.Kill()
		<-r.exited
	})
}

// do sends a request to a replica and returns its status and body; a
// transport error fails the test.
func (c *cluster) do(method string, r *replica, path, bearer, body string) (int, string) {
	c.t.Helper()
	resp, err := c.send(context.Background(), method, r, path, bearer, body)
	if err != nil {
		c.t.Fatalf("%s %s on replica %s: %v", method, path, r.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s on replica %s: reading the body: %v", method, path, r.name, err)
	}
	return resp.StatusCode, string(b)
}

// send sends a request; the caller closes the response's body.
func (c *cluster) send(ctx context.Context, method string, r *replica, path, bearer, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.url(path), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.client.Do(req)
}

// errorCode is the code of an error body, OpenAI's shape ("" if the body
// is not one).
func errorCode(body string) string {
	var v struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &v)
	return v.Error.Code
}

// stream is a streaming response being read.
type stream struct {
	resp *http.Response
	rd   *bufio.Reader
}

// openStream sends a streaming request and, when it is admitted, reads
// its first event; a refusal's status and body are returned instead.
func (c *cluster) openStream(ctx context.Context, r *replica, key, body string) (*stream, int, string, error) {
	resp, err := c.send(ctx, http.MethodPost, r, "/v1/chat/completions", key, body)
	if err != nil {
		return nil, 0, "", err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, string(b), err
	}
	s := &stream{resp: resp, rd: bufio.NewReader(resp.Body)}
	if _, err := s.event(); err != nil {
		resp.Body.Close()
		return nil, resp.StatusCode, "", fmt.Errorf("first event: %w", err)
	}
	return s, resp.StatusCode, "", nil
}

// event reads the stream's next data line.
func (s *stream) event() (string, error) {
	for {
		line, err := s.rd.ReadString('\n')
		if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok {
			return data, nil
		}
		if err != nil {
			return "", err
		}
	}
}

// finish reads the rest of the stream and reports whether it ended with
// [DONE].
func (s *stream) finish() (bool, error) {
	defer s.resp.Body.Close()
	done := false
	for {
		data, err := s.event()
		if err == io.EOF {
			return done, nil
		}
		if err != nil {
			return done, err
		}
		done = data == "[DONE]"
	}
}

// syncBuffer is a bytes.Buffer a process writes to while the test reads.
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

// between is the text of s between the first start and the end after it.
func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(rest, end)
	if !ok {
		return ""
	}
	return v
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// conn is a keep-alive HTTP/1.1 connection to a replica, written to by
// hand and read with http.ReadResponse: under the race detector,
// net/http's Transport costs the test as much CPU as the three replicas
// spend serving the requests, and the rate test needs them sent fast.
type conn struct {
	nc net.Conn
	br *bufio.Reader
}

func (c *cluster) dial(r *replica) *conn {
	c.t.Helper()
	nc, err := net.Dial("tcp", r.addr)
	if err != nil {
		c.t.Fatalf("dial replica %s: %v", r.name, err)
	}
	c.t.Cleanup(func() { nc.Close() })
	return &conn{nc: nc, br: bufio.NewReader(nc)}
}

// request is an HTTP/1.1 request's bytes.
func request(method string, r *replica, path, bearer, body string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n", method, path, r.addr, bearer)
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.Bytes()
}

// do sends a request and reads its response.
func (c *conn) do(req []byte) (int, []byte, error) {
	if _, err := c.nc.Write(req); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
