package rules

import (
	"regexp"
	"slices"
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

// TestAll: the list is the one in rules.go, in its order, and each call
// returns a slice of its own, so a caller (the detector, a redactor) cannot
// change what the next one gets.
func TestAll(t *testing.T) {
	a := All()
	if len(a) != len(all) || &a[0] == &all[0] {
		t.Fatalf("All returned %d rules, not a copy of the %d listed", len(a), len(all))
	}
	a[0] = nil
	if All()[0] == nil {
		t.Error("changing All's slice changed the rules")
	}
	// The first and last of the list, as rules.go orders it.
	if got := All(); got[0].ID != "anthropic-api-key" || got[len(got)-1].ID != "xai-management-key" {
		t.Errorf("order: first %s, last %s", got[0].ID, got[len(got)-1].ID)
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

// TestContextReach: a rule's Context counts up to ContextReach bytes
// before the secret's start and after its end, not one byte further; a rule
// without a Context needs none.
func TestContextReach(t *testing.T) {
	r := ruleByID("azure-openai-legacy-key")
	if r == nil || r.Context == nil {
		t.Fatal("no azure-openai-legacy-key rule with a Context to test")
	}
	key := fake("context-reach", hexLower, 32)
	// "API_TYPE=azure" is the Context's match; before(n) starts it n bytes
	// before the key, after(n) ends it n bytes after the key.
	before := func(n int) string {
		return "OPENAI_API_TYPE=azure\n" + strings.Repeat("#", n-len("API_TYPE=azure\n")-len("\nOPENAI_API_KEY=")) +
			"\nOPENAI_API_KEY=" + key
	}
	after := func(n int) string {
		return "OPENAI_API_KEY=" + key + "\n" + strings.Repeat("#", n-len("\n")-len("API_TYPE=azure")) + "API_TYPE=azure\n"
	}
	for _, tt := range []struct {
		name string
		text string
		want int
	}{
		{"before, at reach", before(ContextReach), 1},
		{"before, beyond", before(ContextReach + 1), 0},
		{"after, at reach", after(ContextReach), 1},
		{"after, beyond", after(ContextReach + 1), 0},
	} {
		got := r.Find(tt.text)
		if len(got) != tt.want || tt.want == 1 && got[0].Secret != key {
			t.Errorf("%s: found %+v, want %d", tt.name, got, tt.want)
		}
		if tt.want == 1 && !r.InContext([]byte(tt.text), got[0].Start, got[0].End) {
			t.Errorf("%s: InContext disagrees with Find", tt.name)
		}
	}
	if g := ruleByID("groq-api-key"); g.Context != nil || !g.InContext(nil, 0, 0) {
		t.Error("a rule without a Context must need none")
	}
}

func TestParseSeverityAndAtLeast(t *testing.T) {
	for _, tt := range []struct {
		name string
		want Severity
		ok   bool
	}{
		{"critical", Critical, true}, {"high", High, true}, {"medium", Medium, true}, {"low", Low, true},
		{" HIGH ", High, true}, {"", "", false}, {"info", "", false}, {"moderate", "", false},
	} {
		got, err := ParseSeverity(tt.name)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseSeverity(%q) = %q, %v", tt.name, got, err)
		}
	}
	// Each severity against each threshold: at or above counts.
	for i, s := range Severities {
		for j, threshold := range Severities {
			if got, want := s.AtLeast(threshold), i <= j; got != want {
				t.Errorf("%s.AtLeast(%s) = %v, want %v", s, threshold, got, want)
			}
		}
	}
	if !Severity("bogus").AtLeast(Critical) {
		t.Error("an unknown severity must count as the worst")
	}
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

// TestRedactShapes: what the log redactor masks for a rule (its Redact
// shape, or its Regex) covers every secret the rule finds in its true
// positives; a Redact shape's match holds one of its keywords, and it
// still covers the secret cut short by a quarter, if that leaves 16
// characters or more.
func TestRedactShapes(t *testing.T) {
	for _, r := range All() {
		t.Run(r.ID, func(t *testing.T) {
			sh := r.RedactShape()
			if sh.Regex == nil || len(sh.Keywords) == 0 {
				t.Fatal("a redact shape needs a regex and keywords")
			}
			for _, k := range sh.Keywords {
				if k != strings.ToLower(k) || k == "" {
					t.Errorf("redact keyword %q must be non-empty lower case", k)
				}
			}
			for _, s := range r.TruePositives {
				for _, m := range r.Find(s) {
					if !shapeCovers(sh, r.Redact != nil, s, m.Start, m.End) {
						t.Errorf("redact shape misses %q in %q", m.Secret, s)
					}
					cut := len(m.Secret) - len(m.Secret)/4
					if r.Redact != nil && cut >= minCut && !shapeCovers(sh, true, s[:m.Start+cut], m.Start, m.Start+cut) {
						t.Errorf("redact shape misses %q cut short", m.Secret)
					}
				}
			}
		})
	}
}

// minCut is the shortest cut-short secret a Redact shape must still cover:
// a shorter piece (of a 20-character AWS key ID, say) is no credential.
const minCut = 16

// shapeCovers reports whether a match of sh in text masks text[start:end]
// (and holds one of sh's keywords, if loose: a rule's Regex may find its
// keyword in the text around the match).
func shapeCovers(sh Shape, loose bool, text string, start, end int) bool {
	idx := sh.Regex.SubexpIndex("secret")
	for _, m := range sh.Regex.FindAllStringSubmatchIndex(text, -1) {
		s, e := m[0], m[1]
		if idx > 0 {
			s, e = m[2*idx], m[2*idx+1]
		}
		held := strings.ToLower(text)
		if loose {
			held = strings.ToLower(text[m[0]:m[1]])
		}
		if s <= start && end <= e && slices.ContainsFunc(sh.Keywords, func(k string) bool { return strings.Contains(held, k) }) {
			return true
		}
	}
	return false
}
