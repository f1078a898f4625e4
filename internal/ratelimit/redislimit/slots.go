package redislimit

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/ratelimit"
)

var (
	//go:embed acquire.lua
	acquireLua string
	//go:embed renew.lua
	renewLua string

	acquireScript = redis.NewScript(acquireLua)
	// gatedAcquireScript is acquire, run only while the admission marker
	// (the last ARGV) exists — else it answers {2, 0} and takes nothing —
	// and deleting the marker when it refuses.
	gatedAcquireScript = redis.NewScript("local marker = ARGV[#ARGV]\nif redis.call('EXISTS', marker) == 0 then return {2, 0} end\n" +
		"local r = (function()\n" + acquireLua + "\nend)()\nif r[1] ~= 1 then redis.call('DEL', marker) end\nreturn r\n")
	renewScript = redis.NewScript(renewLua)
)

// DefaultTTL is how long a lease lasts past its last renewal when NewSlots
// is given no TTL: how long a crashed replica's slots stay taken.
const DefaultTTL = 30 * time.Second

// minTTL keeps the renewal period (TTL/3) well above a round trip.
const minTTL = 30 * time.Millisecond

// releaseTimeout bounds a release's call to Redis. A release that fails
// leaves its lease to expire.
const releaseTimeout = 2 * time.Second

// ErrClosed is Acquire's error once its Slots is closed: nothing would
// renew the lease.
var ErrClosed = errors.New("redislimit: slots closed")

// Slots is a ratelimit.Slots kept in Redis, shared by every replica that
// uses the same Redis and prefix. Each slot in use is a lease that this
// Slots renews until it is released; Close stops the renewing.
type Slots struct {
	rdb    redis.Cmdable
	prefix string
	ttl    time.Duration
	// owner starts this Slots' lease ids; seq ends them.
	owner string
	seq   atomic.Uint64

	mu     sync.Mutex
	held   map[string]string // lease id → its key
	closed bool

	stop context.CancelFunc // ends the renewer and its calls
	done chan struct{}      // closed when the renewer has returned
}

var _ ratelimit.Slots = (*Slots)(nil)

// NewSlots returns Slots whose keys start with prefix (DefaultPrefix if
// empty) and whose leases last ttl (DefaultTTL if 0, at least 30ms) past
// their last renewal, and starts its renewer. Close it when done.
func NewSlots(rdb redis.Cmdable, prefix string, ttl time.Duration) *Slots {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	ttl = max(ttl, minTTL).Truncate(time.Millisecond)
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	ctx, stop := context.WithCancel(context.Background())
	s := &Slots{
		rdb:    rdb,
		prefix: prefix,
		ttl:    ttl,
		owner:  base64.RawURLEncoding.EncodeToString(b[:]) + ":",
		held:   map[string]string{},
		stop:   stop,
		done:   make(chan struct{}),
	}
	go s.renewer(ctx)
	return s
}

// Acquire implements ratelimit.Slots. The lease's id is chosen here, so a
// call go-redis retries after it ran still takes one slot. A lease whose
// Acquire failed midway, like one whose release failed, expires within
// the TTL.
func (s *Slots) Acquire(ctx context.Context, key string, max int) (func(), int, bool, error) {
	return s.QueueAcquire(ctx, s.rdb, key, max, "")()
}

// ErrSkipped answers a step gated on an admission marker that an earlier
// step deleted: it took nothing.
var ErrSkipped = errors.New("redislimit: skipped: an earlier step of the admission refused")

