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
		`providers[1].kind: "azure" is not one of openai, openai-compatible, azure-openai, anthropic, mock; did you mean "azure-openai"?`,
		"providers[2].base_url: is required for kind openai-compatible",
		"models[0].targets[0].provider: no provider is named \"nope\"",
		"models[1].name: duplicate model name",
		"models[1].targets: at least one target is required",
		"clients.keys[0]: must be a reference",
		`limits.output_tokens: "maybe" is not one of clamp, reject`,
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

func TestAccessControlExampleLoads(t *testing.T) {
	cfg, err := LoadFile("testdata/issue4.yaml")
	if err != nil {
		t.Fatal(err)
	}
	j := cfg.Auth.JWT[0]
	if j.PlanClaim != "public_metadata.plan" || j.DefaultPlan != "free" || j.Algorithms[0] != "RS256" {
		t.Errorf("jwt = %+v", j)
	}
	if cfg.Auth.BrowserTokens.MaxTTL != 15*time.Minute || cfg.Auth.BrowserTokens.SigningKey != "file:/run/secrets/keyward_ed25519.pem" {
		t.Errorf("browser tokens = %+v", cfg.Auth.BrowserTokens)
	}
	if p, ok := cfg.Plan("free"); !ok || p.MaxOutputTokens != 512 || len(p.Models) != 1 {
		t.Errorf("plan free = %+v", p)
	}
	if cfg.CORS.AllowedOrigins[0] != "https://app.example.com" || cfg.Store.Path != "keyward.db" {
		t.Errorf("cors/store = %+v %+v", cfg.CORS, cfg.Store)
	}
}

func TestLimitsPlanFieldsLoad(t *testing.T) {
	b, _ := os.ReadFile("testdata/issue3.yaml")
	src := string(b) + `
plans:
  - name: free
    models: [fast]
    rpm: 5                 # requests per minute
    rpd: 1000              # requests per day
    tpm: 20000             # tokens per minute
    concurrency: 2         # in-flight requests/streams per key
    spend: {daily_usd: 0.50, monthly_usd: 5}
pricing:                   # overrides and additions to the embedded table, USD per 1M tokens
  - {model: gpt-4.1-mini, input: 0.40, output: 1.60, cached_input: 0.10}
usage:
  retention: 2160h
`
	cfg, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cfg.Plan("free")
	if p.RPM != 5 || p.RPD != 1000 || p.TPM != 20000 || p.Concurrency != 2 || p.Spend.DailyUSD != 0.5 || p.Spend.MonthlyUSD != 5 {
		t.Errorf("plan = %+v %+v", p, p.Spend)
	}
	want := []Pricing{{Model: "gpt-4.1-mini", Input: 0.40, Output: 1.60, CachedInput: 0.10}}
	if diff := cmp.Diff(want, cfg.Pricing); diff != "" {
		t.Errorf("pricing (-want +got):\n%s", diff)
	}
	if cfg.Usage.Retention != 2160*time.Hour || cfg.Usage.Unpriced != UnpricedDeny || cfg.Usage.QueueSize != 100_000 {
		t.Errorf("usage = %+v", cfg.Usage)
	}
}

func TestUsageProblems(t *testing.T) {
	b, _ := os.ReadFile("testdata/issue3.yaml")
	src := string(b) + `
pricing:
  - {model: gpt-x, input: -1, output: 2}
  - {model: GPT-X, input: 1, output: 2}
  - {input: 1}
usage: {retention: 100h, unpriced: allow, queue_size: 0}
plans: [{name: monthly, spend: {monthly_usd: 5}}]
metrics: {listen: nowhere}
trusted_proxies: [10.0.0.0/8, 192.168.1.1, not-an-ip]
`
	_, err := Parse([]byte(src))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{
		"pricing[0].input: must be a price",
		`pricing[1].model: duplicate price for "GPT-X"`,
		"pricing[2].model: is required",
		"usage.retention: must be at least 768h0m0s when a plan has a monthly spend cap",
		`usage.unpriced: "allow" is not one of deny, zero`,
		"usage.queue_size",
		"metrics.listen",
		"trusted_proxies[2]",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "trusted_proxies[0]") || strings.Contains(err.Error(), "trusted_proxies[1]") {
		t.Errorf("valid proxies refused:\n%v", err)
	}
}

