package rules

import (
	"hash/crc32"
	"strings"
)

// githubRules returns GitHub's rules, in report order.
func githubRules() []*Rule {
	var rs []*Rule
	// Any GitHub token, checksum or not, cut short or not.
	anyGitHub := loose(`(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}`, "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")
	pat := githubToken("github-pat", "ghp_", 36)
	oauth := githubToken("github-oauth", "gho_", 36)
	u2s := githubToken("github-u2s", "ghu_", 36)
	s2s := githubToken("github-s2s", "ghs_", 36)
	refresh := githubToken("github-refresh", "ghr_", 76)
	refresh36 := githubToken("github-refresh-36", "ghr_", 36)
	fine := "github_pat_" + fake("github-fine", base62, 22) + "_" + fake("github-fine-2", base62, 59)
	badSum := flipLast(pat) // right shape, wrong checksum

	githubFPs := []string{
		`GITHUB_TOKEN=ghp_...`,
		`GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
		`GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`,
		"GITHUB_TOKEN=" + badSum,
		"ghp_" + fake("github-fp-random", base62, 36), // random: the checksum fails
		"ghp_" + fake("github-fp-short", base62, 35),
		"commit 9c1f0b7e2d4a6c8e0f1a3b5d7c9e1f2a4b6c8d0e", // pre-2021 tokens were 40 hex, like this SHA
	}

	// GitHub tokens in the 2021 format: a type prefix (ghp_ personal,
	// gho_ OAuth, ghu_ app user-to-server, ghs_ app installation, ghr_ app
	// refresh) and 36 base62 characters (ghr_: 36 or 76), the last 6 of
	// which are the CRC-32 of the others in base62. Validate checks that
	// checksum, so a random string of the right shape is not reported.
	// Verified: https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/,
	// google/osv-scalibr veles/secrets/github/checksum/checksum.go (CRC-32
	// of the part after the prefix, 6 base62 digits "0-9A-Za-z"),
	// veles/secrets/github/apprefreshtoken_detector.go (ghr_ + 76).
	rs = append(rs, &Rule{
		ID:          "github-token",
		Provider:    "GitHub",
		Description: "GitHub personal access, OAuth, app or refresh token",
		Keywords:    []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"},
		Regex:       token(`(?:gh[pousr]_[A-Za-z0-9]{36}|ghr_[A-Za-z0-9]{76})`, `\b`),
		Redact:      anyGitHub,
		Entropy:     3.5,
		Validate:    githubChecksumOK,
		Severity:    High,
		TruePositives: append(contexts("GITHUB_TOKEN", pat),
			"GH_TOKEN="+oauth,
			`const octokit = new Octokit({ auth: "`+u2s+`" });`,
			`git clone https://x-access-token:`+s2s+`@github.com/acme/app.git`,
			`{"refresh_token":"`+refresh+`","expires_in":15897600}`,
			"GITHUB_APP_REFRESH_TOKEN="+refresh36,
		),
		FalsePositives: append(githubFPs, fine),
	})

	// GitHub fine-grained personal access tokens: github_pat_ + 22
	// alphanumerics + "_" + 59 alphanumerics, 93 characters. No public
	// checksum.
	// Verified: https://github.blog/changelog/2022-10-18-introducing-fine-grained-personal-access-tokens/,
	// google/osv-scalibr veles/secrets/github/pat_finegrained_detector.go.
	rs = append(rs, &Rule{
		ID:          "github-fine-grained-pat",
		Provider:    "GitHub",
		Description: "GitHub fine-grained personal access token",
		Keywords:    []string{"github_pat_"},
		Regex:       token(`github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}`, `\b`),
		Redact:      anyGitHub,
		Entropy:     3.5,
		Severity:    High,
		TruePositives: append(contexts("GITHUB_TOKEN", fine),
			`git remote set-url origin https://`+fine+`@github.com/acme/app.git`,
		),
		FalsePositives: append(githubFPs,
			pat,
			"github_pat_"+fake("github-fp-fine-short", base62, 22)+"_"+fake("github-fp-fine-short-2", base62, 58),
			`GITHUB_TOKEN=github_pat_xxxxxxxxxxxxxxxxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
		),
	})
	return rs
}

// githubChecksumOK reports whether the last 6 characters of a GitHub token
// are the base62 CRC-32 of the characters between the prefix and them.
func githubChecksumOK(tok string) bool {
	_, rest, ok := strings.Cut(tok, "_")
	if !ok || len(rest) <= 6 {
		return false
	}
	body, sum := rest[:len(rest)-6], rest[len(rest)-6:]
	return base62Encode(uint64(crc32.ChecksumIEEE([]byte(body))), 6) == sum
}

// base62Encode writes n in base62 ("0-9A-Za-z", the order GitHub and
// keyward use), left-padded with zeros to width digits.
func base62Encode(n uint64, width int) string {
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return string(out)
}
