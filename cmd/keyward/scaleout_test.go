package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyward/keyward/internal/pgtest"
	"github.com/keyward/keyward/internal/redistest"
	"github.com/keyward/keyward/internal/store"
)

// scaleOutServices returns a PostgreSQL DSN with a schema of its own and
// a Redis URL with a key prefix of its own, both emptied after the test
// (pgtest, redistest: skipped without the services, except with CI=true).
func scaleOutServices(t *testing.T) (dsn, redisURL, prefix string) {
	t.Helper()
	_, dsn = pgtest.Schema(t)
	return dsn, redistest.URL(), redistest.Prefix(t, redistest.Client(t))
}

// TestScaleOutTwoReplicas: two keyward processes' worth of serve share
// PostgreSQL (keys, usage) and Redis (limits): a key made with the CLI
// against Postgres works on both, its rpm of 5 holds across the two
// together, and its revocation reaches both within the key cache's second.
func TestScaleOutTwoReplicas(t *testing.T) {
	dsn, redisURL, prefix := scaleOutServices(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "keyward.yaml", fmt.Sprintf(`listen: 127.0.0.1:0
providers: [{name: m, kind: mock}]
models: [{name: fast, targets: [{provider: m, model: mock-fast}]}]
auth: {pepper: env:PEPPER}
plans: [{name: p, rpm: 5, concurrency: 10}]
store: {driver: postgres, dsn: env:DATABASE_URL}
redis: {url: env:REDIS_URL, prefix: %q}
`, prefix))
	environ := map[string]string{"PEPPER": "scale-out-test-pepper-0001", "DATABASE_URL": dsn, "REDIS_URL": redisURL}
	cli := func(args ...string) runResult {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, mapEnv(environ), &stdout, &stderr)
		return runResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
	}
	if r := cli("store", "migrate", "--config", cfg); r.err != nil || !strings.Contains(r.stdout, "store (postgres): migrated") {
		t.Fatalf("store migrate: %v %q %s", r.err, r.stdout, r.stderr)
	}
	id, key := createKey(t, cfg, environ, "p")

	a := startServe(t, serveFlags{config: cfg}, environ)
	b := startServe(t, serveFlags{config: cfg}, environ)
	for _, rep := range []*running{a, b} {
		if !strings.Contains(rep.stderr.String(), "kept in Redis") {
			t.Errorf("serve did not say where its limits are:\n%s", rep.stderr.String())
		}
	}
	body := `{"model":"fast","messages":[{"role":"user","content":"hi"}]}`
	var codes []int
	for i := 0; i < 8; i++ {
		rep := a
		if i%2 == 1 {
			rep = b
		}
		code, _ := do(t, "POST", rep.url("/v1/chat/completions"), key, body)
		codes = append(codes, code)
	}
	ok := 0
	for _, c := range codes {
		if c == 200 {
			ok++
		} else if c != 429 {
			t.Errorf("status %d", c)
		}
	}
	if ok != 5 {
		t.Errorf("%d of 8 requests across two replicas were accepted under rpm 5: %v", ok, codes)
	}

	if r := cli("keys", "revoke", "--config", cfg, id); r.err != nil {
		t.Fatalf("keys revoke: %v %s", r.err, r.stderr)
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for _, rep := range []*running{a, b} {
		for {
			code, _ := do(t, "GET", rep.url("/v1/models"), key, "")
			if code == 401 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a replica still accepts the revoked key: %d", code)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if strings.Contains(a.stderr.String()+b.stderr.String(), strings.TrimPrefix(dsn, "postgres://")) {
		t.Error("the log shows the DSN")
	}
}

// createKey makes a key on plan with the CLI (named after the plan) and
// returns its id and the key.
func createKey(t *testing.T, cfg string, environ map[string]string, plan string) (id, key string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"keys", "create", "--config", cfg, "--name", plan, "--plan", plan, "--json"}, mapEnv(environ), &stdout, &stderr); err != nil {
		t.Fatalf("keys create: %v %s", err, stderr.String())
	}
	id, key = between(stdout.String(), `"id":"`, `"`), between(stdout.String(), `"key":"`, `"`)
	if id == "" || key == "" {
		t.Fatalf("keys create printed %s", stdout.String())
	}
	return id, key
}

// between is the text of s between the first start and the end after it.
func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, end)
	return v
}

