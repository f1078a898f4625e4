package rules

// cohereRules returns Cohere's rule.
func cohereRules() []*Rule {
	var rs []*Rule
	key := fake("cohere", base62, 40)
	key2 := fake("cohere-2", base62, 40)

	// Cohere API keys: 40 [A-Za-z0-9] with no prefix, so the rule needs
	// Cohere context on the line (the name or CO_API_KEY, the variable the
	// SDKs read) and mixed-case letters, which rules out git SHA-1s — e.g.
	// "cohere @ git+https://…@<sha>" in requirements.txt.
	// Verified: gitleaks/gitleaks cmd/generate/config/rules/cohere.go (which
	// cites CO_API_KEY in github.com/cohere-ai/cohere-go client/client.go),
	// google/osv-scalibr veles/secrets/cohereapikey.
	rs = append(rs, &Rule{
		ID:          "cohere-api-key",
		Provider:    "Cohere",
		Description: "Cohere API key",
		Keywords:    []string{"cohere", "co_api_key"},
		Regex:       near(`cohere|\bco_api_key`, `[A-Za-z0-9]{40}\b`),
		Entropy:     3.5,
		Validate:    mixedCase,
		Severity:    Critical,
		TruePositives: []string{
			"COHERE_API_KEY=" + key,
			"export CO_API_KEY=" + key,
			`co = cohere.ClientV2(api_key="` + key2 + `")`,
			`const cohere = new CohereClient({ token: "` + key2 + `" });`,
			`{"cohere_api_key":"` + key2 + `"}`,
			`curl https://api.cohere.com/v2/chat -H "Authorization: Bearer ` + key + `"`,
		},
		FalsePositives: []string{
			`COHERE_API_KEY=your-cohere-key`,
			`CO_API_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"cohere @ git+https://github.com/cohere-ai/cohere-python@" + fake("cohere-fp-sha", hexLower, 40),
			"COHERE_API_KEY=" + fake("cohere-fp-short", base62, 39),
			`model: "cohere.command-r-plus-v1:0"`,
			"# cohere\nAPI_KEY=" + key,
		},
	})
	return rs
}
