package redact

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/scan/rules"
	"github.com/keyward/keyward/internal/secret"
)

// Fake keys built for tests; none is or was ever a real credential.
var samples = map[string]string{
	"openai-legacy":  "sk-" + strings.Repeat("a1B2", 8) + "T3BlbkFJ" + strings.Repeat("c3D4", 5),
	"openai-project": "sk-proj-" + strings.Repeat("Xy9_", 20),
	"anthropic":      "sk-ant-api03-" + strings.Repeat("Qw3r", 23) + "-AA",
	"gemini":         "AIza" + strings.Repeat("Sy0", 12),
	"groq":           "gsk_" + strings.Repeat("gR0q", 13),
	"xai":            "xai-" + strings.Repeat("xA1", 20),
	"openrouter":     "sk-or-v1-" + strings.Repeat("0f", 32),
	"huggingface":    "hf_" + strings.Repeat("HuGg", 9),
	"keyward":        "kw_live_" + strings.Repeat("Kw7", 15),
	"jwt":            "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyMSJ9.c2lnbmF0dXJlc2lnbmF0dXJl",
}

func TestScrubPatterns(t *testing.T) {
	for name, key := range samples {
		t.Run(name, func(t *testing.T) {
			if !LooksLikeKey(key) {
				t.Errorf("LooksLikeKey(%s) = false", name)
			}
			for _, tmpl := range []string{"%s", "key=%s", "error: invalid key %q in header", `{"k":"%s"}`} {
				in := fmt.Sprintf(tmpl, key)
				out := ScrubPatterns(in)
				if strings.Contains(out, key) || strings.Contains(out, key[len(key)-10:]) {
					t.Errorf("ScrubPatterns(%q) = %q", in, out)
				}
			}
		})
	}
}

func TestScrubContextual(t *testing.T) {
	tests := []struct{ in, want string }{
		{"GET https://generativelanguage.googleapis.com/v1beta/models?key=abcdefghijk&alt=sse", "GET https://generativelanguage.googleapis.com/v1beta/models?key=[REDACTED]&alt=sse"},
		{"Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [REDACTED]"},
		{"bearer 12345678", "bearer [REDACTED]"},
		{`"x-api-key":"plainsecretvalue"`, `"x-api-key":"[REDACTED]"`},
		{"api-key: foobarbaz", "api-key: [REDACTED]"},
		{"https://user:hunter22@example.com/x", "https://user:[REDACTED]@example.com/x"},
		{"model gpt-4.1-mini returned 429", "model gpt-4.1-mini returned 429"},
		{"task-specific error: no risk", "task-specific error: no risk"},
	}
	for _, tt := range tests {
		if got := ScrubPatterns(tt.in); got != tt.want {
			t.Errorf("ScrubPatterns(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNoFalsePositivesOnOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"gpt-4.1-mini", "claude-sonnet-4-5", "sk-...", "sk-xxxx", "risk-assessment-2024-report",
		"request_id=req_123", "upstream returned status 503", "ask-anthropic-about-it",
	} {
		if LooksLikeKey(s) {
			t.Errorf("LooksLikeKey(%q) = true", s)
		}
	}
}

type stringerT struct{ v string }

func (s stringerT) String() string { return s.v }

func TestHandlerScrubsEverything(t *testing.T) {
	exact := "exact-secret-value-without-shape"
	key := samples["openai-project"]
	var buf bytes.Buffer
	s := NewScrubber(secret.New(exact))
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), s))
	log = log.With("pre", key, slog.Group("g", "k", exact))
	log.WithGroup("grp").Info("calling upstream with "+key,
		"err", errors.New("401 from upstream: "+exact),
		"url", "https://x.test/v1?key="+exact,
		"stringer", stringerT{key},
		"bytes", []byte(exact),
		"struct", struct{ A string }{exact},
		"nested", slog.GroupValue(slog.String("deep", key)),
		"secret", secret.New(exact),
		"n", 42,
		key, "as a key",
	)
	out := buf.String()
	if strings.Contains(out, exact) || strings.Contains(out, key) {
		t.Fatalf("log line leaked a secret: %s", out)
	}
	if !strings.Contains(out, `"n":42`) || !strings.Contains(out, "calling upstream with [REDACTED]") {
		t.Fatalf("log line lost non-secret content: %s", out)
	}
	// Reloads swap the exact values.
	buf.Reset()
	other := "another-exact-secret-value"
	s.SetSecrets(secret.New(other))
	log.Info(other + " " + exact)
	if strings.Contains(buf.String(), other) || !strings.Contains(buf.String(), exact) {
		t.Fatalf("after SetSecrets: %s", buf.String())
	}
}

func FuzzScrubPatterns(f *testing.F) {
	for _, k := range samples {
		f.Add("x " + k + " y")
	}
	f.Add("Bearer abcdefgh?key=zzz&token=1")
	for _, r := range rules.All() {
		for _, s := range r.TruePositives {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := ScrubPatterns(in)
		if ScrubPatterns(out) != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, ScrubPatterns(out))
		}
		if LooksLikeKey(out) {
			t.Fatalf("output still looks like a key: %q", out)
		}
	})
}
