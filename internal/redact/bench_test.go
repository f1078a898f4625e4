package redact

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// benchLines are what the redactor sees: ordinary access-log values, an
// upstream error echoing a key, and a long upstream body.
var benchLines = map[string]string{
	"short":  "gpt-4.1-mini",
	"access": "POST /v1/chat/completions 200 model=fast provider=openai key_id=k_01HZX latency_ms=412 tokens_in=1234 tokens_out=56 request_id=req_7f3a9c",
	"key":    `upstream 401: {"error":{"message":"Incorrect API key provided: ` + samples["openai-project"] + `","type":"invalid_request_error","code":"invalid_api_key"}}`,
	"long":   strings.Repeat("The quick brown fox jumps over the lazy dog; upstream said Token limit exceeded for model mistral-large. ", 40),
}

func BenchmarkScrubPatterns(b *testing.B) {
	for _, name := range []string{"short", "access", "key", "long"} {
		line := benchLines[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				ScrubPatterns(line)
			}
		})
	}
}

func BenchmarkHandler(b *testing.B) {
	log := slog.New(NewHandler(slog.NewJSONHandler(io.Discard, nil), NewScrubber(secret.New("exact-secret-value-without-shape-0123"))))
	b.ReportAllocs()
	for b.Loop() {
		log.Info("request served", "method", "POST", "path", "/v1/chat/completions", "status", 200,
			"model", "fast", "provider", "openai", "key_id", "k_01HZX", "latency_ms", 412, "request_id", "req_7f3a9c")
	}
}

// BenchmarkAccessLog is the redactor's share of keyward's access log line,
// once per request: a request id, the principal (whose "key" opens the
// generic rules' gates), the model route and the usage.
func BenchmarkAccessLog(b *testing.B) {
	log := slog.New(NewHandler(slog.NewJSONHandler(io.Discard, nil), NewScrubber(secret.New("exact-secret-value-without-shape-0123"))))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", "req_5f0c2a9be13d47a8c6e2f190"), slog.String("method", "POST"),
			slog.String("path", "/v1/chat/completions"), slog.Int("status", 200), slog.Int64("bytes", 2114),
			slog.Duration("duration", 412*time.Millisecond), slog.String("principal", "client:env:CLIENT_KEY"),
			slog.String("model", "fast"), slog.String("provider", "up"), slog.String("target", "gpt-4.1-mini"),
			slog.String("key", "up#0"), slog.Int("attempts", 1), slog.Int("upstream_status", 200), slog.Bool("stream", true),
			slog.Int64("input_tokens", 21), slog.Int64("output_tokens", 20), slog.Int64("cost_micros", 14), slog.String("metered", "reported"))
	}
}
