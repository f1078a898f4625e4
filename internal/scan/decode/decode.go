// Package decode finds encoded text that may hide a secret — JavaScript and
// JSON string escapes (\u002d, \x2d, \u{2d}), URL encoding (%2D) and base64
// — and decodes it, so the detector can scan what the encoding hid. Depth is
// fixed and every decoded byte is charged to a budget, so memory and time
// stay bounded whatever the input.
package decode

import (
	"bytes"
	"encoding/base64"
	"sort"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Options bound decoding.
type Options struct {
	// MaxDepth is how many decodings may be stacked (base64 of escaped
	// JSON is two); 0 decodes nothing.
	MaxDepth int
}

// Encodings, as Segment.Encoding names them (nested ones are joined by "+",
// outermost first).
const (
	Escape = "escape"
	URL    = "url"
	Base64 = "base64"
)

// Segment is decoded text and where it came from.
type Segment struct {
	Text     []byte
	Encoding string
	// toData maps an offset in Text to an offset in the scanned data; end
	// says it is an exclusive end, which rounds up within an encoded unit.
	toData func(off int, end bool) int
}

// Map turns a span of Text into the span of the scanned data it was decoded
// from.
func (s Segment) Map(start, end int) (int, int) {
	return s.toData(start, false), s.toData(end, true)
}

// context is how far an escape or URL-encoded region is widened on either
// side (within its line), so that a rule's context word and operator come
// along with the value; gap is how far apart two encoded units may be and
// still belong to one region.
const (
	context = 256
	gap     = 64
	// minBase64 is the shortest base64 run worth decoding: 18 bytes, room
	// for the shortest keys the rules know and a little more.
	minBase64 = 24
)

// Segments returns the decoded segments of data, up to opt.MaxDepth
// decodings deep, charging each decoded byte to budget and stopping when it
// runs out.
func Segments(data []byte, opt Options, budget *atomic.Int64) []Segment {
	identity := func(off int, _ bool) int { return off }
	return segments(data, opt.MaxDepth, budget, "", identity)
}

func segments(data []byte, depth int, budget *atomic.Int64, outer string, toData func(int, bool) int) []Segment {
	if depth <= 0 {
		return nil
	}
	var out []Segment
	emit := func(s Segment) bool {
		if budget.Add(-int64(len(s.Text))) < 0 {
			return false
		}
		inner := s.toData
		s.toData = func(off int, end bool) int { return toData(inner(off, end), end) }
		if outer != "" {
			s.Encoding = outer + "+" + s.Encoding
		}
		out = append(out, s)
		out = append(out, segments(s.Text, depth-1, budget, s.Encoding, s.toData)...)
		return true
	}
	for _, s := range escapeSegments(data) {
		if !emit(s) {
			return out
		}
	}
	for _, s := range urlSegments(data) {
		if !emit(s) {
			return out
		}
	}
	for _, s := range base64Segments(data) {
		if !emit(s) {
			return out
		}
	}
	return out
}

// piece maps a run of decoded text to the bytes it came from: a literal
// run one to one, an encoded unit as a whole.
type piece struct {
	text, data int // start offsets
	lit        bool
}

// pieceMap maps text offsets through pieces; dataEnd closes the last one.
func pieceMap(ps []piece, dataEnd int) func(int, bool) int {
	return func(off int, end bool) int {
		i := sort.Search(len(ps), func(i int) bool { return ps[i].text > off }) - 1
		if i < 0 {
			return ps[0].data
		}
		p := ps[i]
		nextData := dataEnd
		if i+1 < len(ps) {
			nextData = ps[i+1].data
		}
		switch {
		case p.lit:
			return min(p.data+off-p.text, nextData)
		case off == p.text:
			return p.data
		case end:
			return nextData
		}
		return p.data
	}
}

// region is a span of data to decode.
type region struct{ start, end int }

// regions clusters encoded units into regions: units closer than gap join
// one, and each is widened by context within its line.
func regions(data []byte, units []region) []region {
	var out []region
	for _, u := range units {
		if n := len(out); n > 0 && u.start-out[n-1].end <= gap {
			out[n-1].end = u.end
			continue
		}
		out = append(out, u)
	}
	for i := range out {
		r := &out[i]
		lo := max(0, r.start-context)
		if j := bytes.LastIndexByte(data[lo:r.start], '\n'); j >= 0 {
			lo += j + 1
		}
		hi := min(len(data), r.end+context)
		if j := bytes.IndexByte(data[r.end:hi], '\n'); j >= 0 {
			hi = r.end + j
		}
		r.start, r.end = lo, hi
	}
	// Widening may make neighbours overlap; merge them.
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && r.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, r.end)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) rune {
	switch {
	case c <= '9':
		return rune(c - '0')
	case c >= 'a':
		return rune(c-'a') + 10
	}
	return rune(c-'A') + 10
}

