package main

import (
	"strings"
	"testing"
)

// TestAuditFailOn: the same for keyward audit.
func TestAuditFailOn(t *testing.T) {
	vulnerable, clean, _ := auditTree(t) // a critical and a high problem
	// A range that allows, but may not install, versions affected by two
	// high advisories: two medium problems.
	medium := t.TempDir()
	writeFile(t, medium, "package.json", `{"dependencies":{"next":"^16.2.5"}}`)
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{name: "default: any problem", args: []string{"audit", medium}, code: exitError, stdout: []string{"medium    vulnerable-next-version", "2 problems (2 medium)."}},
		{name: "medium", args: []string{"audit", "--fail-on", "medium", medium}, code: exitError},
		{name: "high: listed, not failing", args: []string{"audit", "--fail-on", "high", medium}, code: 0,
			stdout: []string{"medium    vulnerable-next-version", "2 problems (2 medium)."}},
		{name: "high problem", args: []string{"audit", "--fail-on", "high", vulnerable}, code: exitError},
		{name: "critical problem", args: []string{"audit", "--fail-on", "critical", vulnerable}, code: exitError,
			stdout: []string{"2 problems (1 critical, 1 high)."}},
		{name: "clean", args: []string{"audit", "--fail-on", "low", clean}, code: 0, stdout: []string{"No problems found."}},
		{name: "json lists all", args: []string{"audit", "--fail-on", "critical", "--format", "json", medium}, code: 0,
			stdout: []string{`"check_id": "vulnerable-next-version"`, `"severity": "medium"`}},
		{name: "unknown severity", args: []string{"audit", "--fail-on", "severe", medium}, code: exitUsage,
			stderr: `--fail-on: unknown severity "severe": want one of critical, high, medium, low`},
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
				t.Errorf("a passing audit printed an error: %q", stderr)
			}
		})
	}
}
