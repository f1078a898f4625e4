package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/operator"
)

// starterProvider is what keyward init writes for a --provider choice.
type starterProvider struct {
	Kind, BaseURL, KeyEnv string
	Fast, Smart           string
	// StandIn gives the mock a generated key of its own, so a demo's
	// requests carry a provider key the way a real provider's do (and a
	// leak test has one to look for).
	StandIn bool
	// Note is shown after init: where the provider's key must be.
	Note string
}

var starterProviders = map[string]starterProvider{
	"openai": {Kind: config.KindOpenAI, KeyEnv: "OPENAI_API_KEY", Fast: "gpt-4.1-mini", Smart: "gpt-5.1"},
	"anthropic": {Kind: config.KindAnthropic, KeyEnv: "ANTHROPIC_API_KEY", Fast: "claude-haiku-4-5", Smart: "claude-sonnet-4-5",
		Note: "Anthropic's models are served on /v1/messages: use kw.anthropic() (or the Anthropic SDK)."},
	// Gemini through Google's OpenAI-compatible endpoint until a native
	// kind exists.
	"gemini": {Kind: config.KindOpenAICompatible, BaseURL: "https://generativelanguage.googleapis.com/v1beta/openai",
		KeyEnv: "GEMINI_API_KEY", Fast: "gemini-2.5-flash", Smart: "gemini-2.5-pro"},
	"mock": {Kind: config.KindMock, Fast: "mock-fast", Smart: "mock-smart", StandIn: true,
		Note: "The mock provider answers in-process, for free: switch --provider when you are ready."},
}

// starterConfig is keyward.yaml for a Next.js app. Secrets are file:
// references to the files init writes beside it, and the provider key an
// env: reference read when keyward serves.
var starterConfig = template.Must(template.New("keyward.yaml").Parse(`# keyward for a Next.js app — written by "keyward init --nextjs".
# Reference: https://github.com/keyward/keyward#configuration-reference
listen: {{.Listen}}
providers:
  - name: {{.Name}}
    kind: {{.P.Kind}}
{{- if .P.BaseURL}}
    base_url: {{.P.BaseURL}}
{{- end}}
{{- if .P.KeyEnv}}
    keys: [env:{{.P.KeyEnv}}]   # the provider key lives only in keyward's environment
{{- end}}
{{- if .P.StandIn}}
    keys: [file:.keyward/provider-key]   # a stand-in: the mock takes a key the way a real provider does
{{- end}}
models:
  - {name: fast, targets: [{provider: {{.Name}}, model: {{.P.Fast}}}]}
  - {name: smart, targets: [{provider: {{.Name}}, model: {{.P.Smart}}}]}
plans:
  # Each signed-in user of the app (named by the server key, or holding a
  # browser token) gets this plan.
  - name: free
    models: [fast, smart]
    max_output_tokens: 1024
    rpm: 20
    tpm: 40000
    concurrency: 2
    spend: {daily_usd: 1}
  # The app server's own keys: all its users together stay within this.
  - name: server
    max_output_tokens: 4096
    rpm: 600
    tpm: 2000000
    concurrency: 50
    spend: {daily_usd: 50}
auth:
  pepper: file:.keyward/pepper   # virtual keys are stored as HMACs under it
  asserted_users: {plan: free}   # users named with X-Keyward-User by the server key
  browser_tokens:
    signing_key: file:.keyward/signing.pem
    max_ttl: 15m
cors:
  allowed_origins: [{{range $i, $o := .Origins}}{{if $i}}, {{end}}"{{$o}}"{{end}}]
store:
  path: .keyward/keyward.db
`))

