package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	logs := &syncBuffer{}
	s := &server{d: Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil))}}
	h := s.withRecover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "req_1")
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/messages", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"type":"error"`) || !strings.Contains(rec.Body.String(), "internal_error") {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "panic while serving") || !strings.Contains(logs.String(), "req_1") {
		t.Fatalf("log: %s", logs)
	}

	// http.ErrAbortHandler is passed on, so net/http cuts the connection.
	abort := s.withRecover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestCredential(t *testing.T) {
	tests := []struct {
		headers map[string]string
		want    string
	}{
		{map[string]string{"Authorization": "Bearer abc"}, "abc"},
		{map[string]string{"Authorization": "bearer abc"}, "abc"},
		{map[string]string{"X-Api-Key": "abc"}, "abc"},
		{map[string]string{"Authorization": "Basic abc"}, ""},
		{map[string]string{"Authorization": "Bearer"}, ""},
		{map[string]string{"Authorization": "Bearer abc", "X-Api-Key": "def"}, "abc"},
		{nil, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		for k, v := range tt.headers {
			r.Header.Set(k, v)
		}
		if got := credential(r); got != tt.want {
			t.Errorf("credential(%v) = %q, want %q", tt.headers, got, tt.want)
		}
	}
}

func FuzzCredential(f *testing.F) {
	f.Add("Bearer abc", "")
	f.Add("", "key")
	f.Add("bearer", "x")
	f.Fuzz(func(t *testing.T, authz, apiKey string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{authz}
		r.Header["X-Api-Key"] = []string{apiKey}
		c := credential(r)
		if c != "" && !strings.Contains(authz, c) && c != apiKey {
			t.Fatalf("credential %q comes from neither header", c)
		}
	})
}
