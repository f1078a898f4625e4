package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/stream"
)

// sseBody passes an upstream event stream on event by event: events are
// scrubbed of every piece of a configured secret, also across events (one
// that may end in the start of a secret waits for the next), error events
// are replaced by keyward's own, and a stream that breaks, idles or ends
// without its terminal event gets a closing error event. It never returns
// an error to the reverse proxy, so the client always sees a well-formed
// stream.
type sseBody struct {
	src   io.ReadCloser
	rd    *stream.Reader
	scrub *secret.Events
	at    *attempt
	log   *slog.Logger
	out   []byte
	done  bool
	final bool // the route's terminal event was seen
	idle  time.Duration
	timer *time.Timer
	once  sync.Once
	// strip removes the usage chunk keyward asked for and the client did
	// not, so the client sees the stream it asked for.
	strip bool
}

func newSSEBody(src io.ReadCloser, at *attempt, log *slog.Logger, idle time.Duration) *sseBody {
	b := &sseBody{src: src, rd: stream.NewReader(src, maxEventBytes), scrub: at.call.Snap.Scrub.Events(), at: at, log: log, idle: idle}
	at.meter = at.target.Provider.Meter(at.call.Route)
	b.strip = at.call.Req != nil && at.call.Req.InjectsUsage()
	if idle > 0 {
		b.timer = time.AfterFunc(idle, func() {
			at.idleFired.Store(true)
			at.cancel()
		})
	}
	return b
}

// peek reads the first event before anything is sent to the client. A
// stream that fails there is a failed attempt (the next key or target may
// be tried); otherwise the event is kept to be sent first.
func (b *sseBody) peek() *failure {
	ev, err := b.rd.Next()
	b.touch()
	if err != nil {
		return &failure{kind: "stream", status: 200, err: b.cause(err)}
	}
	if b.isError(ev) {
		return b.failure(ev)
	}
	b.accept(ev)
	return nil
}

func (b *sseBody) touch() {
	if b.timer != nil {
		b.timer.Reset(b.idle)
	}
}

func (b *sseBody) cause(err error) error {
	if b.at.idleFired.Load() {
		return errIdle
	}
	return err
}

func (b *sseBody) accept(ev stream.Event) {
	if !ev.Comment && b.at.meter.IsTerminal(ev.Name, ev.Data) {
		// Nothing may follow the terminal event; stop reading upstream.
		b.final, b.done = true, true
		b.at.streamComplete = true
		defer b.Close()
	}
	usageOnly := !ev.Comment && b.at.meter.Event(ev.Name, ev.Data)
	raw := ev.Raw
	b.out = nil
	switch {
	case b.strip && !ev.Comment && usageOnly:
		// metered, not passed on
	default:
		if b.strip && !ev.Comment {
			if d := dropNullUsage(ev.Data); len(d) != len(ev.Data) {
				raw = stream.Append(nil, stream.Event{Name: ev.Name, Data: d})
			}
		}
		if !ev.Comment && !plainEvent(raw) {
			// id:, retry: and unknown fields are upstream-chosen values no
			// client of these APIs needs: the event goes on without them.
			raw = stream.Append(nil, stream.Event{Name: ev.Name, Data: ev.Data})
		}
		// fill runs only once out is drained, so aliasing the reader's
		// buffer here is safe: the next Next() happens after this is
		// consumed. Out stays empty while the scrubber holds the event back.
		b.out = b.scrub.Event(terminate(raw))
	}
	if b.final {
		b.out = append(b.out, b.scrub.Flush()...)
	}
}

// plainEvent reports whether an event's lines are only event:, data: and
// comment lines.
func plainEvent(raw []byte) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && line[0] != ':' && !bytes.HasPrefix(line, []byte("data:")) && !bytes.HasPrefix(line, []byte("event:")) {
			return false
		}
	}
	return true
}

// terminate makes sure an event ends with its blank line (an upstream may
// cut the last one short), so whatever follows stays a separate event.
func terminate(raw []byte) []byte {
	switch {
	case bytes.HasSuffix(raw, []byte("\n\n")), bytes.HasSuffix(raw, []byte("\r\n\r\n")):
		return raw
	case bytes.HasSuffix(raw, []byte("\n")):
		return append(bytes.Clone(raw), '\n')
	}
	return append(bytes.Clone(raw), "\n\n"...)
}

// Read implements io.Reader.
func (b *sseBody) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.done {
			return 0, io.EOF
		}
		b.fill()
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

func (b *sseBody) fill() {
	ev, err := b.rd.Next()
	b.touch()
	switch {
	case err == nil && b.isError(ev):
		// An error event may carry usage (response.failed does).
		b.at.meter.Event(ev.Name, ev.Data)
		fl := b.failure(ev)
		b.log.Warn("upstream stream error", "request_id", b.at.reqID, "provider", b.at.target.Provider.Name,
			"type", fl.errType, "code", fl.errCode, "message", fl.message)
		b.end(apierr.UpstreamError, "The provider reported an error during the stream.")
	case err == nil:
		b.accept(ev)
	case err == io.EOF && b.final:
		b.done = true
	case err == io.EOF:
		b.log.Warn("upstream stream ended early", "request_id", b.at.reqID, "provider", b.at.target.Provider.Name)
		b.end(apierr.UpstreamError, "The provider ended the stream early.")
	case b.at.client.Err() != nil:
		// The client left: the reverse proxy cancelled upstream; nobody
		// is there to read an error event.
		b.at.call.Info.Code = "client_closed"
		b.done = true
		b.Close()
	default:
		err = b.cause(err)
		b.log.Warn("upstream stream broke", "request_id", b.at.reqID, "provider", b.at.target.Provider.Name, "err", err)
		switch {
		case errors.Is(err, errIdle):
			b.end(apierr.UpstreamTimeout, "The provider stopped sending; the stream timed out.")
		case errors.Is(err, context.DeadlineExceeded):
			b.end(apierr.UpstreamTimeout, "The request took longer than the gateway allows.")
		case errors.Is(err, stream.ErrEventTooLarge):
			b.end(apierr.UpstreamError, "The provider sent an event larger than the gateway allows.")
		default:
			b.end(apierr.UpstreamError, "The stream from the provider broke.")
		}
	}
}

// end queues keyward's closing error event and stops reading upstream.
func (b *sseBody) end(code apierr.Code, msg string) {
	b.out = append(b.scrub.Flush(), apierr.StreamEvent(b.at.call.Route.StreamKind(), code, msg, b.at.reqID)...)
	b.at.call.Info.Code = code
	b.done = true
	b.Close()
}

// Close implements io.Closer.
func (b *sseBody) Close() error {
	var err error
	b.once.Do(func() {
		if b.timer != nil {
			b.timer.Stop()
		}
		err = b.src.Close()
	})
	return err
}

// isError reports whether an event is the provider's report of a
// failure (a comment never is).
func (b *sseBody) isError(ev stream.Event) bool {
	return !ev.Comment && b.at.meter.IsError(ev.Name, ev.Data)
}

// failure reads an error event into a failed attempt.
func (b *sseBody) failure(ev stream.Event) *failure {
	fl := &failure{kind: "stream", status: 200}
	fl.set(b.at.target.Provider.Failure(ev.Data), b.at.call.Snap.Scrub, b.at.body)
	return fl
}
