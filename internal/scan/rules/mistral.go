package rules

// mistralRules returns Mistral AI's rule.
func mistralRules() []*Rule {
	var rs []*Rule
	key := fake("mistral", base62, 32)
	key2 := fake("mistral-2", base62, 32)

	// Mistral AI API keys: 32 [A-Za-z0-9] with no prefix, so the rule
	// needs Mistral context on the line (the name, MISTRAL_API_KEY or
	// api.mistral.ai) and a mix of upper- and lower-case letters, which
	// rules out MD5 digests and identifiers of the same length.
	// Verified: google/osv-scalibr veles/secrets/mistralapikey/detector.go,
	// betterleaks/betterleaks cmd/generate/config/rules/mistral.go.
	rs = append(rs, &Rule{
		ID:          "mistral-api-key",
		Provider:    "Mistral AI",
		Description: "Mistral AI API key",
		Keywords:    []string{"mistral"},
		Regex:       near(`mistral`, `[A-Za-z0-9]{32}\b`),
		Entropy:     3.5,
		Validate:    mixedCase,
		Severity:    Critical,
		TruePositives: []string{
			"MISTRAL_API_KEY=" + key,
			`export MISTRAL_API_KEY="` + key + `"`,
			`const client = new Mistral({ apiKey: "` + key + `" });`,
			`client = Mistral(api_key="` + key2 + `")`,
			`{"mistral_api_key": "` + key2 + `"}`,
			"mistral:\n  api_key: " + key2,
			`curl https://api.mistral.ai/v1/models -H "Authorization: Bearer ` + key2 + `"`,
			`mistralKey:"` + key + `",`,
		},
		FalsePositives: []string{
			`MISTRAL_API_KEY=your-mistral-api-key`,
			`MISTRAL_API_KEY=<MISTRAL_API_KEY>`,
			`const client = new Mistral({ apiKey: process.env.MISTRAL_API_KEY });`,
			"MISTRAL_API_KEY=" + fake("mistral-fp-short", base62, 31),
			"MISTRAL_API_KEY=" + fake("mistral-fp-long", base62, 33),
			"mistral_weights_md5: " + fake("mistral-fp-md5", hexLower, 32),
			`model: "mistralai/Mistral-7B-Instruct-v0.3"`,
			"# mistral\nAPI_KEY=" + key,
			"COHERE_API_KEY=" + key, // no Mistral context
		},
	})
	return rs
}
