package secret

import (
	"bytes"
	"hash/maphash"
	"io"
	"slices"
	"sync"
	"unsafe"
)

const (
	// carryLen is how much decoded text a carry keeps: enough for a
	// piece's worth of percent-encoded characters and a cut escape.
	carryLen = 3*(PieceLen-1) + 2
	// maxCarries bounds the paths followed per stream; past it they are
	// forgotten (a stream with that many distinct paths is not a client's).
	maxCarries = 1024
	// maxHeld and maxHeldBytes bound the events Events holds back.
	maxHeld      = 64
	maxHeldBytes = 1 << 20
	// holdBack is how much of a body the body reader keeps until more
	// follows: a piece split across strings closer than that is replaced
	// in both.
	holdBack = 64 << 10
	// rescan is how far before the new bytes the whole-text view is read
	// again: more than the longest encoding of a window.
	rescan = 1024
)

// carry is the end of the text at one path of a stream, decoded from JSON
// escapes, and where its bytes came from.
type carry struct {
	key  uint64 // its path
	b    []byte
	segs []cseg // the origins of b's bytes, oldest first
	last uint64 // hash of the last value
	hot  bool   // its tail may start a secret and has not been passed on
	// steady is set when the last value was the one before again, found
	// nothing, and left b as it was (a stream's id, repeated in every
	// event): the same value once more needs no look across.
	steady bool
}

// cseg is where n consecutive bytes of a carry came from: a, a+1, … when
// their text had no escapes, else at, byte by byte.
type cseg struct {
	n  int
	a  int64
	at []span
}

// add appends decoded bytes b, with their origin, and keeps the last
// carryLen bytes.
func (c *carry) add(b []byte, sg cseg) {
	if len(b) >= carryLen {
		k := len(b) - carryLen
		b, c.b, c.segs = b[k:], c.b[:0], c.segs[:0]
		sg.n -= k
		if sg.at != nil {
			sg.at = sg.at[k:]
		} else {
			sg.a += int64(k)
		}
	}
	if n := len(c.b) + len(b) - carryLen; n > 0 {
		c.drop(n) // first, so that c.b keeps its buffer
	}
	c.b = append(c.b, b...)
	c.segs = append(c.segs, sg)
}

// drop removes c's first n bytes.
func (c *carry) drop(n int) {
	c.b = append(c.b[:0], c.b[n:]...)
	k := 0
	for ; k < len(c.segs) && n >= c.segs[k].n; k++ {
		n -= c.segs[k].n
	}
	if k < len(c.segs) && n > 0 {
		first := &c.segs[k]
		first.n -= n
		if first.at != nil {
			first.at = first.at[n:]
		} else {
			first.a += int64(n)
		}
	}
	c.segs = append(c.segs[:0], c.segs[k:]...)
}

// spans appends the origin of every byte of c to dst.
func (c *carry) spans(dst []span) []span {
	for _, sg := range c.segs {
		if sg.at != nil {
			dst = append(dst, sg.at...)
			continue
		}
		for i := range int64(sg.n) {
			dst = append(dst, span{sg.a + i, sg.a + i + 1})
		}
	}
	return dst
}

// end is where c's last byte came from.
func (c *carry) end() int64 {
	sg := c.segs[len(c.segs)-1]
	if sg.at != nil {
		return sg.at[len(sg.at)-1].b
	}
	return sg.a + int64(sg.n)
}

// joiner reads each string value on from the previous one at its path.
type joiner struct {
	s       *Scrubber
	seed    maphash.Seed
	carries map[uint64]*carry // nil while there are fewCarries or fewer
	list    []*carry          // the same, in order
	free    []*carry          // allocated, not yet used
	// arena holds the byte-by-byte origins of escaped carry text; it is
	// emptied when everything before is passed on (reset), as origins are
	// needed only for what may still be replaced. Without resets (bodies)
	// each carry owns its own.
	arena  []span
	resets bool
	*joinScratch
}

