// Package auth decides who is calling: keyward's stored virtual keys,
// static client keys from the configuration, the app's own users' JWTs and
// short-lived browser tokens all resolve to a Principal with exactly one
// plan. Nothing here logs or returns a presented credential.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/vkey"
)

// Why a credential was refused. Clients get one 401 for all of them; the
// log says which.
var (
	ErrUnknown  = errors.New("unknown key")
	ErrRevoked  = errors.New("revoked key")
	ErrExpired  = errors.New("expired key")
	ErrNoPepper = errors.New("auth.pepper is not configured: virtual keys need it (env:NAME or file:PATH)")
	// ErrKeyInactive refuses to rotate a key that is revoked or expired.
	ErrKeyInactive = errors.New("key is revoked or expired")
)

// Audit event kinds of key changes.
const (
	EventKeyCreated = "key.created"
	EventKeyRevoked = "key.revoked"
	EventKeyRotated = "key.rotated"
)

// KeyStore is what the key manager needs from the store.
type KeyStore interface {
	store.Keys
	store.Audit
}

// Keys manages virtual keys: creation (shown once), lookup by keyed hash
// with a short cache, revocation, rotation with a grace period, and
// batched last-use updates.
type Keys struct {
	st     KeyStore
	pepper secret.Secret
	now    func() time.Time
	log    *slog.Logger

	// Lookups are cached (store.Freshness): a revocation takes effect
	// within the cache's TTL in every process, at once where the store
	// sends change events (Forget).
	byHash *store.Cache[string, store.Key] // by hex hash
	byID   *store.Cache[string, store.Key] // by id, for Active
	owners *store.Cache[string, bool]      // by user, for Owns

	mu      sync.Mutex
	touched map[string]time.Time
}

// KeysOptions configure a Keys.
type KeysOptions struct {
	Pepper secret.Secret
	Now    func() time.Time
	Logger *slog.Logger
	// Freshness ages cached lookups (default: one second, by Now).
	Freshness *store.Freshness
}

// NewKeys returns a key manager over st.
func NewKeys(st KeyStore, o KeysOptions) *Keys {
	k := &Keys{st: st, pepper: o.Pepper, now: o.Now, log: o.Logger, touched: map[string]time.Time{}}
	if k.now == nil {
		k.now = time.Now
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	f := o.Freshness
	if f == nil {
		f = &store.Freshness{TTL: time.Second, Now: k.now}
	}
	k.byHash = store.NewCache[string, store.Key](f)
	k.byID = store.NewCache[string, store.Key](f)
	k.owners = store.NewCache[string, bool](f)
	return k
}

// Enabled reports whether virtual keys can be used (a pepper is set).
func (k *Keys) Enabled() bool { return !k.pepper.IsZero() }

func (k *Keys) hash(key string) []byte { return k.pepper.HMAC([]byte(key)) }

// CreateOptions describe a new key.
type CreateOptions struct {
	Name   string
	User   string
	Plan   string
	Scopes []string
	// TTL is the key's lifetime (0: no expiry).
	TTL  time.Duration
	Test bool
	// Actor is who asks, for the audit log ("cli", "admin:…").
	Actor string
	// rotatedFrom links a rotation.
	rotatedFrom string
}

// Create makes a key and returns its record and the key itself — the only
// time the key exists outside the caller's hands.
func (k *Keys) Create(ctx context.Context, o CreateOptions) (store.Key, string, error) {
	if !k.Enabled() {
		return store.Key{}, "", ErrNoPepper
	}
	if strings.TrimSpace(o.Name) == "" {
		return store.Key{}, "", errors.New("a key needs a name")
	}
	plain, err := vkey.New(!o.Test)
	if err != nil {
		return store.Key{}, "", err
	}
	now := k.now().UTC()
	rec := store.Key{
		ID: newID(), Name: o.Name, Hash: k.hash(plain), Prefix: plain[:12],
		User: o.User, Plan: o.Plan, Scopes: o.Scopes, Test: o.Test, CreatedAt: now, RotatedFrom: o.rotatedFrom,
	}
	if o.TTL > 0 {
		rec.ExpiresAt = now.Add(o.TTL)
	}
	if err := k.st.CreateKey(ctx, rec); err != nil {
		return store.Key{}, "", fmt.Errorf("create key: %w", err)
	}
	k.audit(ctx, EventKeyCreated, o.Actor, rec.ID, fmt.Sprintf("name=%q user=%q plan=%q", o.Name, o.User, o.Plan))
	return rec, plain, nil
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "key_" + hex.EncodeToString(b[:])
}

func (k *Keys) audit(ctx context.Context, kind, actor, subject, detail string) {
	if err := k.st.AppendEvent(ctx, store.Event{At: k.now().UTC(), Kind: kind, Actor: actor, Subject: subject, Detail: detail}); err != nil {
		k.log.Error("audit event lost", "kind", kind, "subject", subject, "err", err)
	}
}

// Authenticate resolves a presented key to its record. A string that is
// not a well-formed keyward key fails without a store lookup.
func (k *Keys) Authenticate(ctx context.Context, presented string) (store.Key, error) {
	if !k.Enabled() || !vkey.Valid(presented) {
		return store.Key{}, ErrUnknown
	}
	h := k.hash(presented)
	now := k.now()
	rec, err := k.lookup(ctx, k.byHash, hex.EncodeToString(h), now, func(ctx context.Context) (store.Key, error) { return k.st.KeyByHash(ctx, h) })
	if err != nil {
		return store.Key{}, err
	}
	k.mu.Lock()
	k.touched[rec.ID] = now
	k.mu.Unlock()
	return rec, nil
}

// Active returns the record of the key with an id while it is active:
// ErrUnknown, ErrRevoked or ErrExpired otherwise. Lookups are cached for
// the cache TTL, so a revocation reaches what depends on the key (the
// browser tokens it minted) within it.
func (k *Keys) Active(ctx context.Context, id string) (store.Key, error) {
	return k.lookup(ctx, k.byID, id, k.now(), func(ctx context.Context) (store.Key, error) { return k.st.KeyByID(ctx, id) })
}

// Owns reports whether a user owns any key (revoked ones too): a tenant,
// whose id an app server's key without an owner may not name as one of its
// end users. Cached as lookups are.
func (k *Keys) Owns(ctx context.Context, user string) (bool, error) {
	owns, err := k.owners.Get(ctx, user, func(ctx context.Context) (bool, error) {
		keys, err := k.st.ListKeys(ctx, store.KeyFilter{User: user, IncludeRevoked: true})
		return len(keys) > 0, err
	})
	if err != nil {
		return false, fmt.Errorf("list keys of a user: %w", err)
	}
	return owns, nil
}

// lookup returns the record cached in c under name, fetching it when the
// cache has none fresh, and refuses a key that is unknown, revoked or
// expired. err is ErrUnknown, ErrRevoked, ErrExpired or a store failure.
func (k *Keys) lookup(ctx context.Context, c *store.Cache[string, store.Key], name string, now time.Time, fetch func(context.Context) (store.Key, error)) (store.Key, error) {
	rec, err := c.Get(ctx, name, fetch)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Key{}, ErrUnknown
	case err != nil:
		return store.Key{}, fmt.Errorf("look up key: %w", err)
	case !rec.RevokedAt.IsZero():
		return store.Key{}, ErrRevoked
	case !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt):
		return store.Key{}, ErrExpired
	}
	return rec, nil
}

