package rules

func init() {
	key := "sk_" + fake("elevenlabs", hexLower, 48)
	key2 := "sk_" + fake("elevenlabs-2", hexLower, 48)

	// ElevenLabs API keys: sk_ + 48 lower-case hex, 51 characters. "sk_"
	// is a crowded prefix, so ElevenLabs context must be on the line: the
	// name, ELEVENLABS_API_KEY, or the xi-api-key header. (Pre-2024 keys
	// were 32 bare hex and are not covered.)
	// Verified: trufflesecurity/trufflehog pkg/detectors/elevenlabs/v2/elevenlabs.go,
	// mongodb/kingfisher data/rules/elevenlabs.yml, and public .env samples.
	register(&Rule{
		ID:          "elevenlabs-api-key",
		Provider:    "ElevenLabs",
		Description: "ElevenLabs API key",
		Keywords:    []string{"elevenlabs", "eleven_labs", "xi-api-key", "xi_api_key"},
		Regex:       near(`eleven[_-]?labs|xi[_-]api[_-]key`, `sk_[a-f0-9]{48}\b`),
		Entropy:     3.0,
		Severity:    Critical,
		TruePositives: []string{
			"ELEVENLABS_API_KEY=" + key,
			`const elevenlabs = new ElevenLabsClient({ apiKey: "` + key + `" });`,
			`curl https://api.elevenlabs.io/v1/user -H "xi-api-key: ` + key2 + `"`,
			`{"elevenlabs_api_key": "` + key2 + `"}`,
			`headers = {"xi-api-key": "` + key2 + `"}`,
		},
		FalsePositives: []string{
			`ELEVENLABS_API_KEY=sk_...`,
			`ELEVENLABS_API_KEY=sk_your_key_here`,
			"ELEVENLABS_API_KEY=sk_" + fake("elevenlabs-fp-short", hexLower, 47),
			"SOME_KEY=" + key, // no ElevenLabs context
			"ELEVENLABS_VOICE_ID=21m00Tcm4TlvDq8ikWAM",
		},
	})
}
