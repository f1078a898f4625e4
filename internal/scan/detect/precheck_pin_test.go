package detect

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/scan/rules"
)

var updatePins = flag.Bool("update-pins", false, "rewrite testdata/precheck-regexes.golden")

// TestPrecheckRegexesPinned: the prechecks in precheck.go and the tight
// windows in tight.go are proofs about the exact regexes of the rules they
// serve. If a rule's regex changes, this
// fails so that its precheck is reviewed (then rerun with -update-pins).
func TestPrecheckRegexesPinned(t *testing.T) {
	var b strings.Builder
	for _, r := range rules.All() {
		_, pre := prechecks[r.ID]
		_, tw := tightWindows[r.ID]
		if pre || tw {
			b.WriteString(r.ID + "\t" + r.Regex.String() + "\n")
		}
	}
	path := filepath.Join("testdata", "precheck-regexes.golden")
	if *updatePins {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-pins)", err)
	}
	if string(want) != b.String() {
		t.Fatalf("a regex with a precheck changed: review precheck.go, then run with -update-pins\nwant:\n%s\ngot:\n%s", want, b.String())
	}
	if b.Len() == 0 {
		t.Fatal("no prechecks registered")
	}
}
