package rules

// perplexityRules returns Perplexity's rule.
func perplexityRules() []*Rule {
	var rs []*Rule
	key := "pplx-" + fake("perplexity", base62, 48)

	// Perplexity API keys: pplx- + 48 [A-Za-z0-9], 53 characters.
	// Verified: gitleaks/gitleaks cmd/generate/config/rules/perplexity.go,
	// google/osv-scalibr veles/secrets/perplexityapikey/detector.go.
	rs = append(rs, &Rule{
		ID:          "perplexity-api-key",
		Provider:    "Perplexity",
		Description: "Perplexity API key",
		Keywords:    []string{"pplx-"},
		Regex:       token(`pplx-[A-Za-z0-9]{48}`, `\b`),
		Redact:      loose(`pplx-[A-Za-z0-9]{20,}`, "pplx-"),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("PERPLEXITY_API_KEY", key),
			`const client = new OpenAI({ apiKey: "`+key+`", baseURL: "https://api.perplexity.ai" });`,
		),
		FalsePositives: []string{
			`PERPLEXITY_API_KEY=pplx-...`,
			`PERPLEXITY_API_KEY=pplx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"pplx-" + fake("pplx-fp-short", base62, 47),
			"pplx-" + fake("pplx-fp-long", base62, 49),
			`import { pplx-client } from "./pplx-client";`,
		},
	})
	return rs
}
