package secret

import "testing"

// TestConnPassword: the password of a connection string is a secret of
// its own; the rest of the string is not.
func TestConnPassword(t *testing.T) {
	for _, tt := range []struct{ dsn, pw string }{
		{"postgres://kw:S3cret-pass-for-the-store-0001@db:5432/kw?sslmode=require", "S3cret-pass-for-the-store-0001"},
		{"host=db user=kw password='An0ther-pass-for-the-store-02' dbname=kw", "An0ther-pass-for-the-store-02"},
		{"redis://:Redis-pass-for-the-limits-0003@cache:6379/0", "Redis-pass-for-the-limits-0003"},
		{"postgres://kw@db/kw", ""},
		{"host=db user=kw", ""},
	} {
		if got := New(tt.dsn).ConnPassword(); got.v != tt.pw {
			t.Errorf("ConnPassword(%q) = %q, want %q", tt.dsn, got.v, tt.pw)
		}
	}
}
