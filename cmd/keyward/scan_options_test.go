package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/scan/source"
)

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

// scanOut runs keyward with args and returns stdout and the exit code.
func scanOut(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, mapEnv(nil), &stdout, &stderr)
	code := 0
	if err != nil {
		code = exitCode(err)
	}
	return stdout.String(), code, err
}

func TestScanIgnores(t *testing.T) {
	dir := t.TempDir()
	k := []string{fakeGroqKey(91), fakeGroqKey(92), fakeGroqKey(93), fakeGroqKey(94), fakeGroqKey(95)}
	writeFiles(t, dir, map[string]string{
		"a.js":             `const a = "` + k[0] + `"` + "\n" + `const b = "` + k[1] + `" // keyward:allow` + "\n",
		"fixtures/b.js":    `const c = "` + k[2] + `"`,
		"c.js":             `const d = "` + k[3] + `"`,
		"d.js":             `const e = "` + k[4] + `"`,
		ignoreFileName:     "path: fixtures/\nregex: ^" + k[3][:12] + "\n",
		"other/custom.txt": "rule: groq-api-key\n",
	})
	out, code, _ := scanOut(t, "scan", "--format", "json", dir)
	if code != exitError || strings.Count(out, `"rule_id"`) != 2 || !strings.Contains(out, "a.js") || !strings.Contains(out, "d.js") {
		t.Fatalf("default ignore file: code %d\n%s", code, out)
	}

	// A baseline accepts what an earlier report listed.
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	if err := os.WriteFile(baseline, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"e.js": `const f = "` + fakeGroqKey(96) + `"`})
	out, code, _ = scanOut(t, "scan", "--baseline", baseline, dir)
	if code != exitError || !strings.Contains(out, "e.js") || strings.Contains(out, "a.js") || !strings.Contains(out, "1 secret in 1 file") {
		t.Errorf("baseline: code %d\n%s", code, out)
	}

	// --ignore-file replaces the default one.
	out, code, _ = scanOut(t, "scan", "--ignore-file", filepath.Join(dir, "other/custom.txt"), dir)
	if code != 0 {
		t.Errorf("custom ignore file: code %d\n%s", code, out)
	}

	for name, args := range map[string][]string{
		"missing ignore file": {"scan", "--ignore-file", filepath.Join(dir, "nope"), dir},
		"bad ignore file":     {"scan", "--ignore-file", filepath.Join(dir, "a.js"), dir},
		"missing baseline":    {"scan", "--baseline", filepath.Join(dir, "nope"), dir},
		"bad baseline":        {"scan", "--baseline", filepath.Join(dir, "a.js"), dir},
		"endpoint no verify":  {"scan", "--verify-endpoint", "openai-api-key=https://x", dir},
		"bad endpoint":        {"scan", "--verify", "--verify-endpoint", "openai-api-key=http://example.com", dir},
	} {
		if _, code, err := scanOut(t, args...); code != exitUsage {
			t.Errorf("%s: code %d (%v)", name, code, err)
		}
	}
}

const ignoreFileName = ".keywardignore"

func TestScanVerify(t *testing.T) {
	live, dead := fakeGroqKey(101), fakeGroqKey(102)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") == "Bearer "+live {
			w.Write([]byte(`{"object":"list","data":[]}`)) // a 2xx counts only with a JSON body
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.env": "GROQ_API_KEY=" + live + "\nOLD_GROQ_API_KEY=" + dead + "\n"})

	// Without --verify nothing is sent.
	if _, code, _ := scanOut(t, "scan", dir); code != exitError || calls.Load() != 0 {
		t.Fatalf("code %d, %d requests without --verify", code, calls.Load())
	}
	out, code, _ := scanOut(t, "scan", "--verify", "--verify-endpoint", "groq-api-key="+srv.URL+"/openai/v1/models", "--format", "json", dir)
	if code != exitError || !strings.Contains(out, `"verified": "active"`) || !strings.Contains(out, `"verified": "inactive"`) || calls.Load() != 2 {
		t.Errorf("code %d, %d requests:\n%s", code, calls.Load(), out)
	}
}

func TestShowProgress(t *testing.T) {
	var p source.Progress
	p.Files.Store(3)
	p.Bytes.Store(3 << 20)
	var buf progressBuffer
	stop := showProgress(&buf, &p, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	stop()
	s := buf.String()
	if !strings.Contains(s, "scanning: 3 files, 3.0 MiB") || !strings.HasSuffix(s, "\r\x1b[K") {
		t.Errorf("progress %q", s)
	}
}

// progressBuffer is a bytes.Buffer safe for the progress goroutine and
// the test.
type progressBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *progressBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *progressBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
