// Package detect finds secrets in bytes with keyward's rules: an
// Aho-Corasick automaton over every rule's keywords picks the rules worth
// running and where, each candidate rule's regex runs only on a bounded
// window around its keyword hits, and the candidates then pass the rule's
// entropy, placeholder and validation filters, are deduplicated and get a
// stable fingerprint.
//
// A Detector agrees with the rules' reference implementation (rules.Rule.Find
// on the same text) for every match that lies within its rule's window of
// one of its keywords; see window for the bounds.
package detect

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"

	"github.com/keyward/keyward/internal/scan/rules"
)

// Finding is one secret found in the scanned bytes.
type Finding struct {
	RuleID      string
	Provider    string
	Description string
	Severity    rules.Severity
	// Secret is the matched value. Never print it: reports use Redact.
	Secret string
	// Start and End are byte offsets of the secret in the scanned bytes.
	Start, End int
	// Line and Column are 1-based; Column counts bytes.
	Line, Column int
}

// Fingerprint identifies a finding across runs and files: the same secret
// found by the same rule anywhere has the same fingerprint, so a baseline
// can list it without storing the secret.
func (f Finding) Fingerprint() string { return Fingerprint(f.RuleID, f.Secret) }

// Fingerprint is the first 16 hex digits of sha256(ruleID, NUL, secret).
func Fingerprint(ruleID, secret string) string {
	sum := sha256.Sum256([]byte(ruleID + "\x00" + secret))
	return hex.EncodeToString(sum[:8])
}

// Redact shows enough of a secret to recognise it and not enough to use it:
// a few leading characters (the provider prefix, usually), "…" and the last
// four. A PEM block shows only its BEGIN line.
func Redact(s string) string {
	if strings.HasPrefix(s, "-----BEGIN ") {
		if i := strings.Index(s[5:], "-----"); i >= 0 {
			return s[:i+10] + "…"
		}
	}
	if len(s) < 16 {
		return "…"
	}
	lead := min(8, len(s)/5)
	return s[:lead] + "…" + s[len(s)-4:]
}

// window is how far around a keyword hit a rule's regex must look. Every
// rule's match contains one of its keywords (TestKeywordInMatch holds the
// rules to it), so a window that reaches back further than any match starts
// before its keyword, and forward further than any match ends after it,
// finds what Find finds. Windows are widened to whole lines where the line
// ends within as many bytes again, which keeps "^" and "\b" at the window's
// edges true to the text.
type window struct {
	before, after int
	// whole runs the regex on all the bytes when a keyword occurs anywhere,
	// for rules whose keywords may lie outside the match; with anchor, only
	// on the windows (before, after) around each occurrence of anchor, a
	// literal every match holds.
	whole  bool
	anchor string
	// tight, when set, ends the window where a match holding the hit must
	// have ended (see tight.go) instead of after bytes past the hit.
	tight *tight
}

// defaultWindow covers the rules' longest bounded matches: a context word,
// up to four lines of a YAML block (nearGap) and a value of a few hundred
// characters after the keyword; a name prefix or an indented line start
// before it.
var defaultWindow = window{before: 512, after: 1024}

// windows holds the rules that need another window than defaultWindow.
var windows = map[string]window{
	// A PEM block runs from its BEGIN line (which holds the keyword) to its
	// END line: an RSA-4096 key is about 3.2 KiB, a PGP key block more.
	"private-key": {before: 512, after: 64 << 10},
	// A bare service_role JWT is found through keywords ("supabase",
	// "service_role") that may sit anywhere in the file, as they do in
	// Find. Every match starts with the boundary (at most three bytes,
	// "%22" or "\n"), then "eyJ", and is at most 2012 bytes from there
	// (503 + 1004 + 501 of JWT and a one-rune boundary); the regex itself
	// has no literal prefix for the engine to skip ahead with, so the
	// windows around each "eyJ" are what keeps it off the rest.
	"supabase-service-role-key": {whole: true, anchor: "eyJ", before: 8, after: 2020},
}