func TestAccessControlProblems(t *testing.T) {
	b, _ := os.ReadFile("testdata/issue3.yaml")
	src := string(b) + `
store: {driver: mysql}
auth:
  pepper: literal-pepper
  default_plan: gold
  asserted_users: {plan: silver}
  failed_per_minute: 0
  jwt:
    - issuer: https://a.example
      jwks_url: https://a.example/jwks.json
      algorithms: [none, HS256]
    - issuer: https://a.example
      secret: env:S
      jwks_url: https://a.example/jwks
      algorithms: [RS256]
      leeway: 1h
    - issuer: https://b.example
      algorithms: []
  browser_tokens:
    max_ttl: 1h
    issuers: [{name: keyward, public_key: env:P}]
plans:
  - {name: free, models: [gpt-5], routes: [chat, images]}
  - {name: free, rpm: -1}
cors:
  allowed_origins: ["*", "https://app.example.com/path", "app.example.com", "https://ok.example.com"]
`
	_, err := Parse([]byte(src))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{
		`store.driver: "mysql" is not one of sqlite, postgres`,
		"auth.pepper: must be a reference",
		`auth.default_plan: no plan is named "gold"`,
		`auth.asserted_users.plan: no plan is named "silver"`,
		"auth.failed_per_minute",
		`auth.jwt[0].algorithms[0]: "none" is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512 (never none: tokens must be signed)`,
		"auth.jwt[0].algorithms[1]: HMAC algorithms cannot be used with a JWKS",
		`auth.jwt[1].issuer: duplicate issuer`,
		"auth.jwt[1]: give jwks_url or secret, not both",
		"auth.jwt[1].leeway",
		"auth.jwt[2]: needs jwks_url or secret",
		"auth.jwt[2].algorithms: list the algorithms",
		"auth.browser_tokens.max_ttl: must be from 1s to 15m",
		"auth.browser_tokens.issuers[0].name",
		`plans[0].models[0]: no model is named "gpt-5"`,
		`plans[0].routes[1]: "images" is not one of chat, responses, embeddings, messages, count_tokens, models`,
		`plans[1].name: duplicate plan name "free"`,
		"plans[1]: limits must not be negative",
		"cors.allowed_origins[0]",
		"cors.allowed_origins[1]",
		"cors.allowed_origins[2]",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if strings.Contains(err.Error(), "cors.allowed_origins[3]") {
		t.Error("a valid origin was refused")
	}
}

// TestScaleOutConfigLoads: the scale-out configuration of issue #19 loads
// as written; its references are checked, and a postgres store needs one.
func TestScaleOutConfigLoads(t *testing.T) {
	base := "providers: [{name: m, kind: mock}]\nmodels: [{name: fast, targets: [{provider: m, model: x}]}]\nclients: {keys: [env:C]}\n"
	cfg, err := Parse([]byte(base + "store: {driver: postgres, dsn: env:DATABASE_URL}\nredis: {url: env:REDIS_URL}          # limits\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Driver != "postgres" || cfg.Store.DSN != "env:DATABASE_URL" || cfg.Redis.URL != "env:REDIS_URL" || cfg.Redis.Prefix != "kw:" {
		t.Errorf("store %+v, redis %+v", cfg.Store, cfg.Redis)
	}
	for yaml, want := range map[string]string{
		"store: {driver: postgres}\n":                               "store.dsn: is required",
		"store: {driver: postgres, dsn: \"postgres://u:p@h/db\"}\n": "store.dsn:",
		"store: {dsn: env:X}\n":                                     "store.dsn: is for driver postgres",
		"redis: {url: \"redis://h:6379\"}\n":                        "redis.url:",
		"redis: {url: env:R, prefix: \"\"}\n":                       "redis.prefix:",
		"redis: {url: env:R, lease_ttl: 10ms}\n":                    "redis.lease_ttl:",
	} {
		if _, err := Parse([]byte(base + yaml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want %q in %v", yaml, want, err)
		}
	}
}
