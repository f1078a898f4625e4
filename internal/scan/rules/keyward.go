package rules

import (
	"regexp"
	"strings"

	"github.com/keyward/keyward/internal/vkey"
)

// keywardRules returns keyward's rules, in report order.
func keywardRules() []*Rule {
	var rs []*Rule
	// Any keyward key, checksum or not, cut short or not.
	anyKeyward := loose(`(?:`+regexp.QuoteMeta(vkey.LivePrefix)+`|`+regexp.QuoteMeta(vkey.TestPrefix)+`)[A-Za-z0-9]{16,}`,
		vkey.LivePrefix, vkey.TestPrefix)
	live := keywardKey("keyward-live", vkey.LivePrefix)
	test := keywardKey("keyward-test", vkey.TestPrefix)

	keywardFPs := []string{
		`KEYWARD_API_KEY=kw_live_...`,
		`KEYWARD_API_KEY=kw_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
		"KEYWARD_API_KEY=" + flipLast(live), // checksum fails
		"KEYWARD_API_KEY=" + flipLast(test),
		"kw_live_" + fake("keyward-fp-random", base62, 49), // random: checksum fails
		"kw_live_" + fake("keyward-fp-short", base62, 48),
	}

	// keyward virtual keys: kw_live_/kw_test_ + 43 base62 + a 6-digit base62
	// CRC-32 of everything before it, 57 characters (internal/vkey).
	// Validate is vkey.Valid, so only checksummed keys are reported.
	rs = append(rs, &Rule{
		ID:          "keyward-live-key",
		Provider:    "keyward",
		Description: "keyward live virtual key",
		Keywords:    []string{vkey.LivePrefix},
		Regex:       token(`kw_live_[A-Za-z0-9]{49}`, `\b`),
		Redact:      anyKeyward,
		Validate:    vkey.Valid,
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("KEYWARD_API_KEY", live),
			`const openai = new OpenAI({ baseURL: "https://gateway.acme.test/v1", apiKey: "`+live+`" });`,
		),
		FalsePositives: append(keywardFPs, test),
	})

	// keyward test keys: the same format; they reach test-mode plans only.
	rs = append(rs, &Rule{
		ID:          "keyward-test-key",
		Provider:    "keyward",
		Description: "keyward test virtual key",
		Keywords:    []string{vkey.TestPrefix},
		Regex:       token(`kw_test_[A-Za-z0-9]{49}`, `\b`),
		Redact:      anyKeyward,
		Validate:    vkey.Valid,
		Entropy:     3.5,
		Severity:    Medium,
		TruePositives: []string{
			"KEYWARD_API_KEY=" + test,
			"Authorization: Bearer " + test,
			`{"apiKey":"` + test + `"}`,
		},
		FalsePositives: append(keywardFPs, strings.Replace(live, "live", "test", 1), live),
	})
	return rs
}
