package report

import (
	"bytes"
	"testing"

	"github.com/keyward/keyward/internal/scan/report/sariftest"
	"github.com/keyward/keyward/internal/scan/source"
)

// TestSARIFValid validates the SARIF reports against the official schema:
// scan findings of every kind, no findings, and a generic result as an
// audit would write it (no line, no fingerprint, a path to escape).
func TestSARIFValid(t *testing.T) {
	schema := sariftest.Schema(t)
	absolute := findings()[:1]
	absolute[0].Path = "/tmp/project dir/.next/static/x.js"
	for name, write := range map[string]func(*bytes.Buffer) error{
		"findings": func(b *bytes.Buffer) error { return Write(b, "sarif", findings(), Options{Version: "1.2.3"}) },
		"absolute": func(b *bytes.Buffer) error { return Write(b, "sarif", absolute, Options{}) },
		"empty":    func(b *bytes.Buffer) error { return Write(b, "sarif", []source.Finding{}, Options{}) },
		"audit": func(b *bytes.Buffer) error {
			return WriteSARIF(b, Tool{Name: "keyward audit"}, []Rule{{ID: "next-public-secret", Description: "d", Level: Warning}},
				[]Result{
					{RuleID: "next-public-secret", Level: Warning, Message: "m", Path: "app/[id]/page.tsx"},
					{RuleID: "next-public-secret", Level: Note, Message: "no location"},
				})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := write(&buf); err != nil {
				t.Fatal(err)
			}
			if err := sariftest.Validate(t, schema, buf.Bytes()); err != nil {
				t.Errorf("invalid SARIF: %v\n%s", err, buf.String())
			}
		})
	}

	// The schema check itself works: a broken log is refused.
	if err := sariftest.Validate(t, schema, []byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`)); err == nil {
		t.Error("schema accepted a driver without a name")
	}
}

func TestSARIFUnknownRule(t *testing.T) {
	err := WriteSARIF(&bytes.Buffer{}, Tool{Name: "x"}, nil, []Result{{RuleID: "nope"}})
	if err == nil {
		t.Error("no error for a result of an unknown rule")
	}
}
