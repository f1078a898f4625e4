// Package verify checks, when asked to (keyward scan --verify), whether a
// found key still works: one request to the provider's cheapest
// authenticated read-only endpoint (listing models, or who the key
// belongs to), with a short timeout. Nothing here runs unless the user
// opts in; without --verify no key ever leaves the machine.
package verify

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
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
	// Inactive: the provider refused it (401 or 403).
	Inactive Status = "inactive"
	// Unknown: no endpoint for the rule, a timeout, a network error, or
	// any other answer (429, 5xx).
	Unknown Status = "unknown"
)

// Endpoint is how one kind of key is checked: a GET of URL with the key in
// Header (after Prefix) and any Extra headers.
type Endpoint struct {
	URL    string
	Header string // default "Authorization"
	Prefix string // "Bearer " when Header is Authorization and Prefix is empty
	Extra  map[string]string
}

// Endpoints lists the default endpoint per rule id: each is a cheap, free,
// read-only call that needs a valid key.
var Endpoints = map[string]Endpoint{
	"openai-api-key":          {URL: "https://api.openai.com/v1/models"},
	"openai-admin-key":        {URL: "https://api.openai.com/v1/organization/projects?limit=1"},
	"anthropic-api-key":       {URL: "https://api.anthropic.com/v1/models?limit=1", Header: "x-api-key", Extra: map[string]string{"anthropic-version": "2023-06-01"}},
	"anthropic-admin-key":     {URL: "https://api.anthropic.com/v1/organizations/users?limit=1", Header: "x-api-key", Extra: map[string]string{"anthropic-version": "2023-06-01"}},
	"google-api-key":          {URL: "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1", Header: "x-goog-api-key"},
	"groq-api-key":            {URL: "https://api.groq.com/openai/v1/models"},
	"xai-api-key":             {URL: "https://api.x.ai/v1/api-key"},
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
	"elevenlabs-api-key":      {URL: "https://api.elevenlabs.io/v1/user", Header: "xi-api-key"},
	"pinecone-api-key":        {URL: "https://api.pinecone.io/indexes", Header: "Api-Key"},
	"stripe-secret-key":       {URL: "https://api.stripe.com/v1/balance"},
	"stripe-test-key":         {URL: "https://api.stripe.com/v1/balance"},
	"github-token":            {URL: "https://api.github.com/user"},
	"github-fine-grained-pat": {URL: "https://api.github.com/user"},
	"resend-api-key":          {URL: "https://api.resend.com/domains"},
	"sendgrid-api-key":        {URL: "https://api.sendgrid.com/v3/scopes"},
	"slack-bot-token":         {URL: "https://slack.com/api/auth.test"},
	"slack-user-token":        {URL: "https://slack.com/api/auth.test"},
	"clerk-secret-key":        {URL: "https://api.clerk.com/v1/jwks"},
	"clerk-test-secret-key":   {URL: "https://api.clerk.com/v1/jwks"},
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
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return Active
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return Inactive
	}
	return Unknown
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
