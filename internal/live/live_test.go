package live

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/secret"
)

// t0 is the fixed "now" of the cooldown tests.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func parseConfig(t *testing.T, yaml string) config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, yaml)
	}
	return cfg
}

// envOf is a Getenv over a fixed map.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// mutableEnv is a Getenv whose values a test changes between reloads.
type mutableEnv struct {
	mu sync.Mutex
	m  map[string]string
}

func (e *mutableEnv) Getenv(k string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[k]
}

func (e *mutableEnv) Set(k, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[k] = v
}

// filesOf is a ReadFile over a fixed map.
func filesOf(m map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		v, ok := m[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(v), nil
	}
}

// writeAtomic replaces a file the way a secret mount does, so a poller never
// sees it half written.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recorder is a slog handler that keeps every record as text.
type recorder struct {
	mu   sync.Mutex
	recs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Resolve().Any())
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, b.String())
	return nil
}

// count reports how many records start with msg.
func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.recs {
		if strings.HasPrefix(s, msg) {
			n++
		}
	}
	return n
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.recs, "\n")
}

const reloadFailed = "reload failed; keeping the running configuration"

// keyIDs lists a provider's key ids in order.
func keyIDs(p *provider.Provider) []string {
	var out []string
	for _, k := range p.Pool().Keys() {
		out = append(out, k.ID())
	}
	return out
}

func TestBuild(t *testing.T) {
	cfg := parseConfig(t, `
providers:
  - name: openai
    kind: openai
    key_strategy: weighted
    keys:
      - env:OPENAI_KEY_A
      - {ref: file:/secrets/openai_b, weight: 2}
  - name: claude
    kind: anthropic
    keys: [env:ANTHROPIC_KEY]
  - name: local
    kind: mock
models:
  - name: smart
    targets:
      - {provider: claude, model: claude-sonnet-4-5}
      - {provider: openai, model: gpt-4.1}
      - {provider: local, model: mock-1}
  - name: fast
    targets: [{provider: openai, model: gpt-4.1-mini}]
clients:
  keys: [env:CLIENT_KEY, file:client.key]
`)
	values := map[string]string{
		"OPENAI_KEY_A":  "test-openai-key-aaaa",
		"ANTHROPIC_KEY": "test-anthropic-key-cccc",
		"CLIENT_KEY":    "test-client-key-dddd",
	}
	files := map[string]string{
		"/secrets/openai_b":       "test-openai-key-bbbb\n",
		"/etc/keyward/client.key": "  test-client-key-eeee\n",
	}
	loader := secret.Loader{Getenv: envOf(values), ReadFile: filesOf(files), BaseDir: "/etc/keyward"}
	s, err := Build(cfg, loader, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	gotIDs := map[string][]string{}
	for name, p := range s.Providers {
		gotIDs[name] = keyIDs(p)
	}
	wantIDs := map[string][]string{
		"openai": {"openai/env:OPENAI_KEY_A", "openai/file:/secrets/openai_b"},
		"claude": {"claude/env:ANTHROPIC_KEY"},
		"local":  nil,
	}
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("provider keys (-want +got):\n%s", diff)
	}
	for i, want := range []string{"test-openai-key-aaaa", "test-openai-key-bbbb"} {
		if k := s.Providers["openai"].Pool().Keys()[i]; !k.Secret().Matches(want) {
			t.Errorf("openai key %d is not the trimmed value of %s", i, k.ID())
		}
	}

	type target struct{ Provider, Model string }
	gotModels := map[string][]target{}
	for name, ts := range s.Models {
		for _, tg := range ts {
			gotModels[name] = append(gotModels[name], target{tg.Provider.Name, tg.Model})
		}
	}
	wantModels := map[string][]target{
		"smart": {{"claude", "claude-sonnet-4-5"}, {"openai", "gpt-4.1"}, {"local", "mock-1"}},
		"fast":  {{"openai", "gpt-4.1-mini"}},
	}
	if diff := cmp.Diff(wantModels, gotModels); diff != "" {
		t.Errorf("models (-want +got):\n%s", diff)
	}
	for _, tg := range s.Models["smart"] {
		if tg.Provider != s.Providers[tg.Provider.Name] {
			t.Errorf("target %s does not point at the snapshot's provider", tg.Provider.Name)
		}
	}
	if diff := cmp.Diff([]string{"smart", "fast"}, s.ModelNames); diff != "" {
		t.Errorf("ModelNames (-want +got):\n%s", diff)
	}

	if len(s.ClientKeys) != 2 || !s.ClientKeys[0].Matches("test-client-key-dddd") || !s.ClientKeys[1].Matches("test-client-key-eeee") {
		t.Errorf("ClientKeys do not hold the two client values in order (%d keys)", len(s.ClientKeys))
	}

	all := []string{"test-openai-key-aaaa", "test-openai-key-bbbb", "test-anthropic-key-cccc", "test-client-key-dddd", "test-client-key-eeee"}
	if s.Scrub.Len() != len(all) {
		t.Errorf("Scrub holds %d values, want %d", s.Scrub.Len(), len(all))
	}
	for _, v := range all {
		if got := s.Scrub.String("x " + v + " y"); got != "x "+secret.Redacted+" y" {
			t.Errorf("Scrub leaves a key: %q", got)
		}
	}

	wantFiles := map[string][32]byte{
		"/secrets/openai_b":       sha256.Sum256([]byte(files["/secrets/openai_b"])),
		"/etc/keyward/client.key": sha256.Sum256([]byte(files["/etc/keyward/client.key"])),
	}
	if diff := cmp.Diff(wantFiles, s.files); diff != "" {
		t.Errorf("watched files (-want +got):\n%s", diff)
	}
	if s.Generation != 0 {
		t.Errorf("Build set Generation %d; only install numbers snapshots", s.Generation)
	}
}

