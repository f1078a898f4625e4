package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/secret"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)

// betaRE is the shape of an anthropic-beta value ("name-2025-05-14"), or "*".
var betaRE = regexp.MustCompile(`^(?:\*|[a-z0-9][a-z0-9-]{0,80}-\d{4}-\d{2}-\d{2})$`)

// Validate checks a configuration and returns every problem in one *Error.
func (c Config) Validate() error {
	if probs := c.validate(); len(probs) > 0 {
		return &Error{Problems: probs}
	}
	return nil
}

type problems []Problem

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c Config) validate() []Problem {
	var p problems
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		p.add("listen", "must be host:port (for example 127.0.0.1:8080)")
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add("listen", "port must be a number from 0 to 65535")
	}

	if len(c.Providers) == 0 {
		p.add("providers", "at least one provider is required")
	}
	seen := map[string]bool{}
	for i, pr := range c.Providers {
		path := fmt.Sprintf("providers[%d]", i)
		pr.validate(path, &p)
		if pr.Name != "" {
			if seen[pr.Name] {
				p.add(path+".name", "duplicate provider name %q", pr.Name)
			}
			seen[pr.Name] = true
		}
	}

	if len(c.Models) == 0 {
		p.add("models", "at least one model is required")
	}
	seenModel := map[string]bool{}
	for i, m := range c.Models {
		path := fmt.Sprintf("models[%d]", i)
		switch {
		case m.Name == "":
			p.add(path+".name", "is required")
		case !nameRE.MatchString(m.Name):
			p.add(path+".name", "must be 1-128 characters of letters, digits and . _ : / -")
		case seenModel[m.Name]:
			p.add(path+".name", "duplicate model name %q", m.Name)
		}
		seenModel[m.Name] = true
		if len(m.Targets) == 0 {
			p.add(path+".targets", "at least one target is required")
		}
		for j, t := range m.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", path, j)
			if t.Provider == "" {
				p.add(tp+".provider", "is required")
			} else if _, ok := c.Provider(t.Provider); !ok {
				p.add(tp+".provider", "no provider is named %q%s", t.Provider, didYouMean(t.Provider, c.providerNames()))
			}
			if t.Model == "" {
				p.add(tp+".model", "is required")
			} else if !nameRE.MatchString(t.Model) {
				p.add(tp+".model", "must be 1-128 characters of letters, digits and . _ : / -")
			}
		}
	}

	for i, ref := range c.Clients.Keys {
		if _, err := secret.ParseRef(string(ref)); err != nil {
			p.add(fmt.Sprintf("clients.keys[%d]", i), "%v", err)
		}
	}

	l := c.Limits
	positive := func(path string, v int64) {
		if v <= 0 {
			p.add(path, "must be greater than 0")
		}
	}
	positive("limits.max_body_bytes", l.MaxBodyBytes)
	positive("limits.max_prompt_chars", int64(l.MaxPromptChars))
	positive("limits.max_output_tokens", int64(l.MaxOutputTokens))
	positive("limits.max_json_depth", int64(l.MaxJSONDepth))
	if l.MaxHeaderBytes < 4096 {
		p.add("limits.max_header_bytes", "must be at least 4096")
	}
	p.oneOf("limits.output_tokens", l.OutputTokens, OutputModes)

	t := c.Timeouts
	for _, d := range []struct {
		path string
		v    time.Duration
		zero bool // 0 allowed (off)
	}{
		{"timeouts.read_header", t.ReadHeader, false},
		{"timeouts.read_body", t.ReadBody, false},
		{"timeouts.write", t.Write, false},
		{"timeouts.idle", t.Idle, false},
		{"timeouts.connect", t.Connect, false},
		{"timeouts.response_header", t.ResponseHeader, true},
		{"timeouts.stream_idle", t.StreamIdle, false},
		{"timeouts.request", t.Request, false},
		{"timeouts.shutdown", t.Shutdown, true},
	} {
		if d.v < 0 || d.v == 0 && !d.zero {
			p.add(d.path, "must be a positive duration such as 30s")
		}
	}

	r := c.Retry
	if r.MaxAttempts < 1 || r.MaxAttempts > 10 {
		p.add("retry.max_attempts", "must be from 1 to 10")
	}
	if r.MaxRetryAfter < 0 {
		p.add("retry.max_retry_after", "must not be negative")
	}
	if r.AuthCooldown < 0 {
		p.add("retry.auth_cooldown", "must not be negative")
	}
	if r.RateLimitCooldown < 0 {
		p.add("retry.rate_limit_cooldown", "must not be negative")
	}

	p.oneOf("log.level", c.Log.Level, LogLevels)
	p.oneOf("log.format", c.Log.Format, LogFormats)
	if c.Reload.PollInterval < 0 {
		p.add("reload.poll_interval", "must not be negative (0 turns polling off)")
	}
	c.validateAccess(&p)
	return p
}

