// Package config defines keyward's configuration: one typed struct with
// defaults, strict YAML loading that rejects unknown keys and literal
// secrets, and validation that reports every problem at once with its
// YAML path.
package config

import (
	"fmt"
	"path/filepath"
	"time"
)

// Provider kinds.
const (
	KindOpenAI           = "openai"
	KindOpenAICompatible = "openai-compatible"
	KindAzureOpenAI      = "azure-openai"
	KindAnthropic        = "anthropic"
	KindMock             = "mock"
)

// Kinds lists the provider kinds in the order the docs give them.
var Kinds = []string{KindOpenAI, KindOpenAICompatible, KindAzureOpenAI, KindAnthropic, KindMock}

// Key strategies choose among a provider's keys.
const (
	StrategyRoundRobin = "round_robin"
	StrategyWeighted   = "weighted"
)

// What to do with an output-token field above the cap.
const (
	OutputClamp  = "clamp"
	OutputReject = "reject"
)

// Config is the whole configuration of `keyward serve`.
type Config struct {
	Listen    string     `yaml:"listen"`
	Providers []Provider `yaml:"providers"`
	Models    []Model    `yaml:"models"`
	Clients   Clients    `yaml:"clients"`
	Limits    Limits     `yaml:"limits"`
	Timeouts  Timeouts   `yaml:"timeouts"`
	Retry     Retry      `yaml:"retry"`
	Log       Log        `yaml:"log"`
	Reload    Reload     `yaml:"reload"`
	Store     Store      `yaml:"store"`
	Redis     Redis      `yaml:"redis"`
	Auth      Auth       `yaml:"auth"`
	Plans     []Plan     `yaml:"plans"`
	CORS      CORS       `yaml:"cors"`
	// Pricing overrides and extends the embedded price table.
	Pricing []Pricing `yaml:"pricing"`
	Usage   Usage     `yaml:"usage"`
	Metrics Metrics   `yaml:"metrics"`
	// TrustedProxies are the networks (CIDRs or addresses) of reverse
	// proxies whose X-Forwarded-For is believed for the client IP; from
	// anyone else the connection's address is the client IP.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Store says where keyward keeps virtual keys, users and audit events.
type Store struct {
	// Driver is "sqlite" (embedded, the default) or "postgres" (shared by
	// several replicas).
	Driver string `yaml:"driver"`
	// Path is the SQLite database file (relative to the configuration
	// file).
	Path string `yaml:"path"`
	// DSN is the PostgreSQL connection string (driver postgres), a
	// reference (env:NAME or file:PATH): it may hold a password.
	DSN Ref `yaml:"dsn"`
	// MaxConns bounds the PostgreSQL connection pool (0: 10).
	MaxConns int `yaml:"max_conns"`
	// GracePeriod is how long keys, users and budgets read before keep
	// working from each replica's cache while the store fails (default
	// 5m; 0: refuse every request that needs the store). Keys never read
	// by a replica are refused during an outage.
	GracePeriod time.Duration `yaml:"grace_period"`
}

// Redis configures the Redis shared by replicas: rate limits and
// concurrency leases (spend reservations and change events follow).
type Redis struct {
	// URL is redis://[:password@]host:port[/db] (rediss:// for TLS), a
	// reference (env:NAME or file:PATH): it may hold a password.
	URL Ref `yaml:"url"`
	// Prefix starts every key keyward writes (default "kw:"; put a hash
	// tag in it, such as "{kw}:", for Redis Cluster).
	Prefix string `yaml:"prefix"`
	// LeaseTTL is how long a replica's concurrency slot outlives the
	// replica if it dies (default 30s; live replicas renew theirs).
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// SpendLeaseTTL is how long a spend reservation outlives a replica
	// that died holding it (default 15m; longer than timeouts.request).
	SpendLeaseTTL time.Duration `yaml:"spend_lease_ttl"`
	// OnFailure is what each kind of limit does while Redis fails.
	OnFailure RedisFailure `yaml:"on_failure"`
}

// RedisFailure says, per kind of limit, what happens while Redis fails:
// fail_open decides in each replica's memory (as one replica would),
// fail_closed refuses with 503 unavailable.
type RedisFailure struct {
	// Rates are requests and tokens per minute and day (default fail_open).
	Rates string `yaml:"rates"`
	// Concurrency is requests in progress (default fail_open).
	Concurrency string `yaml:"concurrency"`
	// Spend is spend caps (default fail_closed: a cap is money).
	Spend string `yaml:"spend"`
}

// Auth configures who may call keyward.
type Auth struct {
	// Pepper keys the HMAC-SHA256 under which virtual keys are stored.
	Pepper Ref `yaml:"pepper"`
	// AdminKeys are the credentials of the admin API (role admin).
	AdminKeys []Ref `yaml:"admin_keys"`
	// JWT accepts the app's own users, signed in with Auth.js, Clerk,
	// Supabase, Auth0 or any OIDC provider.
	JWT []JWTIssuer `yaml:"jwt"`
	// BrowserTokens configures short-lived tokens for browsers.
	BrowserTokens BrowserTokens `yaml:"browser_tokens"`
	// DefaultPlan applies to principals that name no plan (static client
	// keys, virtual keys created without one).
	DefaultPlan string `yaml:"default_plan"`
	// FailedPerMinute bounds failed authentications per client IP.
	FailedPerMinute int `yaml:"failed_per_minute"`
	// AssertedUsers configures the end users a server key (scope
	// users:assert) names with X-Keyward-User.
	AssertedUsers AssertedUsers `yaml:"asserted_users"`
}

// AssertedUsers configures the end users an app server names on its
// requests.
type AssertedUsers struct {
	// Plan is the plan of a named user the operator assigned none (default:
	// the key's plan). Either way it only narrows the key's.
	Plan string `yaml:"plan"`
	// FromBody also takes the user from the request body when the header is
	// absent: OpenAI's "user" (chat, responses, embeddings) and Anthropic's
	// metadata.user_id.
	FromBody bool `yaml:"from_body"`
}

// JWTIssuer is one identity provider whose tokens keyward accepts.
type JWTIssuer struct {
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// JWKSURL is where the issuer publishes its public keys.
	JWKSURL string `yaml:"jwks_url"`
	// Secret is an HMAC secret reference (Supabase's legacy JWT secret),
	// instead of JWKSURL.
	Secret Ref `yaml:"secret"`
	// Algorithms allowed for this issuer; never "none", never HMAC with a
	// JWKS.
	Algorithms []string `yaml:"algorithms"`
	// UserClaim is the claim holding the user id (default "sub").
	UserClaim string `yaml:"user_claim"`
	// PlanClaim is a dotted claim path holding the plan name, such as
	// "public_metadata.plan" or "app_metadata.plan".
	PlanClaim string `yaml:"plan_claim"`
	// DefaultPlan applies when the plan claim is absent.
	DefaultPlan string `yaml:"default_plan"`
	// Leeway tolerates clock skew on exp/nbf/iat (default 30s).
	Leeway time.Duration `yaml:"leeway"`
}

// BrowserTokens configures the short-lived tokens browsers use.
type BrowserTokens struct {
	// SigningKey is keyward's Ed25519 private key (PKCS#8 PEM).
	SigningKey Ref `yaml:"signing_key"`
	// VerificationKeys are older public keys (PEM) still accepted while
	// tokens they signed live out, for key rotation.
	VerificationKeys []Ref `yaml:"verification_keys"`
	// MaxTTL bounds a token's lifetime (at most 15m).
	MaxTTL time.Duration `yaml:"max_ttl"`
	// Issuers are app servers that sign tokens offline with their own
	// Ed25519 keys.
	Issuers []TokenIssuer `yaml:"issuers"`
}

// TokenIssuer is an app server allowed to mint browser tokens offline.
type TokenIssuer struct {
	// Name is the token's "iss" claim.
	Name string `yaml:"name"`
	// PublicKey is the issuer's Ed25519 public key (PEM).
	PublicKey Ref `yaml:"public_key"`
	// Plan bounds what its tokens may ask for (default: auth.default_plan).
	Plan string `yaml:"plan"`
}

// Plan is what a principal may do.
type Plan struct {
	Name string `yaml:"name"`
	// Models the plan may use (names from models:); empty: all.
	Models []string `yaml:"models"`
	// Routes the plan may use (chat, responses, embeddings, messages,
	// count_tokens, models); empty: all.
	Routes []string `yaml:"routes"`
	// Caps below the global limits (0: the global limit).
	MaxOutputTokens int   `yaml:"max_output_tokens"`
	MaxPromptChars  int   `yaml:"max_prompt_chars"`
	MaxBodyBytes    int64 `yaml:"max_body_bytes"`
	// Rate and spend limits (enforced by the limits issue).
	RPM         int    `yaml:"rpm"`
	RPD         int    `yaml:"rpd"`
	TPM         int    `yaml:"tpm"`
	Concurrency int    `yaml:"concurrency"`
	Spend       *Spend `yaml:"spend"`
	// AllowUnbounded lets requests whose cost cannot be bounded before
	// they are sent (previous_response_id, conversation, stored prompts,
	// background mode, tools the provider runs) through under a spend
	// cap; they are then charged what the provider reports, which may
	// pass the cap. Without it they are refused when a cap applies.
	AllowUnbounded bool `yaml:"allow_unbounded"`
}

// Spend caps in US dollars.
type Spend struct {
	DailyUSD   float64 `yaml:"daily_usd"`
	MonthlyUSD float64 `yaml:"monthly_usd"`
}

// CORS configures browser access.
type CORS struct {
	// AllowedOrigins is the explicit list of origins ("https://app.example.com").
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxAge is how long browsers may cache a preflight answer.
	MaxAge time.Duration `yaml:"max_age"`
}

// StorePath is the database path, a relative one taken from the directory
// of the configuration file (as file: references are).
func (c *Config) StorePath(configPath string) string {
	if filepath.IsAbs(c.Store.Path) || configPath == "" {
		return c.Store.Path
	}
	return filepath.Join(filepath.Dir(configPath), c.Store.Path)
}

// RouteNames are the route names plans may list.
var RouteNames = []string{"chat", "responses", "embeddings", "messages", "count_tokens", "models"}

// Plan returns the plan with the given name.
func (c *Config) Plan(name string) (*Plan, bool) {
	for i := range c.Plans {
		if c.Plans[i].Name == name {
			return &c.Plans[i], true
		}
	}
	return nil, false
}

// Provider is one upstream account: a kind, where it lives, and its keys.
type Provider struct {
	Name    string `yaml:"name"`
	Kind    string `yaml:"kind"`
	BaseURL string `yaml:"base_url"`
	// Keys are references (env:NAME, file:PATH), never literal keys.
	Keys        []KeyRef `yaml:"keys"`
	KeyStrategy string   `yaml:"key_strategy"`
	// APIVersion is Azure's api-version query value; "v1" selects Azure's
	// /openai/v1 API where the model goes in the body.
	APIVersion string `yaml:"api_version"`
	// AnthropicVersion is sent as the anthropic-version header.
	AnthropicVersion string `yaml:"anthropic_version"`
	// AnthropicBetas is the allowlist of anthropic-beta values a client may
	// ask for; others are dropped.
	AnthropicBetas []string `yaml:"anthropic_betas"`
	// AllowInsecureHTTP permits an http:// base URL on a non-loopback host.
	AllowInsecureHTTP bool  `yaml:"allow_insecure_http"`
	Mock              *Mock `yaml:"mock"`
}

// KeyRef is one provider key reference, written either as a plain string
// ("env:OPENAI_API_KEY") or as {ref: env:OPENAI_API_KEY, weight: 3}.
type KeyRef struct {
	Ref    string `yaml:"ref"`
	Weight int    `yaml:"weight"`
}

// UnmarshalYAML accepts the short and the long form.
func (k *KeyRef) UnmarshalYAML(unmarshal func(any) error) error {
	var r Ref
	if err := r.UnmarshalYAML(unmarshal); err == nil {
		*k = KeyRef{Ref: string(r)}
		return nil
	}
	type plain KeyRef
	var p plain
	if err := unmarshal(&p); err != nil {
		return fmt.Errorf("a key is a reference string or {ref, weight}: %w", err)
	}
	*k = KeyRef(p)
	return nil
}

func (*KeyRef) refForm() {}

// Ref is a secret reference as written in the file: "env:NAME" or
// "file:PATH".
type Ref string

// UnmarshalYAML accepts a reference string, and also the one-entry mapping
// {env: NAME} that some YAML parsers make of [env:NAME] inside a flow
// mapping such as {keys: [env:NAME]}.
func (r *Ref) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		*r = Ref(s)
		return nil
	}
	var m map[string]string
	if err := unmarshal(&m); err != nil || len(m) != 1 {
		return fmt.Errorf("must be a reference: env:NAME or file:PATH")
	}
	for k, v := range m {
		if k != "env" && k != "file" {
			return fmt.Errorf("must be a reference: env:NAME or file:PATH")
		}
		*r = Ref(k + ":" + v)
	}
	return nil
}