func TestBuildReportsEverySecretProblem(t *testing.T) {
	cfg := parseConfig(t, `
providers:
  - name: openai
    kind: openai
    keys: [env:PRESENT, env:MISSING_A, file:/secrets/nope, env:BLANK]
  - name: claude
    kind: anthropic
    keys: [env:SHORT, file:/secrets/empty]
models: [{name: m, targets: [{provider: openai, model: x}, {provider: claude, model: y}]}]
clients:
  keys: [env:MISSING_C, env:PRESENT]
`)
	// A literal value in the configuration can only be written by hand;
	// Parse would refuse it.
	cfg.Clients.Keys = append(cfg.Clients.Keys, "literal-client-value-9999")
	values := map[string]string{"PRESENT": "present-value-1234", "SHORT": "short7x", "BLANK": "  \n"}
	loader := secret.Loader{Getenv: envOf(values), ReadFile: filesOf(map[string]string{"/secrets/empty": "\n"})}
	s, err := Build(cfg, loader, nil, nil)
	if s != nil {
		t.Errorf("Build returned a snapshot with problems")
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *config.Error", err)
	}
	want := []config.Problem{
		{Path: "providers[0].keys[1]", Msg: "env:MISSING_A: variable is unset or empty"},
		{Path: "providers[0].keys[2]", Msg: "file:/secrets/nope: file does not exist"},
		{Path: "providers[0].keys[3]", Msg: "env:BLANK: variable is unset or empty"},
		{Path: "providers[1].keys[0]", Msg: "env:SHORT: value is shorter than 8 characters"},
		{Path: "providers[1].keys[1]", Msg: "file:/secrets/empty: value is empty"},
		{Path: "clients.keys[0]", Msg: "env:MISSING_C: variable is unset or empty"},
		{Path: "clients.keys[2]", Msg: "must be a reference: env:NAME or file:PATH"},
	}
	if diff := cmp.Diff(want, ce.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	msg := err.Error()
	for _, v := range []string{"present-value-1234", "short7x", "literal-client-value-9999"} {
		if strings.Contains(msg, v) {
			t.Errorf("error message reveals a value %q:\n%s", v, msg)
		}
	}
}

func TestBuildMinimumKeyLength(t *testing.T) {
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{"seven", "1234567", false},
		{"eight", "12345678", true},
		{"long", "a-much-longer-test-key-value", true},
		{"seven after trimming", "  1234567\n", false},
		{"eight after trimming", " 12345678 \n", true},
		{"one", "x", false},
	}
	cfg := parseConfig(t, `
providers: [{name: p, kind: openai, keys: [env:K]}]
models: [{name: m, targets: [{provider: p, model: x}]}]
`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(cfg, secret.Loader{Getenv: envOf(map[string]string{"K": tt.value})}, nil, nil)
			if tt.ok && err != nil {
				t.Errorf("Build: %v", err)
			}
			if !tt.ok {
				var ce *config.Error
				if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Path != "providers[0].keys[0]" {
					t.Errorf("Build = %v, want one problem at providers[0].keys[0]", err)
				}
			}
		})
	}
}

