// Package redistest is what tests share to use a real Redis: the one at
// KEYWARD_TEST_REDIS (an address or URL), else 127.0.0.1:6379; a key
// prefix of each test's own, emptied after it; and a hook that counts the
// round trips a client makes. Without a Redis the tests are skipped —
// unless CI=true, where Redis is required and they fail.
package redistest

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is the test Redis's address or URL.
func Addr() string {
	if a := os.Getenv("KEYWARD_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// URL is Addr as a redis:// URL.
func URL() string {
	if a := Addr(); strings.Contains(a, "://") {
		return a
	}
	return "redis://" + Addr() + "/0"
}

var shared struct {
	once sync.Once
	rdb  *redis.Client
	err  error
}

// Client is a client to the test Redis, shared by the tests (each keeps
// to its own Prefix).
func Client(t testing.TB) *redis.Client {
	t.Helper()
	shared.once.Do(func() { shared.rdb, shared.err = dial() })
	if shared.err != nil {
		Skip(t, shared.err)
	}
	return shared.rdb
}

// OwnClient is a client of the test's own (for hooks), closed after it.
func OwnClient(t testing.TB) *redis.Client {
	t.Helper()
	Client(t) // skip early without Redis
	rdb, err := dial()
	if err != nil {
		Skip(t, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func dial() (*redis.Client, error) {
	opt, err := redis.ParseURL(URL())
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, 2*time.Second, 2*time.Second
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, err
	}
	return rdb, nil
}

// Skip skips a test that found no Redis (fails it under CI=true).
func Skip(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("no Redis at %s: %v (CI=true: Redis is required)", Addr(), err)
	}
	t.Skipf("no Redis at %s (%v): start one (redis-server) or set KEYWARD_TEST_REDIS", Addr(), err)
}

// Prefix is a key prefix of the test's own; its keys are deleted after
// it.
func Prefix(t testing.TB, rdb redis.Cmdable) string {
	t.Helper()
	p := "kwtest:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys, err := keysUnder(ctx, rdb, p)
		if err != nil {
			t.Errorf("cleanup: scan %s*: %v", p, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := rdb.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("cleanup: %v", err)
				return
			}
			keys = keys[n:]
		}
	})
	return p
}

// KeysUnder lists the keys under prefix.
func KeysUnder(t testing.TB, rdb redis.Cmdable, prefix string) []string {
	t.Helper()
	keys, err := keysUnder(context.Background(), rdb, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func keysUnder(ctx context.Context, rdb redis.Cmdable, prefix string) ([]string, error) {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// RoundTrips counts the calls that reach Redis: each command, and each
// pipeline as one. Add it to a client with AddHook.
type RoundTrips struct {
	N    atomic.Int64
	mu   sync.Mutex
	cmds []string
}

// DialHook implements redis.Hook.
func (h *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.note(cmd.Name())
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.note("pipeline")
		return next(ctx, cmds)
	}
}

func (h *RoundTrips) note(name string) {
	h.N.Add(1)
	h.mu.Lock()
	h.cmds = append(h.cmds, name)
	h.mu.Unlock()
}

// Reset starts counting again.
func (h *RoundTrips) Reset() {
	h.N.Store(0)
	h.mu.Lock()
	h.cmds = nil
	h.mu.Unlock()
}

// Names are the commands counted, in order.
func (h *RoundTrips) Names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.cmds...)
}
