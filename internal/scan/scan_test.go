package scan

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/scan/report"
	"github.com/keyward/keyward/internal/scan/source"
	"github.com/keyward/keyward/internal/scan/verify"
)

// fakeGroqKey is shaped like a Groq key, drawn from a fixed seed: never a
// live one.
func fakeGroqKey(seed uint64) string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	r := rand.New(rand.NewPCG(seed, 7))
	b := []byte("gsk_")
	for range 52 {
		b = append(b, alnum[r.IntN(len(alnum))])
	}
	return string(b)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// where lists each finding as "path rule".
func where(fs []source.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, filepath.ToSlash(f.Path)+" "+f.RuleID)
	}
	return out
}

// TestRunIgnoreFiles: each directory named uses its own .keywardignore,
// named files the current directory's; findings of several groups are
// merged in path order; IgnoreFile replaces them all.
func TestRunIgnoreFiles(t *testing.T) {
	work := t.TempDir()
	writeFiles(t, work, map[string]string{
		"a/.keywardignore": "rule: groq-api-key\n",
		"a/k.js":           `const k="` + fakeGroqKey(1) + `"`,
		"b/k.js":           `const k="` + fakeGroqKey(2) + `"`,
		"b/z.js":           `const k="` + fakeGroqKey(3) + `"`,
		".keywardignore":   "path: loose.env\n",
		"loose.env":        "GROQ_API_KEY=" + fakeGroqKey(4) + "\n",
		"other.env":        "GROQ_API_KEY=" + fakeGroqKey(5) + "\n",
		"custom.ignore":    "path: z.js\n", // relative to each directory scanned
	})
	t.Chdir(work)
	for _, tt := range []struct {
		name string
		opt  Options
		want []string
	}{
		{"each directory its own", Options{Paths: []string{"b", "a"}}, []string{"b/k.js groq-api-key", "b/z.js groq-api-key"}},
		{"files use the current directory's", Options{Paths: []string{"loose.env", "other.env", "b"}},
			[]string{"b/k.js groq-api-key", "b/z.js groq-api-key", "other.env groq-api-key"}},
		{"one ignore file for all", Options{Paths: []string{"a", "b"}, IgnoreFile: "custom.ignore"},
			[]string{"a/k.js groq-api-key", "b/k.js groq-api-key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, where(res.Findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if res.Unreadable != nil || res.Verified != nil || len(res.DecodeCut) > 0 {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestRunBaseline: a baseline report's fingerprints are accepted, in every
// group; a bad ignore file or baseline is an error.
func TestRunBaseline(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"old.js": `const k="` + fakeGroqKey(11) + `"`})
	res, err := Run(context.Background(), Options{Paths: []string{dir}})
	if err != nil || len(res.Findings) != 1 {
		t.Fatalf("first scan: %v %v", err, where(res.Findings))
	}
	var rep strings.Builder
	if err := report.Write(&rep, "json", res.Findings, report.Options{}); err != nil {
		t.Fatal(err)
	}
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	writeFiles(t, filepath.Dir(baseline), map[string]string{"baseline.json": rep.String()})
	writeFiles(t, dir, map[string]string{"new.js": `const k="` + fakeGroqKey(12) + `"`})

	res, err = Run(context.Background(), Options{Paths: []string{dir}, Baseline: baseline})
	if err != nil || len(res.Findings) != 1 || !strings.HasSuffix(res.Findings[0].Path, "new.js") {
		t.Errorf("with baseline: %v %v", err, where(res.Findings))
	}

	writeFiles(t, dir, map[string]string{"bad.ignore": "rule: opnai-api-key\nrule: public-env-secret\n"})
	for name, opt := range map[string]Options{
		"missing baseline":  {Paths: []string{dir}, Baseline: filepath.Join(dir, "nope.json")},
		"bad baseline":      {Paths: []string{dir}, Baseline: filepath.Join(dir, "old.js")},
		"missing ignore":    {Paths: []string{dir}, IgnoreFile: filepath.Join(dir, "nope")},
		"bad ignore":        {Paths: []string{dir}, IgnoreFile: filepath.Join(dir, "old.js")},
		"unknown rule":      {Paths: []string{dir}, IgnoreFile: filepath.Join(dir, "bad.ignore")},
		"two repositories":  {Mode: History, Paths: []string{dir, dir}},
		"not a repository?": {Mode: History, Paths: []string{t.TempDir()}},
	} {
		if _, err := Run(context.Background(), opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// An id KnownRule accepts (an audit check's) is no error; the typo is.
	opt := Options{Paths: []string{dir}, IgnoreFile: filepath.Join(dir, "bad.ignore"),
		KnownRule: func(id string) bool { return id == "public-env-secret" }}
	if _, err := Run(context.Background(), opt); err == nil || !strings.Contains(err.Error(), `line 1: unknown rule "opnai-api-key"`) ||
		strings.Contains(err.Error(), "public-env-secret") {
		t.Errorf("unknown rule: %v", err)
	}
}

// TestRunUnreadable: a path that cannot be read is listed; the findings in
// the rest are kept.
func TestRunUnreadable(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.env": "GROQ_API_KEY=" + fakeGroqKey(21) + "\n"})
	res, err := Run(context.Background(), Options{Paths: []string{filepath.Join(dir, "gone.env"), dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Unreadable == nil || len(res.Unreadable.Files) != 1 ||
		!errors.Is(res.Unreadable, fs.ErrNotExist) || !strings.HasSuffix(res.Unreadable.Files[0].Path, "gone.env") {
		t.Errorf("findings %v, unreadable %v", where(res.Findings), res.Unreadable)
	}
}

// TestRunDecodeCut: files with more encoded text than the budget are named;
// what was found is still reported.
func TestRunDecodeCut(t *testing.T) {
	dir := t.TempDir()
	var filler strings.Builder
	for filler.Len() < 64<<10 {
		filler.WriteString(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("lorem ipsum dolor sit amet ", 20))) + " ")
	}
	writeFiles(t, dir, map[string]string{"bundle.js": filler.String(), "b2.js": filler.String(), "plain.js": `const k="` + fakeGroqKey(22) + `"`})
	for budget, want := range map[int][]string{0: nil, 1024: {"b2.js", "bundle.js"}} {
		res, err := Run(context.Background(), Options{Paths: []string{dir}, Source: source.Options{DecodeBudget: budget}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range res.DecodeCut {
			got = append(got, filepath.Base(p))
		}
		if diff := cmp.Diff(want, got); diff != "" || len(res.Findings) != 1 {
			t.Errorf("budget %d: findings %v, cut (-want +got):\n%s", budget, where(res.Findings), diff)
		}
	}
}

// TestRunVerify: keys are checked only with Verify, each status under its
// finding's fingerprint; Scanned is called once, before any request.
func TestRunVerify(t *testing.T) {
	live, dead := fakeGroqKey(31), fakeGroqKey(32)
	var calls, scannedBefore atomic.Int32
	var scanned atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if scanned.Load() {
			scannedBefore.Add(1)
		}
		if r.Header.Get("Authorization") == "Bearer "+live {
			w.Write([]byte(`{"object":"list","data":[]}`))
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.env": "GROQ_API_KEY=" + live + "\nOLD_GROQ_API_KEY=" + dead + "\nGROQ_KEY_COPY=" + live + "\n"})
	endpoints := map[string]verify.Endpoint{"groq-api-key": {URL: srv.URL + "/openai/v1/models"}}

	res, err := Run(context.Background(), Options{Paths: []string{dir}, VerifyEndpoints: endpoints})
	if err != nil || res.Verified != nil || calls.Load() != 0 {
		t.Fatalf("without Verify: %v, %v, %d requests", err, res.Verified, calls.Load())
	}
	var scannedCalls int
	opt := Options{Paths: []string{dir}, Verify: true, VerifyEndpoints: endpoints,
		Scanned: func() { scannedCalls++; scanned.Store(true) }}
	res, err = Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, f := range res.Findings {
		want[f.Fingerprint()] = map[string]string{live: "active", dead: "inactive"}[f.Secret]
	}
	if diff := cmp.Diff(want, res.Verified); diff != "" || len(want) != 2 || len(res.Findings) != 3 {
		t.Errorf("verified (-want +got):\n%s", diff)
	}
	if calls.Load() != 2 || scannedBefore.Load() != 2 || scannedCalls != 1 {
		t.Errorf("%d requests (%d after Scanned), Scanned called %d times; want 2, 2, 1", calls.Load(), scannedBefore.Load(), scannedCalls)
	}
}

// TestRunStdin: standard input is scanned as "-", with the current
// directory's ignore file.
func TestRunStdin(t *testing.T) {
	work := t.TempDir()
	writeFiles(t, work, map[string]string{".keywardignore": "regex: ^" + fakeGroqKey(42)[:12] + "\n"})
	t.Chdir(work)
	in := strings.NewReader("line one\nGROQ_API_KEY=" + fakeGroqKey(41) + "\nGROQ_API_KEY=" + fakeGroqKey(42) + "\n")
	res, err := Run(context.Background(), Options{Mode: Stdin, Stdin: in, Paths: []string{"-"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Path != "-" || res.Findings[0].Line != 2 || res.Findings[0].Column != 14 {
		t.Errorf("findings %+v", res.Findings)
	}
}

// TestRunGit: history finds a key that was committed and removed; the
// staged changes are read for a pre-commit hook; from a subdirectory, the
// repository root's .keywardignore applies.
func TestRunGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.test",
			"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.test", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("init", "-q", "-b", "main")
	writeFiles(t, repo, map[string]string{
		".keywardignore":    "path: app/fixtures/\n",
		"app/fixtures/k.js": `const k="` + fakeGroqKey(51) + `"` + "\n",
		"app/src/a.js":      `const k="` + fakeGroqKey(52) + `"` + "\n",
	})
	git("add", ".")
	git("commit", "-q", "-m", "add")
	git("rm", "-q", "app/src/a.js")
	git("commit", "-q", "-m", "remove")
	writeFiles(t, repo, map[string]string{"app/b.env": "GROQ_API_KEY=" + fakeGroqKey(53) + "\n", "app/fixtures/s.js": `const s="` + fakeGroqKey(54) + `"`})
	git("add", ".")

	sub := filepath.Join(repo, "app", "fixtures")
	for _, tt := range []struct {
		name string
		opt  Options
		want []string
	}{
		{"history", Options{Mode: History, Paths: []string{sub}}, []string{"app/src/a.js groq-api-key"}},
		{"staged", Options{Mode: Staged, Paths: []string{sub}}, []string{"app/b.env groq-api-key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, where(res.Findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if tt.opt.Mode == History && (res.Findings[0].Commit == nil || res.Findings[0].Commit.Author != "Ada") {
				t.Errorf("no commit: %+v", res.Findings[0])
			}
		})
	}
}

// TestRunOrderIsStable: several groups' findings are merged by path and
// position, so two runs agree and a JSON report is reproducible.
func TestRunOrderIsStable(t *testing.T) {
	work := t.TempDir()
	writeFiles(t, work, map[string]string{
		"z/k.js": `const a="` + fakeGroqKey(61) + `"; const b="` + fakeGroqKey(62) + `"`,
		"a/k.js": `const k="` + fakeGroqKey(63) + `"`,
		"m.env":  "GROQ_API_KEY=" + fakeGroqKey(64) + "\n",
	})
	t.Chdir(work)
	var reports []string
	for range 2 {
		res, err := Run(context.Background(), Options{Paths: []string{"z", "m.env", "a"}})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := report.Write(&b, "json", res.Findings, report.Options{}); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, b.String())
	}
	var rep report.JSONReport
	if err := json.Unmarshal([]byte(reports[0]), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Path)
	}
	if want := []string{"a/k.js", "m.env", "z/k.js", "z/k.js"}; !slices.Equal(got, want) || reports[0] != reports[1] {
		t.Errorf("order %v, want %v; runs agree: %v", got, want, reports[0] == reports[1])
	}
}
