package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/secret"
)

// quickstartConfig and quickstartKey are the shipped example, relative to
// this package's directory (where go test runs).
const (
	quickstartConfig = "../../examples/quickstart.yaml"
	quickstartKey    = "../../examples/quickstart.key"
)

// fakeOpenAIKey is shaped like an OpenAI project key so the literal-secret
// check fires; it is built here so no key-shaped literal sits in the source.
var fakeOpenAIKey = "sk-proj-" + strings.Repeat("Ab1_", 12)

// mapEnv is an injected getenv backed by a map.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runResult is what one call of run produced.
type runResult struct {
	stdout, stderr string
	err            error
}

// runCLI runs a command that must finish on its own. Its context is
// already cancelled, so a serve that starts when it should have refused
// returns at once (and fails the test) instead of hanging it.
func runCLI(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, mapEnv(env), &stdout, &stderr)
	return runResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// writeFile writes content to name inside dir and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"usage", usageError{errors.New("bad flag")}, exitUsage},
		{"wrapped usage", fmt.Errorf("context: %w", usageError{errors.New("bad flag")}), exitUsage},
		{"other", errors.New("listen: address in use"), exitError},
		{"silent", errSilent, exitError},
		{"exit status", exitStatus{exitUsage, errors.New("could not read 1 path")}, exitUsage},
		{"findings", exitStatus{exitError, fmt.Errorf("secrets found: %w", errSilent)}, exitError},
		// scan's and audit's own status wins over a usageError inside it.
		{"wrapped exit status", fmt.Errorf("scan: %w", exitStatus{exitError, usageError{errors.New("x")}}), exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, nil, "version")
	if r.err != nil {
		t.Fatalf("version: %v", r.err)
	}
	v, ok := strings.CutPrefix(r.stdout, "keyward ")
	if !ok || strings.TrimSpace(v) == "" || !strings.HasSuffix(v, "\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("version printed %q, want one line \"keyward <version>\"", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("version wrote to stderr: %q", r.stderr)
	}
}

func TestVersionStringFromLdflags(t *testing.T) {
	old := [3]string{version, commit, date}
	t.Cleanup(func() { version, commit, date = old[0], old[1], old[2] })
	version, commit, date = "v1.2.3-test", "0123456789abcdef0123", "2026-12-01T10:00:00Z"
	platform := runtime.GOOS + "/" + runtime.GOARCH
	r := runCLI(t, nil, "version")
	want := "keyward v1.2.3-test (0123456789ab, 2026-12-01T10:00:00Z) " + runtime.Version() + " " + platform + "\n"
	if diff := cmp.Diff(want, r.stdout); r.err != nil || diff != "" {
		t.Errorf("version (err %v) output mismatch (-want +got):\n%s", r.err, diff)
	}
	r = runCLI(t, nil, "version", "--json")
	var got buildInfo
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.err != nil {
		t.Fatalf("version --json: %v %v %q", err, r.err, r.stdout)
	}
	if diff := cmp.Diff(buildInfo{Version: "v1.2.3-test", Commit: "0123456789abcdef0123", Date: "2026-12-01T10:00:00Z", Go: runtime.Version(), Platform: platform}, got); diff != "" {
		t.Errorf("version --json (-want +got):\n%s", diff)
	}
	// keyward --version, as npx keyward --version runs it.
	if r := runCLI(t, nil, "--version"); r.err != nil || r.stdout != "keyward v1.2.3-test\n" {
		t.Errorf("--version: %v %q", r.err, r.stdout)
	}
}

