// Package proxy forwards a checked request to the provider behind a model:
// it picks a key from the provider's pool, sets the credential, falls back
// to the next key and target on connect errors, 429 and 5xx — only before
// anything reached the client — and answers with an allowlisted set of
// headers and a body scrubbed of every piece of every configured secret, in
// any encoding, across reads, strings and events. Upstream errors are
// mapped to apierr codes; stream error events are rewritten; content
// codings are undone before scrubbing; no upstream identifier is echoed.
package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// maxEventBytes bounds one upstream SSE event.
const maxEventBytes = 4 << 20

var (
	errAttemptFailed = errors.New("upstream attempt failed")
	errIdle          = errors.New("upstream stream idle timeout")
)

// Info is what the proxy learned about a request, for the access log.
type Info struct {
	Provider       string
	TargetModel    string
	KeyID          string
	Attempts       int
	UpstreamStatus int
	Code           apierr.Code
	Streamed       bool
	// Usage is what the answered request used, known once Forward returns;
	// Metered says how it was learned (see the Metered constants).
	Usage   provider.Tokens
	Metered Metered
	// Sent is when the answered attempt left for the provider, and
	// Headers when its response headers came back.
	Sent, Headers time.Time
	// UpstreamRequestID is the provider's id of the last attempt, when it
	// had a plain shape and held no secret: for the log only, never sent
	// to the client.
	UpstreamRequestID string
}

// Metered says where a request's usage comes from.
type Metered string

// How usage is known.
const (
	// MeteredNone: nothing is charged (no answer, or an upstream error
	// before any usage was reported).
	MeteredNone Metered = ""
	// MeteredReported: the provider's own figures.
	MeteredReported Metered = "reported"
	// MeteredEstimated: the response ended early (the client left, the
	// stream broke); input and the output passed on are estimated where
	// the provider had not reported them.
	MeteredEstimated Metered = "estimated"
)

// Call is one request to forward.
type Call struct {
	Route   provider.Route
	Req     *policy.Request
	Targets []live.Target
	Snap    *live.Snapshot
	Info    *Info
	// InputEstimate stands in for the input tokens of a response that
	// ended before the provider reported them.
	InputEstimate int64
}

// Forwarder forwards calls. It is safe for concurrent use.
type Forwarder struct {
	rp  *httputil.ReverseProxy
	log *slog.Logger
	now func() time.Time
}

// Options configure a Forwarder.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (tests inject one); defaults to time.Now.
	Now func() time.Time
}

// New returns a Forwarder.
func New(o Options) *Forwarder {
	f := &Forwarder{log: o.Logger, now: o.Now}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      transport{},
		ModifyResponse: f.modifyResponse,
		ErrorHandler: func(_ http.ResponseWriter, r *http.Request, err error) {
			if at := attemptOf(r.Context()); at != nil && at.fail == nil {
				at.fail = &failure{kind: "transport", err: err}
			}
		},
		ErrorLog:   slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
		BufferPool: bufferPool{},
	}
	return f
}

type attemptKey struct{}

// attempt is the state of one upstream try, carried in the request context
// through httputil.ReverseProxy's hooks.
type attempt struct {
	call      *Call
	target    live.Target
	key       *provider.Key
	body      []byte
	header    http.Header
	reqID     string
	client    context.Context // the client's request context
	cancel    context.CancelFunc
	idleFired atomic.Bool
	fail      *failure
	committed bool
	// meter follows a streamed answer, tap keeps a JSON answer's bytes.
	meter *provider.Meter
	tap   *bodyTap
	// streamComplete is set when the stream's terminal event passed.
	streamComplete bool
	// wrote is set once the request has been sent to the provider whole.
	wrote atomic.Bool
}

func attemptOf(ctx context.Context) *attempt {
	at, _ := ctx.Value(attemptKey{}).(*attempt)
	return at
}

