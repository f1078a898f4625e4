// Package store defines what keyward keeps: virtual keys (as keyed
// hashes, never the keys), users with their plan, audit events, usage
// records and budgets. The interfaces here are implemented by store/sqlite
// (embedded default) and store/postgres (shared by replicas, which also
// tells them of changes: Changes), and checked by one contract suite,
// internal/storetest, that every implementation must pass. Cache and
// Freshness are how a process keeps what it read: fresh for a TTL,
// dropped by change events, and within a grace period while the store is
// unavailable.
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
	// ErrUnavailable marks a failure of the store rather than of the
	// statement: it cannot be reached, lost the connection, timed out, or
	// refuses writes for now (read-only, disk full). What was read before
	// may stand in for it (Freshness.Grace); writes are tried again.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrBadRecord marks a write refused for what a record holds (a value
	// out of range, a constraint): trying it again cannot help.
	ErrBadRecord = errors.New("store: record refused")
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

// UsageRecord is what one request used: metadata only. Prompts and
// completions are never stored.
type UsageRecord struct {
	At        time.Time
	RequestID string
	// Key is the principal's id ("key:…", "client:…", "jwt:…", "browser:…").
	Key  string
	User string
	Plan string
	// Route is chat, responses, embeddings, messages or count_tokens.
	Route    string
	Provider string
	// Model is the configured name the client asked for; TargetModel the
	// provider model it was sent to.
	Model       string
	TargetModel string
	Input       int64
	CachedInput int64
	CacheWrite  int64
	Output      int64
	Reasoning   int64
	// CostMicros is the cost in micro-USD.
	CostMicros int64
	Status     int
	// Metered says how the tokens are known: reported, estimated or none.
	Metered  string
	Latency  time.Duration
	Streamed bool
	// MintedBy, MinterUser and MinterPlan are, for a browser token, the key
	// that minted it and that key's user and plan: its spend counts against
	// their caps too.
	MintedBy, MinterUser, MinterPlan string
}

// UsageFilter selects usage records. Empty fields select all.
type UsageFilter struct {
	Since, Until time.Time
	Key, User    string
	Model, Plan  string
	RequestID    string
}

// Groupings of a usage summary.
const (
	ByUser  = "user"
	ByKey   = "key"
	ByModel = "model"
	ByDay   = "day"
)

// UsageGroup sums the records of one group.
type UsageGroup struct {
	// Group is the user, key, model or day (YYYY-MM-DD, UTC).
	Group       string
	Requests    int64
	Input       int64
	CachedInput int64
	CacheWrite  int64
	Output      int64
	CostMicros  int64
}

// SpendFilter selects whose spend to sum: a key, a user, or a user on a
// plan. Empty fields select all.
type SpendFilter struct {
	Key, User, Plan string
	Since           time.Time
}

// Usage stores usage records.
type Usage interface {
	// AppendUsage writes a batch of records in one transaction.
	AppendUsage(ctx context.Context, recs []UsageRecord) error
	// SummarizeUsage groups the selected records by ByUser, ByKey,
	// ByModel or ByDay, largest cost first (ByDay: oldest day first).
	SummarizeUsage(ctx context.Context, f UsageFilter, by string) ([]UsageGroup, error)
	// ListUsage returns the selected records, newest first, at most limit
	// (0: 100).
	ListUsage(ctx context.Context, f UsageFilter, limit int) ([]UsageRecord, error)
	// SpentMicros is the total cost of the selected records.
	SpentMicros(ctx context.Context, f SpendFilter) (int64, error)
	// PruneUsage deletes records older than before and says how many.
	PruneUsage(ctx context.Context, before time.Time) (int64, error)
}

// Budget is a spend cap set by an operator for a key or a user, beside
// the caps of its plan (all apply; the tightest decides).
type Budget struct {
	// Scope is "key" or "user"; Subject the key id or the user id.
	Scope   string
	Subject string
	// DailyMicros and MonthlyMicros are caps in micro-USD (0: none).
	DailyMicros   int64
	MonthlyMicros int64
	UpdatedAt     time.Time
}

// Budgets stores operators' spend caps.
type Budgets interface {
	// PutBudget creates or replaces the budget of a scope and subject.
	PutBudget(ctx context.Context, b Budget) error
	Budget(ctx context.Context, scope, subject string) (Budget, error)
	ListBudgets(ctx context.Context) ([]Budget, error)
	DeleteBudget(ctx context.Context, scope, subject string) error
}

// Store is everything keyward keeps.
type Store interface {
	Keys
	Users
	Audit
	Usage
	Budgets
	Close() error
}

// UnixNanos is how the stores keep a time: Unix nanoseconds, the zero
// time as 0. FromUnixNanos reads it back, in UTC.
func UnixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromUnixNanos is the time UnixNanos stored.
func FromUnixNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
