package nextaudit

import (
	"context"
	"flag"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/scan/detect"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// Fake keys are drawn from fixed seeds at test time: the right shape for
// the scan rules, never a live credential, and never a key-shaped literal
// in the repository.
const (
	alnum   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	base64u = alnum + "-_"
)

func fakeChars(seed uint64, alphabet string, n int) string {
	r := rand.New(rand.NewPCG(seed, 0x61756469)) // "audi"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// fakeOpenAIKey is shaped like an OpenAI project key.
func fakeOpenAIKey(seed uint64) string {
	return "sk-proj-" + fakeChars(seed, base64u, 74) + "T3BlbkFJ" + fakeChars(seed+1000, base64u, 74)
}

// fakeGoogleKey is shaped like a Google API key (Firebase web keys and
// Gemini keys alike).
func fakeGoogleKey(seed uint64) string { return "AIzaSy" + fakeChars(seed, base64u, 33) }

// fakeGroqKey is shaped like a Groq key.
func fakeGroqKey(seed uint64) string { return "gsk_" + fakeChars(seed, alnum, 52) }

// writeTree writes files (slash-separated paths → contents) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// copyDir copies a fixture into a fresh temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// gitEnv makes commits reproducible and keeps the user's git
// configuration (signing, hooks) out of the tests.
var gitEnv = []string{
	"GIT_AUTHOR_NAME=keyward", "GIT_AUTHOR_EMAIL=test@keyward.invalid", "GIT_COMMITTER_NAME=keyward",
	"GIT_COMMITTER_EMAIL=test@keyward.invalid", "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z",
	"GIT_COMMITTER_DATE=2026-01-02T03:04:05Z", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
}

// git runs a git command in dir for a test.
func git(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
}

// auditDir runs an audit for a test.
func auditDir(t testing.TB, dir string, opt Options) Result {
	t.Helper()
	// The user's git configuration (a global excludes file) must not
	// change what the env-file checks see.
	if opt.Env == nil {
		opt.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	}
	r, err := Run(context.Background(), dir, opt)
	if err != nil {
		t.Fatalf("audit %s: %v", dir, err)
	}
	return r
}

// fingerprintOf is the scanner's fingerprint of a secret found by a rule.
func fingerprintOf(rule, secret string) string { return detect.Fingerprint(rule, secret) }