// QueueAcquire queues Acquire's script on c — a pipeline (its script
// loaded: LoadScripts), or the client itself — and returns what reads its
// answer, holding and renewing the lease when it was granted. With a
// marker it runs only while the marker exists (else ErrSkipped), and
// deletes it when it refuses.
func (s *Slots) QueueAcquire(ctx context.Context, c redis.Scripter, key string, max int, marker string) func() (func(), int, bool, error) {
	if max < 1 {
		return func() (func(), int, bool, error) { return nil, 0, false, ratelimit.ErrInvalidSlots }
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return func() (func(), int, bool, error) { return nil, 0, false, ErrClosed }
	}
	rk := redisKey(s.prefix, "slot:", key)
	id := s.owner + strconv.FormatUint(s.seq.Add(1), 36)
	var cmd *redis.Cmd
	switch _, piped := c.(redis.Pipeliner); {
	case marker != "":
		cmd = gatedAcquireScript.EvalSha(ctx, c, []string{rk}, max, s.ttl.Milliseconds(), id, marker)
	case piped:
		cmd = acquireScript.EvalSha(ctx, c, []string{rk}, max, s.ttl.Milliseconds(), id)
	default:
		cmd = acquireScript.Run(ctx, c, []string{rk}, max, s.ttl.Milliseconds(), id)
	}
	return func() (func(), int, bool, error) {
		res, err := cmd.Int64Slice()
		if err != nil {
			// The lease may have been taken though its answer was lost:
			// give it back, by its id (nothing if it was not), without
			// making the caller wait on a Redis that is failing.
			go s.release(ctx, rk, id)
			return nil, 0, false, fmt.Errorf("redislimit: acquire: %w", err)
		}
		if len(res) != 2 {
			return nil, 0, false, fmt.Errorf("redislimit: acquire: %d values in the reply", len(res))
		}
		if res[0] == 2 {
			return nil, 0, false, ErrSkipped
		}
		if res[0] != 1 {
			return nil, int(res[1]), false, nil
		}
		s.mu.Lock()
		s.held[id] = rk
		s.mu.Unlock()
		var once sync.Once
		release := func() { once.Do(func() { s.release(ctx, rk, id) }) }
		return release, int(res[1]), true, nil
	}
}

// release gives a lease back. It is no longer renewed even if Redis
// cannot be reached, and then expires within the TTL.
func (s *Slots) release(ctx context.Context, key, id string) {
	s.mu.Lock()
	delete(s.held, id)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	_ = s.rdb.ZRem(ctx, key, id).Err()
}

// Held is the number of leases this Slots holds and renews (for metrics
// and tests).
func (s *Slots) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// Close stops renewing: leases still held expire within the TTL, and
// Acquire fails. Releasing them still works. Close waits for the renewer.
func (s *Slots) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	<-s.done
	return nil
}

// renewer renews every held lease each TTL/3, so a lease survives two
// failed renewals in a row.
func (s *Slots) renewer(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(s.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.renew(ctx)
		}
	}
}

type lease struct{ id, key string }

// renew renews the held leases in one pipeline, and forgets those that
// are gone (they expired while Redis was out of reach): their slots may
// be someone else's now. A failed renewal is tried again next period.
func (s *Slots) renew(ctx context.Context) {
	s.mu.Lock()
	leases := make([]lease, 0, len(s.held))
	for id, key := range s.held {
		leases = append(leases, lease{id, key})
	}
	s.mu.Unlock()
	if len(leases) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.ttl/3)
	defer cancel()
	cmds := s.renewAll(ctx, leases)
	for _, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			// The script cache was emptied (a restart, a failover): load it
			// and go again.
			if renewScript.Load(ctx, s.rdb).Err() != nil {
				return
			}
			cmds = s.renewAll(ctx, leases)
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range cmds {
		if v, err := c.Int64(); err == nil && v == 0 && s.held[leases[i].id] == leases[i].key {
			delete(s.held, leases[i].id)
		}
	}
}

func (s *Slots) renewAll(ctx context.Context, leases []lease) []*redis.Cmd {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(leases))
	ttl := s.ttl.Milliseconds()
	for i, l := range leases {
		cmds[i] = renewScript.EvalSha(ctx, pipe, []string{l.key}, ttl, l.id)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	return cmds
}