// escapeAt decodes the JavaScript escape at data[i] ('\\'): \xHH, \uHHHH,
// \u{H…} and the one-character escapes of JSON. It returns the rune and the
// escape's length, or n == 0 when there is none.
func escapeAt(data []byte, i int) (r rune, n int) {
	if i+1 >= len(data) {
		return 0, 0
	}
	switch c := data[i+1]; c {
	case 'x':
		if i+3 < len(data) && isHex(data[i+2]) && isHex(data[i+3]) {
			return unhex(data[i+2])<<4 | unhex(data[i+3]), 4
		}
	case 'u':
		if i+2 < len(data) && data[i+2] == '{' {
			var v rune
			for j := i + 3; j < len(data) && j < i+10; j++ {
				if data[j] == '}' {
					if j == i+3 || v > utf8.MaxRune {
						return 0, 0
					}
					return v, j - i + 1
				}
				if !isHex(data[j]) {
					return 0, 0
				}
				v = v<<4 | unhex(data[j])
			}
			return 0, 0
		}
		if i+5 < len(data) && isHex(data[i+2]) && isHex(data[i+3]) && isHex(data[i+4]) && isHex(data[i+5]) {
			return unhex(data[i+2])<<12 | unhex(data[i+3])<<8 | unhex(data[i+4])<<4 | unhex(data[i+5]), 6
		}
	case '"', '\'', '\\', '/', '`':
		return rune(c), 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	}
	return 0, 0
}

// escapeSegments decodes the regions around \x and \u escapes and escaped
// backslashes (the mark of a string escaped twice). One-character escapes
// (\n, \") extend a region, so that an escaped multi-line PEM block or
// JSON document decodes whole, but do not make one: the rules read those
// as they are written.
func escapeSegments(data []byte) []Segment {
	var units []region
	strong := map[int]bool{} // index in units
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\\')
		if j < 0 {
			break
		}
		i += j
		if _, n := escapeAt(data, i); n > 0 {
			if n >= 4 || data[i+1] == '\\' {
				strong[len(units)] = true
			}
			units = append(units, region{i, i + n})
			i += n
			continue
		}
		i += 2
		if i >= len(data) {
			break
		}
	}
	units = keepStrong(units, strong)
	var out []Segment
	for _, r := range regions(data, units) {
		var text []byte
		var ps []piece
		lit := -1 // start of the current literal run in data, or -1
		for i := r.start; i < r.end; {
			if data[i] == '\\' {
				if c, n := escapeAt(data, i); n > 0 && i+n <= r.end {
					// A UTF-16 surrogate pair spells one rune.
					if c >= 0xd800 && c < 0xdc00 && i+n+1 < r.end && data[i+n] == '\\' {
						if c2, n2 := escapeAt(data, i+n); n2 == 6 && c2 >= 0xdc00 && c2 < 0xe000 {
							c, n = 0x10000+(c-0xd800)<<10+(c2-0xdc00), n+n2
						}
					}
					ps = append(ps, piece{text: len(text), data: i})
					text = utf8.AppendRune(text, c)
					lit = -1
					i += n
					continue
				}
			}
			if lit < 0 {
				ps = append(ps, piece{text: len(text), data: i, lit: true})
				lit = i
			}
			text = append(text, data[i])
			i++
		}
		if len(ps) > 0 {
			out = append(out, Segment{Text: text, Encoding: Escape, toData: pieceMap(ps, r.end)})
		}
	}
	return out
}