// StorePostgres is the store driver replicas share.
const StorePostgres = "postgres"

// What a kind of limit does while Redis fails.
const (
	FailOpen   = "fail_open"
	FailClosed = "fail_closed"
)

// FailurePolicies are the values of redis.on_failure.*.
var FailurePolicies = []string{FailOpen, FailClosed}

// JWTAlgorithms are the signing algorithms an issuer may allow.
var JWTAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}

func (c Config) validateAccess(p *problems) {
	p.oneOf("store.driver", c.Store.Driver, StoreDrivers)
	checkRef := func(path string, r Ref, required bool) {
		if r == "" {
			if required {
				p.add(path, "is required (env:NAME or file:PATH)")
			}
			return
		}
		if _, err := secret.ParseRef(string(r)); err != nil {
			p.add(path, "%v", err)
		}
	}
	switch c.Store.Driver {
	case StorePostgres:
		checkRef("store.dsn", c.Store.DSN, true)
	default:
		if c.Store.Path == "" {
			p.add("store.path", "is required")
		}
		if c.Store.DSN != "" {
			p.add("store.dsn", "is for driver postgres; the sqlite store is store.path")
		}
	}
	if c.Store.MaxConns < 0 || c.Store.MaxConns > 1000 {
		p.add("store.max_conns", "must be from 0 (the default, 10) to 1000")
	}
	if c.Store.GracePeriod < 0 || c.Store.GracePeriod > 24*time.Hour {
		p.add("store.grace_period", "must be from 0 (no grace: requests that need the store fail while it does) to 24h")
	}
	checkRef("redis.url", c.Redis.URL, false)
	p.oneOf("redis.on_failure.rates", c.Redis.OnFailure.Rates, FailurePolicies)
	p.oneOf("redis.on_failure.concurrency", c.Redis.OnFailure.Concurrency, FailurePolicies)
	p.oneOf("redis.on_failure.spend", c.Redis.OnFailure.Spend, FailurePolicies)
	if c.Redis.Prefix == "" || len(c.Redis.Prefix) > 64 || strings.ContainsAny(c.Redis.Prefix, " \t\r\n") {
		p.add("redis.prefix", "must be 1-64 characters without white space")
	}
	if c.Redis.LeaseTTL < time.Second || c.Redis.LeaseTTL > 10*time.Minute {
		p.add("redis.lease_ttl", "must be from 1s to 10m")
	}
	if c.Redis.SpendLeaseTTL < time.Minute || c.Redis.SpendLeaseTTL > 24*time.Hour {
		p.add("redis.spend_lease_ttl", "must be from 1m to 24h")
	} else if c.Redis.URL != "" && (c.Timeouts.Request == 0 || c.Redis.SpendLeaseTTL <= c.Timeouts.Request) {
		p.add("redis.spend_lease_ttl", "must be longer than timeouts.request (%s): a reservation must outlive the longest request", c.Timeouts.Request)
	}
	a := c.Auth
	checkRef("auth.pepper", a.Pepper, false)
	for i, r := range a.AdminKeys {
		checkRef(fmt.Sprintf("auth.admin_keys[%d]", i), r, true)
	}
	planExists := func(path, name string) {
		if name == "" {
			return
		}
		if _, ok := c.Plan(name); !ok {
			p.add(path, "no plan is named %q%s", name, didYouMean(name, c.planNames()))
		}
	}
	planExists("auth.default_plan", a.DefaultPlan)
	planExists("auth.asserted_users.plan", a.AssertedUsers.Plan)
	if a.FailedPerMinute < 1 {
		p.add("auth.failed_per_minute", "must be at least 1")
	}
	issuers := map[string]bool{}
	for i, j := range a.JWT {
		path := fmt.Sprintf("auth.jwt[%d]", i)
		if j.Issuer == "" {
			p.add(path+".issuer", "is required")
		} else if issuers[j.Issuer] {
			p.add(path+".issuer", "duplicate issuer %q", j.Issuer)
		}
		issuers[j.Issuer] = true
		switch {
		case j.JWKSURL == "" && j.Secret == "":
			p.add(path, "needs jwks_url or secret")
		case j.JWKSURL != "" && j.Secret != "":
			p.add(path, "give jwks_url or secret, not both")
		case j.JWKSURL != "":
			if msg := checkBaseURL(j.JWKSURL, false); msg != "" && !strings.Contains(msg, "query") {
				p.add(path+".jwks_url", "%s", msg)
			}
		}
		checkRef(path+".secret", j.Secret, false)
		if len(j.Algorithms) == 0 {
			p.add(path+".algorithms", "list the algorithms the issuer signs with (for example [RS256])")
		}
		for k, alg := range j.Algorithms {
			ap := fmt.Sprintf("%s.algorithms[%d]", path, k)
			switch {
			case !slices.Contains(JWTAlgorithms, alg):
				p.oneOf(ap, alg, JWTAlgorithms)
			case strings.HasPrefix(alg, "HS") && j.JWKSURL != "":
				p.add(ap, "HMAC algorithms cannot be used with a JWKS (algorithm confusion); use secret:")
			case !strings.HasPrefix(alg, "HS") && j.Secret != "":
				p.add(ap, "an HMAC secret only verifies HS256/HS384/HS512")
			}
		}
		planExists(path+".default_plan", j.DefaultPlan)
		if j.Leeway < 0 || j.Leeway > 5*time.Minute {
			p.add(path+".leeway", "must be from 0 to 5m")
		}
	}
	bt := a.BrowserTokens
	checkRef("auth.browser_tokens.signing_key", bt.SigningKey, false)
	for i, r := range bt.VerificationKeys {
		checkRef(fmt.Sprintf("auth.browser_tokens.verification_keys[%d]", i), r, true)
	}
	if bt.MaxTTL <= 0 || bt.MaxTTL > 15*time.Minute {
		p.add("auth.browser_tokens.max_ttl", "must be from 1s to 15m")
	}
	names := map[string]bool{}
	for i, is := range bt.Issuers {
		path := fmt.Sprintf("auth.browser_tokens.issuers[%d]", i)
		if is.Name == "" || is.Name == "keyward" || names[is.Name] {
			p.add(path+".name", "must be unique, non-empty and not \"keyward\"")
		}
		names[is.Name] = true
		checkRef(path+".public_key", is.PublicKey, true)
		planExists(path+".plan", is.Plan)
	}

	planNames := map[string]bool{}
	for i, pl := range c.Plans {
		path := fmt.Sprintf("plans[%d]", i)
		if pl.Name == "" || !nameRE.MatchString(pl.Name) {
			p.add(path+".name", "is required: letters, digits and . _ : / -")
		} else if planNames[pl.Name] {
			p.add(path+".name", "duplicate plan name %q", pl.Name)
		}
		planNames[pl.Name] = true
		for j, m := range pl.Models {
			if !slices.ContainsFunc(c.Models, func(x Model) bool { return x.Name == m }) {
				p.add(fmt.Sprintf("%s.models[%d]", path, j), "no model is named %q%s", m, didYouMean(m, c.modelNames()))
			}
		}
		for j, r := range pl.Routes {
			p.oneOf(fmt.Sprintf("%s.routes[%d]", path, j), r, RouteNames)
		}
		if pl.MaxOutputTokens < 0 || pl.MaxPromptChars < 0 || pl.MaxBodyBytes < 0 || pl.RPM < 0 || pl.RPD < 0 || pl.TPM < 0 || pl.Concurrency < 0 {
			p.add(path, "limits must not be negative")
		}
		if pl.Spend != nil && (pl.Spend.DailyUSD < 0 || pl.Spend.MonthlyUSD < 0) {
			p.add(path+".spend", "must not be negative")
		}
	}

	c.validateUsage(p)

	for i, o := range c.CORS.AllowedOrigins {
		if !ValidOrigin(o) {
			p.add(fmt.Sprintf("cors.allowed_origins[%d]", i), "must be an origin such as https://app.example.com (scheme and host, no path; * is not allowed)")
		}
	}
	if c.CORS.MaxAge < 0 || c.CORS.MaxAge > 24*time.Hour {
		p.add("cors.max_age", "must be from 0 to 24h")
	}
}

