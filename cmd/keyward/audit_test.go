package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// auditTree builds a small Next.js app with a public secret in .env.local
// (a fake Groq key), and a clean one.
func auditTree(t *testing.T) (vulnerable, clean, key string) {
	t.Helper()
	vulnerable, clean, key = t.TempDir(), t.TempDir(), fakeGroqKey(31)
	pkg := `{"dependencies":{"next":"16.4.6"}}`
	writeFile(t, vulnerable, "package.json", pkg)
	writeFile(t, vulnerable, ".env.local", "NEXT_PUBLIC_GROQ_API_KEY="+key+"\n")
	if err := os.MkdirAll(filepath.Join(vulnerable, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, vulnerable, "app/page.tsx", "import Groq from 'groq-sdk';\nexport default function P() { return <p>{String(new Groq({ dangerouslyAllowBrowser: true }))}</p> }\n")
	writeFile(t, clean, "package.json", pkg)
	return vulnerable, clean, key
}

func TestAuditCommand(t *testing.T) {
	vulnerable, clean, key := auditTree(t)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	// A baseline taken now silences what is there now.
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"audit", "--format", "json", "--report", baseline, vulnerable}, mapEnv(nil), &out, &out); !errors.Is(err, errAuditFindings) {
		t.Fatalf("baseline run: %v", err)
	}
	ignoreFile := writeFile(t, t.TempDir(), "audit.keywardignore", "rule: public-env-secret # accepted\n")
	ignoredDir := t.TempDir()
	writeFile(t, ignoredDir, "package.json", `{"dependencies":{"next":"16.4.6"}}`)
	writeFile(t, ignoredDir, ".env", "NEXT_PUBLIC_DEMO_TOKEN=demo\n")
	writeFile(t, ignoredDir, ".keywardignore", "path: .env\n")
	empty := t.TempDir()
	notNext := t.TempDir()
	writeFile(t, notNext, "package.json", `{"dependencies":{"react":"19.2.0"}}`)
	allowed := t.TempDir()
	writeFile(t, allowed, "package.json", `{"dependencies":{"next":"16.4.6"}}`)
	writeFile(t, allowed, ".env", "NEXT_PUBLIC_DEMO_TOKEN=demo # keyward:allow\n")

	for _, tt := range []struct {
		name     string
		args     []string
		code     int // 0: no error
		stdout   []string
		noStdout bool
		stderr   string
	}{
		{name: "findings", args: []string{"audit", vulnerable}, code: exitError,
			stdout: []string{".env.local", "critical  public-env-secret", "high      dangerously-allow-browser", "fix: ", "2 problems (1 critical, 1 high)."}},
		{name: "clean", args: []string{"audit", clean}, stdout: []string{"Audited 1 Next.js app: .", "No problems found."}},
		{name: "no app", args: []string{"audit", empty}, code: exitUsage,
			stderr: "no Next.js app found in " + empty + ": looked for a package.json that depends on next"},
		{name: "no app, not even a package.json depending on next", args: []string{"audit", "--format", "json", notNext}, code: exitUsage,
			stderr: "pass --allow-empty"},
		{name: "no app allowed", args: []string{"audit", "--allow-empty", empty}, stdout: []string{"No Next.js app found"}},
		{name: "json", args: []string{"audit", "--format", "json", vulnerable}, code: exitError,
			stdout: []string{`"check_id": "public-env-secret"`, `"severity": "critical"`, `"fingerprint": "`, `"fix": "`}},
		{name: "sarif", args: []string{"audit", "--format", "sarif", vulnerable}, code: exitError,
			stdout: []string{`"version": "2.1.0"`, `"name": "keyward audit"`, `"ruleId": "public-env-secret"`, `"security-severity": "9.5"`, `"keyward/v1": "`}},
		{name: "quiet", args: []string{"audit", "-q", vulnerable}, code: exitError, noStdout: true},
		{name: "report file", args: []string{"audit", "--format", "json", "--report", reportPath, vulnerable}, code: exitError,
			stdout: []string{"2 problems found; report written to"}},
		{name: "baseline", args: []string{"audit", "--baseline", baseline, vulnerable}, stdout: []string{"No problems found."}},
		{name: "inline allow", args: []string{"audit", allowed}, stdout: []string{"No problems found."}},
		{name: "missing directory", args: []string{"audit", filepath.Join(clean, "missing")}, code: exitUsage, stderr: "no such file or directory"},
		{name: "bad baseline", args: []string{"audit", "--baseline", filepath.Join(clean, "missing.json"), clean}, code: exitUsage, stderr: "baseline: open"},
		{name: "ignore file", args: []string{"audit", "--ignore-file", ignoreFile, vulnerable}, code: exitError, stdout: []string{"1 problem (1 high)."}},
		{name: "default ignore file", args: []string{"audit", ignoredDir}, stdout: []string{"No problems found."}},
		{name: "bad ignore file", args: []string{"audit", "--ignore-file", filepath.Join(clean, "package.json"), clean}, code: exitUsage, stderr: "ignore file:"},
		{name: "bad format", args: []string{"audit", "--format", "sarif-ish", clean}, code: exitUsage, stderr: `--format "sarif-ish"`},
		{name: "two directories", args: []string{"audit", clean, clean}, code: exitUsage, stderr: "accepts at most 1 arg"},
		{name: "build without next installed", args: []string{"audit", "--build", clean}, code: exitUsage, stderr: "next is not installed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderrBuf bytes.Buffer
			err := run(context.Background(), tt.args, mapEnv(nil), &stdout, &stderrBuf)
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tt.code {
				t.Fatalf("exit code %d, want %d (err %v)", code, tt.code, err)
			}
			var stderr string
			if err != nil && !errors.Is(err, errSilent) {
				stderr = "keyward: " + err.Error()
			}
			if tt.code == exitError && stderr != "" {
				t.Errorf("findings printed an error: %s", stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout does not contain %q:\n%s", s, stdout.String())
				}
			}
			if tt.noStdout && stdout.String() != "" {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if strings.Contains(stdout.String(), key) {
				t.Error("the report shows the secret unredacted")
			}
		})
	}

	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Apps     []string
		Findings []struct {
			CheckID  string `json:"check_id"`
			Path     string
			Line     int
			Severity string
		}
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 2 || rep.Findings[0].CheckID != "public-env-secret" || rep.Findings[0].Path != ".env.local" || rep.Findings[0].Line != 1 {
		t.Errorf("report: %+v", rep)
	}
	if strings.Contains(string(b), key) {
		t.Error("the report file shows the secret unredacted")
	}
}
