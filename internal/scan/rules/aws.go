package rules

import (
	"regexp"
	"strings"
)

// awsRules returns AWS's rules, in report order.
func awsRules() []*Rule {
	var rs []*Rule
	id := "AKIA" + fake("aws-id", base32, 16)
	sts := "ASIA" + fake("aws-sts", base32, 16)
	secret := fake("aws-secret", base62+"/+", 40)
	secret2 := fake("aws-secret-2", base62+"/+", 40)

	// AWS access key IDs: AKIA (long-term, IAM user) or ASIA (temporary,
	// STS) + 16 base32 characters [A-Z2-7], 20 in all. The ID alone does
	// not authenticate, but it names the key, and its secret is rarely far.
	// Verified: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids,
	// gitleaks/gitleaks cmd/generate/config/rules/aws.go.
	rs = append(rs, &Rule{
		ID:          "aws-access-key-id",
		Provider:    "AWS",
		Description: "AWS access key ID",
		Keywords:    []string{"akia", "asia"},
		Regex:       token(`(?:AKIA|ASIA)[A-Z2-7]{16}`, `\b`),
		Redact:      loose(`(?:AKIA|ASIA)[A-Z0-9]{16}\b`, "akia", "asia"),
		Entropy:     3.0,
		Severity:    Critical,
		TruePositives: []string{
			"AWS_ACCESS_KEY_ID=" + id,
			"aws_access_key_id = " + id,
			`{"AccessKeyId": "` + sts + `", "Expiration": "2026-01-01T00:00:00Z"}`,
			`new S3Client({ credentials: { accessKeyId: "` + id + `", secretAccessKey } })`,
			`accessKeyId:"` + sts + `",`,
		},
		FalsePositives: []string{
			`aws_access_key_id = AKIAIOSFODNN7EXAMPLE`, // AWS's documentation key
			`AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX`,
			`msgstr "TODAYINASIAASACKOFRICEFELLOVER"`,
			"AKIA" + fake("aws-fp-short", base32, 15),
			"AKIA" + fake("aws-fp-lower", lowerAZ, 16), // lower case
			"AKIA" + fake("aws-fp-digits", "0189", 16), // 0, 1, 8, 9 are not base32
		},
	})

	// AWS secret access keys: 40 characters of [A-Za-z0-9/+] with nothing
	// to identify them, so the rule needs the name they are stored under on
	// the same line: aws_secret_access_key (~/.aws/credentials),
	// AWS_SECRET_ACCESS_KEY, secretAccessKey (SDKs), SecretAccessKey (STS
	// JSON). Mixed-case letters are required, which rules out 40-hex git
	// SHAs.
	// Verified: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html,
	// gitleaks/gitleaks cmd/generate/config/rules/aws.go (AKIAIOSFODNN7EXAMPLE
	// pair), trufflesecurity/trufflehog pkg/detectors/aws.
	rs = append(rs, &Rule{
		ID:          "aws-secret-access-key",
		Provider:    "AWS",
		Description: "AWS secret access key",
		Keywords:    []string{"secret"},
		Regex: regexp.MustCompile(`(?i:aws[\w.-]{0,20}?secret[\w.-]{0,20}?|secret[_.-]?access[_.-]?key)\\?["']?\s*(?:=>|:=|[=:])\s*\\?["'\x60]?` +
			`(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
		Entropy:  4.0,
		Validate: mixedCase,
		Severity: Critical,
		TruePositives: []string{
			"AWS_SECRET_ACCESS_KEY=" + secret,
			"[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n",
			`{"AccessKeyId":"` + sts + `","SecretAccessKey":"` + secret2 + `","SessionToken":"x"}`,
			`credentials: { accessKeyId: "` + id + `", secretAccessKey: "` + secret2 + `" },`,
			`export AWS_SECRET_KEY="` + secret2 + `"`,
		},
		FalsePositives: []string{
			`aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`, // AWS's documentation key
			`AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}`,
			`aws_secret_access_key = ` + fake("aws-fp-sha", hexLower, 40),
			`AWS_SECRET_ACCESS_KEY=` + fake("aws-fp-short", base62, 39),
			`secret = "` + secret + `"`, // a 40-character secret of some other kind
			strings.Repeat("A", 40),
		},
	})
	return rs
}
