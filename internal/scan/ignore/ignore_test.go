package ignore

import (
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{".next/cache/**", []string{".next/cache/a", ".next/cache/x/y.js"}, []string{".next/static/a.js", "a/.next/cache/b"}},
		{"fixtures/", []string{"fixtures/a.env", "test/fixtures/b/c.json"}, []string{"fixtures.json", "myfixtures/a"}},
		{"*.test.ts", []string{"a.test.ts", "src/deep/b.test.ts"}, []string{"a.test.tsx", "a.ts"}},
		{"src/*.ts", []string{"src/a.ts"}, []string{"src/x/a.ts", "lib/src/a.ts"}},
		{"**/testdata/**", []string{"testdata/a", "x/y/testdata/z.go"}, []string{"testdatax/a"}},
		{"docs/a?.md", []string{"docs/ab.md"}, []string{"docs/a/.md", "docs/abc.md"}},
		{"node_modules", []string{"node_modules", "a/node_modules/b/c.js"}, []string{"node_modules2/x"}},
		{"a+b(c).js", []string{"a+b(c).js"}, []string{"aab(c).js"}},
	} {
		re := Glob(tt.pattern)
		for _, p := range tt.match {
			if !re.MatchString(p) {
				t.Errorf("%q does not match %q (%s)", tt.pattern, p, re)
			}
		}
		for _, p := range tt.noMatch {
			if re.MatchString(p) {
				t.Errorf("%q matches %q (%s)", tt.pattern, p, re)
			}
		}
	}
}

func TestParse(t *testing.T) {
	l, err := Parse(strings.NewReader(`# accepted risks
path: .next/cache/**   # build cache
rule: generic-secret
regex: ^gsk_test
fingerprint: 0123456789abcdef

`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rule, secret, fp string
		want             bool
	}{
		{"generic-secret", "x", "f", true},
		{"groq-api-key", "gsk_testABC", "f", true},
		{"groq-api-key", "gsk_live", "0123456789abcdef", true},
		{"groq-api-key", "gsk_live", "f", false},
	} {
		if got := l.Finding(tt.rule, tt.secret, tt.fp); got != tt.want {
			t.Errorf("Finding(%q, %q, %q) = %v", tt.rule, tt.secret, tt.fp, got)
		}
	}
	if !l.Path(".next/cache/webpack/x.pack") || l.Path("src/a.ts") || !l.HasPaths() {
		t.Error("paths")
	}

	_, err = Parse(strings.NewReader("nope\nregex: (\ncolour: red\npath:\n"))
	for _, want := range []string{"line 1", "line 2: error parsing regexp", `line 3: unknown kind "colour"`, "line 4"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v lacks %q", err, want)
		}
	}
}

func TestBaseline(t *testing.T) {
	var l List
	if err := l.AddBaseline(strings.NewReader(`{"findings":[{"rule_id":"x","fingerprint":"aaaa"},{"fingerprint":"bbbb"}]}`)); err != nil {
		t.Fatal(err)
	}
	if !l.Finding("r", "s", "aaaa") || !l.Finding("r", "s", "bbbb") || l.Finding("r", "s", "cccc") {
		t.Error("baseline fingerprints")
	}
	if err := l.AddBaseline(strings.NewReader("not json")); err == nil {
		t.Error("bad baseline accepted")
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := Load(t.TempDir()+"/none", true); err != nil {
		t.Errorf("optional missing file: %v", err)
	}
	if _, err := Load(t.TempDir()+"/none", false); err == nil {
		t.Error("required missing file: no error")
	}
}

// FuzzParse checks that no ignore file makes Parse panic and that every
// path pattern compiles.
func FuzzParse(f *testing.F) {
	f.Add("path: a/**/b*.js\nrule: x\nregex: ^a+$\nfingerprint: ff\n")
	f.Add("path: [\nregex: [\n")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(strings.NewReader(s))
		if err == nil {
			l.Path("a/b/c.js")
			l.Finding("r", "s", "f")
		}
		Glob(s)
	})
}

func TestCheckRules(t *testing.T) {
	known := func(id string) bool { return id == "groq-api-key" || id == "generic-secret" }
	for _, tt := range []struct {
		name, file, err string
	}{
		{"known", "rule: groq-api-key\nrule: generic-secret\n", ""},
		{"none", "path: a/\n", ""},
		{"typo", "# x\nrule: groq-api-key\nrule: grok-api-key\n", `line 3: unknown rule "grok-api-key"`},
		{"several, in line order", "rule: zz\nrule: aa\nrule: zz\n", `line 1: unknown rule "zz"; line 2: unknown rule "aa"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(strings.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			err = l.CheckRules(known)
			if (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
	if err := (&List{}).CheckRules(known); err != nil {
		t.Errorf("zero List: %v", err)
	}
}
