package rules

// slackRules returns Slack's rules, in report order.
func slackRules() []*Rule {
	var rs []*Rule
	// Any Slack token (bot, user, and the legacy xoxa/xoxr/xoxs), cut
	// short or not.
	anySlackToken := loose(`xox[abposr]-[A-Za-z0-9-]{10,}`, "xox")
	bot := "xoxb-" + fake("slack-bot-team", digits, 12) + "-" + fake("slack-bot-user", digits, 13) + "-" + fake("slack-bot", base62, 24)
	user := "xoxp-" + fake("slack-user-team", digits, 12) + "-" + fake("slack-user-user", digits, 12) + "-" + fake("slack-user-id", digits, 13) + "-" + fake("slack-user", hexLower, 32)
	app := "xapp-1-A" + fake("slack-app-id", upperAZ+digits, 10) + "-" + fake("slack-app-n", digits, 13) + "-" + fake("slack-app", hexLower, 64)
	hook := "https://hooks.slack.com/services/T" + fake("slack-hook-t", upperAZ+digits, 10) + "/B" + fake("slack-hook-b", upperAZ+digits, 10) + "/" + fake("slack-hook", base62, 24)

	slackFPs := []string{
		`SLACK_BOT_TOKEN=xoxb-...`,
		`SLACK_BOT_TOKEN=xoxb-your-bot-token`,
		`"token2": "xoxp-XXXXXXXXXX-XXXXXXXXXX-XXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"`,
		`"token1": "xoxp-1234567890"`,
		`SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX`,
	}

	// Slack bot tokens: xoxb-<team id digits>-<bot user digits>-<24
	// alphanumerics>.
	// Verified: https://api.slack.com/authentication/token-types,
	// gitleaks/gitleaks cmd/generate/config/rules/slack.go.
	rs = append(rs, &Rule{
		ID:          "slack-bot-token",
		Provider:    "Slack",
		Description: "Slack bot token",
		Keywords:    []string{"xoxb-"},
		Regex:       token(`xoxb-[0-9]{8,13}-[0-9]{8,13}-[A-Za-z0-9]{24}`, `\b`),
		Redact:      anySlackToken,
		Entropy:     3.5,
		Severity:    High,
		TruePositives: append(contexts("SLACK_BOT_TOKEN", bot),
			`const app = new App({ token: "`+bot+`", signingSecret });`,
		),
		FalsePositives: append(slackFPs, user, app),
	})

	// Slack user tokens: xoxp-<digits>-<digits>-<digits>-<32 hex>.
	// Verified: https://api.slack.com/authentication/token-types,
	// gitleaks/gitleaks cmd/generate/config/rules/slack.go.
	rs = append(rs, &Rule{
		ID:          "slack-user-token",
		Provider:    "Slack",
		Description: "Slack user token",
		Keywords:    []string{"xoxp-"},
		Regex:       token(`xoxp-[0-9]{8,13}-[0-9]{8,13}-[0-9]{8,13}-[a-f0-9]{32}`, `\b`),
		Redact:      anySlackToken,
		Entropy:     3.5,
		Severity:    High,
		TruePositives: []string{
			"SLACK_USER_TOKEN=" + user,
			`{"user_token": "` + user + `"}`,
			`curl -H "Authorization: Bearer ` + user + `" https://slack.com/api/auth.test`,
		},
		FalsePositives: append(slackFPs, bot),
	})

	// Slack app-level tokens (Socket Mode): xapp-<digit>-<app id>-<digits>-<64 hex>.
	// Verified: google/osv-scalibr veles/secrets/slacktoken/detector.go,
	// https://api.slack.com/authentication/token-types.
	rs = append(rs, &Rule{
		ID:          "slack-app-token",
		Provider:    "Slack",
		Description: "Slack app-level token",
		Keywords:    []string{"xapp-"},
		Regex:       token(`xapp-[0-9]{1,10}-[A-Z0-9]{8,12}-[0-9]{10,13}-[a-f0-9]{64}`, `\b`),
		Redact:      loose(`xapp-[A-Za-z0-9-]{20,}`, "xapp-"),
		Entropy:     3.5,
		Severity:    High,
		TruePositives: []string{
			"SLACK_APP_TOKEN=" + app,
			`const app = new App({ token, appToken: "` + app + `", socketMode: true });`,
			`{"app_token":"` + app + `"}`,
		},
		FalsePositives: append(slackFPs, "SLACK_APP_TOKEN=xapp-1-A0000000000-0000000000000-..."),
	})

	// Slack incoming webhook URLs: the URL is the credential, since anyone
	// holding it can post to the channel:
	// https://hooks.slack.com/services/T<team>/B<hook>/<24 alphanumerics>.
	// Verified: https://api.slack.com/messaging/webhooks,
	// trufflesecurity/trufflehog pkg/detectors/slackwebhook/slackwebhook.go.
	rs = append(rs, &Rule{
		ID:          "slack-webhook-url",
		Provider:    "Slack",
		Description: "Slack incoming webhook URL",
		Keywords:    []string{"hooks.slack.com"},
		Regex:       token(`https://hooks\.slack\.com/services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24}`, `\b`),
		Redact:      loose(`https://hooks\.slack\.com/services/[A-Za-z0-9/]{8,}`, "hooks.slack.com"),
		Entropy:     3.5,
		Severity:    High,
		TruePositives: []string{
			"SLACK_WEBHOOK_URL=" + hook,
			`await fetch("` + hook + `", { method: "POST", body: JSON.stringify({ text }) });`,
			"webhook_url: " + hook,
			`curl -X POST -H 'Content-type: application/json' --data '{"text":"deployed"}' ` + hook,
		},
		FalsePositives: append(slackFPs,
			"https://hooks.slack.com/services/T"+fake("slack-fp-hook-t", upperAZ+digits, 10)+"/B"+fake("slack-fp-hook-b", upperAZ+digits, 10)+"/"+fake("slack-fp-hook", base62, 23),
			"https://api.slack.com/messaging/webhooks",
		),
	})
	return rs
}