// TestHealth: keyward health exits 0 only when /healthz answers 200.
func TestHealth(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer ok.Close()
	if r := runCLI(t, nil, "health", "--url", ok.URL+"/healthz"); r.err != nil || r.stdout != "ok\n" {
		t.Errorf("healthy: %v %q", r.err, r.stdout)
	}
	if r := runCLI(t, map[string]string{"KEYWARD_HEALTH_URL": ok.URL + "/healthz"}, "health"); r.err != nil {
		t.Errorf("from KEYWARD_HEALTH_URL: %v", r.err)
	}
	if r := runCLI(t, nil, "health", "--url", ok.URL+"/nope"); r.err == nil {
		t.Error("a 404 is healthy")
	}
	if r := runCLI(t, nil, "health", "--url", "http://127.0.0.1:1/healthz", "--timeout", "1s"); r.err == nil {
		t.Error("nothing listening is healthy")
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // each must appear in the help text
	}{
		{"root --help", []string{"--help"}, []string{"serve", "config", "version"}},
		{"root -h", []string{"-h"}, []string{"serve", "config", "version"}},
		{"help command", []string{"help"}, []string{"serve", "config", "version"}},
		{"serve --help", []string{"serve", "--help"}, []string{"--config", "--listen", "--insecure-no-auth", "SIGHUP"}},
		{"config check --help", []string{"config", "check", "--help"}, []string{"--config", "--no-secrets"}},
		{"help config check", []string{"help", "config", "check"}, []string{"--config", "--no-secrets"}},
		{"config without subcommand", []string{"config"}, []string{"check"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, tt.args...)
			if r.err != nil {
				t.Fatalf("run %q: %v", tt.args, r.err)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help for %q does not mention %q:\n%s", tt.args, w, r.stdout)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error message
		bug  string // set while the behaviour is a known bug
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`, ""},
		{"unknown root flag", []string{"--frobnicate"}, "unknown flag: --frobnicate", ""},
		{"unknown shorthand", []string{"-z"}, "unknown shorthand flag: 'z'", ""},
		{"unknown serve flag", []string{"serve", "--frobnicate"}, "unknown flag: --frobnicate", ""},
		{"unknown config check flag", []string{"config", "check", "--frobnicate"}, "unknown flag: --frobnicate", ""},
		{
			"unknown config subcommand", []string{"config", "chek"}, `unknown command "chek"`, "",
		},
		{"argument to version", []string{"version", "extra"}, `unknown command "extra"`, ""},
		{"argument to serve", []string{"serve", "extra"}, `unknown command "extra"`, ""},
		{"argument to config check", []string{"config", "check", "extra"}, `unknown command "extra"`, ""},
		{"flag without value", []string{"serve", "--listen"}, "flag needs an argument", ""},
		{"bad bool value", []string{"config", "check", "--no-secrets=maybe"}, "invalid argument", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				t.Skip("BUG: " + tt.bug)
			}
			r := runCLI(t, nil, tt.args...)
			if r.err == nil {
				t.Fatalf("run %q succeeded, want a usage error", tt.args)
			}
			if got := exitCode(r.err); got != exitUsage {
				t.Errorf("exitCode = %d, want %d (err: %v)", got, exitUsage, r.err)
			}
			if !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", r.err, tt.want)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	clientKey := "kw_test_client_value_0123456789"
	providerKey := "provider-value-abcdefghijkl"
	writeFile(t, dir, "client.key", clientKey+"\n")
	writeFile(t, dir, "short.key", "abc\n")
	good := writeFile(t, dir, "good.yaml", `
providers:
  - {name: mock, kind: mock}
models:
  - {name: fast, targets: [{provider: mock, model: m}]}
clients:
  keys: [file:client.key]
`)
	missingEnv := writeFile(t, dir, "missing-env.yaml", `
providers:
  - name: up
    kind: openai-compatible
    base_url: https://llm.example.com/v1
    keys: [env:PRESENT_PROVIDER_KEY, env:MISSING_PROVIDER_KEY]
models:
  - {name: fast, targets: [{provider: up, model: m}]}
clients:
  keys: [file:client.key, file:absent.key]
`)
	shortSecret := writeFile(t, dir, "short.yaml", `
providers:
  - {name: mock, kind: mock}
models:
  - {name: fast, targets: [{provider: mock, model: m}]}
clients:
  keys: [file:short.key]
`)
	literal := writeFile(t, dir, "literal.yaml", `
providers:
  - name: openai
    kind: openai
    keys: ["`+fakeOpenAIKey+`"]
models:
  - {name: fast, targets: [{provider: openai, model: gpt-4o-mini}]}
clients:
  keys: [file:client.key]
`)
	unknownKey := writeFile(t, dir, "unknown.yaml", `
providers:
  - {name: mock, kind: mock}
models:
  - {name: fast, targets: [{provider: mock, model: m}]}
clients:
  keys: [file:client.key]
listn: 127.0.0.1:1
`)
	env := map[string]string{"PRESENT_PROVIDER_KEY": providerKey}
	// Values that must never appear in any output.
	secrets := []string{clientKey, providerKey, fakeOpenAIKey, readFile(t, quickstartKey)[:20]}

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantStdout string   // exact, when the check passes
		wantErr    []string // substrings of the error, when it fails
	}{
		{
			name:       "quickstart resolves its file key next to the config",
			args:       []string{"config", "check", "--config", quickstartConfig},
			wantStdout: quickstartConfig + ": OK (1 providers, 2 models, 1 client keys)\n",
		},
		{
			name:       "short flag",
			args:       []string{"config", "check", "-c", good},
			wantStdout: good + ": OK (1 providers, 1 models, 1 client keys)\n",
		},
		{
			name:       "KEYWARD_CONFIG from the injected environment",
			env:        map[string]string{"KEYWARD_CONFIG": good},
			args:       []string{"config", "check"},
			wantStdout: good + ": OK (1 providers, 1 models, 1 client keys)\n",
		},
		{
			name:       "flag wins over KEYWARD_CONFIG",
			env:        map[string]string{"KEYWARD_CONFIG": missingEnv},
			args:       []string{"config", "check", "--config", good},
			wantStdout: good + ": OK (1 providers, 1 models, 1 client keys)\n",
		},
		{
			name:    "missing env and file secrets are named by reference path",
			env:     env,
			args:    []string{"config", "check", "--config", missingEnv},
			wantErr: []string{missingEnv, "2 problems", "providers[0].keys[1]", "env:MISSING_PROVIDER_KEY", "clients.keys[1]", "file:absent.key"},
		},
		{
			name:       "--no-secrets skips resolution",
			args:       []string{"config", "check", "--no-secrets", "--config", missingEnv},
			wantStdout: missingEnv + ": OK (1 providers, 1 models, 2 client keys)\n",
		},
		{
			name:    "secret shorter than the minimum",
			args:    []string{"config", "check", "--config", shortSecret},
			wantErr: []string{"clients.keys[0]", "file:short.key", "shorter than 8 characters"},
		},
		{
			name:    "literal key is refused without echoing it",
			args:    []string{"config", "check", "--config", literal},
			wantErr: []string{literal, "providers[0].keys[0]", "literal"},
		},
		{
			name:    "literal key is refused even with --no-secrets",
			args:    []string{"config", "check", "--no-secrets", "--config", literal},
			wantErr: []string{"providers[0].keys[0]", "literal"},
		},
		{
			name:    "unknown key",
			args:    []string{"config", "check", "--config", unknownKey},
			wantErr: []string{"listn", "unknown key", "known keys: ", "listen"},
		},
		{
			name:    "missing file",
			args:    []string{"config", "check", "--config", filepath.Join(dir, "nope.yaml")},
			wantErr: []string{"nope.yaml"},
		},
		{
			name:    "KEYWARD_CONFIG pointing nowhere",
			env:     map[string]string{"KEYWARD_CONFIG": filepath.Join(dir, "elsewhere.yaml")},
			args:    []string{"config", "check"},
			wantErr: []string{"elsewhere.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, tt.args...)
			if tt.wantErr == nil {
				if r.err != nil {
					t.Fatalf("config check: %v", r.err)
				}
				if diff := cmp.Diff(tt.wantStdout, r.stdout); diff != "" {
					t.Errorf("stdout mismatch (-want +got):\n%s", diff)
				}
			} else {
				if r.err == nil {
					t.Fatalf("config check passed, want an error; stdout %q", r.stdout)
				}
				if got := exitCode(r.err); got != exitUsage {
					t.Errorf("exitCode = %d, want %d", got, exitUsage)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(r.err.Error(), w) {
						t.Errorf("error does not contain %q:\n%v", w, r.err)
					}
				}
				if r.stdout != "" {
					t.Errorf("failed check wrote to stdout: %q", r.stdout)
				}
			}
			for _, s := range secrets {
				for where, text := range map[string]string{"error": fmt.Sprint(r.err), "stdout": r.stdout, "stderr": r.stderr} {
					if strings.Contains(text, s) {
						t.Errorf("%s contains a secret value %q", where, s)
					}
				}
			}
		})
	}
}

// TestConfigCheckDefaultFile covers the last fallback: keyward.yaml in the
// working directory, with file: keys resolved against it.
func TestConfigCheckDefaultFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "client.key", "kw_test_client_value_0123456789")
	writeFile(t, dir, "keyward.yaml", `
providers:
  - {name: mock, kind: mock}
models:
  - {name: fast, targets: [{provider: mock, model: m}]}
clients:
  keys: [file:client.key]
`)
	t.Chdir(dir)
	r := runCLI(t, nil, "config", "check")
	if r.err != nil {
		t.Fatalf("config check: %v", r.err)
	}
	if diff := cmp.Diff("keyward.yaml: OK (1 providers, 1 models, 1 client keys)\n", r.stdout); diff != "" {
		t.Errorf("stdout mismatch (-want +got):\n%s", diff)
	}
}

// TestServeRefuses covers the checks serve makes before it listens: they
// are usage errors, reported through run like any other.
func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	noAuth := writeFile(t, dir, "noauth.yaml", `
listen: 127.0.0.1:0
providers:
  - {name: mock, kind: mock}
models:
  - {name: fast, targets: [{provider: mock, model: m}]}
`)
	noAuthPublic := writeFile(t, dir, "noauth-public.yaml", `
listen: 0.0.0.0:0
providers:
  - {name: mock, kind: mock}
models:
  - {name: fast, targets: [{provider: mock, model: m}]}
`)
	missingClient := writeFile(t, dir, "missing-client.yaml", `
listen: 127.0.0.1:0
providers:
  - {name: mock, kind: mock}
models:
  - {name: fast, targets: [{provider: mock, model: m}]}
clients:
  keys: [env:KEYWARD_TEST_ABSENT]
`)

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no client keys", []string{"serve", "-c", noAuth}, []string{"refusing to start", "clients.keys", "--insecure-no-auth"}},
		{"insecure on all interfaces by flag", []string{"serve", "-c", noAuth, "--insecure-no-auth", "--listen", "0.0.0.0:0"}, []string{"--insecure-no-auth", "loopback", "0.0.0.0:0"}},
		{"insecure on all interfaces by config", []string{"serve", "-c", noAuthPublic, "--insecure-no-auth"}, []string{"--insecure-no-auth", "loopback", "0.0.0.0:0"}},
		{"insecure on an empty host", []string{"serve", "-c", noAuth, "--insecure-no-auth", "--listen", ":0"}, []string{"loopback"}},
		{"invalid --listen", []string{"serve", "-c", quickstartConfig, "--listen", "nonsense"}, []string{"listen", "host:port"}},
		{"missing config file", []string{"serve", "-c", filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml"}},
		{"unresolvable client key", []string{"serve", "-c", missingClient, "--listen", "127.0.0.1:0"}, []string{"clients.keys[0]", "env:KEYWARD_TEST_ABSENT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, tt.args...)
			if r.err == nil {
				t.Fatalf("serve %q started, want a refusal", tt.args)
			}
			if got := exitCode(r.err); got != exitUsage {
				t.Errorf("exitCode = %d, want %d (err: %v)", got, exitUsage, r.err)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, r.err)
				}
			}
			if strings.Contains(r.stdout, "listening") {
				t.Errorf("refused serve printed a banner: %q", r.stdout)
			}
		})
	}
}

// TestServeListenFailure: a port already taken is a runtime error, not a
// usage error.
func TestServeListenFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := runCLI(t, nil, "serve", "-c", quickstartConfig, "--listen", ln.Addr().String())
	if r.err == nil {
		t.Fatal("serve on a taken port succeeded")
	}
	if got := exitCode(r.err); got != exitError {
		t.Errorf("exitCode = %d, want %d (err: %v)", got, exitError, r.err)
	}
	if !strings.Contains(r.err.Error(), "listen") {
		t.Errorf("error %q does not say listen", r.err)
	}
}

func TestBanner(t *testing.T) {
	const addr = "127.0.0.1:9999"
	dir := t.TempDir()
	clientKey := "kw_test_banner_client_0123456789"
	writeFile(t, dir, "client.key", clientKey)
	env := map[string]string{"KEYWARD_CLIENT_KEY": clientKey, "ANTHROPIC_KEY": "anthropic-test-value-0123456789", "PEPPER": "banner-test-pepper-0123456789"}
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "file key",
			yaml: `
providers: [{name: mock, kind: mock}]
models: [{name: fast, targets: [{provider: mock, model: m}]}]
clients: {keys: [file:client.key]}
`,
			want: `keyward is listening on http://127.0.0.1:9999
models: [fast]
try:
  curl http://127.0.0.1:9999/v1/chat/completions -H "Authorization: Bearer $(cat ` + filepath.Join(dir, "client.key") + `)" -H "Content-Type: application/json" -d '{"model":"fast","messages":[{"role":"user","content":"Hello"}]}'
`,
		},
		{
			name: "env key",
			yaml: `
providers: [{name: mock, kind: mock}]
models: [{name: fast, targets: [{provider: mock, model: m}]}, {name: slow, targets: [{provider: mock, model: m2}]}]
clients: {keys: [env:KEYWARD_CLIENT_KEY]}
`,
			want: `keyward is listening on http://127.0.0.1:9999
models: [fast slow]
try:
  curl http://127.0.0.1:9999/v1/chat/completions -H "Authorization: Bearer $KEYWARD_CLIENT_KEY" -H "Content-Type: application/json" -d '{"model":"fast","messages":[{"role":"user","content":"Hello"}]}'
`,
		},
		{
			name: "no client keys",
			yaml: `
providers: [{name: mock, kind: mock}]
models: [{name: fast, targets: [{provider: mock, model: m}]}]
`,
			want: `keyward is listening on http://127.0.0.1:9999
models: [fast]
try:
  curl http://127.0.0.1:9999/v1/chat/completions -H "Content-Type: application/json" -d '{"model":"fast","messages":[{"role":"user","content":"Hello"}]}'
`,
		},
		{
			name: "virtual keys only",
			yaml: `
providers: [{name: mock, kind: mock}]
models: [{name: fast, targets: [{provider: mock, model: m}]}]
auth: {pepper: env:PEPPER}
`,
			want: `keyward is listening on http://127.0.0.1:9999
models: [fast]
try:
  curl http://127.0.0.1:9999/v1/chat/completions -H "Authorization: Bearer $KEYWARD_KEY" -H "Content-Type: application/json" -d '{"model":"fast","messages":[{"role":"user","content":"Hello"}]}'
  (KEYWARD_KEY is a virtual key: keyward keys create --config ` + filepath.Join(dir, "keyward.yaml") + ` --name me)
`,
		},
		{
			name: "anthropic-only first model uses /v1/messages",
			yaml: `
providers: [{name: claude, kind: anthropic, keys: [env:ANTHROPIC_KEY]}]
models: [{name: sonnet, targets: [{provider: claude, model: claude-sonnet}]}]
clients: {keys: [env:KEYWARD_CLIENT_KEY]}
`,
			want: `keyward is listening on http://127.0.0.1:9999
models: [sonnet]
try:
  curl http://127.0.0.1:9999/v1/messages -H "Authorization: Bearer $KEYWARD_CLIENT_KEY" -H "Content-Type: application/json" -d '{"model":"sonnet","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}'
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := live.Build(cfg, secret.Loader{Getenv: mapEnv(env), BaseDir: dir}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			banner(&b, snap, filepath.Join(dir, "keyward.yaml"), addr)
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("banner mismatch (-want +got):\n%s", diff)
			}
			if strings.Contains(b.String(), clientKey) {
				t.Error("banner contains the client key value")
			}
		})
	}
}

func TestServeAccessConfigNeedsItsSecrets(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "internal", "config", "testdata", "issue4.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "k.yaml")
	os.WriteFile(path, src, 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = run(ctx, []string{"serve", "--config", path}, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"auth.pepper: env:KEYWARD_PEPPER", "auth.admin_keys[0]", "auth.browser_tokens.signing_key: file:/run/secrets/keyward_ed25519.pem"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
