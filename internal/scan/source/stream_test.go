package source

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/scan/rules"
)

// maxCompared is the longest secret FuzzStream compares: a quarter of the
// small chunks' overlap (a longer one may be cut at a chunk edge).
const maxCompared = 256

// streamed scans data in chunks of chunk bytes (quarter overlap), fed in
// writes of piece bytes, and returns the findings with secrets shorter than
// maxCompared.
func streamed(t *testing.T, data []byte, chunk, piece, depth int) []Finding {
	t.Helper()
	opt := Options{ChunkSize: chunk, Overlap: chunk / 4, DecodeDepth: depth}
	if err := opt.defaults(); err != nil {
		t.Fatal(err)
	}
	got, err := scanReader(det, &pieceReader{data: data, n: piece}, make([]byte, opt.ChunkSize+opt.Overlap), opt)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(got, func(f Finding) bool { return len(f.Secret) >= maxCompared })
}

type pieceReader struct {
	data []byte
	n    int
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// FuzzStream checks that chunking does not change what is found: the same
// findings, at the same offsets, lines and columns, with small chunks fed in
// odd pieces as in one chunk, with decoding on.
func FuzzStream(f *testing.F) {
	var ss []string
	for _, r := range rules.All() {
		ss = append(ss, r.TruePositives...)
	}
	for i, s := range ss {
		f.Add([]byte(s), uint16(i), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, a uint16, piece uint8) {
		in := slices.Concat([]byte(ss[int(a)%len(ss)]), []byte("\n"), data, bytes.Repeat([]byte("x=1;"), 300), []byte(ss[(int(a)+1)%len(ss)]))
		whole := streamed(t, in, 1<<20, len(in), 2)
		small := streamed(t, in, 4096, int(piece)+1, 2)
		if diff := cmp.Diff(whole, small); diff != "" {
			t.Fatalf("chunked scan differs (-whole +chunks):\n%s", diff)
		}
	})
}
