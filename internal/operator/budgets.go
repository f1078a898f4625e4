package operator

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/usage"
)

// Budgets sets and removes operators' spend caps on keys and users. A
// change applies within a second in every keyward on the same store
// (budget.Table caches for that long).
type Budgets struct {
	st      store.Budgets
	events  *events
	secrets Secrets
	now     func() time.Time
}

// BudgetsOptions configure a Budgets.
type BudgetsOptions struct {
	Store store.Budgets
	// Audit records every change (nil: none).
	Audit store.Audit
	// Secrets refuses a subject that holds a loaded secret.
	Secrets Secrets
	// Logger reports audit events that could not be written.
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// NewBudgets returns the budget service.
func NewBudgets(o BudgetsOptions) *Budgets {
	b := &Budgets{st: o.Store, events: newEvents(o.Audit, o.Logger), secrets: o.Secrets, now: o.Now}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// Subject checks a budget's scope and normalises its subject: a key's
// subject is the credential id as usage records it ("key:<id>" for a
// virtual key given by its id, "client:<reference>" for a static client
// key). A subject is shown in lists and the audit log, so it must not be
// or hold a credential: a static client key is named by its reference
// (client:env:NAME), never its value.
func (b *Budgets) Subject(scope, subject string) (string, error) {
	subject = strings.TrimSpace(subject)
	if err := CheckEchoed("subject", subject, MaxID, false, b.secrets); err != nil {
		return "", err
	}
	switch scope {
	case budget.ScopeUser:
		return subject, nil
	case budget.ScopeKey:
		if !strings.Contains(subject, ":") {
			subject = "key:" + subject
		}
		return subject, nil
	}
	return "", invalid("scope", "must be %q or %q", budget.ScopeKey, budget.ScopeUser)
}

// Set caps a key's or a user's spend per UTC day and month, in US
// dollars (0: no cap for that period; at least one must be set).
func (b *Budgets) Set(ctx context.Context, actor, scope, subject string, dailyUSD, monthlyUSD float64) (store.Budget, error) {
	subject, err := b.Subject(scope, subject)
	if err != nil {
		return store.Budget{}, err
	}
	for _, v := range []struct {
		field string
		usd   float64
	}{{"daily_usd", dailyUSD}, {"monthly_usd", monthlyUSD}} {
		if !budget.ValidUSD(v.usd) {
			return store.Budget{}, invalid(v.field, "must be an amount in US dollars from 0 to 1000000")
		}
	}
	if dailyUSD == 0 && monthlyUSD == 0 {
		return store.Budget{}, invalid("daily_usd or monthly_usd", "must be above 0 (set either or both)")
	}
	rec := store.Budget{Scope: scope, Subject: subject, DailyMicros: budget.Micro(dailyUSD), MonthlyMicros: budget.Micro(monthlyUSD),
		UpdatedAt: b.now().UTC()}
	if err := b.st.PutBudget(ctx, rec); err != nil {
		return store.Budget{}, fmt.Errorf("put budget: %w", err)
	}
	b.events.append(ctx, EventBudgetSet, actor, scope+":"+subject,
		fmt.Sprintf("daily=%s monthly=%s", usage.USD(rec.DailyMicros), usage.USD(rec.MonthlyMicros)))
	return rec, nil
}

// Delete removes a budget and returns its normalised subject
// (store.ErrNotFound when there is none).
func (b *Budgets) Delete(ctx context.Context, actor, scope, subject string) (string, error) {
	subject, err := b.Subject(scope, subject)
	if err != nil {
		return "", err
	}
	if err := b.st.DeleteBudget(ctx, scope, subject); err != nil {
		return "", fmt.Errorf("delete budget: %w", err)
	}
	b.events.append(ctx, EventBudgetDeleted, actor, scope+":"+subject, "")
	return subject, nil
}

// List returns every budget.
func (b *Budgets) List(ctx context.Context) ([]store.Budget, error) {
	list, err := b.st.ListBudgets(ctx)
	if err != nil {
		return nil, fmt.Errorf("list budgets: %w", err)
	}
	return list, nil
}