func (*Ref) refForm() {}

// refFormer marks types that accept a one-entry {env|file: X} mapping.
type refFormer interface{ refForm() }

// Mock configures the built-in mock provider: deterministic text, streaming
// shape, usage numbers and injectable errors, for demos and users' CI.
type Mock struct {
	// Text is the reply; by default a fixed sentence that names the model.
	Text string `yaml:"text"`
	// Chunks is how many content events a stream carries (default 5).
	Chunks int `yaml:"chunks"`
	// ChunkDelay is the pause between stream events.
	ChunkDelay time.Duration `yaml:"chunk_delay"`
	// PromptTokens and CompletionTokens override the reported usage
	// (by default estimated from the text, 4 characters a token).
	PromptTokens     int `yaml:"prompt_tokens"`
	CompletionTokens int `yaml:"completion_tokens"`
	// FailStatus with FailEvery makes every n-th request fail with that
	// status (FailEvery 1: every request).
	FailStatus int `yaml:"fail_status"`
	FailEvery  int `yaml:"fail_every"`
	// FailAfterChunks breaks streams after that many events with an error
	// event (0: never).
	FailAfterChunks int `yaml:"fail_after_chunks"`
	// Latency delays the response headers.
	Latency time.Duration `yaml:"latency"`
}

// Model is a name clients send as "model", resolved to targets tried in
// order on 429/5xx/connect errors.
type Model struct {
	Name    string   `yaml:"name"`
	Targets []Target `yaml:"targets"`
}