// TestScaleOutSharedSpendCap: two replicas reserve against one daily cap
// in Redis, so together they admit what one would: the money admitted
// never exceeds the cap. (With a ledger in each replica's memory, each
// would admit its own share of the cap.)
func TestScaleOutSharedSpendCap(t *testing.T) {
	dsn, redisURL, prefix := scaleOutServices(t)
	dir := t.TempDir()
	// 100 input and 50 output tokens at 1 and 2 µUSD: 200 µUSD a request;
	// a reservation's worst case is about 1,300 µUSD.
	cfg := writeFile(t, dir, "keyward.yaml", fmt.Sprintf(`listen: 127.0.0.1:0
providers: [{name: m, kind: mock, mock: {prompt_tokens: 100, completion_tokens: 50}}]
models: [{name: fast, targets: [{provider: m, model: mock-fast}]}]
pricing: [{model: mock-fast, input: 1, output: 2}]
auth: {pepper: env:PEPPER}
plans: [{name: p, max_output_tokens: 100, spend: {daily_usd: 0.003}}]
store: {driver: postgres, dsn: env:DATABASE_URL}
redis: {url: env:REDIS_URL, prefix: %q}
`, prefix))
	environ := map[string]string{"PEPPER": "scale-out-test-pepper-0002", "DATABASE_URL": dsn, "REDIS_URL": redisURL}
	_, key := createKey(t, cfg, environ, "p")
	a := startServe(t, serveFlags{config: cfg}, environ)
	b := startServe(t, serveFlags{config: cfg}, environ)
	body := `{"model":"fast","messages":[{"role":"user","content":"hi"}]}`
	admitted, refused := 0, 0
	for i := 0; i < 30; i++ {
		rep := a
		if i%2 == 1 {
			rep = b
		}
		switch code, out := do(t, "POST", rep.url("/v1/chat/completions"), key, body); code {
		case 200:
			admitted++
		case 429:
			if !strings.Contains(out, "insufficient_quota") {
				t.Fatalf("429 that is not the cap: %s", out)
			}
			refused++
		default:
			t.Fatalf("status %d: %s", code, out)
		}
	}
	if admitted == 0 || refused == 0 || admitted*200 > 3000 {
		t.Errorf("two replicas admitted %d requests of 200 µUSD (refused %d) under one cap of 3,000 µUSD", admitted, refused)
	}
}

