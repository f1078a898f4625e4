package source

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// gitRepo is a throwaway repository whose commits have fixed authors and
// dates.
type gitRepo struct {
	t   *testing.T
	dir string
	n   int
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	date := time.Date(2026, 1, 2, 3, 4, r.n, 0, time.UTC).Format(time.RFC3339)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada Lovelace", "GIT_AUTHOR_EMAIL=ada@example.test",
		"GIT_COMMITTER_NAME=Ada Lovelace", "GIT_COMMITTER_EMAIL=ada@example.test",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files ("" removes one) and commits them; it returns the
// commit's hash.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	r.n++
	for rel, content := range files {
		if content == "" {
			r.git("rm", "-q", rel)
			continue
		}
		write(r.t, r.dir, rel, content)
		r.git("add", rel)
	}
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

type gitLoc struct {
	Commit, Author, Path string
	Line, Column         int
	Secret               string
}

func gitLocs(fs []Finding) []gitLoc {
	var out []gitLoc
	for _, f := range fs {
		l := gitLoc{Path: f.Path, Line: f.Line, Column: f.Column, Secret: f.Secret}
		if f.Commit != nil {
			l.Commit, l.Author = f.Commit.Hash, f.Commit.Author+" <"+f.Commit.Email+">"
		}
		out = append(out, l)
	}
	return out
}

// TestScanGitHistory commits a key, removes it in a later commit, and
// expects it found with the commit, author, path and line that added it;
// a key on a side branch is found with --all, and not with --branch main.
func TestScanGitHistory(t *testing.T) {
	r := newGitRepo(t)
	k1, k2, k3 := fakeGroqKey(31), fakeGroqKey(32), fakeGroqKey(33)
	c1 := r.commit("init", map[string]string{"README.md": "hello\n", "src/a.ts": "export const a = 1\n"})
	c2 := r.commit("add key", map[string]string{"src/a.ts": "export const a = 1\n// x\n// y\nconst groq = \"" + k1 + "\"\n"})
	r.commit("remove key", map[string]string{"src/a.ts": "export const a = 1\n"})
	// A file renamed without change is not a new addition.
	r.git("mv", "README.md", "README2.md")
	r.commit("rename", nil)
	c4 := r.commit("env", map[string]string{".env": "A=1\nGROQ=" + k2 + "\n"})
	_ = c1
	r.git("checkout", "-q", "-b", "side")
	c5 := r.commit("side", map[string]string{"side.js": "x=\"" + k3 + "\"\n"})
	r.git("checkout", "-q", "main")

	want := []gitLoc{
		{c5, "Ada Lovelace <ada@example.test>", "side.js", 1, 4, k3},
		{c4, "Ada Lovelace <ada@example.test>", ".env", 2, 6, k2},
		{c2, "Ada Lovelace <ada@example.test>", "src/a.ts", 4, 15, k1},
	}
	got, err := ScanGit(context.Background(), det, GitOptions{Dir: r.dir}, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, gitLocs(got)); diff != "" {
		t.Errorf("--all (-want +got):\n%s", diff)
	}
	if len(got) > 0 && got[0].Commit.Date.IsZero() {
		t.Error("commit date not parsed")
	}

	got, err = ScanGit(context.Background(), det, GitOptions{Dir: r.dir, Branch: "main"}, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[1:], gitLocs(got)); diff != "" {
		t.Errorf("--branch main (-want +got):\n%s", diff)
	}

	got, err = ScanGit(context.Background(), det, GitOptions{Dir: r.dir, Since: "2026-01-02T03:04:04Z"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[:2], gitLocs(got)); diff != "" {
		t.Errorf("--since (-want +got):\n%s", diff)
	}

	if _, err := ScanGit(context.Background(), det, GitOptions{Dir: r.dir, Branch: "nope"}, Options{}); err == nil ||
		!strings.Contains(err.Error(), "git:") {
		t.Errorf("unknown branch: err = %v", err)
	}
	if _, err := ScanGit(context.Background(), det, GitOptions{Dir: t.TempDir()}, Options{}); err == nil {
		t.Error("not a repository: no error")
	}
}

func TestScanStaged(t *testing.T) {
	r := newGitRepo(t)
	k1, k2 := fakeGroqKey(41), fakeGroqKey(42)
	r.commit("init", map[string]string{"a.js": "const old = \"" + k1 + "\"\n"})
	write(t, r.dir, "a.js", "const old = \""+k1+"\"\nconst k = \""+k2+"\" // new\n")
	write(t, r.dir, "b.js", "unstaged \""+fakeGroqKey(43)+"\"\n")
	r.git("add", "a.js")
	got, err := ScanGit(context.Background(), det, GitOptions{Dir: r.dir, Staged: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []gitLoc{{Path: "a.js", Line: 2, Column: 12, Secret: k2}}
	if diff := cmp.Diff(want, gitLocs(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGitChunks scans one commit that adds a file larger than several
// chunks, with keys on far apart lines and across chunk edges.
func TestGitChunks(t *testing.T) {
	r := newGitRepo(t)
	var b strings.Builder
	var want []gitLoc
	for i := range 3000 {
		if i%700 == 5 {
			k := fakeGroqKey(uint64(100 + i))
			b.WriteString("let k = \"" + k + "\"\n")
			want = append(want, gitLoc{Path: "big.js", Line: i + 1, Column: 10, Secret: k})
			continue
		}
		b.WriteString("function f(e){return e.value+" + strings.Repeat("x", i%50) + "}\n")
	}
	r.commit("big", map[string]string{"big.js": b.String()})
	got, err := ScanGit(context.Background(), det, GitOptions{Dir: r.dir}, Options{ChunkSize: 4096, Overlap: 1024, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	locs := gitLocs(got)
	for i := range locs {
		locs[i].Commit, locs[i].Author = "", ""
	}
	if diff := cmp.Diff(want, locs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// event is what a recording diffHandler saw.
type event struct {
	Kind string
	Text string
	Line int
}

type recorder struct{ ev []event }

func (r *recorder) commit(c Commit) {
	r.ev = append(r.ev, event{Kind: "commit", Text: c.Hash + " " + c.Author})
}
func (r *recorder) file(path string) {
	r.ev = append(r.ev, event{Kind: "file", Text: path})
}
func (r *recorder) added(line int, text []byte, last bool) {
	if n := len(r.ev); n > 0 && r.ev[n-1].Kind == "added+" {
		r.ev[n-1].Text += string(text)
	} else {
		r.ev = append(r.ev, event{Kind: "added+", Text: string(text), Line: line})
	}
	if last {
		r.ev[len(r.ev)-1].Kind = "added"
	}
}

func TestParseDiff(t *testing.T) {
	patch := commitMarker + "abc\x002026-01-02T03:04:05Z\x00a@b.test\x00Ada\n" +
		"\n" +
		"diff --git a/x.js b/x.js\n" +
		"index 1..2 100644\n" +
		"--- a/x.js\n" +
		"+++ b/x.js\n" +
		"@@ -1,2 +1,3 @@ func\n" +
		"--- removed line that looks like a header\n" +
		"-old\n" +
		"+++ added line that looks like a header\n" +
		"+new\n" +
		"+last\n" +
		"\\ No newline at end of file\n" +
		"@@ -10 +11 @@\n" +
		"-a\n" +
		"+b\n" +
		"diff --git a/gone.js b/gone.js\n" +
		"deleted file mode 100644\n" +
		"--- a/gone.js\n" +
		"+++ /dev/null\n" +
		"@@ -1 +0,0 @@\n" +
		"-bye\n" +
		"diff --git \"a/sp ace\\tq.js\" \"b/sp ace\\tq.js\"\n" +
		"--- \"a/sp ace\\tq.js\"\n" +
		"+++ \"b/sp ace\\tq.js\"\n" +
		"@@ -0,0 +1 @@\n" +
		"+" + strings.Repeat("z", 100)
	want := []event{
		{Kind: "commit", Text: "abc Ada"},
		{Kind: "file"},
		{Kind: "file", Text: "x.js"},
		{Kind: "added", Text: "++ added line that looks like a header\n", Line: 1},
		{Kind: "added", Text: "new\n", Line: 2},
		{Kind: "added", Text: "last\n", Line: 3},
		{Kind: "added", Text: "b\n", Line: 11},
		{Kind: "file"},
		{Kind: "file"},
		{Kind: "file"},
		{Kind: "file", Text: "sp ace\tq.js"},
		{Kind: "added", Text: strings.Repeat("z", 100), Line: 1},
	}
	// A merge's combined diff: only the line new against both parents
	// (an evil merge) is added; " +" and "+ " lines came with a branch.
	patch += "\n" + commitMarker + "m\x002026-01-02T03:04:05Z\x00a@b.test\x00Merger\n" +
		"diff --cc c.js\n" +
		"index 1,2..3\n" +
		"--- a/c.js\n" +
		"+++ b/c.js\n" +
		"@@@ -1,2 -1,2 +1,3 @@@\n" +
		"- from one\n" +
		" -from two\n" +
		"++evil\n" +
		"+ kept from two\n" +
		" +kept from one\n"
	want = append(want[:len(want)-1], event{Kind: "added", Text: strings.Repeat("z", 100) + "\n", Line: 1},
		event{Kind: "commit", Text: "m Merger"}, event{Kind: "file"}, event{Kind: "file", Text: "c.js"},
		event{Kind: "added", Text: "evil\n", Line: 1})
	for _, size := range []int{16, 17, 64, 4096} {
		var rec recorder
		if err := parseDiffSize(strings.NewReader(patch), &rec, size); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, rec.ev); diff != "" {
			t.Errorf("buffer %d (-want +got):\n%s", size, diff)
		}
	}
}

func TestHunkHeader(t *testing.T) {
	for _, tt := range []struct {
		in         string
		old        []int
		newN, newS int
		ok         bool
	}{
		{"@@ -1,2 +3,4 @@", []int{2}, 4, 3, true},
		{"@@ -1 +3 @@ func x()", []int{1}, 1, 3, true},
		{"@@ -1,0 +0,0 @@", []int{0}, 0, 1, true},
		{"@@@ -1,2 -3 +5,6 @@@", []int{2, 1}, 6, 5, true},
		{"@@@@ -1 -1 -1,0 +1,2 @@@@ x", []int{1, 1, 0}, 2, 1, true},
		{"@@ -1,2 +x,4 @@", nil, 0, 0, false},
		{"@@ -1,2 @@", nil, 0, 0, false},
		{"@@@ -1 +1 @@@", nil, 0, 0, false},
		{"@@ -1 -1 +1 @@", nil, 0, 0, false},
		{"@@ +1 -1 @@", nil, 0, 0, false},
		{"@@ -1,-2 +1 @@", nil, 0, 0, false},
		{"@@@ -1 -1 +1 @@", nil, 0, 0, false},
		{"@", nil, 0, 0, false},
		{"@@", nil, 0, 0, false},
	} {
		k, s, ok := hunkHeader(tt.in)
		var old []int
		if ok {
			old = k.oldLeft[:k.parents]
		}
		if diff := cmp.Diff(tt.old, old); diff != "" || k.newLeft != tt.newN || s != tt.newS || ok != tt.ok {
			t.Errorf("hunkHeader(%q) = %v %d %d %v", tt.in, old, k.newLeft, s, ok)
		}
	}
}

// FuzzParseDiff checks the parser never panics, numbers lines from 1, and
// sees the same events whatever its buffer size (long lines arrive in
// pieces).
func FuzzParseDiff(f *testing.F) {
	f.Add([]byte("diff --git a/x b/x\n+++ b/x\n@@ -1 +1,2 @@\n-a\n+b\n+c\n"))
	f.Add([]byte(commitMarker + "h\x00d\x00e\x00n\ndiff --git a/x b/x\n+++ \"b/\\303\\251\"\n@@ -0,0 +5 @@\n+" + strings.Repeat("k", 40) + "\n"))
	f.Add([]byte("diff --cc x\n+++ b/x\n@@@ -1 -1 +1,2 @@@\n++a\n+ b\n- c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var small, big recorder
		if err := parseDiffSize(bytes.NewReader(data), &small, 16); err != nil {
			t.Fatal(err)
		}
		if err := parseDiffSize(bytes.NewReader(data), &big, 1<<16); err != nil {
			t.Fatal(err)
		}
		for _, e := range big.ev {
			if strings.HasPrefix(e.Kind, "added") && e.Line < 1 {
				t.Fatalf("line %d", e.Line)
			}
		}
		if diff := cmp.Diff(big.ev, small.ev); diff != "" {
			t.Fatalf("buffer sizes disagree (-64K +16):\n%s", diff)
		}
	})
}

// TestScanGitMerge: a key that a merge commit itself adds, resolving a
// conflict, is found with the merge commit; keys the branches brought are
// found once, with the commits that added them.
func TestScanGitMerge(t *testing.T) {
	r := newGitRepo(t)
	k1, k2 := fakeGroqKey(131), fakeGroqKey(132)
	r.commit("init", map[string]string{"a.txt": "one\ntwo\nthree\n"})
	r.git("checkout", "-q", "-b", "side")
	side := r.commit("side", map[string]string{"a.txt": "one\nside\nthree\n", "s.js": "k=\"" + k1 + "\"\n"})
	r.git("checkout", "-q", "main")
	r.commit("main", map[string]string{"a.txt": "one\nmain\nthree\n"})
	cmd := exec.Command("git", "merge", "-q", "side")
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.test",
		"GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.test")
	_ = cmd.Run() // conflicts, as intended
	merge := r.commit("merge", map[string]string{"a.txt": "one\nresolved = \"" + k2 + "\"\nthree\n"})
	got, err := ScanGit(context.Background(), det, GitOptions{Dir: r.dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	locs := gitLocs(got)
	for i := range locs {
		locs[i].Author = ""
	}
	want := []gitLoc{
		{Commit: merge, Path: "a.txt", Line: 2, Column: 13, Secret: k2},
		{Commit: side, Path: "s.js", Line: 1, Column: 4, Secret: k1},
	}
	if diff := cmp.Diff(want, locs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
