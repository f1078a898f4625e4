// Package redislimit is ratelimit's shared implementation: a Limiter and
// Slots kept in Redis, so that every keyward replica counts against the
// same limits.
//
// Limiter is GCRA, like ratelimit.Memory, with the same answers for the
// same calls: one key per limited subject holds its theoretical arrival
// time (TAT) as Unix nanoseconds, and one Lua script reads, decides and
// writes it atomically, in one round trip (EVALSHA). A key expires once
// its TAT is past (plus a second's grace), so idle subjects take no
// memory. AllowMany checks several limits in one script, all or nothing.
// Lua numbers are doubles, so the scripts keep instants as seconds and
// nanoseconds apart and compute only differences, exact up to 104 days
// (2^53ns): any limit whose period is shorter answers exactly as Memory.
//
// The limiter's clock is the caller's: Allow takes now, as Memory does,
// and the scripts never read Redis's. Replicas therefore rely on
// synchronized clocks (NTP). The effect of skew is bounded: a replica
// whose clock is δ ahead of the others sees every TAT δ sooner, so it
// admits at most δ×Rate/Period units more than exact — well under one
// request per minute-limit for the milliseconds NTP keeps — and one that
// is behind admits fewer.
//
// Slots are leases: a sorted set per key of lease ids scored by when they
// expire, now+TTL on Redis's clock (TIME inside the scripts), the one
// clock every replica shares. A renewer refreshes the leases its Slots
// holds every TTL/3, so a live request never loses its slot while a
// crashed replica's slots come back within TTL.
//
// Keys are the configured prefix, a kind ("rl:" or "slot:") and a hash of
// the caller's key, so any key string is safe, keys have one length, and
// no user id or address is stored in the clear. The hash never contains
// braces, so for Redis Cluster put a hash tag in the prefix ("{kw}:"):
// AllowMany's keys must share a slot, and a gateway's limiter traffic
// fits one shard. Scripts need Redis 5 or later.
package redislimit

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is where keys go when no prefix is given.
const DefaultPrefix = "kw:"

// NewClient returns a go-redis client for addr — "host:port" or a
// redis://, rediss:// or unix:// URL — with timeouts fit for the request
// path: an unreachable Redis fails a call within about a second, and a
// context's deadline bounds every call. Options the URL sets are kept.
//
// A call is retried once on a connection error. Should a retried script
// have run the first time (its reply lost), the limiter takes its cost
// twice, erring on the strict side; Slots' leases are named by the
// caller, so a retried Acquire takes one slot.
func NewClient(addr string) (*redis.Client, error) {
	var opt *redis.Options
	if strings.Contains(addr, "://") {
		var err error
		if opt, err = redis.ParseURL(addr); err != nil {
			return nil, fmt.Errorf("redislimit: redis address: %w", err)
		}
	} else {
		opt = &redis.Options{Addr: addr}
	}
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&opt.DialTimeout, time.Second)
	set(&opt.ReadTimeout, 500*time.Millisecond)
	set(&opt.WriteTimeout, 500*time.Millisecond)
	set(&opt.PoolTimeout, time.Second)
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// redisKey is where key's state lives: prefix, kind and a hash of key.
func redisKey(prefix, kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	// 128 bits: collisions are out of reach, and keys stay short.
	return prefix + kind + base64.RawURLEncoding.EncodeToString(sum[:16])
}
