package admission

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/budget/redisledger"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/ratelimit/redislimit"
	"github.com/keyward/keyward/internal/redistest"
)

// afterHook runs after a command or pipeline reached Redis (its answers
// read), and may rewrite them; before may fail a call without sending it.
type afterHook struct {
	after  func(ctx context.Context, cmds []redis.Cmder, err error) error
	before func(cmds []redis.Cmder) error
}

func (h *afterHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *afterHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.before != nil {
			if err := h.before([]redis.Cmder{cmd}); err != nil {
				cmd.SetErr(err)
				return err
			}
		}
		err := next(ctx, cmd)
		if h.after != nil {
			return h.after(ctx, []redis.Cmder{cmd}, err)
		}
		return err
	}
}
func (h *afterHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.before != nil {
			if err := h.before(cmds); err != nil {
				for _, c := range cmds {
					c.SetErr(err)
				}
				return err
			}
		}
		err := next(ctx, cmds)
		if h.after != nil {
			return h.after(ctx, cmds, err)
		}
		return err
	}
}

// shared is one prefix seen from two clients: the attacker's (hooked)
// and a bystander's.
type sharedPrefix struct {
	prefix     string
	hooked     *redis.Client
	hook       *afterHook
	other      *redis.Client
	otherLim   *redislimit.Limiter
	otherSlots *redislimit.Slots
	otherLedg  *redisledger.Ledger
}

func newShared(t *testing.T) *sharedPrefix {
	t.Helper()
	s := &sharedPrefix{hooked: redistest.OwnClient(t), other: redistest.OwnClient(t), hook: &afterHook{}}
	s.prefix = redistest.Prefix(t, s.other)
	s.hooked.AddHook(s.hook)
	s.otherLim = redislimit.NewLimiter(s.other, s.prefix)
	s.otherSlots = redislimit.NewSlots(s.other, s.prefix, 0)
	t.Cleanup(func() { s.otherSlots.Close() })
	s.otherLedg = redisledger.NewLedger(s.other, s.prefix, noSpend{}, 0)
	return s
}

// gates on the hooked client.
func (s *sharedPrefix) gates(t *testing.T) (Sequential, *Joint) {
	lim := redislimit.NewLimiter(s.hooked, s.prefix)
	slots := redislimit.NewSlots(s.hooked, s.prefix, 0)
	t.Cleanup(func() { slots.Close() })
	ledger := redisledger.NewLedger(s.hooked, s.prefix, noSpend{}, 0)
	seq := Sequential{Limiter: lim, Slots: slots, Ledger: ledger}
	return seq, &Joint{Client: s.hooked, Limiter: lim, Slots: slots, Ledger: ledger, Fallback: seq}
}

func (s *sharedPrefix) bystander() Sequential {
	return Sequential{Limiter: s.otherLim, Slots: s.otherSlots, Ledger: s.otherLedg}
}

