package rules

// togetherRules returns Together AI's rules, in report order.
func togetherRules() []*Rule {
	var rs []*Rule
	key := "tgp_v1_" + fake("together", base64u, 43)
	legacy := fake("together-legacy", hexLower, 64)

	// Together AI API keys: tgp_v1_ + 43 [A-Za-z0-9_-] (32 bytes,
	// base64url), 50 characters.
	// Verified: betterleaks/betterleaks cmd/generate/config/rules/togetherai.go
	// and public code samples of TOGETHER_API_KEY values (all 43 after the prefix).
	rs = append(rs, &Rule{
		ID:          "together-api-key",
		Provider:    "Together AI",
		Description: "Together AI API key",
		Keywords:    []string{"tgp_v1_"},
		Regex:       token(`tgp_v1_[A-Za-z0-9_-]{43}`, afterDash),
		Redact:      loose(`tgp_v1_[A-Za-z0-9_-]{20,}`, "tgp_v1_"),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("TOGETHER_API_KEY", key),
			`client = Together(api_key="`+key+`")`,
		),
		FalsePositives: []string{
			`TOGETHER_API_KEY=tgp_v1_...`,
			`TOGETHER_API_KEY=tgp_v1_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"tgp_v1_" + fake("together-fp-short", base64u, 42),
			"tgp_v2_" + fake("together-fp-version", base64u, 43),
		},
	})

	// Legacy Together AI keys: 64 hex with no prefix, so Together context
	// (the name, TOGETHER_API_KEY or api.together.xyz) must be on the line.
	// The format is the one the brief gives; the sources at hand document
	// only the tgp_v1_ form, so this one is not independently verified.
	rs = append(rs, &Rule{
		ID:          "together-legacy-api-key",
		Provider:    "Together AI",
		Description: "Together AI API key (legacy 64-hex format)",
		Keywords:    []string{"together"},
		Regex:       near(`together`, `[a-fA-F0-9]{64}\b`),
		Entropy:     3.0,
		Severity:    Critical,
		TruePositives: []string{
			"TOGETHER_API_KEY=" + legacy,
			`client = Together(api_key="` + legacy + `")`,
			`const together = new OpenAI({ baseURL: "https://api.together.xyz/v1", apiKey: "` + legacy + `" });`,
			`{"together_api_key": "` + legacy + `"}`,
		},
		FalsePositives: []string{
			`TOGETHER_API_KEY=your-together-api-key`,
			"TOGETHER_API_KEY=" + fake("together-fp-short", hexLower, 63),
			"# together\nAPI_KEY=" + legacy,
			"SHA256=" + legacy,
			`together with the sha256 ` + fake("together-fp-sha", hexLower, 64) + ` we ship`,
		},
	})
	return rs
}
