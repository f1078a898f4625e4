package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Regressions from the adversarial review of the change events and the
// grace period (#19): each reproduction now asserts the fixed behaviour.

type review19Rec struct{ revoked bool }

func review19Fresh(c *clock) *Freshness {
	return &Freshness{TTL: time.Second, LiveTTL: 30 * time.Second, Grace: 5 * time.Minute, Timeout: 2 * time.Second, Now: c.now}
}

// TestReview19MissedRevocationNotServedDuringOutage: without change
// events a revocation made elsewhere may not have been seen, so a record
// read without them is not served during an outage; one read while events
// flowed, with no break since but the outage, is. A break in the events
// (a reconnection) makes earlier records ineligible too.
func TestReview19MissedRevocationNotServedDuringOutage(t *testing.T) {
	tests := []struct {
		name      string
		liveRead  bool // events flowed when the record was read
		reconnect bool // events broke and came back before the outage
		wantGrace bool
	}{
		{"read without events", false, false, false},
		{"read with events, none missed", true, false, true},
		{"read with events, then a break", true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			f := review19Fresh(clk)
			f.SetLive(tt.liveRead)
			c := NewCache[string, review19Rec](f)
			ctx := context.Background()
			if _, err := c.Get(ctx, "k", func(context.Context) (review19Rec, error) { return review19Rec{}, nil }); err != nil {
				t.Fatal(err)
			}
			if tt.reconnect {
				f.SetLive(false)
				f.SetLive(true)
			}
			f.SetLive(false) // the outage takes the events with it
			clk.add(4 * time.Minute)
			_, err := c.Get(ctx, "k", func(context.Context) (review19Rec, error) { return review19Rec{}, errStoreDown })
			if gotGrace := err == nil; gotGrace != tt.wantGrace {
				t.Fatalf("served from the cache during the outage: %v (err %v), want %v", gotGrace, err, tt.wantGrace)
			}
		})
	}
}

// TestReview19QueryErrorIsNotAnOutage: a read failing for its own input
// (a statement error, not store.ErrUnavailable) does not mark the store
// down: other records are read again as usual.
func TestReview19QueryErrorIsNotAnOutage(t *testing.T) {
	clk := newClock()
	f := review19Fresh(clk)
	f.SetLive(true)
	keys := NewCache[string, review19Rec](f)
	users := NewCache[string, string](f)
	ctx := context.Background()
	db := review19Rec{}
	reads := 0
	fetchKey := func(context.Context) (review19Rec, error) { reads++; return db, nil }
	keys.Get(ctx, "victim", fetchKey)
	db.revoked = true
	f.SetLive(false)
	clk.add(3 * time.Second)
	errBadInput := errors.New(`ERROR: invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)`)
	if _, err := users.Get(ctx, "bad\x00user", func(context.Context) (string, error) { return "", errBadInput }); !errors.Is(err, errBadInput) {
		t.Fatalf("the statement error = %v", err)
	}
	got, err := keys.Get(ctx, "victim", fetchKey)
	if err != nil || !got.revoked || reads != 2 {
		t.Fatalf("got %+v %v after %d reads: want the store read again and the revocation seen", got, err, reads)
	}
}

// TestReview19UnknownKeysDoNotEvictRecords: not-found answers are held
// apart, so a flood of unknown keys does not push out the records that
// serve during an outage.
func TestReview19UnknownKeysDoNotEvictRecords(t *testing.T) {
	clk := newClock()
	f := review19Fresh(clk)
	f.SetLive(true)
	c := NewCache[string, string](f)
	c.Max = 100
	ctx := context.Background()
	c.Get(ctx, "legit", value("rec"))
	for i := range 3 * c.Max {
		c.Get(ctx, fmt.Sprint("junk", i), func(context.Context) (string, error) { return "", ErrNotFound })
	}
	f.SetLive(false)
	clk.add(2 * time.Second)
	if got, err := c.Get(ctx, "legit", func(context.Context) (string, error) { return "", errStoreDown }); err != nil || got != "rec" {
		t.Fatalf("after %d unknown keys, during an outage: %q %v; want the record", 3*c.Max, got, err)
	}
	if n := len(c.missing); n > c.Max {
		t.Fatalf("%d not-found answers held, Max %d", n, c.Max)
	}
}

// TestReview19NotFoundIsNotServedDuringOutage: an answer that a key does
// not exist is not used while the store fails (the key may have been
// made since): the caller gets the store's failure (503), not 401.
func TestReview19NotFoundIsNotServedDuringOutage(t *testing.T) {
	clk := newClock()
	f := review19Fresh(clk)
	f.SetLive(true)
	c := NewCache[string, string](f)
	ctx := context.Background()
	c.Get(ctx, "new", func(context.Context) (string, error) { return "", ErrNotFound })
	f.SetLive(false)
	clk.add(2 * time.Second)
	if _, err := c.Get(ctx, "new", func(context.Context) (string, error) { return "", errStoreDown }); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want the store's failure", err)
	}
}
