package source

import (
	"bytes"
	"slices"
	"sync/atomic"

	"github.com/keyward/keyward/internal/scan/decode"
	"github.com/keyward/keyward/internal/scan/detect"
)

// chunk is a piece of a byte stream as the detector sees it: data, the
// share of it whose findings belong to this chunk (the rest is overlap
// that the previous or next chunk owns), and where data starts in the
// stream.
type chunk struct {
	data      []byte
	from, to  int
	base      int64 // stream offset of data[0]
	line      int   // line number at data[0]
	lineStart int64 // stream offset of the start of that line
}

// stream cuts a byte stream, written to it in pieces of any size, into
// chunks of chunkSize bytes, each preceded by the last overlap bytes of the
// one before, and hands each to emit (synchronously: data is reused after
// emit returns). Memory is one buffer of chunkSize+overlap bytes however
// long the stream and its lines are.
type stream struct {
	buf       []byte
	n         int
	overlap   int
	base      int64
	line      int
	lineStart int64
	emit      func(chunk)
}

func newStream(buf []byte, overlap int, emit func(chunk)) *stream {
	return &stream{buf: buf, overlap: overlap, line: 1, emit: emit}
}

// Write appends p to the stream, emitting every chunk it fills.
func (s *stream) Write(p []byte) {
	for len(p) > 0 {
		c := copy(s.buf[s.n:], p)
		s.n += c
		p = p[c:]
		if s.n == len(s.buf) {
			s.flush(false)
		}
	}
}

// Close emits what is left: the stream's last chunk.
func (s *stream) Close() {
	if s.n > 0 || s.base == 0 {
		s.flush(true)
	}
}

// Len is how many bytes have been written.
func (s *stream) Len() int64 { return s.base + int64(s.n) }

func (s *stream) flush(final bool) {
	// The overlap is split: its first half ends the previous chunk's share,
	// its second half starts this one's, so every finding has half an
	// overlap of context on either side, and one shorter than that is
	// found exactly once.
	from, to := 0, s.n
	if s.base > 0 {
		from = s.overlap / 2
	}
	if !final {
		to = s.n - s.overlap/2
	}
	s.emit(chunk{data: s.buf[:s.n], from: from, to: to, base: s.base, line: s.line, lineStart: s.lineStart})
	if final {
		s.n = 0
		return
	}
	consumed := s.buf[:s.n-s.overlap]
	if c := bytes.Count(consumed, []byte{'\n'}); c > 0 {
		s.line += c
		s.lineStart = s.base + int64(bytes.LastIndexByte(consumed, '\n')+1)
	}
	copy(s.buf, s.buf[s.n-s.overlap:s.n])
	s.base += int64(s.n - s.overlap)
	s.n = s.overlap
}

// hit is a detector finding in stream coordinates, with the decodings that
// revealed it.
type hit struct {
	detect.Finding
	encoding string
}

// allowMarker on a line silences the findings on it.
const allowMarker = "keyward:allow"

// scanner scans the chunks of one stream (a file, a file's added lines in
// one commit, stdin) and collects its findings.
type scanner struct {
	d      *detect.Detector
	decode decode.Options
	// budget is how many decoded bytes each chunk may produce: memory per
	// chunk stays bounded, and a secret late in a large file is decoded as
	// surely as one at its start.
	budget int64
	// name and onCut report, once per stream, that some chunk ran out of
	// budget; chunks of one stream may be scanned concurrently.
	name  string
	onCut func(name string)
	cut   atomic.Bool
}

func newScanner(d *detect.Detector, opt Options, name string) *scanner {
	return &scanner{d: d, decode: decode.Options{MaxDepth: opt.DecodeDepth}, budget: int64(opt.DecodeBudget), name: name, onCut: opt.DecodeCut}
}