// Revoke revokes a key at once (other processes see it within the cache
// TTL).
func (k *Keys) Revoke(ctx context.Context, id, actor string) error {
	if err := k.st.RevokeKey(ctx, id, k.now().UTC()); err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	k.Forget(id)
	k.audit(ctx, EventKeyRevoked, actor, id, "")
	return nil
}

// Rotate makes a new key with the old one's name, owner, plan and scopes;
// the old key stays valid for grace, then expires.
func (k *Keys) Rotate(ctx context.Context, id string, grace time.Duration, actor string) (store.Key, string, error) {
	old, err := k.st.KeyByID(ctx, id)
	if err != nil {
		return store.Key{}, "", fmt.Errorf("rotate key %s: %w", id, err)
	}
	if !old.Active(k.now()) {
		return store.Key{}, "", fmt.Errorf("rotate key %s: %w", id, ErrKeyInactive)
	}
	o := CreateOptions{Name: old.Name, User: old.User, Plan: old.Plan, Scopes: old.Scopes, Test: old.Test, Actor: actor, rotatedFrom: old.ID}
	if !old.ExpiresAt.IsZero() {
		o.TTL = old.ExpiresAt.Sub(old.CreatedAt)
	}
	rec, plain, err := k.Create(ctx, o)
	if err != nil {
		return store.Key{}, "", err
	}
	if err := k.st.ExpireKey(ctx, id, k.now().UTC().Add(grace)); err != nil {
		return store.Key{}, "", fmt.Errorf("rotate key %s: expire the old key: %w", id, err)
	}
	k.Forget(id)
	k.audit(ctx, EventKeyRotated, actor, id, "new="+rec.ID+" grace="+grace.String())
	return rec, plain, nil
}

// Forget drops what is cached about the key with an id (a change event:
// it was revoked, rotated or created elsewhere), unknown keys, and which
// users own keys.
func (k *Keys) Forget(id string) {
	// Unknown hashes go too: one may be the new key's.
	k.byHash.ForgetIf(func(_ string, rec store.Key) bool { return rec.ID == id || rec.ID == "" })
	k.byID.Forget(id)
	k.owners.Clear()
}

// ForgetAll drops every cached lookup (every key changed).
func (k *Keys) ForgetAll() {
	k.byHash.Clear()
	k.byID.Clear()
	k.owners.Clear()
}

// ExpireAll makes every cached lookup be read again (change events may
// have been missed); while the store fails they still serve within the
// grace period.
func (k *Keys) ExpireAll() {
	k.byHash.Expire()
	k.byID.Expire()
	k.owners.Expire()
}

// List returns keys (never the keys themselves: they are not stored).
func (k *Keys) List(ctx context.Context, f store.KeyFilter) ([]store.Key, error) {
	return k.st.ListKeys(ctx, f)
}

// Flush writes the batched last-use times.
func (k *Keys) Flush(ctx context.Context) error {
	k.mu.Lock()
	batch := k.touched
	k.touched = map[string]time.Time{}
	k.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	return k.st.TouchKeys(ctx, batch)
}

// RunFlusher flushes last-use times every interval until ctx ends, then
// once more.
func (k *Keys) RunFlusher(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := k.Flush(context.WithoutCancel(ctx)); err != nil {
				k.log.Error("last-use flush failed", "err", err)
			}
			return
		case <-t.C:
			if err := k.Flush(ctx); err != nil {
				k.log.Warn("last-use flush failed", "err", err)
			}
		}
	}
}

// HasScope reports whether scopes grant s.
func HasScope(scopes []string, s string) bool { return slices.Contains(scopes, s) }