// rewrite builds the outbound request wholly from the attempt: URL from the
// provider's configuration, headers from scratch, the rebuilt body. Nothing
// of the client's request line or headers passes.
func rewrite(pr *httputil.ProxyRequest) {
	at := attemptOf(pr.In.Context())
	out := pr.Out
	out.URL = at.target.Provider.URL(at.call.Route, at.target.Model)
	out.Host = ""
	out.Header = at.header
	out.Body = io.NopCloser(bytes.NewReader(at.body))
	out.ContentLength = int64(len(at.body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(at.body)), nil }
	out.Trailer = nil
}

// transport sends each attempt through its provider's transport (the mock
// is one).
type transport struct{}

func (transport) RoundTrip(r *http.Request) (*http.Response, error) {
	at := attemptOf(r.Context())
	if at.target.Provider.InProcess() {
		at.wrote.Store(true) // in-process: handed over is sent
	}
	return at.target.Provider.Transport().RoundTrip(r)
}

type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// Forward sends the call upstream and writes the response or a mapped error.
func (f *Forwarder) Forward(w http.ResponseWriter, r *http.Request, c Call) {
	cfg := c.Snap.Config
	ctx, cancel := context.WithTimeout(r.Context(), cfg.Timeouts.Request)
	defer cancel()
	reqID := w.Header().Get(apierr.RequestIDHeader)
	family := c.Route.Family()
	maxAttempts := cfg.Retry.MaxAttempts
	c.Info.Streamed = c.Req.Stream

	var last *failure
	for round := 0; round < maxAttempts && c.Info.Attempts < maxAttempts; round++ {
		tried := false
		for _, t := range c.Targets {
			keys, back := t.Provider.Pool().Candidates(f.now())
			if len(keys) == 0 && len(t.Provider.Pool().Keys()) == 0 {
				keys = []*provider.Key{nil} // the mock needs no key
			}
			if len(keys) == 0 {
				if last == nil || last.kind == "cooling" {
					last = &failure{kind: "cooling", status: 503, retryAfter: back.Sub(f.now())}
				}
				continue
			}
			for _, k := range keys {
				if c.Info.Attempts >= maxAttempts {
					break
				}
				tried = true
				at := f.try(ctx, w, r, c, t, k, reqID)
				if at.committed {
					return
				}
				last = at.fail
				if r.Context().Err() != nil {
					c.Info.Code = "client_closed"
					if at.wrote.Load() && c.Info.Metered == MeteredNone {
						// The client left while the provider worked on a
						// request it had received: it bills it, so is the
						// client — never a refund for leaving.
						c.Info.Usage, c.Info.Metered = c.worstCase(), MeteredEstimated
					}
					return // the client left; nobody to answer
				}
				if ctx.Err() != nil {
					last = &failure{kind: "transport", err: ctx.Err()}
					break
				}
				f.noteFailure(c, t, k, at.fail, reqID)
				if !last.retryable() {
					f.writeError(w, c, family, last)
					return
				}
			}
			if ctx.Err() != nil {
				break
			}
		}
		// Every candidate failed (or cooled). Wait out a short Retry-After
		// and go round again; anything longer is the client's to wait.
		if ctx.Err() != nil || last == nil || c.Info.Attempts >= maxAttempts {
			break
		}
		wait := last.retryAfter
		if wait <= 0 && tried {
			break
		}
		if wait <= 0 || wait > cfg.Retry.MaxRetryAfter || !sleepCtx(ctx, wait) {
			break
		}
	}
	if last == nil {
		last = &failure{kind: "transport", err: errors.New("no target")}
	}
	if ctx.Err() != nil && r.Context().Err() == nil && last.kind != "status" {
		last = &failure{kind: "transport", err: context.DeadlineExceeded}
	}
	f.writeError(w, c, family, last)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// try makes one upstream attempt through the reverse proxy.
func (f *Forwarder) try(ctx context.Context, w http.ResponseWriter, r *http.Request, c Call, t live.Target, k *provider.Key, reqID string) *attempt {
	c.Info.Attempts++
	c.Info.Provider, c.Info.TargetModel = t.Provider.Name, t.Model
	c.Info.KeyID = ""
	if k != nil {
		c.Info.KeyID = k.ID()
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	at := &attempt{
		call: &c, target: t, key: k, reqID: reqID, cancel: cancel, client: r.Context(),
		body:   c.Req.Body(t.Model, c.Req.TokenField(t.Provider)),
		header: t.Provider.Header(r.Header, c.Req.Stream, k),
	}
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			at.wrote.Store(true)
		}
	}}
	out := r.WithContext(httptrace.WithClientTrace(context.WithValue(actx, attemptKey{}, at), trace))
	out.Body = http.NoBody
	out.ContentLength = 0
	gw := &guardWriter{w: w}
	c.Info.Sent = f.now()
	// Metering is deferred: the reverse proxy panics with
	// http.ErrAbortHandler when the client goes away mid-body, and a
	// client that leaves is charged all the same.
	defer func() {
		if at.committed {
			f.meter(at)
		}
	}()
	f.rp.ServeHTTP(gw, out)
	if at.fail != nil {
		c.Info.UpstreamStatus = at.fail.status
	}
	return at
}

