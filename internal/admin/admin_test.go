package admin

import (
	"net/http/httptest"
	"testing"
)

// The API itself is tested end to end in internal/server (admin_test.go),
// behind the real middleware; these cover the helpers.
func TestAllowed(t *testing.T) {
	for path, want := range map[string]string{
		"/admin/api/keys":                "GET, POST",
		"/admin/api/audit":               "GET",
		"/admin/api/keys/key_1/revoke":   "POST",
		"/admin/api/keys/key_1/rotate":   "POST",
		"/admin/api/keys/a/b/revoke":     "",
		"/admin/api/users":               "GET",
		"/admin/api/users/alice":         "GET, PUT",
		"/admin/api/users/a/b":           "",
		"/admin/api/keys/key_1/unrevoke": "",
	} {
		if got := allowed(path); got != want {
			t.Errorf("allowed(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestActor(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if actorOf(r) != "" {
		t.Fatal("no actor expected")
	}
	r = r.WithContext(contextWith(r, "admin:env:X"))
	if actorOf(r) != "admin:env:X" {
		t.Fatal("actor lost")
	}
}
