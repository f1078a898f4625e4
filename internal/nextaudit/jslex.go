package nextaudit

import "strings"

// tokKind is the kind of a JavaScript token.
type tokKind uint8

const (
	tokIdent    tokKind = iota + 1 // identifiers and keywords
	tokString                      // '…', "…" and the text parts of template literals; Text is the value
	tokNumber                      // numeric literals
	tokPunct                       // operators and punctuation
	tokRegex                       // regular expression literals
	tokTemplate                    // a template literal's text part; Text is the raw text
)

// token is one JavaScript token; Off is its byte offset in the source.
type token struct {
	Kind tokKind
	Text string
	Off  int
}

func (t token) is(k tokKind, text string) bool { return t.Kind == k && t.Text == text }

// punct3, punct2 are the multi-character punctuators lexJS recognises;
// anything else is one character.
var (
	punct4 = []string{">>>="}
	punct3 = []string{"===", "!==", "**=", "<<=", ">>=", ">>>", "...", "&&=", "||=", "??="}
	punct2 = []string{"=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>", "**"}
)

// regexAfterKeyword are keywords after which a slash starts a regex.
var regexAfterKeyword = map[string]bool{
	"return": true, "typeof": true, "instanceof": true, "in": true, "of": true, "new": true, "delete": true,
	"void": true, "throw": true, "case": true, "do": true, "else": true, "yield": true, "await": true,
}

// lexJS splits JavaScript (as esbuild prints it: no JSX, no types) into
// tokens, dropping comments and white space. It never fails: malformed
// input yields some tokens, never a panic, and never reads past the end.
func lexJS(src string) []token {
	var toks []token
	// braces tracks, for each open "{", whether it opened a template
	// substitution ("${"), so the matching "}" resumes the template.
	var braces []bool
	i := 0
	regexOK := func() bool {
		if len(toks) == 0 {
			return true
		}
		t := toks[len(toks)-1]
		switch t.Kind {
		case tokIdent:
			return regexAfterKeyword[t.Text]
		case tokPunct:
			return t.Text != ")" && t.Text != "]" && t.Text != "}" && t.Text != "++" && t.Text != "--"
		}
		return false
	}
	// template lexes a template literal's text from i (just after "`" or
	// the "}" closing a substitution) up to "`" or "${".
	template := func(start int) {
		var b strings.Builder
		for i < len(src) {
			c := src[i]
			if c == '\\' && i+1 < len(src) {
				b.WriteByte(src[i+1])
				i += 2
				continue
			}
			if c == '`' {
				i++
				toks = append(toks, token{tokTemplate, b.String(), start})
				return
			}
			if c == '$' && i+1 < len(src) && src[i+1] == '{' {
				i += 2
				toks = append(toks, token{tokTemplate, b.String(), start})
				braces = append(braces, true)
				return
			}
			b.WriteByte(c)
			i++
		}
		toks = append(toks, token{tokTemplate, b.String(), start})
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				i = len(src)
			} else {
				i += end + 4
			}
		case c == '"' || c == '\'':
			start := i
			i++
			var b strings.Builder
			for i < len(src) && src[i] != c && src[i] != '\n' {
				if src[i] == '\\' && i+1 < len(src) {
					i++
					b.WriteString(unescape(src, &i))
					continue
				}
				b.WriteByte(src[i])
				i++
			}
			if i < len(src) && src[i] == c {
				i++
			}
			toks = append(toks, token{tokString, b.String(), start})
		case c == '`':
			start := i
			i++
			template(start)
		case c == '}' && len(braces) > 0 && braces[len(braces)-1]:
			braces = braces[:len(braces)-1]
			start := i
			i++
			template(start)
		case isIdentStart(c):
			start := i
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			toks = append(toks, token{tokIdent, src[start:i], start})
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			start := i
			for i < len(src) && (isIdentPart(src[i]) || src[i] == '.') {
				i++
			}
			toks = append(toks, token{tokNumber, src[start:i], start})
		case c == '/' && regexOK():
			start := i
			i++
			inClass := false
			for i < len(src) && src[i] != '\n' {
				if src[i] == '\\' {
					i += 2
					continue
				}
				if src[i] == '[' {
					inClass = true
				} else if src[i] == ']' {
					inClass = false
				} else if src[i] == '/' && !inClass {
					break
				}
				i++
			}
			i = min(i+1, len(src))
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			toks = append(toks, token{tokRegex, src[start:i], start})
		default:
			start := i
			p := string(c)
			for _, set := range [][]string{punct4, punct3, punct2} {
				for _, q := range set {
					if strings.HasPrefix(src[i:], q) {
						p = q
						break
					}
				}
				if p != string(c) {
					break
				}
			}
			if c >= 0x80 {
				// A non-ASCII character outside strings: part of an
				// identifier in practice. Take the whole rune's bytes.
				j := i + 1
				for j < len(src) && src[j]&0xC0 == 0x80 {
					j++
				}
				p = src[i:j]
				toks = append(toks, token{tokIdent, p, start})
				i = j
				continue
			}
			i += len(p)
			if p == "{" {
				braces = append(braces, false)
			} else if p == "}" && len(braces) > 0 {
				braces = braces[:len(braces)-1]
			}
			toks = append(toks, token{tokPunct, p, start})
		}
	}
	return toks
}

// unescape decodes the escape sequence at src[*i] (just after the
// backslash) well enough for comparing names and hosts, and advances *i.
func unescape(src string, i *int) string {
	c := src[*i]
	*i++
	hex := func(n int) string {
		if *i+n > len(src) {
			return ""
		}
		var r rune
		for _, h := range src[*i : *i+n] {
			switch {
			case h >= '0' && h <= '9':
				r = r<<4 | (h - '0')
			case h >= 'a' && h <= 'f':
				r = r<<4 | (h - 'a' + 10)
			case h >= 'A' && h <= 'F':
				r = r<<4 | (h - 'A' + 10)
			default:
				return ""
			}
		}
		*i += n
		return string(r)
	}
	switch c {
	case 'n':
		return "\n"
	case 't':
		return "\t"
	case 'r':
		return "\r"
	case 'x':
		return hex(2)
	case 'u':
		if *i < len(src) && src[*i] == '{' {
			end := strings.IndexByte(src[*i:], '}')
			if end < 0 || end > 7 {
				return ""
			}
			*i++
			s := hex(end - 1)
			*i++
			return s
		}
		return hex(4)
	case '\n':
		return ""
	}
	return string(c)
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
