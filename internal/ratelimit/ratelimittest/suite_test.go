package ratelimittest

import (
	"testing"

	"github.com/keyward/keyward/internal/ratelimit"
)

// TestSuiteOnMemory runs the contract against the in-memory limiter, so
// the suite itself is exercised where it is defined.
func TestSuiteOnMemory(t *testing.T) {
	RunLimiter(t, func(*testing.T) ratelimit.Limiter { return ratelimit.NewMemory() })
	RunSlots(t, func(*testing.T) ratelimit.Slots { return ratelimit.NewMemorySlots() })
}
