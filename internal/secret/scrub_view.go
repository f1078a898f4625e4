package secret

import (
	"bytes"
	"sort"
	"unicode/utf8"
)

// span is a half-open range of offsets into a source text.
type span struct{ a, b int64 }

// view is a text as a client could read it back, in each order the
// decoders a client applies may come in: as is, JSON string escapes
// decoded, percent-escapes decoded, and both in either order. Every layer
// is searched: a decoder can also hide text (%8b eats the two characters
// after it), so no single reading is enough. With tracking on, each layer
// knows the source range every one of its bytes was decoded from, so a
// match can be replaced in the source.
type view struct {
	n int
	l [5]layer
}

type layer struct {
	b  []byte
	at []span
	// scratch, reused across decodes; b and at alias their input when it
	// has no escapes, so they are never appended to
	buf []byte
	bat []span
}

// decode builds the view of src, whose byte i came from at[i] (or, when at
// is nil, from base+i).
func (vw *view) decode(src []byte, at []span, base int64, track bool) {
	raw := &vw.l[0]
	raw.b, raw.at = src, nil
	if track {
		raw.at = at
		if raw.at == nil {
			raw.bat = raw.bat[:0]
			for i := range src {
				raw.bat = append(raw.bat, span{base + int64(i), base + int64(i) + 1})
			}
			raw.at = raw.bat
		}
	}
	vw.n = 1
	j, p := -1, -1
	if bytes.IndexByte(src, '\\') >= 0 {
		j = vw.next(0, unescapeJSON, track)
	}
	if bytes.IndexByte(src, '%') >= 0 {
		p = vw.next(0, unescapePercent, track)
	}
	if j > 0 && bytes.IndexByte(vw.l[j].b, '%') >= 0 {
		vw.next(j, unescapePercent, track) // JSON, then percent (\u0025)
	}
	if p > 0 && bytes.IndexByte(vw.l[p].b, '\\') >= 0 {
		vw.next(p, unescapeJSON, track) // percent, then JSON (%5C)
	}
}

// next adds the layer that decodes layer from with dec, and returns its
// index.
func (vw *view) next(from int, dec func([]byte, []span, []byte, []span, bool) ([]byte, []span, bool), track bool) int {
	in, out := &vw.l[from], &vw.l[vw.n]
	b, at, own := dec(out.buf[:0], out.bat[:0], in.b, in.at, track)
	if own {
		out.buf, out.bat = b, at
	}
	out.b, out.at = b, at
	vw.n++
	return vw.n - 1
}

// find calls fn for every match in every layer of the view.
func (s *Scrubber) findView(vw *view, fn func(k, a, b int)) {
	for k := range vw.n {
		s.find(vw.l[k].b, 0, func(a, b int) { fn(k, a, b) })
	}
}

// mark adds the source ranges of layer k's bytes [a, e) to m, those before
// floor excepted (already passed on), adjacent ranges joined.
func (vw *view) mark(m *marks, k, a, e int, floor int64) { markSpans(m, vw.l[k].at[a:e], floor) }

func markSpans(m *marks, spans []span, floor int64) {
	var cur span
	open := false
	for _, sp := range spans {
		if sp.b <= floor {
			continue
		}
		sp.a = max(sp.a, floor)
		if open && sp.a <= cur.b {
			cur.b = max(cur.b, sp.b)
			continue
		}
		if open {
			*m = append(*m, cur)
		}
		cur, open = sp, true
	}
	if open {
		*m = append(*m, cur)
	}
}

// hull is the source range of the bytes at[i:j]: their union when they are
// contiguous, else only the last one's (what lies between them is not
// part of the character, and the last byte alone makes it unreadable).
func hull(at []span, i, j int) span {
	h := at[i]
	for _, sp := range at[i+1 : j] {
		if sp.a != h.b {
			return at[j-1]
		}
		h.b = sp.b
	}
	return h
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// unescapeJSON appends src to dst with JSON string escapes decoded, and,
// when tracking, the source range of each byte to dat. A lone backslash is
// kept as is. Without escapes it returns src and at themselves (own false).
func unescapeJSON(dst []byte, dat []span, src []byte, at []span, track bool) ([]byte, []span, bool) {
	if bytes.IndexByte(src, '\\') < 0 {
		return src, at, false
	}
	emit := func(c byte, i, j int) {
		dst = append(dst, c)
		if track {
			dat = append(dat, hull(at, i, j))
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		if c != '\\' || i+1 >= len(src) {
			emit(c, i, i+1)
			i++
			continue
		}
		switch e := src[i+1]; e {
		case 'u':
			r, ok := hex4(src[i+2:])
			if !ok {
				emit(c, i, i+1)
				i++
				continue
			}
			n := 6
			if 0xD800 <= r && r < 0xDC00 && i+12 <= len(src) && src[i+6] == '\\' && src[i+7] == 'u' {
				if lo, ok := hex4(src[i+8:]); ok && 0xDC00 <= lo && lo < 0xE000 {
					r, n = 0x10000+(r-0xD800)<<10+(lo-0xDC00), 12
				}
			}
			var buf [4]byte
			for _, b := range buf[:utf8.EncodeRune(buf[:], r)] {
				emit(b, i, i+n)
			}
			i += n
		case '"', '\\', '/':
			emit(e, i, i+2)
			i += 2
		case 'b', 'f', 'n', 'r', 't':
			emit(ctrl[e], i, i+2)
			i += 2
		default:
			emit(c, i, i+1)
			i++
		}
	}
	return dst, dat, true
}

var ctrl = [256]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unescapePercent is unescapeJSON for percent-encoding (%2D).
func unescapePercent(dst []byte, dat []span, src []byte, at []span, track bool) ([]byte, []span, bool) {
	if bytes.IndexByte(src, '%') < 0 {
		return src, at, false
	}
	for i := 0; i < len(src); {
		if src[i] == '%' && i+2 < len(src) {
			hi, ok1 := unhex(src[i+1])
			lo, ok2 := unhex(src[i+2])
			if ok1 && ok2 {
				dst = append(dst, hi<<4|lo)
				if track {
					dat = append(dat, hull(at, i, i+3))
				}
				i += 3
				continue
			}
		}
		dst = append(dst, src[i])
		if track {
			dat = append(dat, at[i])
		}
		i++
	}
	return dst, dat, true
}

// marks are source ranges to replace with Redacted.
type marks []span

// apply appends raw (whose first byte is at offset base) to dst with every
// marked range replaced; overlapping ranges are replaced once.
func (m marks) apply(dst, raw []byte, base int64) []byte {
	if len(m) == 0 {
		return append(dst, raw...)
	}
	sort.Slice(m, func(i, j int) bool { return m[i].a < m[j].a })
	pos := base
	end := base + int64(len(raw))
	for i := 0; i < len(m); {
		cur := m[i]
		for i++; i < len(m) && m[i].a < cur.b; i++ {
			cur.b = max(cur.b, m[i].b)
		}
		cur.a, cur.b = max(cur.a, pos), min(cur.b, end)
		if cur.a >= cur.b {
			continue
		}
		dst = append(dst, raw[pos-base:cur.a-base]...)
		dst = append(dst, Redacted...)
		pos = cur.b
	}
	return append(dst, raw[pos-base:]...)
}
