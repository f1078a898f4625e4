package source

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// base64Filler is n bytes of base64 runs of random words (text, so the
// decoder decodes them; nothing is found in them), separated by spaces.
func base64Filler(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	raw := make([]byte, 600)
	for b.Len() < n {
		for i := range raw {
			raw[i] = "abcdefghijklmnopqrstuvwxyz    "[r.IntN(30)]
		}
		b.WriteString(base64.StdEncoding.EncodeToString(raw))
		b.WriteString(" ")
	}
	return b.String()
}

// TestDecodeBudgetPerChunk: the decoding budget is per chunk, so a key
// encoded after megabytes of base64 is still found (with a per-file budget
// it was not), and a chunk that holds more encoded text than its budget is
// reported through DecodeCut, never skipped silently.
func TestDecodeBudgetPerChunk(t *testing.T) {
	const chunk = 64 << 10
	late := fakeGroqKey(81)
	enc := base64.StdEncoding.EncodeToString([]byte(`{"groq":"` + late + `"}`))
	for _, tt := range []struct {
		name    string
		content string
		budget  int // 0: the default
		found   bool
		cut     bool
	}{
		{name: "late key in a large bundle", content: base64Filler(1, 40*chunk) + "\ncfg: " + enc + "\n", found: true},
		{name: "late key after 3 MiB of base64", content: base64Filler(2, 3<<20) + "\ncfg: " + enc + "\n", found: true},
		{name: "budget too small for a chunk is reported", content: base64Filler(3, 4*chunk) + "\ncfg: " + enc + "\n", budget: 4 << 10, cut: true},
		{name: "no encoded text, nothing cut", content: strings.Repeat("a=1;", 10*chunk) + "\ncfg: " + enc + "\n", budget: 4 << 10, found: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "bundle.js", tt.content)
			var (
				mu  sync.Mutex
				cut []string
			)
			opt := Options{ChunkSize: chunk, Overlap: 4 << 10, Workers: 2, DecodeBudget: tt.budget,
				DecodeCut: func(name string) { mu.Lock(); cut = append(cut, name); mu.Unlock() }}
			got, err := Scan(context.Background(), det, []string{dir}, opt)
			if err != nil {
				t.Fatal(err)
			}
			found := slices.ContainsFunc(got, func(f Finding) bool { return f.Secret == late && f.Encoding == "base64" })
			if found != tt.found && !(tt.cut && found) {
				t.Errorf("late encoded key found: %v, want %v", found, tt.found)
			}
			if tt.cut {
				if len(cut) != 1 || !strings.HasSuffix(cut[0], "bundle.js") {
					t.Errorf("DecodeCut calls %q, want one for bundle.js", cut)
				}
			} else if len(cut) != 0 {
				t.Errorf("DecodeCut called: %q", cut)
			}
		})
	}
}
