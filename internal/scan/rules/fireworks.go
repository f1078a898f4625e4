package rules

// fireworksRules returns Fireworks AI's rule.
func fireworksRules() []*Rule {
	var rs []*Rule
	key := "fw_" + fake("fireworks", base62, 24)
	key22 := "fw_" + fake("fireworks-22", base62, 22)

	// Fireworks AI API keys: fw_ + about 24 alphanumerics. Fireworks does
	// not document the format; public code samples show fw_ with 22–24
	// (one with 33) base58-looking characters, so 20–40 is accepted. "fw_"
	// is also the usual prefix of firmware identifiers, so Fireworks
	// context must be on the line.
	// Verified: public code samples only (FIREWORKS_API_KEY values); no
	// scanner or vendor document for the format was found.
	rs = append(rs, &Rule{
		ID:          "fireworks-api-key",
		Provider:    "Fireworks AI",
		Description: "Fireworks AI API key",
		Keywords:    []string{"fireworks"},
		Regex:       near(`fireworks`, `fw_[A-Za-z0-9]{20,40}\b`),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: []string{
			"FIREWORKS_API_KEY=" + key,
			`export FIREWORKS_API_KEY="` + key22 + `"`,
			`fw = Fireworks(api_key="` + key + `")`,
			`const client = new OpenAI({ baseURL: "https://api.fireworks.ai/inference/v1", apiKey: "` + key22 + `" });`,
			`{"fireworks_api_key": "` + key + `"}`,
		},
		FalsePositives: []string{
			`FIREWORKS_API_KEY=fw_...`,
			`FIREWORKS_API_KEY=fw_xxxxxxxxxxxxxxxxxxxxxxxx`,
			`FIREWORKS_API_KEY = "fw_test_transport_credential"`,
			"fw_updateFirmwareImageBinaryFile(dev, fw_imageBufferLength);",
			// A list whose line names Fireworks, and a firmware id that
			// starts the next line (the comma is no assignment).
			"\t`FIREWORKS_API_KEY = \"unset\"`,\n\t\"fw_" + fake("fireworks-fp-list", base62, 24) + "\",",
			"FW_VERSION=fw_" + fake("fireworks-fp-nocontext", base62, 24),
		},
	})
	return rs
}
