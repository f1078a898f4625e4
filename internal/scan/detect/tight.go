package detect

// Tight windows. The default window (512 bytes before a keyword, 1 KiB
// after) is sized for any rule; for rules whose keywords are common words
// ("key", "token", "secret"), on keyword-dense text such as minified React
// bundles, those windows merge into nearly the whole text and the regex
// engine does nearly all the work. For such a rule a tight window ends where
// a match holding the keyword hit must have ended, which the bytes after the
// hit tell:
//
//   - Between the keyword and the value's first byte a match holds only
//     bytes of the rule's "name" set (the rest of the name, quotes,
//     operators, white space). Let p be the first byte after the hit that is
//     not in that set: the value's opening quote (or first byte) lies before
//     p, so p lies inside the value or after the match.
//   - The value holds only bytes of the "value" set, so from p the value
//     ends at the first byte outside it (v), or within valueMax bytes.
//   - After the value a match has at most tail more bytes.
//
// So every match that contains the hit ends before v + tail + 1. A match
// starts at most before bytes ahead of a keyword hit it contains (the
// automaton reports every hit, overlapping ones too): generic-secret's
// names put at most 11 bytes ahead of their first keyword ("encryption_"
// before "key"; "webhooK_", "acceſſ_", "ſervice_" and "ſigning_" are
// shorter in bytes), and the AWS rule "aws" (four bytes with "ſ") and 20
// more before "secret".
//
// A name spelled with U+017F (ſ, which (?i) matches as "s") may hold no
// keyword the automaton sees ("ſecret"); tight rules therefore also take a
// window around every "ſ", once the text has one of their keywords at all,
// as Find requires.
type tight struct {
	name, value *byteSet
	valueMax    int
	tail        int
	// structured, when set, replaces the name-set run with a walk that
	// follows the regex's structure (see genericEnd).
	structured func(data []byte, hitEnd int) int
}

// longS is U+017F LATIN SMALL LETTER LONG S.
const longS = "\u017f"

// tightWindows holds the rules that use tight windows. Their regexes are
// pinned (testdata/precheck-regexes.golden) like the prechecks' are, since
// the sets below are read off them.
var tightWindows = map[string]window{
	// generic-secret (see precheck.go for the regex): the name's rest is
	// letters (or their multi-byte folds) and "_.-", then \\?, a quote,
	// "]", white space, "=>", ":=", "=", ":", "??", "||", optionally
	// [\w$.]+ and another operator, then \\? and the opening quote. The
	// value is at most 200 runes of quotedValue (800 bytes), then \\? and
	// a quote.
	"generic-secret": {before: 16, after: 16, tight: &tight{structured: genericEnd}},
	// aws-secret-access-key's regex (rules/aws.go) is
	//
	//	(?i:aws[\w.-]{0,20}?secret[\w.-]{0,20}?|secret[_.-]?access[_.-]?key)
	//	\\?["']?\s*(?:=>|:=|[=:])\s*\\?["'\x60]?(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)
	//
	// The value is 40 bytes of [A-Za-z0-9/+], then one rune (up to four
	// bytes) or the end.
	"aws-secret-access-key": {before: 28, after: 28, tight: &tight{
		name:     newByteSet(wordBytes + ".-\\\"'` \t\n\f\r=:>").or(highBytes),
		value:    newByteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"),
		valueMax: 40,
		tail:     4,
	}},
}

// end returns where the tight window of a hit ending at hitEnd ends.
func (t *tight) end(data []byte, hitEnd int) int {
	if t.structured != nil {
		return t.structured(data, hitEnd)
	}
	p := hitEnd
	for p < len(data) && t.name[data[p]] {
		p++
	}
	v, limit := p, min(len(data), p+t.valueMax)
	for v < limit && t.value[data[v]] {
		v++
	}
	return min(len(data), v+t.tail+1)
}

// Byte sets of generic-secret's structure: the characters of a name
// (secretName's letters, digits, "_.-" and the multi-byte runes letters
// fold to), of the zone between name and value (\\?["'`]?\]?\s* before
// the operator, the operators "=>", ":=", "=", ":", "??", "||", \s* and
// \\?["'`] after it), and of the fallback expression [\w$.]+ in
// `process.env.X ?? "value"`. The zone and the fallback sets are disjoint.
var (
	nameBytes     = newByteSet(wordBytes + ".-").or(highBytes)
	zoneBytes     = newByteSet("\\\"'`] \t\n\f\r=:>?|")
	fallbackBytes = newByteSet(wordBytes + "$.")
)

// genericEnd bounds the end of a generic-secret match whose name holds the
// keyword hit ending at hitEnd (the first keyword in the name, which every
// match has; see tight.go's top comment for why that hit's window is the
// one that must cover the match). The regex reads
//
//	name zone [fallback zone] value \\?quote
//
// where the name's rest after the keyword is nameBytes (and ends where the
// run of them does: what follows a name, zone or operator, is none of
// them), the zones are zoneBytes, the fallback fallbackBytes and the value
// at most 800 bytes of quotedValue. Walking the same way, each run stops at
// or after the part it stands for, or inside the value: a run that enters
// the value can only stop at a value byte or past the value's closing
// quote, and the value run from any point inside the value reaches its end.
// So the match ends before v + 3, where v ends that value run.
func genericEnd(data []byte, hitEnd int) int {
	skip := func(i int, set *byteSet) int {
		for i < len(data) && set[data[i]] {
			i++
		}
		return i
	}
	i := skip(hitEnd, nameBytes)
	i = skip(i, zoneBytes)
	if i < len(data) && fallbackBytes[data[i]] {
		i = skip(i, fallbackBytes)
		i = skip(i, zoneBytes)
	}
	v, limit := i, min(len(data), i+800)
	for v < limit && quotedValue[data[v]] {
		v++
	}
	return min(len(data), v+3)
}