// Target is one provider and the model name sent to it (for Azure, the
// deployment name).
type Target struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
}

// Clients are the credentials callers present to keyward.
type Clients struct {
	// Keys are references to bearer keys accepted from callers.
	Keys []Ref `yaml:"keys"`
}

// Limits bound every request.
type Limits struct {
	MaxBodyBytes    int64 `yaml:"max_body_bytes"`
	MaxPromptChars  int   `yaml:"max_prompt_chars"`
	MaxOutputTokens int   `yaml:"max_output_tokens"`
	// OutputTokens says what happens to max_tokens & co. above the cap:
	// "clamp" (default) lowers them, "reject" answers 400.
	OutputTokens string `yaml:"output_tokens"`
	// MaxJSONDepth bounds nesting in request bodies.
	MaxJSONDepth int `yaml:"max_json_depth"`
	// MaxHeaderBytes bounds request headers.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
}

// Timeouts for clients and upstreams.
type Timeouts struct {
	// ReadHeader bounds how long a client may take to send its headers.
	ReadHeader time.Duration `yaml:"read_header"`
	// ReadBody bounds how long a client may take to send its body.
	ReadBody time.Duration `yaml:"read_body"`
	// Write bounds each write to a client (a client that stops reading).
	Write time.Duration `yaml:"write"`
	// Idle closes keep-alive connections with no request.
	Idle time.Duration `yaml:"idle"`
	// Connect bounds dialing and TLS with an upstream.
	Connect time.Duration `yaml:"connect"`
	// ResponseHeader bounds the wait for an upstream's response headers
	// (0: only Request applies; non-streaming completions can take minutes).
	ResponseHeader time.Duration `yaml:"response_header"`
	// StreamIdle ends a stream whose upstream sends nothing for this long.
	StreamIdle time.Duration `yaml:"stream_idle"`
	// Request bounds a whole request, streams included.
	Request time.Duration `yaml:"request"`
	// Shutdown is how long in-flight requests get to finish on exit.
	Shutdown time.Duration `yaml:"shutdown"`
}

