package rules

import (
	"regexp"
	"strings"
	"testing"
)

// assignmentRE finds a name assigned a value: NAME=, name:, "name":,
// \"name\": (JSON in a string), env["NAME"] =, name ??, name ||.
var assignmentRE = regexp.MustCompile(`[\w.-]\\?["'\]]{0,2}\s*(?:=|:|\?\?|\|\|)`)

// mayOverlap lists the rules allowed to report another rule's secret: only
// the generic rules, and only where the snippet assigns a value to a name,
// which is what it looks for. A provider rule reporting another provider's
// key is always a bug.
func mayOverlap(other *Rule, snippet string) bool {
	return strings.HasPrefix(other.ID, "generic-") && assignmentRE.MatchString(snippet)
}

// TestCrossRules checks that each true positive is reported by its own rule
// only: no other rule may report a secret overlapping the one the rule
// finds (a second, different secret in the same snippet, such as the
// access key ID next to an AWS secret key, is fine).
func TestCrossRules(t *testing.T) {
	for _, r := range All() {
		for _, s := range r.TruePositives {
			own := r.Find(s)
			if len(own) != 1 {
				continue // TestRules reports it
			}
			for _, other := range All() {
				if other == r {
					continue
				}
				for _, m := range other.Find(s) {
					if m.End <= own[0].Start || m.Start >= own[0].End || mayOverlap(other, s) {
						continue
					}
					t.Errorf("%s also reports the secret of %s's true positive %q", other.ID, r.ID, s)
				}
			}
		}
	}
}

// TestSeverities pins the policy: AI provider, cloud and payment keys are
// critical; test-mode keys and the generic rule rank lower.
func TestSeverities(t *testing.T) {
	for _, r := range All() {
		if r.Severity == "" {
			t.Errorf("%s: no severity", r.ID)
		}
	}
	for id, want := range map[string]Severity{
		"openai-api-key":            Critical,
		"anthropic-api-key":         Critical,
		"stripe-secret-key":         Critical,
		"stripe-test-key":           Medium,
		"aws-secret-access-key":     Critical,
		"supabase-service-role-key": Critical,
		"github-token":              High,
		"generic-secret":            Medium,
	} {
		r := ruleByID(id)
		if r == nil {
			t.Errorf("no rule %s", id)
		} else if r.Severity != want {
			t.Errorf("%s: severity %s, want %s", id, r.Severity, want)
		}
	}
}

func ruleByID(id string) *Rule {
	for _, r := range All() {
		if r.ID == id {
			return r
		}
	}
	return nil
}