// contextWindow is the window of a rule with a Context (rules.Rule): its
// keywords are in the Context, which lies within rules.ContextReach bytes of
// the secret but need not be in the match (OPENAI_API_KEY=… two lines below
// an Azure endpoint). A match holding no keyword ends at most ContextReach
// bytes, plus the secret, after the keyword that opens its Context's match,
// and starts at most ContextReach bytes, plus its name and operator, before
// that Context match ends; a match holding a keyword is within
// defaultWindow of it. ContextReach plus defaultWindow's after on both sides
// covers both.
var contextWindow = window{before: rules.ContextReach + defaultWindow.after, after: rules.ContextReach + defaultWindow.after}

// kelvin is U+212A KELVIN SIGN, which strings.ToLower (and so Find's keyword
// check) turns into "k" and (?i) regexes match as "k"; ASCII
// case-insensitive matching alone would miss "\u212aey".
const kelvin = "\u212a"

// Detector finds secrets with a fixed set of rules. It is safe for
// concurrent use.
type Detector struct {
	rules []*rules.Rule
	win   []window
	ac    ahocorasick.AhoCorasick
	// patternRules maps an automaton pattern to the rules it gates.
	patternRules [][]int
	// longS is the automaton's pattern for "ſ", which opens tight windows
	// (see tight.go), or -1.
	longS int
}

// New builds a Detector for rs (usually rules.All()).
func New(rs []*rules.Rule) *Detector {
	d := &Detector{rules: rs, win: make([]window, len(rs)), longS: -1}
	index := map[string]int{} // pattern → index in patterns
	var patterns []string
	add := func(p string, rule int) {
		i, ok := index[p]
		if !ok {
			i = len(patterns)
			index[p] = i
			patterns = append(patterns, p)
			d.patternRules = append(d.patternRules, nil)
		}
		if !slices.Contains(d.patternRules[i], rule) {
			d.patternRules[i] = append(d.patternRules[i], rule)
		}
	}
	for i, r := range rs {
		w, ok := windows[r.ID]
		if !ok {
			w, ok = tightWindows[r.ID]
		}
		if !ok && r.Context != nil {
			w, ok = contextWindow, true
		}
		if !ok {
			w = defaultWindow
		}
		d.win[i] = w
		for _, k := range r.Keywords {
			for _, v := range kelvinVariants(k) {
				add(v, i)
			}
		}
	}
	for i := range rs {
		if d.win[i].tight != nil {
			add(longS, i)
			d.longS = index[longS]
		}
	}
	b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{
		AsciiCaseInsensitive: true,
		MatchKind:            ahocorasick.StandardMatch,
		DFA:                  true,
	})
	d.ac = b.Build(patterns)
	return d
}

// kelvinVariants returns k and every spelling of it with some of its "k"s
// written as the Kelvin sign.
func kelvinVariants(k string) []string {
	out := []string{k}
	for i := 0; i < len(k); i++ {
		if k[i] != 'k' {
			continue
		}
		for _, v := range out {
			// v has the same prefix length in bytes up to the first
			// replaced position only when replacements are left of i, so
			// find the i-th byte's counterpart by counting from the end.
			j := len(v) - (len(k) - i)
			out = append(out, v[:j]+kelvin+v[j+1:])
		}
	}
	return out
}

type span struct{ start, end int }

