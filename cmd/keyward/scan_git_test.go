package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitIn runs git in dir with a fixed identity and no user configuration.
func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.test",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.test", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestScanGitAndStaged(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	k1, k2 := fakeGroqKey(51), fakeGroqKey(52)
	gitIn(t, dir, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "a.js"), []byte("const k = \""+k1+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "add", "a.js")
	gitIn(t, dir, "commit", "-q", "-m", "add")
	gitIn(t, dir, "rm", "-q", "a.js")
	gitIn(t, dir, "commit", "-q", "-m", "remove")

	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{name: "history", args: []string{"scan", "--git", dir}, code: exitError, stdout: []string{"a.js", "groq-api-key", "Ada <ada@example.test>"}},
		{name: "history json", args: []string{"scan", "--git", "--format", "json", dir}, code: exitError, stdout: []string{`"commit": "`, `"author": "Ada"`}},
		{name: "staged clean", args: []string{"scan", "--staged", dir}, stdout: []string{"No secrets found."}},
		{name: "since without git", args: []string{"scan", "--since", "1 week ago", dir}, code: exitUsage, stderr: "need --git"},
		{name: "git and staged", args: []string{"scan", "--git", "--staged", dir}, code: exitUsage, stderr: "exclude each other"},
		{name: "not a repository", args: []string{"scan", "--git", t.TempDir()}, code: exitUsage, stderr: "git:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, mapEnv(nil), &stdout, &stderr)
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tt.code {
				t.Fatalf("exit code %d, want %d (err %v)", code, tt.code, err)
			}
			if tt.stderr != "" && (err == nil || !strings.Contains(err.Error(), tt.stderr)) {
				t.Errorf("err %v does not contain %q", err, tt.stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout does not contain %q:\n%s", s, stdout.String())
				}
			}
			if strings.Contains(stdout.String(), k1) {
				t.Error("secret shown unredacted")
			}
		})
	}

	// Staged: a key added to the index is found; the pre-commit hook fails.
	if err := os.WriteFile(filepath.Join(dir, "b.env"), []byte("GROQ_API_KEY="+k2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "add", "b.env")
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"scan", "--staged", dir}, mapEnv(nil), &stdout, &bytes.Buffer{})
	if err == nil || exitCode(err) != exitError || !strings.Contains(stdout.String(), "b.env") {
		t.Errorf("staged key: err %v, stdout:\n%s", err, stdout.String())
	}
}

func TestScanStdin(t *testing.T) {
	key := fakeGroqKey(61)
	var stdout bytes.Buffer
	cmd := scanCmd(env{getenv: mapEnv(nil), stdout: &stdout, stderr: &bytes.Buffer{}})
	cmd.SetIn(strings.NewReader("line one\nGROQ_API_KEY=" + key + "\n"))
	cmd.SetArgs([]string{"-"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	if err == nil || exitCode(err) != exitError {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(stdout.String(), "- (repository)") || !strings.Contains(stdout.String(), "2:14") {
		t.Errorf("stdout:\n%s", stdout.String())
	}

	cmd = scanCmd(env{getenv: mapEnv(nil), stdout: &stdout, stderr: &bytes.Buffer{}})
	cmd.SetArgs([]string{"-", "x"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.ExecuteContext(context.Background()); err == nil || exitCode(err) != exitUsage {
		t.Errorf("- with a path: err = %v", err)
	}
}
