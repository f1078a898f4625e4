package secret

import (
	"bytes"
	"hash/maphash"
)

// walker follows a JSON document fed to it in pieces and reports where its
// string values are and at which path (object keys from the root; array
// positions left out, so consecutive elements share a path the way a
// client joining content blocks or deltas sees them). It never fails: on
// text that is not JSON it just reports less sensible paths.
type walker struct {
	seed  maphash.Seed
	stack []frame
	deep  int // containers opened beyond maxDepth, not tracked
	st    uint8
	isKey bool
	// keyEsc is set when the open string has an escape (its key then
	// needs decoding).
	keyEsc bool
	key    []byte // the open key's raw bytes, bounded
	// from is where the open string's unreported content starts; esc is
	// where the escape being read started (escLeft bytes still to come).
	from, esc int64
	escLeft   int
	// Discriminators ("index", "output_index", …) tell apart streams of
	// deltas that clients join separately; nodes holds them per object.
	discs   bool
	nodes   []node
	discKey uint64 // the key whose number is being read, 0 when none
	scalar  []byte
}

type frame struct {
	arr       bool
	expectKey bool
	path      uint64 // path of this container
	key       uint64 // last key read (objects)
	node      int32  // innermost object node
}

type node struct {
	parent int32
	disc   uint64
}

// fragment is the raw (still escaped) content of a string value, or of
// the part of it fed so far, in the offsets of the fed text.
type fragment struct {
	path uint64
	node int32
	a, b int64
}

const (
	stOut = iota
	stStr
	maxDepth  = 128
	maxKeyLen = 256
	rootPath  = 0x6a09e667f3bcc908
	arrayStep = 0xbb67ae8584caa73b
	textPath  = 0x3c6ef372fe94f82b // the events' data, whole
)

func mix(a, b uint64) uint64 {
	h := a ^ (b * 0x9e3779b97f4a7c15)
	h ^= h >> 32
	h *= 0xd6e8feb86659fd93
	return h ^ h>>32
}

func (w *walker) reset() {
	w.stack, w.deep, w.st, w.isKey, w.key = w.stack[:0], 0, stOut, false, w.key[:0]
	w.escLeft, w.nodes, w.discKey, w.scalar = 0, w.nodes[:0], 0, w.scalar[:0]
}

func (w *walker) top() *frame {
	if len(w.stack) == 0 {
		return nil
	}
	return &w.stack[len(w.stack)-1]
}

// valuePath is the path of a value starting at the current position.
func (w *walker) valuePath() uint64 {
	t := w.top()
	switch {
	case t == nil:
		return rootPath
	case t.arr:
		return mix(t.path, arrayStep)
	}
	return mix(t.path, t.key)
}

func (w *walker) curNode() int32 {
	if t := w.top(); t != nil {
		return t.node
	}
	return -1
}

func (w *walker) push(arr bool) {
	if len(w.stack) >= maxDepth {
		w.deep++
		return
	}
	f := frame{arr: arr, path: w.valuePath(), node: w.curNode(), expectKey: !arr}
	if !arr && w.discs {
		w.nodes = append(w.nodes, node{parent: f.node})
		f.node = int32(len(w.nodes) - 1)
	}
	w.stack = append(w.stack, f)
}

func (w *walker) pop() {
	w.endScalar()
	if w.deep > 0 {
		w.deep--
		return
	}
	if len(w.stack) > 0 {
		w.stack = w.stack[:len(w.stack)-1]
	}
}

// endScalar records a discriminator's number once it is complete.
func (w *walker) endScalar() {
	if w.discKey != 0 && len(w.scalar) > 0 {
		if n := w.curNode(); n >= 0 {
			w.nodes[n].disc = mix(w.nodes[n].disc, mix(w.discKey, maphash.Bytes(w.seed, w.scalar)))
		}
	}
	w.discKey, w.scalar = 0, w.scalar[:0]
}

// feed reads text, whose first byte is at offset base, and reports every
// string value (or the part of one that text ends in) to emit.
func (w *walker) feed(text []byte, base int64, emit func(fragment)) {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if w.st == stStr {
			if w.escLeft > 0 {
				if w.escLeft == 5 && c != 'u' { // a one-character escape
					w.escLeft = 0
				} else {
					w.escLeft--
				}
				continue
			}
			switch c {
			case '\\':
				w.esc, w.escLeft, w.keyEsc = base+int64(i), 5, true
			case '"':
				w.endString(text, base, base+int64(i), emit)
			default:
				// Plain content: on to the next quote or backslash.
				for i+1 < len(text) && text[i+1] != '"' && text[i+1] != '\\' {
					i++
				}
			}
			continue
		}
		switch c {
		case '"':
			w.st, w.from = stStr, base+int64(i)+1
			t := w.top()
			w.isKey = w.deep == 0 && t != nil && !t.arr && t.expectKey
			w.keyEsc = false
			w.key = w.key[:0]
			if !w.isKey {
				w.discKey = 0
			}
		case '{':
			w.push(false)
		case '[':
			w.push(true)
		case '}', ']':
			w.pop()
		case ':':
			if t := w.top(); t != nil && !t.arr {
				t.expectKey = false
			}
		case ',':
			w.endScalar()
			if t := w.top(); t != nil && !t.arr {
				t.expectKey = true
			}
		case ' ', '\t', '\r', '\n':
		default:
			if w.discKey != 0 && len(w.scalar) < 32 {
				w.scalar = append(w.scalar, c)
			}
		}
	}
	if w.st == stStr {
		end := base + int64(len(text))
		if w.escLeft > 0 && !w.isKey {
			end = w.esc // a value's part ends before a cut escape
		}
		w.part(text, base, end, emit)
	}
}

// part reports the open string's content up to end.
func (w *walker) part(text []byte, base, end int64, emit func(fragment)) {
	if end <= w.from {
		return
	}
	if w.isKey {
		lo := w.from - base
		if n := maxKeyLen - len(w.key); n > 0 {
			w.key = append(w.key, text[lo:min(end-base, lo+int64(n))]...)
		}
	} else if w.deep == 0 {
		emit(fragment{path: w.valuePath(), node: w.curNode(), a: w.from, b: end})
	}
	w.from = end
}

func (w *walker) endString(text []byte, base, end int64, emit func(fragment)) {
	w.part(text, base, end, emit)
	w.st = stOut
	if !w.isKey {
		return
	}
	t := w.top()
	k := w.key
	if w.keyEsc {
		k, _, _ = unescapeJSON(nil, nil, w.key, nil, false)
	}
	t.key = maphash.Bytes(w.seed, k)
	w.discKey = 0
	if w.discs && (bytes.Equal(k, []byte("index")) || bytes.HasSuffix(k, []byte("_index"))) {
		w.discKey = t.key | 1
	}
}

// route is the key of the deltas a fragment belongs to: its path and the
// discriminators of every object around it.
func (w *walker) route(f fragment) uint64 {
	r := f.path
	for n := f.node; n >= 0; n = w.nodes[n].parent {
		if d := w.nodes[n].disc; d != 0 {
			r = mix(r, d)
		}
	}
	return r
}