// slotsInRedis counts the leases under a slot key (what every replica sees).
func (s *sharedPrefix) slotsInRedis(t *testing.T, key string) int64 {
	t.Helper()
	// redisKey is unexported in redislimit: count every slot key's members.
	keys := redistest.KeysUnder(t, s.other, s.prefix+"slot:")
	var n int64
	for _, k := range keys {
		c, err := s.other.ZCard(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

var (
	appPlan  = ratelimit.Plan{Name: "app", RPM: 1000, Concurrency: 1}
	userPlan = ratelimit.Plan{Name: "user", RPM: 1}
	appCap   = []budget.Cap{{Scope: budget.ScopeKey, Key: "app", Period: budget.Daily, Limit: 1000, Source: "budget"}}
)

// userOfApp: a user (own rpm 1, no own slot) of an app key whose one
// concurrency slot and daily cap every user of the app shares — a browser
// token's minting key.
func userOfApp(user string) []ratelimit.Holder {
	return []ratelimit.Holder{
		{Plan: userPlan, Subjects: []string{"user:" + user}},
		{Plan: appPlan, Subjects: []string{"key:app"}, Slots: []string{"key:app"}},
	}
}

// TestReviewJointRateRefusedTakesSharedSlotAndMoney: a request refused by
// its own rpm still takes, for a round trip, the shared key's concurrency
// slot and a worst-case reservation against the shared cap; another user
// arriving in that window is refused (concurrency / budget). Sequential
// never touches either for a rate-refused request.
func TestReviewJointRateRefusedTakesSharedSlotAndMoney(t *testing.T) {
	for _, name := range []string{"sequential", "joint"} {
		t.Run(name, func(t *testing.T) {
			s := newShared(t)
			seq, joint := s.gates(t)
			var g Gate = seq
			if name == "joint" {
				g = joint
			}
			ctx := context.Background()
			now := time.Now()
			att := Request{Holders: userOfApp("att"), Caps: appCap, Worst: 600, Now: now}
			// The attacker's one request of the minute.
			h, r, err := g.Admit(ctx, att)
			if err != nil || r != nil {
				t.Fatalf("first: %+v %v", r, err)
			}
			h.Rates.Settle(ctx, 0, now)
			h.Spend.Release()

			// Its next ones are refused by rpm; right after the first round
			// trip of that admission, a victim of the same app arrives.
			var victim outcome
			var reservedSeen int64
			var slotsSeen int64
			var armed atomic.Bool
			armed.Store(true)
			s.hook.after = func(_ context.Context, _ []redis.Cmder, err error) error {
				if !armed.CompareAndSwap(true, false) {
					return err
				}
				_, reservedSeen, _ = s.otherLedg.Spent(ctx, appCap[0], now)
				slotsSeen = s.slotsInRedis(t, "key:app")
				vh, vr, verr := s.bystander().Admit(ctx, Request{Holders: userOfApp("victim"), Caps: appCap, Worst: 600, Now: now})
				victim = outcomeOf(vh, vr, verr)
				if vh != nil {
					vh.Rates.Settle(ctx, 0, now)
					vh.Spend.Release()
				}
				return err
			}
			h, r, err = g.Admit(ctx, att)
			if err != nil || r == nil || r.Rate == nil || r.Rate.Limit != "rpm" {
				t.Fatalf("second: want an rpm refusal, got %+v %+v %v", h, r, err)
			}
			t.Logf("%s: during the rate-refused admission: shared slots in Redis %d, reserved %d µUSD; victim %+v",
				name, slotsSeen, reservedSeen, victim)
			if !victim.Admitted || slotsSeen != 0 || reservedSeen != 0 {
				t.Errorf("%s: a request refused by its own rpm held the app's slot (%d) / money (%d) and the victim got %+v",
					name, slotsSeen, reservedSeen, victim)
			}
		})
	}
}

// TestReviewJointGiveBackFailureLeaks: Redis fails right after the round
// trip (a blip): the rate-refused request's give-back does not reach
// Redis, so the app's slot stays taken for lease_ttl and its money for
// spend_lease_ttl (15 minutes by default) — for a request that was refused
// and never forwarded. Sequential took nothing to leak.
func TestReviewJointGiveBackFailureLeaks(t *testing.T) {
	for _, name := range []string{"sequential", "joint"} {
		t.Run(name, func(t *testing.T) {
			s := newShared(t)
			seq, joint := s.gates(t)
			var g Gate = seq
			if name == "joint" {
				g = joint
			}
			ctx := context.Background()
			now := time.Now()
			att := Request{Holders: userOfApp("att"), Caps: appCap, Worst: 600, Now: now}
			h, r, err := g.Admit(ctx, att)
			if err != nil || r != nil {
				t.Fatalf("first: %+v %v", r, err)
			}
			h.Rates.Settle(ctx, 0, now)
			h.Spend.Release()

			var calls atomic.Int32
			s.hook.before = func([]redis.Cmder) error {
				if calls.Add(1) > 1 { // everything after the first round trip
					return errors.New("injected: connection reset")
				}
				return nil
			}
			_, r, err = g.Admit(ctx, att)
			s.hook.before = nil
			t.Logf("%s: second admission: refusal %+v err %v", name, r, err)
			_, reserved, _ := s.otherLedg.Spent(ctx, appCap[0], now)
			slots := s.slotsInRedis(t, "key:app")
			t.Logf("%s: after the refused request: shared slots in Redis %d, reserved %d µUSD", name, slots, reserved)
			if slots != 0 || reserved != 0 {
				t.Errorf("%s: a refused request left the app's slot (%d) / %d µUSD held", name, slots, reserved)
			}
		})
	}
}

// TestReviewJointRefusalRoundTrips: docs/scale-out.md says a refusal costs
// "an extra round trip"; count them for an rpm refusal of holders("u")
// (two slots and a reservation).
func TestReviewJointRefusalRoundTrips(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	for _, name := range []string{"sequential", "joint"} {
		b := newBackend(t)
		var g Gate = b.sequential()
		if name == "joint" {
			g = b.joint()
		}
		req := Request{Holders: holders("u"), Caps: dailyCap(1_000_000), Worst: 100, Now: now}
		for range 3 { // free's rpm is 3
			h, r, err := g.Admit(ctx, req)
			if err != nil || r != nil {
				t.Fatal(r, err)
			}
			h.Rates.Settle(ctx, 0, now)
			h.Spend.Release()
		}
		b.rt.Reset()
		_, r, err := g.Admit(ctx, req)
		if err != nil || r == nil || r.Rate == nil {
			t.Fatal(r, err)
		}
		t.Logf("%s: an rpm refusal: %d round trips %v", name, b.rt.N.Load(), b.rt.Names())
	}
}

// TestReviewJointReplyLost: the round trip reached Redis (every script
// ran) but its replies were lost (a read timeout, a reset connection).
// Found by review: the slot leases and the reservation stayed held until
// their TTLs. They are given back by their ids now.
func TestReviewJointReplyLost(t *testing.T) {
	s := newShared(t)
	_, joint := s.gates(t)
	ctx := context.Background()
	now := time.Now()
	var armed atomic.Bool
	armed.Store(true)
	s.hook.after = func(_ context.Context, cmds []redis.Cmder, err error) error {
		if len(cmds) >= 3 && cmds[0].Name() == "set" && armed.CompareAndSwap(true, false) {
			lost := errors.New("injected: i/o timeout after the scripts ran")
			for _, c := range cmds {
				c.SetErr(lost)
			}
			return lost
		}
		return err
	}
	// The cap's counter exists (a running day), so the reservation is written.
	if _, _, err := s.otherLedg.Spent(ctx, appCap[0], now); err != nil {
		t.Fatal(err)
	}
	if err := redislimit.LoadScripts(ctx, s.hooked); err != nil {
		t.Fatal(err)
	}
	if err := redisledger.LoadScripts(ctx, s.hooked); err != nil {
		t.Fatal(err)
	}
	joint.loaded.Store(true)
	plan := ratelimit.Plan{Name: "p", RPM: 10, Concurrency: 5}
	req := Request{Holders: []ratelimit.Holder{{Plan: plan, Subjects: []string{"user:u"}, Slots: []string{"user:u"}}},
		Caps: appCap, Worst: 100, Now: now}
	h, r, err := joint.Admit(ctx, req)
	if err != nil || r != nil {
		t.Fatalf("%+v %v", r, err)
	}
	h.Rates.Settle(ctx, 0, now)
	h.Spend.Release()
	// The give-backs of what the lost answers took run in the background.
	var reserved int64
	var slots int64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, reserved, _ = s.otherLedg.Spent(ctx, appCap[0], now)
		slots = s.slotsInRedis(t, "user:u")
		if slots == 0 && reserved == 0 || time.Now().After(deadline) {
			break
		}
	}
	d, _ := s.otherLim.Allow(ctx, "rpm:p:user:u", ratelimit.PerMinute(10), 0, now)
	t.Logf("after one request, settled: slots in Redis %d, reserved %d µUSD, rpm left %d of 10", slots, reserved, d.Remaining)
	// The slot and the reservation are given back by their ids. The rate
	// units cannot be: what the lost answer said is unknown, so the
	// fallback takes them again (as the failover wrappers do on a lost
	// answer): at most twice, on the strict side.
	if slots != 0 || reserved != 0 || d.Remaining < 8 {
		t.Errorf("one settled request left %d slots and %d µUSD held, and took %d rpm units", slots, reserved, 10-d.Remaining)
	}
}

// TestReviewJointCancelAroundRoundTrip: the client goes away just before
// the round trip is sent, or just after it came back (go-redis only
// aborts a read on a deadline, and the request context has none here):
// nothing is left held either way.
func TestReviewJointCancelAroundRoundTrip(t *testing.T) {
	for _, when := range []string{"before", "after"} {
		t.Run(when, func(t *testing.T) {
			s := newShared(t)
			_, joint := s.gates(t)
			now := time.Now()
			if _, _, err := s.otherLedg.Spent(context.Background(), appCap[0], now); err != nil {
				t.Fatal(err)
			}
			if err := redislimit.LoadScripts(context.Background(), s.hooked); err != nil {
				t.Fatal(err)
			}
			if err := redisledger.LoadScripts(context.Background(), s.hooked); err != nil {
				t.Fatal(err)
			}
			joint.loaded.Store(true)
			ctx, cancel := context.WithCancel(context.Background())
			isAdmission := func(cmds []redis.Cmder) bool { return len(cmds) >= 3 && cmds[0].Name() == "set" }
			if when == "before" {
				s.hook.before = func(cmds []redis.Cmder) error {
					if isAdmission(cmds) {
						cancel()
					}
					return nil
				}
			} else {
				s.hook.after = func(_ context.Context, cmds []redis.Cmder, err error) error {
					if isAdmission(cmds) {
						cancel()
					}
					return err
				}
			}
			plan := ratelimit.Plan{Name: "p", RPM: 10, Concurrency: 5}
			req := Request{Holders: []ratelimit.Holder{{Plan: plan, Subjects: []string{"user:u"}, Slots: []string{"user:u"}}},
				Caps: appCap, Worst: 100, Now: now}
			h, r, err := joint.Admit(ctx, req)
			t.Logf("%s: held %v refusal %+v err %v", when, h != nil, r, err)
			if h != nil {
				h.Rates.Rollback(ctx) // the server's defer: not forwarded
				h.Spend.Release()
			}
			bg := context.Background()
			_, reserved, _ := s.otherLedg.Spent(bg, appCap[0], now)
			slots := s.slotsInRedis(t, "user:u")
			d, _ := s.otherLim.Allow(bg, "rpm:p:user:u", ratelimit.PerMinute(10), 0, now)
			t.Logf("%s: slots %d reserved %d rpm left %d", when, slots, reserved, d.Remaining)
			if slots != 0 || reserved != 0 || d.Remaining != 10 {
				t.Errorf("%s: left %d slots, %d µUSD, %d rpm units", when, slots, reserved, 10-d.Remaining)
			}
		})
	}
}

// TestReviewJointPipelineRetried: go-redis sends a pipeline again when its
// replies time out (MaxRetries 1, timeouts retried for pipelines): every
// script runs twice. Slots are idempotent (same id); the rate script takes
// twice; the reservation script counts its own first reservation and, near
// the cap, refuses — leaving the first one held for spend_lease_ttl.
// (Sequential's single Run retries the same way: pre-existing in
// redisledger, whose doc says a retried Reserve is harmless.)
func TestReviewJointPipelineRetried(t *testing.T) {
	s := newShared(t)
	_, joint := s.gates(t)
	ctx := context.Background()
	now := time.Now()
	if _, _, err := s.otherLedg.Spent(ctx, appCap[0], now); err != nil {
		t.Fatal(err)
	}
	if err := redislimit.LoadScripts(ctx, s.hooked); err != nil {
		t.Fatal(err)
	}
	if err := redisledger.LoadScripts(ctx, s.hooked); err != nil {
		t.Fatal(err)
	}
	joint.loaded.Store(true)
	var armed atomic.Bool
	armed.Store(true)
	var again func(context.Context, []redis.Cmder) error
	s.hook = nil
	hook := &retryHook{armed: &armed, again: &again}
	s.hooked.AddHook(hook)
	plan := ratelimit.Plan{Name: "p", RPM: 10, Concurrency: 5}
	req := Request{Holders: []ratelimit.Holder{{Plan: plan, Subjects: []string{"user:u"}, Slots: []string{"user:u"}}},
		Caps: appCap, Worst: 600, Now: now}
	h, r, err := joint.Admit(ctx, req)
	t.Logf("admitted %v refusal %+v err %v", h != nil, r, err)
	if h != nil {
		h.Rates.Settle(ctx, 0, now)
		h.Spend.Release()
	}
	_, reserved, _ := s.otherLedg.Spent(ctx, appCap[0], now)
	d, _ := s.otherLim.Allow(ctx, "rpm:p:user:u", ratelimit.PerMinute(10), 0, now)
	t.Logf("afterwards: reserved %d µUSD, rpm left %d of 10", reserved, d.Remaining)
	if h == nil || reserved != 0 {
		t.Errorf("a request within its cap, its round trip retried once: admitted %v, %d µUSD left held", h != nil, reserved)
	}
}

type retryHook struct {
	armed *atomic.Bool
	again *func(context.Context, []redis.Cmder) error
}

func (h *retryHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *retryHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *retryHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if len(cmds) >= 3 && cmds[0].Name() == "set" && h.armed.CompareAndSwap(true, false) {
			return next(ctx, cmds) // the replies were lost; go-redis sends it again
		}
		return err
	}
}
