package rules

// geminiRules returns Google's rules: Google Cloud / Gemini API keys and Gemini auth keys.
func geminiRules() []*Rule {
	var rs []*Rule
	standard := "AIzaSy" + fake("gemini-std", base64u, 33)
	standard2 := "AIzaSy" + fake("gemini-std-2", base64u, 33)
	auth := "AQ.Ab8RN6" + fake("gemini-auth", base64u, 44)

	// Google API keys ("standard" keys): AIza + 35 [A-Za-z0-9_-], 39
	// characters, in practice always starting AIzaSy. The same format
	// serves Maps, Firebase and every other Google API: a key minted for a
	// browser (a Firebase web config) is reported too, because once the
	// Generative Language API is enabled on its project it also spends
	// Gemini quota. A key may end in "-", so the right edge is not \b.
	// Verified: trufflesecurity/trufflehog pkg/detectors/googlegemini/googlegemini.go
	// (and its PR github.com/trufflesecurity/trufflehog/pull/4649),
	// gitleaks/gitleaks cmd/generate/config/rules/gcp.go.
	rs = append(rs, &Rule{
		ID:          "google-api-key",
		Provider:    "Google (Gemini / Google Cloud)",
		Description: "Google API key (AIza…), usable for the Gemini API when its project allows it",
		Keywords:    []string{"aiza"},
		Regex:       token(`AIza[A-Za-z0-9_-]{35}`, afterDash),
		Redact:      loose(`AIza[A-Za-z0-9_-]{20,}`, "aiza"),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("GEMINI_API_KEY", standard),
			`const genAI = new GoogleGenerativeAI("`+standard2+`");`,
			`curl "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?key=`+standard2+`"`,
			`const firebaseConfig = { apiKey: "`+standard2+`", authDomain: "demo-app.firebaseapp.com" };`,
		),
		FalsePositives: []string{
			`GEMINI_API_KEY=AIzaSy...`,
			`GEMINI_API_KEY=AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX`,
			`GOOGLE_API_KEY=your-google-api-key`,
			"AIza" + fake("gemini-fp-short", base64u, 34),           // 38 characters
			"AIza" + fake("gemini-fp-long", base64u, 36),            // 40 characters
			"AIZASY" + fake("gemini-fp-case", upperAZ+digits, 33),   // wrong case
			"xAIzaSy" + fake("gemini-fp-inside", base64u, 33),       // inside a longer word
			"GEMINI_API_KEY=" + fake("gemini-fp-nopfx", base62, 39), // no prefix
			`gemini: { apiKey: process.env.GEMINI_API_KEY, model: "gemini-2.5-pro" }`,
		},
	})

	// Gemini authorization ("auth") keys: the format Google AI Studio mints
	// since 2026, bound to a service account and replacing AIza keys:
	// "AQ." + 50 [A-Za-z0-9_-], 53 characters, starting "AQ.Ab" (every
	// observed key starts "AQ.Ab8R"; Google's own scanner pins that, this
	// rule pins only "AQ.Ab" so a new version byte is not missed).
	// Verified: https://ai.google.dev/gemini-api/docs/api-key (standard vs
	// authorization keys), google/osv-scalibr veles/secrets/gcpexpressmode/detector.go,
	// github.com/d4rkmen/M5Gemini/issues/15 (length 53).
	rs = append(rs, &Rule{
		ID:          "gemini-auth-key",
		Provider:    "Google (Gemini)",
		Description: "Google Gemini authorization API key (AQ.…)",
		Keywords:    []string{"aq.ab"},
		Regex:       token(`AQ\.Ab[A-Za-z0-9_-]{48}`, afterDash),
		Redact:      loose(`AQ\.[A-Za-z0-9_-]{30,}`, "aq."),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("GEMINI_API_KEY", auth),
			`client = genai.Client(api_key="`+auth+`")`,
			`curl https://generativelanguage.googleapis.com/v1beta/models -H "x-goog-api-key: `+auth+`"`,
		),
		FalsePositives: []string{
			`GEMINI_API_KEY=AQ.Ab8RN6...`,
			`GEMINI_API_KEY=AQ.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"AQ.Ab" + fake("gemini-fp-auth-short", base64u, 47),
			"AQ.Ab" + fake("gemini-fp-auth-long", base64u, 49),
			"eyJhbGciOiJIUzI1NiJ9.AQ.Ab" + fake("gemini-fp-auth-jwt", base64u, 30),
			"version AQ.A.B.C",
		},
	})
	return rs
}
