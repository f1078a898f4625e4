// Package redisledger is budget's shared Ledger: spend and reservations
// kept in Redis, so that every keyward replica reserves against the same
// spend caps and N replicas together never overshoot one.
//
// Each cap's count for its period (budget.Cap.Counter: scope, subject,
// period and its start) is one hash under the configured prefix, "spend:"
// and a hash of that name, so no user or key id is stored in the clear:
//
//	spent     settled spend in micro-USD
//	<id>      "amount:expiry" for each open reservation
//
// Reserve is one Lua script over all the request's keys: it drops the
// reservations whose lease is over, checks every cap (spent + reserved +
// amount ≤ limit), then writes the reservation into every key or none.
// Settle is one script too: it deletes the reservation's field from every
// key and adds the real cost to "spent"; Release deletes it.
//
// Reservations are leases: each expires its TTL after Reserve (default 15
// minutes: longer than the longest request, timeouts.request being 10 by
// default; leases are not renewed) and then stops
// counting, so a replica that dies with reservations open does not hold
// their money forever. A Settle after the lease is over still adds the
// cost. Keys expire an hour and a lease past their period's end.
//
// A key that is missing while its period runs (Redis flushed, restarted
// without persistence, or the key evicted) is rebuilt from the
// SpendSource — budget.StoreSpend, the usage records. The script reports
// the missing keys without changing anything else, Go reads their spend
// and runs it again with those values, and the script creates a key only
// if it is still missing, so two replicas rebuilding at once count the
// spend once. The rebuild is as good as the records: a request settled
// while its usage record still waits in a replica's writer is missing
// from it until the record lands (the cap may then be overshot by those
// records), and a record that lands between the rebuild and its own
// Settle is counted twice (the strict side). A Settle that finds its key
// gone does not recreate it: the cost is in the records.
//
// Like the rate limiter, the ledger runs on the caller's clock: periods
// and leases are reckoned from the now given to Reserve, so replicas rely
// on synchronized clocks; a skew of δ moves a lease's end by δ. A call is
// retried once on a connection error (redislimit.NewClient): a retried
// Reserve is harmless (the reservation's id is chosen here, written once),
// a retried Settle that ran the first time adds its cost twice. Redis
// Cluster: a request's keys must share a slot, so put a hash tag in the
// prefix ("{kw}:"). Each Reserve reads every open reservation of its keys:
// its cost grows with the requests in flight per cap, not with traffic.
package redisledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/budget"
)

var (
	//go:embed reserve.lua
	reserveLua string
	//go:embed settle.lua
	settleLua string

	reserveScript = redis.NewScript(reserveLua)
	// gatedReserveScript is reserve, run only while the admission marker
	// (the last ARGV) exists — else it answers {3} and reserves nothing —
	// and deleting the marker, the admission's last step.
	gatedReserveScript = redis.NewScript("local marker = ARGV[#ARGV]\nif redis.call('EXISTS', marker) == 0 then return {3} end\n" +
		"local r = (function()\n" + reserveLua + "\nend)()\nredis.call('DEL', marker)\nreturn r\n")
	settleScript = redis.NewScript(settleLua)
)

// DefaultPrefix is where keys go when no prefix is given.
const DefaultPrefix = "kw:"

// DefaultLeaseTTL is how long a reservation counts when NewLedger is given
// no TTL: longer than the longest request (timeouts.request, 10 minutes by
// default), and how long a crashed replica's reservations hold money.
const DefaultLeaseTTL = 15 * time.Minute

// keyGrace is how long a key outlives its period, past the lease TTL: late
// settlements of the period's last requests still find it.
const keyGrace = time.Hour

// settleTimeout bounds a Settle's or Release's call to Redis (they have no
// context: they run when the request is over). One that fails leaves the
// lease to expire.
const settleTimeout = 2 * time.Second

// rebuilds is how many times Reserve rebuilds missing keys before it gives
// up (keys vanishing again at once means Redis is losing them).
const rebuilds = 3

// Ledger is a budget.Ledger kept in Redis, shared by every replica that
// uses the same Redis and prefix.
type Ledger struct {
	rdb    redis.Scripter
	prefix string
	src    budget.SpendSource
	lease  time.Duration
	// owner starts this Ledger's reservation ids; seq ends them.
	owner string
	seq   atomic.Uint64
}

var _ budget.Ledger = (*Ledger)(nil)

