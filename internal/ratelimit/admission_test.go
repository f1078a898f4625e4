package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAdmit: a request takes from every holder's limits in order, stops at
// the first refusal, and gives back everything it took when refused.
func TestAdmit(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	token := Holder{Plan: Plan{Name: "free", RPM: 10, TPM: 1000, Concurrency: 2}, Subjects: []string{"token:1", "user:a"}, Slots: []string{"token:1", "user:a"}}
	key := Holder{Plan: Plan{Name: "tight", RPM: 3, Concurrency: 1}, Subjects: []string{"key:k"}, Slots: []string{"key:k"}}
	est := Estimate{Input: 100, Output: 200}

	t.Run("admitted, then settled", func(t *testing.T) {
		lim, slots := NewMemory(), NewMemorySlots()
		a := Admitter{Limiter: lim, Slots: slots}
		ad, rf, err := a.Admit(ctx, []Holder{token, key}, est, now)
		if err != nil || rf != nil {
			t.Fatalf("refused: %+v %v", rf, err)
		}
		if ad.Requests == nil || ad.Requests.Remaining != 2 || ad.Tokens == nil || ad.Tokens.Remaining != 700 {
			t.Fatalf("tightest decisions %+v %+v", ad.Requests, ad.Tokens)
		}
		if slots.InFlight("conc:key:k") != 1 || slots.InFlight("conc:user:a") != 1 {
			t.Fatal("slots not held")
		}
		if err := ad.Settle(ctx, 50, now); err != nil {
			t.Fatal(err)
		}
		if slots.Total() != 0 {
			t.Fatal("slots not freed")
		}
		// The estimate of 300 was reconciled to 50: 950 left.
		dec, _ := lim.Allow(ctx, "tpm:free:token:1", PerMinute(1000), 0, now)
		if dec.Remaining != 950 {
			t.Fatalf("tokens left %d, want 950", dec.Remaining)
		}
	})

	t.Run("the minting key's concurrency refuses and everything is given back", func(t *testing.T) {
		lim, slots := NewMemory(), NewMemorySlots()
		a := Admitter{Limiter: lim, Slots: slots}
		first, _, _ := a.Admit(ctx, []Holder{key}, est, now)
		_, rf, err := a.Admit(ctx, []Holder{token, key}, est, now)
		if err != nil || rf == nil || rf.Limit != "concurrency" || rf.Plan.Name != "tight" {
			t.Fatalf("refusal %+v %v", rf, err)
		}
		if slots.InFlight("conc:token:1") != 0 || slots.InFlight("conc:key:k") != 1 {
			t.Fatal("the refused request kept a slot")
		}
		dec, _ := lim.Allow(ctx, "rpm:free:token:1", PerMinute(10), 0, now)
		if dec.Remaining != 10 {
			t.Fatalf("the refused request kept its request units: %d left", dec.Remaining)
		}
		first.Rollback(ctx)
	})

	t.Run("rpm refuses the fourth", func(t *testing.T) {
		a := Admitter{Limiter: NewMemory(), Slots: NewMemorySlots()}
		for i := range 3 {
			ad, rf, _ := a.Admit(ctx, []Holder{key}, est, now)
			if rf != nil {
				t.Fatalf("request %d refused: %+v", i, rf)
			}
			_ = ad.Settle(ctx, 0, now)
		}
		_, rf, _ := a.Admit(ctx, []Holder{key}, est, now)
		if rf == nil || rf.Limit != "rpm" || rf.Decision.Allowed || rf.Decision.RetryAfter <= 0 {
			t.Fatalf("refusal %+v", rf)
		}
	})

	t.Run("a request larger than the whole tpm", func(t *testing.T) {
		a := Admitter{Limiter: NewMemory(), Slots: NewMemorySlots()}
		_, rf, _ := a.Admit(ctx, []Holder{token}, Estimate{Input: 900, Output: 101}, now)
		if rf == nil || rf.Limit != "tpm_burst" || rf.Requests == nil {
			t.Fatalf("refusal %+v", rf)
		}
	})

	t.Run("tpm refuses what does not fit now", func(t *testing.T) {
		a := Admitter{Limiter: NewMemory(), Slots: NewMemorySlots()}
		big := Estimate{Input: 400, Output: 400}
		ad, rf, _ := a.Admit(ctx, []Holder{token}, big, now)
		if rf != nil {
			t.Fatalf("first refused: %+v", rf)
		}
		defer ad.Rollback(ctx)
		_, rf, _ = a.Admit(ctx, []Holder{token}, big, now)
		if rf == nil || rf.Limit != "tpm" || rf.Requests == nil {
			t.Fatalf("refusal %+v", rf)
		}
	})
}

