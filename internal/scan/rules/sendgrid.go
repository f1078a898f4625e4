package rules

// sendgridRules returns SendGrid's rule.
func sendgridRules() []*Rule {
	var rs []*Rule
	key := "SG." + fake("sendgrid", base64u, 22) + "." + fake("sendgrid-2", base64u, 43)

	// SendGrid API keys: SG. + 22 [A-Za-z0-9_-] (key id) + "." + 43
	// [A-Za-z0-9_-], 69 characters (20–24 and 39–50 are accepted, as other
	// detectors do).
	// Verified: https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys,
	// google/osv-scalibr veles/secrets/sendgrid/detector.go,
	// mongodb/kingfisher data/rules/sendgrid.yml.
	rs = append(rs, &Rule{
		ID:          "sendgrid-api-key",
		Provider:    "SendGrid",
		Description: "SendGrid API key",
		Keywords:    []string{"sg."},
		Regex:       token(`SG\.[A-Za-z0-9_-]{20,24}\.[A-Za-z0-9_-]{39,50}`, afterDash),
		Redact:      loose(`SG\.[A-Za-z0-9_-]{16,}(?:\.[A-Za-z0-9_-]*)?`, "sg."),
		Entropy:     3.5,
		Severity:    High,
		TruePositives: append(contexts("SENDGRID_API_KEY", key),
			`sgMail.setApiKey("`+key+`");`,
		),
		FalsePositives: []string{
			`SENDGRID_API_KEY=SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			`SENDGRID_API_KEY=SG....`,
			"SG." + fake("sendgrid-fp-short", base64u, 22) + "." + fake("sendgrid-fp-short-2", base64u, 38),
			"MSG." + fake("sendgrid-fp-inside", base64u, 22) + "." + fake("sendgrid-fp-inside-2", base64u, 43),
			`import SG.Utils.Logger`,
		},
	})
	return rs
}
