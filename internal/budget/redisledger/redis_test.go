package redisledger

import (
	"context"
	"crypto/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/ratelimit/redislimit"
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

func dialTest() (*redis.Client, error) {
	rdb, err := redislimit.NewClient(redisAddr())
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
		keys, err := keysUnder(ctx, rdb, p)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return p
}

// keysUnder lists the keys under prefix.
func keysUnder(ctx context.Context, rdb redis.Cmdable, prefix string) ([]string, error) {
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}
