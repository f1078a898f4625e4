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
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"data":[]}`))
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

// TestCheckResponses: each endpoint's answer is read as its provider means
// it. Slack answers 200 {"ok":false} to a bad token; xAI 200 for a
// disabled key; a 2xx HTML page (a proxy's) proves nothing; a key refused
// for a missing permission works.
func TestCheckResponses(t *testing.T) {
	type answer struct {
		status int
		body   string
	}
	for _, tt := range []struct {
		rule string
		ans  answer
		want Status
	}{
		{"slack-bot-token", answer{200, `{"ok":true,"url":"https://x.slack.com/","team":"x","user":"bot"}`}, Active},
		{"slack-bot-token", answer{200, `{"ok":false,"error":"invalid_auth"}`}, Inactive},
		{"slack-user-token", answer{200, `{"ok":false,"error":"token_revoked"}`}, Inactive},
		{"slack-user-token", answer{200, `{"ok":false,"error":"account_inactive"}`}, Inactive},
		{"slack-bot-token", answer{200, `{"ok":false,"error":"ratelimited"}`}, Unknown},
		{"slack-bot-token", answer{200, `<html>login</html>`}, Unknown},
		{"slack-bot-token", answer{429, ``}, Unknown},
		{"clerk-secret-key", answer{200, `{"object":"total_count","total_count":3}`}, Active},
		{"clerk-secret-key", answer{200, `{"keys":[]}`}, Unknown},
		{"clerk-test-secret-key", answer{401, `{"errors":[{"code":"authentication_invalid"}]}`}, Inactive},
		{"xai-api-key", answer{200, `{"api_key_blocked":false,"api_key_disabled":false,"team_blocked":false}`}, Active},
		{"xai-api-key", answer{200, `{"api_key_blocked":false,"api_key_disabled":true,"team_blocked":false}`}, Inactive},
		{"xai-api-key", answer{200, `{"api_key_blocked":false,"api_key_disabled":false,"team_blocked":true}`}, Inactive},
		{"xai-api-key", answer{200, `{}`}, Unknown},
		{"openai-api-key", answer{200, `{"object":"list","data":[]}`}, Active},
		{"openai-api-key", answer{200, `<!doctype html><title>Sign in to the proxy</title>`}, Unknown},
		{"openai-api-key", answer{200, ``}, Unknown},
		{"openai-api-key", answer{401, `{"error":{"code":"invalid_api_key"}}`}, Inactive},
		{"openai-api-key", answer{403, `{"error":{"message":"You have insufficient permissions for this operation. Missing scopes: api.model.read."}}`}, Active},
		{"google-api-key", answer{400, `{"error":{"status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}`}, Inactive},
		{"google-api-key", answer{400, `{"error":{"status":"INVALID_ARGUMENT"}}`}, Unknown},
		{"stripe-secret-key", answer{403, `{"error":{"type":"invalid_request_error"}}`}, Active},
		{"stripe-secret-key", answer{401, `{"error":{"message":"Invalid API Key provided"}}`}, Inactive},
		{"resend-api-key", answer{401, `{"name":"restricted_api_key","message":"This API key is restricted to only send emails"}`}, Active},
		{"resend-api-key", answer{401, `{"name":"missing_api_key"}`}, Inactive},
		{"elevenlabs-api-key", answer{401, `{"detail":{"status":"missing_permissions"}}`}, Active},
		{"elevenlabs-api-key", answer{401, `{"detail":{"status":"invalid_api_key"}}`}, Inactive},
		{"github-token", answer{200, `{"login":"x"}`}, Active},
		{"huggingface-token", answer{500, `{}`}, Unknown},
	} {
		t.Run(tt.rule+"/"+tt.ans.body, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.ans.status)
				w.Write([]byte(tt.ans.body))
			}))
			defer srv.Close()
			_, e, err := ParseEndpoint(tt.rule + "=" + srv.URL + "/check")
			if err != nil {
				t.Fatal(err)
			}
			v := &Verifier{Timeout: time.Second, Endpoints: map[string]Endpoint{tt.rule: e}}
			if got := v.Check(context.Background(), []Key{{tt.rule, "k"}})[0]; got != tt.want {
				t.Errorf("%d %s: %s, want %s", tt.ans.status, tt.ans.body, got, tt.want)
			}
		})
	}
}
