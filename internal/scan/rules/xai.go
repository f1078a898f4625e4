package rules

// xaiRules returns xAI's rules, in report order.
func xaiRules() []*Rule {
	var rs []*Rule
	// Any xAI key, API or management, cut short or not.
	anyXAI := loose(`xai-[A-Za-z0-9_-]{20,}`, "xai-")
	key := "xai-" + fake("xai", base62, 80)
	mgmt := "xai-token-" + fake("xai-mgmt", base62, 80)

	// xAI (Grok) API keys: xai- + 80 [A-Za-z0-9], 84 characters ("_" is
	// accepted too, as some detectors allow it).
	// Verified: google/osv-scalibr veles/secrets/grokxaiapikey/detector.go,
	// trufflesecurity/trufflehog pkg/detectors/xai/xai.go.
	rs = append(rs, &Rule{
		ID:          "xai-api-key",
		Provider:    "xAI",
		Description: "xAI (Grok) API key",
		Keywords:    []string{"xai-"},
		Regex:       token(`xai-[A-Za-z0-9_]{80}`, `\b`),
		Redact:      anyXAI,
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("XAI_API_KEY", key),
			`client = Client(api_key="`+key+`")  # xAI SDK`,
		),
		FalsePositives: []string{
			`XAI_API_KEY=xai-...`,
			`XAI_API_KEY=xai-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"xai-" + fake("xai-fp-short", base62, 79),
			"xai-" + fake("xai-fp-long", base62, 81),
			"@ai-sdk/xai-" + fake("xai-fp-pkg", lowerAZ, 12),
			mgmt, // reported by xai-management-key
		},
	})

	// xAI management API keys (team, billing and key administration):
	// xai-token- + 80 [A-Za-z0-9].
	// Verified: google/osv-scalibr veles/secrets/grokxaiapikey/detector.go.
	rs = append(rs, &Rule{
		ID:          "xai-management-key",
		Provider:    "xAI",
		Description: "xAI management API key",
		Keywords:    []string{"xai-token-"},
		Regex:       token(`xai-token-[A-Za-z0-9_]{80}`, `\b`),
		Redact:      anyXAI,
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: []string{
			"XAI_MANAGEMENT_KEY=" + mgmt,
			`curl https://management-api.x.ai/auth/teams -H "Authorization: Bearer ` + mgmt + `"`,
			`{"management_key":"` + mgmt + `"}`,
		},
		FalsePositives: []string{
			`XAI_MANAGEMENT_KEY=xai-token-...`,
			key,
			"xai-token-" + fake("xai-fp-mgmt-short", base62, 60),
		},
	})
	return rs
}