// joinScratch is a joiner's working space, used within one call only.
type joinScratch struct {
	v1, comb, l2, tail, prev []byte
	v1at, combA, l2at        []span
	spans                    []span
}

func newJoiner(s *Scrubber) joiner {
	return joiner{s: s, seed: maphash.MakeSeed()}
}

// lookup returns the carry of key, nil when there is none.
func (j *joiner) lookup(key uint64) *carry {
	if j.carries != nil {
		return j.carries[key]
	}
	for _, c := range j.list {
		if c.key == key {
			return c
		}
	}
	return nil
}

// carry returns the carry of key, new and empty if there was none.
func (j *joiner) carry(key uint64) *carry {
	if c := j.lookup(key); c != nil {
		return c
	}
	if j.carries == nil && len(j.list) >= fewCarries {
		j.carries = make(map[uint64]*carry, 2*fewCarries)
		for _, c := range j.list {
			j.carries[c.key] = c
		}
	}
	if len(j.list) >= maxCarries {
		clear(j.carries)
		clear(j.list)
		j.list = j.list[:0]
	}
	c := j.newCarry(key)
	if j.carries != nil {
		j.carries[key] = c
	}
	j.list = append(j.list, c)
	return c
}

// fewCarries is how many carries a joiner looks up without a map.
const fewCarries = 16

// newCarry returns an empty carry, allocated with its buffers in blocks.
func (j *joiner) newCarry(key uint64) *carry {
	if len(j.free) == 0 {
		// Blocks grow with the paths seen: a few paths cost a few
		// carries' room.
		n := min(maxCarryBlock, max(1, len(j.list)/2))
		blk := make([]carryBlock, n)
		j.free = make([]*carry, n)
		for i := range blk {
			b := &blk[i]
			b.c.b, b.c.segs = b.buf[:0], b.segs[:0]
			j.free[i] = &b.c
		}
	}
	c := j.free[len(j.free)-1]
	j.free = j.free[:len(j.free)-1]
	c.key = key
	return c
}

// carryBlock is a carry with room for its text and two segments (a carry
// reset after every event holds one, and one more for each value added).
type carryBlock struct {
	c    carry
	buf  [carryLen + 8]byte
	segs [2]cseg
}

// maxCarryBlock is the most carries allocated at once.
const maxCarryBlock = 8

// reset forgets the origins of everything carried: it has all been passed
// on.
func (j *joiner) reset() {
	j.arena = j.arena[:0]
	for _, c := range j.list {
		c.hot = false
		// The bytes still count; their origins, all passed on, not: one
		// segment holds them all (so a carry's segments do not pile up
		// over a stream of short values).
		c.segs = c.segs[:0]
		if len(c.b) > 0 {
			c.segs = append(c.segs, cseg{n: len(c.b), a: passedOn})
		}
	}
}

// passedOn is the origin given to bytes already passed on: before any
// floor.
const passedOn = -1 << 40

// headLen is how much of a value is decoded to look across its start: a
// window's worth of the longest escapes (\u0025 for each % of a %XX).
const headLen = 18*PieceLen + 16

