package source

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/rules"
)

// embedding puts a snippet into a file of some kind, written or encoded as
// keys are found in the wild.
type embedding struct {
	name, ext string
	wrap      func(filler func() string, snippet string) string
	// minRecall and minPrecision bound the measured figures.
	minRecall, minPrecision float64
	// midLine embeddings put the snippet in the middle of a line, where
	// generic-config-secret, which wants a config line, rightly finds
	// nothing.
	midLine bool
}

var embeddings = []embedding{
	{"source", ".ts", func(f func() string, s string) string { return f() + "\n" + s + "\n" + f() + "\n" }, 1, 1, false},
	{"env", ".env", func(_ func() string, s string) string { return "NODE_ENV=production\n" + s + "\nPORT=3000\n" }, 1, 1, false},
	{"minified", ".js", func(f func() string, s string) string { return f() + ";" + s + ";" + f() }, 1, 1, true},
	{"html", ".html", func(f func() string, s string) string {
		return "<html><body><script>" + f() + "\n" + s + "\n</script></body></html>"
	}, 1, 1, false},
	{"json-string", ".json", func(_ func() string, s string) string {
		b, _ := json.Marshal(map[string]string{"snippet": s}) // escapes quotes, newlines and <>& as \u003c
		return string(b)
	}, 1, 1, true},
	{"js-escaped", ".js", func(f func() string, s string) string {
		return f() + `;var s="` + strings.NewReplacer("-", `\u002d`, "_", `\x5f`, "\n", `\n`, `"`, `\"`).Replace(s) + `";` + f()
	}, 1, 1, true},
	{"url-encoded", ".js", func(f func() string, s string) string {
		return f() + `;fetch("/api?q=` + url.QueryEscape(s) + `");` + f()
	}, 1, 1, true},
	{"base64", ".yaml", func(_ func() string, s string) string {
		return "apiVersion: v1\nkind: Secret\ndata:\n  config: " + base64.StdEncoding.EncodeToString([]byte(s)) + "\n"
	}, 1, 1, false},
}

// expected is what the rules' reference implementation (every rule's
// Find) reports in a snippet as it is written, less the generic twins of
// provider findings, which the scanner drops on purpose.
func expected(snippet string) []detect.Finding {
	var fs []detect.Finding
	for _, r := range rules.All() {
		for _, m := range r.Find(snippet) {
			fs = append(fs, detect.Finding{RuleID: r.ID, Provider: r.Provider, Secret: m.Secret, Start: m.Start, End: m.End})
		}
	}
	slices.SortFunc(fs, func(a, b detect.Finding) int { return a.Start - b.Start })
	return dropGenericTwins(fs)
}

// sameSecret compares secrets up to the escapes and white space that a
// JSON or JavaScript string puts into a multi-line secret (a PEM block).
func sameSecret(a, b string) bool {
	norm := strings.NewReplacer(`\n`, "", `\r`, "", `\t`, "", "\n", "", "\r", "", "\t", "", " ", "")
	return a == b || norm.Replace(a) == norm.Replace(b)
}

// TestCorpusRecallPrecision embeds every rule's true and false positives in
// source, .env, HTML and minified files, and JSON-escaped, JS-escaped,
// URL-encoded and base64-encoded, scans the tree with decoding on, and
// measures, against what the rules find in each snippet as it is written,
// recall (secrets found by the same rule) and precision (findings that
// are such secrets). The rules' own tests judge the snippets; this one
// judges the pipeline: embedding, chunking and decoding must neither lose
// nor invent secrets.
func TestCorpusRecallPrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	filler := func() string {
		var b strings.Builder
		for range 20 {
			fmt.Fprintf(&b, `function f%d(e){return(0,r.jsx)("div",{className:"c%d",children:e.token},e.key)}`, r.IntN(1000), r.IntN(1000))
		}
		return b.String()
	}
	dir := t.TempDir()
	type want struct{ rule, secret string }
	planted := map[string][]want{} // file → the secrets in its snippet
	for _, e := range embeddings {
		for _, rule := range rules.All() {
			for kind, snippets := range map[string][]string{"tp": rule.TruePositives, "fp": rule.FalsePositives} {
				for i, s := range snippets {
					rel := fmt.Sprintf("%s/%s-%s%d%s", e.name, rule.ID, kind, i, e.ext)
					write(t, dir, rel, e.wrap(filler, s))
					planted[rel] = nil
					for _, f := range expected(s) {
						if e.midLine && f.RuleID == "generic-config-secret" {
							continue
						}
						planted[rel] = append(planted[rel], want{f.RuleID, f.Secret})
					}
				}
			}
		}
	}
	got, err := Scan(context.Background(), det, []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		rel string
		i   int
	}
	found := map[key]bool{}
	falses := map[string][]string{} // embedding → false findings
	for _, f := range got {
		rel, _ := filepath.Rel(dir, f.Path)
		rel = filepath.ToSlash(rel)
		emb, _, _ := strings.Cut(rel, "/")
		if f.RuleID == "generic-config-secret" && slices.ContainsFunc(embeddings, func(e embedding) bool { return e.name == emb && e.midLine }) {
			continue // judged neither way (see midLine)
		}
		i := slices.IndexFunc(planted[rel], func(w want) bool { return w.rule == f.RuleID && sameSecret(w.secret, f.Secret) })
		if i >= 0 {
			found[key{rel, i}] = true
			continue
		}
		falses[emb] = append(falses[emb], fmt.Sprintf("%s: %s %s %s", rel, f.RuleID, f.Encoding, detect.Redact(f.Secret)))
	}
	var allTP, allN, allFalse int
	for _, e := range embeddings {
		tp, n := 0, 0
		var missed []string
		for rel, ws := range planted {
			if !strings.HasPrefix(rel, e.name+"/") {
				continue
			}
			for i, w := range ws {
				n++
				if found[key{rel, i}] {
					tp++
				} else {
					missed = append(missed, rel+" "+w.rule)
				}
			}
		}
		slices.Sort(missed)
		recall := float64(tp) / float64(n)
		precision := float64(tp) / float64(tp+len(falses[e.name]))
		allTP, allN, allFalse = allTP+tp, allN+n, allFalse+len(falses[e.name])
		t.Logf("%-12s recall %.3f (%d/%d), precision %.3f (%d false)", e.name, recall, tp, n, precision, len(falses[e.name]))
		if recall < e.minRecall {
			t.Errorf("%s: recall %.3f < %.2f; missed %v", e.name, recall, e.minRecall, missed)
		}
		if precision < e.minPrecision {
			t.Errorf("%s: precision %.3f < %.2f; false findings %v", e.name, precision, e.minPrecision, falses[e.name])
		}
	}
	t.Logf("all: recall %.3f (%d/%d), precision %.3f", float64(allTP)/float64(allN), allTP, allN, float64(allTP)/float64(allTP+allFalse))
}