// noteFailure logs a failed attempt and cools the key down when the
// provider refused or throttled it.
func (f *Forwarder) noteFailure(c Call, t live.Target, k *provider.Key, fl *failure, reqID string) {
	if fl == nil {
		return
	}
	keyID := ""
	if k != nil {
		keyID = k.ID()
	}
	cfg := c.Snap.Config.Retry
	attrs := []any{"request_id", reqID, "provider", t.Provider.Name, "model", t.Model, "key", keyID,
		"status", fl.status, "kind", fl.kind, "type", fl.errType, "code", fl.errCode, "message", fl.message,
		"upstream_request_id", c.Info.UpstreamRequestID}
	if fl.err != nil {
		attrs = append(attrs, "err", fl.err)
	}
	switch {
	case k != nil && fl.authFailure():
		k.Cooldown(f.now(), cfg.AuthCooldown)
		f.log.Warn("provider refused a key; it is cooling down", append(attrs, "cooldown", cfg.AuthCooldown)...)
	case k != nil && fl.status == http.StatusTooManyRequests:
		d := fl.retryAfter
		if d <= 0 {
			d = cfg.RateLimitCooldown
		}
		k.Cooldown(f.now(), d)
		f.log.Info("provider rate limited a key", append(attrs, "cooldown", d)...)
	default:
		f.log.Info("upstream attempt failed", attrs...)
	}
}