// scan returns the findings that belong to c, in stream coordinates.
func (s *scanner) scan(c chunk) []hit {
	var out []hit
	add := func(f detect.Finding, enc string) {
		if f.Start < c.from || f.Start >= c.to || allowed(c.data, f.Start, f.End, c.base == 0, c.to == len(c.data)) {
			return
		}
		if f.Line == 1 {
			f.Column += int(c.base - c.lineStart)
		}
		f.Line += c.line - 1
		f.Start += int(c.base)
		f.End += int(c.base)
		out = append(out, hit{f, enc})
	}
	raw := dropGenericTwins(s.d.Scan(c.data))
	for _, f := range raw {
		add(f, "")
	}
	if s.decode.MaxDepth <= 0 {
		return out
	}
	seen := map[string]bool{}
	for _, f := range raw {
		seen[f.RuleID+"\x00"+f.Secret] = true
	}
	var decoded []hit
	var budget atomic.Int64
	budget.Store(s.budget)
	segs := decode.Segments(c.data, s.decode, &budget)
	if budget.Load() < 0 && s.cut.CompareAndSwap(false, true) && s.onCut != nil {
		// Some encoded text in this chunk was left undecoded: say so.
		s.onCut(s.name)
	}
	for _, seg := range segs {
		for _, f := range dropGenericTwins(s.d.Scan(seg.Text)) {
			k := f.RuleID + "\x00" + f.Secret
			if seen[k] {
				continue // found as it is written, or in another decoding
			}
			seen[k] = true
			start, end := seg.Map(f.Start, f.End)
			f.Start, f.End = start, end
			f.Line, f.Column = position(c.data, start)
			decoded = append(decoded, hit{f, seg.Encoding})
		}
	}
	if len(decoded) == 0 {
		return out
	}
	// A secret read through its encoding supersedes a piece of it that
	// the same rule matched as written (a JWT cut short by an escape), and
	// a generic finding over the encoded text that holds it: a provider's
	// key in a base64 blob assigned to API_SECRET is one Anthropic key,
	// not also an anonymous secret.
	out = slices.DeleteFunc(out, func(h hit) bool {
		return slices.ContainsFunc(decoded, func(d hit) bool {
			return (d.RuleID == h.RuleID || generic(h.Finding) && !generic(d.Finding)) &&
				int64(d.Start) < int64(h.End)-c.base && int64(h.Start)-c.base < int64(d.End)
		})
	})
	// The same among decodings (one segment's generic finding, another's
	// provider key over the same bytes), and against provider keys
	// written as they are.
	decoded = slices.DeleteFunc(decoded, func(d hit) bool {
		if !generic(d.Finding) {
			return false
		}
		overlaps := func(o detect.Finding) bool { return !generic(o) && o.Start < d.End && d.Start < o.End }
		return slices.ContainsFunc(decoded, func(o hit) bool { return overlaps(o.Finding) }) ||
			slices.ContainsFunc(raw, overlaps)
	})
	for _, d := range decoded {
		add(d.Finding, d.encoding)
	}
	return out
}

func generic(f detect.Finding) bool { return f.Provider == "Generic" }

// position is the 1-based line and byte column of offset in data.
func position(data []byte, offset int) (line, col int) {
	line = bytes.Count(data[:offset], []byte{'\n'}) + 1
	return line, offset - (bytes.LastIndexByte(data[:offset], '\n') + 1) + 1
}

// Where an allow marker counts. On an ordinary line (up to maxAllowLine
// bytes), anywhere on the finding's line. On a longer one (a minified
// bundle, where the line is the whole file and anything may be near), only
// in a comment that starts within allowAfter bytes after the finding's
// end, or as a /* keyward:allow */ comment right before it (only quotes,
// spaces and the like in between).
const (
	maxAllowLine = 1 << 10
	allowAfter   = 200
	allowBefore  = 64
)

// allowed reports whether the finding at data[start:end] is silenced by an
// allow marker (see maxAllowLine). first and last say whether data starts
// and ends the stream (else a line may go on beyond it).
func allowed(data []byte, start, end int, first, last bool) bool {
	marker := []byte(allowMarker)
	// The line, if it is short enough to be an ordinary one.
	lo, hi := max(0, start-maxAllowLine), min(len(data), end+maxAllowLine)
	i := bytes.LastIndexByte(data[lo:start], '\n')
	j := bytes.IndexByte(data[end:hi], '\n')
	lineStart, lineEnd := lo+i+1, end+j
	if i < 0 {
		lineStart = -1
		if lo == 0 && first {
			lineStart = 0 // the start of the data: the line is no longer than this
		}
	}
	if j < 0 {
		lineEnd = -1
		if hi == len(data) && last {
			lineEnd = len(data)
		}
	}
	if lineStart >= 0 && lineEnd >= 0 && lineEnd-lineStart <= maxAllowLine {
		return bytes.Contains(data[lineStart:lineEnd], marker)
	}
	// A long line: a comment just after the finding...
	after := data[end:min(len(data), end+allowAfter+len(marker))]
	if k := bytes.IndexByte(after, '\n'); k >= 0 {
		after = after[:k]
	}
	if k := bytes.Index(after, marker); k >= 0 {
		for _, open := range []string{"//", "/*", "#", "<!--"} {
			if bytes.Contains(after[:k], []byte(open)) {
				return true
			}
		}
	}
	// ...or /* keyward:allow */ right before it.
	before := data[max(0, start-allowBefore):start]
	if k := bytes.LastIndex(before, []byte("*/")); k >= 0 && len(bytes.Trim(before[k+2:], " \t\"'`=:,(")) == 0 {
		if o := bytes.LastIndex(before[:k], []byte("/*")); o >= 0 && bytes.Contains(before[o:k], marker) {
			return true
		}
	}
	return false
}

// dropGenericTwins drops a generic rule's finding where a provider's rule
// found a secret overlapping it: `apiKey: "sk-proj-…"` is one OpenAI key,
// not also an anonymous secret. fs is sorted by start.
func dropGenericTwins(fs []detect.Finding) []detect.Finding {
	out := fs[:0:0]
	for i, f := range fs {
		if generic(f) && slices.ContainsFunc(fs, func(o detect.Finding) bool {
			return !generic(o) && o.Start < f.End && f.Start < o.End
		}) {
			continue
		}
		out = append(out, fs[i])
	}
	return out
}
