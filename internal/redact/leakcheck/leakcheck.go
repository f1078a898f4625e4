// Package leakcheck finds pieces of secrets in text the way a reader could
// recover them: as is, after JSON string unescaping, after
// percent-decoding, and inside base64 (standard or URL alphabet, any
// alignment) or hex runs. It is the independent oracle of keyward's canary
// tests — it shares no code with the scrubber it checks — and it is not
// used outside tests.
package leakcheck

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Finder looks for every piece of a set of secrets.
type Finder struct {
	n      int
	pieces map[string]string // piece → label of its secret
	short  map[string]string // secrets shorter than n, whole
}

// New returns a finder for every n-byte piece of each secret (a secret
// shorter than n counts whole). PEM values count by the key material they
// armour, not their public header lines. Labels name the secrets in
// reports; pass them as label=value pairs or plain values.
func New(n int, secrets ...string) *Finder {
	f := &Finder{n: n, pieces: map[string]string{}, short: map[string]string{}}
	for _, s := range secrets {
		label := s
		if len(label) > 12 {
			label = label[:12] + "…"
		}
		vals := []string{s}
		if strings.Contains(s, "-----BEGIN") {
			vals = nil
			rest := []byte(s)
			for {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				vals = append(vals, string(b.Bytes), base64.StdEncoding.EncodeToString(b.Bytes))
			}
			label = "PEM key"
		}
		for _, v := range vals {
			if len(v) < n {
				f.short[v] = label
				continue
			}
			for i := 0; i+n <= len(v); i++ {
				f.pieces[v[i:i+n]] = label
			}
		}
	}
	return f
}

// Leak is a piece found.
type Leak struct {
	Secret   string // the label of the secret
	Piece    string
	Encoding string // how the text held it
}

func (l Leak) String() string {
	return fmt.Sprintf("a %d-byte piece of %s (%s)", len(l.Piece), l.Secret, l.Encoding)
}

// Find reports the first piece of a secret in text, in any form. Text
// that is compressed (gzip, zlib, raw deflate; up to three layers) is
// looked into too.
func (f *Finder) Find(text string) (Leak, bool) { return f.find(text, 3) }

func (f *Finder) find(text string, layers int) (Leak, bool) {
	if d, how, ok := decompress(text); ok && layers > 0 {
		if l, ok := f.find(d, layers-1); ok {
			l.Encoding = how + "+" + l.Encoding
			return l, true
		}
	}
	for _, v := range variants(text) {
		if l, ok := f.scan(v.text); ok {
			l.Encoding = v.how
			return l, true
		}
		for _, d := range decodedRuns(v.text) {
			if l, ok := f.scan(d.text); ok {
				l.Encoding = v.how + "+" + d.how
				return l, true
			}
		}
	}
	return Leak{}, false
}

func (f *Finder) scan(s string) (Leak, bool) {
	for i := 0; i+f.n <= len(s); i++ {
		if label, ok := f.pieces[s[i:i+f.n]]; ok {
			return Leak{Secret: label, Piece: s[i : i+f.n]}, true
		}
	}
	for v, label := range f.short {
		if strings.Contains(s, v) {
			return Leak{Secret: label, Piece: v}, true
		}
	}
	return Leak{}, false
}

type variant struct{ how, text string }

// variants are text as read directly and through the decoders a client
// applies: JSON string escapes, percent-encoding, and both in either order.
func variants(text string) []variant {
	out := []variant{{"raw", text}}
	add := func(how, t string) {
		for _, v := range out {
			if v.text == t {
				return
			}
		}
		out = append(out, variant{how, t})
	}
	j := unJSON(text)
	p := unPercent(text)
	add("json-escaped", j)
	add("percent-encoded", p)
	add("json-escaped+percent-encoded", unPercent(j))
	add("percent-encoded+json-escaped", unJSON(p))
	return out
}

// decompress undoes one layer of compression, when text is compressed.
func decompress(text string) (string, string, bool) {
	if len(text) < 2 {
		return "", "", false
	}
	var r io.Reader
	var how string
	switch {
	case text[0] == 0x1f && text[1] == 0x8b:
		zr, err := gzip.NewReader(strings.NewReader(text))
		if err != nil {
			return "", "", false
		}
		r, how = zr, "gzip"
	case text[0]&0x0f == 8 && (uint16(text[0])<<8|uint16(text[1]))%31 == 0:
		zr, err := zlib.NewReader(strings.NewReader(text))
		if err != nil {
			return "", "", false
		}
		r, how = zr, "zlib"
	default:
		r, how = flate.NewReader(strings.NewReader(text)), "deflate"
	}
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if len(b) == 0 || err != nil && how != "deflate" && len(b) < 16 {
		return "", "", false
	}
	if how == "deflate" && err != nil {
		return "", "", false // not raw deflate either
	}
	return string(b), how, true
}

