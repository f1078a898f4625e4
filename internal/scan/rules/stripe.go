package rules

// stripeRules returns Stripe's rules, in report order.
func stripeRules() []*Rule {
	var rs []*Rule
	// Any Stripe secret or restricted key, live or test, cut short or not.
	anyStripe := loose(`[sr]k_(?:live|test)_[A-Za-z0-9]{16,}`, "sk_live_", "rk_live_", "sk_test_", "rk_test_")
	live := "sk_live_51" + fake("stripe-live", base62, 97)
	liveLegacy := "sk_live_" + fake("stripe-live-legacy", base62, 24)
	restricted := "rk_live_51" + fake("stripe-rk", base62, 97)
	test := "sk_test_51" + fake("stripe-test", base62, 97)
	testLegacy := "sk_test_" + fake("stripe-test-legacy", base62, 24)
	rkTest := "rk_test_51" + fake("stripe-rk-test", base62, 97)
	clerkLike := "sk_live_" + fake("stripe-fp-clerk", base62, 42)

	// Stripe secret (sk_) and restricted (rk_) keys: sk_live_ + 24
	// alphanumerics (legacy keys) or + 99 (current keys, starting "51").
	// Stripe does not promise a length (other detectors accept up to 247),
	// so 24–34 and 50–247 are matched; the gap is deliberate: Clerk's
	// secret keys share the sk_live_/sk_test_ prefixes with 42 characters,
	// and Paystack's with 40 hex.
	// Verified: https://docs.stripe.com/keys (prefixes),
	// google/osv-scalibr veles/secrets/stripeapikeys (99),
	// gitleaks/gitleaks cmd/generate/config/rules/stripe.go (99-character samples),
	// praetorian-inc/noseyparker stripe rules (24).
	stripeFPs := []string{
		`STRIPE_SECRET_KEY=sk_live_...`,
		`STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx`,
		`const stripe = new Stripe(process.env.STRIPE_SECRET_KEY);`,
		`NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY=pk_live_` + fake("stripe-fp-pk", base62, 99), // publishable: public by design
		"CLERK_SECRET_KEY=" + clerkLike,
		"PAYSTACK_SECRET_KEY=sk_live_" + fake("stripe-fp-paystack", hexLower, 40),
		`nonMatchingToken := "task_live_` + fake("stripe-fp-task", base62, 24) + `"`,
		"whsec_" + fake("stripe-fp-whsec", base62, 32),
	}
	rs = append(rs, &Rule{
		ID:          "stripe-secret-key",
		Provider:    "Stripe",
		Description: "Stripe live secret or restricted key",
		Keywords:    []string{"sk_live_", "rk_live_"},
		Regex:       token(`[sr]k_live_(?:[A-Za-z0-9]{24,34}|[A-Za-z0-9]{50,247})`, `\b`),
		Redact:      anyStripe,
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("STRIPE_SECRET_KEY", live),
			"STRIPE_SECRET_KEY="+liveLegacy,
			`const stripe = new Stripe("`+restricted+`", { apiVersion: "2025-03-31.basil" });`,
			`stripe.api_key = "`+liveLegacy+`"`,
			`curl https://api.stripe.com/v1/charges -u `+live+`:`,
		),
		FalsePositives: append(stripeFPs,
			test, // reported by stripe-test-key
			"sk_live_"+fake("stripe-fp-mid", base62, 45),
			"sk_live_"+fake("stripe-fp-short", base62, 23),
		),
	})

	// Stripe test-mode keys: same formats with _test_. They reach no real
	// money or customer data, hence the lower severity, but they still read
	// and write the account's test data and often sit next to live ones.
	rs = append(rs, &Rule{
		ID:          "stripe-test-key",
		Provider:    "Stripe",
		Description: "Stripe test-mode secret or restricted key",
		Keywords:    []string{"sk_test_", "rk_test_"},
		Regex:       token(`[sr]k_test_(?:[A-Za-z0-9]{24,34}|[A-Za-z0-9]{50,247})`, `\b`),
		Redact:      anyStripe,
		Entropy:     3.5,
		Severity:    Medium,
		TruePositives: []string{
			"STRIPE_SECRET_KEY=" + test,
			`const stripe = require("stripe")("` + testLegacy + `");`,
			`{"stripe_secret_key": "` + rkTest + `"}`,
			"Authorization: Bearer " + test,
		},
		FalsePositives: append(stripeFPs,
			live, // reported by stripe-secret-key
			`STRIPE_SECRET_KEY=sk_test_...`,
			"CLERK_SECRET_KEY=sk_test_"+fake("stripe-fp-clerk-test", base62, 42),
		),
	})
	return rs
}
