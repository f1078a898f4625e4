package apierr

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestGoldenBodies(t *testing.T) {
	var all bytes.Buffer
	codes := Codes()
	sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
	for _, c := range codes {
		for _, f := range []Family{OpenAI, Anthropic} {
			b := Body(f, c, "", "req_1")
			if !json.Valid(b) {
				t.Fatalf("%s: invalid JSON %s", c, b)
			}
			all.WriteString(string(c) + " " + strconv.Itoa(c.Status()) + " " + string(b) + "\n")
		}
	}
	golden(t, "bodies.golden", all.Bytes())
	var ev bytes.Buffer
	for _, k := range []StreamKind{ChatStream, ResponsesStream, MessagesStream} {
		ev.Write(StreamEvent(k, UpstreamError, "", "req_2"))
	}
	golden(t, "events.golden", ev.Bytes())
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set(RequestIDHeader, "req_abc")
	Write(rec, Anthropic, PayloadTooLarge, "")
	if rec.Code != 413 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Request-Id") != "req_abc" {
		t.Fatalf("got %d %v", rec.Code, rec.Header())
	}
	var body anthropicBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Type != "request_too_large" || body.RequestID != "req_abc" {
		t.Fatalf("body %s", rec.Body)
	}
}

func TestMessagesAreScrubbed(t *testing.T) {
	key := "sk-proj-" + strings.Repeat("Leak9", 8)
	for _, b := range [][]byte{
		Body(OpenAI, InvalidRequest, "model "+key+" not found", ""),
		StreamEvent(MessagesStream, UpstreamError, key, ""),
	} {
		if bytes.Contains(b, []byte(key)) {
			t.Errorf("leak: %s", b)
		}
	}
}

func TestUnknownCodeIsInternal(t *testing.T) {
	if Code("nope").Status() != 500 {
		t.Fatal("unknown code status")
	}
	if !bytes.Contains(Body(OpenAI, Code("nope"), "", ""), []byte(`"internal_error"`)) {
		t.Fatal("unknown code body")
	}
}