func (f *Forwarder) writeError(w http.ResponseWriter, c Call, family apierr.Family, fl *failure) {
	code, msg := fl.clientError()
	c.Info.Code = code
	if code == apierr.UpstreamRateLimited || code == apierr.UpstreamUnavailable {
		if d := fl.retryAfter; d > 0 {
			secs := int((d + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(min(secs, 3600)))
		}
	}
	apierr.Write(w, family, code, msg)
}

// modifyResponse decides whether an upstream response is passed on. A
// non-2xx status, an unexpected content type or coding, a JSON answer that
// does not start like JSON, or a stream whose first event is an error fails
// the attempt (nothing has been written yet, so the next key or target may
// be tried). Otherwise headers are replaced by the allowlist and the
// decoded body is wrapped in a scrubber.
func (f *Forwarder) modifyResponse(resp *http.Response) error {
	at := attemptOf(resp.Request.Context())
	scrub := at.call.Snap.Scrub
	at.call.Info.UpstreamRequestID = requestID(resp.Header, scrub)
	codingErr := decodeContent(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if codingErr != nil {
			at.fail = &failure{kind: "status", status: resp.StatusCode, retryAfter: retryAfter(resp.Header, f.now()), err: codingErr}
		} else {
			at.fail = readFailure(resp, at.target.Provider, scrub, at.body, f.now())
		}
		resp.Body.Close()
		return errAttemptFailed
	}
	if codingErr != nil {
		resp.Body.Close()
		at.fail = &failure{kind: "content_type", status: resp.StatusCode, err: codingErr}
		return errAttemptFailed
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	h := http.Header{}
	switch mt {
	case "text/event-stream":
		body := newSSEBody(resp.Body, at, f.log, at.call.Snap.Config.Timeouts.StreamIdle)
		if fl := body.peek(); fl != nil {
			body.Close()
			at.fail = fl
			return errAttemptFailed
		}
		resp.Body = body
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
	case "application/json":
		body := bufio.NewReaderSize(resp.Body, 512)
		if c, err := firstByte(body); err != nil && err != io.EOF || err == nil && c != '{' && c != '[' {
			resp.Body.Close()
			at.fail = &failure{kind: "content_type", status: resp.StatusCode, message: "a JSON answer that is not JSON", err: err}
			return errAttemptFailed
		}
		at.tap = &bodyTap{src: body}
		resp.Body = readCloser{scrub.JSONReader(at.tap), resp.Body}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
	default:
		resp.Body.Close()
		at.fail = &failure{kind: "content_type", status: resp.StatusCode, message: "content type " + truncate(mt, 60)}
		return errAttemptFailed
	}
	h.Set("X-Content-Type-Options", "nosniff")
	resp.Header = h
	resp.Trailer = nil
	resp.ContentLength = -1
	at.committed = true
	at.call.Info.UpstreamStatus = resp.StatusCode
	at.call.Info.Headers = f.now()
	return nil
}

// firstByte returns the first byte of a body that is not white space,
// leaving it unread.
func firstByte(br *bufio.Reader) (byte, error) {
	for i := 1; i <= br.Size(); i++ {
		p, err := br.Peek(i)
		if len(p) < i {
			return 0, err
		}
		switch c := p[i-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c, nil
		}
	}
	return 0, errors.New("only white space")
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID returns the provider's request id if it is shaped like one and
// holds no piece of a secret. It goes to the log only: clients have
// keyward's X-Request-Id, and an upstream identifier passed on is a channel
// out for whatever the upstream puts in it.
func requestID(h http.Header, scrub *secret.Scrubber) string {
	for _, name := range provider.RequestIDHeaders {
		v := h.Get(name)
		if v == "" {
			continue
		}
		if requestIDRE.MatchString(v) && !scrub.Contains([]byte(v)) {
			return v
		}
		return ""
	}
	return ""
}

type readCloser struct {
	io.Reader
	io.Closer
}

// allowedHeaders is the last line of defence: only these response headers
// may reach a client through the reverse proxy. None carries a value the
// upstream chose.
var allowedHeaders = map[string]bool{
	"Content-Type": true, "Cache-Control": true, "X-Accel-Buffering": true,
	"X-Content-Type-Options": true,
}

// guardWriter stands between httputil.ReverseProxy and the client: it
// drops 1xx responses (whose headers the reverse proxy would copy from
// upstream), passes only allowlisted headers, and ignores trailers.
type guardWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	staged http.Header
	wrote  bool
}

func (g *guardWriter) Header() http.Header {
	if g.staged == nil {
		g.staged = http.Header{}
	}
	return g.staged
}

func (g *guardWriter) WriteHeader(code int) {
	if code < 200 {
		clear(g.staged)
		return
	}
	if g.wrote {
		return
	}
	g.wrote = true
	dst := g.w.Header()
	for k, v := range g.staged {
		if allowedHeaders[k] {
			dst[k] = v
		}
	}
	g.staged = http.Header{} // later writes (trailers) go nowhere
	g.w.WriteHeader(code)
}

func (g *guardWriter) Write(b []byte) (int, error) {
	if !g.wrote {
		g.WriteHeader(http.StatusOK)
	}
	return g.w.Write(b)
}

// FlushError lets the reverse proxy flush stream events as they arrive.
func (g *guardWriter) FlushError() error {
	if g.rc == nil {
		g.rc = http.NewResponseController(g.w)
	}
	return g.rc.Flush()
}
