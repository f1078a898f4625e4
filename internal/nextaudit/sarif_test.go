package nextaudit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/internal/scan/report/sariftest"
)

// TestAuditSARIFValid validates every fixture's SARIF report (the golden
// files the fixture test writes) against the official SARIF 2.1.0 schema.
func TestAuditSARIFValid(t *testing.T) {
	schema := sariftest.Schema(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.sarif"))
	if len(files) < 4 {
		t.Fatalf("%d SARIF golden files", len(files))
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := sariftest.Validate(t, schema, b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
