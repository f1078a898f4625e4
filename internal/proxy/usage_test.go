package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/provider"
)

func TestDropNullUsage(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"id":"c","choices":[],"usage":null}`, `{"id":"c","choices":[]}`},
		{`{"id":"c","usage":null,"choices":[]}`, `{"id":"c","choices":[]}`},
		{`{"usage":null,"id":"c"}`, `{"id":"c"}`},
		{`{"usage": null , "id":"c"}`, `{ "id":"c"}`},
		{`{"id":"c", "usage" : null}`, `{"id":"c"}`},
		{`{"usage":null}`, `{}`},
		{`{"id":"c","usage":{"prompt_tokens":1}}`, `{"id":"c","usage":{"prompt_tokens":1}}`},
		{`{"id":"c","choices":[{"delta":{"content":"say \"usage\":null"}}]}`, `{"id":"c","choices":[{"delta":{"content":"say \"usage\":null"}}]}`},
		{`{"id":"c"}`, `{"id":"c"}`},
		{`[DONE]`, `[DONE]`},
	}
	for _, tt := range tests {
		in := []byte(tt.in)
		got := dropNullUsage(in)
		if string(got) != tt.want {
			t.Errorf("dropNullUsage(%s) = %s, want %s", tt.in, got, tt.want)
		}
		if string(in) != tt.in {
			t.Errorf("dropNullUsage wrote into its input: %s", in)
		}
	}
}

// FuzzDropNullUsage: the result of valid JSON is valid JSON with the same
// members but a null usage.
func FuzzDropNullUsage(f *testing.F) {
	for _, s := range []string{`{"id":"c","usage":null,"choices":[]}`, `{"usage":null}`, `{"a":{"usage":null},"usage":null}`, `{"usage":nullx}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte(nil), data...)
		out := dropNullUsage(data)
		if string(data) != string(in) {
			t.Fatal("input modified")
		}
		var before, after map[string]any
		if json.Unmarshal(in, &before) != nil {
			return
		}
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("valid %s became invalid %s: %v", in, out, err)
		}
		if u, ok := before["usage"]; ok && u == nil {
			delete(before, "usage")
		}
		if _, ok := after["usage"]; ok && after["usage"] == nil {
			delete(after, "usage")
		}
		if len(before) != len(after) {
			t.Fatalf("%s → %s changed members", in, out)
		}
	})
}

func TestBodyTapTail(t *testing.T) {
	// A body bigger than the tap keeps whole: the usage at its end is read
	// from the tail.
	big := `{"object":"list","data":[{"embedding":[` + strings.Repeat("0.0123456,", tapWhole/10+1000) + `0]}],"model":"m","usage":{"prompt_tokens":4242,"total_tokens":4242}}`
	tap := &bodyTap{src: strings.NewReader(big)}
	buf := make([]byte, 32<<10)
	for {
		if _, err := tap.Read(buf); err != nil {
			break
		}
	}
	if !tap.eof || !tap.cut || len(tap.buf) > 2*tapTail {
		t.Fatalf("eof %v cut %v kept %d", tap.eof, tap.cut, len(tap.buf))
	}
	got, ok := tap.tokens(testProvider(t), provider.Embeddings)
	if !ok || got.Input != 4242 {
		t.Fatalf("tail usage = %+v, %v", got, ok)
	}
}
