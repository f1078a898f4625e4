package rules

// resendRules returns Resend's rule.
func resendRules() []*Rule {
	var rs []*Rule
	key := "re_" + fake("resend", base62, 8) + "_" + fake("resend-2", base62, 24)

	// Resend API keys: re_ + 8 alphanumerics (the key's id) + "_" + 24
	// alphanumerics, 36 characters.
	// Verified: public code samples of `new Resend("re_…")` and
	// RESEND_API_KEY values, all of this shape; Resend does not document it.
	rs = append(rs, &Rule{
		ID:          "resend-api-key",
		Provider:    "Resend",
		Description: "Resend API key",
		Keywords:    []string{"re_"},
		Regex:       token(`re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}`, `\b`),
		Redact:      loose(`re_[A-Za-z0-9]{6,}_[A-Za-z0-9]{12,}`, "re_"),
		Entropy:     3.5,
		Severity:    High,
		TruePositives: append(contexts("RESEND_API_KEY", key),
			`const resend = new Resend("`+key+`");`,
		),
		FalsePositives: []string{
			`RESEND_API_KEY=re_...`,
			`RESEND_API_KEY=re_xxxxxxxxx`,
			`RESEND_API_KEY=re_your_resend_api_key_here`,
			`const resend = new Resend(process.env.RESEND_API_KEY);`,
			"pre_" + fake("resend-fp-inside", base62, 8) + "_" + fake("resend-fp-inside-2", base62, 24),
			"re_" + fake("resend-fp-short", base62, 8) + "_" + fake("resend-fp-short-2", base62, 23),
			`score_threshold = re_rank_` + fake("resend-fp-ident", lowerAZ, 30),
		},
	})
	return rs
}
