// Package report writes scan findings for people (text) and for tools
// (JSON). Every format redacts secrets: a report is meant to be pasted
// into tickets and CI logs.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/source"
)

// Formats lists the formats Write accepts.
var Formats = []string{"text", "json"}

// Write writes findings, sorted by path and position, in format.
func Write(w io.Writer, format string, findings []source.Finding) error {
	switch format {
	case "text":
		return writeText(w, findings)
	case "json":
		return writeJSON(w, findings)
	}
	return fmt.Errorf("unknown report format %q (want %s)", format, strings.Join(Formats, ", "))
}

func writeText(w io.Writer, findings []source.Finding) error {
	var b strings.Builder
	if len(findings) == 0 {
		b.WriteString("No secrets found.\n")
	}
	files, client := 0, 0
	for i, f := range findings {
		if i == 0 || f.Path != findings[i-1].Path {
			if i > 0 {
				b.WriteByte('\n')
			}
			files++
			fmt.Fprintf(&b, "%s (%s)\n", f.Path, f.Exposure)
		}
		if f.Exposure == source.Client {
			client++
		}
		fmt.Fprintf(&b, "  %d:%d  %-8s  %s (%s)  %s  %s\n", f.Line, f.Column, severity(f), f.Description, f.RuleID,
			detect.Redact(f.Secret), f.Fingerprint())
	}
	if len(findings) > 0 {
		fmt.Fprintf(&b, "\n%s in %s", plural(len(findings), "secret"), plural(files, "file"))
		if client > 0 {
			fmt.Fprintf(&b, ", %d sent to browsers", client)
		}
		b.WriteString(".\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// severity is the finding's severity, raised to critical when the file is
// sent to browsers: anyone can read it there.
func severity(f source.Finding) string {
	if f.Exposure == source.Client {
		return "critical"
	}
	return string(f.Severity)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// jsonFinding is one finding in the JSON report; its field names are a
// stable interface.
type jsonFinding struct {
	RuleID      string `json:"rule_id"`
	Provider    string `json:"provider"`
	Description string `json:"description"`
	Severity    string `json:"severity"`
	Exposure    string `json:"exposure"`
	Path        string `json:"path"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Secret      string `json:"secret"` // redacted
	Fingerprint string `json:"fingerprint"`
}

func writeJSON(w io.Writer, findings []source.Finding) error {
	out := struct {
		Findings []jsonFinding `json:"findings"`
	}{Findings: []jsonFinding{}}
	for _, f := range findings {
		out.Findings = append(out.Findings, jsonFinding{
			RuleID: f.RuleID, Provider: f.Provider, Description: f.Description,
			Severity: severity(f), Exposure: string(f.Exposure),
			Path: f.Path, Line: f.Line, Column: f.Column,
			Secret: detect.Redact(f.Secret), Fingerprint: f.Fingerprint(),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
