package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/ratelimit"
)

// decisionRequest is the body of POST /v1/decisions.
type decisionRequest struct {
	Cost   *int `json:"cost"`
	DryRun bool `json:"dry_run"`
}

// decision is its answer, in the shape rate-limit libraries answer in
// (success, limit, remaining, reset in Unix milliseconds, reason).
type decision struct {
	Success   bool   `json:"success"`
	Limit     int    `json:"limit"`
	Remaining int    `json:"remaining"`
	Reset     int64  `json:"reset"`
	Reason    string `json:"reason"`
}

// maxDecisionCost bounds the requests one decision may take.
const maxDecisionCost = 1000

// decide is POST /v1/decisions: an app server (a users:assert key) asks
// whether its user — named with X-Keyward-User — may go on in one of the
// app's own routes, under the same request limits (per minute and per day,
// the user's and the key's) and spend caps keyward applies to its own
// routes. cost requests are taken when allowed; a dry run takes nothing.
// A refusal is an answer (200, success false, the limit's code as reason),
// not an error.
func (d Deps) decide() authed {
	return func(w http.ResponseWriter, r *http.Request, c caller) {
		// An asserted user was named with such a key.
		if c.who.Kind != auth.KindAssertedUser && (c.who.Kind != auth.KindVirtualKey || !auth.HasScope(c.who.Scopes, auth.ScopeAssertUsers)) {
			fail(w, r, apierr.Forbidden, "Decisions are asked for with a virtual key that has the users:assert scope.", string(c.who.Kind))
			return
		}
		snap := infoOf(r.Context()).snap
		body, ok := readBody(w, r, 4<<10, snap.Config.Timeouts.ReadBody)
		if !ok {
			return
		}
		var req decisionRequest
		if len(bytes.TrimSpace(body)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil || dec.More() {
				fail(w, r, apierr.InvalidRequest, "The body must be {\"cost\": 1..1000, \"dry_run\": false} (both optional).", "")
				return
			}
		}
		cost := 1
		if req.Cost != nil {
			cost = *req.Cost
		}
		if cost < 1 || cost > maxDecisionCost {
			fail(w, r, apierr.InvalidRequest, "\"cost\" must be from 1 to 1000.", "")
			return
		}
		now := time.Now()
		w.Header().Set("Cache-Control", "no-store")
		held, refused, err := ratelimit.Admitter{Limiter: d.Limiter, Slots: d.Slots}.Decide(r.Context(), holders(c.who, c.grant, c.ip), cost, now)
		if err != nil {
			d.limiterFailed(w, r, err)
			return
		}
		if refused != nil {
			d.Metrics.LimitRejected(refused.Limit)
			writeJSON(w, http.StatusOK, decision{Limit: refused.Decision.Limit, Remaining: refused.Decision.Remaining,
				Reset: now.Add(refused.Decision.RetryAfter).UnixMilli(), Reason: string(apierr.RequestsLimited)})
			return
		}
		out := decision{Success: true, Reason: "allowed"}
		if t := held.Requests; t != nil {
			out.Limit, out.Remaining, out.Reset = t.Limit, t.Remaining, now.Add(t.ResetAfter).UnixMilli()
		} else {
			out.Reason = "no_limit"
		}
		// Spend: a user whose caps are spent may not go on either.
		caps, err := d.capsOf(r.Context(), c.who, c.grant)
		if err == nil && len(caps) > 0 {
			res, spent, rerr := d.Ledger.Reserve(r.Context(), caps, 1, now)
			switch {
			case rerr != nil:
				err = rerr
			case spent != nil:
				out = decision{Limit: out.Limit, Remaining: out.Remaining, Reset: spent.ResetAt.UnixMilli(), Reason: string(apierr.BudgetExceeded)}
			default:
				_ = res.Release()
			}
		}
		if err != nil {
			held.Rollback(r.Context())
			d.limiterFailed(w, r, err)
			return
		}
		if req.DryRun || !out.Success {
			held.Rollback(r.Context())
		}
		writeJSON(w, http.StatusOK, out)
	}
}
