package redact

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/redact/leakcheck"
	"github.com/keyward/keyward/internal/secret"
)

// TestHandlerScrubsPieces: a log line carrying a slice of a secret, or the
// secret encoded, is scrubbed like the whole value — the "upstream attempt
// failed" line with a key sliced into type, code and param included.
func TestHandlerScrubsPieces(t *testing.T) {
	key := "sk-proj-LOGtest" + strings.Repeat("Lq8", 20) + "T3BlbkFJ"
	shapeless := "c0ffee00deadbeef" + "0123456789abcdef"
	leaks := leakcheck.New(secret.PieceLen, key, shapeless)
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), NewScrubber(secret.New(key), secret.New(shapeless))))
	rest := key[len("sk-proj-"):]
	log.Info("upstream attempt failed",
		"type", rest[:30], "code", rest[30:60], "param", rest[60:],
		"message", "Incorrect API key: "+strings.ReplaceAll(shapeless, "e", `\u0065`),
		"b64", base64.StdEncoding.EncodeToString([]byte("x"+shapeless)),
		"url", "https://x.test/?k="+url.QueryEscape(shapeless)+"&q="+strings.ToUpper(fmt.Sprintf("%x", shapeless)),
		"err", errors.New("echo: "+shapeless[3:29]),
	)
	out := buf.String()
	if l, ok := leaks.Find(out); ok {
		t.Fatalf("%s in the log line: %s", l, out)
	}
	if !strings.Contains(out, `"msg":"upstream attempt failed"`) {
		t.Fatalf("line lost: %s", out)
	}
}
