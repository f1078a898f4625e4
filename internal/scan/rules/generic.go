package rules

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
)

// secretName matches the end of a secret-sounding name: api_key, apikey,
// secret, secret_key, token, password, passwd, pwd, credential(s), or
// private/access/auth/signing/encryption/master/service/client/admin/
// webhook + key, optionally followed by a plural "s" or an environment or
// encoding suffix (_prod, _live, _b64, …). Nothing else may follow, so
// tokenizer, secretName, token_url and max_tokens_used are not secret
// names. A bare "…_key" is not one either: public_key, cache_key, sort_key
// and partition_key hold high-entropy values that are not secrets.
const secretName = `(?i:(?:api[_.-]?key|apikey|secret(?:[_.-]?(?:access[_.-]?)?key)?|token|passw(?:or)?d|pwd|` +
	`(?:private|access|auth|signing|encryption|master|service|client|admin|webhook)[_.-]?key|credentials?)` +
	`(?:s|[_.-]?(?:base|value|prod|production|dev|development|live|test|staging|b64|base64|hex|raw))?)`

// genericRules returns the generic rules: high-entropy values assigned to
// secret-sounding names, quoted in code or unquoted in config files.
func genericRules() []*Rule {
	var rs []*Rule
	secret := fake("generic", base62, 32)
	hexSecret := fake("generic-hex", hexLower, 40)
	password := fake("generic-pw", base62+"!@%^*-_", 20)
	django := fake("generic-django", lowerNum+"!@#$%^&*(-_=+)", 50)

	genericFPs := []string{
		`const apiKey = process.env.OPENAI_API_KEY;`,
		`apiKey: process.env.ACME_API_KEY,`,
		`password: ${DB_PASSWORD}`,
		`DB_PASSWORD="${DB_PASSWORD}"`,
		`API_KEY=your-api-key-here`,
		`SECRET_KEY=changeme`,
		`token: <TOKEN>`,
		`"max_tokens": 4096`,
		`tokenizer: meta-llama/Llama-3.1-8B-Instruct`,
		`secretName: prod-db-credentials-2024`,
		`token_url: https://auth.example.test/oauth/token`,
		`GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`,
		`password = "********************"`,
		`SESSION_TOKEN=3f2b8c1e-9a4d-4f6b-8e2a-7c5d9b1e0f3a`,
		`"integrity": "sha512-` + fake("generic-fp-sri", base62+"+/", 86) + `=="`,
		`token: "sha256-` + fake("generic-fp-sri2", base62+"+/", 43) + `="`,
		`const token = crypto.randomBytes(32).toString("hex");`,
		`api_key = settings.providers.openai.api_key`,
		`CLERK_SECRET_KEY="sk_test_fake-secret-key-for-tests"`,
		`API_KEY=abcdefghijklmnopqrstuvwxyz`,
		`PASSWORD=correcthorsebatterystaple`, // no digit: words, too noisy to report generically
		`token = getToken(ctx, "` + secret + `")`,
		"\ttokens = 2*maxCompilerConcurrency + minTokens*cfg.BuildP",
		"\tconfig.Certificates[0].PrivateKey = testRSAPSS2048PrivateKey",
		"\t\tCredential: &syscall.Credential{",
		`throw new TypeError("cannot be constructed from a URL that includes credentials: "+A)}s=makeRequest({urlList:[t]});n="cors"`,
		`"encryptionKey": "encryptionKey1024",`,
		`{"public_key": "` + fake("generic-fp-pub", base62, 44) + `"}`,
		`cache_key = "` + hexSecret + `"`,
		"export PWD=/home/builder/pkg1/lighttpd-1.4.45/src", // the shell's working directory
		// A local development server's documented token: base64 of
		// {"UserID":"defaultUser","Password":"defaultPassword"}.
		`LOCAL_QUEUE_TOKEN: "` + base64.StdEncoding.EncodeToString([]byte(`{"UserID":"defaultUser","Password":"defaultPassword"}`)) + `"`,
		`OLDPWD="/var/lib/ci/workspace/2024-11/job-8812"`,
	}

	// High-entropy quoted values assigned to secret-sounding names (see
	// secretName): the catch-all for keys no provider rule knows, in any
	// syntax that quotes strings:
	//
	//	JS / TS        const apiKey = "…"    apiKey: "…"    apiKey:"…",
	//	               process.env.API_KEY ?? "…"           (the fallback is the value)
	//	JSON / YAML    "stripe_secret_key": "…"     api_token: '…'
	//	shell / .env   export DB_PASSWORD="…"
	//	HTML           data-api-key="…"
	//
	// The value is 16–200 characters without whitespace, and without ";",
	// braces or brackets, which no key alphabet uses but minified code
	// between two unrelated quotes does. Validate drops what is not a
	// secret (see plausibleSecret).
	rs = append(rs, &Rule{
		ID:          "generic-secret",
		Provider:    "Generic",
		Description: "High-entropy quoted value assigned to a secret-sounding name",
		Keywords:    []string{"key", "secret", "token", "passw", "pwd", "credential"},
		Regex: regexp.MustCompile(secretName + `\\?["'\x60]?\]?\s*(?:=>|:=|[=:]|\?\?|\|\|)\s*` +
			`(?:[\w$.]+\s*(?:\?\?|\|\|)\s*)?` + // process.env.X ?? "fallback"
			`\\?["'\x60](?P<secret>[^\s"'\x60\\<>;{}\[\]]{16,200})\\?["'\x60]`),
		Entropy:  3.5,
		Validate: plausibleSecret,
		Severity: Medium,
		TruePositives: []string{
			`export DB_PASSWORD="` + password + `"`,
			`const apiKey = "` + secret + `";`,
			`const client = createClient({ apiKey: process.env.ACME_API_KEY ?? "` + secret + `" });`,
			`settings = {apiKey:"` + secret + `",region:"eu"}`,
			`{"webhook_secret": "` + hexSecret + `", "enabled": true}`,
			`{"service_key": "` + secret + `"}`,
			`SECRET_KEY = '` + django + `'`,
			`<div id="app" data-auth-token="` + secret + `"></div>`,
			`"{\"access_token\":\"` + secret + `\"}"`,
			"database:\n  password: \"" + password + "\"\n",
		},
		FalsePositives: genericFPs,
	})

	// High-entropy unquoted values in configuration files: .env, shell,
	// YAML, INI (~/.aws/credentials, ~/.npmrc) and .properties, where a
	// value runs to the end of the line. The name must start the line (after
	// indentation, "export " or a YAML "- "; an .npmrc name is a registry
	// path, "//registry.npmjs.org/:_authToken"), and nothing but a comment may
	// follow the value: in code, an unquoted right-hand side is an
	// expression, not a secret.
	rs = append(rs, &Rule{
		ID:          "generic-config-secret",
		Provider:    "Generic",
		Description: "High-entropy value assigned to a secret-sounding name in a config file",
		Keywords:    []string{"key", "secret", "token", "passw", "pwd", "credential"},
		Regex: regexp.MustCompile(`(?m)^[ \t]*(?:export[ \t]+|-[ \t]+)?[\w.:/@-]{0,80}?` + secretName +
			`[ \t]*[=:][ \t]*(?P<secret>[^\s"'\x60#&(){}\[\]<>;,]{16,200})[ \t\r]*(?:#[^\n]*)?$`),
		// A log line carries the assignment anywhere in it ("401: API_SECRET=…").
		Redact: &Shape{
			Keywords: []string{"key", "secret", "token", "passw", "pwd", "credential"},
			Regex:    regexp.MustCompile(secretName + `[ \t]*[=:][ \t]*(?P<secret>[^\s"'\x60#&(){}\[\]<>;,]{16,})`),
		},
		Entropy:  3.5,
		Validate: plausibleSecret,
		Severity: Medium,
		TruePositives: []string{
			"API_SECRET=" + secret,
			"export STRIPE_WEBHOOK_SECRET=" + secret + "  # rotate quarterly",
			"database:\n  password: " + password + "\n  pool: 5\n",
			"SECRET_KEY_BASE=" + hexSecret,
			"spring.datasource.password=" + password,
			"[default]\r\nsigning_key = " + secret + "\r\n",
			"//registry.npmjs.org/:_authToken=" + secret,
		},
		FalsePositives: genericFPs,
	})
	return rs
}

