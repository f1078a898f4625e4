package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
)

// PieceLen is the length of the shortest piece of a secret the scrubber
// removes: any run of PieceLen or more consecutive characters of a secret
// (or of one of its encoded forms), and a secret shorter than that whole.
const PieceLen = 24

// minScrubLen is the shortest value a Scrubber looks for; shorter values
// would mangle ordinary text and are refused by config validation anyway.
const minScrubLen = 6

// minFormLen is the shortest encoded form matched (base64 of a very short
// secret can be shorter than the secret).
const minFormLen = 8

// gramLen is how many trailing characters of a stream's text decide whether
// it may be the start of a secret (see Events).
const gramLen = 4

// Scrubber replaces secrets with Redacted wherever text might carry one:
// every piece of PieceLen or more characters of every secret, in each form
// a client could decode back — as is, base64 (standard and URL alphabets, at
// any of the three byte alignments), hex (lower or upper case) — and
// whether the text spells those characters plainly, with JSON escapes
// (\u002d, \/) or percent-encoding (%2D). Use Bytes and String for whole
// texts, Reader and JSONReader for bodies, and Events for event streams.
//
// It reads secret values without Reveal because it lives in this package:
// the values never leave it. A nil *Scrubber replaces nothing.
type Scrubber struct {
	n     int      // distinct secrets
	forms [][]byte // every form of every secret
	// win indexes every PieceLen-byte window of the forms at least that
	// long by its rolling hash; filter is a bitset over the same hashes
	// that rejects almost every position of ordinary text cheaply.
	win    map[uint64][]winRef
	filter []uint64
	fbits  uint
	base   uint64 // rolling hash multiplier (random, odd)
	pow    uint64 // base^PieceLen
	// short are the forms shorter than PieceLen (secrets shorter than
	// that), matched whole, longest first.
	short [][]byte
	// grams holds every gramLen-byte substring of every form; gramBits
	// is a bitset over their hashes that rejects most others without a
	// map look-up.
	grams    map[uint32]struct{}
	gramBits []uint64
	minLen   int // the shortest thing that can match
	// chars holds every byte that occurs in a form: a piece can straddle
	// a join only between two of them.
	chars [256]bool
}

type winRef struct{ form, off int32 }

// NewScrubber returns a scrubber for the given secrets (empty and very short
// values are ignored, duplicates folded).
func NewScrubber(secrets ...Secret) *Scrubber {
	s := &Scrubber{win: map[uint64][]winRef{}, grams: map[uint32]struct{}{}, base: rand.Uint64() | 1}
	s.pow = 1
	for range PieceLen {
		s.pow *= s.base
	}
	seen := map[string]bool{}
	formSeen := map[string]bool{}
	for _, sec := range secrets {
		if len(sec.v) < minScrubLen || seen[sec.v] {
			continue
		}
		seen[sec.v] = true
		s.n++
		for _, f := range forms(sec.v) {
			if len(f) < minFormLen || formSeen[string(f)] {
				continue
			}
			formSeen[string(f)] = true
			s.forms = append(s.forms, f)
		}
	}
	sort.SliceStable(s.forms, func(i, j int) bool { return len(s.forms[i]) > len(s.forms[j]) })
	windows := 0
	for _, f := range s.forms {
		if len(f) >= PieceLen {
			windows += len(f) - PieceLen + 1
		}
	}
	s.fbits = 12
	for 1<<s.fbits < 64*windows && s.fbits < 22 {
		s.fbits++
	}
	s.filter = make([]uint64, 1<<s.fbits/64)
	s.minLen = PieceLen
	s.gramBits = make([]uint64, 1<<gramBits/64)
	for i, f := range s.forms {
		for _, c := range f {
			s.chars[c] = true
		}
		for j := 0; j+gramLen <= len(f); j++ {
			g := gram(f[j:])
			s.grams[g] = struct{}{}
			s.gramBits[gramSlot(g)/64] |= 1 << (gramSlot(g) % 64)
		}
		if len(f) < PieceLen {
			s.short = append(s.short, f)
			s.minLen = min(s.minLen, len(f))
			continue
		}
		h := s.hash(f[:PieceLen])
		for j := 0; ; j++ {
			s.win[h] = append(s.win[h], winRef{int32(i), int32(j)})
			s.filter[s.slot(h)/64] |= 1 << (s.slot(h) % 64)
			if j+PieceLen >= len(f) {
				break
			}
			h = h*s.base + uint64(f[j+PieceLen]) - uint64(f[j])*s.pow
		}
	}
	return s
}