func TestBuildHashesTheBytesItLoaded(t *testing.T) {
	// The file changes between the first and the second read.
	var reads atomic.Int32
	read := func(string) ([]byte, error) {
		if reads.Add(1) == 1 {
			return []byte("old-key-value-1111"), nil
		}
		return []byte("new-key-value-2222"), nil
	}
	cfg := parseConfig(t, `
providers: [{name: p, kind: openai, keys: ["file:/secrets/k"]}]
models: [{name: m, targets: [{provider: p, model: x}]}]
`)
	s, err := Build(cfg, secret.Loader{ReadFile: read}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Providers["p"].Pool().Keys()[0].Secret().Matches("old-key-value-1111") {
		t.Fatal("the key is not the value of the first read")
	}
	if got, want := s.files["/secrets/k"], sha256.Sum256([]byte("old-key-value-1111")); got != want {
		t.Errorf("recorded hash is not that of the loaded content; a watcher will not see that the file now holds another key")
	}
}

const minimalConfig = `
providers: [{name: p, kind: openai, keys: [env:OPENAI_KEY]}]
models: [{name: m, targets: [{provider: p, model: x}]}]
`

func TestNew(t *testing.T) {
	env := map[string]string{"OPENAI_KEY": "test-openai-key-aaaa", "CLIENT_KEY": "test-client-key-bbbb"}
	tests := []struct {
		name        string
		yaml        string
		requireAuth bool
		wantErr     error // nil: success; otherwise errors.Is target, or a *config.Error when errConfig
		errConfig   bool
	}{
		{"auth required, no client keys", minimalConfig, true, ErrNoAuth, false},
		{"auth required, client keys", minimalConfig + "clients: {keys: [env:CLIENT_KEY]}\n", true, nil, false},
		{"auth not required, no client keys", minimalConfig, false, nil, false},
		{"missing provider secret", strings.Replace(minimalConfig, "OPENAI_KEY", "GONE", 1), false, nil, true},
		{"missing client secret", minimalConfig + "clients: {keys: [env:GONE]}\n", true, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(parseConfig(t, tt.yaml), Options{Getenv: envOf(env), RequireClientAuth: tt.requireAuth})
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) || g != nil {
					t.Errorf("New = %v, %v; want nil, %v", g, err, tt.wantErr)
				}
			case tt.errConfig:
				var ce *config.Error
				if !errors.As(err, &ce) || g != nil {
					t.Errorf("New = %v, %v; want nil, *config.Error", g, err)
				}
			default:
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if s := g.Current(); s == nil || s.Generation != 1 {
					t.Errorf("first snapshot = %+v, want generation 1", s)
				}
			}
		})
	}
}

