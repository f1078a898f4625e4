// Package stream reads and writes server-sent events (SSE) as the provider
// APIs use them: bounded in memory per event, tolerant of \r\n line endings
// and comment lines, and keeping each event's raw bytes so a proxy can pass
// events on unchanged.
package stream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// ErrEventTooLarge is returned when one event exceeds the reader's limit.
var ErrEventTooLarge = errors.New("sse: event too large")

// Event is one server-sent event.
type Event struct {
	// Name is the "event:" field ("" for data-only streams).
	Name string
	// Data is the "data:" fields joined with "\n".
	Data []byte
	// ID is the "id:" field.
	ID string
	// Comment is set for a block of comment lines only (": keep-alive").
	Comment bool
	// Raw is the event as read, lines and the blank line that ended it
	// included. It aliases the reader's buffer until the next call to Next.
	Raw []byte
}

// Reader parses events from a stream. It is not safe for concurrent use.
type Reader struct {
	br       *bufio.Reader
	max      int
	raw      []byte
	data     []byte
	line     []byte
	finished bool
}

// NewReader returns a reader that refuses events larger than maxEvent bytes.
func NewReader(r io.Reader, maxEvent int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 16<<10), max: maxEvent}
}

// Next returns the next event. At the end of the stream it returns io.EOF;
// an event cut off by the end of the stream (no blank line after it) is
// still returned first. Other errors are the underlying reader's, or
// ErrEventTooLarge.
func (r *Reader) Next() (Event, error) {
	if r.finished {
		return Event{}, io.EOF
	}
	r.raw = r.raw[:0]
	r.data = r.data[:0]
	var (
		ev       Event
		hasData  bool
		hasField bool
		comment  bool
	)
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && (hasField || comment) {
				r.finished = true
				return r.finish(ev, hasData, comment && !hasField), nil
			}
			if err == io.EOF {
				r.finished = true
			}
			return Event{}, err
		}
		body := trimEOL(line)
		if len(body) == 0 {
			if !hasField && !comment {
				// Stray blank line between events: skip it, keep it in Raw so
				// passing Raw on reproduces the stream byte for byte.
				continue
			}
			return r.finish(ev, hasData, comment && !hasField), nil
		}
		if body[0] == ':' {
			comment = true
			continue
		}
		field, value := body, []byte(nil)
		if i := bytes.IndexByte(body, ':'); i >= 0 {
			field, value = body[:i], body[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			hasData = true
		case "event":
			ev.Name = string(value)
		case "id":
			ev.ID = string(value)
		}
		hasField = true
	}
}

func (r *Reader) finish(ev Event, hasData, comment bool) Event {
	if hasData {
		ev.Data = r.data
	}
	ev.Comment = comment
	ev.Raw = r.raw
	return ev
}

// readLine returns one line including its terminator, appending it to raw.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.raw)+len(chunk) > r.max {
			return nil, ErrEventTooLarge
		}
		r.raw = append(r.raw, chunk...)
		r.line = append(r.line, chunk...)
		switch {
		case err == nil:
			return r.line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(r.line) > 0:
			return r.line, nil
		default:
			return nil, err
		}
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// Append encodes ev onto dst: an "event:" line when it has a name, one
// "data:" line per line of Data, and the blank line that ends the event.
func Append(dst []byte, ev Event) []byte {
	if ev.Comment {
		return append(dst, ":\n\n"...)
	}
	if ev.Name != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, oneLine(ev.Name)...)
		dst = append(dst, '\n')
	}
	if ev.ID != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, oneLine(ev.ID)...)
		dst = append(dst, '\n')
	}
	data := ev.Data
	for {
		i := bytes.IndexByte(data, '\n')
		dst = append(dst, "data: "...)
		if i < 0 {
			dst = append(dst, data...)
			dst = append(dst, '\n')
			break
		}
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		data = data[i+1:]
	}
	return append(dst, '\n')
}

// oneLine drops line breaks from a field value so it cannot end the event.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}
