package auth

import (
	"strconv"
	"testing"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	l := NewFailureLimiter(3, clk.now)
	var hit []string
	l.OnLimit = func(ip string, n int) { hit = append(hit, ip) }
	for i := 0; i < 2; i++ {
		l.Fail("1.1.1.1")
	}
	if b, _ := l.Blocked("1.1.1.1"); b {
		t.Fatal("blocked below the limit")
	}
	l.Fail("1.1.1.1")
	l.Fail("1.1.1.1")
	b, until := l.Blocked("1.1.1.1")
	if !b || !until.Equal(clk.now().Add(time.Minute)) {
		t.Fatalf("Blocked = %v %v", b, until)
	}
	if b, _ := l.Blocked("2.2.2.2"); b {
		t.Fatal("another IP blocked")
	}
	if len(hit) != 1 {
		t.Fatalf("OnLimit called %d times", len(hit))
	}
	clk.add(time.Minute)
	if b, _ := l.Blocked("1.1.1.1"); b {
		t.Fatal("still blocked after the window")
	}
}

func TestFailureLimiterBoundsMemory(t *testing.T) {
	l := NewFailureLimiter(20, nil)
	for i := 0; i < maxTrackedIPs+10; i++ {
		l.Fail(strconv.Itoa(i))
	}
	if len(l.byIP) > maxTrackedIPs {
		t.Fatalf("tracking %d IPs", len(l.byIP))
	}
}

// TestFailedThrottlesFailuresOnly: past the limit, Failed says to throttle
// (429) until the window ends; below it, not. Nothing here refuses a valid
// credential: Failed is only called for a failure (issue #15).
func TestFailedThrottlesFailuresOnly(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	l := NewFailureLimiter(3, clk.now)
	var hits int
	l.OnLimit = func(string, int) { hits++ }
	for i := 0; i < 3; i++ {
		if throttled, _ := l.Failed("1.1.1.1"); throttled {
			t.Fatalf("failure %d throttled below the limit", i)
		}
	}
	throttled, until := l.Failed("1.1.1.1")
	if !throttled || !until.Equal(clk.now().Add(time.Minute)) {
		t.Fatalf("Failed = %v %v", throttled, until)
	}
	if throttled, _ := l.Failed("2.2.2.2"); throttled {
		t.Fatal("another address throttled")
	}
	if hits != 1 {
		t.Fatalf("OnLimit called %d times", hits)
	}
	clk.add(time.Minute)
	if throttled, _ := l.Failed("1.1.1.1"); throttled {
		t.Fatal("throttled after the window")
	}
}
