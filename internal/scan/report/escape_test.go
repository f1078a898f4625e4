package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/rules"
	"github.com/keyward/keyward/internal/scan/source"
)

// TestHostileNames: a file name, commit author or email, or source-map
// path carrying terminal escapes (CSI, OSC, C1 CSI, a bidirectional
// override, a carriage return) cannot drive the terminal in any format:
// text escapes them, JSON and SARIF keep them as \u escapes and still
// decode to the original values.
func TestHostileNames(t *testing.T) {
	hostile := []string{
		"evil\x1b[2J\x1b[1;1Hclean.js",
		"osc\x1b]0;pwned\x07.js",
		"c1\u009b31mred.js",
		"bidi\u202egpj.js",
		"cr\rOK: no secrets\n.js",
		"del\x7f.js",
		"bad\xffutf8.js",
	}
	for _, name := range hostile {
		f := source.Finding{Path: name, Exposure: source.Repository, Original: "webpack://" + name + ":3",
			Commit: &source.Commit{Hash: "0123456789abcdef", Author: "Mallory " + name, Email: name + "@example.test", Date: time.Unix(0, 0)},
			Finding: detect.Finding{RuleID: "groq-api-key", Provider: "Groq", Description: "Groq API key", Severity: rules.Critical,
				Secret: fakeKey("gsk_", 52, 3), Line: 1, Column: 1}}
		for _, format := range Formats {
			t.Run(format+"/"+strings.ToValidUTF8(name, "?"), func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, format, []source.Finding{f}, Options{Color: true}); err != nil {
					t.Fatal(err)
				}
				out := buf.String()
				// Colour codes are keyward's own; strip them first.
				for _, c := range []string{ansiReset, ansiBold, ansiDim, ansiRed, ansiYellow, ansiCyan} {
					out = strings.ReplaceAll(out, c, "")
				}
				for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\r", "\x7f", "\xff"} {
					if strings.Contains(out, bad) {
						t.Errorf("%q left raw in %s:\n%q", bad, format, out)
					}
				}
				if format == "text" && strings.Contains(out, "\nOK: no secrets") {
					t.Errorf("a newline in a name starts a line of its own: %q", out)
				}
				if format != "text" {
					var v any
					if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
						t.Fatalf("invalid JSON: %v", err)
					}
					if want := strings.ToValidUTF8(name, "\uFFFD"); !strings.Contains(jsonStrings(v), want) {
						t.Errorf("%s does not decode back to %q", format, want)
					}
				}
			})
		}
	}
}

// jsonStrings joins every string in a decoded JSON value.
func jsonStrings(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v + "\x00")
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}
