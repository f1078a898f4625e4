package secret

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash/maphash"
	"io"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/keyward/keyward/internal/redact/leakcheck"
)

// Fake secrets built for tests; none is or was ever a real credential.
var (
	tkOpenAI = "sk-proj-TESTopenai" + "Zq81vXmA0cLr5TgW2yNbKe7HsU4jPoDiF9QaMz3RtYw6EuBnVlCx" + "T3BlbkFJtest"
	tkAzure  = "9f2c4e6a8b0d1f3e5a7c9b2d4f6e8a0c"
	tkShort  = "shortsecret-17ch"
)

func testPEM(t testing.TB) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func testScrubber(t testing.TB) (*Scrubber, *leakcheck.Finder) {
	p := testPEM(t)
	return NewScrubber(New(tkOpenAI), New(tkAzure), New(tkShort), New(p)),
		leakcheck.New(PieceLen, tkOpenAI, tkAzure, tkShort, p)
}

// encodings are the ways a text may spell a piece of a secret.
var encodings = map[string]func(string) string{
	"raw": func(s string) string { return s },
	"json every char": func(s string) string {
		var b strings.Builder
		for _, r := range s {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		return b.String()
	},
	"json some chars": func(s string) string {
		var b strings.Builder
		for i, r := range s {
			if i%3 == 1 || r == '-' {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
		return b.String()
	},
	"percent every char": func(s string) string {
		var b strings.Builder
		for i := range len(s) {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	},
	"percent in json": func(s string) string {
		var b strings.Builder
		for i := range len(s) {
			fmt.Fprintf(&b, `\u0025%02x`, s[i])
		}
		return b.String()
	},
	"base64 std":    func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"base64 std +1": func(s string) string { return base64.StdEncoding.EncodeToString([]byte("x" + s)) },
	"base64 std +2": func(s string) string { return base64.StdEncoding.EncodeToString([]byte("xy" + s)) },
	"base64 url +1": func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte("?" + s)) },
	"base64 url +2": func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte("??" + s)) },
	"base64 in json": func(s string) string {
		return strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte("x"+s)), "/", `\/`)
	},
	"hex":               func(s string) string { return hex.EncodeToString([]byte(s)) },
	"hex upper":         func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) },
	"hex, percent-json": func(s string) string { return strings.ReplaceAll(hex.EncodeToString([]byte(s)), "3", `\u0033`) },
}

func TestScrubPiecesInEveryEncoding(t *testing.T) {
	s, leaks := testScrubber(t)
	pieces := map[string]string{
		"openai whole":      tkOpenAI,
		"openai first 24":   tkOpenAI[:24],
		"openai middle 30":  tkOpenAI[20:50],
		"openai last 24":    tkOpenAI[len(tkOpenAI)-24:],
		"openai after pfx":  tkOpenAI[8:],
		"azure whole":       tkAzure,
		"azure piece":       tkAzure[5:29],
		"short whole":       tkShort,
		"short twice":       tkShort + tkShort,
		"pem body":          strings.Split(testPEM(t), "\n")[1],
		"pem body piece":    strings.Split(testPEM(t), "\n")[1][30:60],
		"two keys adjacent": tkAzure + tkOpenAI,
	}
	for pname, piece := range pieces {
		for ename, enc := range encodings {
			t.Run(pname+"/"+ename, func(t *testing.T) {
				in := `{"text":"hello ` + enc(piece) + ` bye"}`
				for name, out := range map[string]string{
					"String": s.String(in),
					"Reader": readAll(t, s.Reader(iotest.OneByteReader(strings.NewReader(in)))),
					"JSON":   readAll(t, s.JSONReader(iotest.HalfReader(strings.NewReader(in)))),
				} {
					if l, ok := leaks.Find(out); ok {
						t.Errorf("%s: %s in %q", name, l, out)
					}
					if !strings.Contains(out, Redacted) || !strings.HasPrefix(out, `{"text":"hello `) || !strings.HasSuffix(out, ` bye"}`) {
						t.Errorf("%s: %q", name, out)
					}
					if name == "String" && !json.Valid([]byte(out)) {
						t.Errorf("output is not JSON any more: %q", out)
					}
				}
				if !s.Contains([]byte(in)) {
					t.Errorf("Contains(%q) = false", in)
				}
			})
		}
	}
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestScrubLeavesOrdinaryText holds the false positives down: text that
// shares a prefix, a few characters or a shape with a secret stays.
func TestScrubLeavesOrdinaryText(t *testing.T) {
	s, _ := testScrubber(t)
	for _, in := range []string{
		"", "hello", "sk-proj-", "sk-proj-TESTopenai", tkOpenAI[:PieceLen-1], "x" + tkAzure[:PieceLen-1] + "x",
		tkShort[:len(tkShort)-1], `{"id":"chatcmpl-B9x3QzKp","object":"chat.completion.chunk"}`,
		"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----",
		strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20),
		"%%%%\\u00\\uZZZZ%4%ZZ\\", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("ordinary text ", 10))),
		hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
	} {
		if got := s.String(in); got != in {
			t.Errorf("String(%q) = %q", in, got)
		}
		if s.Contains([]byte(in)) {
			t.Errorf("Contains(%q) = true", in)
		}
	}
}