// Retry bounds fallback across keys and targets.
type Retry struct {
	// MaxAttempts counts upstream attempts per request (default 3).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxRetryAfter caps how long keyward waits on an upstream Retry-After
	// before trying the same key again; longer waits are not retried.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
	// AuthCooldown is how long a key answered with 401/403 is left out.
	AuthCooldown time.Duration `yaml:"auth_cooldown"`
	// RateLimitCooldown is how long a key answered with 429 (and no
	// Retry-After) is left out.
	RateLimitCooldown time.Duration `yaml:"rate_limit_cooldown"`
}

// Pricing is one row of the price table, in USD per 1M tokens.
type Pricing struct {
	// Model is a provider model name (as sent upstream) or a configured
	// model name.
	Model  string  `yaml:"model"`
	Input  float64 `yaml:"input"`
	Output float64 `yaml:"output"`
	// CachedInput prices input read from the prompt cache (default: Input).
	CachedInput float64 `yaml:"cached_input"`
	// CacheWrite prices input written to the prompt cache (default: Input).
	CacheWrite float64 `yaml:"cache_write"`
	// CacheWrite1h prices input written to Anthropic's one-hour cache
	// (default: twice Input).
	CacheWrite1h float64 `yaml:"cache_write_1h"`
	// Reasoning marks a model that reasons before it answers by default:
	// a stream that ends early is charged its whole output cap.
	Reasoning bool `yaml:"reasoning"`
}

