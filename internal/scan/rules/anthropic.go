package rules

// anthropicRules returns Anthropic's rules, in report order.
func anthropicRules() []*Rule {
	var rs []*Rule
	// Any Anthropic key, of a type known or not, cut short or not: the
	// redactor's shape for all three rules.
	anyAnthropic := loose(`sk-ant-[a-z0-9]+-[A-Za-z0-9_-]{20,}`, "sk-ant-")
	apiKey := "sk-ant-api03-" + fake("anthropic-api", base64u, 93) + "AA"
	adminKey := "sk-ant-admin01-" + fake("anthropic-admin", base64u, 93) + "AA"
	oauth := "sk-ant-oat01-" + fake("anthropic-oauth", base64u, 93) + "AA"

	notAnthropic := []string{
		`ANTHROPIC_API_KEY=sk-ant-...`,
		`ANTHROPIC_API_KEY=sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
		`const anthropic = new Anthropic({ apiKey: process.env.ANTHROPIC_API_KEY });`,
		`ANTHROPIC_API_KEY="<your-anthropic-key>"`,
		"OPENAI_API_KEY=sk-proj-" + fake("anthropic-fp-openai", base64u, 74) + "T3BlbkFJ" + fake("anthropic-fp-openai-2", base64u, 74),
		"task-ant-api03-" + fake("anthropic-fp-task", base64u, 93) + "AA",
	}

	// Anthropic API keys: sk-ant-api03-<93 [A-Za-z0-9_-]>AA, 108
	// characters; the version digits are matched loosely (api\d\d) so a
	// future api04 is not missed.
	// Verified: gitleaks/gitleaks cmd/generate/config/rules/anthropic.go,
	// trufflesecurity/trufflehog pkg/detectors/anthropic/anthropic.go,
	// mongodb/kingfisher data/rules/anthropic.yml.
	rs = append(rs, &Rule{
		ID:          "anthropic-api-key",
		Provider:    "Anthropic",
		Description: "Anthropic API key",
		Keywords:    []string{"sk-ant-api"},
		Regex:       token(`sk-ant-api\d{2}-[A-Za-z0-9_-]{93}AA`, afterDash),
		Redact:      anyAnthropic,
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("ANTHROPIC_API_KEY", apiKey),
			`client = anthropic.Anthropic(api_key="`+apiKey+`")`,
			`curl https://api.anthropic.com/v1/messages -H "x-api-key: `+apiKey+`"`,
		),
		FalsePositives: append(notAnthropic,
			"sk-ant-api03-"+fake("anthropic-fp-short", base64u, 92)+"AA",  // one short
			"sk-ant-api03-"+fake("anthropic-fp-suffix", base64u, 93)+"BB", // keys end in AA
			adminKey, // reported by anthropic-admin-key
		),
	})

	// Anthropic Admin API keys (workspaces, members, keys):
	// sk-ant-admin01-<93 [A-Za-z0-9_-]>AA.
	// Verified: gitleaks/gitleaks cmd/generate/config/rules/anthropic.go,
	// trufflesecurity/trufflehog pkg/detectors/anthropic/anthropic.go.
	rs = append(rs, &Rule{
		ID:          "anthropic-admin-key",
		Provider:    "Anthropic",
		Description: "Anthropic Admin API key",
		Keywords:    []string{"sk-ant-admin"},
		Regex:       token(`sk-ant-admin\d{2}-[A-Za-z0-9_-]{93}AA`, afterDash),
		Redact:      anyAnthropic,
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: []string{
			"ANTHROPIC_ADMIN_KEY=" + adminKey,
			`curl https://api.anthropic.com/v1/organizations/users -H "x-api-key: ` + adminKey + `"`,
			`{"admin_key": "` + adminKey + `"}`,
			`adminKey:"` + adminKey + `",`,
		},
		FalsePositives: append(notAnthropic,
			apiKey, // reported by anthropic-api-key
			"sk-ant-admin01-"+fake("anthropic-fp-admin-short", base64u, 90)+"AA",
		),
	})

	// Claude OAuth tokens (Claude Code "setup-token" and subscription
	// logins): sk-ant-oat01-… (access) and sk-ant-ort01-… (refresh). The
	// prefixes are confirmed by public Claude Code integrations; the body
	// length is not documented, so a generous 80–160 is accepted (the
	// prefix alone is distinctive).
	rs = append(rs, &Rule{
		ID:          "anthropic-oauth-token",
		Provider:    "Anthropic",
		Description: "Anthropic (Claude) OAuth access or refresh token",
		Keywords:    []string{"sk-ant-oat", "sk-ant-ort"},
		Regex:       token(`sk-ant-o[ar]t\d{2}-[A-Za-z0-9_-]{80,160}`, afterDash),
		Redact:      anyAnthropic,
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: []string{
			"CLAUDE_CODE_OAUTH_TOKEN=" + oauth,
			`{"claudeAiOauth":{"accessToken":"` + oauth + `","expiresAt":1767225600000}}`,
			"Authorization: Bearer " + oauth,
		},
		FalsePositives: append(notAnthropic,
			"CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-...",
			"CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-TEST_SETUP_TOKEN",
			apiKey,
		),
	})
	return rs
}