// TestDecide: a decision takes cost requests from every holder's request
// limits only — no tokens, no slots — and a rollback (a dry run) gives
// them back.
func TestDecide(t *testing.T) {
	ctx := context.Background()
	now := time.Now() // Rollback gives back at the time it runs
	user := Holder{Plan: Plan{Name: "free", RPM: 5, RPD: 100, TPM: 10, Concurrency: 1}, Subjects: []string{"user:a"}, Slots: []string{"user:a"}}
	key := Holder{Plan: Plan{Name: "server", RPM: 8}, Subjects: []string{"key:k"}}
	lim, slots := NewMemory(), NewMemorySlots()
	a := Admitter{Limiter: lim, Slots: slots}

	ad, rf, err := a.Decide(ctx, []Holder{user, key}, 3, now)
	if err != nil || rf != nil {
		t.Fatalf("refused: %+v %v", rf, err)
	}
	if ad.Requests == nil || ad.Requests.Remaining != 2 || slots.Total() != 0 {
		t.Fatalf("tightest %+v, slots %d", ad.Requests, slots.Total())
	}
	dry, _, _ := a.Decide(ctx, []Holder{user, key}, 2, now)
	dry.Rollback(ctx)
	ad, rf, err = a.Decide(ctx, []Holder{user, key}, 3, now)
	if err != nil || rf == nil || rf.Limit != "rpm" || rf.Plan.Name != "free" || ad != nil {
		t.Fatalf("3 more of the user's 2 left: %+v %+v %v", ad, rf, err)
	}
	// The refused decision gave back what it took from the key.
	dec, _ := lim.Allow(ctx, "rpm:server:key:k", PerMinute(8), 0, now)
	if dec.Remaining != 5 {
		t.Fatalf("key requests left %d, want 5", dec.Remaining)
	}
	if _, rf, _ := a.Decide(ctx, []Holder{user, key}, 2, now); rf != nil {
		t.Fatalf("the user's last 2 (the dry run gave its back): %+v", rf)
	}
}

// batchMemory is Memory that also takes checks in batches, all or none:
// the Batcher a shared limiter is, made of the one-by-one limiter.
type batchMemory struct {
	*Memory
	calls int
}

func (b *batchMemory) AllowMany(ctx context.Context, checks []Check, now time.Time) ([]Decision, error) {
	b.calls++
	decs := make([]Decision, len(checks))
	for i, c := range checks {
		d, err := b.Allow(ctx, c.Key, c.Limit, c.Cost, now)
		if err != nil {
			return nil, err
		}
		decs[i] = d
		if !d.Allowed {
			for _, t := range checks[:i] {
				_ = b.Adjust(ctx, t.Key, t.Limit, -t.Cost, now)
			}
			for j := i + 1; j < len(checks); j++ {
				decs[j] = d
			}
			return decs, nil
		}
	}
	return decs, nil
}

// TestAdmitBatchMatchesOneByOne: with a Batcher, Admit takes every rate
// limit in one call and answers exactly what it answers one check at a
// time — the refusal, its plan and headers, and what is left after.
func TestAdmitBatchMatchesOneByOne(t *testing.T) {
	ctx := context.Background()
	user := Holder{Plan: Plan{Name: "free", RPM: 3, RPD: 50, TPM: 1000, Concurrency: 5}, Subjects: []string{"token:1", "user:a"}, Slots: []string{"user:a"}}
	key := Holder{Plan: Plan{Name: "server", RPM: 4, TPM: 600}, Subjects: []string{"key:k"}}
	type outcome struct {
		Refused                string
		Plan                   string
		Requests, Tokens, Left int
	}
	run := func(lim Limiter, ests []Estimate) []outcome {
		a := Admitter{Limiter: lim, Slots: NewMemorySlots()}
		now := time.Now()
		var out []outcome
		for _, est := range ests {
			ad, rf, err := a.Admit(ctx, []Holder{user, key}, est, now)
			if err != nil {
				t.Fatal(err)
			}
			o := outcome{Requests: -1, Tokens: -1}
			if rf != nil {
				o.Refused, o.Plan = rf.Limit, rf.Plan.Name
				if rf.Requests != nil {
					o.Requests = rf.Requests.Remaining
				}
			} else {
				if ad.Requests != nil {
					o.Requests = ad.Requests.Remaining
				}
				if ad.Tokens != nil {
					o.Tokens = ad.Tokens.Remaining
				}
				if err := ad.Settle(ctx, est.Total()/2, now); err != nil {
					t.Fatal(err)
				}
			}
			d, _ := lim.Allow(ctx, "rpm:server:key:k", PerMinute(4), 0, now)
			o.Left = d.Remaining
			out = append(out, o)
		}
		return out
	}
	ests := []Estimate{{Input: 100, Output: 100}, {Input: 2000}, {Input: 50, Output: 200}, {Input: 300, Output: 400},
		{Input: 10, Output: 10}, {Input: 10, Output: 10}, {Input: 10, Output: 10}}
	want := run(NewMemory(), ests)
	kinds := map[string]bool{}
	for _, o := range want {
		kinds[o.Refused+"/"+o.Plan] = true
	}
	for _, k := range []string{"/", "tpm_burst/server", "tpm_burst/free", "rpm/free"} {
		if !kinds[k] {
			t.Fatalf("the sequence never gives %s: %+v", k, want)
		}
	}
	b := &batchMemory{Memory: NewMemory()}
	got := run(b, ests)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batched admission (-one by one +batched):\n%s", diff)
	}
	if b.calls != len(ests) {
		t.Errorf("%d AllowMany calls for %d admissions", b.calls, len(ests))
	}
}