// Scan returns the secrets in data, ordered by position.
func (d *Detector) Scan(data []byte) []Finding {
	if len(data) == 0 {
		return nil
	}
	spans := make([][]span, len(d.rules))
	whole := make([]bool, len(d.rules))
	keyword := make([]bool, len(d.rules)) // a keyword, not just "ſ", was seen
	iter := d.ac.IterOverlappingByte(data)
	for m := iter.Next(); m != nil; m = iter.Next() {
		for _, ri := range d.patternRules[m.Pattern()] {
			w := d.win[ri]
			if w.whole {
				whole[ri] = true
				continue
			}
			if m.Pattern() != d.longS {
				keyword[ri] = true
			}
			s := span{max(0, m.Start()-w.before), min(len(data), m.End()+w.after)}
			if w.tight != nil {
				s.end = w.tight.end(data, m.End())
			}
			if n := len(spans[ri]); n > 0 && s.start <= spans[ri][n-1].end {
				last := &spans[ri][n-1]
				last.start, last.end = min(last.start, s.start), max(last.end, s.end)
				continue
			}
			spans[ri] = append(spans[ri], s)
		}
	}
	for ri := range spans {
		if !keyword[ri] {
			spans[ri] = nil // only "ſ": Find would not look
		}
	}

	type key struct{ rule, start, end int }
	seen := map[key]bool{}
	var out []Finding
	for ri, r := range d.rules {
		var ss []span
		if whole[ri] {
			ss = anchorSpans(data, d.win[ri])
		} else {
			ss = toLines(data, spans[ri], d.win[ri])
		}
		idx := r.Regex.SubexpIndex("secret")
		pre := prechecks[r.ID]
		for _, s := range ss {
			cutStart := s.start > 0 && data[s.start-1] != '\n'
			cutEnd := s.end < len(data) && data[s.end] != '\n'
			pieces := []span{s}
			if pre != nil {
				pieces = pre(data, s)
			}
			for _, p := range pieces {
				for _, m := range r.Regex.FindAllSubmatchIndex(data[p.start:p.end], -1) {
					if cutStart && m[0]+p.start == s.start || cutEnd && m[1]+p.start == s.end {
						continue // the cut, not the text, may have made it match
					}
					start, end := m[0], m[1]
					if idx > 0 {
						if m[2*idx] < 0 {
							continue
						}
						start, end = m[2*idx], m[2*idx+1]
					}
					start, end = start+p.start, end+p.start
					k := key{ri, start, end}
					if seen[k] {
						continue
					}
					seen[k] = true
					secret := string(data[start:end])
					if !r.Check(secret) || !r.InContext(data, start, end) {
						continue
					}
					sev := r.Severity
					if sev == "" {
						sev = rules.High
					}
					out = append(out, Finding{
						RuleID: r.ID, Provider: r.Provider, Description: r.Description, Severity: sev,
						Secret: secret, Start: start, End: end,
					})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), strings.Compare(a.RuleID, b.RuleID))
	})
	setPositions(data, out)
	return out
}

// anchorSpans returns the window around each occurrence of w.anchor, or
// all of data when w has no anchor.
func anchorSpans(data []byte, w window) []span {
	if w.anchor == "" {
		return []span{{0, len(data)}}
	}
	var ss []span
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(w.anchor))
		if j < 0 {
			break
		}
		i += j
		ss = append(ss, span{max(0, i-w.before), min(len(data), i+len(w.anchor)+w.after)})
		i += len(w.anchor)
	}
	return toLines(data, ss, w)
}

// toLines widens each span to whole lines where the line ends within the
// window's margin, then merges spans that came to overlap.
func toLines(data []byte, ss []span, w window) []span {
	slices.SortFunc(ss, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	out := ss[:0:0]
	for _, s := range ss {
		if s.start > 0 && data[s.start-1] != '\n' {
			lo := max(0, s.start-w.before)
			if i := bytes.LastIndexByte(data[lo:s.start], '\n'); i >= 0 {
				s.start = lo + i + 1
			}
		}
		if s.end < len(data) && data[s.end] != '\n' {
			hi := min(len(data), s.end+w.after)
			if i := bytes.IndexByte(data[s.end:hi], '\n'); i >= 0 {
				s.end += i
			}
		}
		if n := len(out); n > 0 && s.start <= out[n-1].end {
			out[n-1].start, out[n-1].end = min(out[n-1].start, s.start), max(out[n-1].end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// setPositions fills in Line and Column of findings sorted by Start.
func setPositions(data []byte, fs []Finding) {
	line, pos, lineStart := 1, 0, 0
	for i := range fs {
		seg := data[pos:fs[i].Start]
		if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
			line += n
			lineStart = pos + bytes.LastIndexByte(seg, '\n') + 1
		}
		pos = fs[i].Start
		fs[i].Line, fs[i].Column = line, fs[i].Start-lineStart+1
	}
}
