package auth

import (
	"sync"
	"time"
)

// FailureLimiter counts failed authentications per client IP in fixed
// one-minute windows. Past the limit, the IP is refused (429) until the
// window ends, whatever it presents — guessing keys costs a minute per
// batch. It is bounded in memory.
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
