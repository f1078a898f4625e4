package rules

// langsmithRules returns LangSmith's rule.
func langsmithRules() []*Rule {
	var rs []*Rule
	pt := "lsv2_pt_" + fake("langsmith-pt", hexLower, 32) + "_" + fake("langsmith-pt-2", hexLower, 10)
	sk := "lsv2_sk_" + fake("langsmith-sk", hexLower, 32) + "_" + fake("langsmith-sk-2", hexLower, 10)

	// LangSmith (LangChain) keys: lsv2_pt_ (personal access token) or
	// lsv2_sk_ (service key) + 32 hex + "_" + 10 hex, 51 characters.
	// Verified: trufflesecurity/trufflehog pkg/detectors/langsmith/langsmith.go,
	// betterleaks/betterleaks cmd/generate/config/rules/langchain.go.
	rs = append(rs, &Rule{
		ID:          "langsmith-api-key",
		Provider:    "LangSmith",
		Description: "LangSmith personal access token or service key",
		Keywords:    []string{"lsv2_pt_", "lsv2_sk_"},
		Regex:       token(`lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}`, `\b`),
		Redact:      loose(`lsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}`, "lsv2_"),
		Entropy:     3.0,
		Severity:    Critical,
		TruePositives: append(contexts("LANGSMITH_API_KEY", pt),
			"LANGCHAIN_API_KEY="+sk,
			`os.environ["LANGSMITH_API_KEY"] = "`+sk+`"`,
		),
		FalsePositives: []string{
			`LANGSMITH_API_KEY=lsv2_pt_...`,
			"lsv2_pt_" + fake("langsmith-fp-nohex", base62, 32) + "_" + fake("langsmith-fp-nohex-2", hexLower, 10),
			"lsv2_xx_" + fake("langsmith-fp-kind", hexLower, 32) + "_" + fake("langsmith-fp-kind-2", hexLower, 10),
			"lsv2_pt_" + fake("langsmith-fp-short", hexLower, 32) + "_" + fake("langsmith-fp-short-2", hexLower, 9),
		},
	})
	return rs
}
