package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/store"
)

// FailureLimiter counts failed authentications per client IP in fixed
// one-minute windows. Past the limit, the address's failing attempts are
// answered 429 instead of 401 until the window ends; a valid credential
// from the same address is still served. (Refusing everything from the
// address let one attacker behind a shared address — a NAT, a proxy not
// listed in trusted_proxies — lock every other client out, the admin
// included.) It is bounded in memory.
//
// The throttle tells nothing a failing attempt would not tell anyway: the
// credential is checked exactly as it is below the limit, and only then is
// a failure answered 429 rather than 401. So it does not slow a guesser
// either; what keeps guessing hopeless is that keyward's credentials are
// unguessable (virtual keys carry 256 random bits, tokens are signed) and
// that configured client and admin keys must be long random values. The
// limit still marks an address that fails repeatedly, in the audit log
// (OnLimit) and with 429s that well-behaved clients back off from.
type FailureLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	byIP   map[string]*failWindow
	// OnLimit is called (outside the lock) when an IP reaches the limit in
	// a window: once per window, for the audit log.
	OnLimit func(ip string, failures int)
}

type failWindow struct {
	start time.Time
	n     int
}

// maxTrackedIPs bounds memory under a flood from many addresses.
const maxTrackedIPs = 100_000

// NewFailureLimiter allows limit failures per minute per IP.
func NewFailureLimiter(limit int, now func() time.Time) *FailureLimiter {
	if now == nil {
		now = time.Now
	}
	return &FailureLimiter{limit: limit, window: time.Minute, now: now, byIP: map[string]*failWindow{}}
}

// EventAuthFailures is the audit event of an address that reached its
// failed-authentication limit.
const EventAuthFailures = "auth.failures"

// NewAuditedFailureLimiter is a FailureLimiter that logs a warning and
// records an audit event (audit may be nil) when an address reaches its
// limit.
func NewAuditedFailureLimiter(limit int, log *slog.Logger, audit store.Audit) *FailureLimiter {
	l := NewFailureLimiter(limit, nil)
	l.OnLimit = func(ip string, n int) {
		log.Warn("repeated failed authentication; refusing this address for the rest of the minute", "ip", ip, "failures", n)
		if audit == nil {
			return
		}
		ev := store.Event{Kind: EventAuthFailures, Actor: "ip:" + ip, Subject: ip, Detail: fmt.Sprintf("%d failures in a minute", n)}
		if err := audit.AppendEvent(context.Background(), ev); err != nil {
			log.Error("audit event lost", "err", err)
		}
	}
	return l
}

// Blocked reports whether ip is over its limit, and until when.
func (l *FailureLimiter) Blocked(ip string) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.byIP[ip]
	now := l.now()
	if !ok || now.Sub(w.start) >= l.window {
		return false, time.Time{}
	}
	return w.n >= l.limit, w.start.Add(l.window)
}

// Failed records a failed authentication from ip and reports whether the
// address is now throttled — it had already reached its limit in this
// window — and until when. A throttled failure is answered 429 (with
// Retry-After), any other 401. Call it only after the credential was
// checked in full, so both answers take the same path.
func (l *FailureLimiter) Failed(ip string) (throttled bool, until time.Time) {
	l.mu.Lock()
	now := l.now()
	if w, ok := l.byIP[ip]; ok && now.Sub(w.start) < l.window && w.n >= l.limit {
		w.n++
		until = w.start.Add(l.window)
		l.mu.Unlock()
		return true, until
	}
	l.mu.Unlock()
	l.Fail(ip)
	return false, time.Time{}
}

// Fail records a failed authentication from ip.
func (l *FailureLimiter) Fail(ip string) {
	l.mu.Lock()
	now := l.now()
	w, ok := l.byIP[ip]
	if !ok || now.Sub(w.start) >= l.window {
		if len(l.byIP) >= maxTrackedIPs {
			l.sweep(now)
		}
		w = &failWindow{start: now}
		l.byIP[ip] = w
	}
	w.n++
	reached := w.n == l.limit
	n := w.n
	l.mu.Unlock()
	if reached && l.OnLimit != nil {
		l.OnLimit(ip, n)
	}
}

// sweep drops ended windows; if none ended, it drops everything (a flood
// of fresh addresses must not grow memory without bound).
func (l *FailureLimiter) sweep(now time.Time) {
	for ip, w := range l.byIP {
		if now.Sub(w.start) >= l.window {
			delete(l.byIP, ip)
		}
	}
	if len(l.byIP) >= maxTrackedIPs {
		clear(l.byIP)
	}
}