var (
	// refRE is a dotted identifier path: process.env.KEY, config.api.key.
	refRE = regexp.MustCompile(`^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$`)
	// uuidRE is a UUID (or its URN), which is an identifier more often than a secret.
	uuidRE = regexp.MustCompile(`^(?:urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// sriRE is a subresource-integrity digest (package-lock.json, <script integrity>).
	sriRE = regexp.MustCompile(`^sha(?:1|256|384|512)-`)
)

// fixtureWords mark values that are not random: ones that say they are
// fake, and ones that repeat a secret word, like "encryptionKey1024" or
// "my-api-token-2024" (a random value contains such a word by chance about
// once in a thousand).
var fixtureWords = []string{"fake", "notreal", "not-real", "not_real", "not-a-real", "not_a_real", "do-not-use", "dontuse",
	"key", "secret", "token", "passw"}

// plausibleSecret filters the generic rules' candidates. It drops what is
// code rather than a value ($VAR, ${VAR}, process.env.X, a dotted path),
// identifiers (UUIDs, words joined by "_"), subresource-integrity digests,
// fixtures (values that say they are fake, or repeat a secret word, or are
// base64 of a phrase), and values with neither a digit nor mixed case with
// symbols.
func plausibleSecret(s string) bool {
	if strings.HasPrefix(s, "$") || refRE.MatchString(s) || uuidRE.MatchString(s) || sriRE.MatchString(s) || filePath(s) {
		return false
	}
	lower := strings.ToLower(s)
	for _, w := range fixtureWords {
		if strings.Contains(lower, w) {
			return false
		}
	}
	if wordy(s) || encodedProse(s) {
		return false
	}
	// Random secrets have digits, or mix cases with symbols (passwords);
	// words joined by "-", "_" or camelCase have neither.
	if !strings.ContainsFunc(s, isUpper) && !strings.ContainsFunc(s, isLower) {
		return false
	}
	return strings.ContainsFunc(s, isDigit) ||
		mixedCase(s) && strings.ContainsFunc(s, func(r rune) bool { return strings.ContainsRune("!#$%&*+/=?@^~", r) })
}

// filePath reports whether s is a file system path ("/home/u/src",
// "./build/out", "~/.config/x"): the shell's PWD and OLDPWD, a build
// script's directories. A password that starts with "/" and has more
// slashes is rare; a path assigned to PWD is everywhere.
func filePath(s string) bool {
	for _, p := range []string{"/", "./", "../", "~/"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return strings.Count(rest, "/") >= 1 && !strings.HasPrefix(rest, "/")
		}
	}
	return false
}

// wordy reports whether s is lower-case words joined by "_", "-" or ".",
// like "s3_disable_express_session_auth": a name, not a secret.
func wordy(s string) bool {
	if strings.ContainsFunc(s, isUpper) {
		return false
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	if len(parts) < 3 {
		return false
	}
	for _, p := range parts {
		if len(p) > 12 || strings.TrimLeft(p, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return false
		}
	}
	return true
}

// encodedProse reports whether s is base64 of an English phrase, as test
// fixtures write "this is not a real value", or of text that says it is a
// stand-in ({"UserID":"defaultUser","Password":"defaultPassword"}, a local
// development server's documented token): a real key decodes to bytes.
func encodedProse(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if bytes.IndexFunc(b, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
			return false
		}
		lower := bytes.ToLower(b)
		return bytes.Count(b, []byte(" ")) >= 2 || slices.ContainsFunc(standInWords, func(w string) bool { return bytes.Contains(lower, []byte(w)) })
	}
	return false
}

// standInWords mark decoded text as a stand-in for a secret.
var standInWords = []string{"default", "dummy", "example", "fake", "placeholder", "sample", "changeme", "notreal", "not-real", "xxxx"}
