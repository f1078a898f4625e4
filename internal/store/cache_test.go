package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)} }
func value(v string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return v, nil }
}

var errStoreDown = fmt.Errorf("%w: connection refused", ErrUnavailable)

// source is a store that counts reads and can fail.
type source struct {
	v     string
	err   error
	reads int
}

func (s *source) fetch(context.Context) (string, error) {
	s.reads++
	return s.v, s.err
}

// TestCache walks one record through the ages a Freshness gives it.
func TestCache(t *testing.T) {
	type step struct {
		name      string
		advance   time.Duration
		live      bool
		src       source // what the store answers now
		want      string
		wantErr   error
		wantReads int // reads of the store during this step
	}
	tests := []struct {
		name  string
		f     *Freshness
		steps []step
		// wantStale counts records used past their TTL (OnStale).
		wantStale int
	}{
		{"fresh within the TTL, read again after it", &Freshness{TTL: time.Second}, []step{
			{name: "first", src: source{v: "a"}, want: "a", wantReads: 1},
			{name: "fresh", advance: 999 * time.Millisecond, src: source{v: "b"}, want: "a"},
			{name: "stale", advance: time.Millisecond, src: source{v: "b"}, want: "b", wantReads: 1},
		}, 0},
		{"longer while change events flow", &Freshness{TTL: time.Second, LiveTTL: 30 * time.Second}, []step{
			{name: "first", live: true, src: source{v: "a"}, want: "a", wantReads: 1},
			{name: "fresh while live", live: true, advance: 20 * time.Second, src: source{v: "b"}, want: "a"},
			{name: "events stop: the short TTL again", advance: time.Second, src: source{v: "b"}, want: "b", wantReads: 1},
		}, 0},
		{"not found is cached", &Freshness{TTL: time.Second}, []step{
			{name: "first", src: source{err: ErrNotFound}, wantErr: ErrNotFound, wantReads: 1},
			{name: "cached", advance: time.Millisecond, src: source{v: "x"}, wantErr: ErrNotFound},
		}, 0},
		{"within grace while the store fails", &Freshness{TTL: time.Second, Grace: time.Minute}, []step{
			{name: "read", live: true, src: source{v: "a"}, want: "a", wantReads: 1},
			{name: "store fails: the cached record", advance: 2 * time.Second, src: source{err: errStoreDown}, want: "a", wantReads: 1},
			{name: "for a second the store is not asked", advance: 500 * time.Millisecond, src: source{err: errStoreDown}, want: "a"},
			{name: "then it is", advance: 600 * time.Millisecond, src: source{err: errStoreDown}, want: "a", wantReads: 1},
			{name: "grace ends", advance: time.Minute, src: source{err: errStoreDown}, wantErr: errStoreDown, wantReads: 1},
			{name: "back", advance: 2 * time.Second, src: source{v: "b"}, want: "b", wantReads: 1},
		}, 3},
		{"no grace", &Freshness{TTL: time.Second}, []step{
			{name: "read", src: source{v: "a"}, want: "a", wantReads: 1},
			{name: "store fails", advance: 2 * time.Second, src: source{err: errStoreDown}, wantErr: errStoreDown, wantReads: 1},
		}, 0},
		{"read without change events: refused during an outage", &Freshness{TTL: time.Second, Grace: time.Hour}, []step{
			{name: "read", src: source{v: "a"}, want: "a", wantReads: 1},
			{name: "store fails", advance: 2 * time.Second, src: source{err: errStoreDown}, wantErr: errStoreDown, wantReads: 1},
		}, 0},
		{"never read: refused during an outage", &Freshness{TTL: time.Second, Grace: time.Hour}, []step{
			{name: "store fails", src: source{err: errStoreDown}, wantErr: errStoreDown, wantReads: 1},
			{name: "still", advance: 10 * time.Millisecond, src: source{err: errStoreDown}, wantErr: errStoreDown, wantReads: 1},
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			f := tt.f
			f.Now = clk.now
			stale := 0
			f.OnStale = func() { stale++ }
			c := NewCache[string, string](f)
			for _, s := range tt.steps {
				clk.add(s.advance)
				f.SetLive(s.live)
				src := s.src
				got, err := c.Get(context.Background(), "k", src.fetch)
				if !errors.Is(err, s.wantErr) || err == nil && got != s.want {
					t.Fatalf("%s: Get = %q, %v; want %q, %v", s.name, got, err, s.want, s.wantErr)
				}
				if src.reads != s.wantReads {
					t.Fatalf("%s: %d reads of the store, want %d", s.name, src.reads, s.wantReads)
				}
			}
			if stale != tt.wantStale {
				t.Errorf("OnStale called %d times, want %d", stale, tt.wantStale)
			}
		})
	}
}