// ValidOrigin accepts scheme://host[:port] with nothing else (a trailing
// slash is tolerated).
func ValidOrigin(o string) bool {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return false
	}
	return strings.TrimSuffix(o, "/") == u.Scheme+"://"+u.Host && !strings.Contains(u.Host, "*")
}

func (pr Provider) validate(path string, p *problems) {
	if pr.Name == "" {
		p.add(path+".name", "is required")
	} else if !nameRE.MatchString(pr.Name) {
		p.add(path+".name", "must be 1-128 characters of letters, digits and . _ : / -")
	}
	if !slices.Contains(Kinds, pr.Kind) {
		p.oneOf(path+".kind", pr.Kind, Kinds)
		return
	}
	if pr.Kind == KindMock {
		if pr.BaseURL != "" {
			p.add(path+".base_url", "the mock provider has no base URL")
		}
	} else {
		base := pr.BaseURL
		if base == "" {
			base = DefaultBaseURL(pr.Kind)
		}
		if base == "" {
			p.add(path+".base_url", "is required for kind %s", pr.Kind)
		} else if msg := checkBaseURL(base, pr.AllowInsecureHTTP); msg != "" {
			p.add(path+".base_url", "%s", msg)
		}
		if len(pr.Keys) == 0 {
			p.add(path+".keys", "at least one key reference is required (env:NAME or file:PATH)")
		}
	}
	for i, k := range pr.Keys {
		kp := fmt.Sprintf("%s.keys[%d]", path, i)
		if _, err := secret.ParseRef(k.Ref); err != nil {
			p.add(kp, "%v", err)
		}
		if k.Weight < 0 || k.Weight > 1000 {
			p.add(kp+".weight", "must be from 0 to 1000")
		}
	}
	if pr.KeyStrategy != "" {
		p.oneOf(path+".key_strategy", pr.KeyStrategy, KeyStrategies)
	}
	if pr.APIVersion != "" && pr.Kind != KindAzureOpenAI {
		p.add(path+".api_version", "applies to kind azure-openai only")
	}
	if pr.Kind != KindAnthropic && (pr.AnthropicVersion != "" || len(pr.AnthropicBetas) > 0) {
		p.add(path, "anthropic_version and anthropic_betas apply to kind anthropic only")
	}
	for i, b := range pr.AnthropicBetas {
		if !betaRE.MatchString(b) {
			p.add(fmt.Sprintf("%s.anthropic_betas[%d]", path, i), "must look like name-YYYY-MM-DD, or be *")
		}
	}
	if pr.Mock != nil {
		if pr.Kind != KindMock {
			p.add(path+".mock", "applies to kind mock only")
		}
		m := pr.Mock
		if m.Chunks < 0 || m.Chunks > 10000 {
			p.add(path+".mock.chunks", "must be from 0 to 10000")
		}
		if m.FailStatus != 0 && (m.FailStatus < 400 || m.FailStatus > 599) {
			p.add(path+".mock.fail_status", "must be an HTTP error status (400-599)")
		}
		if m.FailEvery < 0 || m.FailAfterChunks < 0 || m.ChunkDelay < 0 || m.Latency < 0 || m.PromptTokens < 0 || m.CompletionTokens < 0 {
			p.add(path+".mock", "numbers and durations must not be negative")
		}
	}
}

