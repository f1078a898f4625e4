package rules

import "strings"

// elevenlabsRules returns ElevenLabs's rule.
func elevenlabsRules() []*Rule {
	var rs []*Rule
	key := "sk_" + fake("elevenlabs", hexLower, 48)
	key2 := "sk_" + fake("elevenlabs-2", hexLower, 48)
	old := fake("elevenlabs-legacy", hexLower, 32)
	old2 := fake("elevenlabs-legacy-2", hexLower, 32)

	// ElevenLabs API keys: sk_ + 48 lower-case hex, 51 characters, and the
	// older keys (issued before 2024, still working): 32 lower-case hex with
	// no prefix. "sk_" is a crowded prefix and 32 hex is any MD5 digest, so
	// ElevenLabs context must be on the line: the name, ELEVENLABS_API_KEY,
	// or the xi-api-key header (XI_API_KEY, the name ElevenLabs' examples
	// read the key from).
	// Verified: trufflesecurity/trufflehog pkg/detectors/elevenlabs/v1/elevenlabs.go
	// (32 hex) and v2/elevenlabs.go (sk_), mongodb/kingfisher
	// data/rules/elevenlabs.yml, and public .env samples.
	rs = append(rs, &Rule{
		ID:          "elevenlabs-api-key",
		Provider:    "ElevenLabs",
		Description: "ElevenLabs API key",
		Keywords:    []string{"elevenlabs", "eleven_labs", "xi-api-key", "xi_api_key"},
		Regex:       near(`eleven[_-]?labs|xi[_-]api[_-]key`, `(?:sk_[a-f0-9]{48}|[a-f0-9]{32})\b`),
		Entropy:     3.0,
		Severity:    Critical,
		TruePositives: []string{
			"ELEVENLABS_API_KEY=" + key,
			`const elevenlabs = new ElevenLabsClient({ apiKey: "` + key + `" });`,
			`curl https://api.elevenlabs.io/v1/user -H "xi-api-key: ` + key2 + `"`,
			`{"elevenlabs_api_key": "` + key2 + `"}`,
			`headers = {"xi-api-key": "` + key2 + `"}`,
			// Older 32-hex keys.
			"XI_API_KEY = '" + old + "'",
			"ELEVENLABS_API_KEY=" + old,
			`export ELEVEN_LABS_API_KEY="` + old2 + `"`,
			`const elevenlabs = new ElevenLabsClient({ apiKey: "` + old2 + `" });`,
			`requests.get("https://api.elevenlabs.io/v1/voices", headers={"xi-api-key": "` + old2 + `"})`,
		},
		FalsePositives: []string{
			`ELEVENLABS_API_KEY=sk_...`,
			`ELEVENLABS_API_KEY=sk_your_key_here`,
			"ELEVENLABS_API_KEY=sk_" + fake("elevenlabs-fp-short", hexLower, 47),
			"SOME_KEY=" + key, // no ElevenLabs context
			"ELEVENLABS_VOICE_ID=21m00Tcm4TlvDq8ikWAM",
			// A bare 32-hex value, or one with no ElevenLabs context, is not
			// told apart from a digest.
			old,
			"SOME_KEY=" + old,
			`const checksum = "` + old + `";`,
			"ELEVENLABS_API_KEY=" + fake("elevenlabs-fp-old-short", hexLower, 31),
			"ELEVENLABS_API_KEY=" + fake("elevenlabs-fp-old-long", hexLower, 33),
			"ELEVENLABS_API_KEY=" + strings.ToUpper(old), // keys are lower case
			// The context on another line is not enough: elevenlabs is a
			// package name, and 32 hex is a lockfile's digest.
			"elevenlabs@^1.50.0:\n  checksum: " + old,
		},
	})
	return rs
}