// unJSON decodes JSON string escapes wherever they appear, leaving
// anything else as it is.
func unJSON(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; c {
		case 'u':
			if i+6 <= len(s) {
				if r, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil {
					r := rune(r)
					if 0xD800 <= r && r < 0xDC00 && i+12 <= len(s) && s[i+6:i+8] == `\u` {
						if lo, err := strconv.ParseUint(s[i+8:i+12], 16, 32); err == nil && 0xDC00 <= lo && lo < 0xE000 {
							b.WriteRune(0x10000 + (r-0xD800)<<10 + (rune(lo) - 0xDC00))
							i += 11
							continue
						}
					}
					if !utf8.ValidRune(r) {
						r = utf8.RuneError
					}
					b.WriteRune(r)
					i += 5
					continue
				}
			}
			b.WriteByte(s[i])
		case '"', '\\', '/':
			b.WriteByte(c)
			i++
		case 'n':
			b.WriteByte('\n')
			i++
		case 't':
			b.WriteByte('\t')
			i++
		case 'r':
			b.WriteByte('\r')
			i++
		case 'b':
			b.WriteByte('\b')
			i++
		case 'f':
			b.WriteByte('\f')
			i++
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// unPercent decodes every well-formed %XX.
func unPercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := url.PathUnescape(s[i : i+3]); err == nil {
				b.WriteString(v)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// decodedRuns decodes every maximal run of base64 or hex characters in s,
// at every alignment (hex in either letter case, not mixed).
func decodedRuns(s string) []variant {
	var out []variant
	isB64 := func(c byte) bool {
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
	}
	var b64, hx bytes.Buffer
	for i := 0; i < len(s); {
		if !isB64(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isB64(s[j]) {
			j++
		}
		run := s[i:j]
		i = j
		if len(run) < 8 {
			continue
		}
		std := strings.NewReplacer("-", "+", "_", "/").Replace(run)
		for off := range 4 {
			r := std[off:]
			r = r[:len(r)/4*4]
			if d, err := base64.StdEncoding.DecodeString(r); err == nil {
				b64.Write(d)
				b64.WriteByte(0)
			}
		}
		for k := 0; k < len(run); {
			if !isHex(run[k]) {
				k++
				continue
			}
			m := k
			for m < len(run) && isHex(run[m]) {
				m++
			}
			h := run[k:m]
			if strings.ToLower(h) != h && strings.ToUpper(h) != h {
				k = m
				continue // hex is written in one letter case
			}
			h = strings.ToLower(h)
			for off := range 2 {
				t := h[off:]
				if d, err := hex.DecodeString(t[:len(t)/2*2]); err == nil {
					hx.Write(d)
					hx.WriteByte(0)
				}
			}
			k = m
		}
	}
	if b64.Len() > 0 {
		out = append(out, variant{"base64", b64.String()})
	}
	if hx.Len() > 0 {
		out = append(out, variant{"hex", hx.String()})
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// JSONText is what a client joining a JSON document's strings could read:
// for every path (array positions left out) the document's string values
// there joined in order, one text per path, sorted by path.
func JSONText(doc []byte) []string {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return nil
	}
	joined := map[string]*strings.Builder{}
	walk(v, "$", joined)
	return texts(joined)
}

func walk(v any, path string, joined map[string]*strings.Builder) {
	switch x := v.(type) {
	case string:
		if joined[path] == nil {
			joined[path] = &strings.Builder{}
		}
		joined[path].WriteString(x)
	case []any:
		for _, e := range x {
			walk(e, path+"[]", joined)
		}
	case map[string]any:
		for k, e := range x {
			walk(e, path+"."+k, joined)
		}
	}
}

func texts(joined map[string]*strings.Builder) []string {
	keys := make([]string, 0, len(joined))
	for k := range joined {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, joined[k].String())
	}
	return out
}

// StreamText is what a client reading an event stream could put together:
// every data: value joined without separators; and for every path of the
// events' JSON data (array positions left out), the string values there
// joined across events — once over all events and once per value of the
// "index" fields around them (choices, content blocks, output items).
func StreamText(body []byte) []string {
	var all strings.Builder
	joined := map[string]*strings.Builder{}
	for _, ev := range bytes.Split(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), []byte("\n\n")) {
		var data []string
		for _, line := range strings.Split(string(ev), "\n") {
			if v, ok := strings.CutPrefix(line, "data:"); ok {
				v = strings.TrimPrefix(v, " ")
				all.WriteString(v)
				data = append(data, v)
			}
		}
		var v any
		if len(data) == 0 || json.Unmarshal([]byte(strings.Join(data, "\n")), &v) != nil {
			continue
		}
		walk(v, "$", joined)
		walkIndexed(v, "$", "", joined)
	}
	return append([]string{all.String()}, texts(joined)...)
}

// walkIndexed is walk with the "index" fields of enclosing objects in the
// path.
func walkIndexed(v any, path, idx string, joined map[string]*strings.Builder) {
	switch x := v.(type) {
	case string:
		k := "#" + path + "@" + idx
		if joined[k] == nil {
			joined[k] = &strings.Builder{}
		}
		joined[k].WriteString(x)
	case []any:
		for _, e := range x {
			walkIndexed(e, path+"[]", idx, joined)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if n, ok := x[k].(float64); ok && (k == "index" || strings.HasSuffix(k, "_index")) {
				idx += fmt.Sprintf("%s=%v;", k, n)
			}
		}
		for k, e := range x {
			walkIndexed(e, path+"."+k, idx, joined)
		}
	}
}