// checkBaseURL returns what is wrong with an upstream base URL, or "".
func checkBaseURL(raw string, allowHTTP bool) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "must be an absolute URL such as https://api.example.com/v1"
	}
	if u.User != nil {
		return "must not contain credentials; use keys: references"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "must not contain a query or fragment"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !IsLoopbackHost(u.Hostname()) {
			return "must use https (http is allowed for loopback hosts, or with allow_insecure_http: true)"
		}
	default:
		return "scheme must be https"
	}
	return ""
}

// IsLoopbackHost reports whether host names the local machine.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) validateUsage(p *problems) {
	seen := map[string]bool{}
	for i, pr := range c.Pricing {
		path := fmt.Sprintf("pricing[%d]", i)
		switch {
		case strings.TrimSpace(pr.Model) == "":
			p.add(path+".model", "is required")
		case seen[strings.ToLower(pr.Model)]:
			p.add(path+".model", "duplicate price for %q", pr.Model)
		}
		seen[strings.ToLower(pr.Model)] = true
		for _, f := range []struct {
			name string
			v    float64
		}{{"input", pr.Input}, {"output", pr.Output}, {"cached_input", pr.CachedInput}, {"cache_write", pr.CacheWrite}, {"cache_write_1h", pr.CacheWrite1h}} {
			if f.v < 0 || f.v > 1e6 || f.v != f.v {
				p.add(path+"."+f.name, "must be a price in USD per 1M tokens, from 0 to 1000000")
			}
		}
	}
	u := c.Usage
	if u.Retention < time.Hour {
		p.add("usage.retention", "must be at least 1h (for example 2160h for 90 days)")
	}
	for _, pl := range c.Plans {
		if pl.Spend != nil && pl.Spend.MonthlyUSD > 0 && u.Retention < MonthlyRetention {
			p.add("usage.retention", "must be at least %s when a plan has a monthly spend cap (plan %q): a restarted keyward reads the month's spend from the records", MonthlyRetention, pl.Name)
			break
		}
	}
	if u.PruneInterval < time.Minute {
		p.add("usage.prune_interval", "must be at least 1m")
	}
	if u.QueueSize < 1 || u.QueueSize > 10_000_000 {
		p.add("usage.queue_size", "must be from 1 to 10000000")
	}
	if u.BatchSize < 1 || u.BatchSize > 10_000 {
		p.add("usage.batch_size", "must be from 1 to 10000")
	}
	if u.FlushInterval < time.Millisecond || u.FlushInterval > time.Minute {
		p.add("usage.flush_interval", "must be from 1ms to 1m")
	}
	p.oneOf("usage.unpriced", u.Unpriced, UnpricedPolicies)
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			p.add("metrics.listen", "must be host:port (for example 127.0.0.1:9464)")
		}
	}
	for i, tp := range c.TrustedProxies {
		if _, err := ParsePrefix(tp); err != nil {
			p.add(fmt.Sprintf("trusted_proxies[%d]", i), "must be an IP address or a CIDR such as 10.0.0.0/8")
		}
	}
}

