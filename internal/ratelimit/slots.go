package ratelimit

import (
	"context"
	"errors"
	"sync"
)

// Slots bounds the work in flight per key: requests and streams that have
// started and not yet finished.
type Slots interface {
	// Acquire takes one of key's max slots. ok is false (and nothing is
	// taken) when all are in use; inFlight is the count before this call.
	// release gives the slot back; calling it more than once is harmless.
	Acquire(ctx context.Context, key string, max int) (release func(), inFlight int, ok bool, err error)
}

// ErrInvalidSlots is returned for a maximum below one.
var ErrInvalidSlots = errors.New("ratelimit: the slot maximum must be at least 1")

// MemorySlots is an in-process Slots, sharded like Memory. Keys with no
// slot in use take no memory.
type MemorySlots struct {
	shards [shardCount]slotShard
}

type slotShard struct {
	mu  sync.Mutex
	use map[string]int
	_   [40]byte
}

var _ Slots = (*MemorySlots)(nil)

// NewMemorySlots returns an empty in-process Slots.
func NewMemorySlots() *MemorySlots {
	s := &MemorySlots{}
	for i := range s.shards {
		s.shards[i].use = map[string]int{}
	}
	return s
}

// Acquire implements Slots.
func (s *MemorySlots) Acquire(_ context.Context, key string, max int) (func(), int, bool, error) {
	if max < 1 {
		return nil, 0, false, ErrInvalidSlots
	}
	sh := &s.shards[fnv32a(key)%shardCount]
	sh.mu.Lock()
	n := sh.use[key]
	if n >= max {
		sh.mu.Unlock()
		return nil, n, false, nil
	}
	sh.use[key] = n + 1
	sh.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			sh.mu.Lock()
			if sh.use[key] <= 1 {
				delete(sh.use, key)
			} else {
				sh.use[key]--
			}
			sh.mu.Unlock()
		})
	}, n, true, nil
}

// InFlight is the number of slots key holds (for tests and metrics).
func (s *MemorySlots) InFlight(key string) int {
	sh := &s.shards[fnv32a(key)%shardCount]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.use[key]
}

// Total is the number of slots held across all keys.
func (s *MemorySlots) Total() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.Lock()
		for _, v := range s.shards[i].use {
			n += v
		}
		s.shards[i].mu.Unlock()
	}
	return n
}
