package redact

import (
	"hash/maphash"
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
	g := newGate(buf[:0], v)
	if g.none() {
		return v // no pattern's keyword: the common case
	}
	orig := v
	var memo *atomic.Pointer[string]
	for _, list := range [][]Pattern{Patterns, contextual} {
		for i := range list {
			if !g.open(&list[i]) {
				continue
			}
			if memo == nil && len(orig) <= maxClean {
				memo = &clean[maphash.String(cleanSeed, orig)%cleanSlots]
				if c := memo.Load(); c != nil && *c == orig {
					return orig
				}
			}
			v = list[i].scrub(v)
		}
	}
	if memo != nil && v == orig {
		remember(memo, orig)
	}
	return v
}

// remember stores v in slot (a copy of its header, so that only a value
// remembered is moved to the heap).
func remember(slot *atomic.Pointer[string], v string) { slot.Store(&v) }

// clean remembers short values a pattern's regex ran on and found nothing
// in, so that a value logged with every request (a principal id such as
// "client:env:CLIENT_KEY", whose keyword opens the generic rules' gates)
// is read by the regexes once, not every time. ScrubPatterns depends on
// its argument alone, so a value remembered clean is clean; a slot holds
// the last such value hashed to it, and only text ScrubPatterns returned
// unchanged is kept.
var (
	clean     [cleanSlots]atomic.Pointer[string]
	cleanSeed = maphash.MakeSeed()
)

const (
	cleanSlots = 256
	// maxClean is the length of the longest value remembered clean.
	maxClean = 128
)

// Contains reports whether v holds anything the scrubber would remove.
func (s *Scrubber) Contains(v string) bool { return s.String(v) != v }
