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
	"fmt"
	"math"
	"regexp"
	"slices"
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

// Severities lists every severity, worst first: the values scan findings
// and audit findings carry, and --fail-on accepts.
var Severities = []Severity{Critical, High, Medium, Low}

// ParseSeverity reads a severity's name ("high"), as --fail-on takes it.
func ParseSeverity(name string) (Severity, error) {
	s := Severity(strings.ToLower(strings.TrimSpace(name)))
	if slices.Contains(Severities, s) {
		return s, nil
	}
	names := make([]string, len(Severities))
	for i, v := range Severities {
		names[i] = string(v)
	}
	return "", fmt.Errorf("unknown severity %q: want one of %s", name, strings.Join(names, ", "))
}

// AtLeast reports whether s is as bad as threshold or worse. A severity
// that is none of Severities counts as the worst, so a malformed one never
// lets a finding pass a threshold.
func (s Severity) AtLeast(threshold Severity) bool {
	rank := func(v Severity) int {
		if i := slices.Index(Severities, v); i >= 0 {
			return i
		}
		return 0
	}
	return rank(s) <= rank(threshold)
}

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
	// Context, when set, must also match near the secret: in the text from
	// ContextReach bytes before it to ContextReach bytes after it. It is for
	// values with no prefix of their own whose provider is often named on
	// another line (an Azure endpoint above OPENAI_API_KEY=…). Every match of
	// Context holds one of Keywords: the detector looks around them.
	Context *regexp.Regexp
	// Severity of a finding (default High).
	Severity Severity
	// Redact, when set, is a looser shape of the rule's secrets for the log
	// redactor (internal/redact): a key cut short or slightly off in a log
	// line must still be masked, where a report must be exact. It sits next
	// to Regex so the two cannot drift. Without it the redactor uses
	// Keywords and Regex (see RedactShape).
	Redact *Shape
	// TruePositives are snippets in which Find must report exactly one
	// secret; FalsePositives are snippets in which it must report none.
	// Sample keys are fake, built for tests; never commit a real one.
	TruePositives  []string
	FalsePositives []string
}

// Shape is a loose pattern of secrets: what the log redactor masks, where
// a false positive costs nothing and a miss prints a key.
type Shape struct {
	// Keywords gate Regex as a Rule's gate its Regex: lower-case literals,
	// one of which every match holds (case-insensitively).
	Keywords []string
	// Regex finds the secret: the submatch named "secret" if there is one,
	// else the whole match.
	Regex *regexp.Regexp
}

// RedactShape returns what the log redactor masks for the rule: its Redact
// shape, or else its Keywords and Regex, which the redactor runs without
// the entropy, placeholder, validation and context filters.
func (r *Rule) RedactShape() Shape {
	if r.Redact != nil {
		return *r.Redact
	}
	return Shape{Keywords: r.Keywords, Regex: r.Regex}
}

// ContextReach is how far from a secret, before or after it, a rule's
// Context may be found: about fifteen lines of code, or the settings block
// a key is written in.
const ContextReach = 1 << 10

// Match is one secret found by a rule.
type Match struct {
	Rule *Rule
	// Secret is the matched secret; Start and End are its byte offsets.
	Secret     string
	Start, End int
}

// Find reports the secrets the rule finds in text, checking keywords,
// regex, entropy, placeholders, validation and context in that order.
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
		if s := text[start:end]; r.Check(s) && inContext(r.Context, text, start, end) {
			out = append(out, Match{Rule: r, Secret: s, Start: start, End: end})
		}
	}
	return out
}

// InContext reports whether the rule's Context matches around the secret
// at text[start:end] (always, for a rule without one). The detector calls
// it on the bytes it scans, Find on its text: the same test.
func (r *Rule) InContext(text []byte, start, end int) bool {
	return inContext(r.Context, text, start, end)
}

func inContext[T string | []byte](re *regexp.Regexp, text T, start, end int) bool {
	if re == nil {
		return true
	}
	around := text[max(0, start-ContextReach):min(len(text), end+ContextReach)]
	switch t := any(around).(type) {
	case string:
		return re.MatchString(t)
	case []byte:
		return re.Match(t)
	}
	return false
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
