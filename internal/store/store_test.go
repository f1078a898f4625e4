package store

import (
	"testing"
	"time"
)

func TestKeyActive(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		k    Key
		want bool
	}{
		{"plain", Key{}, true},
		{"expires later", Key{ExpiresAt: now.Add(time.Second)}, true},
		{"expired now", Key{ExpiresAt: now}, false},
		{"revoked", Key{RevokedAt: now.Add(-time.Hour)}, false},
	}
	for _, tt := range tests {
		if got := tt.k.Active(now); got != tt.want {
			t.Errorf("%s: Active = %v", tt.name, got)
		}
	}
}
