package rules

// clerkRules returns Clerk's rules, in report order.
func clerkRules() []*Rule {
	var rs []*Rule
	live := "sk_live_" + fake("clerk-live", base62, 42)
	test := "sk_test_" + fake("clerk-test", base62, 42)

	// Clerk secret keys: sk_live_ or sk_test_ + 42 alphanumerics, 50
	// characters. The prefixes are Stripe's too; the length tells them apart
	// (Stripe's are 24 or 99), and since other vendors also use sk_live_,
	// Clerk context must be on the line (CLERK_SECRET_KEY, clerkClient,
	// @clerk/…). 40–46 is accepted in case the length drifts.
	// Verified: https://clerk.com/docs/guides/secure/rotate-api-keys
	// (prefixes); the length from public code samples of CLERK_SECRET_KEY
	// values (42 after the prefix). Not documented by Clerk.
	clerkFPs := []string{
		`CLERK_SECRET_KEY=sk_live_...`,
		`CLERK_SECRET_KEY=sk_test_your_secret_key_here`,
		`CLERK_SECRET_KEY="sk_test_placeholder_not_a_real_key"`,
		`NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY=pk_live_` + fake("clerk-fp-pk", base62, 42),
		"CLERK_SECRET_KEY=sk_live_" + fake("clerk-fp-short", base62, 39),
		"STRIPE_SECRET_KEY=" + "sk_live_" + fake("clerk-fp-stripe", base62, 42), // no Clerk context
		"# clerk\nSECRET=" + live,
	}
	rs = append(rs, &Rule{
		ID:          "clerk-secret-key",
		Provider:    "Clerk",
		Description: "Clerk production secret key",
		Keywords:    []string{"clerk"},
		Regex:       near(`clerk`, `sk_live_[A-Za-z0-9]{40,46}\b`),
		Entropy:     3.5,
		Severity:    High,
		TruePositives: []string{
			"CLERK_SECRET_KEY=" + live,
			`export CLERK_SECRET_KEY="` + live + `"`,
			`const clerkClient = createClerkClient({ secretKey: "` + live + `" });`,
			`{"clerk_secret_key": "` + live + `"}`,
			"clerk:\n  secret_key: " + live,
		},
		FalsePositives: append(clerkFPs, "CLERK_SECRET_KEY="+test),
	})

	// Clerk development-instance secret keys (sk_test_): they reach only a
	// development instance's users, hence the lower severity.
	rs = append(rs, &Rule{
		ID:          "clerk-test-secret-key",
		Provider:    "Clerk",
		Description: "Clerk development secret key",
		Keywords:    []string{"clerk"},
		Regex:       near(`clerk`, `sk_test_[A-Za-z0-9]{40,46}\b`),
		Entropy:     3.5,
		Severity:    Medium,
		TruePositives: []string{
			"CLERK_SECRET_KEY=" + test,
			`const CLERK_SECRET_KEY='` + test + `'`,
			`app.use(clerkMiddleware({ secretKey: "` + test + `" }));`,
		},
		FalsePositives: append(clerkFPs, "CLERK_SECRET_KEY="+live),
	})
	return rs
}
