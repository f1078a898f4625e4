package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/keyward/keyward/internal/scan/source"
)

// sarifSchema compiles the official SARIF 2.1.0 schema (OASIS, errata 01),
// stored under testdata as published in oasis-tcs/sarif-spec
// (sarif-2.1/schema/sarif-schema-2.1.0.json at e0583813), with format
// assertions on.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const id = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSARIFValid validates the SARIF reports against the official schema:
// scan findings of every kind, no findings, and a generic result as an
// audit would write it (no line, no fingerprint, a path to escape).
func TestSARIFValid(t *testing.T) {
	schema := sarifSchema(t)
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
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(inst); err != nil {
				t.Errorf("invalid SARIF: %v\n%s", err, buf.String())
			}
		})
	}

	// The schema check itself works: a broken log is refused.
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`))
	if err := schema.Validate(inst); err == nil {
		t.Error("schema accepted a driver without a name")
	}
}

func TestSARIFUnknownRule(t *testing.T) {
	err := WriteSARIF(&bytes.Buffer{}, Tool{Name: "x"}, nil, []Result{{RuleID: "nope"}})
	if err == nil {
		t.Error("no error for a result of an unknown rule")
	}
}
