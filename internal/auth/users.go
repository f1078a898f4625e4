package auth

import (
	"context"
	"errors"

	"github.com/keyward/keyward/internal/store"
)

// Users looks up the operator's per-user settings — a plan assignment
// that overrides what a token claims, and a switch to disable a user —
// cached (store.Freshness) so a change takes effect within the cache's
// TTL in every process, at once where the store sends change events.
type Users struct {
	st    store.Users
	cache *store.Cache[string, store.User]
}

// NewUsers returns a user lookup over st (f nil: store.DefaultFreshness).
func NewUsers(st store.Users, f *store.Freshness) *Users {
	return &Users{st: st, cache: store.NewCache[string, store.User](f)}
}

// Forget drops a user's cached record (a change event).
func (us *Users) Forget(id string) { us.cache.Forget(id) }

// ForgetAll drops every cached record (every user changed).
func (us *Users) ForgetAll() { us.cache.Clear() }

// ExpireAll makes every cached record be read again (change events may
// have been missed); while the store fails they still serve within the
// grace period.
func (us *Users) ExpireAll() { us.cache.Expire() }

// ErrUserDisabled refuses every credential of a disabled user.
var ErrUserDisabled = errors.New("user is disabled")

// Apply adjusts a principal by its user's record: a disabled user is
// refused, an assigned plan replaces the principal's (never for a virtual
// key, whose plan was fixed when it was made).
func (us *Users) Apply(ctx context.Context, p Principal) (Principal, error) {
	if us == nil || p.User == "" {
		return p, nil
	}
	u, err := us.cache.Get(ctx, p.User, func(ctx context.Context) (store.User, error) { return us.st.User(ctx, p.User) })
	if errors.Is(err, store.ErrNotFound) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	if u.Disabled {
		return p, ErrUserDisabled
	}
	if u.Plan != "" && p.Kind != KindVirtualKey && p.Kind != KindBrowserToken {
		p.Plan = u.Plan
	}
	return p, nil
}