// join reads raw, the escaped content of a string value whose byte i came
// from the source byte rs maps text offset off+i to, on from c: it marks in
// m every match that straddles the join (the parts at or after floor),
// then appends the value to c. sum is the value's hash. It reports whether
// c's tail may start a secret (never for a steady repeat).
func (j *joiner) join(c *carry, raw []byte, sum uint64, rs runs, off int, floor int64, m *marks) bool {
	if len(raw) == 0 {
		return false
	}
	repeat := sum == c.last
	c.last = sum
	found := false
	if len(c.b) > 0 && !(repeat && c.steady) {
		head := raw[:min(len(raw), headLen)]
		if found = j.mayStraddle(c, head); found && !j.across(c, head, rs, off, floor, m, len(head) < len(raw)) {
			j.across(c, raw, rs, off, floor, m, false)
		}
	}
	steadyBefore := c.steady
	if repeat && !found && !c.steady {
		j.prev = append(j.prev[:0], c.b...)
	}
	// The value's tail joins the carry.
	lo := max(0, len(raw)-6*carryLen-12)
	tail := raw[lo:]
	if k, lin := rs.linear(off+lo, off+len(raw)); lin && bytes.IndexByte(tail, '\\') < 0 {
		c.add(tail, cseg{n: len(tail), a: k})
	} else {
		j.spans = rs.spans(j.spans[:0], off+lo, off+len(raw))
		v1, v1at, own := unescapeJSON(j.v1[:0], j.v1at[:0], tail, j.spans, true)
		if own {
			j.v1, j.v1at = v1, v1at
		}
		var at []span
		if j.resets {
			from := len(j.arena)
			j.arena = append(j.arena, v1at...)
			at = j.arena[from:len(j.arena):len(j.arena)]
		} else {
			at = append([]span(nil), v1at...)
		}
		c.add(v1, cseg{n: len(v1), at: at})
	}
	c.steady = repeat && !found && (steadyBefore || bytes.Equal(j.prev, c.b))
	if c.steady || c.end() <= floor {
		return false
	}
	l2, _, own := unescapePercent(j.tail[:0], nil, c.b, nil, false)
	if own {
		j.tail = l2
	}
	return j.s.mayBegin(c.b) || j.s.mayBegin(l2)
}

// mayStraddle is the cheap first look across the join of c and raw: it
// reports whether any piece may lie in the carried text and the value's
// head read on (it may also report a piece wholly on one side; across then
// looks closely).
func (j *joiner) mayStraddle(c *carry, raw []byte) bool {
	v1, _, own := unescapeJSON(j.v1[:0], nil, raw, nil, false)
	if own {
		j.v1 = v1
	}
	// A piece across the join has a character of some form on each side
	// of it, unless a percent-escape next to it turns into one.
	last := c.b[len(c.b)-1]
	if !j.s.chars[last] || !j.s.chars[v1[0]] {
		near := c.b[max(0, len(c.b)-2):]
		if bytes.IndexByte(near, '%') < 0 && bytes.IndexByte(v1[:min(len(v1), 3)], '%') < 0 {
			return false
		}
	}
	j.comb = append(append(j.comb[:0], c.b...), v1[:min(len(v1), 3*PieceLen)]...)
	found := false
	j.s.find(j.comb, len(c.b), func(int, int) { found = true })
	if found || bytes.IndexByte(j.comb, '%') < 0 {
		return found
	}
	l2, _, own := unescapePercent(j.l2[:0], nil, j.comb, nil, false)
	if own {
		j.l2 = l2
	}
	j.s.find(l2, 0, func(int, int) { found = true })
	return found
}

// across marks the matches that straddle the end of c and the start of
// raw. It reports false when the head given was cut short and a match ran
// to its end (the caller then retries with the whole value).
func (j *joiner) across(c *carry, raw []byte, rs runs, off int, floor int64, m *marks, cut bool) bool {
	j.spans = rs.spans(j.spans[:0], off, off+len(raw))
	v1, v1at, own := unescapeJSON(j.v1[:0], j.v1at[:0], raw, j.spans, true)
	if own {
		j.v1, j.v1at = v1, v1at
	}
	j.comb = append(append(j.comb[:0], c.b...), v1...)
	j.combA = append(c.spans(j.combA[:0]), v1at...)
	l2, l2at, own := unescapePercent(j.l2[:0], j.l2at[:0], j.comb, j.combA, true)
	if own {
		j.l2, j.l2at = l2, l2at
	}
	// Both readings of the joined text: as JSON-decoded, and then
	// percent-decoded too.
	first := v1at[0].a
	ok := true
	for _, l := range [2]struct {
		b  []byte
		at []span
	}{{j.comb, j.combA}, {l2, l2at}} {
		junction := len(l.at)
		for i := len(l.at) - 1; i >= 0 && l.at[i].b > first; i-- {
			junction = i
		}
		j.s.find(l.b, junction, func(a, e int) {
			if cut && e == len(l.b) {
				ok = false
			}
			markSpans(m, l.at[a:e], floor)
		})
		if !own {
			break // no percent-escapes: one reading
		}
	}
	return ok
}