// forms returns the texts a secret may appear as. A PEM value is taken as
// the key material it armours: its header lines are public text.
func forms(v string) [][]byte {
	var raws [][]byte
	if strings.Contains(v, "-----BEGIN") {
		rest := []byte(v)
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			// The key material, and its base64 as the PEM body spells it
			// (a text of its own, which can be encoded again).
			raws = append(raws, blk.Bytes, []byte(base64.StdEncoding.EncodeToString(blk.Bytes)))
		}
	}
	if len(raws) == 0 {
		raws = [][]byte{[]byte(v)}
	}
	var out [][]byte
	for i, raw := range raws {
		if len(raws) == 1 || i%2 == 1 {
			out = append(out, raw) // not a PEM block's raw DER: binary, not text
		}
		for align := range 3 {
			std := base64Form(raw, align)
			out = append(out, std)
			url := bytes.Map(func(r rune) rune {
				switch r {
				case '+':
					return '-'
				case '/':
					return '_'
				}
				return r
			}, std)
			if !bytes.Equal(url, std) {
				out = append(out, url)
			}
		}
		lower := []byte(hex.EncodeToString(raw))
		out = append(out, lower, bytes.ToUpper(lower))
	}
	return out
}

// base64Form is the part of the base64 encoding of raw that does not
// depend on the bytes around it, when raw starts align bytes into a
// three-byte group.
func base64Form(raw []byte, align int) []byte {
	buf := make([]byte, align, align+len(raw)+2)
	buf = append(buf, raw...)
	n := len(buf)
	for len(buf)%3 != 0 {
		buf = append(buf, 0)
	}
	enc := make([]byte, base64.StdEncoding.EncodedLen(len(buf)))
	base64.StdEncoding.Encode(enc, buf)
	known := n / 3 * 4
	switch n % 3 {
	case 1:
		known++
	case 2:
		known += 2
	}
	skip := [3]int{0, 2, 3}[align]
	if known <= skip {
		return nil
	}
	return enc[skip:known]
}

func gram(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// gramBits is the size in bits of the grams' bitset, as a power of two.
const gramBits = 16

func gramSlot(g uint32) uint32 { return g * 0x9e3779b1 >> (32 - gramBits) }

func (s *Scrubber) hash(b []byte) uint64 {
	var h uint64
	for _, c := range b {
		h = h*s.base + uint64(c)
	}
	return h
}

// slot is a window hash's bit in the filter: its top bits, which the
// random multiplier mixes from every byte of the window.
func (s *Scrubber) slot(h uint64) uint64 { return h >> (64 - s.fbits) }

func (s *Scrubber) maybe(h uint64) bool {
	i := s.slot(h)
	return s.filter[i/64]&(1<<(i%64)) != 0
}

// Len reports how many distinct secrets the scrubber looks for.
func (s *Scrubber) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// find calls fn, in order of their start, for every maximal run of v that
// is a piece of a form: the extension of each PieceLen-byte window found
// as far as the same form goes on both sides, and each short form. When
// junction > 0 only matches that straddle it (start < junction < end) are
// reported.
func (s *Scrubber) find(v []byte, junction int, fn func(start, end int)) {
	if s.Len() == 0 || len(v) < s.minLen {
		return
	}
	var ms []span
	add := func(a, b int) { ms = append(ms, span{int64(a), int64(b)}) }
	// Every match lies in a run of bytes that occur in forms (and every
	// extension stays in one): only runs at least minLen long are looked
	// at, so ordinary text and JSON framing cost a table look-up a byte.
	r, stop := 0, len(v)
	if junction > 0 {
		r, stop = max(0, junction-PieceLen+1), min(junction, len(v))
	}
	for r < stop {
		for r < stop && !s.chars[v[r]] {
			r++
		}
		if r >= stop {
			break
		}
		end := r + 1
		for end < len(v) && s.chars[v[end]] {
			end++
		}
		if end-r >= s.minLen {
			s.findIn(v, r, end, junction, add)
		}
		r = end + 1
	}
	if len(ms) == 0 {
		return
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].a < ms[j].a })
	for _, m := range ms {
		fn(int(m.a), int(m.b))
	}
}

