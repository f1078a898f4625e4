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
	// budget is what is left of the stream's decoding budget; chunks of
	// one stream may be scanned concurrently.
	budget atomic.Int64
}

func newScanner(d *detect.Detector, opt Options) *scanner {
	s := &scanner{d: d, decode: decode.Options{MaxDepth: opt.DecodeDepth}}
	s.budget.Store(int64(opt.DecodeBudget))
	return s
}

// scan returns the findings that belong to c, in stream coordinates.
func (s *scanner) scan(c chunk) []hit {
	var out []hit
	add := func(f detect.Finding, enc string) {
		if f.Start < c.from || f.Start >= c.to || allowed(c.data, f.Start, f.End) {
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
	if s.decode.MaxDepth <= 0 || s.budget.Load() <= 0 {
		return out
	}
	seen := map[string]bool{}
	for _, f := range raw {
		seen[f.RuleID+"\x00"+f.Secret] = true
	}
	var decoded []hit
	for _, seg := range decode.Segments(c.data, s.decode, &s.budget) {
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
	// the same rule matched as written (a JWT cut short by an escape).
	out = slices.DeleteFunc(out, func(h hit) bool {
		return slices.ContainsFunc(decoded, func(d hit) bool {
			return d.RuleID == h.RuleID && int64(d.Start) < int64(h.End)-c.base && int64(h.Start)-c.base < int64(d.End)
		})
	})
	for _, d := range decoded {
		add(d.Finding, d.encoding)
	}
	return out
}

// position is the 1-based line and byte column of offset in data.
func position(data []byte, offset int) (line, col int) {
	line = bytes.Count(data[:offset], []byte{'\n'}) + 1
	return line, offset - (bytes.LastIndexByte(data[:offset], '\n') + 1) + 1
}

// allowed reports whether the line (or, on a very long line, the 4 KiB
// around it) that holds data[start:end] carries the allow marker.
func allowed(data []byte, start, end int) bool {
	const reach = 4 << 10
	lo, hi := max(0, start-reach), min(len(data), end+reach)
	if i := bytes.LastIndexByte(data[lo:start], '\n'); i >= 0 {
		lo += i + 1
	}
	if i := bytes.IndexByte(data[end:hi], '\n'); i >= 0 {
		hi = end + i
	}
	return bytes.Contains(data[lo:hi], []byte(allowMarker))
}

// dropGenericTwins drops a generic rule's finding where a provider's rule
// found a secret overlapping it: `apiKey: "sk-proj-…"` is one OpenAI key,
// not also an anonymous secret. fs is sorted by start.
func dropGenericTwins(fs []detect.Finding) []detect.Finding {
	generic := func(f detect.Finding) bool { return f.Provider == "Generic" }
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