// Unpriced model policies.
const (
	UnpricedDeny = "deny"
	UnpricedZero = "zero"
)

// Usage configures usage records.
type Usage struct {
	// Retention is how long usage records are kept (default 2160h, 90 days).
	Retention time.Duration `yaml:"retention"`
	// PruneInterval is how often old records are deleted (default 1h).
	PruneInterval time.Duration `yaml:"prune_interval"`
	// QueueSize bounds the records waiting to be written, including while
	// the store fails and their batches are tried again (default 100000);
	// beyond it records are dropped, counted and logged.
	QueueSize int `yaml:"queue_size"`
	// BatchSize is how many records one write holds at most (default 500).
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the longest a record waits to be written (default 1s).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Unpriced decides what happens to a model with no price when a spend
	// cap applies: deny (default) refuses the request; zero lets it through
	// at zero cost. Without a spend cap it is recorded at zero cost and
	// logged once.
	Unpriced string `yaml:"unpriced"`
}

// Metrics configures the Prometheus endpoint. Its label values are closed
// sets and configured names only, so a scrape holds no secret and no user
// id; it does tell request volumes, models and costs.
type Metrics struct {
	// Disabled turns /metrics off.
	Disabled bool `yaml:"disabled"`
	// Listen serves /metrics on a separate address (bind it to a private
	// interface) instead of the API listener.
	Listen string `yaml:"listen"`
	// RequireAdminKey makes /metrics on the API listener answer admin
	// keys only (Prometheus: authorization.credentials).
	RequireAdminKey bool `yaml:"require_admin_key"`
}

// Log configures logging (always through the redacting handler).
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // json | text
}

// Reload configures hot reload.
type Reload struct {
	// PollInterval is how often file: secrets are checked for changes
	// (0 disables; SIGHUP always reloads).
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Default returns the configuration every file is layered on.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:8080",
		Limits: Limits{
			MaxBodyBytes:    1 << 20,
			MaxPromptChars:  200_000,
			MaxOutputTokens: 4096,
			OutputTokens:    OutputClamp,
			MaxJSONDepth:    64,
			MaxHeaderBytes:  64 << 10,
		},
		Timeouts: Timeouts{
			ReadHeader: 10 * time.Second,
			ReadBody:   30 * time.Second,
			Write:      60 * time.Second,
			Idle:       120 * time.Second,
			Connect:    10 * time.Second,
			StreamIdle: 120 * time.Second,
			Request:    10 * time.Minute,
			Shutdown:   30 * time.Second,
		},
		Retry: Retry{
			MaxAttempts:       3,
			MaxRetryAfter:     10 * time.Second,
			AuthCooldown:      5 * time.Minute,
			RateLimitCooldown: time.Second,
		},
		Log:    Log{Level: "info", Format: "json"},
		Reload: Reload{PollInterval: 2 * time.Second},
		Store:  Store{Driver: "sqlite", Path: "keyward.db", GracePeriod: 5 * time.Minute},
		Redis: Redis{Prefix: "kw:", LeaseTTL: 30 * time.Second, SpendLeaseTTL: 15 * time.Minute,
			OnFailure: RedisFailure{Rates: FailOpen, Concurrency: FailOpen, Spend: FailClosed}},
		Auth: Auth{
			BrowserTokens:   BrowserTokens{MaxTTL: 15 * time.Minute},
			FailedPerMinute: 20,
		},
		CORS: CORS{MaxAge: 10 * time.Minute},
		Usage: Usage{
			Retention:     90 * 24 * time.Hour,
			PruneInterval: time.Hour,
			QueueSize:     100_000,
			BatchSize:     500,
			FlushInterval: time.Second,
			Unpriced:      UnpricedDeny,
		},
	}
}

// Provider returns the provider with the given name.
func (c *Config) Provider(name string) (*Provider, bool) {
	for i := range c.Providers {
		if c.Providers[i].Name == name {
			return &c.Providers[i], true
		}
	}
	return nil, false
}

// DefaultBaseURL is the base URL a kind uses when none is configured ("" when
// the kind needs one).
func DefaultBaseURL(kind string) string {
	switch kind {
	case KindOpenAI:
		return "https://api.openai.com/v1"
	case KindAnthropic:
		return "https://api.anthropic.com/v1"
	}
	return ""
}
