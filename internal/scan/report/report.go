// Package report writes scan findings for people (text) and for tools
// (JSON, SARIF 2.1.0). Every format redacts secrets: a report is meant to
// be pasted into tickets and CI logs. The SARIF writer (sarif.go) works on
// a generic Result, so other keyward checks (keyward audit) report through
// it too.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/source"
)

// Formats lists the formats Write accepts.
var Formats = []string{"text", "json", "sarif"}

// Options change how a report looks.
type Options struct {
	// Color uses ANSI colours in the text format (for a terminal).
	Color bool
	// Version is keyward's version, for SARIF's tool section.
	Version string
	// Verified holds verification results by fingerprint (--verify);
	// nil when nothing was verified.
	Verified map[string]string
}

// Write writes findings, sorted by path and position (or, for git history,
// by commit), in format.
func Write(w io.Writer, format string, findings []source.Finding, opt Options) error {
	switch format {
	case "text":
		return writeText(w, findings, opt)
	case "json":
		return writeJSON(w, findings, opt)
	case "sarif":
		return WriteSARIF(w, Tool{Name: "keyward", Version: opt.Version, InformationURI: toolURI}, ScanRules(), ScanResults(findings, opt))
	}
	return fmt.Errorf("unknown report format %q (want %s)", format, strings.Join(Formats, ", "))
}

// ANSI styles for the text format.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

type styler bool

func (s styler) style(code, text string) string {
	if !s {
		return text
	}
	return code + text + ansiReset
}

func severityStyle(sev string) string {
	switch sev {
	case "critical":
		return ansiBold + ansiRed
	case "high":
		return ansiRed
	case "medium":
		return ansiYellow
	}
	return ansiCyan
}

func writeText(w io.Writer, findings []source.Finding, opt Options) error {
	st := styler(opt.Color)
	var b strings.Builder
	if len(findings) == 0 {
		b.WriteString("No secrets found.\n")
	}
	files, client := 0, 0
	for i, f := range findings {
		if i == 0 || f.Path != findings[i-1].Path || f.Commit != findings[i-1].Commit {
			if i > 0 {
				b.WriteByte('\n')
			}
			files++
			// File names, authors and source-map paths come from the
			// scanned content: escaped, they cannot drive the terminal.
			fmt.Fprintf(&b, "%s (%s)", st.style(ansiBold, esc(f.Path)), f.Exposure)
			if c := f.Commit; c != nil {
				fmt.Fprintf(&b, "  commit %s  %s <%s>  %s", esc(shortHash(c.Hash)), esc(c.Author), esc(c.Email), c.Date.UTC().Format(time.DateOnly))
			}
			b.WriteByte('\n')
		}
		if f.Exposure == source.Client {
			client++
		}
		sev := severity(f)
		fmt.Fprintf(&b, "  %d:%d  %s  %s (%s)  %s  %s", f.Line, f.Column, st.style(severityStyle(sev), fmt.Sprintf("%-8s", sev)),
			f.Description, f.RuleID, esc(detect.Redact(f.Secret)), st.style(ansiDim, f.Fingerprint()))
		if f.Encoding != "" {
			fmt.Fprintf(&b, "  [%s]", f.Encoding)
		}
		if f.Original != "" {
			fmt.Fprintf(&b, "  from %s", esc(f.Original))
		}
		if v := opt.Verified[f.Fingerprint()]; v != "" {
			fmt.Fprintf(&b, "  %s", st.style(verifiedStyle(v), v))
		}
		b.WriteByte('\n')
	}
	if len(findings) > 0 {
		where := Plural(files, "file")
		commits := map[string]bool{}
		for _, f := range findings {
			if f.Commit != nil {
				commits[f.Commit.Hash] = true
			}
		}
		if len(commits) > 0 {
			where += " of " + Plural(len(commits), "commit")
		}
		fmt.Fprintf(&b, "\n%s in %s", Plural(len(findings), "secret"), where)
		if client > 0 {
			fmt.Fprintf(&b, ", %s", st.style(ansiBold+ansiRed, fmt.Sprintf("%d sent to browsers", client)))
		}
		b.WriteString(".\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var esc = source.EscapeControl

func verifiedStyle(v string) string {
	if v == "active" {
		return ansiBold + ansiRed
	}
	return ansiDim
}

func shortHash(h string) string { return h[:min(len(h), 12)] }

// severity is the finding's severity, raised to critical when the file is
// sent to browsers: anyone can read it there.
func severity(f source.Finding) string { return string(f.ReportedSeverity()) }

// Plural counts things in words: "1 file", "3 files".
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// JSONFinding is one finding in the JSON report; its field names are a
// stable interface (baselines are read from it).
type JSONFinding struct {
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
	Encoding    string `json:"encoding,omitempty"`
	Original    string `json:"original,omitempty"`
	Commit      string `json:"commit,omitempty"`
	Author      string `json:"author,omitempty"`
	Email       string `json:"email,omitempty"`
	Date        string `json:"date,omitempty"`
	Verified    string `json:"verified,omitempty"`
}

// JSONReport is the JSON report.
type JSONReport struct {
	Findings []JSONFinding `json:"findings"`
}

func writeJSON(w io.Writer, findings []source.Finding, opt Options) error {
	out := JSONReport{Findings: []JSONFinding{}}
	for _, f := range findings {
		j := JSONFinding{
			RuleID: f.RuleID, Provider: f.Provider, Description: f.Description,
			Severity: severity(f), Exposure: string(f.Exposure),
			Path: f.Path, Line: f.Line, Column: f.Column,
			Secret: detect.Redact(f.Secret), Fingerprint: f.Fingerprint(),
			Encoding: f.Encoding, Original: f.Original, Verified: opt.Verified[f.Fingerprint()],
		}
		if c := f.Commit; c != nil {
			j.Commit, j.Author, j.Email = c.Hash, c.Author, c.Email
			if !c.Date.IsZero() {
				j.Date = c.Date.Format(time.RFC3339)
			}
		}
		out.Findings = append(out.Findings, j)
	}
	return encodeJSON(w, out)
}
