package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

const canary = "sk-proj-CANARYcanary0123456789abcdefT3BlbkFJxyz"

func TestSecretNeverPrints(t *testing.T) {
	s := New(canary)
	type wrapper struct {
		Key  Secret
		Keys []Secret
		Ptr  *Secret
	}
	w := wrapper{Key: s, Keys: []Secret{s}, Ptr: &s}
	var outs []string
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, w), fmt.Sprintf(verb, &s))
	}
	outs = append(outs, fmt.Sprint(s), fmt.Sprintln(w), s.String())
	j, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("msg", "key", s, "w", w, "ptr", &s)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("msg", "key", s, "w", w)
	outs = append(outs, buf.String())
	txt, _ := s.MarshalText()
	y, _ := s.MarshalYAML()
	outs = append(outs, string(txt), fmt.Sprint(y), s.GoString())
	for _, o := range outs {
		if strings.Contains(o, "CANARY") {
			t.Errorf("secret leaked: %s", o)
		}
	}
	if s.Reveal() != canary {
		t.Fatal("Reveal must return the value")
	}
}

func TestMatchesAndEqual(t *testing.T) {
	s := New("abcdef123456")
	if !s.Matches("abcdef123456") || s.Matches("abcdef12345") || s.Matches("") {
		t.Error("Matches wrong")
	}
	if (Secret{}).Matches("") {
		t.Error("empty secret must match nothing")
	}
	if !s.Equal(New("abcdef123456")) || s.Equal(New("x")) {
		t.Error("Equal wrong")
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: "env:OPENAI_API_KEY"},
		{in: "file:/run/secrets/openai"},
		{in: "file:relative/key.txt"},
		{in: "sk-abc", wantErr: "reference"},
		{in: "env:", wantErr: "reference"},
		{in: "env:1BAD", wantErr: "variable name"},
		{in: "env:BAD-NAME", wantErr: "variable name"},
		{in: "vault:x", wantErr: "literal"},
		{in: "", wantErr: "reference"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRef(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRef(%q) err = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || r.String() != tt.in {
				t.Fatalf("ParseRef(%q) = %v, %v", tt.in, r, err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k"), []byte(canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "empty"), []byte("\n  \n"), 0o600)
	os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("a"), MaxFileBytes+1), 0o600)
	env := map[string]string{"K": "  " + canary + " ", "EMPTY": ""}
	l := Loader{Getenv: func(k string) string { return env[k] }, BaseDir: dir}
	for _, ref := range []string{"env:K", "file:k", "file:" + filepath.Join(dir, "k")} {
		s, err := l.Load(MustRef(ref))
		if err != nil || s.Reveal() != canary {
			t.Errorf("Load(%s) = %v", ref, err)
		}
	}
	for _, ref := range []string{"env:EMPTY", "env:MISSING", "file:empty", "file:missing", "file:big"} {
		_, err := l.Load(MustRef(ref))
		if err == nil {
			t.Errorf("Load(%s) succeeded", ref)
			continue
		}
		if !strings.Contains(err.Error(), ref) {
			t.Errorf("error %q does not name the reference", err)
		}
	}
	_, err := Loader{BaseDir: dir}.Load(MustRef("file:missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error = %v", err)
	}
}

func TestScrubber(t *testing.T) {
	s := NewScrubber(New("secretvalue1"), New("secretvalue1"), New("secretvalue1-longer"), New("abc"), Secret{})
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (dedupe, drop short and empty)", s.Len())
	}
	tests := []struct{ in, want string }{
		{"", ""},
		{"nothing here", "nothing here"},
		{"x secretvalue1 y", "x [REDACTED] y"},
		{"secretvalue1-longer!", "[REDACTED]!"},
		{"secretvalue1secretvalue1", "[REDACTED][REDACTED]"},
		{"abc abc", "abc abc"},
	}
	for _, tt := range tests {
		if got := s.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for name, r := range map[string]io.Reader{
			"whole":   s.Reader(strings.NewReader(tt.in)),
			"onebyte": s.Reader(iotest.OneByteReader(strings.NewReader(tt.in))),
			"half":    s.Reader(iotest.HalfReader(strings.NewReader(tt.in))),
		} {
			got, err := io.ReadAll(r)
			if err != nil || string(got) != tt.want {
				t.Errorf("%s Reader(%q) = %q, %v; want %q", name, tt.in, got, err, tt.want)
			}
		}
	}
	var nilS *Scrubber
	if nilS.String("secretvalue1") != "secretvalue1" || nilS.Contains([]byte("x")) {
		t.Error("nil scrubber must be a no-op")
	}
}

func TestScrubReaderPropagatesErrors(t *testing.T) {
	boom := errors.New("boom")
	s := NewScrubber(New("secretvalue1"))
	r := s.Reader(io.MultiReader(strings.NewReader("data secretval"), iotest.ErrReader(boom)))
	got, err := io.ReadAll(r)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if string(got) != "data secretval" {
		t.Fatalf("got %q: held-back bytes must be flushed on error", got)
	}
}

func FuzzScrubReader(f *testing.F) {
	f.Add("prefix secretvalue1 suffix", 3)
	f.Add("secretvalue1-longersecretvalue1", 1)
	f.Fuzz(func(t *testing.T, in string, chunk int) {
		s := NewScrubber(New("secretvalue1"), New("secretvalue1-longer"), New("zzzzzz"))
		if chunk <= 0 || chunk > 64 {
			chunk = 7
		}
		got, err := io.ReadAll(s.Reader(&chunkReader{b: []byte(in), n: chunk}))
		if err != nil {
			t.Fatal(err)
		}
		if want := s.String(in); string(got) != want {
			t.Fatalf("stream %q != whole %q", got, want)
		}
		if s.Contains(got) {
			t.Fatalf("output still holds a secret: %q", got)
		}
	})
}

type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}

func TestHMAC(t *testing.T) {
	a, b := New("pepper-one-123"), New("pepper-two-456")
	if bytes.Equal(a.HMAC([]byte("k")), b.HMAC([]byte("k"))) || !bytes.Equal(a.HMAC([]byte("k")), a.HMAC([]byte("k"))) || len(a.HMAC(nil)) != 32 {
		t.Fatal("HMAC must be keyed and deterministic")
	}
}

func TestMatchIndex(t *testing.T) {
	list := []Secret{New("first-secret-1"), New("second-secret-2")}
	for cand, want := range map[string]int{"first-secret-1": 0, "second-secret-2": 1, "": -1, "nope": -1} {
		if got := MatchIndex(list, cand); got != want {
			t.Errorf("MatchIndex(%q) = %d, want %d", cand, got, want)
		}
	}
}
