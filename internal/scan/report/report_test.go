package report

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/rules"
	"github.com/keyward/keyward/internal/scan/source"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeKey returns prefix and n alphanumerics from a fixed seed: shaped
// like a key, never a live one.
func fakeKey(prefix string, n int, seed uint64) string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	r := rand.New(rand.NewPCG(seed, 7))
	b := []byte(prefix)
	for range n {
		b = append(b, alnum[r.IntN(len(alnum))])
	}
	return string(b)
}

func findings() []source.Finding {
	f := func(path string, exp source.Exposure, line, col int, rule, provider, desc string, sev rules.Severity, secret string) source.Finding {
		return source.Finding{Path: path, Exposure: exp, Finding: detect.Finding{
			RuleID: rule, Provider: provider, Description: desc, Severity: sev, Secret: secret, Line: line, Column: col,
		}}
	}
	commit := &source.Commit{Hash: "0123456789abcdef0123456789abcdef01234567", Author: "Ada Lovelace", Email: "ada@example.test",
		Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	inHistory := f("src/old.ts", source.Repository, 4, 7, "openai-api-key", "OpenAI", "OpenAI API key", rules.Critical,
		"sk-proj-"+fakeKey("", 74, 4)+"T3BlbkFJ"+fakeKey("", 74, 5))
	inHistory.Commit = commit
	encoded := f(".next/static/chunks/main.js", source.Client, 1, 9, "groq-api-key", "Groq", "Groq API key", rules.Critical, fakeKey("gsk_", 52, 6))
	encoded.Encoding, encoded.Original = "base64", "webpack://app/src/lib/ai.ts:3"
	return []source.Finding{
		encoded,
		f(".next/static/chunks/app/page-1a2b.js", source.Client, 1, 2048, "groq-api-key", "Groq", "Groq API key", rules.Critical, fakeKey("gsk_", 52, 1)),
		f("src/lib/ai.ts", source.Repository, 3, 15, "groq-api-key", "Groq", "Groq API key", rules.Critical, fakeKey("gsk_", 52, 2)),
		f("src/lib/ai.ts", source.Repository, 9, 20, "generic-secret", "Generic", "High-entropy quoted value assigned to a secret-sounding name", rules.Medium, fakeKey("", 32, 3)),
		inHistory,
	}
}

func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		name, format string
		findings     []source.Finding
		opt          Options
	}{
		{"findings.txt", "text", findings(), Options{}},
		{"findings-color.txt", "text", findings(), Options{Color: true}},
		{"findings.json", "json", findings(), Options{}},
		{"findings.sarif", "sarif", findings(), Options{Version: "1.2.3"}},
		{"verified.txt", "text", findings()[:2], Options{Verified: map[string]string{
			findings()[0].Fingerprint(): "active", findings()[1].Fingerprint(): "inactive"}}},
		{"empty.txt", "text", nil, Options{}},
		{"empty.json", "json", nil, Options{}},
		{"empty.sarif", "sarif", nil, Options{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, tt.findings, tt.opt); err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.findings {
				if strings.Contains(buf.String(), f.Secret) {
					t.Fatalf("report holds the secret %s unredacted", detect.Redact(f.Secret))
				}
			}
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, "xml", nil, Options{}); err == nil || !strings.Contains(err.Error(), "text, json, sarif") {
		t.Errorf("err = %v", err)
	}
}