func TestNewFeedsLogScrubber(t *testing.T) {
	env := &mutableEnv{m: map[string]string{"OPENAI_KEY": "test-openai-key-aaaa", "CLIENT_KEY": "test-client-key-bbbb"}}
	scrub := redact.NewScrubber()
	g, err := New(parseConfig(t, minimalConfig+"clients: {keys: [env:CLIENT_KEY]}\n"), Options{Getenv: env.Getenv, Scrubber: scrub})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"test-openai-key-aaaa", "test-client-key-bbbb"} {
		if got := scrub.String("key " + v); got != "key "+redact.Mask {
			t.Errorf("log scrubber leaves a key: %q", got)
		}
	}
	env.Set("OPENAI_KEY", "test-openai-key-cccc")
	if err := g.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if got := scrub.String("key test-openai-key-cccc"); got != "key "+redact.Mask {
		t.Errorf("log scrubber does not follow a reload: %q", got)
	}
}

// gatewayFromFile writes yaml as dir/keyward.yaml and starts a gateway on it.
func gatewayFromFile(t *testing.T, dir, yaml string, o Options) *Runtime {
	t.Helper()
	path := filepath.Join(dir, "keyward.yaml")
	writeAtomic(t, path, yaml)
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o.ConfigPath = path
	g, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestReloadSwapsSnapshot(t *testing.T) {
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "client.key"), "test-client-key-bbbb\n")
	env := map[string]string{"OPENAI_KEY": "test-openai-key-aaaa"}
	// file:client.key is relative: it resolves against the config's directory.
	base := minimalConfig + "clients: {keys: [file:client.key]}\n"
	g := gatewayFromFile(t, dir, base, Options{Getenv: envOf(env), RequireClientAuth: true})
	s1 := g.Current()
	if s1.Generation != 1 {
		t.Fatalf("first generation = %d", s1.Generation)
	}

	writeAtomic(t, filepath.Join(dir, "keyward.yaml"), `
listen: 127.0.0.1:9999
providers: [{name: p, kind: openai, keys: [env:OPENAI_KEY]}]
models: [{name: m, targets: [{provider: p, model: x}]}, {name: n, targets: [{provider: p, model: y}]}]
clients: {keys: [file:client.key]}
`)
	if err := g.Reload("test"); err != nil {
		t.Fatal(err)
	}
	s2 := g.Current()
	if s2 == s1 || s2.Generation != 2 {
		t.Fatalf("after reload: same snapshot %v, generation %d; want a new generation 2", s2 == s1, s2.Generation)
	}
	if diff := cmp.Diff([]string{"m", "n"}, s2.ModelNames); diff != "" {
		t.Errorf("new ModelNames (-want +got):\n%s", diff)
	}
	if s2.Config.Listen != "127.0.0.1:9999" {
		t.Errorf("new Listen = %q", s2.Config.Listen)
	}
	// The snapshot a request took before the reload is untouched.
	if s1.Generation != 1 || len(s1.Models) != 1 || len(s1.Config.Models) != 1 || s1.Config.Listen != "127.0.0.1:8080" {
		t.Errorf("old snapshot changed: generation %d, %d models, listen %s", s1.Generation, len(s1.Models), s1.Config.Listen)
	}
	if diff := cmp.Diff([]string{"m"}, s1.ModelNames); diff != "" {
		t.Errorf("old ModelNames (-want +got):\n%s", diff)
	}
	if s1.Providers["p"] == s2.Providers["p"] {
		t.Error("providers are shared between snapshots")
	}

	if err := g.Reload("again"); err != nil {
		t.Fatal(err)
	}
	if got := g.Current().Generation; got != 3 {
		t.Errorf("generation after a second reload = %d, want 3", got)
	}
}

