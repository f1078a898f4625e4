package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/rules"
	"github.com/keyward/keyward/internal/scan/source"
)

const toolURI = "https://github.com/keyward/keyward"

// Level is a SARIF result level.
type Level string

// Levels.
const (
	Error   Level = "error"
	Warning Level = "warning"
	Note    Level = "note"
)

// Tool names what produced a report.
type Tool struct {
	Name, Version, InformationURI string
}

// Rule describes a kind of result: a scan rule, or an audit check.
type Rule struct {
	ID          string
	Name        string // CamelCase, as SARIF viewers show it
	Description string
	Help        string
	Level       Level
	// SecuritySeverity is GitHub code scanning's 0–10 score ("9.5").
	SecuritySeverity string
	Tags             []string
}

// Result is one thing a check reports, located in a file. Scan findings
// and audit findings both map to it.
type Result struct {
	RuleID  string
	Level   Level
	Message string // never a secret: redact first
	// Path is slash-separated, relative to the repository root when it can
	// be; Line and Column are 1-based (0: unknown), EndColumn exclusive.
	Path                             string
	Line, Column, EndLine, EndColumn int
	// Fingerprint identifies the result across runs (partialFingerprints).
	Fingerprint string
	Properties  map[string]any
}

// WriteSARIF writes a SARIF 2.1.0 log with one run. Only the rules that
// results refer to are listed.
func WriteSARIF(w io.Writer, tool Tool, rs []Rule, results []Result) error {
	used := map[string]bool{}
	for _, r := range results {
		used[r.RuleID] = true
	}
	driver := sarifDriver{Name: tool.Name, Version: tool.Version, InformationURI: tool.InformationURI, Rules: []sarifRule{}}
	index := map[string]int{}
	for _, r := range rs {
		if !used[r.ID] {
			continue
		}
		index[r.ID] = len(driver.Rules)
		sr := sarifRule{
			ID: r.ID, Name: r.Name,
			ShortDescription:     &sarifText{Text: r.Description},
			DefaultConfiguration: &sarifConfig{Level: r.Level},
			Properties:           map[string]any{},
		}
		if r.Help != "" {
			sr.Help = &sarifText{Text: r.Help}
		}
		if len(r.Tags) > 0 {
			sr.Properties["tags"] = r.Tags
		}
		if r.SecuritySeverity != "" {
			sr.Properties["security-severity"] = r.SecuritySeverity
		}
		driver.Rules = append(driver.Rules, sr)
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}}
	for _, r := range results {
		i, ok := index[r.RuleID]
		if !ok {
			return fmt.Errorf("sarif: result for unknown rule %q", r.RuleID)
		}
		sr := sarifResult{
			RuleID: r.RuleID, RuleIndex: i, Level: r.Level, Message: sarifText{Text: r.Message},
			Properties: r.Properties,
		}
		if r.Path != "" {
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: artifact(r.Path)}}
			if r.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: r.Line, StartColumn: r.Column, EndLine: r.EndLine, EndColumn: r.EndColumn}
			}
			sr.Locations = []sarifLocation{loc}
		}
		if r.Fingerprint != "" {
			sr.PartialFingerprints = map[string]string{"keyward/v1": r.Fingerprint}
		}
		run.Results = append(run.Results, sr)
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	return encodeJSON(w, log)
}

// encodeJSON writes v as indented JSON in which no character a terminal
// acts on is left raw: encoding/json escapes C0 controls but not DEL, C1
// controls (U+0080–U+009F; U+009B is a CSI) or bidirectional overrides,
// which a hostile path or commit author could carry into a CI log.
func encodeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(escapeJSONControls(buf.Bytes()))
	return err
}

// escapeJSONControls rewrites the characters source.EscapeControl would
// escape as JSON \u escapes. Outside strings JSON is plain ASCII, so only
// string contents change, and the text still decodes to the same values.
func escapeJSONControls(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		// C0 controls are escaped by encoding/json already, and white
		// space between tokens must stay.
		if r < 0x7f || r == utf8.RuneError || source.EscapeControl(string(r)) == string(r) {
			if out != nil {
				out = append(out, b[i:i+n]...)
			}
			i += n
			continue
		}
		if out == nil {
			out = append(make([]byte, 0, len(b)+16), b[:i]...)
		}
		out = fmt.Appendf(out, `\u%04x`, r)
		i += n
	}
	if out == nil {
		return b
	}
	return out
}

