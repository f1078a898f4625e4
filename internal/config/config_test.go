package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIssueExampleLoads(t *testing.T) {
	cfg, err := LoadFile("testdata/issue3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Providers = []Provider{
		{Name: "openai", Kind: KindOpenAI, BaseURL: "https://api.openai.com/v1", Keys: []KeyRef{{Ref: "env:OPENAI_API_KEY"}, {Ref: "file:/run/secrets/openai_2"}}},
		{Name: "claude", Kind: KindAnthropic, Keys: []KeyRef{{Ref: "env:ANTHROPIC_API_KEY"}}},
	}
	want.Models = []Model{
		{Name: "fast", Targets: []Target{{Provider: "openai", Model: "gpt-4.1-mini"}}},
		{Name: "claude-sonnet", Targets: []Target{{Provider: "claude", Model: "claude-sonnet-4-5"}}},
	}
	want.Clients.Keys = []Ref{"env:KEYWARD_CLIENT_KEY"}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config mismatch (-want +got):\n%s", diff)
	}
}

func TestLongFormsAndDurations(t *testing.T) {
	cfg, err := Parse([]byte(`
providers:
  - name: pool
    kind: openai-compatible
    base_url: https://api.groq.com/openai/v1
    key_strategy: weighted
    keys: [{ref: env:A, weight: 3}, env:B]
  - name: m
    kind: mock
    mock: {chunks: 3, chunk_delay: 10ms, fail_status: 503, fail_every: 2}
models: [{name: x, targets: [{provider: pool, model: llama}, {provider: m, model: mock-1}]}]
timeouts: {stream_idle: 90s, request: 2m}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Providers[0].Keys; !cmp.Equal(got, []KeyRef{{Ref: "env:A", Weight: 3}, {Ref: "env:B"}}) {
		t.Errorf("keys = %+v", got)
	}
	if cfg.Providers[1].Mock.ChunkDelay != 10*time.Millisecond || cfg.Timeouts.StreamIdle != 90*time.Second || cfg.Timeouts.Request != 2*time.Minute {
		t.Errorf("durations wrong: %+v %+v", cfg.Providers[1].Mock, cfg.Timeouts)
	}
	if cfg.Timeouts.Connect != Default().Timeouts.Connect {
		t.Error("unset fields must keep their defaults")
	}
}

func TestFlowStyleReferences(t *testing.T) {
	cfg, err := Parse([]byte(`
providers:
  - {name: a, kind: openai, keys: [env:A, file:/x]}
  - {name: b, kind: openai, keys: [{ref: env:B, weight: 2}]}
models: [{name: m, targets: [{provider: a, model: x}]}]
clients: {keys: [env:C, file:c.key]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]KeyRef{{Ref: "env:A"}, {Ref: "file:/x"}}, cfg.Providers[0].Keys); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]Ref{"env:C", "file:c.key"}, cfg.Clients.Keys); diff != "" {
		t.Error(diff)
	}
	if _, err := Parse([]byte("clients: {keys: [{vault: x}]}\n")); err == nil || !strings.Contains(err.Error(), "reference") {
		t.Errorf("bad mapping: %v", err)
	}
}

func TestProblemsAreCollected(t *testing.T) {
	openaiKey := "sk-proj-" + strings.Repeat("Ab1_", 12)
	src := `
listen: nowhere
providers:
  - name: openai
    kind: openai
    keys: [` + openaiKey + `, env:OK]
    base_url: http://api.openai.com/v1
    bogus: 1
  - name: openai
    kind: azure
  - name: groq
    kind: openai-compatible
    keys: [env:GROQ]
models:
  - name: fast
    targets: [{provider: nope, model: gpt}]
  - name: fast
    targets: []
clients:
  keys: [plaintext-client-key]
limits: {output_tokens: maybe, max_body_bytes: 0}
retry: {max_attempts: 0}
`
	_, err := Parse([]byte(src))
	if err == nil {
		t.Fatal("want error")
	}
	msg := err.Error()
	if strings.Contains(msg, openaiKey) || strings.Contains(msg, openaiKey[10:30]) {
		t.Fatalf("error echoes the literal key: %s", msg)
	}
	for _, want := range []string{
		"listen: must be host:port",
		"providers[0].keys[0]: looks like a literal OpenAI key; put it in an environment variable or a file",
		"providers[0].bogus: unknown key",
		"providers[0].base_url: must use https",
		"providers[1].name: duplicate provider name",
		"providers[1].kind: must be one of",
		"providers[2].base_url: is required for kind openai-compatible",
		"models[0].targets[0].provider: no provider is named \"nope\"",
		"models[1].name: duplicate model name",
		"models[1].targets: at least one target is required",
		"clients.keys[0]: must be a reference",
		"limits.output_tokens: must be",
		"limits.max_body_bytes: must be greater than 0",
		"retry.max_attempts: must be from 1 to 10",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, " problems:") {
		t.Errorf("error header: %s", msg)
	}
}

func TestLiteralKeysAnywhere(t *testing.T) {
	anthropic := "sk-ant-api03-" + strings.Repeat("Zz9-", 20) + "AA"
	for name, src := range map[string]string{
		"comment-free field": "listen: " + anthropic + "\n",
		"nested":             "providers: [{name: a, kind: mock, mock: {text: '" + anthropic + "'}}]\n",
		"in a url":           "providers: [{name: a, kind: openai-compatible, base_url: 'https://x.test/v1?key=AIza" + strings.Repeat("x", 35) + "'}]\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(src))
			if err == nil || !strings.Contains(err.Error(), "looks like a literal") {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), anthropic) {
				t.Fatalf("error echoes the key: %v", err)
			}
		})
	}
}

func TestSyntaxErrorsDoNotEchoSource(t *testing.T) {
	key := "sk-proj-" + strings.Repeat("Qq7", 15)
	_, err := Parse([]byte("providers:\n  - name: [" + key + "\n   kind: : :\n"))
	if err == nil {
		t.Fatal("want error")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("syntax error echoes source: %v", err)
	}
}

func TestTypeErrorsReported(t *testing.T) {
	_, err := Parse([]byte("listen: 127.0.0.1:1\nlimits: {max_body_bytes: lots}\nproviders: [{name: m, kind: mock}]\nmodels: [{name: a, targets: [{provider: m, model: b}]}]\n"))
	if err == nil || !strings.Contains(err.Error(), "max_body_bytes") && !strings.Contains(err.Error(), "cannot unmarshal") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyAndNonMapping(t *testing.T) {
	if _, err := Parse(nil); err == nil || !strings.Contains(err.Error(), "at least one provider") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := Parse([]byte("- a\n- b\n")); err == nil || !strings.Contains(err.Error(), "mapping") {
		t.Errorf("list file: %v", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file must fail")
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	os.WriteFile(big, []byte(strings.Repeat("#", MaxFileBytes+1)), 0o600)
	if _, err := LoadFile(big); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("big file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/issue3.yaml")
	f.Add(b)
	f.Add([]byte("providers: [{name: a, kind: mock}]\nmodels: [{name: x, targets: [{provider: a, model: y}]}]"))
	f.Add([]byte("{a: [1, {b: &x c}, *x]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse(data) // must not panic or hang
	})
}
