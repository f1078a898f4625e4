package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGroqKey is shaped like a Groq key, drawn from a fixed seed: never a
// live one.
func fakeGroqKey(seed uint64) string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	r := rand.New(rand.NewPCG(seed, 7))
	b := []byte("gsk_")
	for range 52 {
		b = append(b, alnum[r.IntN(len(alnum))])
	}
	return string(b)
}

// scanTree builds a small Next.js-like project with one key in a client
// bundle and one in node_modules.
func scanTree(t *testing.T) (dir, key string) {
	t.Helper()
	dir, key = t.TempDir(), fakeGroqKey(21)
	for rel, content := range map[string]string{
		".next/static/chunks/page.js": `(()=>{var e="` + key + `"})();`,
		"node_modules/x/index.js":     `const k="` + fakeGroqKey(22) + `"`,
		"src/page.tsx":                "export default function Page() { return null }\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, key
}

func TestScanCommand(t *testing.T) {
	dir, key := scanTree(t)
	clean := t.TempDir()
	if err := os.WriteFile(filepath.Join(clean, "a.js"), []byte("console.log(1)\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reportPath := filepath.Join(t.TempDir(), "report.json")

	for _, tt := range []struct {
		name     string
		args     []string
		code     int // 0: no error
		stdout   []string
		noStdout bool
		stderr   string
	}{
		{name: "findings", args: []string{"scan", dir}, code: exitError,
			stdout: []string{".next/static/chunks/page.js (client)", "groq-api-key", "1 secret in 1 file, 1 sent to browsers."}},
		{name: "no findings", args: []string{"scan", clean}, stdout: []string{"No secrets found."}},
		{name: "no skip", args: []string{"scan", "--no-skip", dir}, code: exitError, stdout: []string{"node_modules/x/index.js", "2 secrets in 2 files"}},
		{name: "json", args: []string{"scan", "--format", "json", dir}, code: exitError, stdout: []string{`"exposure": "client"`, `"rule_id": "groq-api-key"`}},
		{name: "sarif", args: []string{"scan", "--format", "sarif", dir}, code: exitError, stdout: []string{`"version": "2.1.0"`, `"ruleId": "groq-api-key"`, `"keyward/v1"`}},
		{name: "quiet", args: []string{"scan", "-q", dir}, code: exitError, noStdout: true},
		{name: "report file", args: []string{"scan", "--format", "json", "--report", reportPath, dir}, code: exitError,
			stdout: []string{"1 secrets found; report written to"}},
		{name: "unreadable path", args: []string{"scan", filepath.Join(dir, "missing")}, code: exitUsage, stderr: "no such file or directory"},
		{name: "bad format", args: []string{"scan", "--format", "xml", dir}, code: exitUsage, stderr: `--format "xml"`},
		{name: "bad flag", args: []string{"scan", "--nope"}, code: exitUsage, stderr: "unknown flag"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// runCLI's context is cancelled, which stops a scan; this
			// one is not.
			var stdout, stderrBuf bytes.Buffer
			err := run(context.Background(), tt.args, mapEnv(nil), &stdout, &stderrBuf)
			res := runResult{stdout: stdout.String(), stderr: stderrBuf.String(), err: err}
			code := 0
			if res.err != nil {
				code = exitCode(res.err)
			}
			if code != tt.code {
				t.Fatalf("exit code %d, want %d (err %v)", code, tt.code, res.err)
			}
			// What main would print to stderr.
			var stderr string
			if res.err != nil && !errors.Is(res.err, errSilent) {
				stderr = "keyward: " + res.err.Error()
			}
			if tt.code == exitError && stderr != "" {
				t.Errorf("findings printed an error: %s", stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(res.stdout, s) {
					t.Errorf("stdout does not contain %q:\n%s", s, res.stdout)
				}
			}
			if tt.noStdout && res.stdout != "" {
				t.Errorf("stdout = %q, want nothing", res.stdout)
			}
			if strings.Contains(res.stdout, key) {
				t.Error("the report shows the secret unredacted")
			}
		})
	}

	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Findings []struct {
			Exposure, Secret string
		}
	}
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Findings) != 1 || rep.Findings[0].Exposure != "client" || strings.Contains(string(b), key) {
		t.Errorf("report file: %v %s", err, b)
	}
}
