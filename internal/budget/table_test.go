package budget

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/store"
)

type budgetList []store.Budget

func (l budgetList) ListBudgets(context.Context) ([]store.Budget, error) { return l, nil }

// TestCapsFor: a spender's caps are its plan's (per user on the plan, or
// per credential without a user) and the budgets on its key and its user.
func TestCapsFor(t *testing.T) {
	plan := &config.Plan{Name: "free", Spend: &config.Spend{DailyUSD: 0.5, MonthlyUSD: 10}}
	table := NewTable(budgetList{
		{Scope: ScopeKey, Subject: "key:k", DailyMicros: 1000},
		{Scope: ScopeUser, Subject: "alice", MonthlyMicros: 2000},
	}, nil)
	tests := []struct {
		name  string
		table *Table
		s     Spender
		want  []Cap
	}{
		{"user on a plan, with budgets", table, Spender{Key: "key:k", User: "alice", Plan: plan}, []Cap{
			{Scope: ScopePlanUser, Plan: "free", User: "alice", Period: Daily, Limit: 500_000, Source: "plan free"},
			{Scope: ScopePlanUser, Plan: "free", User: "alice", Period: Monthly, Limit: 10_000_000, Source: "plan free"},
			{Scope: ScopeKey, Key: "key:k", Period: Daily, Limit: 1000, Source: "budget"},
			{Scope: ScopeUser, User: "alice", Period: Monthly, Limit: 2000, Source: "budget"},
		}},
		{"credential without a user", nil, Spender{Key: "key:k", Plan: plan}, []Cap{
			{Scope: ScopeKey, Key: "key:k", Period: Daily, Limit: 500_000, Source: "plan free"},
			{Scope: ScopeKey, Key: "key:k", Period: Monthly, Limit: 10_000_000, Source: "plan free"},
		}},
		{"no plan, no budget", table, Spender{Key: "key:other", User: "bob"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.table.CapsFor(context.Background(), tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("caps (-want +got):\n%s", diff)
			}
		})
	}
}
