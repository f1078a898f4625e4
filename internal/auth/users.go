package auth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/store"
)

// Users looks up the operator's per-user settings — a plan assignment
// that overrides what a token claims, and a switch to disable a user —
// with a short cache so a change takes effect within a second.
type Users struct {
	st  store.Users
	now func() time.Time
	ttl time.Duration

	mu    sync.Mutex
	cache map[string]cachedUser
}

type cachedUser struct {
	u       store.User
	found   bool
	fetched time.Time
}

// NewUsers returns a user lookup over st (now nil: time.Now).
func NewUsers(st store.Users, now func() time.Time) *Users {
	if now == nil {
		now = time.Now
	}
	return &Users{st: st, now: now, ttl: time.Second, cache: map[string]cachedUser{}}
}

// ErrUserDisabled refuses every credential of a disabled user.
var ErrUserDisabled = errors.New("user is disabled")

// Apply adjusts a principal by its user's record: a disabled user is
// refused, an assigned plan replaces the principal's (never for a virtual
// key, whose plan was fixed when it was made).
func (us *Users) Apply(ctx context.Context, p Principal) (Principal, error) {
	if us == nil || p.User == "" {
		return p, nil
	}
	now := us.now()
	us.mu.Lock()
	c, ok := us.cache[p.User]
	us.mu.Unlock()
	if !ok || now.Sub(c.fetched) >= us.ttl || now.Before(c.fetched) {
		u, err := us.st.User(ctx, p.User)
		switch {
		case errors.Is(err, store.ErrNotFound):
			c = cachedUser{fetched: now}
		case err != nil:
			return p, err
		default:
			c = cachedUser{u: u, found: true, fetched: now}
		}
		us.mu.Lock()
		if len(us.cache) > 100_000 {
			clear(us.cache)
		}
		us.cache[p.User] = c
		us.mu.Unlock()
	}
	if !c.found {
		return p, nil
	}
	if c.u.Disabled {
		return p, ErrUserDisabled
	}
	if c.u.Plan != "" && p.Kind != KindVirtualKey && p.Kind != KindBrowserToken {
		p.Plan = c.u.Plan
	}
	return p, nil
}