func initCmd(e env) *cobra.Command {
	var (
		nextjs        bool
		providerName  string
		listen        string
		origins       []string
		envFile       string
		providerAlias string
	)
	cmd := &cobra.Command{
		Use:   "init --nextjs [DIR]",
		Short: "Write a starter keyward.yaml, its secrets and the app's keys for a Next.js app",
		Long: `init writes DIR/keyward.yaml for a Next.js app: a provider (--provider), the
models fast and smart, a free plan per user (rpm, tpm, concurrency, a daily spend
cap), CORS for the app's origin, and browser tokens. The pepper and the Ed25519
signing key are generated into DIR/.keyward/ (mode 0600, git-ignored) and never
printed. With --env-file it also creates the app's two keys — the server key
(users:assert) and the mint key (tokens:mint) — and writes them, once, to that
file. Running init again keeps every file and key it finds.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if !nextjs {
				return usageError{errors.New("keyward init writes a Next.js starter: run keyward init --nextjs [DIR]")}
			}
			p, ok := starterProviders[providerName]
			if !ok {
				return usageError{fmt.Errorf("--provider must be openai, anthropic, gemini or mock, not %q", providerName)}
			}
			for _, o := range origins {
				if !config.ValidOrigin(o) || strings.HasSuffix(o, "/") {
					return usageError{fmt.Errorf("--origin %q is not an origin such as http://localhost:3000", o)}
				}
			}
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			in := starter{e: e, dir: dir, p: p, name: providerName, listen: listen, origins: origins}
			if providerAlias != "" {
				in.name = providerAlias
			}
			return in.run(c, envFile)
		},
	}
	cmd.Flags().BoolVar(&nextjs, "nextjs", false, "write a starter for a Next.js app (required)")
	cmd.Flags().StringVar(&providerName, "provider", "openai", "openai, anthropic, gemini (through Google's OpenAI-compatible API) or mock")
	cmd.Flags().StringVar(&providerAlias, "provider-name", "", "the provider's name in keyward.yaml (default: --provider)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8787", "address keyward serves on")
	cmd.Flags().StringSliceVar(&origins, "origin", []string{"http://localhost:3000"}, "browser origin of the app (repeatable)")
	cmd.Flags().StringVar(&envFile, "env-file", "", "create the server and mint keys and write them to this file (such as .env.local), once")
	return cmd
}

// initFile is a file init writes unless it is there.
type initFile struct {
	path string
	make func() ([]byte, error)
	mode fs.FileMode
	what string
}

// starter is one run of keyward init.
type starter struct {
	e       env
	dir     string
	p       starterProvider
	name    string
	listen  string
	origins []string
}

func (s starter) say(format string, args ...any) { fmt.Fprintf(s.e.stdout, format+"\n", args...) }

func (s starter) warn(format string, args ...any) {
	fmt.Fprintf(s.e.stderr, "warning: "+format+"\n", args...)
}

func (s starter) run(c *cobra.Command, envFile string) error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	secrets := filepath.Join(s.dir, ".keyward")
	if err := os.Mkdir(secrets, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	// A .keyward that is a symlink (a template repository can commit one)
	// would put the secrets wherever it points — public/, say, which
	// Next.js serves — outside what ".keyward/" ignores.
	if fi, err := os.Lstat(secrets); err != nil {
		return err
	} else if !fi.IsDir() {
		return usageError{fmt.Errorf("%s is not a directory (a symlink?): init writes secrets only into a real directory; remove it", s.rel(secrets))}
	} else if fi.Mode().Perm()&0o077 != 0 {
		s.warn("%s is readable by others (mode %v); chmod 700 it", s.rel(secrets), fi.Mode().Perm())
	}
	cfgPath := filepath.Join(s.dir, "keyward.yaml")
	var cfg bytes.Buffer
	if err := starterConfig.Execute(&cfg, map[string]any{"Listen": s.listen, "Name": s.name, "P": s.p, "Origins": s.origins}); err != nil {
		return err
	}
	steps := []initFile{
		{cfgPath, func() ([]byte, error) { return cfg.Bytes(), nil }, 0o644, "the configuration"},
		{filepath.Join(s.dir, ".keyward", "pepper"), newPepper, 0o600, "the pepper virtual keys are hashed under (secret)"},
		{filepath.Join(s.dir, ".keyward", "signing.pem"), newSigningKey, 0o600, "the Ed25519 key browser tokens are signed with (secret)"},
	}
	if s.p.StandIn {
		steps = append(steps, initFile{filepath.Join(s.dir, ".keyward", "provider-key"), newStandInKey, 0o600, "the mock provider's stand-in key (secret)"})
	}
	for _, st := range steps {
		wrote, err := writeNew(st.path, st.mode, st.make)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(st.path); err == nil && !wrote && st.mode&0o077 == 0 && fi.Mode().Perm()&0o077 != 0 {
			s.warn("%s is readable by others (mode %v); chmod 600 it", s.rel(st.path), fi.Mode().Perm())
		}
		verb := "kept   "
		if wrote {
			verb = "wrote  "
		}
		s.say("  %s %s — %s", verb, s.rel(st.path), st.what)
	}
	if added, err := ensureLine(filepath.Join(s.dir, ".gitignore"), ".keyward/"); err != nil {
		return err
	} else if added {
		s.say("  added   .keyward/ to %s", s.rel(filepath.Join(s.dir, ".gitignore")))
	}

	keyURL := "http://" + s.listen
	if envFile == "" {
		s.say(`
The app's .env.local (server-only: never NEXT_PUBLIC_):
  KEYWARD_URL=%s
  KEYWARD_SERVER_KEY=   the server key (scope users:assert), not created yet
  KEYWARD_MINT_KEY=     the mint key (scope tokens:mint), not created yet
Create both and write them there, once: keyward init --nextjs %s --env-file %s`, keyURL, s.dir, filepath.Join(s.dir, ".env.local"))
	} else if err := s.keys(c, cfgPath, envFile, keyURL); err != nil {
		return err
	}
	s.say("\nNext:")
	if s.p.KeyEnv != "" {
		s.say("  export %s=…            # in keyward's environment only, never the app's", s.p.KeyEnv)
	}
	s.say("  keyward serve --config %s", cfgPath)
	s.say("  npm install @keyward/next   # in the app; see its README")
	if s.p.Note != "" {
		s.say("  %s", s.p.Note)
	}
	return nil
}

// keys creates the server and mint keys that envFile lacks and appends
// them to it (mode 0600). A key the file already names is kept: init never
// replaces one.
func (s starter) keys(c *cobra.Command, cfgPath, envFile, keywardURL string) error {
	have, err := envNames(envFile)
	if err != nil {
		return err
	}
	ke, err := openKeys(c.Context(), s.e, cfgPath)
	if err != nil {
		return err
	}
	defer ke.db.Close()
	var lines []string
	if !have["KEYWARD_URL"] {
		lines = append(lines, "KEYWARD_URL="+keywardURL)
	}
	for _, k := range []struct {
		env, name, scope string
	}{
		{"KEYWARD_SERVER_KEY", "nextjs-server", auth.ScopeAssertUsers},
		{"KEYWARD_MINT_KEY", "nextjs-mint", auth.ScopeMint},
	} {
		if have[k.env] {
			s.say("  kept    %s in %s", k.env, envFile)
			continue
		}
		nk := operator.NewKey{Name: k.name, Plan: "server", Scopes: []string{k.scope}}
		if err := operator.CheckNewKey(&ke.cfg, nk, ke.secrets); err != nil {
			return usageError{err}
		}
		rec, plain, err := ke.keys.Create(c.Context(), auth.CreateOptions{Name: k.name, Plan: "server", Scopes: []string{k.scope}, Actor: "cli:init"})
		if err != nil {
			return err
		}
		lines = append(lines, k.env+"="+plain)
		s.say("  created %s (%s, scope %s, plan server) → %s in %s", rec.ID, k.name, k.scope, k.env, envFile)
	}
	if len(lines) > 0 {
		if fi, err := os.Lstat(envFile); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return usageError{fmt.Errorf("%s is a symlink: init writes keys only into a regular file", envFile)}
		}
		if err := appendLines(envFile, append([]string{"# keyward (keyward init): server-only, never NEXT_PUBLIC_"}, lines...)); err != nil {
			return err
		}
		// It holds keys now, whatever mode it had.
		if err := os.Chmod(envFile, 0o600); err != nil {
			return err
		}
	}
	if ignored, known := gitIgnored(envFile); known && !ignored {
		s.warn("%s is not ignored by git: add it to .gitignore before you commit (it holds keys)", envFile)
	}
	s.say(`
The app's %s (server-only: never NEXT_PUBLIC_) now holds:
  KEYWARD_URL          keyward's base URL, without /v1
  KEYWARD_SERVER_KEY   the server key (users:assert): Server Actions and Route Handlers
  KEYWARD_MINT_KEY     the mint key (tokens:mint): the route that mints browser tokens`, envFile)
	return nil
}

func (s starter) rel(p string) string {
	if r, err := filepath.Rel(".", p); err == nil {
		return r
	}
	return p
}

// writeNew writes a file that does not exist yet (never replacing one);
// wrote is false when it was there.
func writeNew(path string, mode fs.FileMode, make func() ([]byte, error)) (wrote bool, err error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return false, usageError{fmt.Errorf("%s is a symlink: init neither follows nor keeps one; remove it", path)}
		}
		return false, nil
	}
	b, err := make()
	if err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return false, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}

// newPepper is 32 random bytes, hex.
func newPepper() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return []byte(hex.EncodeToString(b) + "\n"), nil
}

// newStandInKey is a random key for the mock provider.
func newStandInKey() ([]byte, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return []byte("mock-" + hex.EncodeToString(b) + "\n"), nil
}

// newSigningKey is a new Ed25519 private key, PKCS#8 PEM.
func newSigningKey() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ensureLine appends line to a file unless a line of it is line already.
func ensureLine(path, line string) (added bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == line || strings.TrimSpace(l) == strings.TrimSuffix(line, "/") {
			return false, nil
		}
	}
	prefix := ""
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		prefix = "\n"
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return false, err
	}
	if _, err := fmt.Fprintf(f, "%s%s\n", prefix, line); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}

// gitIgnored asks git whether path is ignored; known is false outside a
// repository or without git.
func gitIgnored(path string) (ignored, known bool) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := exec.Command("git", "-C", dir, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		return false, false
	}
	err := exec.Command("git", "-C", dir, "check-ignore", "-q", name).Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, true
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false, true
	}
	return false, false
}

// envNames are the variable names a dotenv file sets.
func envNames(path string) (map[string]bool, error) {
	names := map[string]bool{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return names, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		if name, _, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			names[strings.TrimSpace(name)] = true
		}
	}
	return names, sc.Err()
}

// appendLines appends lines to a file, creating it with mode 0600 (it
// holds keys) and keeping an existing file's mode.
func appendLines(path string, lines []string) error {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	prefix := ""
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		prefix = "\n"
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(prefix + strings.Join(lines, "\n") + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
