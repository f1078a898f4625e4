package verify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/scan/rules"
)

func TestCheck(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		key := r.Header.Get("Authorization")
		if r.URL.Path == "/anthropic" {
			key = "Bearer " + r.Header.Get("x-api-key")
			if r.Header.Get("anthropic-version") == "" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		switch key {
		case "Bearer good":
			w.WriteHeader(http.StatusOK)
		case "Bearer revoked":
			w.WriteHeader(http.StatusUnauthorized)
		case "Bearer slow":
			time.Sleep(200 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	openai := Endpoints["openai-api-key"]
	openai.URL = srv.URL + "/models"
	anthropic := Endpoints["anthropic-api-key"]
	anthropic.URL = srv.URL + "/anthropic"
	v := &Verifier{Timeout: 50 * time.Millisecond, Endpoints: map[string]Endpoint{
		"openai-api-key":    openai,
		"anthropic-api-key": anthropic,
		"groq-api-key":      {URL: "http://example.test/not-loopback"},
	}}
	got := v.Check(context.Background(), []Key{
		{"openai-api-key", "good"},
		{"openai-api-key", "revoked"},
		{"openai-api-key", "busy"},
		{"openai-api-key", "slow"},
		{"anthropic-api-key", "good"},
		{"generic-secret", "good"},
		{"groq-api-key", "good"},
		{"openai-api-key", "good"},
	})
	want := []Status{Active, Inactive, Unknown, Unknown, Active, Unknown, Unknown, Active}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("%d requests, want 5 (each distinct key once, none without an allowed endpoint)", n)
	}
}

func TestParseEndpoint(t *testing.T) {
	rule, e, err := ParseEndpoint("anthropic-api-key=http://127.0.0.1:9/x")
	if err != nil || rule != "anthropic-api-key" || e.URL != "http://127.0.0.1:9/x" || e.Header != "x-api-key" {
		t.Errorf("got %q %+v %v", rule, e, err)
	}
	for _, bad := range []string{"nope", "=https://x", "openai-api-key=http://example.com/", "openai-api-key=ftp://x"} {
		if _, _, err := ParseEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestDefaults keeps every default endpoint on https and named after a
// rule that exists.
func TestDefaults(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range rules.All() {
		ids[r.ID] = true
	}
	for rule, e := range Endpoints {
		if !ids[rule] {
			t.Errorf("no rule %q", rule)
		}
		if !allowedURL(e.URL) || e.URL[:8] != "https://" {
			t.Errorf("%s: %s", rule, e.URL)
		}
	}
}
