package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanFailOn: --fail-on SEVERITY makes only findings of that severity
// or worse fail the scan (exit 1); the report lists every finding either
// way; an unknown severity is an error (exit 2).
func TestScanFailOn(t *testing.T) {
	// generic: a medium finding (a high-entropy value assigned to apiKey);
	// groq: a critical one; client: the generic one in a browser bundle,
	// which makes it critical.
	generic := `const apiKey = "` + fakeGroqKey(71)[4:36] + `";` + "\n"
	medium, critical, client := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, medium, map[string]string{"src/config.ts": generic})
	writeFiles(t, critical, map[string]string{"src/config.ts": generic, ".env": "GROQ_API_KEY=" + fakeGroqKey(72) + "\n"})
	writeFiles(t, client, map[string]string{".next/static/chunks/main.js": generic})
	report := filepath.Join(t.TempDir(), "r.json")

	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{name: "default: any finding", args: []string{"scan", medium}, code: exitError, stdout: []string{"generic-secret", "1 secret in 1 file"}},
		{name: "low", args: []string{"scan", "--fail-on", "low", medium}, code: exitError},
		{name: "medium", args: []string{"scan", "--fail-on", "medium", medium}, code: exitError},
		{name: "high: medium findings listed, not failing", args: []string{"scan", "--fail-on", "high", medium}, code: 0,
			stdout: []string{"medium", "generic-secret", "1 secret in 1 file"}},
		{name: "critical", args: []string{"scan", "--fail-on", "critical", medium}, code: 0, stdout: []string{"generic-secret"}},
		{name: "case-insensitive", args: []string{"scan", "--fail-on", "HIGH", medium}, code: 0},
		{name: "critical finding", args: []string{"scan", "--fail-on", "critical", critical}, code: exitError,
			stdout: []string{"groq-api-key", "generic-secret", "2 secrets in 2 files"}},
		{name: "sent to browsers is critical", args: []string{"scan", "--fail-on", "critical", client}, code: exitError,
			stdout: []string{"(client)", "critical"}},
		{name: "json lists all", args: []string{"scan", "--fail-on", "high", "--format", "json", medium}, code: 0,
			stdout: []string{`"rule_id": "generic-secret"`, `"severity": "medium"`}},
		{name: "report file lists all", args: []string{"scan", "--fail-on", "critical", "--format", "json", "--report", report, medium}, code: 0,
			stdout: []string{"1 secrets found; report written to"}},
		{name: "unreadable still fails", args: []string{"scan", "--fail-on", "critical", filepath.Join(medium, "gone.js"), medium}, code: exitUsage,
			stderr: "could not read 1 path"},
		{name: "unknown severity", args: []string{"scan", "--fail-on", "urgent", medium}, code: exitUsage,
			stderr: `--fail-on: unknown severity "urgent": want one of critical, high, medium, low`},
		{name: "empty severity", args: []string{"scan", "--fail-on", "", medium}, code: exitUsage, stderr: "unknown severity"},
		{name: "info is not a severity", args: []string{"scan", "--fail-on", "info", critical}, code: exitUsage, stderr: "unknown severity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runScanCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %s; stderr %q", code, tt.code, stdout, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
			if tt.code == 0 && stderr != "" {
				t.Errorf("a passing scan printed an error: %q", stderr)
			}
		})
	}
	b, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(b), `"rule_id": "generic-secret"`) {
		t.Errorf("report file: %v\n%s", err, b)
	}
}
