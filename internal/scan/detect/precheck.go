package detect

import "bytes"

// prechecks cut a window into the pieces a rule's regex must run on,
// leaving out the pieces where it provably cannot match. A precheck must
// return pieces such that running the regex on each piece finds exactly the
// matches that running it on the whole window finds: every match lies
// within one piece, and the piece boundaries look the same to the regex's
// assertions as they do within the window. The generic rules need them:
// their keywords are common words and their regexes have no literal prefix,
// so on keyword-dense text (minified JavaScript) the windows cover nearly
// everything and the regex engine does nearly all the work.
var prechecks = map[string]func(data []byte, s span) []span{
	"generic-secret":        quotedPieces,
	"generic-config-secret": configLines,
	"aws-secret-access-key": awsValue,
}

// byteSet is a set of bytes.
type byteSet [256]bool

func newByteSet(chars string) *byteSet {
	var b byteSet
	for i := 0; i < len(chars); i++ {
		b[chars[i]] = true
	}
	return &b
}

func (b *byteSet) not() *byteSet {
	var n byteSet
	for i := range n {
		n[i] = !b[i]
	}
	return &n
}

func (b *byteSet) or(o *byteSet) *byteSet {
	var n byteSet
	for i := range n {
		n[i] = b[i] || o[i]
	}
	return &n
}

const wordBytes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

// highBytes holds every non-ASCII byte: the bytes of the multi-byte runes
// that (?i) letters fold to (K as U+212A, s as U+017F), and of any rune a
// negated class accepts.
var highBytes = func() *byteSet {
	var b byteSet
	for i := 0x80; i < 256; i++ {
		b[i] = true
	}
	return &b
}()

// generic-secret's regex (rules/generic.go) is
//
//	secretName \\?["'`]?\]?\s*(?:=>|:=|[=:]|\?\?|\|\|)\s*(?:[\w$.]+\s*(?:\?\?|\|\|)\s*)?
//	\\?["'`](?P<secret>[^\s"'`\\<>;{}\[\]]{16,200})\\?["'`]
//
// It has no assertions (^, $, \b), and none of ";", "{", "}" and "[" can
// occur in a match: secretName is letters (and the multi-byte runes they
// fold to) and "_.-", the rest is quotes, backslashes, "]", whitespace,
// the operators, [\w$.] and the value class, which excludes all four. So
// the matches in a window are the matches in its pieces between those
// bytes. A piece can hold a match only if it holds an operator byte
// ("=", ":", "?" or "|") and a quote followed by at least 16 bytes of the
// value class (a value of 16 runes is at least 16 bytes; every non-ASCII
// byte is in the class) and then a quote or a backslash and a quote (the
// class holds neither, so the value ends where its run does).
var (
	quotedSplit = newByteSet(";{}[")
	quotes      = newByteSet("\"'`")
	quotedValue = newByteSet(" \t\n\f\r\"'`\\<>;{}[]").not()
	operators   = newByteSet("=:?|")
)

func quotedPieces(data []byte, s span) []span {
	var out []span
	start := s.start
	for i := s.start; i <= s.end; i++ {
		if i < s.end && !quotedSplit[data[i]] {
			continue
		}
		if quotedCandidate(data[start:i]) {
			out = append(out, span{start, i})
		}
		start = i + 1
	}
	return out
}

func quotedCandidate(p []byte) bool {
	if len(p) < 18 {
		return false
	}
	op := false
	for _, c := range p {
		if operators[c] {
			op = true
			break
		}
	}
	if !op {
		return false
	}
	run := -1 // value bytes since the last quote, or -1 after a non-value byte
	for i, c := range p {
		switch {
		case quotes[c]:
			if run >= 16 {
				return true
			}
			run = 0
		case run >= 0 && quotedValue[c]:
			run++
		case c == '\\' && run >= 16 && i+1 < len(p) && quotes[p[i+1]]:
			return true
		default:
			run = -1
		}
	}
	return false
}

// generic-config-secret's regex (rules/generic.go) is
//
//	(?m)^[ \t]*(?:export[ \t]+|-[ \t]+)?[\w.:/@-]{0,80}?secretName[ \t]*[=:][ \t]*
//	(?P<secret>[^\s"'`#&(){}\[\]<>;,]{16,200})[ \t\r]*(?:#[^\n]*)?$
//
// No part of it matches "\n", so a match starts at a line start (^) and
// ends at the line's end ($ matches only before "\n" or at the end of the
// text): a match is a whole line of the window, the window's first and last
// pieces counting as lines as they do for the regex. So the matches in a
// window are the matches in its lines, and a line can only match if
//
//   - "#" does not occur before the value (no part before it matches "#"),
//     so the line's body is what precedes its first "#";
//   - the body, trailing [ \t\r] trimmed, ends in a run of at least 16
//     bytes of the value class that holds the value (bytes before the value
//     are in the prefix set [ \t\w.:/@=-] or non-ASCII, which all but space
//     and tab are in the value class too, so the run may start earlier);
//   - every byte before that run is in the prefix set, and the body holds
//     "=" or ":".
var (
	configValue  = newByteSet(" \t\n\f\r\"'`#&(){}[]<>;,").not()
	configPrefix = newByteSet(wordBytes + " \t.:/@=-").or(highBytes)
)

func configLines(data []byte, s span) []span {
	var out []span
	start := s.start
	for start <= s.end {
		end := s.end
		if i := bytes.IndexByte(data[start:s.end], '\n'); i >= 0 {
			end = start + i
		}
		if configCandidate(data[start:end]) {
			out = append(out, span{start, end})
		}
		start = end + 1
	}
	return out
}

func configCandidate(line []byte) bool {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t\r")
	r := len(line)
	for r > 0 && configValue[line[r-1]] {
		r--
	}
	if len(line)-r < 16 {
		return false
	}
	for _, c := range line[:r] {
		if !configPrefix[c] {
			return false
		}
	}
	return bytes.ContainsAny(line, "=:")
}

// aws-secret-access-key's regex (rules/aws.go, and tight.go) puts its
// value, (?P<secret>[A-Za-z0-9/+]{40}), between a byte outside that class
// (an operator, white space, a quote or a backslash: nothing else may
// precede it) and a byte outside [A-Za-z0-9/+=] or the end. So a window can
// only match if it holds a maximal run of exactly 40 bytes of the class;
// otherwise it is left out whole.
var awsClass = newByteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+")

func awsValue(data []byte, s span) []span {
	run := 0
	for i := s.start; i < s.end; i++ {
		if awsClass[data[i]] {
			run++
			continue
		}
		if run == 40 {
			return []span{s}
		}
		run = 0
	}
	if run == 40 {
		return []span{s}
	}
	return nil
}
