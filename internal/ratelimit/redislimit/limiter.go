package redislimit

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/ratelimit"
)

var (
	//go:embed tat.lua
	tatLua string
	//go:embed allow.lua
	allowLua string
	//go:embed adjust.lua
	adjustLua string

	allowScript = redis.NewScript(tatLua + allowLua)
	// gatedAllowScript is allow, deleting the admission marker (the last
	// ARGV) unless every check fits, so the steps queued after it in the
	// same pipeline do nothing (QueueAllowMany with a marker).
	gatedAllowScript = redis.NewScript("local marker = ARGV[#ARGV]\nlocal r = (function()\n" + tatLua + allowLua +
		"\nend)()\nfor i = 2, #r, 2 do if r[i] ~= 1 then redis.call('DEL', marker) break end end\nreturn r\n")
	adjustScript = redis.NewScript(tatLua + adjustLua)
)

// grace is how long a key outlives its theoretical arrival time. A TAT in
// the past means a full bucket, so keeping it longer changes no answer;
// the grace covers replicas' clock skew and Redis's expiry precision.
const grace = time.Second

// Limiter is a ratelimit.Limiter kept in Redis, shared by every replica
// that uses the same Redis and prefix.
type Limiter struct {
	rdb    redis.Scripter
	prefix string
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// NewLimiter returns a Limiter whose keys start with prefix
// (DefaultPrefix if empty).
func NewLimiter(rdb redis.Scripter, prefix string) *Limiter {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Limiter{rdb: rdb, prefix: prefix}
}

// Check is one limit for AllowMany: Cost units of Limit for Key.
type Check = ratelimit.Check

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(ctx context.Context, key string, lim ratelimit.Limit, cost int, now time.Time) (ratelimit.Decision, error) {
	ds, err := l.AllowMany(ctx, []Check{{Key: key, Limit: lim, Cost: cost}}, now)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	return ds[0], nil
}

// AllowMany takes every check's cost in one round trip, or none of them:
// the decisions are what Allow would answer for each check in turn (a
// check sees those before it, on the same key too), and unless all are
// Allowed, no key is changed. On Redis Cluster its keys must share a slot:
// put a hash tag in the prefix.
func (l *Limiter) AllowMany(ctx context.Context, checks []Check, now time.Time) ([]ratelimit.Decision, error) {
	if len(checks) == 0 {
		return nil, nil
	}
	keys, args, err := l.allowArgs(checks, now)
	if err != nil {
		return nil, err
	}
	res, err := allowScript.Run(ctx, l.rdb, keys, args...).Int64Slice()
	return allowReply(checks, res, err)
}

// QueueAllowMany queues AllowMany's script on a pipeline (its script
// loaded: LoadScripts) and returns what reads its answer once the
// pipeline ran. With a marker (a key Prefixed by the caller), the script
// deletes it unless every check fits: later steps gated on it
// (QueueAcquire, redisledger's QueueReserve) then take nothing.
func (l *Limiter) QueueAllowMany(ctx context.Context, pipe redis.Pipeliner, checks []Check, now time.Time, marker string) func() ([]ratelimit.Decision, error) {
	if len(checks) == 0 {
		return func() ([]ratelimit.Decision, error) { return nil, nil }
	}
	keys, args, err := l.allowArgs(checks, now)
	if err != nil {
		return func() ([]ratelimit.Decision, error) { return nil, err }
	}
	script := allowScript
	if marker != "" {
		script, args = gatedAllowScript, append(args, marker)
	}
	cmd := script.EvalSha(ctx, pipe, keys, args...)
	return func() ([]ratelimit.Decision, error) {
		res, err := cmd.Int64Slice()
		return allowReply(checks, res, err)
	}
}

func (l *Limiter) allowArgs(checks []Check, now time.Time) ([]string, []any, error) {
	keys := make([]string, len(checks))
	args := make([]any, 0, 3+2*len(checks))
	s, ns := split(now)
	args = append(args, s, ns, grace.Milliseconds())
	for i, c := range checks {
		t, err := interval(c.Limit)
		if err != nil {
			return nil, nil, err
		}
		keys[i] = redisKey(l.prefix, "rl:", c.Key)
		args = append(args, int64(c.Cost)*t, burst(c.Limit)*t)
	}
	return keys, args, nil
}

// Prefixed is the key an admission marker named name gets under the
// limiter's prefix (so it shares a Redis Cluster slot with the rest).
func (l *Limiter) Prefixed(name string) string { return redisKey(l.prefix, "adm:", name) }

func allowReply(checks []Check, res []int64, err error) ([]ratelimit.Decision, error) {
	if err != nil {
		return nil, fmt.Errorf("redislimit: allow: %w", err)
	}
	if len(res) != 2*len(checks) {
		return nil, fmt.Errorf("redislimit: allow: %d values in the reply to %d checks", len(res), len(checks))
	}
	ds := make([]ratelimit.Decision, len(checks))
	for i, c := range checks {
		ds[i] = decision(c.Limit, int64(c.Cost), res[2*i], res[2*i+1] == 1)
	}
	return ds, nil
}

// LoadScripts loads the scripts QueueAllowMany and Slots.QueueAcquire
// queue (a pipeline cannot load them as it goes).
func LoadScripts(ctx context.Context, rdb redis.Scripter) error {
	for _, sc := range []*redis.Script{allowScript, gatedAllowScript, acquireScript, gatedAcquireScript} {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			return fmt.Errorf("redislimit: load scripts: %w", err)
		}
	}
	return nil
}