func TestReloadWithoutConfigPathRereadsSecrets(t *testing.T) {
	env := &mutableEnv{m: map[string]string{"OPENAI_KEY": "test-openai-key-aaaa"}}
	g, err := New(parseConfig(t, minimalConfig), Options{Getenv: env.Getenv})
	if err != nil {
		t.Fatal(err)
	}
	env.Set("OPENAI_KEY", "test-openai-key-bbbb")
	if err := g.Reload("test"); err != nil {
		t.Fatal(err)
	}
	s := g.Current()
	if s.Generation != 2 || !s.Providers["p"].Pool().Keys()[0].Secret().Matches("test-openai-key-bbbb") {
		t.Errorf("generation %d; want 2 with the new key", s.Generation)
	}
}

func TestReloadFailureKeepsSnapshot(t *testing.T) {
	good := minimalConfig + "clients: {keys: [env:CLIENT_KEY]}\n"
	env := map[string]string{"OPENAI_KEY": "test-openai-key-aaaa", "CLIENT_KEY": "test-client-key-bbbb"}
	tests := []struct {
		name     string
		yaml     string // "" removes the file
		wantIs   error
		wantPath string // path of a *config.Error problem
	}{
		{name: "bad yaml", yaml: "providers: [\n"},
		{name: "not a mapping", yaml: "- a\n- b\n"},
		{name: "unknown key", yaml: good + "bogus: 1\n"},
		{name: "invalid value", yaml: good + "retry: {max_attempts: 0}\n", wantPath: "retry.max_attempts"},
		{name: "missing provider secret", yaml: strings.Replace(good, "env:OPENAI_KEY", "env:GONE", 1), wantPath: "providers[0].keys[0]"},
		{name: "missing client secret", yaml: strings.Replace(good, "env:CLIENT_KEY", "env:GONE", 1), wantPath: "clients.keys[0]"},
		{name: "no client keys", yaml: minimalConfig, wantIs: ErrNoAuth},
		{name: "file removed", yaml: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := &recorder{}
			g := gatewayFromFile(t, dir, good, Options{Getenv: envOf(env), RequireClientAuth: true, Logger: slog.New(rec)})
			s1 := g.Current()
			path := filepath.Join(dir, "keyward.yaml")
			if tt.yaml == "" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				writeAtomic(t, path, tt.yaml)
			}

			err := g.Reload("test")
			if err == nil {
				t.Fatal("Reload succeeded")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want %v", err, tt.wantIs)
			}
			if tt.wantPath != "" {
				var ce *config.Error
				if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Path != tt.wantPath {
					t.Errorf("err = %v, want one problem at %s", err, tt.wantPath)
				}
			}
			if g.Current() != s1 || s1.Generation != 1 {
				t.Errorf("a failed reload replaced the snapshot (generation %d)", g.Current().Generation)
			}
			if n := rec.count(reloadFailed); n != 1 {
				t.Errorf("logged %d reload failures, want 1", n)
			}
			for _, v := range env {
				if strings.Contains(rec.text()+err.Error(), v) {
					t.Errorf("a secret value reached the log or the error")
				}
			}

			// Failures do not use up generations.
			writeAtomic(t, path, good)
			if err := g.Reload("fixed"); err != nil {
				t.Fatal(err)
			}
			if got := g.Current().Generation; got != 2 {
				t.Errorf("generation after recovery = %d, want 2", got)
			}
		})
	}
}

