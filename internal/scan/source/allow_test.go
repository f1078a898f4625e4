package source

import (
	"context"
	"strings"
	"testing"
)

// TestAllowMarker: keyward:allow silences a finding on its own ordinary
// line, anywhere on it; on a minified line only in a comment just after
// the finding or as /* keyward:allow */ right before it — not anywhere in
// the kilobytes around it.
func TestAllowMarker(t *testing.T) {
	key := fakeGroqKey(91)
	min := strings.Repeat("function(e){return e.v},", 200) // 4800 bytes, no newline
	for _, tt := range []struct {
		name    string
		content string
		allowed bool
	}{
		{"line comment after", "const k = \"" + key + "\" // keyward:allow fixture\n", true},
		{"hash comment in .env", "GROQ_API_KEY=" + key + " # keyward:allow\n", true},
		{"comment before on the line", "/* keyward:allow */ const k = \"" + key + "\"\n", true},
		{"marker on the next line", "const k = \"" + key + "\"\n// keyward:allow\n", false},
		{"marker on the line before", "// keyward:allow\nconst k = \"" + key + "\"\n", false},
		{"minified, comment right after", min + `var k="` + key + `"/* keyward:allow */;` + min, true},
		{"minified, line comment right after", min + `var k="` + key + `";// keyward:allow` + "\n" + min, true},
		{"minified, comment right before", min + `var k=/* keyward:allow */"` + key + `";` + min, true},
		{"minified, marker 3 KiB after", min + `var k="` + key + `";` + min[:3000] + `/*keyward:allow*/` + min, false},
		{"minified, marker 3 KiB before", min + `/*keyward:allow*/` + min[:3000] + `var k="` + key + `";` + min, false},
		{"minified, marker in a string after", min + `var k="` + key + `",m="keyward:allow";` + min, false},
		{"minified, comment 300 bytes after", min + `var k="` + key + `";` + min[:300] + `/* keyward:allow */` + min, false},
		{"minified, comment before with code between", min + `/* keyward:allow */f(1);var k="` + key + `";` + min, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "app.js", tt.content)
			for _, opt := range []Options{{}, {ChunkSize: 2048, Overlap: 512}} {
				got, err := Scan(context.Background(), det, []string{dir}, opt)
				if err != nil {
					t.Fatal(err)
				}
				if silenced := len(got) == 0; silenced != tt.allowed {
					t.Errorf("chunk %d: silenced %v, want %v (%d findings)", opt.ChunkSize, silenced, tt.allowed, len(got))
				}
			}
		})
	}
}