// Events scrubs one stream of server-sent events, passed to Event one
// event at a time. Each event is scrubbed as a whole text (lines joined,
// so a secret cut across two data: lines is found), and the text of every
// JSON string value is read on from the values before it at the same path
// — per path, and per path and delta index — so a secret split across
// events is found as a client reassembling the deltas would see it. An
// event whose text ends in what may be the start of a secret is held back
// until the next one shows whether it goes on, so both parts are
// replaced; ordinary text flows event by event.
type Events struct {
	s     *Scrubber
	j     joiner
	pend  []held
	m     marks
	total int64 // offset after the last event seen
	floor int64 // everything before has been passed on
	size  int
	// scratch, while Event runs
	*eventScratch
}

// eventScratch is the working space of one call of Event: nothing in it
// outlives the call, so streams share it through a pool rather than each
// growing its own.
type eventScratch struct {
	js                  joinScratch
	w                   walker
	text, data, flat    []byte
	tRuns, dRuns, fRuns runs
	frags               []fragment
	vw                  view
}

var eventScratchPool = sync.Pool{New: func() any { return new(eventScratch) }}

type held struct {
	base int64
	raw  []byte
}

// Events returns a scrubber for one event stream.
func (s *Scrubber) Events() *Events {
	e := &Events{s: s}
	if s.Len() > 0 {
		e.j = newJoiner(s)
		e.j.resets = true
	}
	return e
}

// Event takes the raw bytes of one event (its lines and the blank line
// that ends it) and returns what may be sent now: nothing while it is held,
// or it and the events held before it, scrubbed.
func (e *Events) Event(raw []byte) []byte {
	if e.s.Len() == 0 {
		return raw
	}
	sc := eventScratchPool.Get().(*eventScratch)
	e.eventScratch, e.j.joinScratch = sc, &sc.js
	e.w.seed, e.w.discs = e.j.seed, true
	out := e.event(raw)
	e.eventScratch, e.j.joinScratch = nil, nil
	eventScratchPool.Put(sc)
	return out
}

func (e *Events) event(raw []byte) []byte {
	base := e.total
	e.total += int64(len(raw))
	e.lines(raw, base)

	// The event as one text.
	e.vw.decode(e.text, nil, 0, false)
	found := false
	e.s.findView(&e.vw, func(int, int, int) { found = true })
	if found {
		e.vw.decode(e.text, e.tRuns.spans(nil, 0, len(e.text)), 0, true)
		e.s.findView(&e.vw, func(k, a, b int) { e.vw.mark(&e.m, k, a, b, e.floor) })
	}

	// Its data, read on from the data before it (what a client that joins
	// the payloads, JSON or not, reads). JSON framing, which no secret
	// contains, ends the text.
	if len(e.flat) > 0 {
		if e.s.framed(e.flat) {
			if c := e.j.lookup(textPath); c != nil {
				c.b, c.segs, c.hot, c.steady = c.b[:0], c.segs[:0], false, false
			}
		} else {
			c := e.j.carry(textPath)
			c.hot = e.j.join(c, e.flat, maphash.Bytes(e.j.seed, e.flat), e.fRuns, 0, e.floor, &e.m)
		}
	}
	// Its string values, each read on from those before at its path.
	e.frags = e.frags[:0]
	if d := bytes.TrimLeft(e.data, " \t\r\n"); len(d) > 0 && (d[0] == '{' || d[0] == '[' || d[0] == '"') {
		e.w.reset()
		e.w.feed(e.data, 0, func(f fragment) { e.frags = append(e.frags, f) })
	}
	for _, f := range e.frags {
		val := e.data[f.a:f.b]
		sum := maphash.Bytes(e.j.seed, val)
		for i, key := range [2]uint64{f.path, e.w.route(f)} {
			if i == 1 && key == f.path {
				break
			}
			c := e.j.carry(key)
			c.hot = e.j.join(c, val, sum, e.dRuns, int(f.a), e.floor, &e.m)
		}
	}

	hold := false
	for _, c := range e.j.list {
		hold = hold || c.hot
	}
	if hold && len(e.pend) < maxHeld && e.size+len(raw) <= maxHeldBytes {
		e.pend = append(e.pend, held{base: base, raw: bytes.Clone(raw)})
		e.size += len(raw)
		return nil
	}
	if len(e.pend) == 0 && len(e.m) == 0 {
		// The common case: nothing held, nothing found.
		e.floor = e.total
		e.j.reset()
		return raw
	}
	e.pend = append(e.pend, held{base: base, raw: raw}) // used up by Flush now
	return e.Flush()
}

