package source

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/rules"
)

var det = detect.New(rules.All())

// fakeGroqKey is shaped like a Groq key (gsk_ + 52 alphanumerics), drawn
// from a fixed seed: never a live key.
func fakeGroqKey(seed uint64) string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	r := rand.New(rand.NewPCG(seed, 7))
	b := []byte("gsk_")
	for range 52 {
		b = append(b, alnum[r.IntN(len(alnum))])
	}
	return string(b)
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loc is what the tree test compares.
type loc struct {
	Path         string
	Line, Column int
	Exposure     Exposure
	Secret       string
}

func TestScanTree(t *testing.T) {
	root := t.TempDir()
	k1, k2, k3, k4, k5 := fakeGroqKey(1), fakeGroqKey(2), fakeGroqKey(3), fakeGroqKey(4), fakeGroqKey(5)
	write(t, root, "src/app.ts", "import x from 'y'\n\nconst groq = \""+k1+"\"\n")
	write(t, root, ".next/static/chunks/app/page-1a2b.js", `(()=>{var e="`+k2+`";})();`)
	write(t, root, ".next/server/app/page.js", "module.exports={k:\""+k3+"\"}")
	write(t, root, ".next/server/app/index.html", "<script>self.k=\""+k4+"\"</script>")
	write(t, root, "out/index.html", "<p>"+k5+"</p>")
	write(t, root, "node_modules/pkg/index.js", "const k=\""+k1+"\"")
	write(t, root, ".git/config", "token = "+k1)
	write(t, root, "logo.png", "\x89PNG\x00\x00"+k1)
	write(t, root, "dist/bundle.js", "x") // build output is scanned, not skipped

	got, err := Scan(context.Background(), det, []string{root}, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []loc{
		{".next/server/app/index.html", 1, 17, Client, k4},
		{".next/server/app/page.js", 1, 20, Server, k3},
		{".next/static/chunks/app/page-1a2b.js", 1, 14, Client, k2},
		{"out/index.html", 1, 4, Client, k5},
		{"src/app.ts", 3, 15, Repository, k1},
	}
	if diff := cmp.Diff(want, locs(t, root, got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// With the skips turned off, node_modules, .git and the binary file
	// are scanned too.
	got, err = Scan(context.Background(), det, []string{root}, Options{IncludeSkippedDirs: true, IncludeBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, l := range locs(t, root, got) {
		paths[l.Path] = true
	}
	for _, p := range []string{".git/config", "node_modules/pkg/index.js", "logo.png"} {
		if !paths[p] {
			t.Errorf("%s not scanned with skips off", p)
		}
	}
}

func locs(t *testing.T, root string, fs []Finding) []loc {
	t.Helper()
	var out []loc
	for _, f := range fs {
		rel, err := filepath.Rel(root, f.Path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, loc{filepath.ToSlash(rel), f.Line, f.Column, f.Exposure, f.Secret})
	}
	return out
}

// TestChunkBoundary places keys across, just before and just after chunk
// edges, on long lines and after line breaks: each is found once, at the
// right line and column.
func TestChunkBoundary(t *testing.T) {
	const chunk, overlap = 4096, 1024
	key := fakeGroqKey(9)
	for _, off := range []int{0, 100, chunk - 28, chunk - 1, chunk, chunk + overlap/2 - 1, chunk + overlap/2, 2*chunk - overlap - 30, 3*chunk - 10, 5 * chunk} {
		for _, nl := range []bool{false, true} {
			filler := strings.Repeat("a=1;", 4*chunk)
			if nl {
				filler = strings.Repeat("a=1;\n", 4*chunk)
			}
			content := filler[:off] + " " + key + " " + filler[off:]
			dir := t.TempDir()
			write(t, dir, "big.js", content)
			got, err := Scan(context.Background(), det, []string{dir}, Options{ChunkSize: chunk, Overlap: overlap, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Errorf("offset %d, newlines %v: %d findings, want 1", off, nl, len(got))
				continue
			}
			start := off + 1
			line := strings.Count(content[:start], "\n") + 1
			col := start - (strings.LastIndex(content[:start], "\n") + 1) + 1
			if f := got[0]; f.Start != start || f.Line != line || f.Column != col || f.Secret != key {
				t.Errorf("offset %d, newlines %v: got start %d line %d col %d, want %d %d %d", off, nl, f.Start, f.Line, f.Column, start, line, col)
			}
		}
	}
}

// TestBigSingleLine scans a 24 MiB one-line file with small chunks; it
// checks the keys at both ends are found (memory is bounded by
// construction: one chunk buffer per worker).
func TestBigSingleLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 24 MiB")
	}
	k1, k2 := fakeGroqKey(11), fakeGroqKey(12)
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "min.js"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`var a="` + k1 + `";`)
	block := strings.Repeat("function(e){return e.value},", 1<<15)
	for range 24 << 20 / len(block) {
		f.WriteString(block)
	}
	f.WriteString(`var b="` + k2 + `";`)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := Scan(context.Background(), det, []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Secret != k1 || got[1].Secret != k2 || got[1].Line != 1 {
		t.Fatalf("got %+v", got)
	}
}

func TestUnreadablePath(t *testing.T) {
	_, err := Scan(context.Background(), det, []string{filepath.Join(t.TempDir(), "missing")}, Options{})
	var ue *UnreadableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v", err)
	}
}

func TestClassify(t *testing.T) {
	for rel, want := range map[string]Exposure{
		".next/static/chunks/main-abc.js":       Client,
		"apps/web/.next/static/css/app.css":     Client,
		"out/_next/static/chunks/page.js":       Client,
		"out/index.html":                        Client,
		".next/server/app/page.html":            Client,
		".next/server/app/blog/[slug].rsc":      Client,
		".next/server/app/api/route.body":       Client,
		".next/server/app/page.js":              Server,
		".next/server/chunks/123.js":            Server,
		".next/server/middleware-manifest.json": Server,
		"src/app/page.tsx":                      Repository,
		"dist/index.js":                         Repository,
		"src/out/notes.txt":                     Repository,
		"./out/404.html":                        Client,
	} {
		if got := Classify(rel); got != want {
			t.Errorf("Classify(%q) = %s, want %s", rel, got, want)
		}
	}
}

// TestBuildRoots classifies files when the scanned root is the build
// output itself, or inside it.
func TestBuildRoots(t *testing.T) {
	dir := t.TempDir()
	key := fakeGroqKey(121)
	write(t, dir, "web/.next/static/chunks/a.js", `var k="`+key+`"`)
	write(t, dir, "web/.next/server/chunks/b.js", `var k="`+key+`"`)
	write(t, dir, "web/out/index.html", `<p>`+key+`</p>`)
	want := map[string]Exposure{"a.js": Client, "b.js": Server, "index.html": Client}
	for _, root := range []string{"web/.next", "web/.next/static", "web/.next/static/chunks", "web/.next/server", "web/out", "web"} {
		got, err := Scan(context.Background(), det, []string{filepath.Join(dir, root)}, Options{})
		if err != nil || len(got) == 0 {
			t.Fatalf("root %s: %v, %d findings", root, err, len(got))
		}
		for _, f := range got {
			if name := filepath.Base(f.Path); f.Exposure != want[name] {
				t.Errorf("root %s: %s is %s, want %s", root, name, f.Exposure, want[name])
			}
		}
	}
}

// TestNextBuildKeys: the keys Next.js generates for its server (preview
// mode, Server Actions) are not findings; a provider key beside them is.
func TestNextBuildKeys(t *testing.T) {
	dir := t.TempDir()
	// Shaped like what Next.js generates: 64 hex digits, and 32 bytes in
	// base64, drawn from a fixed seed.
	r := rand.New(rand.NewPCG(123, 4))
	var raw [32]byte
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	hex := fmt.Sprintf("%x", raw[:])
	b64 := base64.StdEncoding.EncodeToString(raw[:])
	write(t, dir, ".next/server/preview-props.json", `{"previewModeId":"`+hex[:32]+`","previewModeSigningKey":"`+hex+`","previewModeEncryptionKey":"`+hex+`"}`)
	write(t, dir, ".next/server/server-reference-manifest.json", `{"node":{},"edge":{},"encryptionKey":"`+b64+`"}`)
	write(t, dir, ".next/prerender-manifest.json", `{"preview":{"previewModeId":"`+hex[:32]+`","previewModeSigningKey":"`+hex+`"},"k":"`+fakeGroqKey(122)+`"}`)
	got, err := Scan(context.Background(), det, []string{filepath.Join(dir, ".next")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RuleID != "groq-api-key" {
		t.Errorf("got %+v", got)
	}
}