// TestCacheForgetDuringRead: a record read while it was forgotten (a
// change committed during the read) is returned but not cached, so the
// change is never hidden behind what was read before it.
func TestCacheForgetDuringRead(t *testing.T) {
	clk := newClock()
	c := NewCache[string, string](&Freshness{TTL: time.Hour, Now: clk.now})
	got, _ := c.Get(context.Background(), "k", func(context.Context) (string, error) {
		c.Forget("k") // the change event arrives while the old row is in flight
		return "old", nil
	})
	if got != "old" {
		t.Fatalf("Get = %q", got)
	}
	if got, _ := c.Get(context.Background(), "k", value("new")); got != "new" {
		t.Fatalf("after the change: %q, want the store read again", got)
	}
	c.ForgetIf(func(k, v string) bool { return v == "new" })
	if got, _ := c.Get(context.Background(), "k", value("newer")); got != "newer" {
		t.Fatalf("after ForgetIf: %q", got)
	}
	c.Clear()
	if got, _ := c.Get(context.Background(), "k", value("newest")); got != "newest" {
		t.Fatalf("after Clear: %q", got)
	}
}

// TestCacheExpire: after Expire (changes may have been missed) every
// record is read again — but while the store fails, it still serves
// within the grace period.
func TestCacheExpire(t *testing.T) {
	clk := newClock()
	f := &Freshness{TTL: time.Hour, Grace: time.Hour, Now: clk.now}
	f.SetLive(true)
	c := NewCache[string, string](f)
	c.Get(context.Background(), "a", value("a1"))
	c.Get(context.Background(), "b", value("b1"))
	c.Expire()
	if got, _ := c.Get(context.Background(), "a", value("a2")); got != "a2" {
		t.Fatalf("after Expire: %q, want the store read again", got)
	}
	if got, err := c.Get(context.Background(), "b", func(context.Context) (string, error) { return "", errStoreDown }); err != nil || got != "b1" {
		t.Fatalf("after Expire, the store failing: %q %v, want the record read before", got, err)
	}
}

// TestCacheCallerGone: a read that fails because the caller went away
// does not count as the store failing.
func TestCacheCallerGone(t *testing.T) {
	clk := newClock()
	f := &Freshness{TTL: time.Second, Grace: time.Hour, Now: clk.now}
	f.SetLive(true)
	c := NewCache[string, string](f)
	c.Get(context.Background(), "k", value("a"))
	clk.add(2 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, "k", func(ctx context.Context) (string, error) { return "", ctx.Err() }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get = %v", err)
	}
	if f.storeDown(clk.now()) {
		t.Fatal("a caller's cancellation marked the store down")
	}
}

// TestCacheTimeout: each read of the store is bounded by Timeout.
func TestCacheTimeout(t *testing.T) {
	c := NewCache[string, string](&Freshness{TTL: time.Second, Timeout: 10 * time.Millisecond})
	_, err := c.Get(context.Background(), "k", func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v", err)
	}
}

// TestCacheBounded: beyond Max records the cache starts again.
func TestCacheBounded(t *testing.T) {
	c := NewCache[int, string](nil)
	c.Max = 10
	for i := 0; i < 25; i++ {
		c.Get(context.Background(), i, value("v"))
	}
	if n := len(c.m); n > 10 {
		t.Fatalf("%d records held, Max 10", n)
	}
}

// TestCacheOneReadAtATime: callers wanting the same record while it is
// read share that read (no stampede on the store when a hot record or the
// budgets expire); one that leaves stops waiting without failing the rest.
func TestCacheOneReadAtATime(t *testing.T) {
	c := NewCache[string, string](&Freshness{TTL: time.Second, Timeout: time.Minute})
	release := make(chan struct{})
	var reads atomic.Int64
	fetch := func(context.Context) (string, error) {
		reads.Add(1)
		<-release
		return "v", nil
	}
	leaver, leave := context.WithCancel(context.Background())
	errs := make(chan error, 51)
	for i := 0; i < 50; i++ {
		go func() {
			v, err := c.Get(context.Background(), "k", fetch)
			if err == nil && v != "v" {
				err = fmt.Errorf("got %q", v)
			}
			errs <- err
		}()
	}
	go func() {
		_, err := c.Get(leaver, "k", fetch)
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond)
	leave()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that left: %v", err)
	}
	close(release)
	for i := 0; i < 50; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads of the store for 51 callers, want 1", n)
	}
}