// Adjust implements ratelimit.Limiter.
func (l *Limiter) Adjust(ctx context.Context, key string, lim ratelimit.Limit, cost int, now time.Time) error {
	t, err := interval(lim)
	if err != nil {
		return err
	}
	if cost == 0 {
		return nil
	}
	s, ns := split(now)
	err = adjustScript.Run(ctx, l.rdb, []string{redisKey(l.prefix, "rl:", key)},
		s, ns, grace.Milliseconds(), int64(cost)*t).Err()
	if err != nil {
		return fmt.Errorf("redislimit: adjust: %w", err)
	}
	return nil
}

// errTooFine is a limit of more than one event a nanosecond, which GCRA in
// nanoseconds cannot express.
var errTooFine = fmt.Errorf("%w: at most one event per nanosecond", ratelimit.ErrInvalidLimit)

// interval is the limit's emission interval in nanoseconds, as
// ratelimit.Memory computes it.
func interval(l ratelimit.Limit) (int64, error) {
	if l.Rate <= 0 || l.Period <= 0 {
		return 0, ratelimit.ErrInvalidLimit
	}
	t := int64(l.Period) / int64(l.Rate)
	if t == 0 {
		return 0, errTooFine
	}
	return t, nil
}

func burst(l ratelimit.Limit) int64 {
	if l.Burst > 0 {
		return int64(l.Burst)
	}
	return int64(l.Rate)
}

// split is now as whole seconds and nanoseconds (0 to 1e9-1) since the
// Unix epoch: each part is exact in a Lua number, their sum would not be.
func split(now time.Time) (string, string) {
	t := now.UnixNano()
	s := t / 1e9
	ns := t % 1e9
	if ns < 0 {
		s, ns = s-1, ns+1e9
	}
	return strconv.FormatInt(s, 10), strconv.FormatInt(ns, 10)
}

// decision is ratelimit.Memory's answer for a key whose theoretical
// arrival time was rel ahead of now; allowed is the script's verdict.
func decision(l ratelimit.Limit, cost, rel int64, allowed bool) ratelimit.Decision {
	t, _ := interval(l)
	b := burst(l)
	tolerance := b * t
	d := ratelimit.Decision{Limit: int(b)}
	newRel := rel + cost*t
	switch {
	case cost > b: // can never fit: when the bucket is full again
		d.RetryAfter = time.Duration(rel)
		d.ResetAfter = time.Duration(rel)
		d.Remaining = int((tolerance - rel) / t)
	case !allowed:
		d.RetryAfter = time.Duration(newRel - tolerance)
		d.ResetAfter = time.Duration(rel)
		d.Remaining = int(max(0, (tolerance-rel)/t))
	default:
		d.Allowed = true
		d.ResetAfter = time.Duration(newRel)
		d.Remaining = int((tolerance - newRel) / t)
	}
	return d
}
