package nextaudit

import (
	"encoding/json"
	"fmt"
	"github.com/keyward/keyward/internal/scan/report"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// allowRe matches an inline ignore, optionally naming the checks it
// silences: "keyward:allow" or "keyward:allow public-env-secret,env-file-in-git".
var allowRe = regexp.MustCompile(`keyward:allow(?:[ \t]+([a-z0-9-]+(?:[ \t]*,[ \t]*[a-z0-9-]+)*))?`)

// allowedBy reports whether a line's keyward:allow comment covers a check.
// A list of words that are not all check ids is a plain comment after a
// bare keyward:allow.
func allowedBy(line, checkID string) bool {
	for _, m := range allowRe.FindAllStringSubmatch(line, -1) {
		if m[1] == "" {
			return true
		}
		ids := strings.Split(m[1], ",")
		all := true
		for i := range ids {
			ids[i] = strings.TrimSpace(ids[i])
			if _, ok := CheckByID(ids[i]); !ok {
				all = false
			}
		}
		if !all {
			return true
		}
		for _, id := range ids {
			if id == checkID {
				return true
			}
		}
	}
	return false
}

// commentOnly reports whether a line holds nothing but a comment.
func commentOnly(line string) bool {
	t := strings.TrimSpace(line)
	for _, p := range []string{"//", "#", "/*", "{/*", "<!--", "*"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// allowed reports whether an inline keyward:allow comment silences a
// finding: on its line, or alone on the line above. Whole-file findings
// (line 0) are silenced by a baseline only.
func (a *auditor) allowed(f Finding) bool {
	if f.Line <= 0 {
		return false
	}
	src, ok := a.files[f.Path]
	if !ok {
		b, err := os.ReadFile(filepath.Join(a.proj.Root, filepath.FromSlash(f.Path)))
		if err != nil {
			return false
		}
		src, a.files[f.Path] = b, b
	}
	if allowedBy(sourceLine(src, f.Line), f.CheckID) {
		return true
	}
	prev := sourceLine(src, f.Line-1)
	return f.Line > 1 && commentOnly(prev) && allowedBy(prev, f.CheckID)
}

// Formats lists the report formats Write accepts.
var Formats = []string{"text", "json", "sarif"}

// Write writes an audit result in format; version names keyward's in
// SARIF.
func Write(w io.Writer, format string, r Result, version string) error {
	switch format {
	case "text":
		return writeText(w, r)
	case "json":
		return writeJSON(w, r)
	case "sarif":
		return writeSARIF(w, r, version)
	}
	return fmt.Errorf("unknown report format %q (want %s)", format, strings.Join(Formats, ", "))
}

func writeText(w io.Writer, r Result) error {
	var b strings.Builder
	if len(r.Apps) == 0 {
		b.WriteString("No Next.js app found (no package.json depending on next).\n")
	} else {
		fmt.Fprintf(&b, "Audited %s: %s\n\n", report.Plural(len(r.Apps), "Next.js app"), strings.Join(r.Apps, ", "))
	}
	if len(r.Findings) == 0 && len(r.Apps) > 0 {
		b.WriteString("No problems found.\n")
	}
	counts := map[Severity]int{}
	for i, f := range r.Findings {
		if i == 0 || f.Path != r.Findings[i-1].Path {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(f.Path + "\n")
		}
		counts[f.Severity]++
		loc := "-"
		if f.Line > 0 {
			loc = fmt.Sprintf("%d:%d", f.Line, f.Column)
		}
		fmt.Fprintf(&b, "  %-7s %-8s  %s  %s\n", loc, f.Severity, f.CheckID, f.Message)
		fmt.Fprintf(&b, "          fix: %s\n", f.Fix)
	}
	if len(r.Findings) > 0 {
		var parts []string
		for _, s := range []Severity{Critical, High, Medium, Low} {
			if counts[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
			}
		}
		fmt.Fprintf(&b, "\n%s (%s).\n", report.Plural(len(r.Findings), "problem"), strings.Join(parts, ", "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonFinding is one finding in the JSON report; its field names are a
// stable interface and follow keyward scan's where they mean the same.
type jsonFinding struct {
	CheckID     string `json:"check_id"`
	Severity    string `json:"severity"`
	Title       string `json:"title"`
	Message     string `json:"message"`
	Path        string `json:"path"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Fix         string `json:"fix"`
	App         string `json:"app"`
	Fingerprint string `json:"fingerprint"`
}

func writeJSON(w io.Writer, r Result) error {
	out := struct {
		Apps     []string      `json:"apps"`
		Findings []jsonFinding `json:"findings"`
		Notes    []string      `json:"notes,omitempty"`
	}{Apps: r.Apps, Findings: []jsonFinding{}, Notes: r.Notes}
	if out.Apps == nil {
		out.Apps = []string{}
	}
	for _, f := range r.Findings {
		c, _ := CheckByID(f.CheckID)
		out.Findings = append(out.Findings, jsonFinding{
			CheckID: f.CheckID, Severity: string(f.Severity), Title: c.Title, Message: f.Message,
			Path: f.Path, Line: f.Line, Column: f.Column, Fix: f.Fix, App: f.App, Fingerprint: f.Fingerprint(),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// writeSARIF writes the findings through the scanner's SARIF writer: one
// rule per check, one result per finding, paths relative to the audited
// directory.
func writeSARIF(w io.Writer, r Result, version string) error {
	rs := make([]report.Rule, 0, len(Checks))
	for _, c := range Checks {
		rs = append(rs, report.Rule{
			ID: c.ID, Name: report.CamelCase(c.ID), Description: c.Title, Help: c.Fix,
			Level: report.LevelOf(c.Severity), SecuritySeverity: report.SecuritySeverityOf(c.Severity),
			Tags: []string{"security", "nextjs", "audit"},
		})
	}
	results := make([]report.Result, 0, len(r.Findings))
	for _, f := range r.Findings {
		results = append(results, report.Result{
			RuleID: f.CheckID, Level: report.LevelOf(f.Severity), Message: f.Message,
			Path: f.Path, Line: f.Line, Column: f.Column, Fingerprint: f.Fingerprint(),
			Properties: map[string]any{"severity": string(f.Severity), "fix": f.Fix, "app": f.App, "subject": f.Subject},
		})
	}
	return report.WriteSARIF(w, report.Tool{Name: "keyward audit", Version: version, InformationURI: "https://github.com/keyward/keyward"}, rs, results)
}
