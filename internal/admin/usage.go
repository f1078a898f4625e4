package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/usage"
	"github.com/keyward/keyward/internal/vkey"
)

// usageReport answers GET /admin/api/usage?by=user|key|model|day&since=7d
// (&until, &user, &key, &model, &plan, &format=json|csv).
func (d Deps) usageReport(w http.ResponseWriter, r *http.Request) {
	if d.Usage == nil {
		apierr.Write(w, apierr.OpenAI, apierr.Unavailable, "No store is configured.")
		return
	}
	q := r.URL.Query()
	by := q.Get("by")
	if by == "" {
		by = store.ByUser
	}
	if !slices.Contains(usage.Groupings, by) {
		badRequest(w, fmt.Sprintf("\"by\" must be one of %s.", strings.Join(usage.Groupings, ", ")))
		return
	}
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		badRequest(w, "\"format\" must be json or csv.")
		return
	}
	now := time.Now()
	sinceArg := q.Get("since")
	if sinceArg == "" {
		sinceArg = "7d"
	}
	since, err := usage.ParseSince(sinceArg, now)
	if err != nil {
		badRequest(w, "\"since\": "+err.Error())
		return
	}
	f := store.UsageFilter{Since: since, User: q.Get("user"), Key: q.Get("key"), Model: q.Get("model"), Plan: q.Get("plan")}
	if u := q.Get("until"); u != "" {
		if f.Until, err = usage.ParseSince(u, now); err != nil {
			badRequest(w, "\"until\": "+err.Error())
			return
		}
	}
	groups, err := d.Usage.SummarizeUsage(r.Context(), f, by)
	if err != nil {
		d.internal(w, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = usage.WriteReport(w, "csv", by, groups)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"by": by, "since": since.UTC(), "data": usage.JSONGroups(groups)})
}

// BudgetJSON is a budget as the admin API and `keyward budgets list
// --json` show it.
func BudgetJSON(b store.Budget) map[string]any {
	return map[string]any{"scope": b.Scope, "subject": b.Subject, "daily_usd": float64(b.DailyMicros) / 1e6,
		"monthly_usd": float64(b.MonthlyMicros) / 1e6, "updated_at": b.UpdatedAt}
}

// BudgetSubject checks a budget's scope and normalises its subject: a
// key's subject is the credential id as usage records it ("key:<id>" for
// a virtual key given by its id, "client:<name>" for a static client key).
func BudgetSubject(scope, subject string) (string, error) {
	subject = strings.TrimSpace(subject)
	if subject == "" || len(subject) > 256 {
		return "", errors.New("a subject is 1 to 256 characters")
	}
	if bare := subject[strings.IndexByte(subject, ':')+1:]; vkey.Valid(bare) || redact.LooksLikeKey(bare) || redact.ScrubPatterns(bare) != bare {
		// Never store (or echo) a credential: budgets name keys by id.
		return "", errors.New("that looks like a key itself; name a key by its id (keyward keys list) and a user by their user id")
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
	return "", fmt.Errorf("scope must be %q or %q", budget.ScopeKey, budget.ScopeUser)
}

func (d Deps) budgetsOff(w http.ResponseWriter) bool {
	if d.Budgets == nil {
		apierr.Write(w, apierr.OpenAI, apierr.Unavailable, "No store is configured.")
		return true
	}
	return false
}

func (d Deps) listBudgets(w http.ResponseWriter, r *http.Request) {
	if d.budgetsOff(w) {
		return
	}
	list, err := d.Budgets.ListBudgets(r.Context())
	if err != nil {
		d.internal(w, err)
		return
	}
	out := make([]map[string]any, 0, len(list))
	for _, b := range list {
		out = append(out, BudgetJSON(b))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// putBudget sets a key's or a user's daily and monthly spend caps (0 or
// absent: none).
func (d Deps) putBudget(w http.ResponseWriter, r *http.Request) {
	if d.budgetsOff(w) {
		return
	}
	var req struct {
		DailyUSD   float64 `json:"daily_usd"`
		MonthlyUSD float64 `json:"monthly_usd"`
	}
	if !decode(w, r, &req) {
		return
	}
	scope := r.PathValue("scope")
	subject, err := BudgetSubject(scope, r.PathValue("subject"))
	if err != nil {
		badRequest(w, err.Error()+".")
		return
	}
	if !budget.ValidUSD(req.DailyUSD) || !budget.ValidUSD(req.MonthlyUSD) || req.DailyUSD == 0 && req.MonthlyUSD == 0 {
		badRequest(w, "Set daily_usd and/or monthly_usd to an amount from 0 to 1000000 (at least one above 0).")
		return
	}
	b := store.Budget{Scope: scope, Subject: subject, DailyMicros: budget.Micro(req.DailyUSD), MonthlyMicros: budget.Micro(req.MonthlyUSD), UpdatedAt: time.Now().UTC()}
	if err := d.Budgets.PutBudget(r.Context(), b); err != nil {
		d.internal(w, err)
		return
	}
	d.auditEvent(r, "budget.set", scope+":"+subject, fmt.Sprintf("daily=%s monthly=%s", usage.USD(b.DailyMicros), usage.USD(b.MonthlyMicros)))
	writeJSON(w, http.StatusOK, BudgetJSON(b))
}

func (d Deps) deleteBudget(w http.ResponseWriter, r *http.Request) {
	if d.budgetsOff(w) {
		return
	}
	scope := r.PathValue("scope")
	subject, err := BudgetSubject(scope, r.PathValue("subject"))
	if err != nil {
		badRequest(w, err.Error()+".")
		return
	}
	switch err := d.Budgets.DeleteBudget(r.Context(), scope, subject); {
	case errors.Is(err, store.ErrNotFound):
		apierr.Write(w, apierr.OpenAI, apierr.NotFound, "No such budget.")
		return
	case err != nil:
		d.internal(w, err)
		return
	}
	d.auditEvent(r, "budget.deleted", scope+":"+subject, "")
	w.WriteHeader(http.StatusNoContent)
}

// auditEvent records what an admin did; a lost event is logged.
func (d Deps) auditEvent(r *http.Request, kind, subject, detail string) {
	if d.Audit == nil {
		return
	}
	if err := d.Audit.AppendEvent(r.Context(), store.Event{Kind: kind, Actor: actorOf(r), Subject: subject, Detail: detail}); err != nil {
		d.Logger.Error("audit event lost", "err", err)
	}
}