// artifact makes a SARIF artifact location: a relative path is relative to
// the source root (as code scanning expects), an absolute one a file URI.
func artifact(path string) sarifArtifact {
	p := filepath.ToSlash(path)
	if filepath.IsAbs(path) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // Windows drive letters
		}
		return sarifArtifact{URI: "file://" + uriEscape(p)}
	}
	return sarifArtifact{URI: uriEscape(strings.TrimPrefix(p, "./")), URIBaseID: "%SRCROOT%"}
}

// uriEscape escapes what may not appear in a URI path.
func uriEscape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"#%<>?[\]^{|}`+"`", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name,omitempty"`
		ShortDescription     *sarifText     `json:"shortDescription,omitempty"`
		Help                 *sarifText     `json:"help,omitempty"`
		DefaultConfiguration *sarifConfig   `json:"defaultConfiguration,omitempty"`
		Properties           map[string]any `json:"properties,omitempty"`
	}
	sarifConfig struct {
		Level Level `json:"level,omitempty"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               Level             `json:"level,omitempty"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations,omitempty"`
		PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
		Properties          map[string]any    `json:"properties,omitempty"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId,omitempty"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
		EndLine     int `json:"endLine,omitempty"`
		EndColumn   int `json:"endColumn,omitempty"`
	}
)

// ScanRules describes every scan rule for SARIF.
func ScanRules() []Rule {
	var out []Rule
	for _, r := range rules.All() {
		sev := cmpOr(r.Severity, rules.High)
		out = append(out, Rule{
			ID: r.ID, Name: CamelCase(r.ID), Description: r.Description,
			Help: "Revoke the " + r.Provider + " credential, issue a new one, and keep it server-side " +
				"(an environment variable read only by server code, or keyward serve). Removing it from the file does not remove it from git history or from deployed bundles.",
			Level: LevelOf(sev), SecuritySeverity: SecuritySeverityOf(sev),
			Tags: []string{"security", "secret", strings.ToLower(r.Provider)},
		})
	}
	return out
}

func cmpOr(s, def rules.Severity) rules.Severity {
	if s == "" {
		return def
	}
	return s
}

// ScanResults maps scan findings to SARIF results.
func ScanResults(findings []source.Finding, opt Options) []Result {
	out := make([]Result, 0, len(findings))
	for _, f := range findings {
		sev := rules.Severity(severity(f))
		msg := fmt.Sprintf("%s (%s)", f.Description, detect.Redact(f.Secret))
		if f.Exposure == source.Client {
			msg += " in a file sent to browsers"
		}
		if f.Original != "" {
			msg += ", built from " + f.Original
		}
		if f.Commit != nil {
			msg += fmt.Sprintf(", added in commit %s by %s", shortHash(f.Commit.Hash), f.Commit.Author)
		}
		props := map[string]any{"exposure": string(f.Exposure), "provider": f.Provider, "severity": string(sev)}
		if f.Encoding != "" {
			props["encoding"] = f.Encoding
		}
		if f.Commit != nil {
			props["commit"], props["author"] = f.Commit.Hash, f.Commit.Author
		}
		if v := opt.Verified[f.Fingerprint()]; v != "" {
			props["verified"] = v
		}
		r := Result{
			RuleID: f.RuleID, Level: LevelOf(sev), Message: msg + ".",
			Path: f.Path, Line: f.Line, Column: f.Column,
			Fingerprint: f.Fingerprint(), Properties: props,
		}
		if !strings.Contains(f.Secret, "\n") && f.Encoding == "" && f.Line > 0 {
			r.EndLine, r.EndColumn = f.Line, f.Column+len(f.Secret)
		}
		out = append(out, r)
	}
	return out
}

// LevelOf is the SARIF level of a severity: critical and high are
// errors, medium a warning, the rest notes.
func LevelOf(s rules.Severity) Level {
	switch s {
	case rules.Critical, rules.High:
		return Error
	case rules.Medium:
		return Warning
	}
	return Note
}

// SecuritySeverityOf is GitHub code scanning's score of a severity.
func SecuritySeverityOf(s rules.Severity) string {
	switch s {
	case rules.Critical:
		return "9.5"
	case rules.High:
		return "8.0"
	case rules.Medium:
		return "5.5"
	}
	return "3.0"
}

// CamelCase turns a kebab-case id into CamelCase: "openai-project-key"
// → "OpenaiProjectKey".
func CamelCase(id string) string {
	parts := strings.Split(id, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(slices.Clip(parts), "")
}
