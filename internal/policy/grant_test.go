package policy

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
)

var grantConfig = config.Config{
	Limits: config.Limits{MaxOutputTokens: 4096, MaxPromptChars: 100_000, MaxBodyBytes: 1 << 20},
	Models: []config.Model{{Name: "fast"}, {Name: "smart"}},
	Plans: []config.Plan{
		{Name: "server", Concurrency: 20, RPM: 600, MaxOutputTokens: 1000, Spend: &config.Spend{DailyUSD: 1}},
		{Name: "tight", Concurrency: 2, RPM: 1000, TPM: 5000, MaxOutputTokens: 100, Models: []string{"fast"}, Routes: []string{"chat"}, Spend: &config.Spend{DailyUSD: 0.05}},
		{Name: "free", Concurrency: 10, MaxOutputTokens: 500, Spend: &config.Spend{DailyUSD: 0.5}, AllowUnbounded: true},
		{Name: "loose"},
	},
}

// TestNarrow: a token's grant takes the tighter of every limit of its
// plan and its minting key's plan, allows only what both allow, and keeps
// its own plan's name and spend cap (the key's caps apply separately).
func TestNarrow(t *testing.T) {
	grant := func(plan string) Grant {
		g, ok := GrantFor(&grantConfig, auth.Principal{Plan: plan})
		if !ok {
			t.Fatalf("no plan %s", plan)
		}
		return g
	}
	g := grant("free").Narrow(Minter{Grant: grant("tight")})
	p := g.Plan
	if p.Name != "free" || p.Concurrency != 2 || p.RPM != 1000 || p.TPM != 5000 || p.MaxOutputTokens != 100 ||
		p.Spend.DailyUSD != 0.5 || p.AllowUnbounded {
		t.Fatalf("narrowed plan %+v", p)
	}
	if g.AllowsModel("smart") || !g.AllowsModel("fast") || g.AllowsRoute("embeddings") || !g.AllowsRoute("chat") {
		t.Fatal("models or routes the key may not use are allowed")
	}
	if got := g.Limits(grantConfig.Limits).MaxOutputTokens; got != 100 {
		t.Fatalf("output cap %d", got)
	}
	// A token with no plan of its own has the key's limits.
	none := Grant{}.Narrow(Minter{Grant: grant("tight")})
	if none.Plan.Name != "tight" || none.Plan.Concurrency != 2 || none.Plan.Spend != nil || none.Plan.AllowUnbounded {
		t.Fatalf("plan-less token %+v", none.Plan)
	}
	// A key without a plan narrows nothing.
	if same := grant("free").Narrow(Minter{}); same.Plan.Concurrency != 10 || same.Minter == nil {
		t.Fatalf("under a plan-less key %+v", same.Plan)
	}
}

// TestPlanWithin: a token may be minted only with a plan whose every limit
// is at least as tight as its key's.
func TestPlanWithin(t *testing.T) {
	plan := func(name string) *config.Plan {
		p, _ := grantConfig.Plan(name)
		return p
	}
	tests := []struct {
		tok, key string
		want     string
	}{
		{"tight", "tight", ""},
		{"tight", "server", "rpm"},
		{"free", "server", "rpm"},
		{"loose", "server", "rpm"},
		{"free", "tight", "rpm"},
		{"server", "loose", ""},
	}
	for _, tt := range tests {
		got := PlanWithin(plan(tt.tok), plan(tt.key))
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("PlanWithin(%s, %s) = %q, want %q", tt.tok, tt.key, got, tt.want)
		}
	}
	wide := &config.Plan{Name: "w", RPM: 10, RPD: 1, TPM: 100, Concurrency: 5, MaxOutputTokens: 10, Spend: &config.Spend{DailyUSD: 0.01}, Models: []string{"fast"}, Routes: []string{"chat"}}
	if got := PlanWithin(wide, plan("tight")); !strings.Contains(got, "concurrency") {
		t.Errorf("5 in flight under a key with 2: %q", got)
	}
	if got := PlanWithin(nil, plan("tight")); got == "" {
		t.Error("no plan under a key with limits")
	}
	if got := PlanWithin(nil, nil); got != "" {
		t.Errorf("no plan under no plan: %q", got)
	}
	loose := &config.Plan{Name: "x", RPM: 10, Concurrency: 1, MaxOutputTokens: 10, TPM: 100, Spend: &config.Spend{DailyUSD: 0.01}, Models: []string{"fast"}, Routes: []string{"chat"}, AllowUnbounded: true}
	if got := PlanWithin(loose, plan("tight")); !strings.Contains(got, "unbounded") {
		t.Errorf("allow_unbounded under a key without it: %q", got)
	}
}

// TestLimitsFrom: configured limits become what Parse checks.
func TestLimitsFrom(t *testing.T) {
	l := config.Limits{MaxPromptChars: 1000, MaxOutputTokens: 256, OutputTokens: config.OutputReject, MaxJSONDepth: 12}
	want := Limits{MaxPromptChars: 1000, MaxOutputTokens: 256, RejectOverCap: true, MaxJSONDepth: 12}
	if got := LimitsFrom(l); got != want {
		t.Errorf("LimitsFrom = %+v, want %+v", got, want)
	}
	l.OutputTokens = config.OutputClamp
	if LimitsFrom(l).RejectOverCap {
		t.Error("clamp must not reject")
	}
}
