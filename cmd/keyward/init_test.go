package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/vkey"
)

// TestInitNextjs: keyward init --nextjs writes a configuration that loads,
// secrets it never prints (mode 0600, git-ignored), and — with --env-file —
// the two keys the app needs, once; running it again replaces nothing.
func TestInitNextjs(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "app")
	envFile := filepath.Join(dir, ".env.local")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The app's own .gitignore and .env.local are kept and added to.
	writeFile(t, dir, ".gitignore", "node_modules\n.next")
	writeFile(t, dir, ".env.local", "SESSION_SECRET=abc")

	r := runLive(t, "init", "--nextjs", "--provider", "mock", "--env-file", envFile, dir)
	if r.err != nil {
		t.Fatalf("init: %v\n%s", r.err, r.stderr)
	}
	cfgPath := filepath.Join(dir, "keyward.yaml")
	pepper := readFile(t, filepath.Join(dir, ".keyward", "pepper"))
	signing := readFile(t, filepath.Join(dir, ".keyward", "signing.pem"))
	env := readFile(t, envFile)
	vars := map[string]string{}
	for _, l := range strings.Split(env, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			vars[k] = v
		}
	}
	if vars["SESSION_SECRET"] != "abc" || vars["KEYWARD_URL"] != "http://127.0.0.1:8787" {
		t.Errorf(".env.local:\n%s", env)
	}
	server, mint := vars["KEYWARD_SERVER_KEY"], vars["KEYWARD_MINT_KEY"]
	if !vkey.Valid(server) || !vkey.Valid(mint) || server == mint {
		t.Fatalf("keys in .env.local: %q %q", server, mint)
	}
	for _, s := range []string{strings.TrimSpace(pepper), strings.Split(signing, "\n")[1], server, mint} {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("init printed a secret: %q", s)
		}
	}
	for name, want := range map[string]os.FileMode{".keyward/pepper": 0o600, ".keyward/signing.pem": 0o600, ".env.local": 0o600, ".keyward": 0o700 | os.ModeDir, "keyward.yaml": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v (%v)", name, fi.Mode(), want, err)
		}
	}
	if gi := readFile(t, filepath.Join(dir, ".gitignore")); gi != "node_modules\n.next\n.keyward/\n" {
		t.Errorf(".gitignore: %q", gi)
	}
	if !strings.Contains(r.stdout, "KEYWARD_SERVER_KEY") || !strings.Contains(r.stdout, "keyward serve --config") {
		t.Errorf("stdout:\n%s", r.stdout)
	}

	// The configuration loads with its secrets and has what was promised.
	if r := runCLI(t, nil, "config", "check", "--config", cfgPath); r.err != nil || strings.Contains(r.stderr, "warning") {
		t.Fatalf("config check: %v\n%s", r.err, r.stderr)
	}
	cfg, err := config.LoadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	free, ok := cfg.Plan("free")
	if !ok || free.RPM == 0 || free.TPM == 0 || free.Concurrency == 0 || free.Spend == nil || free.Spend.DailyUSD == 0 {
		t.Errorf("plan free: %+v", free)
	}
	if got := cfg.CORS.AllowedOrigins; len(got) != 1 || got[0] != "http://localhost:3000" {
		t.Errorf("origins %v", got)
	}
	if len(cfg.Models) != 2 || cfg.Models[0].Name != "fast" || cfg.Models[1].Name != "smart" || cfg.Auth.AssertedUsers.Plan != "free" {
		t.Errorf("models %+v, asserted users %+v", cfg.Models, cfg.Auth.AssertedUsers)
	}

	// The keys are what they say.
	ke, err := openKeys(context.Background(), env0(), cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for key, scope := range map[string]string{server: auth.ScopeAssertUsers, mint: auth.ScopeMint} {
		rec, err := ke.keys.Authenticate(context.Background(), key)
		if err != nil || rec.Plan != "server" || !auth.HasScope(rec.Scopes, scope) {
			t.Errorf("key with %s: %+v %v", scope, rec, err)
		}
	}
	ke.db.Close()

	// Again: every file and key is kept.
	before := map[string]string{}
	for _, f := range []string{"keyward.yaml", ".keyward/pepper", ".keyward/signing.pem", ".env.local", ".gitignore"} {
		before[f] = readFile(t, filepath.Join(dir, f))
	}
	r = runLive(t, "init", "--nextjs", "--provider", "openai", "--env-file", envFile, dir)
	if r.err != nil {
		t.Fatalf("init again: %v", r.err)
	}
	for f, b := range before {
		if readFile(t, filepath.Join(dir, f)) != b {
			t.Errorf("init again changed %s", f)
		}
	}
	if !strings.Contains(r.stdout, "kept    KEYWARD_SERVER_KEY") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

// runLive runs the CLI with a live context (init opens a new store).
func runLive(t *testing.T, args ...string) runResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, mapEnv(nil), &stdout, &stderr)
	return runResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

func env0() env {
	return env{getenv: func(string) string { return "" }, stdout: os.Stdout, stderr: os.Stderr}
}

// TestInitProviders: every --provider writes a configuration that loads;
// without --env-file no key is created and the way to create them is said.
func TestInitProviders(t *testing.T) {
	for _, p := range []string{"openai", "anthropic", "gemini", "mock"} {
		t.Run(p, func(t *testing.T) {
			dir := t.TempDir()
			r := runLive(t, "init", "--nextjs", "--provider", p, dir)
			if r.err != nil {
				t.Fatalf("init: %v", r.err)
			}
			if r := runCLI(t, nil, "config", "check", "--no-secrets", "--config", filepath.Join(dir, "keyward.yaml")); r.err != nil || strings.Contains(r.stderr, "warning") {
				t.Fatalf("config check: %v\n%s", r.err, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, ".env.local")); err == nil {
				t.Error("keys were written without --env-file")
			}
			if !strings.Contains(r.stdout, "--env-file") {
				t.Errorf("stdout does not say how to create the keys:\n%s", r.stdout)
			}
			cfg := readFile(t, filepath.Join(dir, "keyward.yaml"))
			if p != "mock" && !strings.Contains(cfg, "keys: [env:") {
				t.Errorf("the provider key is not an env: reference:\n%s", cfg)
			}
		})
	}
	for _, args := range [][]string{{"init"}, {"init", "--nextjs", "--provider", "cohere"}, {"init", "--nextjs", "--origin", "localhost:3000"}} {
		if r := runLive(t, args...); r.err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestInitWarnsEnvFileNotIgnored: in a git repository, an env file that
// git does not ignore is named in a warning (it holds keys); an ignored
// one is not.
func TestInitWarnsEnvFileNotIgnored(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	for _, tt := range []struct {
		ignore string
		warn   bool
	}{{"", true}, {".env*.local\n", false}} {
		dir := t.TempDir()
		if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
			t.Fatalf("git init: %v %s", err, out)
		}
		if tt.ignore != "" {
			writeFile(t, dir, ".gitignore", tt.ignore)
		}
		r := runLive(t, "init", "--nextjs", "--provider", "mock", "--env-file", filepath.Join(dir, ".env.local"), dir)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if got := strings.Contains(r.stderr, "is not ignored by git"); got != tt.warn {
			t.Errorf(".gitignore %q: warned %v, want %v: %s", tt.ignore, got, tt.warn, r.stderr)
		}
	}
}
