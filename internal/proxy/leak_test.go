package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/redact/leakcheck"
	"github.com/keyward/keyward/internal/secret"
)

var testFinder = leakcheck.New(secret.PieceLen, testKey)

func compress(t testing.TB, coding string, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&out)
	case "zlib":
		w = zlib.NewWriter(&out)
	case "flate":
		w, _ = flate.NewWriter(&out, flate.DefaultCompression)
	}
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestDecodeContent(t *testing.T) {
	body := []byte(`{"echo":"` + testKey + `"}`)
	bomb := compress(t, "gzip", bytes.Repeat([]byte("A"), 8<<20))
	tests := []struct {
		name   string
		coding []string
		wire   []byte
		want   []byte // nil: the body must fail to decode
		err    error  // from decodeContent
	}{
		{"none", nil, body, body, nil},
		{"identity", []string{"identity"}, body, body, nil},
		{"gzip", []string{"gzip"}, compress(t, "gzip", body), body, nil},
		{"x-gzip upper case", []string{"X-GZIP"}, compress(t, "gzip", body), body, nil},
		{"deflate (zlib)", []string{"deflate"}, compress(t, "zlib", body), body, nil},
		{"deflate (raw)", []string{"deflate"}, compress(t, "flate", body), body, nil},
		{"gzip, gzip", []string{"gzip, gzip"}, compress(t, "gzip", compress(t, "gzip", body)), body, nil},
		{"two header lines", []string{"deflate", "gzip"}, compress(t, "gzip", compress(t, "zlib", body)), body, nil},
		{"br", []string{"br"}, body, nil, errCoding},
		{"zstd", []string{"zstd"}, body, nil, errCoding},
		{"three layers", []string{"gzip, gzip, gzip"}, body, nil, errCoding},
		{"claims gzip, is not", []string{"gzip"}, body, nil, nil},
		{"bomb", []string{"gzip"}, bomb, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(tt.wire)), ContentLength: int64(len(tt.wire))}
			for _, c := range tt.coding {
				resp.Header.Add("Content-Encoding", c)
			}
			err := decodeContent(resp)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if resp.Header.Get("Content-Encoding") != "" {
				t.Error("Content-Encoding left in place")
			}
			got, err := io.ReadAll(resp.Body)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("decoded without an error: %d bytes", len(got))
				}
				if tt.name == "bomb" && (!errors.Is(err, errInflated) || len(got) > inflateSlack+inflateRatio*len(tt.wire)) {
					t.Fatalf("bomb: %v after %d bytes", err, len(got))
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

// FuzzDecodeContent feeds arbitrary codings and bodies: decoding must not
// fail other than with an error, and must stay within its bound.
func FuzzDecodeContent(f *testing.F) {
	f.Add("gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3})
	f.Add("deflate, gzip", []byte("x\x9c"))
	f.Add(" identity ,, GZIP", []byte("{}"))
	f.Fuzz(func(t *testing.T, coding string, wire []byte) {
		resp := &http.Response{Header: http.Header{"Content-Encoding": {coding}}, Body: io.NopCloser(bytes.NewReader(wire))}
		if err := decodeContent(resp); err != nil {
			if !errors.Is(err, errCoding) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		if n > int64(inflateSlack+inflateRatio*len(wire)) {
			t.Fatalf("%d bytes decoded from %d", n, len(wire))
		}
	})
}

// TestSSEBodyAcrossEvents: a key cut into deltas, or over two data: lines,
// reaches the client as no piece, whatever the route.
func TestSSEBodyAcrossEvents(t *testing.T) {
	delta := map[provider.Route]func(string) string{
		provider.Chat: func(p string) string {
			b, _ := json.Marshal(p)
			return fmt.Sprintf("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%s}}]}\n\n", b)
		},
		provider.Messages: func(p string) string {
			b, _ := json.Marshal(p)
			return fmt.Sprintf("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n", b)
		},
		provider.Responses: func(p string) string {
			b, _ := json.Marshal(p)
			return fmt.Sprintf("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"content_index\":0,\"delta\":%s}\n\n", b)
		},
	}
	end := map[provider.Route]string{
		provider.Chat:      "data: [DONE]\n\n",
		provider.Messages:  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		provider.Responses: "event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n",
	}
	for route, mk := range delta {
		for _, n := range []int{1, 5, 12, 23} {
			t.Run(fmt.Sprintf("%v/%d", route, n), func(t *testing.T) {
				var up strings.Builder
				text := "the key is " + testKey + " ok"
				for len(text) > 0 {
					k := min(n, len(text))
					up.WriteString(mk(text[:k]))
					text = text[k:]
				}
				up.WriteString("data: " + testKey[:18] + "\ndata: " + testKey[18:] + "\n\n")
				up.WriteString(end[route])
				at := newTestAttempt(t, route)
				b := newSSEBody(io.NopCloser(strings.NewReader(up.String())), at, slog.New(slog.DiscardHandler), 0)
				if fl := b.peek(); fl != nil {
					t.Fatalf("peek: %+v", fl)
				}
				out, err := io.ReadAll(b)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range append(leakcheck.StreamText(out), string(out)) {
					if l, ok := testFinder.Find(s); ok {
						t.Fatalf("%s in %q", l, s)
					}
				}
				if !at.streamComplete || !bytes.HasSuffix(out, []byte(end[route])) {
					t.Fatalf("stream did not end with its terminal event:\n%s", out)
				}
			})
		}
	}
}

// TestSSEBodyFlushesHeldEventsBeforeError: an event held back as the
// possible start of a secret still reaches the client before keyward's
// closing error.
func TestSSEBodyFlushesHeldEventsBeforeError(t *testing.T) {
	up := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello " + testKey[:6] + "\"}}]}\n\n"
	at := newTestAttempt(t, provider.Chat)
	b := newSSEBody(io.NopCloser(strings.NewReader(up)), at, slog.New(slog.DiscardHandler), 0)
	if fl := b.peek(); fl != nil {
		t.Fatal(fl)
	}
	out, _ := io.ReadAll(b)
	i, j := bytes.Index(out, []byte("hello")), bytes.Index(out, []byte("upstream_error"))
	if i < 0 || j < i {
		t.Fatalf("held event lost or out of order:\n%s", out)
	}
}

// TestSSEBodyDropsUpstreamFields: id:, retry: and unknown field lines, all
// values the upstream chose, do not reach the client; events stay whole.
func TestSSEBodyDropsUpstreamFields(t *testing.T) {
	up := "id: evt_" + testKey[8:20] + "\nretry: 10\nx-debug: " + testKey[20:] + "\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n" +
		": keep-alive\n\nevent: ping\ndata: {}\n\ndata: [DONE]\n\n"
	at := newTestAttempt(t, provider.Chat)
	b := newSSEBody(io.NopCloser(strings.NewReader(up)), at, slog.New(slog.DiscardHandler), 0)
	if fl := b.peek(); fl != nil {
		t.Fatal(fl)
	}
	out, _ := io.ReadAll(b)
	want := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n: keep-alive\n\nevent: ping\ndata: {}\n\ndata: [DONE]\n\n"
	if string(out) != want {
		t.Fatalf("got\n%q\nwant\n%q", out, want)
	}
}
