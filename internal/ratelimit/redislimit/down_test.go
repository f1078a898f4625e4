package redislimit

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/ratelimit"
)

// ops are every call to Redis the package makes, each expected to fail.
func ops(l *Limiter, s *Slots) map[string]func(ctx context.Context) error {
	now := time.Now()
	lim := ratelimit.PerMinute(10)
	return map[string]func(ctx context.Context) error{
		"Allow": func(ctx context.Context) error {
			_, err := l.Allow(ctx, "k", lim, 1, now)
			return err
		},
		"AllowMany": func(ctx context.Context) error {
			_, err := l.AllowMany(ctx, []Check{{Key: "a", Limit: lim, Cost: 1}, {Key: "b", Limit: lim, Cost: 1}}, now)
			return err
		},
		"Adjust": func(ctx context.Context) error { return l.Adjust(ctx, "k", lim, -1, now) },
		"Acquire": func(ctx context.Context) error {
			rel, _, ok, err := s.Acquire(ctx, "k", 1)
			if ok {
				rel()
			}
			return err
		},
	}
}

// TestRedisDown: with nothing listening, every call fails at once.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rdb, err := NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := NewSlots(rdb, "", 0)
	defer s.Close()
	for name, op := range ops(NewLimiter(rdb, ""), s) {
		for range 3 {
			start := time.Now()
			err := op(context.Background())
			if err == nil {
				t.Fatalf("%s: no error", name)
			}
			if took := time.Since(start); took > time.Second {
				t.Fatalf("%s: failed after %v: %v", name, took, err)
			}
		}
	}
}

// TestRedisHung: a Redis that accepts connections and never answers fails
// calls by the context's deadline, or by the client's timeouts without
// one.
func TestRedisHung(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	rdb, err := NewClient(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := NewSlots(rdb, "", 0)
	defer s.Close()
	for name, op := range ops(NewLimiter(rdb, ""), s) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		err := op(ctx)
		cancel()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if took := time.Since(start); took > 400*time.Millisecond {
			t.Fatalf("%s: with a 100ms deadline, failed after %v: %v", name, took, err)
		}
	}
	start := time.Now()
	err = ops(NewLimiter(rdb, ""), s)["Allow"](context.Background())
	if took := time.Since(start); err == nil || took > 3*time.Second {
		t.Fatalf("without a deadline: %v after %v", err, took)
	}
}
