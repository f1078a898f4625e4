package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runScanCLI runs keyward and returns stdout, what main would print on
// standard error, and the exit code.
func runScanCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errBuf bytes.Buffer
	err := run(context.Background(), args, mapEnv(nil), &out, &errBuf)
	stderr = errBuf.String()
	if err != nil {
		code = exitCode(err)
		if !errors.Is(err, errSilent) {
			stderr += "keyward: " + err.Error() + "\n"
		}
	}
	return out.String(), stderr, code
}

// TestScanLinksAndUnreadable: a path argument that is a symbolic link is
// scanned; a path that cannot be read does not hide the findings in the
// others: they are reported, the path is named on standard error (escaped)
// and the exit status is 2.
func TestScanLinksAndUnreadable(t *testing.T) {
	dir := t.TempDir()
	key := fakeGroqKey(61)
	writeFiles(t, dir, map[string]string{"real/.env": "GROQ_API_KEY=" + key + "\n"})
	for link, target := range map[string]string{
		"link.env":         filepath.Join(dir, "real/.env"),
		"linkdir":          "real",
		"gone.env":         "nowhere",
		"evil\x1b[2Jx.env": "nowhere",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Skipf("no symbolic links: %v", err)
		}
	}
	report := filepath.Join(t.TempDir(), "r.json")
	p := func(rel string) string { return filepath.Join(dir, rel) }
	for _, tt := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		fileReport bool
	}{
		{name: "link to a file", args: []string{"scan", p("link.env")}, code: exitError,
			stdout: []string{"link.env (repository)", "groq-api-key"}},
		{name: "link to a directory", args: []string{"scan", p("linkdir")}, code: exitError,
			stdout: []string{"linkdir/.env (repository)", "groq-api-key"}},
		{name: "unreadable and findings", args: []string{"scan", p("gone.env"), p("link.env")}, code: exitUsage,
			stdout: []string{"link.env (repository)", "1 secret in 1 file"},
			stderr: []string{"could not read 1 path", "gone.env: no such file or directory"}},
		{name: "unreadable, report file", args: []string{"scan", "--format", "json", "--report", report, p("gone.env"), p("real")}, code: exitUsage,
			stdout: []string{"1 secrets found; report written to"}, stderr: []string{"gone.env"}, fileReport: true},
		{name: "hostile name escaped", args: []string{"scan", p("evil\x1b[2Jx.env")}, code: exitUsage,
			stderr: []string{`evil\x1b[2Jx.env`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runScanCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if strings.Contains(stderr, "\x1b") || strings.Contains(stdout+stderr, key) {
				t.Errorf("raw escape or secret printed: %q %q", stdout, stderr)
			}
			if tt.fileReport {
				b, err := os.ReadFile(report)
				if err != nil || !strings.Contains(string(b), `"rule_id": "groq-api-key"`) {
					t.Errorf("report: %v %s", err, b)
				}
			}
		})
	}
}

// TestScanDecodeCutNote: when a chunk holds more encoded text than the
// decoding budget, standard error says which file, and the findings made
// are still reported.
func TestScanDecodeCutNote(t *testing.T) {
	dir := t.TempDir()
	key := fakeGroqKey(62)
	var filler strings.Builder
	for filler.Len() < 64<<10 {
		filler.WriteString(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("lorem ipsum dolor sit amet ", 20))) + " ")
	}
	writeFiles(t, dir, map[string]string{
		"bundle.js": filler.String() + "\n",
		"plain.js":  `const k="` + key + `"`,
	})
	for _, tt := range []struct {
		name string
		args []string
		note bool
	}{
		{name: "default budget", args: []string{"scan", dir}},
		{name: "small budget", args: []string{"scan", "--decode-budget", "1024", dir}, note: true},
		{name: "small budget, quiet", args: []string{"scan", "-q", "--decode-budget", "1024", dir}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runScanCLI(t, tt.args...)
			if code != exitError {
				t.Fatalf("exit %d; stderr %q", code, stderr)
			}
			if !slices.Contains(tt.args, "-q") && !strings.Contains(stdout, "groq-api-key") {
				t.Errorf("finding not reported:\n%s", stdout)
			}
			note := strings.Contains(stderr, "decoding was cut short in 1 file") && strings.Contains(stderr, "bundle.js")
			if note != tt.note {
				t.Errorf("note shown %v, want %v; stderr %q", note, tt.note, stderr)
			}
		})
	}
}

