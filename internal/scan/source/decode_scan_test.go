package source

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScanEncoded finds keys hidden by escapes, URL encoding and base64,
// reports them at the encoded text's position with their encoding, drops
// the ones on a keyward:allow line, and does not report a key twice when
// it is also written plainly.
func TestScanEncoded(t *testing.T) {
	k := []string{fakeGroqKey(71), fakeGroqKey(72), fakeGroqKey(73), fakeGroqKey(74), fakeGroqKey(75), fakeGroqKey(76)}
	esc := strings.ReplaceAll(k[0], "_", `\u005f`)
	content := "const a = \"" + esc + "\";\n" +
		"fetch(u, {body: \"key=" + strings.ReplaceAll(k[1], "_", "%5F") + "\"})\n" +
		"cfg: " + base64.StdEncoding.EncodeToString([]byte(`{"groq":"`+k[2]+`"}`)) + "\n" +
		"const b = \"" + strings.ReplaceAll(k[3], "_", `\x5f`) + "\"; // keyward:allow\n" +
		"plain \"" + k[4] + "\" and escaped \"" + strings.ReplaceAll(k[4], "_", `\u005f`) + "\"\n" +
		"deep: " + base64.StdEncoding.EncodeToString([]byte(`x="`+strings.ReplaceAll(k[5], "_", `\u005F`)+`"`)) + "\n"
	dir := t.TempDir()
	write(t, dir, "app.js", content)
	got, err := Scan(context.Background(), det, []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type enc struct {
		Line     int
		Secret   string
		Encoding string
	}
	var gotEnc []enc
	for _, f := range got {
		gotEnc = append(gotEnc, enc{f.Line, f.Secret, f.Encoding})
	}
	want := []enc{{1, k[0], "escape"}, {2, k[1], "url"}, {3, k[2], "base64"}, {5, k[4], ""}, {6, k[5], "base64+escape"}}
	if diff := cmp.Diff(want, gotEnc); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(got) > 0 && (got[0].Column != 12 || content[got[0].Start:got[0].End] != esc) {
		t.Errorf("escaped key at column %d, span %q", got[0].Column, content[got[0].Start:got[0].End])
	}

	// Decoding off: only the plain key.
	got, err = Scan(context.Background(), det, []string{dir}, Options{DecodeDepth: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Secret != k[4] {
		t.Errorf("decoding off: %d findings", len(got))
	}
}

// vlqEncode writes v as a base64 VLQ.
func vlqEncode(v int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	u := v << 1
	if v < 0 {
		u = -v<<1 | 1
	}
	var b strings.Builder
	for {
		d := u & 31
		u >>= 5
		if u > 0 {
			d |= 32
		}
		b.WriteByte(chars[d])
		if u == 0 {
			return b.String()
		}
	}
}

// segment is one mapping: generated column → source, source line and column.
type segment struct{ col, src, line, srcCol int }

// mappings encodes lines of segments as a source map's "mappings".
func mappings(lines [][]segment) string {
	var b strings.Builder
	var src, line, srcCol int
	for i, l := range lines {
		if i > 0 {
			b.WriteByte(';')
		}
		col := 0
		for j, s := range l {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(vlqEncode(s.col - col))
			b.WriteString(vlqEncode(s.src - src))
			b.WriteString(vlqEncode(s.line - line))
			b.WriteString(vlqEncode(s.srcCol - srcCol))
			col, src, line, srcCol = s.col, s.src, s.line, s.srcCol
		}
	}
	return b.String()
}

func TestSourceMap(t *testing.T) {
	key := fakeGroqKey(81)
	bundle := `(()=>{console.log(1)` + "\n" + `;var a=1,e="` + key + `";})();` + "\n//# sourceMappingURL=page.js.map\n"
	m, _ := json.Marshal(map[string]any{
		"version":    3,
		"sourceRoot": "webpack://app/",
		"sources":    []string{"src/other.ts", "src/lib/keys.ts"},
		"mappings": mappings([][]segment{
			{{0, 0, 0, 0}, {6, 0, 1, 2}},
			{{0, 0, 3, 0}, {8, 1, 11, 4}, {60, 0, 9, 0}},
		}),
	})
	dir := t.TempDir()
	write(t, dir, ".next/static/chunks/page.js", bundle)
	write(t, dir, ".next/static/chunks/page.js.map", string(m))
	// A bundle without the comment but with FILE.map beside it.
	write(t, dir, ".next/static/chunks/b.js", `;var a=1,e="`+key+`";`)
	write(t, dir, ".next/static/chunks/b.js.map", string(m))
	got, err := Scan(context.Background(), det, []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var origs []string
	for _, f := range got {
		origs = append(origs, f.Original)
	}
	// b.js's finding is on line 1, which maps to src/other.ts line 2.
	if diff := cmp.Diff([]string{"webpack://app/src/other.ts:2", "webpack://app/src/lib/keys.ts:12"}, origs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLookupMappings(t *testing.T) {
	m := mappings([][]segment{{{0, 0, 0, 0}, {10, 1, 5, 0}}, {}, {{4, 2, 7, 1}}})
	for _, tt := range []struct {
		line, col, src, srcLine int
		ok                      bool
	}{
		{0, 0, 0, 0, true}, {0, 9, 0, 0, true}, {0, 10, 1, 5, true}, {0, 500, 1, 5, true},
		{1, 0, 0, 0, false}, {2, 3, 0, 0, false}, {2, 4, 2, 7, true}, {9, 0, 0, 0, false},
	} {
		src, sl, ok, err := lookupMappings(m, tt.line, tt.col)
		if err != nil || ok != tt.ok || ok && (src != tt.src || sl != tt.srcLine) {
			t.Errorf("(%d,%d) = %d %d %v %v, want %d %d %v", tt.line, tt.col, src, sl, ok, err, tt.src, tt.srcLine, tt.ok)
		}
	}
	for _, bad := range []string{"A!", "gggggggggggggggggggg", "AA", "AAAAAA", "g"} {
		if _, _, _, err := lookupMappings(bad, 0, 0); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzLookupMappings checks the VLQ parser never panics and agrees with
// the encoder on well-formed input.
func FuzzLookupMappings(f *testing.F) {
	f.Add("AAAA,UCKA;;IEOC", 0, 12)
	f.Add("gggggggggggggggggggggg", 0, 0)
	f.Add("AAAAA,A;", 1, 0)
	f.Fuzz(func(t *testing.T, m string, line, col int) {
		_, _, _, _ = lookupMappings(m, line, col)
		// Round trip: decode what the encoder wrote.
		seg := segment{col: col & 0xffff, src: line & 0xff, line: (line >> 8) & 0xffff, srcCol: 3}
		enc := mappings([][]segment{{seg}})
		src, sl, ok, err := lookupMappings(enc, 0, seg.col)
		if err != nil || !ok || src != seg.src || sl != seg.line {
			t.Fatalf("%+v → %q → %d %d %v %v", seg, enc, src, sl, ok, err)
		}
	})
}

// TestGenericTwins: a key a provider's rule recognises is reported once,
// not also as a generic secret.
func TestGenericTwins(t *testing.T) {
	dir := t.TempDir()
	key := fakeGroqKey(111)
	write(t, dir, "a.js", `const client = new Groq({ apiKey: "`+key+`" });`+"\n"+`const serviceSecret = "`+fakeGroqKey(112)[4:36]+`";`+"\n")
	got, err := Scan(context.Background(), det, []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range got {
		ids = append(ids, f.RuleID)
	}
	if diff := cmp.Diff([]string{"groq-api-key", "generic-secret"}, ids); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
