package rules

import (
	"regexp"
	"strings"
)

// Building blocks shared by the rule regexes. Go's regexp is RE2: matching
// is linear in the input, but it has no lookaround, so boundaries that must
// not be part of the secret are consumed outside the "secret" group.
const (
	// before is the left edge of a prefixed token: a word boundary, or an
	// escape that ends right before the token, as in a URL-encoded body
	// ("%22sk-…", "Bearer%20sk-…") or a JSON/shell string ("\nsk-…").
	// A leading "_" or letter is no boundary, so "risk-", "task-" and
	// "rhf_" never start a token.
	before = `(?:\b|%[0-9A-Fa-f]{2}|\\[nrt])`

	// afterDash ends a token whose alphabet includes "-" and "_" (so it
	// may end in one, where \b would not hold): the next character must be
	// outside that alphabet.
	afterDash = `(?:[^A-Za-z0-9_-]|$)`
)

// token compiles a regex for a self-identifying token: body is the token's
// pattern, end its right boundary (\b for alphanumeric tails, afterDash
// otherwise).
func token(body, end string) *regexp.Regexp {
	return regexp.MustCompile(before + `(?P<secret>` + body + `)` + end)
}

// loose returns a Redact shape: a token that starts with body, after the
// same left edge as token's, and runs as far as body's repeats do, with no
// right boundary, so a key cut short still matches. Every match holds one
// of keywords.
func loose(body string, keywords ...string) *Shape {
	return &Shape{Keywords: keywords, Regex: regexp.MustCompile(before + `(?P<secret>` + body + `)`)}
}

// near compiles a regex for a value with no prefix of its own: it must
// follow one of the context words (case-insensitive) on the same line, or
// inside the YAML/JSON block the word names (see nearGap), after an
// assignment or call operator, optionally quoted and optionally as a Bearer
// credential. That covers
//
//	MISTRAL_API_KEY=…            export MISTRAL_API_KEY="…"
//	mistral_api_key: …           {"mistral_api_key": "…"}
//	new Mistral({ apiKey: "…" }) Mistral(api_key="…")
//	curl https://api.mistral.ai/… -H "Authorization: Bearer …"
//	mistral:
//	  api_key: …
//
// An assignment's value may sit on the next line (Prettier breaks
// `apiKey:` before a long string); an argument's must follow "(" or "," on
// the same line, or the comma that ends one line of a list would pair a
// context word with whatever starts the next.
//
// value must carry its own right boundary.
func near(context, value string) *regexp.Regexp {
	return regexp.MustCompile(`(?i:` + context + `)` + nearGap + nearOperator + nearValue(value))
}

// nearOrNamed is near, or the value assigned straight to one of names
// (case-insensitive), in any syntax that assigns:
//
//	OPENAI_API_KEY=…      openai.api_key = '…'     os.environ["OPENAI_API_KEY"] = "…"
//	apiKey: "…"           'api-key': '…'           -H "api-key: …"
//
// It is for rules with a Context (see Rule): a generic name says nothing
// about whose key it is, the context around it does.
func nearOrNamed(context, names, value string) *regexp.Regexp {
	return regexp.MustCompile(`(?:(?i:` + context + `)` + nearGap + nearOperator +
		`|(?i:` + names + `)\\?["'\x60]?\]?\s*(?:=>|:=|[=:]|\?\?|\|\|)\s*)` + nearValue(value))
}

// nearOperator is what separates a name from its value: an assignment
// (=, :, =>, ??, ||) or a call's "(" or ",".
const nearOperator = `(?:(?:=>|[=:]|\?\?|\|\|)\s*|[(,][ \t]*)`

// nearValue is the value after its operator: optionally quoted (also as
// escaped JSON) and optionally a Bearer credential.
func nearValue(value string) string {
	return `(?:\\?["'\x60]\s*)?(?:(?i:bearer|token)\s+)?(?P<secret>` + value + `)`
}

// nearGap is what may separate a context word from its value's operator:
// up to 80 characters on the same line, or, when the word names a YAML or
// JSON block ("mistral:" / "mistral": {), the rest of that line and up to
// three more indented lines of the block. A word in a comment on the line
// above ("# mistral") is not enough, also when the lines are in an escaped
// string ("# mistral\nAPI_KEY=…"): an escaped line break ends the line,
// and separates the lines of an escaped block.
const nearGap = `(?:(?:[^\r\n\\]|\\[^nr\r\n]){0,80}?|[\w.-]{0,30}["']?:[ \t]*\{?[ \t]*` + lineBreak + `(?:[ \t]+[^\r\n]{0,80}` + lineBreak + `){0,3}[ \t]+[^\r\n]{0,40}?)`

// lineBreak is a line break, or one escaped in a string ("\n", "\r\n").
const lineBreak = `(?:\r?\n|(?:\\r)?\\n)`

// mixedCase reports whether s has both upper- and lower-case letters. Keys
// drawn from base62 almost always do; hex digests (MD5, git SHAs) and
// lower-case identifiers never do, which is what it is for: a context rule
// for 32 or 40 alphanumerics must not report a checksum next to "cohere".
func mixedCase(s string) bool {
	return strings.ContainsFunc(s, isUpper) && strings.ContainsFunc(s, isLower)
}

func isUpper(r rune) bool { return 'A' <= r && r <= 'Z' }
func isLower(r rune) bool { return 'a' <= r && r <= 'z' }
func isDigit(r rune) bool { return '0' <= r && r <= '9' }
