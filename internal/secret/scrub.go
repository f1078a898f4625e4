package secret

import (
	"bytes"
	"io"
	"sort"
	"strings"
)

// minScrubLen is the shortest value a Scrubber looks for; shorter values
// would mangle ordinary text and are refused by config validation anyway.
const minScrubLen = 6

// Scrubber replaces the exact values of a set of secrets with Redacted. It
// reads secret values without Reveal because it lives in this package: the
// values never leave it. A nil *Scrubber replaces nothing.
type Scrubber struct {
	vals   [][]byte // longest first, so a key that contains another wins
	strs   []string // the same values, for string searches without copies
	maxLen int
}

// NewScrubber returns a scrubber for the given secrets (empty and very short
// values are ignored, duplicates folded).
func NewScrubber(secrets ...Secret) *Scrubber {
	seen := map[string]bool{}
	s := &Scrubber{}
	for _, sec := range secrets {
		if len(sec.v) < minScrubLen || seen[sec.v] {
			continue
		}
		seen[sec.v] = true
		s.vals = append(s.vals, []byte(sec.v))
		s.maxLen = max(s.maxLen, len(sec.v))
	}
	sort.Slice(s.vals, func(i, j int) bool { return len(s.vals[i]) > len(s.vals[j]) })
	for _, v := range s.vals {
		s.strs = append(s.strs, string(v))
	}
	return s
}

// Len reports how many distinct values the scrubber looks for.
func (s *Scrubber) Len() int {
	if s == nil {
		return 0
	}
	return len(s.vals)
}

// next finds the earliest occurrence of any value in b at or after 0.
func (s *Scrubber) next(b []byte) (start, end int) {
	start = -1
	for _, v := range s.vals {
		i := bytes.Index(b, v)
		if i >= 0 && (start < 0 || i < start) {
			start, end = i, i+len(v)
		}
	}
	return start, end
}

// Bytes returns b with every secret value replaced. It returns b itself
// (no copy) when nothing matched.
func (s *Scrubber) Bytes(b []byte) []byte {
	if s.Len() == 0 {
		return b
	}
	start, end := s.next(b)
	if start < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for start >= 0 {
		out = append(out, b[:start]...)
		out = append(out, Redacted...)
		b = b[end:]
		start, end = s.next(b)
	}
	return append(out, b...)
}

// String is Bytes for strings.
func (s *Scrubber) String(v string) string {
	if s.Len() == 0 {
		return v
	}
	for _, val := range s.strs {
		if strings.Contains(v, val) {
			return string(s.Bytes([]byte(v)))
		}
	}
	return v
}

// Contains reports whether b holds any of the secret values.
func (s *Scrubber) Contains(b []byte) bool {
	if s.Len() == 0 {
		return false
	}
	start, _ := s.next(b)
	return start >= 0
}

// Reader wraps r so that every secret value in the stream is replaced, even
// when it is split across reads. It holds back at most maxLen-1 bytes until
// it knows they do not begin a value, so it suits whole-body copies, not
// latency-sensitive event streams (scrub those event by event with Bytes).
func (s *Scrubber) Reader(r io.Reader) io.Reader {
	if s.Len() == 0 {
		return r
	}
	return &scrubReader{src: r, s: s}
}

type scrubReader struct {
	src  io.Reader
	s    *Scrubber
	in   []byte // read from src, not yet decided
	out  []byte // decided, not yet returned
	err  error
	done bool
}

func (r *scrubReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.done {
			return 0, r.err
		}
		// Read straight into in's spare capacity: no intermediate buffer.
		if cap(r.in)-len(r.in) < 4096 {
			r.in = append(r.in, make([]byte, max(4096, len(p)))...)[:len(r.in)]
		}
		n, err := r.src.Read(r.in[len(r.in):cap(r.in)])
		r.in = r.in[:len(r.in)+n]
		if err != nil {
			r.err, r.done = err, true
		}
		r.process()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	if len(r.out) == 0 {
		r.out = r.out[:0:0]
	}
	return n, nil
}

// process moves everything from in to out that cannot be the start of a
// value still being read.
func (r *scrubReader) process() {
	boundary := len(r.in)
	if !r.done {
		boundary -= r.s.maxLen - 1
	}
	i := 0
	for i < boundary {
		start, end := r.s.next(r.in[i:])
		if start < 0 || i+start >= boundary {
			r.out = append(r.out, r.in[i:boundary]...)
			i = boundary
			break
		}
		r.out = append(r.out, r.in[i:i+start]...)
		r.out = append(r.out, Redacted...)
		i += end
	}
	if i > 0 {
		r.in = append(r.in[:0], r.in[i:]...)
	}
}

// Close closes the source when it is a Closer.
func (r *scrubReader) Close() error {
	if c, ok := r.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
