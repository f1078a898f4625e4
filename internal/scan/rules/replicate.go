package rules

// replicateRules returns Replicate's rule.
func replicateRules() []*Rule {
	var rs []*Rule
	key := "r8_" + fake("replicate", base62, 37)

	// Replicate API tokens: r8_ + 37 [A-Za-z0-9], 40 characters.
	// Verified: trufflesecurity/trufflehog pkg/detectors/replicate/replicate.go,
	// betterleaks/betterleaks cmd/generate/config/rules/replicate.go.
	rs = append(rs, &Rule{
		ID:          "replicate-api-token",
		Provider:    "Replicate",
		Description: "Replicate API token",
		Keywords:    []string{"r8_"},
		Regex:       token(`r8_[A-Za-z0-9]{37}`, `\b`),
		Redact:      loose(`r8_[A-Za-z0-9]{20,}`, "r8_"),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("REPLICATE_API_TOKEN", key),
			`const replicate = new Replicate({ auth: "`+key+`" });`,
			`curl https://api.replicate.com/v1/account -H "Authorization: Token `+key+`"`,
		),
		FalsePositives: []string{
			`REPLICATE_API_TOKEN=r8_...`,
			`REPLICATE_API_TOKEN=r8_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"r8_" + fake("replicate-fp-short", base62, 36),
			"vr8_" + fake("replicate-fp-inside", base62, 37),
			"register r8_" + fake("replicate-fp-asm", lowerAZ, 5),
		},
	})
	return rs
}
