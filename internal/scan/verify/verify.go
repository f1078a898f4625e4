// Package verify checks, when asked to (keyward scan --verify), whether a
// found key still works: one request to the provider's cheapest
// authenticated read-only endpoint (listing models, or who the key
// belongs to), with a short timeout. Nothing here runs unless the user
// opts in; without --verify no key ever leaves the machine.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Status is what verification concluded.
type Status string

// Statuses.
const (
	// Active: the provider accepted the key.
	Active Status = "active"
	// Inactive: the provider refused it (401 or 403, or the endpoint's
	// own sign, such as Slack's {"ok": false, "error": "invalid_auth"}).
	Inactive Status = "inactive"
	// Unknown: no endpoint for the rule, a timeout, a network error, or
	// any other answer (429, 5xx, a 2xx that is not the provider's).
	Unknown Status = "unknown"
)

// Endpoint is how one kind of key is checked: a GET of URL with the key in
// Header (after Prefix) and any Extra headers.
type Endpoint struct {
	URL    string
	Header string // default "Authorization"
	Prefix string // "Bearer " when Header is Authorization and Prefix is empty
	Extra  map[string]string
	// Check reads the answer (status and up to 64 KiB of body); nil is
	// DefaultCheck. Some providers answer a bad key with 200 and the
	// error in the body (Slack), or a good one with 401 or 403 when it
	// lacks a permission: those endpoints have their own.
	Check func(status int, body []byte) Status
}

// DefaultCheck: a 2xx answer with a JSON body is Active (an HTML page, a
// proxy's or a captive portal's, proves nothing), 401 and 403 are Inactive,
// anything else Unknown.
func DefaultCheck(status int, body []byte) Status {
	switch {
	case status >= 200 && status < 300:
		if isJSON(body) {
			return Active
		}
		return Unknown
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Inactive
	}
	return Unknown
}

func isJSON(body []byte) bool {
	body = bytes.TrimSpace(body)
	return len(body) > 0 && (body[0] == '{' || body[0] == '[') && json.Valid(body)
}

// slackCheck: Slack's Web API answers 200 to everything; {"ok": true}
// means the token works, an authentication error in "error" that it does
// not (https://api.slack.com/methods/auth.test).
func slackCheck(status int, body []byte) Status {
	if status < 200 || status >= 300 {
		return DefaultCheck(status, body)
	}
	var r struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &r) != nil {
		return Unknown
	}
	switch {
	case r.OK:
		return Active
	case slices.Contains([]string{"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}, r.Error):
		return Inactive
	}
	return Unknown // ratelimited, internal_error, …
}

// xaiCheck: GET /v1/api-key describes the key, and answers 200 for one
// that is disabled or blocked (or whose team is).
func xaiCheck(status int, body []byte) Status {
	if status < 200 || status >= 300 {
		return DefaultCheck(status, body)
	}
	var r struct {
		Blocked     *bool `json:"api_key_blocked"`
		Disabled    *bool `json:"api_key_disabled"`
		TeamBlocked *bool `json:"team_blocked"`
	}
	if json.Unmarshal(body, &r) != nil || r.Blocked == nil && r.Disabled == nil {
		return Unknown
	}
	if r.Blocked != nil && *r.Blocked || r.Disabled != nil && *r.Disabled || r.TeamBlocked != nil && *r.TeamBlocked {
		return Inactive
	}
	return Active
}

// clerkCheck: GET /v1/users/count answers {"object": "total_count", …}
// to a valid secret key only.
func clerkCheck(status int, body []byte) Status {
	if status < 200 || status >= 300 {
		return DefaultCheck(status, body)
	}
	var r struct {
		Object string `json:"object"`
	}
	if json.Unmarshal(body, &r) == nil && r.Object == "total_count" {
		return Active
	}
	return Unknown
}

// bodyHas returns a check that reads a status answered with a body
// holding marker as st, and everything else as DefaultCheck does: a key
// refused for a missing permission (not for being invalid) still works.
func bodyHas(code int, marker string, st Status) func(int, []byte) Status {
	return func(status int, body []byte) Status {
		if status == code && bytes.Contains(body, []byte(marker)) {
			return st
		}
		return DefaultCheck(status, body)
	}
}

// googleCheck: an invalid key is 400 API_KEY_INVALID, not 401.
var googleCheck = bodyHas(http.StatusBadRequest, "API_KEY_INVALID", Inactive)

// stripeCheck: Stripe answers an invalid key with 401, and a restricted
// key without the permission with 403: that key works.
func stripeCheck(status int, body []byte) Status {
	if status == http.StatusForbidden {
		return Active
	}
	return DefaultCheck(status, body)
}

// Endpoints lists the default endpoint per rule id: each is a cheap, free,
// read-only call that needs a valid key.
var Endpoints = map[string]Endpoint{
	// A restricted OpenAI key without the models scope gets 403
	// "Missing scopes".
	"openai-api-key":          {URL: "https://api.openai.com/v1/models", Check: bodyHas(http.StatusForbidden, "issing scopes", Active)},
	"openai-admin-key":        {URL: "https://api.openai.com/v1/organization/projects?limit=1"},
	"anthropic-api-key":       {URL: "https://api.anthropic.com/v1/models?limit=1", Header: "x-api-key", Extra: map[string]string{"anthropic-version": "2023-06-01"}},
	"anthropic-admin-key":     {URL: "https://api.anthropic.com/v1/organizations/users?limit=1", Header: "x-api-key", Extra: map[string]string{"anthropic-version": "2023-06-01"}},
	"google-api-key":          {URL: "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1", Header: "x-goog-api-key", Check: googleCheck},
	"groq-api-key":            {URL: "https://api.groq.com/openai/v1/models"},
	"xai-api-key":             {URL: "https://api.x.ai/v1/api-key", Check: xaiCheck},
	"huggingface-token":       {URL: "https://huggingface.co/api/whoami-v2"},
	"openrouter-api-key":      {URL: "https://openrouter.ai/api/v1/key"},
	"replicate-api-token":     {URL: "https://api.replicate.com/v1/account"},
	"deepseek-api-key":        {URL: "https://api.deepseek.com/models"},
	"mistral-api-key":         {URL: "https://api.mistral.ai/v1/models"},
	"together-api-key":        {URL: "https://api.together.xyz/v1/models"},
	"together-legacy-api-key": {URL: "https://api.together.xyz/v1/models"},
	"fireworks-api-key":       {URL: "https://api.fireworks.ai/inference/v1/models"},
	"cerebras-api-key":        {URL: "https://api.cerebras.ai/v1/models"},
	"cohere-api-key":          {URL: "https://api.cohere.com/v1/models?page_size=1"},
	// A scoped ElevenLabs key without user_read gets 401
	// "missing_permissions".
	"elevenlabs-api-key":      {URL: "https://api.elevenlabs.io/v1/user", Header: "xi-api-key", Check: bodyHas(http.StatusUnauthorized, "missing_permissions", Active)},
	"pinecone-api-key":        {URL: "https://api.pinecone.io/indexes", Header: "Api-Key"},
	"stripe-secret-key":       {URL: "https://api.stripe.com/v1/balance", Check: stripeCheck},
	"stripe-test-key":         {URL: "https://api.stripe.com/v1/balance", Check: stripeCheck},
	"github-token":            {URL: "https://api.github.com/user"},
	"github-fine-grained-pat": {URL: "https://api.github.com/user"},
	// A sending-only Resend key gets 401 "restricted_api_key".
	"resend-api-key":   {URL: "https://api.resend.com/domains", Check: bodyHas(http.StatusUnauthorized, "restricted_api_key", Active)},
	"sendgrid-api-key": {URL: "https://api.sendgrid.com/v3/scopes"},
	"slack-bot-token":  {URL: "https://slack.com/api/auth.test", Check: slackCheck},
	"slack-user-token": {URL: "https://slack.com/api/auth.test", Check: slackCheck},
	// Not /v1/jwks: an instance's public keys are no proof that the
	// secret key works.
	"clerk-secret-key":      {URL: "https://api.clerk.com/v1/users/count", Check: clerkCheck},
	"clerk-test-secret-key": {URL: "https://api.clerk.com/v1/users/count", Check: clerkCheck},
}

// Verifier checks keys. The zero value uses Endpoints, a 5 s timeout and
// four requests at a time.
type Verifier struct {
	// Endpoints overrides the defaults by rule id (tests point them at
	// local fakes). A URL must be https, or http on a loopback address.
	Endpoints map[string]Endpoint
	Client    *http.Client
	Timeout   time.Duration
	// Parallel bounds concurrent requests.
	Parallel int
}

// Key is one key to check.
type Key struct {
	RuleID, Secret string
}

// Check verifies keys, each distinct one once, and returns their statuses
// in order.
func (v *Verifier) Check(ctx context.Context, keys []Key) []Status {
	out := make([]Status, len(keys))
	type result struct{ s Status }
	results := map[Key]*result{}
	for _, k := range keys {
		if results[k] == nil {
			results[k] = &result{}
		}
	}
	parallel := v.Parallel
	if parallel <= 0 {
		parallel = 4
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for k, r := range results {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r.s = v.check(ctx, k)
		})
	}
	wg.Wait()
	for i, k := range keys {
		out[i] = results[k].s
	}
	return out
}