// framed reports whether data starts and ends with JSON brackets no form
// contains, so that nothing before or after it can join a piece in it.
func (s *Scrubber) framed(data []byte) bool {
	d := bytes.TrimSpace(data)
	if len(d) < 2 || s.chars['{'] || s.chars['}'] || s.chars['['] || s.chars[']'] {
		return false
	}
	return (d[0] == '{' || d[0] == '[') && (d[len(d)-1] == '}' || d[len(d)-1] == ']')
}

// Flush returns the events still held, scrubbed (at the end of the
// stream, or before keyward's own closing event).
func (e *Events) Flush() []byte {
	if len(e.pend) == 0 {
		return nil
	}
	var out []byte
	for _, h := range e.pend {
		out = e.m.apply(out, h.raw, h.base)
	}
	clear(e.pend)
	e.pend, e.m, e.size, e.floor = e.pend[:0], e.m[:0], 0, e.total
	e.j.reset()
	return out
}

// lines splits an event into its text (every line's content, field names
// of the known fields left out, joined without separators), its data (the
// data: values joined with "\n", as a client reads them) and its flat data
// (joined without separators).
func (e *Events) lines(raw []byte, base int64) {
	e.text, e.data, e.flat = e.text[:0], e.data[:0], e.flat[:0]
	e.tRuns, e.dRuns, e.fRuns = e.tRuns[:0], e.dRuns[:0], e.fRuns[:0]
	hasData := false
	for i := 0; i < len(raw); {
		n := bytes.IndexByte(raw[i:], '\n')
		next := i + n + 1
		if n < 0 {
			n, next = len(raw)-i, len(raw)
		}
		line := bytes.TrimSuffix(raw[i:i+n], []byte("\r"))
		start := i
		i = next
		if len(line) == 0 {
			continue
		}
		val, vstart := line, start
		field := []byte(nil)
		if c := bytes.IndexByte(line, ':'); c > 0 {
			switch f := string(line[:c]); f {
			case "data", "event", "id", "retry":
				field, val, vstart = line[:c], line[c+1:], start+c+1
				if len(val) > 0 && val[0] == ' ' {
					val, vstart = val[1:], vstart+1
				}
			}
		}
		e.tRuns = e.tRuns.add(len(e.text), base+int64(vstart), len(val))
		e.text = append(e.text, val...)
		if string(field) == "data" {
			if hasData {
				e.dRuns = e.dRuns.add(len(e.data), base+int64(start-1), 1)
				e.data = append(e.data, '\n')
			}
			e.dRuns = e.dRuns.add(len(e.data), base+int64(vstart), len(val))
			e.data = append(e.data, val...)
			e.fRuns = e.fRuns.add(len(e.flat), base+int64(vstart), len(val))
			e.flat = append(e.flat, val...)
			hasData = true
		}
	}
}

// runs maps a text built from pieces of a source back to it: run k starts
// at text offset v and source offset r.
type runs []run

type run struct {
	v int
	r int64
}

func (rs runs) add(v int, r int64, n int) runs {
	if n == 0 {
		return rs
	}
	return append(rs, run{v, r})
}

