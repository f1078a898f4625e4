package rules

// openaiRules returns OpenAI's rules, in report order.
func openaiRules() []*Rule {
	var rs []*Rule
	// Any "sk-" key, marker or not: a key cut before "T3BlbkFJ" still goes,
	// and so do the other providers' "sk-" keys (DeepSeek, OpenRouter).
	anySK := loose(`sk-(?:proj-|svcacct-|service-|admin-|None-)?[A-Za-z0-9_-]{20,}`, "sk-")
	legacy := "sk-" + fake("openai-legacy", base62, 20) + "T3BlbkFJ" + fake("openai-legacy-2", base62, 20)
	project56 := "sk-proj-" + fake("openai-proj56", base62, 20) + "T3BlbkFJ" + fake("openai-proj56-2", base62, 20)
	project := "sk-proj-" + fake("openai-proj", base64u, 74) + "T3BlbkFJ" + fake("openai-proj-2", base64u, 74)
	svcacct := "sk-svcacct-" + fake("openai-svc", base64u, 74) + "T3BlbkFJ" + fake("openai-svc-2", base64u, 74)
	none := "sk-None-" + fake("openai-none", base64u, 74) + "T3BlbkFJ" + fake("openai-none-2", base64u, 74)
	admin := "sk-admin-" + fake("openai-admin", base64u, 58) + "T3BlbkFJ" + fake("openai-admin-2", base64u, 58)

	// Shared false positives: documentation, lookalike words, and the
	// other providers' "sk-" keys, none of which carries OpenAI's marker.
	notOpenAI := []string{
		`OPENAI_API_KEY=sk-...`,
		`OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
		`const openai = new OpenAI({ apiKey: "your-api-key" });`,
		`OPENAI_API_KEY=<OPENAI_API_KEY>`,
		`const openai = new OpenAI({ apiKey: process.env.OPENAI_API_KEY });`,
		`see risk-assessment-2024-q3 and task-` + fake("openai-fp-task", lowerNum, 40),
		"sk-" + fake("openai-fp-nomarker", base62, 48), // no marker: not an OpenAI key
		"ANTHROPIC_API_KEY=sk-ant-api03-" + fake("openai-fp-ant", base64u, 93) + "AA",
		"DEEPSEEK_API_KEY=sk-" + fake("openai-fp-deepseek", hexLower, 32),
		"OPENROUTER_API_KEY=sk-or-v1-" + fake("openai-fp-or", hexLower, 64),
		"id: 3f2b8c1e-9a4d-4f6b-8e2a-7c5d9b1e0f3a",
		"commit 9c1f0b7e2d4a6c8e0f1a3b5d7c9e1f2a4b6c8d0e",
	}

	// OpenAI API keys. Every format carries "T3BlbkFJ" (base64 of
	// "OpenAI") in the middle, which is what tells them from the many other
	// "sk-" keys (DeepSeek, OpenRouter, DashScope, …):
	//
	//	sk-<20 alnum>T3BlbkFJ<20 alnum>                       legacy user key, 51 chars
	//	sk-proj-<20>T3BlbkFJ<20>                              early project key, 56 chars
	//	sk-proj-<74 [\w-]>T3BlbkFJ<74 [\w-]>                  project key, 164 chars (2024–)
	//	sk-svcacct-<74>T3BlbkFJ<74>, sk-None-<74>T3BlbkFJ<74> service-account / org-level keys
	//
	// The inner lengths have varied (56 and 164 characters are both seen in
	// the wild), so 20–80 on each side of the marker is accepted.
	// Verified: gitleaks/gitleaks cmd/generate/config/rules/openai.go,
	// trufflesecurity/trufflehog pkg/detectors/openai/openai.go,
	// google/osv-scalibr veles/secrets/openai/detector.go, and the length
	// reports in github.com/paradigmxyz/flux/pull/100 (164),
	// github.com/di-sukharev/opencommit/pull/328 (56) and
	// github.com/mongodb/kingfisher/pull/68 (sk-None-, sk-svcacct-).
	rs = append(rs, &Rule{
		ID:          "openai-api-key",
		Provider:    "OpenAI",
		Description: "OpenAI API key (user, project or service account)",
		Keywords:    []string{"t3blbkfj"},
		Regex: token(`sk-(?:[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|`+
			`(?:proj|svcacct|service|None)-[A-Za-z0-9_-]{20,80}T3BlbkFJ[A-Za-z0-9_-]{20,80})`, afterDash),
		Redact:   anySK,
		Entropy:  3.5,
		Severity: Critical,
		TruePositives: append(contexts("OPENAI_API_KEY", project),
			"OPENAI_API_KEY="+legacy,
			`openai.api_key = "`+legacy+`"`,
			`const openai = new OpenAI({ apiKey: "`+project56+`" });`,
			`OPENAI_API_KEY: `+svcacct,
			`curl https://api.openai.com/v1/models -H "Authorization: Bearer `+none+`"`,
		),
		FalsePositives: append(notOpenAI,
			admin, // reported by openai-admin-key
			"sk-"+fake("openai-fp-short", base62, 19)+"T3BlbkFJ"+fake("openai-fp-short-2", base62, 20),
		),
	})

	// OpenAI Admin API keys (organization administration, usage and
	// billing): sk-admin-<58 [\w-]>T3BlbkFJ<58 [\w-]>, 133 characters.
	// Verified: trufflesecurity/trufflehog pkg/detectors/openaiadmin/openaiadmin.go,
	// gitleaks/gitleaks cmd/generate/config/rules/openai.go.
	rs = append(rs, &Rule{
		ID:          "openai-admin-key",
		Provider:    "OpenAI",
		Description: "OpenAI Admin API key",
		Keywords:    []string{"sk-admin-"},
		Regex:       token(`sk-admin-[A-Za-z0-9_-]{20,80}T3BlbkFJ[A-Za-z0-9_-]{20,80}`, afterDash),
		Redact:      anySK,
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: []string{
			"OPENAI_ADMIN_KEY=" + admin,
			`curl https://api.openai.com/v1/organization/users -H "Authorization: Bearer ` + admin + `"`,
			`{"openai_admin_key":"` + admin + `"}`,
			`const adminKey = process.env.OPENAI_ADMIN_KEY ?? "` + admin + `";`,
		},
		FalsePositives: append(notOpenAI,
			project, // reported by openai-api-key
			"OPENAI_ADMIN_KEY=sk-admin-...",
			"sk-admin-"+fake("openai-fp-admin-nomarker", base64u, 124),
		),
	})
	return rs
}
