package nextaudit

// Directives returns the directives of a module's prologue ("use client",
// "use server", "use strict", …): the string literals that stand alone as
// statements before anything else, after an optional hashbang, white space
// and comments. A directive later in the file, or in a comment, is not one.
func Directives(src []byte) []string {
	var out []string
	i := 0
	if len(src) >= 2 && src[0] == '#' && src[1] == '!' {
		for i < len(src) && src[i] != '\n' {
			i++
		}
	}
	// A UTF-8 byte order mark may open the file.
	if len(src) >= i+3 && src[i] == 0xEF && src[i+1] == 0xBB && src[i+2] == 0xBF {
		i += 3
	}
	for {
		i = skipSpaceAndComments(src, i)
		if i >= len(src) || src[i] != '"' && src[i] != '\'' {
			return out
		}
		q := src[i]
		j := i + 1
		for j < len(src) && src[j] != q && src[j] != '\n' {
			if src[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(src) || src[j] != q {
			return out // unterminated: not a directive
		}
		val := string(src[i+1 : j])
		// The literal must end the statement: ";", a newline, "}" or the
		// end of the file, with only comments and spaces between. Anything
		// else ('use client'.length, 'a' + b) makes it an expression.
		k := j + 1
		end := false
		for k < len(src) {
			c := src[k]
			if c == ' ' || c == '\t' || c == '\r' {
				k++
				continue
			}
			if c == '/' && k+1 < len(src) && src[k+1] == '*' {
				k = skipSpaceAndComments(src, k)
				continue
			}
			if c == '/' && k+1 < len(src) && src[k+1] == '/' || c == '\n' || c == ';' {
				end = true
			}
			break
		}
		if k >= len(src) {
			end = true
		}
		if !end {
			return out
		}
		// A newline alone ends the statement only if the next line does
		// not continue the expression.
		if k < len(src) && src[k] != ';' {
			n := skipSpaceAndComments(src, k)
			if n < len(src) && continuesExpression(src[n]) {
				return out
			}
		}
		out = append(out, val)
		if k < len(src) && src[k] == ';' {
			k++
		}
		i = k
	}
}

// continuesExpression reports whether a line starting with c continues the
// expression on the line before (so no semicolon is inserted).
func continuesExpression(c byte) bool {
	switch c {
	case '.', '(', '[', '+', '-', '*', '/', '%', '=', '<', '>', '&', '|', '^', '?', ':', ',', '`':
		return true
	}
	return false
}

// skipSpaceAndComments returns the offset of the first byte at or after i
// that is neither white space nor inside a comment.
func skipSpaceAndComments(src []byte, i int) int {
	for i < len(src) {
		switch c := src[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			j := i + 2
			for j+1 < len(src) && !(src[j] == '*' && src[j+1] == '/') {
				j++
			}
			if j+1 >= len(src) {
				return len(src)
			}
			i = j + 2
		default:
			return i
		}
	}
	return i
}

// hasDirective reports whether src's prologue holds the directive d.
func hasDirective(src []byte, d string) bool {
	for _, x := range Directives(src) {
		if x == d {
			return true
		}
	}
	return false
}