// linear reports whether text bytes [lo, hi) come from one stretch of the
// source, and where it starts.
func (rs runs) linear(lo, hi int) (int64, bool) {
	k := 0
	for k+1 < len(rs) && rs[k+1].v <= lo {
		k++
	}
	if k+1 < len(rs) && rs[k+1].v < hi {
		return 0, false
	}
	return rs[k].r + int64(lo-rs[k].v), true
}

// spans appends the source range of each text byte in [lo, hi) to dst.
func (rs runs) spans(dst []span, lo, hi int) []span {
	k := 0
	for i := lo; i < hi; i++ {
		for k+1 < len(rs) && rs[k+1].v <= i {
			k++
		}
		o := rs[k].r + int64(i-rs[k].v)
		dst = append(dst, span{o, o + 1})
	}
	return dst
}

// bodyReader is Reader and JSONReader.
type bodyReader struct {
	s       *Scrubber
	src     io.Reader
	json    bool
	j       joiner
	js      joinScratch
	w       walker
	pend    []byte // not yet passed on; pend[0] is at offset off
	off     int64
	fed     int64 // the walker has read up to here
	scanned int64 // the whole-text view has been read up to here
	m       marks
	out     []byte
	err     error
	done    bool
	vw      view
	ids     [1]run // the identity map of a fragment
}

func newBodyReader(s *Scrubber, r io.Reader, json bool) *bodyReader {
	b := &bodyReader{s: s, src: r, json: json}
	if json {
		b.j = newJoiner(s)
		b.j.joinScratch = &b.js
		b.w.seed = b.j.seed
	}
	return b
}

func (r *bodyReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.done && len(r.pend) == 0 {
			return 0, r.err
		}
		if !r.done {
			if cap(r.pend)-len(r.pend) < 2048 {
				r.pend = slices.Grow(r.pend, max(4096, len(r.pend)))
			}
			n, err := r.src.Read(r.pend[len(r.pend):cap(r.pend)])
			r.pend = r.pend[:len(r.pend)+n]
			if err != nil {
				r.err, r.done = err, true
			}
			if !r.done && len(r.pend) < holdBack+32<<10 {
				continue
			}
		}
		r.release()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// release scrubs what was read and passes on all but the last holdBack
// bytes (everything at the end).
func (r *bodyReader) release() {
	end := r.off + int64(len(r.pend))
	if r.json && r.fed < end {
		r.w.feed(r.pend[r.fed-r.off:], r.fed, func(f fragment) {
			r.ids[0] = run{0, f.a}
			val := r.pend[f.a-r.off : f.b-r.off]
			r.j.join(r.j.carry(f.path), val, maphash.Bytes(r.j.seed, val), r.ids[:1], 0, r.off, &r.m)
		})
		r.fed = end
	}
	from := max(r.off, r.scanned-rescan)
	text := r.pend[from-r.off:]
	r.vw.decode(text, nil, from, false)
	found := false
	r.s.findView(&r.vw, func(int, int, int) { found = true })
	if found {
		r.vw.decode(text, nil, from, true)
		r.s.findView(&r.vw, func(k, a, b int) { r.vw.mark(&r.m, k, a, b, r.off) })
	}
	r.scanned = end

	cut := end
	if !r.done {
		cut = max(r.off, end-holdBack)
	}
	for _, sp := range r.m {
		if sp.a < cut && sp.b > cut {
			cut = sp.a
		}
	}
	if cut <= r.off {
		return
	}
	n := int(cut - r.off)
	r.out = r.m.apply(r.out[:0], r.pend[:n], r.off)
	kept := r.m[:0]
	for _, sp := range r.m {
		if sp.b > cut {
			kept = append(kept, sp)
		}
	}
	r.m = kept
	r.pend = append(r.pend[:0], r.pend[n:]...)
	r.off = cut
}

// Close closes the source when it is a Closer.
func (r *bodyReader) Close() error {
	if c, ok := r.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// readOnly views a string as bytes without copying; the scrubber only
// reads what it is given.
func readOnly(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