// keepStrong keeps the units of the clusters (units closer than gap) that
// hold at least one strong unit.
func keepStrong(units []region, strong map[int]bool) []region {
	var out []region
	for i := 0; i < len(units); {
		j, any := i, false
		for ; j < len(units) && (j == i || units[j].start-units[j-1].end <= gap); j++ {
			any = any || strong[j]
		}
		if any {
			out = append(out, units[i:j]...)
		}
		i = j
	}
	return out
}

// urlSegments decodes the regions around %HH units, and "+" as a space
// there.
func urlSegments(data []byte) []Segment {
	var units []region
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '%')
		if j < 0 {
			break
		}
		i += j
		if i+2 < len(data) && isHex(data[i+1]) && isHex(data[i+2]) {
			units = append(units, region{i, i + 3})
			i += 3
			continue
		}
		i++
	}
	var out []Segment
	for _, r := range regions(data, units) {
		var text []byte
		var ps []piece
		lit := false
		for i := r.start; i < r.end; {
			if data[i] == '%' && i+2 < r.end && isHex(data[i+1]) && isHex(data[i+2]) {
				ps = append(ps, piece{text: len(text), data: i})
				text = append(text, byte(unhex(data[i+1])<<4|unhex(data[i+2])))
				lit = false
				i += 3
				continue
			}
			if data[i] == '+' {
				// Form encoding writes a space as "+" (and a "+" as
				// "%2B"); a key's own "+" in a raw region is found by the
				// undecoded scan.
				ps = append(ps, piece{text: len(text), data: i})
				text = append(text, ' ')
				lit = false
				i++
				continue
			}
			if !lit {
				ps = append(ps, piece{text: len(text), data: i, lit: true})
				lit = true
			}
			text = append(text, data[i])
			i++
		}
		if len(ps) > 0 {
			out = append(out, Segment{Text: text, Encoding: URL, toData: pieceMap(ps, r.end)})
		}
	}
	return out
}

// b64 marks the bytes of the standard and URL-safe base64 alphabets (1:
// both, 2: standard only, 4: URL-safe only).
var b64 = func() (t [256]byte) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" {
		t[c] = 1
	}
	t['+'], t['/'] = 2, 2
	t['-'], t['_'] = 4, 4
	return t
}()

// base64Segments decodes runs of base64 that decode to text. A run is
// delimited by bytes outside both alphabets and may end in "=" padding.
func base64Segments(data []byte) []Segment {
	var out []Segment
	for i := 0; i < len(data); {
		if b64[data[i]] == 0 {
			i++
			continue
		}
		start := i
		var kinds byte
		for i < len(data) && b64[data[i]] != 0 {
			kinds |= b64[data[i]]
			i++
		}
		end := i
		for i < len(data) && data[i] == '=' && i-end < 2 {
			i++
		}
		if end-start < minBase64 || kinds&6 == 6 {
			continue
		}
		if text, ok := decodeBase64(data[start:end], kinds&4 != 0); ok {
			s, e := start, i
			out = append(out, Segment{Text: text, Encoding: Base64, toData: func(off int, end bool) int {
				// Three bytes are four characters.
				if end {
					return min(s+(off*4+2)/3, e)
				}
				return s + off/3*4
			}})
		}
	}
	return out
}

// decodeBase64 decodes run (no padding) and keeps it only if it is text:
// printable ASCII and white space. It looks at a short prefix first, so
// the runs that are not text (identifiers, hashes, keys, images) cost
// little.
func decodeBase64(run []byte, urlSafe bool) ([]byte, bool) {
	enc := base64.RawStdEncoding
	if urlSafe {
		enc = base64.RawURLEncoding
	}
	if len(run)%4 == 1 {
		run = run[:len(run)-1]
	}
	var head [18]byte
	if _, err := enc.Decode(head[:], run[:24]); err != nil || !texty(head[:]) {
		return nil, false
	}
	text := make([]byte, enc.DecodedLen(len(run)))
	n, err := enc.Decode(text, run)
	if err != nil || !texty(text[:n]) {
		return nil, false
	}
	return text[:n], true
}

func texty(b []byte) bool {
	for _, c := range b {
		if (c < ' ' || c > '~') && !strings.ContainsRune("\t\n\r", rune(c)) {
			return false
		}
	}
	return true
}