// TestScaleOutRedisFails: the test's own redis-server is killed under
// load and started again. While it is down, rates fail open (requests go
// on, limited in this process) and spend caps fail closed (503
// unavailable, with a message); the outage is logged once; when Redis is
// back, keyward uses it again without a restart.
func TestScaleOutRedisFails(t *testing.T) {
	dsn, _, prefix := scaleOutServices(t)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is required in CI")
		}
		t.Skip("no redis-server here")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	startRedis := func() *exec.Cmd {
		cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		for i := 0; ; i++ {
			if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
				c.Close()
				return cmd
			}
			if i > 100 {
				t.Fatal("redis-server did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	redisProc := startRedis()

	dir := t.TempDir()
	cfg := writeFile(t, dir, "keyward.yaml", fmt.Sprintf(`listen: 127.0.0.1:0
providers: [{name: m, kind: mock}]
models: [{name: fast, targets: [{provider: m, model: mock-fast}]}]
pricing: [{model: mock-fast, input: 1, output: 2}]
auth: {pepper: env:PEPPER}
plans:
  - {name: rated, rpm: 1000, concurrency: 10}
  - {name: capped, rpm: 1000, spend: {daily_usd: 10}}
store: {driver: postgres, dsn: env:DATABASE_URL}
redis: {url: env:REDIS_URL, prefix: %q}
`, prefix))
	environ := map[string]string{"PEPPER": "scale-out-test-pepper-0003", "DATABASE_URL": dsn, "REDIS_URL": "redis://127.0.0.1:" + port + "/0"}
	_, rated := createKey(t, cfg, environ, "rated")
	_, capped := createKey(t, cfg, environ, "capped")
	rep := startServe(t, serveFlags{config: cfg}, environ)
	body := `{"model":"fast","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	ask := func(key string) (int, string) { return do(t, "POST", rep.url("/v1/chat/completions"), key, body) }
	for _, k := range []string{rated, capped} {
		if code, out := ask(k); code != 200 {
			t.Fatalf("with Redis up: %d %s", code, out)
		}
	}

	_ = redisProc.Process.Kill()
	_ = redisProc.Wait()
	for i := 0; i < 5; i++ {
		if code, out := ask(rated); code != 200 {
			t.Fatalf("rates fail open, request %d: %d %s", i, code, out)
		}
		code, out := ask(capped)
		if code != 503 || !strings.Contains(out, `"unavailable"`) || !strings.Contains(out, "retry shortly") {
			t.Fatalf("spend fails closed, request %d: %d %s", i, code, out)
		}
	}
	if code, out := do(t, "GET", rep.url("/readyz"), "", ""); code != 200 || !strings.Contains(out, `"status":"degraded"`) || !strings.Contains(out, "redis unavailable") {
		t.Errorf("/readyz while Redis is down: %d %s", code, out)
	}
	if n := strings.Count(rep.stderr.String(), "Redis is unavailable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, rep.stderr.String())
	}

	startRedis()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out := ask(capped)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) || code != 503 {
			t.Fatalf("after Redis came back: %d %s", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, out := do(t, "GET", rep.url("/readyz"), "", ""); code != 200 || !strings.Contains(out, `"status":"ready"`) {
		t.Errorf("/readyz after Redis came back: %d %s", code, out)
	}
	if !strings.Contains(rep.stderr.String(), "Redis is back") {
		t.Errorf("the recovery was not logged:\n%s", rep.stderr.String())
	}
}

// TestScaleOutExampleConfigLoads: examples/scale-out/keyward.yaml, which
// its compose file and Kubernetes manifest mount, is a valid
// configuration.
func TestScaleOutExampleConfigLoads(t *testing.T) {
	r := runCLI(t, nil, "config", "check", "--no-secrets", "--config", filepath.Join("..", "..", "examples", "scale-out", "keyward.yaml"))
	if r.err != nil || strings.Contains(r.stderr, "warning") {
		t.Fatalf("config check: %v\n%s", r.err, r.stderr)
	}
}

// pingless is a store whose Ping fails (a PostgreSQL that went away).
type pingless struct{ store.Store }

func (pingless) Close() error               { return nil }
func (pingless) Ping(context.Context) error { return errors.New("connection refused") }

// TestDegradedReasons: /readyz's reasons are fixed words, never an error's
// text: a Redis outage, a store that does not answer.
func TestDegradedReasons(t *testing.T) {
	down := true
	why := degraded(shared{down: func() bool { return down }}, pingless{})(context.Background())
	if diff := cmp.Diff([]string{"redis unavailable: limits follow redis.on_failure", "store unavailable"}, why); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	down = false
	if why := degraded(shared{down: func() bool { return down }}, nil)(context.Background()); len(why) != 0 {
		t.Errorf("healthy: %v", why)
	}
}

// pgFaultSetup is a serve replica on PostgreSQL through a proxy the test
// can cut (pgtest.Proxy), with limits in memory, and two keys: known (the
// replica has used it) and unknown (never presented before the outage).
type pgFaultSetup struct {
	schema       string
	proxy        *pgtest.Proxy
	rep          *running
	known        string
	unknown      string
	knownID      string
	cfg, appName string
	environ      map[string]string
}

func startPGFault(t *testing.T, grace string) *pgFaultSetup {
	t.Helper()
	schema, dsn := pgtest.Schema(t)
	app := pgtest.RandomName("kw_fault_")
	dsn = pgtest.WithParam(dsn, "application_name", app)
	proxied, proxy := pgtest.NewProxy(t, dsn)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "keyward.yaml", fmt.Sprintf(`listen: 127.0.0.1:0
providers: [{name: m, kind: mock}]
models: [{name: fast, targets: [{provider: m, model: mock-fast}]}]
auth: {pepper: env:PEPPER}
plans: [{name: p, rpm: 100000, concurrency: 100}]
store: {driver: postgres, dsn: env:DATABASE_URL, grace_period: %s}
usage: {flush_interval: 50ms}
`, grace))
	s := &pgFaultSetup{schema: schema, proxy: proxy, cfg: cfg, appName: app,
		environ: map[string]string{"PEPPER": "pg-fault-test-pepper-0001", "DATABASE_URL": proxied}}
	s.knownID, s.known = createKey(t, cfg, s.environ, "p")
	_, s.unknown = createKey(t, cfg, s.environ, "p")
	s.rep = startServe(t, serveFlags{config: cfg}, s.environ)
	poll(t, "change events flow", func() (bool, string) {
		return strings.Contains(s.rep.stderr.String(), "listening for the store's change events"), s.rep.stderr.String()
	})
	return s
}

func (s *pgFaultSetup) cli(args ...string) runResult {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, mapEnv(s.environ), &stdout, &stderr)
	return runResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

func (s *pgFaultSetup) chat(key string) (int, string, error) {
	resp, err := send("POST", s.rep.url("/v1/chat/completions"), key, `{"model":"fast","messages":[{"role":"user","content":"hi"}]}`)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// revocationAppliesAtOnce waits for change events to flow again, revokes
// the known key with the CLI and checks the replica refuses it within a
// second.
func (s *pgFaultSetup) revocationAppliesAtOnce(t *testing.T) {
	t.Helper()
	poll(t, "change events flow again", func() (bool, string) {
		return strings.Contains(s.rep.stderr.String(), "change events flow again"), ""
	})
	if r := s.cli("keys", "revoke", "--config", s.cfg, s.knownID); r.err != nil {
		t.Fatalf("revoke: %v %s", r.err, r.stderr)
	}
	revoked := time.Now()
	poll(t, "the revocation applies", func() (bool, string) {
		code, _, _ := s.chat(s.known)
		return code == 401, fmt.Sprint(code)
	})
	if d := time.Since(revoked); d > time.Second {
		t.Errorf("revocation took %v to apply", d)
	}
}

// usageRows counts the usage records in the test's schema, behind the
// store's back.
func usageRows(t *testing.T, schema string) int {
	t.Helper()
	var n int
	if err := pgtest.AdminPool(t).QueryRow(context.Background(), "SELECT count(*) FROM "+schema+".usage").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestScaleOutPostgresFails: PostgreSQL goes away (every connection cut,
// new ones refused). A key the replica has used keeps working from its
// cache within store.grace_period; a key it never saw gets 503
// unavailable; /readyz says degraded; usage records are held and written
// when PostgreSQL is back — none lost; then the unseen key works and a
// revocation applies at once again.
func TestScaleOutPostgresFails(t *testing.T) {
	s := startPGFault(t, "1m")
	for i := 0; i < 3; i++ {
		if code, out, err := s.chat(s.known); err != nil || code != 200 {
			t.Fatalf("before the outage: %d %s %v", code, out, err)
		}
	}
	s.proxy.Cut()
	poll(t, "the replica notices", func() (bool, string) {
		return strings.Contains(s.rep.stderr.String(), "change events stopped"), s.rep.stderr.String()
	})
	time.Sleep(1100 * time.Millisecond) // past the records' freshness: the store is asked, and fails
	okDuring := 0
	for i := 0; i < 20; i++ {
		code, out, err := s.chat(s.known)
		if err != nil || code != 200 {
			t.Fatalf("a known key during the outage: %d %s %v", code, out, err)
		}
		okDuring++
	}
	code, out, err := s.chat(s.unknown)
	if err != nil || code != 503 || !strings.Contains(out, `"unavailable"`) {
		t.Errorf("an unseen key during the outage: %d %s %v; want 503 unavailable", code, out, err)
	}
	code, out = do(t, "GET", s.rep.url("/readyz"), "", "")
	if code != 200 || !strings.Contains(out, "store unavailable") {
		t.Errorf("/readyz during the outage: %d %s", code, out)
	}
	if n := usageRows(t, s.schema); n > 3 {
		t.Fatalf("%d usage records written during the outage?", n)
	}

	s.proxy.Restore()
	poll(t, "the held usage records are written", func() (bool, string) {
		n := usageRows(t, s.schema)
		return n == 3+okDuring, fmt.Sprintf("%d records, want %d", n, 3+okDuring)
	})
	poll(t, "the unseen key works", func() (bool, string) {
		code, out, err := s.chat(s.unknown)
		return err == nil && code == 200, fmt.Sprint(code, out, err)
	})
	s.revocationAppliesAtOnce(t)
	if st := s.rep.stderr.String(); strings.Contains(st, "usage records dropped") {
		t.Errorf("records were dropped:\n%s", st)
	}
}

// TestScaleOutPostgresNoGrace: with store.grace_period 0 an outage
// refuses even known keys (503, never a 401 or a crash).
func TestScaleOutPostgresNoGrace(t *testing.T) {
	s := startPGFault(t, "0s")
	if code, out, err := s.chat(s.known); err != nil || code != 200 {
		t.Fatalf("before the outage: %d %s %v", code, out, err)
	}
	s.proxy.Cut()
	poll(t, "known keys are refused after their freshness", func() (bool, string) {
		code, out, err := s.chat(s.known)
		if err != nil || code != 200 && code != 503 {
			t.Fatalf("%d %s %v", code, out, err)
		}
		return code == 503 && strings.Contains(out, `"unavailable"`), fmt.Sprint(code, out)
	})
	s.proxy.Restore()
	poll(t, "back", func() (bool, string) {
		code, out, _ := s.chat(s.known)
		return code == 200, fmt.Sprint(code, out)
	})
}

// TestScaleOutPostgresConnectionsTerminated: PostgreSQL terminates every
// connection of the replica (pg_terminate_backend) under load, twice.
// No request fails, every usage record is written, and change events
// resume (a revocation applies at once).
func TestScaleOutPostgresConnectionsTerminated(t *testing.T) {
	s := startPGFault(t, "1m")
	ctx, stop := context.WithCancel(context.Background())
	type result struct {
		ok     int
		failed []string
	}
	results := make(chan result, 4)
	for w := 0; w < 4; w++ {
		go func() {
			var r result
			for ctx.Err() == nil {
				code, out, err := s.chat(s.known)
				switch {
				case err == nil && code == 200:
					r.ok++
				default:
					r.failed = append(r.failed, fmt.Sprint(code, " ", out, " ", err))
				}
			}
			results <- r
		}()
	}
	terminated := 0
	for round := 0; round < 2; round++ {
		time.Sleep(700 * time.Millisecond)
		var n int
		if err := pgtest.AdminPool(t).QueryRow(context.Background(),
			"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", s.appName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		terminated += n
	}
	time.Sleep(1500 * time.Millisecond)
	stop()
	total := 0
	for w := 0; w < 4; w++ {
		r := <-results
		total += r.ok
		if len(r.failed) > 0 {
			t.Errorf("%d requests failed, first: %s", len(r.failed), r.failed[0])
		}
	}
	if t.Failed() {
		for _, l := range strings.Split(s.rep.stderr.String(), "\n") {
			if strings.Contains(l, "ERROR") {
				t.Log(l)
			}
		}
	}
	if terminated < 2 {
		t.Fatalf("terminated %d connections: the replica's were not found by application_name", terminated)
	}
	poll(t, "every usage record is written", func() (bool, string) {
		n := usageRows(t, s.schema)
		return n == total, fmt.Sprintf("%d records, want %d", n, total)
	})
	s.revocationAppliesAtOnce(t)
	t.Logf("%d requests, %d connections terminated", total, terminated)
}

// TestScaleOutConfigReload: `keyward config reload` makes every replica
// sharing the store reload its configuration at once, with file polling
// off: a model added to the file is served by both within a second.
func TestScaleOutConfigReload(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	dir := t.TempDir()
	base := `listen: 127.0.0.1:0
providers: [{name: m, kind: mock}]
auth: {pepper: env:PEPPER}
plans: [{name: p}]
store: {driver: postgres, dsn: env:DATABASE_URL}
reload: {poll_interval: 0s}
`
	cfg := writeFile(t, dir, "keyward.yaml", base+"models: [{name: fast, targets: [{provider: m, model: mock-fast}]}]\n")
	environ := map[string]string{"PEPPER": "config-reload-test-pepper-01", "DATABASE_URL": dsn}
	_, key := createKey(t, cfg, environ, "p")
	a := startServe(t, serveFlags{config: cfg}, environ)
	b := startServe(t, serveFlags{config: cfg}, environ)
	for _, rep := range []*running{a, b} {
		poll(t, "change events flow", func() (bool, string) {
			return strings.Contains(rep.stderr.String(), "listening for the store's change events"), ""
		})
	}
	body := `{"model":"new","messages":[{"role":"user","content":"hi"}]}`
	if code, out := do(t, "POST", a.url("/v1/chat/completions"), key, body); code != 400 || !strings.Contains(out, "model_not_found") {
		t.Fatalf("before the reload: %d %s", code, out)
	}
	writeFile(t, dir, "keyward.yaml", base+"models: [{name: fast, targets: [{provider: m, model: mock-fast}]}, {name: new, targets: [{provider: m, model: mock-new}]}]\n")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"config", "reload", "--config", cfg}, mapEnv(environ), &stdout, &stderr); err != nil {
		t.Fatalf("config reload: %v %s", err, stderr.String())
	}
	asked := time.Now()
	for _, rep := range []*running{a, b} {
		poll(t, "the new model is served", func() (bool, string) {
			code, out := do(t, "POST", rep.url("/v1/chat/completions"), key, body)
			return code == 200, fmt.Sprint(code, out)
		})
	}
	if d := time.Since(asked); d > time.Second {
		t.Errorf("the reload took %v to reach both replicas", d)
	}

	// With SQLite there is no one to tell: the command says what to do.
	sqliteCfg := writeFile(t, t.TempDir(), "keyward.yaml", "providers: [{name: m, kind: mock}]\nmodels: [{name: fast, targets: [{provider: m, model: mock-fast}]}]\n")
	stderr.Reset()
	err := run(context.Background(), []string{"config", "reload", "--config", sqliteCfg}, mapEnv(environ), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "SIGHUP") {
		t.Errorf("config reload with SQLite: %v", err)
	}
}
