// Package store defines what keyward keeps: virtual keys (as keyed
// hashes, never the keys), users with their plan, and audit events. The
// interfaces here are implemented by store/sqlite (embedded default) and
// checked by one contract suite, internal/storetest, that every
// implementation must pass.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every implementation returns.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Key is a virtual key's record. The key itself is never stored: only
// Hash, an HMAC-SHA256 under the server's pepper, and Prefix, a few
// leading characters shown to people.
type Key struct {
	ID     string
	Name   string
	Hash   []byte
	Prefix string
	// User owns the key ("" for a service key).
	User   string
	Plan   string
	Scopes []string
	// Test marks a kw_test_ key.
	Test      bool
	CreatedAt time.Time
	// ExpiresAt, RevokedAt and LastUsedAt are zero when unset.
	ExpiresAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
	// RotatedFrom is the id of the key this one replaced.
	RotatedFrom string
}

// Active reports whether the key may be used at now.
func (k Key) Active(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// KeyFilter selects keys to list.
type KeyFilter struct {
	User           string // "" for all
	IncludeRevoked bool
}

// Keys stores virtual keys.
type Keys interface {
	CreateKey(ctx context.Context, k Key) error
	KeyByID(ctx context.Context, id string) (Key, error)
	KeyByHash(ctx context.Context, hash []byte) (Key, error)
	ListKeys(ctx context.Context, f KeyFilter) ([]Key, error)
	// RevokeKey marks a key revoked at the given time (idempotent: an
	// already revoked key keeps its first revocation time).
	RevokeKey(ctx context.Context, id string, at time.Time) error
	// ExpireKey sets a key's expiry (a rotation's grace period), never
	// extending an earlier one.
	ExpireKey(ctx context.Context, id string, at time.Time) error
	// TouchKeys records last use times in one batch; older times than the
	// stored ones are ignored.
	TouchKeys(ctx context.Context, used map[string]time.Time) error
}

// User is an end user of the app, as keyward knows it.
type User struct {
	ID        string
	Plan      string // "" for the default plan
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Users stores users and their plan assignment.
type Users interface {
	// PutUser creates or updates a user (CreatedAt is kept on update).
	PutUser(ctx context.Context, u User) error
	User(ctx context.Context, id string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
}

// Event is an audit record. It never holds a key or token.
type Event struct {
	ID      int64
	At      time.Time
	Kind    string // key.created, key.revoked, key.rotated, auth.failures, …
	Actor   string // who did it: "cli", "admin:<ref>", "key:<id>"
	Subject string // what it was done to: a key id, a user id, an IP
	Detail  string
}

// EventFilter selects audit events, newest first.
type EventFilter struct {
	Kind  string
	Since time.Time
	Limit int // 0: 100
}

// Audit stores audit events.
type Audit interface {
	AppendEvent(ctx context.Context, e Event) error
	Events(ctx context.Context, f EventFilter) ([]Event, error)
}

// Store is everything keyward keeps.
type Store interface {
	Keys
	Users
	Audit
	Close() error
}
