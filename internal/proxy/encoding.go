package proxy

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Bounds on undoing an upstream's content codings.
const (
	// maxCodings is how many stacked codings are undone ("gzip, gzip").
	maxCodings = 2
	// A body may decode to at most inflateRatio times its wire size plus
	// inflateSlack: more is a decompression bomb, not an answer.
	inflateRatio = 100
	inflateSlack = 1 << 20
)

var (
	errCoding   = errors.New("unsupported content encoding")
	errInflated = errors.New("upstream body decompresses beyond the gateway's bound")
)

// decodeContent undoes every content coding the upstream applied that Go's
// transport has not (it undoes only a single gzip it asked for itself), so
// that keyward reads, scrubs and meters the same bytes a client would
// decode. A coding keyward cannot undo fails the attempt: an encoded body
// is never passed on unscrubbed. The client always gets identity.
func decodeContent(resp *http.Response) error {
	var codings []string
	for _, v := range resp.Header.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	resp.Header.Del("Content-Encoding")
	if len(codings) == 0 {
		return nil
	}
	if len(codings) > maxCodings {
		return fmt.Errorf("%w: %d codings stacked", errCoding, len(codings))
	}
	wire := &countingReader{r: resp.Body}
	var r io.Reader = wire
	for i := len(codings) - 1; i >= 0; i-- { // the last applied is undone first
		switch src := r; codings[i] {
		case "gzip", "x-gzip":
			r = &lazyReader{open: func() (io.Reader, error) { return gzip.NewReader(src) }}
		case "deflate":
			r = &lazyReader{open: func() (io.Reader, error) { return inflate(src) }}
		default:
			return fmt.Errorf("%w: %.20q", errCoding, codings[i])
		}
	}
	resp.Body = readCloser{&inflateLimit{r: r, wire: wire}, resp.Body}
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Uncompressed = true
	return nil
}

// inflate reads "deflate" as servers send it: zlib as the standard says,
// or raw deflate as some do.
func inflate(src io.Reader) (io.Reader, error) {
	br := bufio.NewReader(src)
	h, err := br.Peek(2)
	if err != nil {
		return nil, err
	}
	if h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
		return zlib.NewReader(br)
	}
	return flate.NewReader(br), nil
}

// lazyReader opens its reader on the first Read, so that a stream's
// headers pass without waiting for its first bytes.
type lazyReader struct {
	open func() (io.Reader, error)
	r    io.Reader
	err  error
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil && l.err == nil {
		l.r, l.err = l.open()
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.r.Read(p)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// inflateLimit fails a decoded body that grows out of proportion to the
// bytes that came over the wire.
type inflateLimit struct {
	r    io.Reader
	wire *countingReader
	n    int64
}

func (l *inflateLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > inflateSlack+inflateRatio*l.wire.n {
		return 0, errInflated
	}
	return n, err
}
