// Package redact removes secrets from text before it reaches a log line or
// an error message: keyward's configured secrets, whole or in pieces, raw or
// encoded, and
// anything shaped like a provider key, a bearer token or a credential in a
// URL query (the Gemini-style ?key= leak).
package redact

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/keyward/keyward/internal/scan/rules"
)

// Pattern is a credential shape keyward refuses to print.
type Pattern struct {
	ID       string
	Provider string
	// Keywords are lower-case literals one of which every match contains
	// (in any letter case); they gate the regex so that ordinary text
	// costs a few substring checks.
	Keywords []string
	re       *regexp.Regexp
	// secret is the index of the submatch masked, 0 for the whole match.
	secret int
	// keepGroup leaves submatches 1 and 2 in place (a URL's "?key=", a
	// header's "Bearer ", the "@" after URL userinfo) around the mask.
	keepGroup bool
	// needAny, when set, holds bytes one of which the text must hold too
	// (the ":" or "=" of a header), for a keyword as common as "key".
	needAny string
	// rule is the scan rule the pattern comes from, nil for a format.
	rule *rules.Rule
	// kwIdx are the indexes of Keywords in gateWords, kw the same as a
	// set.
	kwIdx []int
	kw    wordSet
}

// Patterns are the key shapes: each scan rule's Redact shape, or its
// Regex when it has none (see rules.Rule.RedactShape), so the log redactor
// knows every format keyward scan does, and a key cut short in a log line
// still goes; then the formats no provider owns (a JWT). A false positive
// in a log line costs nothing.
var Patterns = append(fromRules(rules.All()),
	format("jwt", "JWT", `\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}`, "eyj"),
)

// contextual patterns keep their prefix (group 1) and redact the rest.
var contextual = []Pattern{
	pk("bearer", `(?i)(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*`, "bearer"),
	pk("url-credential", `(?i)([?&;](?:key|api[-_]?key|access[-_]?token|token|secret|sig|signature|password|x-goog-api-key)=)[^&\s"'<>#]+`, "="),
	withNeed(":=", pk("header-credential", `(?i)((?:x-api-key|api-key|x-goog-api-key|authorization|proxy-authorization|cookie)"?\s*[:=]\s*"?(?:(?:bearer|basic)\s+)?)[^\s"',;}]{6,}`, "key", "authorization", "cookie")),
	pk("userinfo", `(://[^/\s:@]*:)[^@\s/]+(@)`, "@"),
}

// gateWords are the distinct keywords of every pattern, lower case; a
// string is checked for each at most once.
var gateWords [][]byte

func init() {
	index := map[string]int{}
	for _, list := range [][]Pattern{Patterns, contextual} {
		for i := range list {
			for _, k := range list[i].Keywords {
				n, ok := index[k]
				if !ok {
					n = len(gateWords)
					index[k] = n
					gateWords = append(gateWords, []byte(k))
				}
				list[i].kw.add(n)
				list[i].kwIdx = append(list[i].kwIdx, n)
			}
		}
	}
	if len(gateWords) > maxGateWords {
		panic("redact: more than maxGateWords keywords")
	}
	for n, w := range gateWords {
		if len(w) == 1 {
			singleWords = append(singleWords, n)
			continue
		}
		byFirst[w[0]] = append(byFirst[w[0]], uint8(n))
		pair := uint16(w[0])<<8 | uint16(w[1])
		pairs[pair/64] |= 1 << (pair % 64)
	}
}

// The keyword index of the one-pass gate: the keywords of two bytes or
// more by their first byte, the first two bytes of each as a bitset, and
// the one-byte keywords.
var (
	byFirst     [256][]uint8
	pairs       [1 << 16 / 64]uint64
	singleWords []int
)

// fromRules returns a pattern for each distinct shape of rs, in their
// order: rules sharing a Redact shape (every Anthropic key type, say) share
// one pattern, named by the first of them.
func fromRules(rs []*rules.Rule) []Pattern {
	var out []Pattern
	seen := map[*regexp.Regexp]bool{}
	for _, r := range rs {
		sh := r.RedactShape()
		if seen[sh.Regex] {
			continue
		}
		seen[sh.Regex] = true
		out = append(out, Pattern{
			ID: r.ID, Provider: r.Provider, Keywords: sh.Keywords, re: sh.Regex,
			secret: max(0, sh.Regex.SubexpIndex("secret")), rule: r,
		})
	}
	return out
}

func format(id, provider, expr string, keywords ...string) Pattern {
	return Pattern{ID: id, Provider: provider, Keywords: keywords, re: regexp.MustCompile(expr)}
}

func pk(id, expr string, keywords ...string) Pattern {
	return Pattern{ID: id, Keywords: keywords, re: regexp.MustCompile(expr), keepGroup: true}
}

func withNeed(bytes string, p Pattern) Pattern {
	p.needAny = bytes
	return p
}

// Match returns the provider pattern that matches s, if any: the one of
// the rule that reports s as keyward scan would, else the first whose
// shape is in s.
func Match(s string) (Pattern, bool) {
	for _, pat := range Patterns {
		if pat.rule != nil && len(pat.rule.Find(s)) > 0 {
			return pat, true
		}
	}
	return matchShape(s)
}

// LooksLikeKey reports whether s contains a provider-key-shaped value.
func LooksLikeKey(s string) bool {
	_, ok := matchShape(s)
	return ok
}

