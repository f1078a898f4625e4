package rules

// openrouterRules returns OpenRouter's rule.
func openrouterRules() []*Rule {
	var rs []*Rule
	key := "sk-or-v1-" + fake("openrouter", hexLower, 64)

	// OpenRouter API keys: sk-or-v1- + 64 lower-case hex, 73 characters.
	// Verified: trufflesecurity/trufflehog pkg/detectors/openrouter/openrouter.go,
	// betterleaks/betterleaks cmd/generate/config/rules/openrouter.go.
	rs = append(rs, &Rule{
		ID:          "openrouter-api-key",
		Provider:    "OpenRouter",
		Description: "OpenRouter API key",
		Keywords:    []string{"sk-or-v1-"},
		Regex:       token(`sk-or-v1-[a-f0-9]{64}`, `\b`),
		Entropy:     3.0,
		Severity:    Critical,
		TruePositives: append(contexts("OPENROUTER_API_KEY", key),
			`const openai = new OpenAI({ baseURL: "https://openrouter.ai/api/v1", apiKey: "`+key+`" });`,
		),
		FalsePositives: []string{
			`OPENROUTER_API_KEY=sk-or-v1-...`,
			`OPENROUTER_API_KEY=sk-or-v1-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"sk-or-v1-" + fake("openrouter-fp-short", hexLower, 63),
			"sk-or-v1-" + fake("openrouter-fp-upper", "0123456789ABCDEF", 64),
			"sk-" + fake("openrouter-fp-plain", hexLower, 32),
		},
	})
	return rs
}