// findIn reports the matches in v[r:end], a run of form bytes, as find
// does.
func (s *Scrubber) findIn(v []byte, r, end, junction int, add func(a, b int)) {
	if len(s.win) > 0 && end-r >= PieceLen {
		lo, hi := r, end-PieceLen+1
		if junction > 0 {
			lo, hi = max(lo, junction-PieceLen+1), min(hi, junction)
		}
		if lo < hi {
			s.findRun(v, lo, hi, add)
		}
	}
	for _, f := range s.short {
		if len(f) > end-r {
			continue
		}
		from, to := r, end
		if junction > 0 {
			from, to = max(from, junction-len(f)+1), min(to, junction+len(f)-1)
		}
		for from+len(f) <= to {
			j := bytes.Index(v[from:to], f)
			if j < 0 {
				break
			}
			a := from + j
			if junction > 0 && a >= junction {
				break
			}
			add(a, a+len(f))
			from = a + 1
		}
	}
}

// findRun reports the matches of the windows of v starting in [lo, hi),
// every byte of which is a form byte.
func (s *Scrubber) findRun(v []byte, lo, hi int, add func(a, b int)) {
	i := lo
	h := s.hash(v[i : i+PieceLen])
	for i < hi {
		if s.maybe(h) {
			if a, b, ok := s.extend(v, i, h); ok {
				add(a, b)
				if next := max(i+1, b-PieceLen+1); next != i+1 {
					i = next
					if i < hi {
						h = s.hash(v[i : i+PieceLen])
					}
					continue
				}
			}
		}
		if i+1 < hi {
			h = h*s.base + uint64(v[i+PieceLen]) - uint64(v[i])*s.pow
		}
		i++
	}
}

// extend verifies the window of v at i against the forms its hash names and
// returns the union of the verified windows' extensions.
func (s *Scrubber) extend(v []byte, i int, h uint64) (a, b int, ok bool) {
	a, b = i, i+PieceLen
	for _, r := range s.win[h] {
		f := s.forms[r.form]
		off := int(r.off)
		if !bytes.Equal(v[i:i+PieceLen], f[off:off+PieceLen]) {
			continue
		}
		ok = true
		l, fo := i, off
		for l > 0 && fo > 0 && v[l-1] == f[fo-1] {
			l--
			fo--
		}
		e, fe := i+PieceLen, off+PieceLen
		for e < len(v) && fe < len(f) && v[e] == f[fe] {
			e++
			fe++
		}
		a, b = min(a, l), max(b, e)
	}
	return a, b, ok
}

// mayBegin reports whether the last gramLen bytes of v occur in some form:
// text ending so may be the start of a secret continued by what follows.
func (s *Scrubber) mayBegin(v []byte) bool {
	if len(v) < gramLen || s.Len() == 0 {
		return false
	}
	g := gram(v[len(v)-gramLen:])
	if s.gramBits[gramSlot(g)/64]&(1<<(gramSlot(g)%64)) == 0 {
		return false
	}
	_, ok := s.grams[g]
	return ok
}

// Bytes returns b with every piece of a secret replaced. It returns b
// itself (no copy) when nothing matched.
func (s *Scrubber) Bytes(b []byte) []byte {
	if s.Len() == 0 || len(b) < s.minLen {
		return b
	}
	if !s.Contains(b) {
		return b
	}
	var vw view
	vw.decode(b, nil, 0, true)
	var marks marks
	s.findView(&vw, func(k, a, e int) { vw.mark(&marks, k, a, e, 0) })
	return marks.apply(nil, b, 0)
}

// String is Bytes for strings.
func (s *Scrubber) String(v string) string {
	if !s.Contains(readOnly(v)) {
		return v
	}
	return string(s.Bytes([]byte(v)))
}

// Contains reports whether b holds a piece of a secret.
func (s *Scrubber) Contains(b []byte) bool {
	if s.Len() == 0 || len(b) < s.minLen {
		return false
	}
	var vw view
	vw.decode(b, nil, 0, false)
	found := false
	s.findView(&vw, func(int, int, int) { found = true })
	return found
}

// Reader wraps r so that every piece of a secret in the stream is replaced,
// as Bytes would on the whole, even when it is split across reads. It holds
// back the last bytes read until it knows they do not begin a piece, so it
// suits bodies, not event streams (use Events for those).
func (s *Scrubber) Reader(r io.Reader) io.Reader {
	if s.Len() == 0 {
		return r
	}
	return newBodyReader(s, r, false)
}

// JSONReader is Reader for a JSON document, which also finds secrets split
// across the document's strings: the text of every string value is read
// on from the one before it at the same path (array positions ignored), so
// a secret cut into pieces over consecutive content blocks or array
// elements is found as a client joining them would see it.
func (s *Scrubber) JSONReader(r io.Reader) io.Reader {
	if s.Len() == 0 {
		return r
	}
	return newBodyReader(s, r, true)
}