func (v *Verifier) endpoint(rule string) (Endpoint, bool) {
	if e, ok := v.Endpoints[rule]; ok {
		return e, true
	}
	e, ok := Endpoints[rule]
	return e, ok
}

// check sends one request. The key goes only into the request header, and
// never into an error: whatever goes wrong is Unknown.
func (v *Verifier) check(ctx context.Context, k Key) Status {
	e, ok := v.endpoint(k.RuleID)
	if !ok || !allowedURL(e.URL) {
		return Unknown
	}
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL, nil)
	if err != nil {
		return Unknown
	}
	header, prefix := e.Header, e.Prefix
	if header == "" {
		header = "Authorization"
		if prefix == "" {
			prefix = "Bearer "
		}
	}
	req.Header.Set(header, prefix+k.Secret)
	for h, val := range e.Extra {
		req.Header.Set(h, val)
	}
	req.Header.Set("User-Agent", "keyward-scan-verify")
	client := v.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Unknown
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Unknown
	}
	check := e.Check
	if check == nil {
		check = DefaultCheck
	}
	return check(resp.StatusCode, body)
}

// allowedURL keeps keys on TLS, except to a loopback address (a local
// fake).
func allowedURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return u.Host != ""
	case "http":
		host := u.Hostname()
		if strings.EqualFold(host, "localhost") {
			return true
		}
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
	return false
}

// ParseEndpoint parses a --verify-endpoint flag value, RULE=URL.
func ParseEndpoint(s string) (rule string, e Endpoint, err error) {
	rule, raw, ok := strings.Cut(s, "=")
	if !ok || rule == "" || raw == "" {
		return "", Endpoint{}, fmt.Errorf("verify endpoint %q: want RULE=URL", s)
	}
	if !allowedURL(raw) {
		return "", Endpoint{}, fmt.Errorf("verify endpoint %q: the URL must be https (or http on a loopback address)", s)
	}
	e, ok = Endpoints[rule]
	if !ok {
		e = Endpoint{}
	}
	e.URL = raw
	return rule, e, nil
}
