package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/usage"
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
	// ParseSince's error quotes the input: answer with fixed text.
	since, err := usage.ParseSince(sinceArg, now)
	if err != nil {
		badRequest(w, "\"since\" must be a duration back from now (7d, 36h) or a date (2026-11-01).")
		return
	}
	var f store.UsageFilter
	f.Since = since
	for _, p := range []struct {
		name string
		v    *string
	}{{"user", &f.User}, {"key", &f.Key}, {"model", &f.Model}, {"plan", &f.Plan}} {
		v, ok := d.query(w, r, p.name)
		if !ok {
			return
		}
		*p.v = v
	}
	if u := q.Get("until"); u != "" {
		if f.Until, err = usage.ParseSince(u, now); err != nil {
			badRequest(w, "\"until\" must be a duration back from now (7d, 36h) or a date (2026-11-01).")
			return
		}
	}
	groups, err := d.Usage.SummarizeUsage(r.Context(), f, by)
	if err != nil {
		d.fail(w, err, "usage")
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

func (d Deps) budgetsOff(w http.ResponseWriter) bool {
	if d.budgets == nil {
		apierr.Write(w, apierr.OpenAI, apierr.Unavailable, "No store is configured.")
		return true
	}
	return false
}

func (d Deps) listBudgets(w http.ResponseWriter, r *http.Request) {
	if d.budgetsOff(w) {
		return
	}
	list, err := d.budgets.List(r.Context())
	if err != nil {
		d.fail(w, err, "budget")
		return
	}
	out := make([]map[string]any, 0, len(list))
	for _, b := range list {
		b.Subject = d.scrub(b.Subject)
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
	b, err := d.budgets.Set(r.Context(), actorOf(r), r.PathValue("scope"), r.PathValue("subject"), req.DailyUSD, req.MonthlyUSD)
	if err != nil {
		d.fail(w, err, "budget")
		return
	}
	writeJSON(w, http.StatusOK, BudgetJSON(b))
}

func (d Deps) deleteBudget(w http.ResponseWriter, r *http.Request) {
	if d.budgetsOff(w) || !noBody(w, r) {
		return
	}
	if _, err := d.budgets.Delete(r.Context(), actorOf(r), r.PathValue("scope"), r.PathValue("subject")); err != nil {
		d.fail(w, err, "budget")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