// NewLedger returns a Ledger whose keys start with prefix (DefaultPrefix
// if empty), rebuilding lost counts from src (nil: none), whose
// reservations count for lease (DefaultLeaseTTL if 0, at least a second).
func NewLedger(rdb redis.Scripter, prefix string, src budget.SpendSource, lease time.Duration) *Ledger {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if lease == 0 {
		lease = DefaultLeaseTTL
	}
	lease = max(lease, time.Second).Truncate(time.Millisecond)
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return &Ledger{rdb: rdb, prefix: prefix, src: src, lease: lease, owner: base64.RawURLEncoding.EncodeToString(b[:]) + ":"}
}

// Key is where a cap's count for the period that holds now lives.
func (l *Ledger) Key(c budget.Cap, now time.Time) string {
	sum := sha256.Sum256([]byte(c.Counter(now)))
	// 128 bits: collisions are out of reach, and keys stay short.
	return l.prefix + "spend:" + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// Reserve implements budget.Ledger.
func (l *Ledger) Reserve(ctx context.Context, caps []budget.Cap, amount int64, now time.Time) (budget.Reservation, *budget.Refusal, error) {
	amount = max(amount, 0)
	if len(caps) == 0 {
		return &reservation{amount: amount}, nil, nil
	}
	id := l.owner + strconv.FormatUint(l.seq.Add(1), 36)
	keys, res, err := l.run(ctx, caps, id, amount, now)
	if err != nil {
		return nil, nil, fmt.Errorf("redisledger: reserve: %w", err)
	}
	return l.reserved(caps, keys, res, id, amount, now)
}

// reserveArgs are the reserve script's keys and arguments: every cap's
// counter, limit and key lifetime, no count to rebuild ("-1").
func (l *Ledger) reserveArgs(caps []budget.Cap, id string, amount int64, now time.Time) ([]string, []any) {
	keys := make([]string, len(caps))
	args := make([]any, 4, 4+3*len(caps))
	args[0], args[1], args[2], args[3] = now.UnixMilli(), id, amount, now.Add(l.lease).UnixMilli()
	for i, c := range caps {
		keys[i] = l.Key(c, now)
		ttl := c.Period.End(now).Sub(now) + l.lease + keyGrace
		args = append(args, c.Limit, ttl.Milliseconds(), "-1")
	}
	return keys, args
}

// QueueReserve queues Reserve's script on a pipeline (its script loaded:
// LoadScripts) and returns what reads its answer once the pipeline ran.
// When a counter was missing the queued script reserved nothing, and the
// answer is Reserve's, which rebuilds it. With a marker it runs only while
// the marker exists (else ErrSkipped), and deletes it.
func (l *Ledger) QueueReserve(ctx context.Context, pipe redis.Pipeliner, caps []budget.Cap, amount int64, now time.Time, marker string) func(context.Context) (budget.Reservation, *budget.Refusal, error) {
	amount = max(amount, 0)
	if len(caps) == 0 {
		return func(context.Context) (budget.Reservation, *budget.Refusal, error) {
			return &reservation{amount: amount}, nil, nil
		}
	}
	id := l.owner + strconv.FormatUint(l.seq.Add(1), 36)
	keys, args := l.reserveArgs(caps, id, amount, now)
	script := reserveScript
	if marker != "" {
		script, args = gatedReserveScript, append(args, marker)
	}
	cmd := script.EvalSha(ctx, pipe, keys, args...)
	return func(ctx context.Context) (budget.Reservation, *budget.Refusal, error) {
		res, err := cmd.Int64Slice()
		switch {
		case err != nil:
			// The reservation may have been made though its answer was
			// lost: release it, by its id (nothing if it was not), without
			// making the caller wait on a Redis that is failing.
			r := &reservation{l: l, keys: distinct(keys), id: id, amount: amount}
			go func() { _ = r.Release() }()
			return nil, nil, fmt.Errorf("redisledger: reserve: %w", err)
		case len(res) == 0:
			return nil, nil, errors.New("redisledger: reserve: empty reply")
		case res[0] == 1: // a counter to rebuild
			return l.Reserve(ctx, caps, amount, now)
		case res[0] == 3:
			return nil, nil, ErrSkipped
		}
		return l.reserved(caps, keys, res, id, amount, now)
	}
}

// reserved reads the script's answer: a refusal, or the reservation.
func (l *Ledger) reserved(caps []budget.Cap, keys []string, res []int64, id string, amount int64, now time.Time) (budget.Reservation, *budget.Refusal, error) {
	if res[0] == 2 {
		if len(res) != 4 || res[1] < 1 || int(res[1]) > len(caps) {
			return nil, nil, fmt.Errorf("redisledger: reserve: bad reply %v", res)
		}
		c := caps[res[1]-1]
		return nil, &budget.Refusal{Cap: c, Spent: res[2], Reserved: res[3], Amount: amount, ResetAt: c.Period.End(now)}, nil
	}
	return &reservation{l: l, keys: distinct(keys), id: id, amount: amount}, nil, nil
}

// distinct is a reservation's counters: its caps' keys, sorted, each once
// (two caps may count on one key).
func distinct(keys []string) []string { return slices.Compact(slices.Sorted(slices.Values(keys))) }

// LoadScripts loads the script QueueReserve queues (a pipeline cannot
// load it as it goes).
func LoadScripts(ctx context.Context, rdb redis.Scripter) error {
	for _, sc := range []*redis.Script{reserveScript, gatedReserveScript} {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			return fmt.Errorf("redisledger: load scripts: %w", err)
		}
	}
	return nil
}

