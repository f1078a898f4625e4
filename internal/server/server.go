// Package server is keyward's HTTP surface and nothing more: the routes,
// the middleware chain every request passes (request id, access log, panic
// recovery, write deadlines, CORS, authentication), and the wiring of each
// model route's stages (routes.go, stages.go), each of which calls into the
// package that owns its part: policy, ratelimit, budget, usage and proxy.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/admin"
	"github.com/keyward/keyward/internal/admission"
	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/internal/proxy"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/store"
)

// Deps is what the server needs.
type Deps struct {
	Live      *live.Runtime
	Forwarder *proxy.Forwarder
	// Keys checks virtual keys (nil: none are accepted).
	Keys *auth.Keys
	// Limiter enforces plans' request and token limits; Slots bounds
	// their requests in progress (required).
	Limiter ratelimit.Limiter
	Slots   ratelimit.Slots
	// Ledger holds spend reservations against caps (required).
	Ledger budget.Ledger
	// Gate takes a request's limits, slots and reservation together (nil:
	// Limiter, Slots and Ledger one after the other).
	Gate admission.Gate
	// Budgets are the operators' spend caps (nil: plans' caps only).
	Budgets *budget.Table
	// Usage records what each forwarded request used (nil: not recorded).
	Usage UsageRecorder
	// UsageStore answers usage queries of the admin API (nil: off).
	UsageStore store.Usage
	// BudgetStore is where the admin API reads and sets budgets (nil: off).
	BudgetStore store.Budgets
	// Metrics instruments requests (nil: none, and no /metrics route).
	Metrics *metrics.Metrics
	// Users applies per-user plan assignments and disabling (nil: none).
	Users *auth.Users
	// UserStore is where the admin API reads and writes users (nil: off).
	UserStore store.Users
	// JWT checks the app's own users' tokens (nil: none are accepted).
	JWT *auth.JWTVerifier
	// Audit records security events (nil: log only).
	Audit store.Audit
	// Failures limits failed authentications per client IP (required).
	Failures *auth.FailureLimiter
	Logger   *slog.Logger
	// InsecureNoAuth serves without client credentials when none are
	// configured (the serve command allows it on loopback only).
	InsecureNoAuth bool
	// Degraded lists why the replica serves other than as configured (the
	// shared Redis or the store failing), for /readyz; nil: never.
	Degraded func(ctx context.Context) []string
	// Draining is set when the server is shutting down; /readyz then fails.
	Draining *atomic.Bool
	// InFlight counts requests being served, so shutdown can wait for
	// them to settle even after their connections were cut (nil: none).
	InFlight *sync.WaitGroup
}

// New returns the whole HTTP handler of `keyward serve`. cmd/keyward
// builds its dependencies; New only wires them.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Draining == nil {
		d.Draining = new(atomic.Bool)
	}
	s := &server{d: d}
	mux := http.NewServeMux()
	addRoutes(mux, s.d)
	h := s.withRequestID(s.withAccessLog(s.withRecover(s.withCORS(mux))))
	if wg := d.InFlight; wg != nil {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			wg.Add(1)
			defer wg.Done()
			next.ServeHTTP(w, r)
		})
	}
	return h
}

type server struct{ d Deps }

// UsageRecorder takes usage records without blocking (usage.Writer).
type UsageRecorder interface {
	Record(store.UsageRecord) bool
}

// familyOf picks the error shape for a path: Anthropic's under
// /v1/messages, OpenAI's elsewhere.
func familyOf(r *http.Request) apierr.Family {
	if strings.HasPrefix(r.URL.Path, "/v1/messages") {
		return apierr.Anthropic
	}
	return apierr.OpenAI
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// withRequestID gives every response an X-Request-Id of keyward's own (a
// client-sent one is not trusted: it would flow into logs).
func (s *server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(apierr.RequestIDHeader, newRequestID())
		next.ServeHTTP(w, r)
	})
}

