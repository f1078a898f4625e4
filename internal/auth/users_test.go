package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/store"
)

func TestUsersApply(t *testing.T) {
	ctx := context.Background()
	db, _ := newStore(t)
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	us := NewUsers(db, &store.Freshness{TTL: time.Second, Now: clk.now})
	db.PutUser(ctx, store.User{ID: "alice", Plan: "pro"})
	db.PutUser(ctx, store.User{ID: "mallory", Disabled: true})

	tests := []struct {
		name string
		p    Principal
		plan string
		err  error
	}{
		{"assigned plan overrides a claim", Principal{Kind: KindJWT, User: "alice", Plan: "free"}, "pro", nil},
		{"virtual key keeps its plan", Principal{Kind: KindVirtualKey, User: "alice", Plan: "free"}, "free", nil},
		{"browser token keeps its narrowed plan", Principal{Kind: KindBrowserToken, User: "alice", Plan: "free"}, "free", nil},
		{"unknown user unchanged", Principal{Kind: KindJWT, User: "bob", Plan: "free"}, "free", nil},
		{"no user", Principal{Kind: KindClientKey}, "", nil},
		{"disabled", Principal{Kind: KindVirtualKey, User: "mallory"}, "", ErrUserDisabled},
	}
	for _, tt := range tests {
		p, err := us.Apply(ctx, tt.p)
		if !errors.Is(err, tt.err) || err == nil && p.Plan != tt.plan {
			t.Errorf("%s: %+v %v", tt.name, p, err)
		}
	}
	// A change takes effect within the cache TTL.
	db.PutUser(ctx, store.User{ID: "alice", Disabled: true})
	if _, err := us.Apply(ctx, Principal{Kind: KindJWT, User: "alice"}); err != nil {
		t.Fatal("cached for up to a second")
	}
	clk.add(time.Second)
	if _, err := us.Apply(ctx, Principal{Kind: KindJWT, User: "alice"}); !errors.Is(err, ErrUserDisabled) {
		t.Fatalf("after 1s: %v", err)
	}
	var none *Users
	if p, err := none.Apply(ctx, Principal{User: "x", Plan: "y"}); err != nil || p.Plan != "y" {
		t.Fatal("nil Users must be a no-op")
	}
}
