package rules

// pineconeRules returns Pinecone's rule.
func pineconeRules() []*Rule {
	var rs []*Rule
	key := "pcsk_" + fake("pinecone-label", base62, 6) + "_" + fake("pinecone", base62, 63)
	key5 := "pcsk_" + fake("pinecone-label5", base62, 5) + "_" + fake("pinecone5", base62, 63)

	// Pinecone API keys: pcsk_<5–6 [A-Za-z0-9] key id>_<63 [A-Za-z0-9]>,
	// 74–75 characters. (Older Pinecone keys were bare UUIDs and are not
	// covered.)
	// Verified: trufflesecurity/trufflehog pkg/detectors/pinecone/pinecone.go.
	rs = append(rs, &Rule{
		ID:          "pinecone-api-key",
		Provider:    "Pinecone",
		Description: "Pinecone API key",
		Keywords:    []string{"pcsk_"},
		Regex:       token(`pcsk_[A-Za-z0-9]{5,6}_[A-Za-z0-9]{63}`, `\b`),
		Redact:      loose(`pcsk_[A-Za-z0-9_]{20,}`, "pcsk_"),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("PINECONE_API_KEY", key),
			`pc = Pinecone(api_key="`+key5+`")`,
		),
		FalsePositives: []string{
			`PINECONE_API_KEY=pcsk_...`,
			"pcsk__" + fake("pinecone-fp-noid", base62, 63),
			"pcsk_" + fake("pinecone-fp-short", base62, 6) + "_" + fake("pinecone-fp-short-2", base62, 62),
			"PINECONE_API_KEY=3f2b8c1e-9a4d-4f6b-8e2a-7c5d9b1e0f3a",
		},
	})
	return rs
}