func TestReloadCooldown(t *testing.T) {
	tests := []struct {
		name string
		// change is applied between the two reloads.
		change       func(t *testing.T, env *mutableEnv, keyPath string)
		wantEnvCool  time.Time
		wantFileCool time.Time
	}{
		{
			name:         "nothing changed",
			change:       func(*testing.T, *mutableEnv, string) {},
			wantEnvCool:  t0.Add(time.Hour),
			wantFileCool: t0.Add(2 * time.Hour),
		},
		{
			name:         "file key rotated",
			change:       func(t *testing.T, _ *mutableEnv, p string) { writeAtomic(t, p, "test-file-key-bbbb\n") },
			wantEnvCool:  t0.Add(time.Hour),
			wantFileCool: time.Time{},
		},
		{
			name:         "file rewritten with the same value",
			change:       func(t *testing.T, _ *mutableEnv, p string) { writeAtomic(t, p, "  test-file-key-aaaa\n\n") },
			wantEnvCool:  t0.Add(time.Hour),
			wantFileCool: t0.Add(2 * time.Hour),
		},
		{
			name:         "env key rotated",
			change:       func(_ *testing.T, e *mutableEnv, _ string) { e.Set("OPENAI_KEY", "test-env-key-bbbb") },
			wantEnvCool:  time.Time{},
			wantFileCool: t0.Add(2 * time.Hour),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keyPath := filepath.Join(t.TempDir(), "openai.key")
			writeAtomic(t, keyPath, "test-file-key-aaaa\n")
			env := &mutableEnv{m: map[string]string{"OPENAI_KEY": "test-env-key-aaaa"}}
			cfg := parseConfig(t, fmt.Sprintf(`
providers:
  - name: p
    kind: openai
    keys:
      - env:OPENAI_KEY
      - %q
models: [{name: m, targets: [{provider: p, model: x}]}]
`, "file:"+keyPath))
			g, err := New(cfg, Options{Getenv: env.Getenv})
			if err != nil {
				t.Fatal(err)
			}
			old := g.Current().Providers["p"].Pool().Keys()
			old[0].Cooldown(t0, time.Hour)
			old[1].Cooldown(t0, 2*time.Hour)

			// An unchanged reload first: state carries over generations.
			if err := g.Reload("first"); err != nil {
				t.Fatal(err)
			}
			tt.change(t, env, keyPath)
			if err := g.Reload("second"); err != nil {
				t.Fatal(err)
			}
			s := g.Current()
			if s.Generation != 3 {
				t.Fatalf("generation = %d, want 3", s.Generation)
			}
			keys := s.Providers["p"].Pool().Keys()
			if got := keys[0].CoolingUntil(t0); !got.Equal(tt.wantEnvCool) {
				t.Errorf("env key cooling until %v, want %v", got, tt.wantEnvCool)
			}
			if got := keys[1].CoolingUntil(t0); !got.Equal(tt.wantFileCool) {
				t.Errorf("file key cooling until %v, want %v", got, tt.wantFileCool)
			}
			// The first snapshot's keys keep their value and state.
			if !old[1].Secret().Matches("test-file-key-aaaa") || !old[1].CoolingUntil(t0).Equal(t0.Add(2*time.Hour)) {
				t.Error("the old snapshot's file key changed")
			}
		})
	}
}

// startWatch runs WatchFiles until the test ends.
func startWatch(t *testing.T, g *Runtime, interval time.Duration) {
	t.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		g.WatchFiles(stop, interval)
	}()
	t.Cleanup(func() {
		close(stop)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("WatchFiles did not return after stop was closed")
		}
	})
}

