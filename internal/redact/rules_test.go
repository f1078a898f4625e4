package redact

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/redact/leakcheck"
	"github.com/keyward/keyward/internal/scan/rules"
)

// TestHandlerRedactsEveryRule runs every scan rule's true positives through
// the log handler, as the message, as an attribute and as an error, and
// finds no piece of the secret the rule reports in what reaches the next
// handler; for a rule with a Redact shape, also with the secret cut short
// by a quarter, as a truncated log line would carry it, if that leaves 16
// characters or more. The redactor's
// patterns come from the rules, so a new rule is covered without a change
// here, and this test is what says so.
func TestHandlerRedactsEveryRule(t *testing.T) {
	for _, r := range rules.All() {
		t.Run(r.ID, func(t *testing.T) {
			if !hasPattern(r) {
				t.Fatalf("no redact pattern for rule %s", r.ID)
			}
			if len(r.TruePositives) == 0 {
				t.Fatal("rule has no true positives")
			}
			for _, s := range r.TruePositives {
				ms := r.Find(s)
				if len(ms) == 0 {
					t.Fatalf("the rule finds nothing in its true positive %q", s)
				}
				for _, m := range ms {
					checkRedacted(t, s, m.Secret)
					if cut := m.Secret[:len(m.Secret)-len(m.Secret)/4]; r.Redact != nil && len(cut) >= 16 {
						checkRedacted(t, s[:m.Start]+cut, cut)
					}
				}
			}
		})
	}
}

// hasPattern reports whether the redactor has r's redact shape.
func hasPattern(r *rules.Rule) bool {
	re := r.RedactShape().Regex
	for _, p := range Patterns {
		if p.re == re {
			return true
		}
	}
	return false
}

// checkRedacted logs text and fails if any 12-byte piece of secret (the
// whole of a shorter one), in any encoding, reaches the handler below.
func checkRedacted(t *testing.T, text, secret string) {
	t.Helper()
	var got capture
	log := slog.New(NewHandler(&got, nil))
	log.Info(text)
	log.Info("upstream said", "body", text, "err", errors.New("401: "+text))
	out := strings.Join(got, "\n")
	if l, ok := leakcheck.New(12, secret).Find(out); ok || strings.Contains(out, secret) {
		t.Errorf("%s of %q left in %q", l, secret, out)
	}
}

// capture is a slog.Handler that keeps the message and attribute values
// it is given, unencoded.
type capture []string

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	*c = append(*c, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		*c = append(*c, a.Value.String())
		return true
	})
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }
