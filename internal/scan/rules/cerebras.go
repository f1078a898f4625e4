package rules

// cerebrasRules returns Cerebras's rule.
func cerebrasRules() []*Rule {
	var rs []*Rule
	key := "csk-" + fake("cerebras", lowerNum, 48)

	// Cerebras API keys: csk- + 48 [a-z0-9], 52 characters.
	// Verified: betterleaks/betterleaks cmd/generate/config/rules/cerebras.go,
	// and public code samples of CEREBRAS_API_KEY values (all 48 lower-case
	// alphanumerics after the prefix).
	rs = append(rs, &Rule{
		ID:          "cerebras-api-key",
		Provider:    "Cerebras",
		Description: "Cerebras API key",
		Keywords:    []string{"csk-"},
		Regex:       token(`csk-[a-z0-9]{48}`, `\b`),
		Redact:      loose(`csk-[A-Za-z0-9]{20,}`, "csk-"),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("CEREBRAS_API_KEY", key),
			`const client = new Cerebras({ apiKey: "`+key+`" });`,
		),
		FalsePositives: []string{
			`CEREBRAS_API_KEY=csk-...`,
			`CEREBRAS_API_KEY=csk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"csk-" + fake("cerebras-fp-short", lowerNum, 47),
			"csk-" + fake("cerebras-fp-upper", base62, 48),
			"desk-" + fake("cerebras-fp-inside", lowerNum, 48),
		},
	})
	return rs
}
