package stream

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

type ev struct {
	Name, Data, ID string
	Comment        bool
}

func readAll(t *testing.T, r io.Reader, max int) ([]ev, []byte, error) {
	t.Helper()
	sr := NewReader(r, max)
	var out []ev
	var raw []byte
	for {
		e, err := sr.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, raw, err
		}
		out = append(out, ev{e.Name, string(e.Data), e.ID, e.Comment})
		raw = append(raw, e.Raw...)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"openai chat", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []ev{{Data: `{"a":1}`}, {Data: "[DONE]"}}},
		{"anthropic", "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {}\n\n", []ev{{Name: "message_start", Data: `{"type":"message_start"}`}, {Name: "ping", Data: "{}"}}},
		{"crlf", "event: x\r\ndata: 1\r\n\r\n", []ev{{Name: "x", Data: "1"}}},
		{"multi data", "data: a\ndata: b\n\n", []ev{{Data: "a\nb"}}},
		{"no space", "data:x\n\n", []ev{{Data: "x"}}},
		{"comment", ": keep-alive\n\ndata: x\n\n", []ev{{Comment: true}, {Data: "x"}}},
		{"comment inside", "data: x\n: note\n\n", []ev{{Data: "x"}}},
		{"stray blank lines", "\n\n\ndata: x\n\n\n", []ev{{Data: "x"}}},
		{"unterminated", "data: x", []ev{{Data: "x"}}},
		{"id and unknown field", "id: 7\nretry: 10\nfoo\ndata: y\n\n", []ev{{ID: "7", Data: "y"}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, r := range map[string]io.Reader{
				"whole":   strings.NewReader(tt.in),
				"onebyte": iotest.OneByteReader(strings.NewReader(tt.in)),
			} {
				got, raw, err := readAll(t, r, 1<<20)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: (-want +got)\n%s", name, diff)
				}
				if string(raw) != strings.TrimRight(tt.in, "\n") && string(raw) != tt.in && !strings.HasPrefix(tt.in, string(raw)) {
					t.Errorf("%s: raw %q does not reproduce %q", name, raw, tt.in)
				}
			}
		})
	}
}

func TestEventTooLarge(t *testing.T) {
	in := "data: " + strings.Repeat("x", 100<<10) + "\n\n"
	_, _, err := readAll(t, strings.NewReader(in), 64<<10)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("err = %v", err)
	}
	// One long line that fits is fine, even past the bufio buffer size.
	got, _, err := readAll(t, strings.NewReader(in), 1<<20)
	if err != nil || len(got) != 1 || len(got[0].Data) != 100<<10 {
		t.Fatalf("long line: %v %d", err, len(got))
	}
}

func TestReaderPropagatesErrors(t *testing.T) {
	boom := errors.New("boom")
	sr := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)), 1<<20)
	if e, err := sr.Next(); err != nil || string(e.Data) != "a" {
		t.Fatalf("first: %v", err)
	}
	if _, err := sr.Next(); !errors.Is(err, boom) {
		t.Fatalf("second: %v", err)
	}
}

func TestAppendRoundTrip(t *testing.T) {
	events := []Event{
		{Name: "message_delta", Data: []byte(`{"x":1}`)},
		{Data: []byte("line1\nline2")},
		{Data: []byte("")},
		{Name: "bad\nname", ID: "1\r", Data: []byte("x")},
		{Comment: true},
	}
	var buf []byte
	for _, e := range events {
		buf = Append(buf, e)
	}
	got, _, err := readAll(t, bytes.NewReader(buf), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := []ev{{Name: "message_delta", Data: `{"x":1}`}, {Data: "line1\nline2"}, {Data: ""}, {Name: "badname", ID: "1", Data: "x"}, {Comment: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("event: a\ndata: b\n\ndata: [DONE]\n\n"), 3)
	f.Add([]byte(": c\r\n\r\ndata:x\rdata: y\n"), 1)
	f.Fuzz(func(t *testing.T, in []byte, chunk int) {
		if chunk <= 0 || chunk > 64 {
			chunk = 5
		}
		sr := NewReader(&chunked{b: in, n: chunk}, 4096)
		var raw []byte
		var evs []Event
		for i := 0; ; i++ {
			e, err := sr.Next()
			if err != nil {
				if err == io.EOF && !bytes.HasPrefix(in, raw) {
					t.Fatalf("raw %q is not a prefix of input %q", raw, in)
				}
				break
			}
			if i > len(in)+1 {
				t.Fatal("more events than input bytes")
			}
			raw = append(raw, e.Raw...)
			evs = append(evs, Event{Name: e.Name, ID: e.ID, Data: bytes.Clone(e.Data), Comment: e.Comment})
		}
		// Re-encoding what was read and reading it again gives the same events.
		var enc []byte
		for _, e := range evs {
			// A lone \r is data here, not a line end (providers never send
			// one), so it does not survive a re-encode; skip such inputs.
			if strings.ContainsAny(e.Name+e.ID, "\r\n") || bytes.ContainsRune(e.Data, '\r') {
				return
			}
			enc = Append(enc, e)
		}
		sr2 := NewReader(bytes.NewReader(enc), 1<<20)
		for _, want := range evs {
			got, err := sr2.Next()
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			if got.Name != want.Name || got.ID != want.ID || got.Comment != want.Comment || !want.Comment && string(got.Data) != string(want.Data) {
				t.Fatalf("round trip: got %+v want %+v", got, want)
			}
		}
	})
}

type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}
