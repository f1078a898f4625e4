// Package rules holds keyward's secret-detection rules: one file per
// provider, each rule with the keywords that gate it, the regex that finds
// it, an entropy floor, optional structural validation (checksums, decoded
// claims), and true- and false-positive samples that the tests run.
//
// Rules are data for the detector (internal/scan/detect), which prefilters
// with the keywords (Aho-Corasick) and runs the regex on a window around
// each hit. Find is the plain reference implementation of a rule, used by
// the rule tests and as the detector's oracle.
package rules

import (
	"math"
	"regexp"
	"strings"
)

// Severity orders findings.
type Severity string

// Severities.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Rule describes one kind of secret.
type Rule struct {
	// ID is stable and kebab-case: "openai-project-key".
	ID string
	// Provider names whose secret it is: "OpenAI".
	Provider string
	// Description says what was found, for reports.
	Description string
	// Keywords are lower-case literals; text that contains none of them
	// (case-insensitively) cannot match. Prefixes work best ("sk-proj-").
	Keywords []string
	// Regex finds candidates. The secret is the submatch named "secret" if
	// there is one, else the whole match.
	Regex *regexp.Regexp
	// Entropy is the minimum Shannon entropy, in bits per character, of
	// the secret (0: no floor).
	Entropy float64
	// Validate, when set, must accept the secret (checksums, structure).
	Validate func(secret string) bool
	// Severity of a finding (default High).
	Severity Severity
	// TruePositives are snippets in which Find must report exactly one
	// secret; FalsePositives are snippets in which it must report none.
	// Sample keys are fake, built for tests; never commit a real one.
	TruePositives  []string
	FalsePositives []string
}

// Match is one secret found by a rule.
type Match struct {
	Rule *Rule
	// Secret is the matched secret; Start and End are its byte offsets.
	Secret     string
	Start, End int
}

var all []*Rule

// register adds rules at init time; every provider file calls it.
func register(rs ...*Rule) { all = append(all, rs...) }

// All returns every rule.
func All() []*Rule { return all }

// Find reports the secrets the rule finds in text, checking keywords,
// regex, entropy, placeholders and validation in that order.
func (r *Rule) Find(text string) []Match {
	if !r.hasKeyword(text) {
		return nil
	}
	var out []Match
	idx := r.Regex.SubexpIndex("secret")
	for _, m := range r.Regex.FindAllStringSubmatchIndex(text, -1) {
		start, end := m[0], m[1]
		if idx > 0 {
			if m[2*idx] < 0 {
				continue
			}
			start, end = m[2*idx], m[2*idx+1]
		}
		if s := text[start:end]; r.Check(s) {
			out = append(out, Match{Rule: r, Secret: s, Start: start, End: end})
		}
	}
	return out
}

// Check applies the filters that follow the regex: entropy, placeholder
// and validation.
func (r *Rule) Check(secret string) bool {
	if r.Entropy > 0 && Entropy(secret) < r.Entropy {
		return false
	}
	if IsPlaceholder(secret) {
		return false
	}
	return r.Validate == nil || r.Validate(secret)
}

func (r *Rule) hasKeyword(text string) bool {
	if len(r.Keywords) == 0 {
		return true
	}
	lower := strings.ToLower(text)
	for _, k := range r.Keywords {
		if strings.Contains(lower, k) {
			return true
		}
	}
	return false
}

// Entropy is the Shannon entropy of s in bits per character.
func Entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

var placeholderWords = []string{
	"xxxx", "your", "example", "placeholder", "redacted", "dummy", "sample", "changeme", "insert", "replace",
	"<", ">", "${", "{{", "...", "****", "0000000000", "1234567890", "abcdefghij",
}

// maxTokenLen is the length up to which a secret counts as a token for the
// run-of-one-character test in IsPlaceholder; longer secrets are structured
// blobs (PEM blocks) whose encoded zero bytes form runs like "AAAAAAAAAAAB".
const maxTokenLen = 256

// IsPlaceholder reports whether a candidate is documentation, not a key:
// "sk-...", "sk-xxxx", "your-api-key", "<OPENAI_API_KEY>", "${KEY}",
// long runs of one character, or obvious sequences.
func IsPlaceholder(s string) bool {
	lower := strings.ToLower(s)
	for _, w := range placeholderWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	run, longest := 1, 1
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			run++
			longest = max(longest, run)
		} else {
			run = 1
		}
	}
	// A run of 8 in a random token is all but impossible, so it marks a
	// made-up one. In a long blob (an OpenSSH private key encodes several
	// zero-length fields as "AAAAAAAA…") only a run that dominates counts.
	return longest >= 8 && (len(s) <= maxTokenLen || longest*4 >= len(s))
}
