package redislimit

import (
	"context"
	"crypto/rand"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The tests use the Redis at KEYWARD_TEST_REDIS (an address or URL),
// else 127.0.0.1:6379, and are skipped without one — unless CI=true,
// where a missing Redis fails them.
func redisAddr() string {
	if a := os.Getenv("KEYWARD_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

var shared struct {
	once sync.Once
	rdb  *redis.Client
	err  error
}

// testClient is a client to the test Redis, shared by the tests (each
// keeps to its own prefix).
func testClient(t testing.TB) *redis.Client {
	t.Helper()
	shared.once.Do(func() {
		shared.rdb, shared.err = dialTest()
	})
	if shared.err != nil {
		noRedis(t, shared.err)
	}
	return shared.rdb
}

// ownClient is a client of the test's own (for hooks), closed after it.
func ownClient(t testing.TB) *redis.Client {
	t.Helper()
	testClient(t) // skip early without Redis
	rdb, err := dialTest()
	if err != nil {
		noRedis(t, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func dialTest() (*redis.Client, error) {
	rdb, err := NewClient(redisAddr())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, err
	}
	return rdb, nil
}

func noRedis(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("no Redis at %s: %v (CI=true: Redis is required)", redisAddr(), err)
	}
	t.Skipf("no Redis at %s (%v): start one (redis-server) or set KEYWARD_TEST_REDIS", redisAddr(), err)
}

// testPrefix is a key prefix of the test's own; its keys are deleted
// after it.
func testPrefix(t testing.TB, rdb redis.Cmdable) string {
	t.Helper()
	p := "kwtest:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
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

// keysUnder lists the keys under prefix.
func keysUnder(t *testing.T, rdb redis.Cmdable, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// roundTrips counts the calls that reach Redis: each command, and each
// pipeline as one.
type roundTrips struct {
	n    atomic.Int64
	mu   sync.Mutex
	cmds []string
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		h.mu.Lock()
		h.cmds = append(h.cmds, cmd.Name())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		h.mu.Lock()
		h.cmds = append(h.cmds, "pipeline")
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (h *roundTrips) reset() {
	h.n.Store(0)
	h.mu.Lock()
	h.cmds = nil
	h.mu.Unlock()
}

func (h *roundTrips) names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.cmds...)
}