// fileGateway starts a gateway whose only provider key is the file dir/openai.key.
func fileGateway(t *testing.T, value string, log *slog.Logger) (*Runtime, string) {
	t.Helper()
	keyPath := filepath.Join(t.TempDir(), "openai.key")
	writeAtomic(t, keyPath, value)
	cfg := parseConfig(t, fmt.Sprintf(`
providers: [{name: p, kind: openai, keys: [%q]}]
models: [{name: m, targets: [{provider: p, model: x}]}]
`, "file:"+keyPath))
	g, err := New(cfg, Options{Getenv: envOf(nil), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return g, keyPath
}

func TestWatchFilesReloadsOnChange(t *testing.T) {
	g, keyPath := fileGateway(t, "test-file-key-aaaa\n", nil)
	s1 := g.Current()
	startWatch(t, g, 10*time.Millisecond)

	writeAtomic(t, keyPath, "test-file-key-bbbb\n")
	waitFor(t, "a reload after the key file changed", func() bool { return g.Current().Generation != 1 })
	s2 := g.Current()
	if s2.Generation != 2 {
		t.Errorf("generation = %d, want 2", s2.Generation)
	}
	if !s2.Providers["p"].Pool().Keys()[0].Secret().Matches("test-file-key-bbbb") {
		t.Error("the new snapshot does not hold the new key")
	}
	if !s1.Providers["p"].Pool().Keys()[0].Secret().Matches("test-file-key-aaaa") {
		t.Error("the old snapshot's key changed")
	}

	writeAtomic(t, keyPath, "test-file-key-cccc\n")
	waitFor(t, "a second reload", func() bool { return g.Current().Generation == 3 })
}

func TestWatchFilesSkipsInvalidUntilChanged(t *testing.T) {
	tests := []struct {
		name           string
		first, second  string // two different invalid contents
		wantInProblems string
	}{
		{"empty, then too short", "", "zq7", "value is empty"},
		{"blank, then empty", " \n", "", "value is empty"},
		{"too short, then blank", "zq7", "\t\n", "shorter than 8 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			g, keyPath := fileGateway(t, "test-file-key-aaaa\n", slog.New(rec))
			s1 := g.Current()
			// Count reads to know that the watcher ticked, without sleeping.
			var reads atomic.Int64
			g.loader.ReadFile = func(p string) ([]byte, error) {
				reads.Add(1)
				return os.ReadFile(p)
			}
			startWatch(t, g, 10*time.Millisecond)

			writeAtomic(t, keyPath, tt.first)
			waitFor(t, "the first failed reload", func() bool { return rec.count(reloadFailed) == 1 })
			if !strings.Contains(rec.text(), tt.wantInProblems) {
				t.Errorf("failure log does not say why (%q):\n%s", tt.wantInProblems, rec.text())
			}
			// Five more polls of the unchanged invalid file: no new attempt.
			r := reads.Load()
			waitFor(t, "five more polls", func() bool { return reads.Load() >= r+5 })
			if n := rec.count(reloadFailed); n != 1 {
				t.Errorf("an unchanged invalid file was retried: %d failures", n)
			}
			if g.Current() != s1 {
				t.Fatal("an invalid key file replaced the snapshot")
			}

			// Other invalid content is a change: one more attempt.
			writeAtomic(t, keyPath, tt.second)
			waitFor(t, "the second failed reload", func() bool { return rec.count(reloadFailed) == 2 })

			writeAtomic(t, keyPath, "test-file-key-bbbb\n")
			waitFor(t, "a reload after a valid key", func() bool { return g.Current().Generation == 2 })
			if !g.Current().Providers["p"].Pool().Keys()[0].Secret().Matches("test-file-key-bbbb") {
				t.Error("the new snapshot does not hold the new key")
			}
			if n := rec.count(reloadFailed); n != 2 {
				t.Errorf("%d failures, want 2", n)
			}
			log := rec.text()
			for _, v := range []string{"test-file-key-aaaa", "test-file-key-bbbb", "zq7"} {
				if strings.Contains(log, v) {
					t.Errorf("log reveals %q:\n%s", v, log)
				}
			}
		})
	}
}

func TestWatchFilesDisabled(t *testing.T) {
	g, _ := fileGateway(t, "test-file-key-aaaa\n", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.WatchFiles(make(chan struct{}), 0) // never closed
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("WatchFiles with interval 0 did not return")
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1:0", true},
		{"127.1.2.3:80", true},
		{"localhost:8080", true},
		{"[::1]:8080", true},
		{"[::ffff:127.0.0.1]:8080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"[::]:8080", false},
		{"192.168.1.10:8080", false},
		{"10.0.0.1:80", false},
		{"example.com:80", false},
		{"localhost.example.com:80", false},
		{"127.0.0.1", false},
		{"localhost", false},
		{"", false},
		{"[::1]", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := IsLoopback(tt.addr); got != tt.want {
				t.Errorf("IsLoopback(%q) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}