func matchShape(s string) (Pattern, bool) {
	var buf [gateBuf]byte
	g := newGate(buf[:0], s)
	for i := range Patterns {
		if g.open(&Patterns[i]) && Patterns[i].re.MatchString(s) {
			return Patterns[i], true
		}
	}
	return Pattern{}, false
}

// scrub masks every match of pat in v.
func (pat *Pattern) scrub(v string) string {
	switch {
	case pat.keepGroup:
		return pat.re.ReplaceAllString(v, "${1}"+Mask+"${2}")
	case pat.secret == 0:
		return pat.re.ReplaceAllLiteralString(v, Mask)
	}
	ms := pat.re.FindAllStringSubmatchIndex(v, -1)
	if ms == nil {
		return v
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		start, end := m[2*pat.secret], m[2*pat.secret+1]
		if start < 0 {
			continue
		}
		b.WriteString(v[last:start])
		b.WriteString(Mask)
		last = end
	}
	b.WriteString(v[last:])
	return b.String()
}

const (
	// maxGateWords bounds the keywords, so a gate's word set is two words.
	maxGateWords = 128
	// gateBuf is the length up to which a string's lower-case copy is made
	// on the stack.
	gateBuf = 512
	// minSecret is the length of the shortest secret a rule's shape masks
	// (a cut-short AWS key ID, a generic password): a text with no run of
	// that many token characters holds none, and no rule's regex runs on it.
	minSecret = 16
)

// gate is the cheap test before a pattern's regex runs: whether the text
// holds one of its keywords, in any letter case, looked for on a
// lower-case copy of the text made once. A short text is read once for
// every keyword; in a long one each keyword is looked for (a vectorised
// search) when a pattern first asks, at most once.
type gate struct {
	lower []byte
	// tokens reports a run of minSecret token characters in the text.
	tokens bool
	found  wordSet // keywords in the text (of those looked for)
	// lazy is set for a long text, whose keywords in looked have been
	// looked for.
	lazy   bool
	looked wordSet
}

// newGate returns the gate of s, whose lower-case copy goes to buf.
func newGate(buf []byte, s string) gate {
	g := gate{}
	g.lower, g.tokens = appendLower(buf, s)
	if g.lazy = len(g.lower) > longText; !g.lazy {
		g.scan()
	}
	return g
}

// longText is the length past which keywords are looked for one by one.
const longText = 512

// wordSet is a set of indexes in gateWords.
type wordSet [maxGateWords / 64]uint64

func (w *wordSet) add(n int)           { w[n/64] |= 1 << (n % 64) }
func (w *wordSet) has(n int) bool      { return w[n/64]&(1<<(n%64)) != 0 }
func (w *wordSet) any(o *wordSet) bool { return w[0]&o[0] != 0 || w[1]&o[1] != 0 }

// none reports whether no pattern can open: a short text without any
// keyword.
func (g *gate) none() bool { return !g.lazy && g.found == wordSet{} }

// open reports whether s holds one of pat's keywords (and, for a rule's
// shape, a run as long as a secret).
func (g *gate) open(pat *Pattern) bool {
	if pat.secretShape() && !g.tokens || pat.needAny != "" && !bytes.ContainsAny(g.lower, pat.needAny) {
		return false
	}
	if !g.lazy {
		return g.found.any(&pat.kw)
	}
	for _, n := range pat.kwIdx {
		if g.holds(n) {
			return true
		}
	}
	return false
}

// holds reports whether the text holds keyword n.
func (g *gate) holds(n int) bool {
	if g.lazy && !g.looked.has(n) {
		g.looked.add(n)
		if bytes.Contains(g.lower, gateWords[n]) {
			g.found.add(n)
		}
	}
	return g.found.has(n)
}

// scan finds every keyword in the text, reading it once: at each byte only
// the keywords starting with it and the next byte are compared.
func (g *gate) scan() {
	for _, n := range singleWords {
		if bytes.IndexByte(g.lower, gateWords[n][0]) >= 0 {
			g.found.add(n)
		}
	}
	t := g.lower
	for i := 0; i+1 < len(t); i++ {
		ws := byFirst[t[i]]
		if len(ws) == 0 {
			continue
		}
		if pair := uint16(t[i])<<8 | uint16(t[i+1]); pairs[pair/64]&(1<<(pair%64)) == 0 {
			continue
		}
		for _, n := range ws {
			if bytes.HasPrefix(t[i:], gateWords[n]) {
				g.found.add(int(n))
			}
		}
	}
}

// secretShape reports whether pat masks a secret of its own, at least
// minSecret long: every pattern but the contextual ones, which mask what
// follows a "Bearer " or a "?key=", however short.
func (pat *Pattern) secretShape() bool { return !pat.keepGroup }

// appendLower appends s to dst with ASCII letters in lower case (every
// keyword is ASCII), and reports whether s has a run of minSecret token
// characters: none of them white space, a quote, a backslash or an angle
// bracket, which no key holds.
func appendLower(dst []byte, s string) ([]byte, bool) {
	run, long := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
			run++
		case c <= ' ', c == '"', c == '\'', c == '`', c == '\\', c == '<', c == '>':
			run = 0
		default:
			run++
		}
		long = long || run >= minSecret
		dst = append(dst, c)
	}
	return dst, long
}