// MonthlyRetention is the shortest usage retention that keeps a whole
// month's records, which monthly spend caps are read back from.
const MonthlyRetention = 32 * 24 * time.Hour

// ParsePrefix reads a CIDR or a single address (as a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		return pf.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// The allowed values of the enumerated fields that have no list elsewhere
// (Kinds, RouteNames and JWTAlgorithms are the others).
var (
	KeyStrategies    = []string{StrategyRoundRobin, StrategyWeighted}
	OutputModes      = []string{OutputClamp, OutputReject}
	LogLevels        = []string{"debug", "info", "warn", "error"}
	LogFormats       = []string{"json", "text"}
	StoreDrivers     = []string{"sqlite", StorePostgres}
	UnpricedPolicies = []string{UnpricedDeny, UnpricedZero}
)

// Enumerations maps every enumerated field, by its YAML path ("[]" for any
// index), to the values it allows. Validation reports a value outside them
// by name, with the closest allowed value.
var Enumerations = map[string][]string{
	"providers[].kind":             Kinds,
	"providers[].key_strategy":     KeyStrategies,
	"limits.output_tokens":         OutputModes,
	"log.level":                    LogLevels,
	"log.format":                   LogFormats,
	"store.driver":                 StoreDrivers,
	"redis.on_failure.rates":       FailurePolicies,
	"redis.on_failure.concurrency": FailurePolicies,
	"redis.on_failure.spend":       FailurePolicies,
	"usage.unpriced":               UnpricedPolicies,
	"plans[].routes[]":             RouteNames,
	"auth.jwt[].algorithms[]":      JWTAlgorithms,
}

