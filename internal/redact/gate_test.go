package redact

import (
	"bytes"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/scan/rules"
)

// TestGateFindsEveryKeyword checks the gate's keyword scan (one pass over
// a short text, a search per keyword in a long one) against a plain search
// for each keyword, on every rule's samples (short, and padded
// past longText), keyward's own log values and texts that end in a
// keyword or hold one in capitals: a keyword the scan missed would leave
// a pattern's regex unrun.
func TestGateFindsEveryKeyword(t *testing.T) {
	texts := []string{"", "k", "=", "@", "key", "KEY=", "x-API-KEY: abc", "sk-", "xSK-ANT-", "tokentokenpassw",
		"req_5f0c2a9be13d47a8c6e2f190", "client:env:CLIENT_KEY", "/v1/chat/completions?key=abc", "Bearer abc.def",
		"hooks.slack.com/services/T0", "-----BEGIN PRIVATE KEY-----", "ghp_ghp_gh", "eyJeyJpc3MiOiJzdXBhYmFzZSI"}
	for _, r := range rules.All() {
		texts = append(texts, r.TruePositives...)
		texts = append(texts, r.FalsePositives...)
	}
	for _, w := range gateWords {
		texts = append(texts, "abc "+string(w), strings.ToUpper(string(w))+" abc", string(w[:len(w)-1]))
	}
	pad := strings.Repeat("ordinary text, no keyword; ", 2*longText/27+1)
	for _, s := range texts {
		for _, text := range []string{s, pad + s, s + pad} {
			var buf [gateBuf]byte
			g := newGate(buf[:0], text)
			for n, w := range gateWords {
				if want := bytes.Contains(g.lower, w); g.holds(n) != want {
					t.Errorf("keyword %q in %q: found %v, want %v", w, text, g.holds(n), want)
				}
			}
		}
	}
}

// TestScrubPatternsRemembersOnlyClean: a value a regex ran on and found
// clean is remembered, and the same call with a key in it, or the clean
// value again, answers as without the memo.
func TestScrubPatternsRemembersOnlyClean(t *testing.T) {
	clean := "client:env:CLIENT_KEY"
	for range 3 {
		if got := ScrubPatterns(clean); got != clean {
			t.Fatalf("ScrubPatterns(%q) = %q", clean, got)
		}
	}
	for _, r := range rules.All() {
		for _, s := range r.TruePositives {
			for range 2 {
				for _, m := range r.Find(s) {
					if got := ScrubPatterns(s); strings.Contains(got, m.Secret) {
						t.Errorf("%s: %q keeps %q", r.ID, got, m.Secret)
					}
				}
			}
		}
	}
}