// chatChunk is an OpenAI chat stream event carrying text.
func chatChunk(index int, text string) string {
	b, _ := json.Marshal(text)
	return fmt.Sprintf(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":%d,"delta":{"content":%s}}]}`+"\n\n", index, b)
}

func messagesDelta(index int, text string) string {
	b, _ := json.Marshal(text)
	return fmt.Sprintf("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n", index, b)
}

func responsesDelta(text string) string {
	b, _ := json.Marshal(text)
	return fmt.Sprintf("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"content_index\":0,\"delta\":%s}\n\n", b)
}

func cut(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func TestEventsAcrossBoundaries(t *testing.T) {
	s, leaks := testScrubber(t)
	b64 := base64.StdEncoding.EncodeToString([]byte("x" + tkOpenAI))
	tests := []struct {
		name   string
		events []string
	}{
		{"chat pieces of 10", mapEach(cut("Your key is "+tkOpenAI+", enjoy.", 10), func(p string) string { return chatChunk(0, p) })},
		{"chat pieces of 1", mapEach(cut("k="+tkAzure+".", 1), func(p string) string { return chatChunk(0, p) })},
		{"chat pieces of 23", mapEach(cut(tkOpenAI+tkOpenAI, 23), func(p string) string { return chatChunk(0, p) })},
		{"messages pieces of 7", mapEach(cut("see "+tkOpenAI, 7), func(p string) string { return messagesDelta(0, p) })},
		{"responses pieces of 12", mapEach(cut(tkShort+" and "+tkAzure, 12), responsesDelta)},
		{"interleaved choices", interleave(cut(tkOpenAI, 9), cut(tkAzure, 5))},
		{"base64 in pieces", mapEach(cut(b64, 11), func(p string) string { return chatChunk(0, p) })},
		{"percent in pieces", mapEach(cut(encodings["percent every char"](tkAzure), 5), func(p string) string { return chatChunk(0, p) })},
		{"json escapes in pieces", mapEach(cut(encodings["json every char"](tkOpenAI), 6*5), func(p string) string {
			return `data: {"choices":[{"index":0,"delta":{"content":"` + p + `"}}]}` + "\n\n"
		})},
		{"two data lines", []string{"data: {\"x\":\"" + tkOpenAI[:20] + "\ndata: " + tkOpenAI[20:] + "\"}\n\n"}},
		{"data lines, plain text", []string{"data: " + tkAzure[:12] + "\ndata: " + tkAzure[12:24] + "\ndata: " + tkAzure[24:] + "\n\n"}},
		{"plain text events", mapEach(cut(tkOpenAI, 10), func(p string) string { return "data: " + p + "\n\n" })},
		{"in an event name", []string{"event: " + tkOpenAI + "\ndata: {}\n\n"}},
		{"in a comment", []string{": " + tkOpenAI + "\n\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s.Events()
			var out []byte
			for _, ev := range tt.events {
				out = append(out, e.Event([]byte(ev))...)
			}
			out = append(out, e.Flush()...)
			for _, text := range append(leakcheck.StreamText(out), string(out)) {
				if l, ok := leaks.Find(text); ok {
					t.Errorf("%s in %q\nstream:\n%s", l, text, out)
				}
			}
			if !bytes.Contains(out, []byte(Redacted)) {
				t.Errorf("nothing replaced:\n%s", out)
			}
			if got := bytes.Count(out, []byte("\n\n")); got != len(tt.events) {
				t.Errorf("%d events out, %d in:\n%s", got, len(tt.events), out)
			}
		})
	}
}

func mapEach(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// interleave alternates the pieces of two choices of a chat stream.
func interleave(a, b []string) []string {
	var out []string
	for i := 0; i < max(len(a), len(b)); i++ {
		if i < len(a) {
			out = append(out, chatChunk(0, a[i]))
		}
		if i < len(b) {
			out = append(out, chatChunk(1, b[i]))
		}
	}
	return out
}

// TestEventsFlow checks the latency side: ordinary text passes event by
// event, unchanged; only an event ending like the start of a secret waits
// for the next one.
func TestEventsFlow(t *testing.T) {
	s, _ := testScrubber(t)
	e := s.Events()
	words := strings.Fields(strings.Repeat("Sure! Here is a short poem about the sea, the wind and the gulls. ", 10))
	for i, w := range words {
		ev := chatChunk(0, w+" ")
		if got := string(e.Event([]byte(ev))); got != ev {
			t.Fatalf("event %d (%q) was held or changed: %q", i, w, got)
		}
	}
	for _, ev := range []string{": keep-alive\n\n", "data: [DONE]\n\n", "event: ping\ndata: {\"type\":\"ping\"}\n\n"} {
		if got := string(e.Event([]byte(ev))); got != ev {
			t.Errorf("%q came out as %q", ev, got)
		}
	}
	// The first characters of a secret are held until the next event
	// shows they were not one.
	first := chatChunk(0, "ok "+tkAzure[:6])
	if got := e.Event([]byte(first)); got != nil {
		t.Fatalf("the start of a secret was passed on: %q", got)
	}
	next := chatChunk(0, " and more")
	if got := string(e.Event([]byte(next))); got != first+next {
		t.Fatalf("held events not released as they were: %q", got)
	}
	if e.Flush() != nil {
		t.Fatal("nothing should be left")
	}
}

func TestJSONReaderAcrossStrings(t *testing.T) {
	s, leaks := testScrubber(t)
	blocks := func(pieces []string) string {
		var parts []string
		for _, p := range pieces {
			b, _ := json.Marshal(p)
			parts = append(parts, `{"type":"text","text":`+string(b)+`}`)
		}
		return `{"id":"msg_1","content":[` + strings.Join(parts, ",") + `],"usage":{"input_tokens":1}}`
	}
	big := strings.Repeat(`{"object":"embedding","embedding":[0.1,0.2,0.3]},`, 4000)
	for name, in := range map[string]string{
		"content blocks":      blocks(cut(tkOpenAI, 10)),
		"content blocks, hex": blocks(cut(hex.EncodeToString([]byte(tkAzure)), 16)),
		"after 200KB":         `{"data":[` + big + `{"x":"` + tkOpenAI[:15] + `"},{"x":"` + tkOpenAI[15:] + `"}]}`,
		"escaped keys":        `{"a":[{"t\u0065xt":"` + tkOpenAI[:15] + `"},{"text":"` + tkOpenAI[15:] + `"}]}`,
	} {
		for rname, r := range map[string]io.Reader{
			"whole":   strings.NewReader(in),
			"onebyte": iotest.OneByteReader(strings.NewReader(in)),
			"half":    iotest.HalfReader(strings.NewReader(in)),
		} {
			out := readAll(t, s.JSONReader(r))
			if !json.Valid([]byte(out)) {
				t.Errorf("%s/%s: not JSON any more", name, rname)
			}
			for _, text := range append(leakcheck.JSONText([]byte(out)), out) {
				if l, ok := leaks.Find(text); ok {
					t.Errorf("%s/%s: %s", name, rname, l)
				}
			}
		}
	}
}

func TestScrubberPEMHeadersAreNotSecret(t *testing.T) {
	p := testPEM(t)
	s := NewScrubber(New(p))
	in := "-----BEGIN PRIVATE KEY-----\n" + strings.Split(p, "\n")[1] + "\n-----END PRIVATE KEY-----\n"
	want := "-----BEGIN PRIVATE KEY-----\n" + Redacted + "\n-----END PRIVATE KEY-----\n"
	if got := s.String(in); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// FuzzScrubEncoded hides a piece of a secret, in one of the encodings,
// in arbitrary text: no piece may survive in any form.
func FuzzScrubEncoded(f *testing.F) {
	names := make([]string, 0, len(encodings))
	for n := range encodings {
		names = append(names, n)
	}
	sort.Strings(names)
	f.Add("before ", " after", uint8(0), uint8(0), uint8(60), uint8(0))
	f.Add(`{"a":"`, `"}`, uint8(3), uint8(10), uint8(24), uint8(1))
	f.Add("%", "\\", uint8(7), uint8(40), uint8(30), uint8(2))
	s, leaks := testScrubber(f)
	f.Fuzz(func(t *testing.T, pre, post string, enc, off, n, which uint8) {
		secret := []string{tkOpenAI, tkAzure, tkShort}[int(which)%3]
		o := int(off) % len(secret)
		piece := secret[o:min(len(secret), o+max(int(n), 1))]
		in := pre + encodings[names[int(enc)%len(names)]](piece) + post
		out := s.String(in)
		if l, ok := leaks.Find(out); ok {
			if _, before := leaks.Find(pre); before {
				return // the fuzzer wrote a piece itself, in a form of its own
			}
			if _, after := leaks.Find(post); after {
				return
			}
			t.Fatalf("%s in %q (from %q)", l, out, in)
		}
		if got := readAll(t, s.Reader(iotest.HalfReader(strings.NewReader(in)))); got != out {
			t.Fatalf("Reader %q != String %q", got, out)
		}
	})
}

// FuzzEvents cuts a text holding a secret into chat deltas at arbitrary
// points: whatever the cuts, the reassembled text holds no piece.
func FuzzEvents(f *testing.F) {
	f.Add("hello ", " bye", []byte{3, 9, 1, 30}, uint8(0))
	f.Add("", "", []byte{1}, uint8(1))
	s, leaks := testScrubber(f)
	f.Fuzz(func(t *testing.T, pre, post string, cuts []byte, which uint8) {
		if _, ok := leaks.Find(pre + post); ok {
			return
		}
		text := pre + []string{tkOpenAI, tkAzure, tkShort}[int(which)%3] + post
		e := s.Events()
		var out []byte
		for i := 0; len(text) > 0; i++ {
			n := len(text)
			if i < len(cuts) {
				n = min(n, int(cuts[i])%40+1)
			}
			out = append(out, e.Event([]byte(chatChunk(0, text[:n])))...)
			text = text[n:]
		}
		out = append(out, e.Flush()...)
		for _, text := range append(leakcheck.StreamText(out), string(out)) {
			if l, ok := leaks.Find(text); ok {
				t.Fatalf("%s in %q", l, text)
			}
		}
	})
}

// FuzzWalker feeds arbitrary text to the JSON walker whole and in pieces:
// it must not fail, and must report the same string content at the same
// paths either way.
func FuzzWalker(f *testing.F) {
	f.Add(`{"a":[{"b":"x\u0041y","index":3},"z"],"c":{"d":"\"e"}}`, uint8(3))
	f.Add(`["\u00`, uint8(1))
	f.Fuzz(func(t *testing.T, doc string, step uint8) {
		seed := maphash.MakeSeed()
		collect := func(chunk int) map[uint64]string {
			w := walker{discs: true, seed: seed}
			got := map[uint64]string{}
			for base := 0; base < len(doc); base += chunk {
				end := min(len(doc), base+chunk)
				w.feed([]byte(doc[base:end]), int64(base), func(fr fragment) {
					if fr.a < 0 || fr.b > int64(len(doc)) || fr.a > fr.b {
						t.Fatalf("fragment %d..%d out of %d", fr.a, fr.b, len(doc))
					}
					got[fr.path] += doc[fr.a:fr.b]
					_ = w.route(fr)
				})
			}
			return got
		}
		whole := collect(max(len(doc), 1))
		parts := collect(int(step)%16 + 1)
		for k, v := range whole {
			if parts[k] != v {
				t.Fatalf("path %x: whole %q, in pieces %q", k, v, parts[k])
			}
		}
	})
}

// TestScrubDecoderCannotHide: an escape character next to a piece must not
// eat its first characters out of every reading (%8b0d… decodes "%8b").
func TestScrubDecoderCannotHide(t *testing.T) {
	s, leaks := testScrubber(t)
	for _, in := range []string{
		"%" + tkAzure[4:30], `\` + tkAzure[5:30], "%" + hex.EncodeToString([]byte(tkOpenAI[10:40])),
		`\u0025` + tkAzure[4:30], "%5C" + tkAzure[5:30], `%\u0038` + tkAzure[5:30],
	} {
		out := s.String(in)
		if l, ok := leaks.Find(out); ok {
			t.Errorf("%s in %q (from %q)", l, out, in)
		}
	}
}

// BenchmarkEvents is the scrubber's share of a streamed answer: a fresh
// stream of 20 ordinary chat chunks and its end, per op.
func BenchmarkEvents(b *testing.B) {
	s, _ := testScrubber(b)
	var evs [][]byte
	for i := range 20 {
		evs = append(evs, []byte(fmt.Sprintf(`data: {"id":"chatcmpl-B9x3QzKp7","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4.1-mini","choices":[{"index":0,"delta":{"content":"token%d "},"finish_reason":null}]}`+"\n\n", i)))
	}
	evs = append(evs, []byte("data: [DONE]\n\n"))
	b.ReportAllocs()
	for b.Loop() {
		e := s.Events()
		for _, ev := range evs {
			if e.Event(ev) == nil {
				b.Fatal("held")
			}
		}
	}
}

// BenchmarkJSONReader is the scrubber's share of a JSON answer.
func BenchmarkJSONReader(b *testing.B) {
	s, _ := testScrubber(b)
	body := []byte(`{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("Hello there, how are you today? ", 20) + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := io.Copy(io.Discard, s.JSONReader(bytes.NewReader(body))); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEventsRepeatedPieces: a periodic secret cut into identical
// consecutive deltas is still found (a repeated value is skipped only when
// looking again could not find anything new).
func TestEventsRepeatedPieces(t *testing.T) {
	periodic := "sk-proj-PER" + strings.Repeat("Q7x", 20) + "T3BlbkFJ"
	s := NewScrubber(New(periodic))
	leaks := leakcheck.New(PieceLen, periodic)
	for _, n := range []int{3, 6, 9, 12} {
		e := s.Events()
		var out []byte
		for _, p := range cut(periodic, n) {
			out = append(out, e.Event([]byte(chatChunk(0, p)))...)
		}
		out = append(out, e.Flush()...)
		for _, text := range append(leakcheck.StreamText(out), string(out)) {
			if l, ok := leaks.Find(text); ok {
				t.Errorf("pieces of %d: %s", n, l)
			}
		}
	}
}