// oneOf reports v when it is not one of allowed, naming v (when it is safe
// to print), every allowed value and the closest one:
//
//	providers[0].kind: "opnai" is not one of openai, …, mock; did you mean "openai"?
func (p *problems) oneOf(path, v string, allowed []string) {
	if slices.Contains(allowed, v) {
		return
	}
	list := strings.Join(allowed, ", ")
	if strings.TrimSpace(v) == "" {
		p.add(path, "is required: one of %s", list)
		return
	}
	what := "the value"
	if printable(v) {
		what = strconv.Quote(v)
	}
	var msg string
	if len(allowed) == 1 {
		msg = fmt.Sprintf("must be %s, not %s", allowed[0], what)
	} else {
		msg = fmt.Sprintf("%s is not one of %s", what, list)
	}
	if strings.EqualFold(strings.TrimSpace(v), "none") && slices.Equal(allowed, JWTAlgorithms) {
		msg += " (never none: tokens must be signed)"
	}
	if s := closest(v, allowed); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	p.add(path, "%s", msg)
}

// printable reports whether a rejected value may be quoted in a message:
// short, plain ASCII and not shaped like a key. Anything else — a secret
// pasted into the wrong field, say — is not repeated.
func printable(v string) bool {
	if len(v) > 32 || redact.ScrubPatterns(v) != v {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] > '~' {
			return false
		}
	}
	return true
}

// closest returns the allowed value v most likely stands for, or "": the
// same but for case and separators, within one or two edits (a typo or a
// swapped pair), or the one allowed value it is a prefix of (or that is a
// prefix of it).
func closest(v string, allowed []string) string {
	norm := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch r {
			case '-', '_', ' ', '.':
				return -1
			}
			return unicode.ToLower(r)
		}, s)
	}
	nv := norm(v)
	if nv == "" {
		return ""
	}
	best, bestD := "", -1
	for _, a := range allowed {
		na := norm(a)
		if na == nv {
			return a
		}
		if d := editDistance(nv, na); bestD < 0 || d < bestD {
			best, bestD = a, d
		}
	}
	limit := 1
	if len(nv) >= 5 {
		limit = 2
	}
	if bestD >= 0 && bestD <= limit {
		return best
	}
	var prefixed []string
	for _, a := range allowed {
		na := norm(a)
		if len(nv) >= 3 && strings.HasPrefix(na, nv) || len(na) >= 3 && strings.HasPrefix(nv, na) {
			prefixed = append(prefixed, a)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb))
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// didYouMean suggests the configured name v most likely stands for ("" if
// none is close).
func didYouMean(v string, names []string) string {
	if s := closest(v, names); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

func (c Config) providerNames() []string {
	out := make([]string, 0, len(c.Providers))
	for _, p := range c.Providers {
		out = append(out, p.Name)
	}
	return out
}

func (c Config) modelNames() []string {
	out := make([]string, 0, len(c.Models))
	for _, m := range c.Models {
		out = append(out, m.Name)
	}
	return out
}

func (c Config) planNames() []string {
	out := make([]string, 0, len(c.Plans))
	for _, p := range c.Plans {
		out = append(out, p.Name)
	}
	return out
}
