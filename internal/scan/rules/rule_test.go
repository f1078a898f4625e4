package rules

import (
	"regexp"
	"strings"
	"testing"
)

var idRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// TestRules runs every rule's samples and checks the rule's shape.
func TestRules(t *testing.T) {
	if len(All()) == 0 {
		t.Fatal("no rules registered")
	}
	seen := map[string]bool{}
	for _, r := range All() {
		t.Run(r.ID, func(t *testing.T) {
			if !idRE.MatchString(r.ID) || seen[r.ID] {
				t.Fatalf("bad or duplicate id %q", r.ID)
			}
			seen[r.ID] = true
			if r.Provider == "" || r.Description == "" || r.Regex == nil {
				t.Fatal("provider, description and regex are required")
			}
			if len(r.Keywords) == 0 {
				t.Error("a rule needs keywords for the prefilter")
			}
			for _, k := range r.Keywords {
				if k != strings.ToLower(k) || k == "" {
					t.Errorf("keyword %q must be non-empty lower case", k)
				}
			}
			if len(r.TruePositives) == 0 || len(r.FalsePositives) == 0 {
				t.Fatal("a rule needs true- and false-positive samples")
			}
			for _, s := range r.TruePositives {
				if got := r.Find(s); len(got) != 1 {
					t.Errorf("true positive found %d times: %q", len(got), s)
				} else if !keywordNear(r, s) {
					t.Errorf("no keyword in true positive %q", s)
				}
			}
			for _, s := range r.FalsePositives {
				if got := r.Find(s); len(got) != 0 {
					t.Errorf("false positive found: %q in %q", got[0].Secret, s)
				}
			}
		})
	}
}

func keywordNear(r *Rule, s string) bool {
	lower := strings.ToLower(s)
	for _, k := range r.Keywords {
		if strings.Contains(lower, k) {
			return true
		}
	}
	return false
}

func TestEntropy(t *testing.T) {
	for _, tt := range []struct {
		s        string
		min, max float64
	}{
		{"", 0, 0},
		{"aaaa", 0, 0},
		{"abab", 1, 1},
		{"abcdefgh", 3, 3},
	} {
		if got := Entropy(tt.s); got < tt.min || got > tt.max {
			t.Errorf("Entropy(%q) = %v", tt.s, got)
		}
	}
}

func TestIsPlaceholder(t *testing.T) {
	for _, s := range []string{"sk-...", "sk-xxxxxxxxxxxxxxxx", "your-api-key-here", "<OPENAI_API_KEY>", "${OPENAI_API_KEY}", "sk-aaaaaaaaaaaaaaaaaaaaaaaa", "sk-1234567890abcdef"} {
		if !IsPlaceholder(s) {
			t.Errorf("IsPlaceholder(%q) = false", s)
		}
	}
	for _, s := range []string{"sk-proj-Qe3kT9vLm2Xw8Rb1Zc5Ny7Ud4Hs6Fg0J", "gsk_8fK2mQ9xVb3Lr7Tz1Wc5Np4Hd6Sg0Yj2Ea8Ru"} {
		if IsPlaceholder(s) {
			t.Errorf("IsPlaceholder(%q) = true", s)
		}
	}
}

// FuzzRules: no rule panics or reports a secret outside the text.
func FuzzRules(f *testing.F) {
	for _, r := range All() {
		for _, s := range r.TruePositives {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, r := range All() {
			for _, m := range r.Find(text) {
				if m.Start < 0 || m.End > len(text) || text[m.Start:m.End] != m.Secret {
					t.Fatalf("%s: bad match %+v", r.ID, m)
				}
			}
		}
	})
}
