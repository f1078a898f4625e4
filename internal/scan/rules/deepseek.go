package rules

// deepseekRules returns DeepSeek's rule.
func deepseekRules() []*Rule {
	var rs []*Rule
	key := "sk-" + fake("deepseek", hexLower, 32)
	key2 := "sk-" + fake("deepseek-2", hexLower, 32)

	// DeepSeek API keys: sk- + 32 lower-case hex, 35 characters (lower-case
	// alphanumerics are accepted, as trufflehog's detector does). That shape
	// is shared (Alibaba DashScope issues the same), so the rule needs
	// DeepSeek context on the line: the name, the env var or the API host.
	// It cannot fire on an OpenAI key (48 alphanumerics after "sk-" leave
	// no boundary after 32) and OpenAI's rule needs the T3BlbkFJ marker.
	// Verified: trufflesecurity/trufflehog pkg/detectors/deepseek/deepseek.go,
	// betterleaks/betterleaks cmd/generate/config/rules/deepseek.go.
	rs = append(rs, &Rule{
		ID:          "deepseek-api-key",
		Provider:    "DeepSeek",
		Description: "DeepSeek API key",
		Keywords:    []string{"deepseek"},
		Regex:       near(`deepseek`, `sk-[a-z0-9]{32}\b`),
		Entropy:     3.0,
		Severity:    Critical,
		TruePositives: []string{
			"DEEPSEEK_API_KEY=" + key,
			`export DEEPSEEK_API_KEY="` + key + `"`,
			`const deepseek = new OpenAI({ baseURL: "https://api.deepseek.com", apiKey: "` + key + `" });`,
			`{"deepseek_api_key": "` + key2 + `"}`,
			"deepseek:\n  api_key: " + key2 + "\n",
			`curl https://api.deepseek.com/chat/completions -H "Authorization: Bearer ` + key2 + `"`,
			`deepseek_client = OpenAI(api_key="` + key2 + `", base_url="https://api.deepseek.com")`,
		},
		FalsePositives: []string{
			`DEEPSEEK_API_KEY=sk-...`,
			`DEEPSEEK_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"DEEPSEEK_API_KEY=sk-" + fake("deepseek-fp-short", hexLower, 31),
			"DEEPSEEK_API_KEY=sk-" + fake("deepseek-fp-long", hexLower, 48),
			"DASHSCOPE_API_KEY=" + key, // same shape, no DeepSeek context
			"# deepseek\nAPI_KEY=" + key,
			"DEEPSEEK_API_KEY=sk-" + fake("deepseek-fp-upper", base62, 32),
			"DEEPSEEK_API_KEY=sk-" + fake("deepseek-fp-openai", base62, 20) + "T3BlbkFJ" + fake("deepseek-fp-openai-2", base62, 20),
			`model = "deepseek-chat"`,
		},
	})
	return rs
}
