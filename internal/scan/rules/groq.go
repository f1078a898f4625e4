package rules

// groqRules returns Groq's rule.
func groqRules() []*Rule {
	var rs []*Rule
	key := "gsk_" + fake("groq", base62, 20) + "WGdyb3FY" + fake("groq-2", base62, 24)

	// Groq API keys: gsk_ + 52 [A-Za-z0-9], 56 characters. Observed keys
	// carry "WGdyb3FY" (base64 of "XgroqX") at offset 24, the way OpenAI's
	// carry "T3BlbkFJ"; Groq does not document it and variants exist, so the
	// rule does not require it.
	// Verified: trufflesecurity/trufflehog pkg/detectors/groq/groq.go,
	// betterleaks/betterleaks cmd/generate/config/rules/groq.go,
	// github.com/secretlint/secretlint/issues/1446.
	rs = append(rs, &Rule{
		ID:          "groq-api-key",
		Provider:    "Groq",
		Description: "Groq API key",
		Keywords:    []string{"gsk_"},
		Regex:       token(`gsk_[A-Za-z0-9]{52}`, `\b`),
		Redact:      loose(`gsk_[A-Za-z0-9]{20,}`, "gsk_"),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("GROQ_API_KEY", key),
			`client = Groq(api_key="`+key+`")`,
			`const groq = new OpenAI({ apiKey: "`+key+`", baseURL: "https://api.groq.com/openai/v1" });`,
		),
		FalsePositives: []string{
			`GROQ_API_KEY=gsk_...`,
			`GROQ_API_KEY=gsk_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			`GROQ_API_KEY="<your groq key>"`,
			"gsk_" + fake("groq-fp-short", base62, 51),
			"gsk_" + fake("groq-fp-long", base62, 53),
			"tgsk_" + fake("groq-fp-inside", base62, 52),
			`gsk_ctx->cipher_suite = GSK_TLS_RSA;`,
		},
	})
	return rs
}
