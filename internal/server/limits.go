package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/ratelimit"
)

// resetString renders a duration as OpenAI's x-ratelimit-reset-* headers
// do ("1s", "6m0s").
func resetString(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(time.Millisecond).String()
}

// checkRequestLimits applies the plan's requests-per-minute and per-day
// limits to the principal and, when it has one, to its user (so minting
// fresh browser tokens does not reset a user's limit). It answers 429 itself
// and reports false when a limit is hit; otherwise it sets the
// x-ratelimit-*-requests headers of the tightest limit.
func (d Deps) checkRequestLimits(w http.ResponseWriter, r *http.Request) bool {
	info := infoOf(r.Context())
	plan := info.grant.Plan
	if plan == nil || (plan.RPM <= 0 && plan.RPD <= 0) {
		return true
	}
	subjects := []string{info.principal.ID}
	if u := info.principal.User; u != "" {
		subjects = append(subjects, "user:"+u)
	}
	now := time.Now()
	var tightest *ratelimit.Decision
	for _, lim := range []struct {
		name  string
		limit ratelimit.Limit
	}{{"rpm", ratelimit.PerMinute(plan.RPM)}, {"rpd", ratelimit.PerDay(plan.RPD)}} {
		if lim.limit.Rate <= 0 {
			continue
		}
		for _, s := range subjects {
			dec, err := d.Limiter.Allow(r.Context(), lim.name+":"+plan.Name+":"+s, lim.limit, 1, now)
			if err != nil {
				d.Logger.Error("rate limiter failed", "request_id", w.Header().Get(apierr.RequestIDHeader), "err", err)
				fail(w, r, apierr.Unavailable, "", "limiter error")
				return false
			}
			if !dec.Allowed {
				setRateHeaders(w, dec)
				w.Header().Set("Retry-After", strconv.Itoa(int((dec.RetryAfter+time.Second-1)/time.Second)))
				per := "minute"
				if lim.name == "rpd" {
					per = "day"
				}
				fail(w, r, apierr.RateLimited, fmt.Sprintf("Request limit reached: %d requests per %s on plan %q.", dec.Limit, per, plan.Name), lim.name)
				return false
			}
			if tightest == nil || dec.Remaining < tightest.Remaining {
				dc := dec
				tightest = &dc
			}
		}
	}
	if tightest != nil {
		setRateHeaders(w, *tightest)
	}
	return true
}

func setRateHeaders(w http.ResponseWriter, d ratelimit.Decision) {
	h := w.Header()
	h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(d.Limit))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(d.Remaining))
	h.Set("X-Ratelimit-Reset-Requests", resetString(d.ResetAfter))
}
