// Package secret holds values that must never be printed: provider keys,
// client keys, signing keys. A Secret redacts itself in every output path Go
// offers (fmt verbs, JSON, text, slog), and the only way to read its value is
// Reveal, which is called in exactly one place in keyward: where the
// provider request's credential header is set.
package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"log/slog"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Redacted is what a Secret prints as, whatever the verb or encoder.
const Redacted = "[REDACTED]"

// Secret is a value that must not leave the process except towards the
// provider it belongs to. The zero value is empty.
type Secret struct{ v string }

// New wraps a value. Callers are the reference loader and tests.
func New(v string) Secret { return Secret{v: v} }

// Reveal returns the value. It is the one door out; grep for it.
func (s Secret) Reveal() string { return s.v }

// Len is the length of the value in characters (not a way to read it).
func (s Secret) Len() int { return utf8.RuneCountInString(s.v) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// Equal compares two secrets in constant time (for equal lengths).
func (s Secret) Equal(t Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.v), []byte(t.v)) == 1
}

// Matches reports, in constant time, whether candidate is this secret's
// value. Both sides are hashed first so that timing does not depend on the
// length of the stored value either.
func (s Secret) Matches(candidate string) bool {
	if s.v == "" {
		return false
	}
	a := sha256.Sum256([]byte(s.v))
	b := sha256.Sum256([]byte(candidate))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// HMAC returns HMAC-SHA256 of msg keyed with the secret (a pepper), without
// the value leaving this package.
func (s Secret) HMAC(msg []byte) []byte { return s.HMACSum(sha256.New, msg) }

// HMACSum returns the HMAC of msg with the given hash keyed with the secret
// (HS256/384/512 JWT verification), without the value leaving this package.
func (s Secret) HMACSum(h func() hash.Hash, msg []byte) []byte {
	m := hmac.New(h, []byte(s.v))
	m.Write(msg)
	return m.Sum(nil)
}

// MatchIndex returns the index of the secret candidate matches, or -1. It
// compares against every secret, in constant time each, whatever matched.
func MatchIndex(secrets []Secret, candidate string) int {
	match := -1
	for i, s := range secrets {
		if s.Matches(candidate) && match < 0 {
			match = i
		}
	}
	return match
}

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer, so %#v redacts too.
func (Secret) GoString() string { return "secret.Secret{" + Redacted + "}" }

// Format implements fmt.Formatter for every verb (%s %v %+v %#v %q %x …).
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", Redacted)
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
		_, _ = f.Write([]byte(Redacted))
	default:
		_, _ = f.Write([]byte(Redacted))
	}
}

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML and others use it).
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalYAML implements the YAML marshaler interface of goccy/go-yaml.
func (Secret) MarshalYAML() (any, error) { return Redacted, nil }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// ConnPassword is the password inside a connection string held as a
// secret — a URL's userinfo (postgres://, redis://) or a key=value DSN's
// password= — itself a secret, zero when there is none. The rest of such a
// string (host, database) is not secret; the password is what must be
// scrubbed.
func (s Secret) ConnPassword() Secret {
	if u, err := url.Parse(s.v); err == nil && u.Scheme != "" && u.User != nil {
		pw, _ := u.User.Password()
		return Secret{v: pw}
	}
	for _, f := range strings.Fields(s.v) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			return Secret{v: strings.Trim(v, "'")}
		}
	}
	return Secret{}
}