// ErrSkipped answers a reservation gated on an admission marker that an
// earlier step deleted: nothing was reserved.
var ErrSkipped = errors.New("redisledger: skipped: an earlier step of the admission refused")

// Spent implements budget.Ledger (rebuilding the count if it is missing).
func (l *Ledger) Spent(ctx context.Context, c budget.Cap, now time.Time) (spent, reserved int64, err error) {
	_, res, err := l.run(ctx, []budget.Cap{c}, "", 0, now)
	if err != nil {
		return 0, 0, fmt.Errorf("redisledger: spent: %w", err)
	}
	if len(res) != 3 {
		return 0, 0, fmt.Errorf("redisledger: spent: bad reply %v", res)
	}
	return res[1], res[2], nil
}

// run runs the reserve script (id "": only read), rebuilding the keys it
// reports missing from the source. Its reply is status 0 or 2.
func (l *Ledger) run(ctx context.Context, caps []budget.Cap, id string, amount int64, now time.Time) ([]string, []int64, error) {
	keys, args := l.reserveArgs(caps, id, amount, now)
	for range rebuilds {
		res, err := reserveScript.Run(ctx, l.rdb, keys, args...).Int64Slice()
		if err != nil {
			return nil, nil, err
		}
		if len(res) == 0 {
			return nil, nil, fmt.Errorf("empty reply")
		}
		if res[0] != 1 {
			return keys, res, nil
		}
		loaded := map[string]int64{} // a count two caps share is read once
		for _, i := range res[1:] {
			if i < 1 || int(i) > len(caps) {
				return nil, nil, fmt.Errorf("bad reply %v", res)
			}
			c, k := caps[i-1], keys[i-1]
			spent, ok := loaded[k]
			if !ok {
				if spent, err = l.spentBefore(ctx, c, now); err != nil {
					return nil, nil, err
				}
				loaded[k] = spent
			}
			args[4+3*(i-1)+2] = spent
		}
	}
	return nil, nil, fmt.Errorf("keys lost %d times in a row", rebuilds)
}

func (l *Ledger) spentBefore(ctx context.Context, c budget.Cap, now time.Time) (int64, error) {
	if l.src == nil {
		return 0, nil
	}
	spent, err := l.src.Spent(ctx, c, c.Period.Start(now))
	if err != nil {
		return 0, fmt.Errorf("reading spend of %s %s: %w", c.Scope, c.Period, err)
	}
	return max(spent, 0), nil
}

// reservation is a Ledger's budget.Reservation; one without a ledger
// holds nothing (no caps).
type reservation struct {
	l      *Ledger
	keys   []string
	id     string
	amount int64

	mu   sync.Mutex
	done bool
}

// Amount implements budget.Reservation.
func (r *reservation) Amount() int64 { return r.amount }

// Settle implements budget.Reservation.
func (r *reservation) Settle(cost int64) error { return r.finish(max(cost, 0)) }

// Release implements budget.Reservation.
func (r *reservation) Release() error { return r.finish(0) }

func (r *reservation) finish(cost int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return budget.ErrSettled
	}
	r.done = true
	if r.l == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := settleScript.Run(ctx, r.l.rdb, r.keys, r.id, cost).Err(); err != nil {
		return fmt.Errorf("redisledger: settle: %w", err)
	}
	return nil
}
