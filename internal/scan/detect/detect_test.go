package detect

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/scan/rules"
)

var det = New(rules.All())

// hit is what the oracle and the detector are compared on.
type hit struct {
	Rule       string
	Start, End int
	Secret     string
}

// oracle is the union of every rule's Find on data: what Scan must report.
func oracle(data []byte) []hit {
	var out []hit
	for _, r := range rules.All() {
		for _, m := range r.Find(string(data)) {
			out = append(out, hit{r.ID, m.Start, m.End, m.Secret})
		}
	}
	return sortHits(out)
}

func scanned(data []byte) []hit {
	var out []hit
	for _, f := range det.Scan(data) {
		out = append(out, hit{f.RuleID, f.Start, f.End, f.Secret})
	}
	return sortHits(out)
}

func sortHits(hs []hit) []hit {
	slices.SortFunc(hs, func(a, b hit) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		if a.End != b.End {
			return a.End - b.End
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return hs
}

// samples is every rule's true and false positives.
func samples() []string {
	var out []string
	for _, r := range rules.All() {
		out = append(out, r.TruePositives...)
		out = append(out, r.FalsePositives...)
	}
	return out
}

// TestAgreesWithFind runs every rule's samples through the detector and
// through every rule's Find, which must agree.
func TestAgreesWithFind(t *testing.T) {
	for _, s := range samples() {
		if diff := cmp.Diff(oracle([]byte(s)), scanned([]byte(s))); diff != "" {
			t.Errorf("%q: detector differs from Find (-want +got):\n%s", s, diff)
		}
	}
}

// TestTruePositivesFound checks each true positive is reported by its own
// rule, also buried in a large bundle far from the start, on one long
// line and between many lines.
func TestTruePositivesFound(t *testing.T) {
	filler := jsFiller(rand.New(rand.NewPCG(1, 2)), 8<<10)
	oneLine := bytes.ReplaceAll(filler, []byte("\n"), []byte(";"))
	for _, r := range rules.All() {
		for _, s := range r.TruePositives {
			for name, pad := range map[string][]byte{"bare": nil, "lines": filler, "one line": oneLine} {
				data := slices.Concat(pad, []byte("\n"+s+"\n"), pad)
				got := det.Scan(data)
				if !slices.ContainsFunc(got, func(f Finding) bool { return f.RuleID == r.ID }) {
					t.Errorf("%s, %s: %s not found in %q", r.ID, name, r.ID, s)
				}
				if name != "bare" {
					continue // the oracle on 16 KiB per sample is slow; FuzzDetect covers mixtures
				}
				if diff := cmp.Diff(oracle(data), scanned(data)); diff != "" {
					t.Errorf("%s: detector differs from Find (-want +got):\n%s", r.ID, diff)
				}
			}
		}
	}
}

// TestKeywordInMatch holds the rules to the detector's assumption: every
// match of a windowed rule contains one of the rule's keywords, so a
// window around the keywords sees it. (A rule with a Context is held to
// TestKeywordInContext instead.)
func TestKeywordInMatch(t *testing.T) {
	for i, r := range det.rules {
		if det.win[i].whole || r.Context != nil {
			continue
		}
		for _, s := range r.TruePositives {
			for _, m := range r.Regex.FindAllStringIndex(s, -1) {
				match := strings.ToLower(s[m[0]:m[1]])
				if !slices.ContainsFunc(r.Keywords, func(k string) bool { return strings.Contains(match, k) }) {
					t.Errorf("%s: match %q holds none of the keywords %q", r.ID, match, r.Keywords)
				}
			}
		}
	}
}

// TestKeywordInContext holds the rules with a Context to the detector's
// assumption for them: every match of the Context contains one of the
// rule's keywords, so a window around the keywords (contextWindow) sees the
// secret it vouches for.
func TestKeywordInContext(t *testing.T) {
	n := 0
	for i, r := range det.rules {
		if r.Context == nil {
			continue
		}
		n++
		if det.win[i] != contextWindow {
			t.Errorf("%s: window %+v, want contextWindow", r.ID, det.win[i])
		}
		for _, s := range slices.Concat(r.TruePositives, r.FalsePositives) {
			for _, m := range r.Context.FindAllStringIndex(s, -1) {
				match := strings.ToLower(s[m[0]:m[1]])
				if !slices.ContainsFunc(r.Keywords, func(k string) bool { return strings.Contains(match, k) }) {
					t.Errorf("%s: context %q holds none of the keywords %q", r.ID, match, r.Keywords)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no rule has a Context: the test tests nothing")
	}
}

// TestContextFarFromKeyword: a secret whose only keyword is in its Context,
// up to ContextReach bytes away on either side, in a large bundle, is found
// as Find finds it; one byte further it is not.
func TestContextFarFromKeyword(t *testing.T) {
	var hex strings.Builder
	r := rand.New(rand.NewPCG(5, 6))
	for range 32 {
		hex.WriteByte("0123456789abcdef"[r.IntN(16)])
	}
	key := hex.String()
	filler := jsFiller(rand.New(rand.NewPCG(1, 2)), 16<<10)
	// "API_TYPE=azure" is the Context's match. before(gap) starts it gap
	// bytes before the secret starts; after(gap) ends it gap bytes after the
	// secret ends.
	before := func(gap int) []byte {
		pad := bytes.Repeat([]byte("x"), gap-len("API_TYPE=azure\n")-len("\nOPENAI_API_KEY="))
		return slices.Concat(filler, []byte(";\nAPI_TYPE=azure\n"), pad, []byte("\nOPENAI_API_KEY="+key+"\n"), filler)
	}
	after := func(gap int) []byte {
		pad := bytes.Repeat([]byte("x"), gap-len("\n")-len("API_TYPE=azure"))
		return slices.Concat(filler, []byte(";\nOPENAI_API_KEY="+key+"\n"), pad, []byte("API_TYPE=azure\n"), filler)
	}
	for _, tt := range []struct {
		name  string
		data  []byte
		found bool
	}{
		{"before, at reach", before(rules.ContextReach), true},
		{"before, beyond reach", before(rules.ContextReach + 1), false},
		{"after, at reach", after(rules.ContextReach), true},
		{"after, beyond reach", after(rules.ContextReach + 1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := oracle(tt.data)
			if diff := cmp.Diff(want, scanned(tt.data)); diff != "" {
				t.Errorf("detector differs from Find (-want +got):\n%s", diff)
			}
			found := slices.ContainsFunc(want, func(h hit) bool { return h.Rule == "azure-openai-legacy-key" && h.Secret == key })
			if found != tt.found {
				t.Errorf("found %v, want %v", found, tt.found)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	key := ""
	for _, r := range rules.All() {
		if r.ID == "groq-api-key" {
			key = strings.TrimPrefix(r.TruePositives[0], "GROQ_API_KEY=")
		}
	}
	if !strings.HasPrefix(key, "gsk_") {
		t.Fatalf("no groq sample to build on: %q", key)
	}
	data := []byte("line one\n\tline two\n  const k = \"" + key + "\";\n")
	got := det.Scan(data)
	if len(got) != 1 {
		t.Fatalf("got %d findings, want 1: %+v", len(got), got)
	}
	if f := got[0]; f.Line != 3 || f.Column != 14 || string(data[f.Start:f.End]) != key || f.Severity == "" {
		t.Errorf("finding = %+v, want line 3 column 14", f)
	}
}

func TestKelvinSign(t *testing.T) {
	// "API_\u212aEY" is API_KEY with a Kelvin sign, which Find's
	// strings.ToLower and the (?i) regex both read as "k".
	r := rand.New(rand.NewPCG(8, 9)) // a secret-shaped value, no literal
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 24)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	secret := string(b)
	data := []byte(`const API_` + kelvin + `EY = "` + secret + `";`)
	want := oracle(data)
	if len(want) == 0 {
		t.Fatal("the oracle finds nothing: the test no longer tests the Kelvin sign")
	}
	if diff := cmp.Diff(want, scanned(data)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestKelvinVariants(t *testing.T) {
	got := kelvinVariants("kek")
	want := []string{"kek", kelvin + "ek", "ke" + kelvin, kelvin + "e" + kelvin}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFingerprint(t *testing.T) {
	a := Finding{RuleID: "groq-api-key", Secret: "gsk_abc"}
	if a.Fingerprint() != Fingerprint("groq-api-key", "gsk_abc") || len(a.Fingerprint()) != 16 {
		t.Errorf("fingerprint %q", a.Fingerprint())
	}
	if a.Fingerprint() == Fingerprint("groq-api-key", "gsk_abd") || a.Fingerprint() == Fingerprint("other", "gsk_abc") {
		t.Error("fingerprints collide")
	}
	// Pinned: baselines written by earlier versions must keep matching.
	if got, want := a.Fingerprint(), Fingerprint("groq-api-key", "gsk_abc"); got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"gsk_" + strings.Repeat("a1B2", 13), "gsk_a1B2…a1B2"},
		{"Zq8Xr2Lm5Vt9Wc3Nb7Hd", "Zq8X…b7Hd"},
		{"short", "…"},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----…"},
	} {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzDetect compares the detector with the union of every rule's Find on
// inputs built from the rules' samples.
func FuzzDetect(f *testing.F) {
	ss := samples()
	for i, s := range ss {
		f.Add([]byte(s), uint16(i), uint16(i*7+3))
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		// Splice two more samples around the input, so the fuzzer works on
		// mixtures of real shapes.
		in := slices.Concat([]byte(ss[int(a)%len(ss)]), data, []byte(ss[int(b)%len(ss)]))
		if diff := cmp.Diff(oracle(in), scanned(in)); diff != "" {
			t.Fatalf("%q: detector differs from Find (-want +got):\n%s", in, diff)
		}
	})
}

// jsFiller returns about n bytes of minified-looking JavaScript: React
// components, props named key and token, env lookups, URLs, hashes. It is
// keyword-dense on purpose (React writes "key" everywhere), which is the
// prefilter's worst realistic case.
func jsFiller(r *rand.Rand, n int) []byte {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	word := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = alnum[r.IntN(len(alnum))]
		}
		return string(b)
	}
	parts := []func() string{
		func() string {
			return fmt.Sprintf(`function %s(e){var t=e.%s,n=e.key;return(0,r.jsx)("div",{className:"%s",children:t},n)}`, word(2), word(5), word(8))
		},
		func() string {
			return fmt.Sprintf(`let %s=(0,o.useState)(null),[%s,%s]=%s;if(!%s)throw Error("missing token");`, word(1), word(1), word(2), word(3), word(1))
		},
		func() string {
			return fmt.Sprintf(`fetch("/api/%s",{headers:{Authorization:"Bearer "+e.token}}).then(e=>e.json())`, word(6))
		},
		func() string {
			return fmt.Sprintf(`const c={apiKey:process.env.NEXT_PUBLIC_%s_KEY,secret:void 0};`, strings.ToUpper(word(5)))
		},
		func() string { return fmt.Sprintf(`"%s":"sha256-%s",`, word(10), word(43)) },
		func() string {
			return fmt.Sprintf(`e.exports={id:"%s",chunks:[%d,%d],name:"%s"};`, word(20), r.IntN(9999), r.IntN(9999), word(7))
		},
		func() string {
			return fmt.Sprintf(`for(let i=0;i<%s.length;i++)%s[i]=%s.charCodeAt(i)^%d;`, word(1), word(1), word(1), r.IntN(255))
		},
	}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(parts[r.IntN(len(parts))]())
		if r.IntN(8) == 0 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()[:n]
}

// benchMiB is the size of BenchmarkScan's buffer.
var benchMiB = 50

// BenchmarkScan measures the detector on ~50 MiB of minified-looking
// JavaScript with a key planted every MiB.
func BenchmarkScan(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var tps []string
	for _, rule := range rules.All() {
		tps = append(tps, rule.TruePositives[0])
	}
	var buf bytes.Buffer
	for buf.Len() < benchMiB<<20 {
		buf.Write(jsFiller(r, 1<<20))
		buf.WriteString(";" + tps[r.IntN(len(tps))] + "\n")
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if len(det.Scan(data)) == 0 {
			b.Fatal("no findings")
		}
	}
}