// withRecover turns a panic into a 500 (when nothing was written yet) and
// a log line; http.ErrAbortHandler is passed on so the connection is cut.
func (s *server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.d.Logger.Error("panic while serving a request", "request_id", w.Header().Get(apierr.RequestIDHeader), "panic", v)
			if rw, ok := w.(*respWriter); !ok || rw.status == 0 {
				apierr.Write(w, familyOf(r), apierr.Internal, "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withAccessLog logs one line per request, and wraps the writer to record
// status and size and to bound each write (a client that stops reading is
// cut off rather than holding a stream open).
func (s *server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		snap := s.d.Live.Current()
		rw := &respWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: snap.Config.Timeouts.Write}
		info := &reqInfo{snap: snap, start: start, requestID: w.Header().Get(apierr.RequestIDHeader)}
		r = r.WithContext(withInfo(r.Context(), info))
		defer func() {
			status := rw.status
			if status == 0 {
				status = 499 // nothing written: the client left or the connection was cut
			}
			s.observe(r, info, status)
			attrs := []slog.Attr{
				slog.String("request_id", w.Header().Get(apierr.RequestIDHeader)),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rw.bytes),
				slog.Duration("duration", time.Since(start)),
			}
			if info.principal != "" {
				attrs = append(attrs, slog.String("principal", info.principal))
			}
			if info.model != "" {
				p := info.proxy
				attrs = append(attrs, slog.String("model", info.model), slog.String("provider", p.Provider),
					slog.String("target", p.TargetModel), slog.String("key", p.KeyID), slog.Int("attempts", p.Attempts),
					slog.Int("upstream_status", p.UpstreamStatus), slog.Bool("stream", p.Streamed))
				if p.UpstreamRequestID != "" {
					attrs = append(attrs, slog.String("upstream_request_id", p.UpstreamRequestID))
				}
			}
			if info.code != "" {
				attrs = append(attrs, slog.String("code", string(info.code)))
			} else if info.proxy.Code != "" {
				attrs = append(attrs, slog.String("code", string(info.proxy.Code)))
			}
			if info.detail != "" {
				attrs = append(attrs, slog.String("detail", info.detail))
			}
			if info.proxy.Metered != "" {
				attrs = append(attrs, slog.Int64("input_tokens", info.usage.InputTotal()), slog.Int64("output_tokens", info.usage.Output),
					slog.Int64("cost_micros", info.cost), slog.String("metered", string(info.proxy.Metered)))
			}
			s.d.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(rw, r)
	})
}

// respWriter records the status and size of a response and sets a write
// deadline before each write.
type respWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	status  int
	bytes   int64
}

func (w *respWriter) deadline() {
	if w.timeout > 0 {
		if err := w.rc.SetWriteDeadline(time.Now().Add(w.timeout)); errors.Is(err, http.ErrNotSupported) {
			w.timeout = 0 // a writer without deadlines (tests): stop asking
		}
	}
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.deadline()
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// FlushError flushes buffered data to the client.
func (w *respWriter) FlushError() error {
	w.deadline()
	return w.rc.Flush()
}

// Unwrap gives http.ResponseController access to the connection.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// metrics serves /metrics on the API listener as the running
// configuration says: open (Prometheus' convention; it holds no secret),
// to admin keys only (metrics.require_admin_key), or not at all (disabled,
// or moved to metrics.listen).
func (d Deps) metrics(ad admin.Deps) http.Handler {
	if d.Metrics == nil {
		return notFound()
	}
	open, protected := d.Metrics.Handler(), admin.Protect(ad, d.Metrics.Handler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := infoOf(r.Context()).snap.Config.Metrics
		switch {
		case m.Disabled || m.Listen != "":
			fail(w, r, apierr.NotFound, "", "metrics are off on this listener")
		case m.RequireAdminKey:
			protected.ServeHTTP(w, r)
		default:
			open.ServeHTTP(w, r)
		}
	})
}

// observe reports a finished API request to the metrics. Label values come
// from the route table and configuration only: a model name counts only
// when it is configured.
func (s *server) observe(r *http.Request, info *reqInfo, status int) {
	if s.d.Metrics == nil || info.route == "" {
		return
	}
	code := string(info.code)
	if code == "" {
		code = string(info.proxy.Code)
	}
	model := ""
	if _, ok := info.snap.Models[info.rawModel]; ok {
		model = info.rawModel
	}
	m := metrics.Request{Route: info.route, Status: status, Code: code, Provider: info.proxy.Provider, Model: model}
	if !info.proxy.Sent.IsZero() {
		m.Added = info.proxy.Sent.Sub(info.start)
		if !info.proxy.Headers.IsZero() {
			m.Upstream = info.proxy.Headers.Sub(info.proxy.Sent)
		}
	}
	s.d.Metrics.ObserveRequest(m)
}