// TestScanIgnoreLookup: which .keywardignore applies. --git and --staged
// run from a subdirectory use the repository root's; each directory named
// uses its own; named files and standard input the current directory's;
// an unknown rule id is an error naming the line.
func TestScanIgnoreLookup(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	kRepo, kStaged := fakeGroqKey(63), fakeGroqKey(64)
	gitIn(t, repo, "init", "-q", "-b", "main")
	writeFiles(t, repo, map[string]string{
		".keywardignore":    "path: app/fixtures/\n",
		"app/fixtures/k.js": `const k="` + kRepo + `"` + "\n",
		"app/src/ok.js":     "console.log(1)\n",
	})
	gitIn(t, repo, "add", ".")
	gitIn(t, repo, "commit", "-q", "-m", "fixtures")
	writeFiles(t, repo, map[string]string{"app/fixtures/s.js": `const s="` + kStaged + `"` + "\n"})
	gitIn(t, repo, "add", ".")

	// Two projects and a loose file: a's ignore file accepts its key, b has
	// none, the current directory's accepts the loose file's rule.
	work := t.TempDir()
	kA, kB := fakeGroqKey(65), fakeGroqKey(66)
	writeFiles(t, work, map[string]string{
		"a/.keywardignore":   "rule: groq-api-key\n",
		"a/k.js":             `const k="` + kA + `"`,
		"b/k.js":             `const k="` + kB + `"`,
		".keywardignore":     "path: loose.env\n",
		"loose.env":          "GROQ_API_KEY=" + fakeGroqKey(67) + "\n",
		"other.env":          "GROQ_API_KEY=" + fakeGroqKey(68) + "\n",
		"bad/.keywardignore": "# accepted\nrule: groq-api-key\n\nrule: opnai-api-key\nrule: public-env-secret\n",
		"bad/k.js":           `const k="` + kA + `"`,
	})

	for _, tt := range []struct {
		name   string
		chdir  string
		args   []string
		code   int
		has    []string
		hasNot []string
		stderr string
	}{
		{name: "git from a subdirectory", args: []string{"scan", "--git", filepath.Join(repo, "app/src")}, code: 0, hasNot: []string{"groq-api-key"}},
		{name: "staged from a subdirectory", args: []string{"scan", "--staged", filepath.Join(repo, "app")}, code: 0, hasNot: []string{"groq-api-key"}},
		{name: "git from a subdirectory, cwd", chdir: filepath.Join(repo, "app/src"), args: []string{"scan", "--git"}, code: 0, hasNot: []string{"groq-api-key"}},
		{name: "each directory its own", args: []string{"scan", filepath.Join(work, "a"), filepath.Join(work, "b")}, code: exitError,
			has: []string{filepath.Join(work, "b", "k.js")}, hasNot: []string{filepath.Join(work, "a", "k.js")}},
		{name: "files use the current directory's", chdir: work, args: []string{"scan", "loose.env", "other.env"}, code: exitError,
			has: []string{"other.env"}, hasNot: []string{"loose.env"}},
		{name: "unknown rule id", args: []string{"scan", filepath.Join(work, "bad")}, code: exitUsage,
			stderr: `line 4: unknown rule "opnai-api-key"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.chdir != "" {
				t.Chdir(tt.chdir)
			}
			stdout, stderr, code := runScanCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %s; stderr %q", code, tt.code, stdout, stderr)
			}
			for _, s := range tt.has {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, stdout)
				}
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
		})
	}
}
