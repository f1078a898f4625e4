package redact

import (
	"sync/atomic"

	"github.com/keyward/keyward/internal/secret"
)

// Mask is what a redacted credential is replaced with.
const Mask = secret.Redacted

// Scrubber removes secrets from strings: every piece of 24 characters or
// more of the values it is given, raw or encoded (see secret.Scrubber; the
// values may be swapped at run time, on a config reload), and every
// pattern above. The zero value scrubs patterns only. It is safe for
// concurrent use.
type Scrubber struct {
	exact atomic.Pointer[secret.Scrubber]
}

// NewScrubber returns a scrubber that also removes the given secrets.
func NewScrubber(secrets ...secret.Secret) *Scrubber {
	s := &Scrubber{}
	s.SetSecrets(secrets...)
	return s
}

// SetSecrets replaces the secret values the scrubber removes.
func (s *Scrubber) SetSecrets(secrets ...secret.Secret) {
	s.exact.Store(secret.NewScrubber(secrets...))
}

// String returns v with every secret removed.
func (s *Scrubber) String(v string) string {
	if v == "" {
		return v
	}
	if s != nil {
		v = s.exact.Load().String(v)
	}
	return ScrubPatterns(v)
}

// ScrubPatterns removes every pattern-shaped credential from v. It is exported
// for callers that have no exact values (error text built at the edge).
func ScrubPatterns(v string) string {
	// The gate looks at v as given: masking only removes text, and the
	// mask holds no keyword.
	var buf [gateBuf]byte
	var g gate
	g.lower, g.tokens = appendLower(buf[:0], v)
	for _, list := range [][]Pattern{Patterns, contextual} {
		for i := range list {
			if g.open(&list[i]) {
				v = list[i].scrub(v)
			}
		}
	}
	return v
}

// Contains reports whether v holds anything the scrubber would remove.
func (s *Scrubber) Contains(v string) bool { return s.String(v) != v }
