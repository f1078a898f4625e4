package decode

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func budget(n int64) *atomic.Int64 {
	var b atomic.Int64
	b.Store(n)
	return &b
}

// jsEscape writes every "-" and "_" of s as \u escapes and every "k" as a
// \x escape, as minifiers and JSON encoders may.
func jsEscape(s string) string {
	r := strings.NewReplacer("-", `\u002d`, "_", `\u005F`, "k", `\x6b`)
	return r.Replace(s)
}

// secret is shaped like a Groq key, drawn from a fixed seed: never a live
// one, and no key-shaped literal in the source.
var secret = func() string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	r := rand.New(rand.NewPCG(17, 7))
	b := []byte("gsk_")
	for range 52 {
		b = append(b, alnum[r.IntN(len(alnum))])
	}
	return string(b)
}()

// TestSegments decodes each encoding and maps the decoded secret back to
// the span of the input that encodes it.
func TestSegments(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(`{"apiKey":"` + secret + `"}`))
	for _, tt := range []struct {
		name, input, encoding string
		// encoded is the part of input the secret's span maps to.
		encoded string
	}{
		{"escape", `var a="` + jsEscape(secret) + `";`, Escape, jsEscape(secret)},
		{"braced escape", `x="gsk\u{5f}` + secret[4:] + `"`, Escape, `gsk\u{5f}` + secret[4:]},
		{"url", `body=%7B%22key%22%3A%22` + strings.ReplaceAll(secret, "_", "%5F") + `%22%7D`, URL, strings.ReplaceAll(secret, "_", "%5F")},
		{"url twice", `u=` + url.QueryEscape(strings.ReplaceAll(secret, "_", "%5F")), URL + "+" + URL, ""},
		{"base64", "Authorization: Basic " + b64 + "\n", Base64, ""},
		{"base64 of escapes", "k: " + base64.RawURLEncoding.EncodeToString([]byte(`x="`+jsEscape(secret)+`"`)), Base64 + "+" + Escape, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.input)
			var found bool
			for _, s := range Segments(data, Options{MaxDepth: 2}, budget(1<<20)) {
				i := strings.Index(string(s.Text), secret)
				if i < 0 || s.Encoding != tt.encoding {
					continue
				}
				found = true
				start, end := s.Map(i, i+len(secret))
				if start < 0 || end > len(data) || start > end {
					t.Fatalf("span [%d,%d) outside the input", start, end)
				}
				if tt.encoded != "" && string(data[start:end]) != tt.encoded {
					t.Errorf("maps to %q, want %q", data[start:end], tt.encoded)
				}
			}
			if !found {
				t.Errorf("secret not decoded with %s from %q", tt.encoding, tt.input)
			}
		})
	}
}

func TestEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`a\u002db`:                        "a-b",
		`\x41\x42\u{1F600}`:               "AB\U0001F600",
		`\ud83d\ude00`:                    "\U0001F600",
		`\ud83d`:                          "\ufffd",
		`\u00zz \x4`:                      "",
		`q\"\\\/\n\x2d`:                   "q\"\\/\n-",
		`\u{110000}\u{}\x41`:              `\u{110000}\u{}A`,
		strings.Repeat("x", 300) + `\x41`: strings.Repeat("x", 256) + "A",
	} {
		var got string
		for _, s := range escapeSegments([]byte(in)) {
			got += string(s.Text)
		}
		if got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestBase64Filter(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{base64.StdEncoding.EncodeToString([]byte("hello, this is text with a key")), []string{"hello, this is text with a key"}},
		{base64.StdEncoding.EncodeToString([]byte("\x00\x01\x02binary\xff\xfe data that is not text")), nil},
		{"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/", nil}, // the alphabet itself
		{"short/Zm9v", nil},
		{"mixed+alphabets_are-not/one", nil},
	} {
		var got []string
		for _, s := range base64Segments([]byte(tt.in)) {
			got = append(got, string(s.Text))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestBudgetAndDepth(t *testing.T) {
	inner := base64.StdEncoding.EncodeToString([]byte("level two: " + secret))
	outer := base64.StdEncoding.EncodeToString([]byte("level one: " + inner))
	has := func(ss []Segment) bool {
		for _, s := range ss {
			if strings.Contains(string(s.Text), secret) {
				return true
			}
		}
		return false
	}
	if !has(Segments([]byte(outer), Options{MaxDepth: 2}, budget(1<<20))) {
		t.Error("depth 2: not found")
	}
	if has(Segments([]byte(outer), Options{MaxDepth: 1}, budget(1<<20))) {
		t.Error("depth 1 decoded twice")
	}
	if ss := Segments([]byte(outer), Options{MaxDepth: 0}, budget(1<<20)); len(ss) != 0 {
		t.Error("depth 0 decoded")
	}
	b := budget(40)
	if ss := Segments([]byte(outer), Options{MaxDepth: 2}, b); len(ss) != 0 || b.Load() >= 0 {
		t.Errorf("over budget: %d segments, budget %d", len(ss), b.Load())
	}
}

// FuzzSegments checks that decoding never panics, stays within its budget,
// and maps every decoded span into the input.
func FuzzSegments(f *testing.F) {
	f.Add([]byte(`a="\u0067sk\x5f`+secret[4:]+`"`), uint16(100))
	f.Add([]byte("x%22%3A"+secret+"%2"), uint16(10))
	f.Add([]byte(base64.StdEncoding.EncodeToString([]byte(`{"k":"\u002d`+secret+`"}`))), uint16(500))
	f.Add([]byte(`\ud800\udc00\u{10ffff}\u{`+"\\"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, b uint16) {
		bud := budget(int64(b))
		ss := Segments(data, Options{MaxDepth: 2}, bud)
		var total int
		for _, s := range ss {
			total += len(s.Text)
			for _, p := range [][2]int{{0, len(s.Text)}, {0, 0}, {len(s.Text) / 2, len(s.Text)}, {len(s.Text), len(s.Text)}} {
				start, end := s.Map(p[0], p[1])
				if start < 0 || end > len(data) || start > end {
					t.Fatalf("%s segment %q: [%d,%d) maps to [%d,%d) of %d bytes", s.Encoding, s.Text, p[0], p[1], start, end, len(data))
				}
			}
			if s.Encoding == Escape && !utf8.Valid(s.Text) && utf8.Valid(data) {
				t.Fatalf("escapes of valid UTF-8 decoded to invalid UTF-8: %q", s.Text)
			}
		}
		if total > int(b) {
			t.Fatalf("decoded %d bytes with a budget of %d", total, b)
		}
		_ = fmt.Sprint(total)
	})
}
