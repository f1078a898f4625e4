package nextaudit

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestDirectives(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []string
	}{
		{"single quotes", "'use client';\nimport x from 'y'", []string{"use client"}},
		{"double quotes, no semicolon", "\"use client\"\nimport x from 'y'", []string{"use client"}},
		{"after comments and a hashbang", "#!/usr/bin/env node\n// header\n/* license */\n'use server'\n", []string{"use server"}},
		{"several", "'use strict';\n'use client';\nexport {}", []string{"use strict", "use client"}},
		{"byte order mark", "\xEF\xBB\xBF'use client'", []string{"use client"}},
		{"comment after it", "'use client' // the browser\nexport {}", []string{"use client"}},
		{"not first", "import x from 'y';\n'use client';", nil},
		{"in a comment", "// 'use client'\nexport {}", nil},
		{"part of an expression", "'use client'.length", nil},
		{"continued on the next line", "'use client'\n+ x", nil},
		{"unterminated", "'use client", nil},
		{"in a template", "`use client`", nil},
		{"empty", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Directives([]byte(tt.src))); diff != "" {
				t.Errorf("Directives (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLexJS(t *testing.T) {
	type tk struct {
		Kind tokKind
		Text string
	}
	for _, tt := range []struct {
		name, src string
		want      []tk
	}{
		{"member read", `process.env["A_KEY"]`, []tk{{tokIdent, "process"}, {tokPunct, "."}, {tokIdent, "env"}, {tokPunct, "["}, {tokString, "A_KEY"}, {tokPunct, "]"}}},
		{"escapes", `"\x61pi.openai.com\u002F\u{76}1"`, []tk{{tokString, "api.openai.com/v1"}}},
		{"template with substitution", "`https://${host}/v1`", []tk{{tokTemplate, "https://"}, {tokIdent, "host"}, {tokTemplate, "/v1"}}},
		{"nested template braces", "`a${ {b:1}.b }c`", []tk{{tokTemplate, "a"}, {tokPunct, "{"}, {tokIdent, "b"}, {tokPunct, ":"}, {tokNumber, "1"}, {tokPunct, "}"}, {tokPunct, "."}, {tokIdent, "b"}, {tokTemplate, "c"}}},
		{"regex, not division", "x = /a\\/b[/]/g; y = a / b", []tk{{tokIdent, "x"}, {tokPunct, "="}, {tokRegex, "/a\\/b[/]/g"}, {tokPunct, ";"},
			{tokIdent, "y"}, {tokPunct, "="}, {tokIdent, "a"}, {tokPunct, "/"}, {tokIdent, "b"}}},
		{"comments dropped", "a // 'x'\n/* \"y\" */ b", []tk{{tokIdent, "a"}, {tokIdent, "b"}}},
		{"operators", "a ?? b?.c === d >>>= 1", []tk{{tokIdent, "a"}, {tokPunct, "??"}, {tokIdent, "b"}, {tokPunct, "?."}, {tokIdent, "c"}, {tokPunct, "==="}, {tokIdent, "d"}, {tokPunct, ">>>="}, {tokNumber, "1"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []tk
			for _, x := range lexJS(tt.src) {
				got = append(got, tk{x.Kind, x.Text})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lexJS (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnalyze(t *testing.T) {
	src := "'use client';\n" +
		"import OpenAI, { type X } from 'openai';\n" +
		"const { OPENAI_API_KEY: k, B } = process.env;\n" +
		"// process.env.IN_A_COMMENT\n" +
		"export function C(): JSX.Element {\n" +
		"  const s = \"it's\";\n" +
		"  return <div title={`${process.env.NEXT_PUBLIC_T}`}>Don't {s} {process.env?.LATE_KEY}</div>;\n" +
		"}\n"
	m := &Module{Path: "c.tsx", Abs: "/x/c.tsx", Src: []byte(src)}
	analyze(m)
	if m.ParseErr != "" {
		t.Fatal(m.ParseErr)
	}
	if !m.UseClient || m.UseServer {
		t.Errorf("directives: client %v server %v", m.UseClient, m.UseServer)
	}
	if diff := cmp.Diff(map[string]string{"OpenAI": "openai", "jsxs": "react/jsx-runtime"}, m.Imported); diff != "" {
		t.Errorf("imports (-want +got):\n%s", diff)
	}
	want := []envRead{{"B", pos{3, 28}}, {"OPENAI_API_KEY", pos{3, 9}}, {"NEXT_PUBLIC_T", pos{7, 25}}, {"LATE_KEY", pos{7, 65}}}
	if diff := cmp.Diff(want, m.EnvReads, cmp.AllowUnexported(envRead{})); diff != "" {
		t.Errorf("env reads (-want +got):\n%s", diff)
	}
}

func TestAnalyzeSyntaxError(t *testing.T) {
	m := &Module{Path: "bad.ts", Abs: "/x/bad.ts", Src: []byte("export const = ;")}
	analyze(m)
	if m.ParseErr == "" {
		t.Error("no parse error for broken code")
	}
}

func TestParseEnvFile(t *testing.T) {
	src := "# comment\nexport A=1\nB = \"two words\" \nC='x#y' # note\nD=plain # note\nE=\"multi\nline\"\n1BAD=x\nnoequals\nF=\n"
	want := []EnvEntry{{"A", "1", 2}, {"B", "two words", 3}, {"C", "x#y", 4}, {"D", "plain", 5}, {"E", "multi\nline", 6}, {"F", "", 10}}
	if diff := cmp.Diff(want, ParseEnvFile([]byte(src))); diff != "" {
		t.Errorf("ParseEnvFile (-want +got):\n%s", diff)
	}
}

func TestIsSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"OPENAI_API_KEY": true, "NEXT_PUBLIC_OPENAI_KEY": true, "STRIPE_SECRET_KEY": true, "GITHUB_TOKEN": true,
		"DB_PASSWORD": true, "OPENAIAPIKEY": true, "OPENAIKEY": false, "apiToken": true, "AUTH_SECRET": true, "GOOGLE_PRIVATE_KEY": true,
		"NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY": false, "NEXT_PUBLIC_SUPABASE_ANON_KEY": false, "NEXT_PUBLIC_APP_URL": false,
		"NODE_ENV": false, "KEYWARD_URL": false, "NEXT_PUBLIC_RECAPTCHA_SITE_KEY": false, "MONKEY": false, "TOKENIZER_MODEL": false,
		"AWS_ACCESS_KEY_ID": false, "PWD": false,
	} {
		if got := isSecretName(name); got != want {
			t.Errorf("isSecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestProviderPackageAndHost(t *testing.T) {
	for spec, want := range map[string]string{
		"openai": "openai", "openai/resources/chat": "openai", "@anthropic-ai/sdk": "@anthropic-ai/sdk", "@ai-sdk/openai": "@ai-sdk/openai",
		"@ai-sdk/react": "", "ai": "", "openai-edge-stream": "", "@google/genai": "@google/genai", "react": "",
	} {
		if got := providerPackage(spec); got != want {
			t.Errorf("providerPackage(%q) = %q, want %q", spec, got, want)
		}
	}
	for s, want := range map[string]string{
		"https://api.openai.com/v1/chat": "api.openai.com", "https://my-res.openai.azure.com/openai": "openai.azure.com",
		"https://openrouter.ai/api/v1": "openrouter.ai/api", "https://example.com": "", "api.openai.com is down": "api.openai.com",
	} {
		if got := providerHost(s); got != want {
			t.Errorf("providerHost(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"15.2.3", "15.2.3", 0}, {"15.2.2", "15.2.3", -1}, {"16.0.0", "15.9.9", 1}, {"15.0.0-canary.9", "15.0.0", -1},
		{"15.6.0-canary.10", "15.6.0-canary.9", 1}, {"14.3.0-canary.77", "14.3.0-canary.77", 0}, {"v15", "15.0.0", 0},
		{"15.0.0-rc.1", "15.0.0-canary.1", 1}, {"1.0.0-alpha", "1.0.0-alpha.1", -1},
	} {
		a, ok1 := ParseVersion(tt.a)
		b, ok2 := ParseVersion(tt.b)
		if !ok1 || !ok2 {
			t.Fatalf("parse %q %q", tt.a, tt.b)
		}
		if got := a.Compare(b); got != tt.want {
			t.Errorf("%s vs %s = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for _, bad := range []string{"", "latest", "15.x", "^15", "a.b.c", "1.2.3.4"} {
		if _, ok := ParseVersion(bad); ok {
			t.Errorf("ParseVersion(%q) succeeded", bad)
		}
	}
	// The advisories' boundaries: the last affected and the fixed version.
	for _, tt := range []struct {
		v    string
		want []string
	}{
		{"15.2.2", []string{"GHSA-f82v-jwr5-mffw", "GHSA-9qr9-h5gf-34mp", "GHSA-267c-6grr-h53f", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj", "GHSA-26hh-7cqf-hhc6"}},
		{"15.2.3", []string{"GHSA-9qr9-h5gf-34mp", "GHSA-267c-6grr-h53f", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj", "GHSA-26hh-7cqf-hhc6"}},
		{"15.1.9", []string{"GHSA-f82v-jwr5-mffw", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj"}},
		{"14.2.24", []string{"GHSA-f82v-jwr5-mffw", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj"}},
		{"13.5.9", []string{"GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj"}},
		{"13.0.0", []string{"GHSA-f82v-jwr5-mffw", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj"}},
		{"12.9.9", []string{"GHSA-h64f-5h5j-jqjh"}},
		{"12.3.4", []string{"GHSA-f82v-jwr5-mffw", "GHSA-h64f-5h5j-jqjh"}},
		{"10.0.0", []string{"GHSA-h64f-5h5j-jqjh"}},
		{"9.5.0", nil},
		{"16.0.6", []string{"GHSA-9qr9-h5gf-34mp", "GHSA-267c-6grr-h53f", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj", "GHSA-492v-c6pp-mqqv", "GHSA-26hh-7cqf-hhc6", "GHSA-6gpp-xcg3-4w24"}},
		{"16.0.7", []string{"GHSA-267c-6grr-h53f", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj", "GHSA-492v-c6pp-mqqv", "GHSA-26hh-7cqf-hhc6", "GHSA-6gpp-xcg3-4w24"}},
		{"16.1.0-canary.11", []string{"GHSA-9qr9-h5gf-34mp", "GHSA-267c-6grr-h53f", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj", "GHSA-492v-c6pp-mqqv", "GHSA-26hh-7cqf-hhc6", "GHSA-6gpp-xcg3-4w24"}},
		{"16.2.4", []string{"GHSA-267c-6grr-h53f", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj", "GHSA-492v-c6pp-mqqv", "GHSA-26hh-7cqf-hhc6", "GHSA-6gpp-xcg3-4w24"}},
		{"16.2.5", []string{"GHSA-26hh-7cqf-hhc6", "GHSA-6gpp-xcg3-4w24"}},
		{"16.2.6", []string{"GHSA-6gpp-xcg3-4w24"}},
		{"16.2.10", []string{"GHSA-6gpp-xcg3-4w24"}},
		{"16.2.11", nil},
		{"16.4.0", nil},
		{"15.3.9", []string{"GHSA-267c-6grr-h53f", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj", "GHSA-26hh-7cqf-hhc6"}},
		{"15.4.0", []string{"GHSA-9qr9-h5gf-34mp", "GHSA-267c-6grr-h53f", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj", "GHSA-492v-c6pp-mqqv", "GHSA-26hh-7cqf-hhc6"}},
		{"15.5.15", []string{"GHSA-267c-6grr-h53f", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj", "GHSA-492v-c6pp-mqqv", "GHSA-26hh-7cqf-hhc6"}},
		{"15.5.16", []string{"GHSA-26hh-7cqf-hhc6"}},
		{"15.5.17", []string{"GHSA-26hh-7cqf-hhc6"}},
		{"15.5.18", nil},
		{"14.3.0-canary.76", []string{"GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj"}},
		{"14.3.0-canary.77", []string{"GHSA-9qr9-h5gf-34mp", "GHSA-h64f-5h5j-jqjh", "GHSA-8h8q-6873-q5fj"}},
	} {
		v, _ := ParseVersion(tt.v)
		var got []string
		for _, adv := range nextAdvisories {
			if _, hit := adv.affected(v); hit {
				got = append(got, adv.ID)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("advisories for %s (-want +got):\n%s", tt.v, diff)
		}
	}
}

func TestVersionFromYarnLock(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      string
		line      int
	}{
		{"classic", "# yarn lockfile v1\n\nnext-auth@^4:\n  version \"4.24.0\"\n\n\"next@^15.0.0\", next@15.1.0:\n  version \"15.1.0\"\n", "15.1.0", 7},
		{"several versions, the spec's", "next@^14.2.0:\n  version \"14.2.24\"\n\n\"next@^15.0.0\", next@15.1.0:\n  version \"15.1.0\"\n", "15.1.0", 5},
		{"several versions, berry, the spec's", "\"next@npm:^14.2.0\":\n  version: 14.2.24\n\n\"next@npm:^15.0.0\":\n  version: 15.1.0\n  resolution: \"next@npm:15.1.0\"\n", "15.1.0", 5},
		{"several versions, no match: the first", "next@^14.2.0:\n  version \"14.2.24\"\n\nnext@^13.0.0:\n  version \"13.5.1\"\n", "14.2.24", 2},
		{"berry", "__metadata:\n  version: 8\n\n\"next@npm:^16.0.0\":\n  version: 16.0.3\n  resolution: \"next@npm:16.0.3\"\n", "16.0.3", 5},
		{"absent", "react@^19:\n  version \"19.0.0\"\n", "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, line, ok := VersionFromYarnLock([]byte(tt.src), "next", "^15.0.0")
			got := ""
			if ok {
				got = v.String()
			}
			if got != tt.want || line != tt.line {
				t.Errorf("got %q at line %d, want %q at %d", got, line, tt.want, tt.line)
			}
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	src := "# syntax=docker/dockerfile:1\nFROM node:20 AS build\ncopy --chown=a:b \\\n  .env \\\n  ./\n\nRUN [\"npm\", \"ci\"]\n"
	want := []DockerInstruction{{"FROM", []string{"node:20", "AS", "build"}, 2}, {"COPY", []string{"--chown=a:b", ".env", "./"}, 3},
		{"RUN", []string{`["npm",`, `"ci"]`}, 7}}
	if diff := cmp.Diff(want, ParseDockerfile([]byte(src))); diff != "" {
		t.Errorf("ParseDockerfile (-want +got):\n%s", diff)
	}
}

func TestSourceMap(t *testing.T) {
	vals, ok := decodeVLQ("AAgBC")
	if !ok || !cmp.Equal(vals, []int{0, 0, 16, 1}) {
		t.Errorf("decodeVLQ = %v %v", vals, ok)
	}
	if _, ok := decodeVLQ("g"); ok {
		t.Error("truncated VLQ accepted")
	}
	lm := parseSourceMap([]byte(`{"mappings":"AAAA;AACA,IAAI"}`), "a\nbc de")
	for off, want := range map[int]pos{0: {1, 1}, 2: {2, 1}, 5: {2, 1}, 6: {2, 5}, 99: {2, 5}} {
		l, c := lm.original(off)
		if (pos{l, c}) != want {
			t.Errorf("original(%d) = %d:%d, want %v", off, l, c, want)
		}
	}
}

func TestAllowedBy(t *testing.T) {
	for _, tt := range []struct {
		line, check string
		want        bool
	}{
		{"X=1 # keyward:allow", CheckPublicEnvSecret, true},
		{"X=1 # keyward:allow public-env-secret", CheckPublicEnvSecret, true},
		{"X=1 # keyward:allow env-file-in-git, public-env-secret", CheckPublicEnvSecret, true},
		{"X=1 # keyward:allow env-file-in-git", CheckPublicEnvSecret, false},
		{"X=1 # keyward:allow demo key, rotated daily", CheckPublicEnvSecret, true},
		{"X=1 # allow", CheckPublicEnvSecret, false},
	} {
		if got := allowedBy(tt.line, tt.check); got != tt.want {
			t.Errorf("allowedBy(%q, %s) = %v, want %v", tt.line, tt.check, got, tt.want)
		}
	}
}

func TestWorkspaces(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want Workspaces
	}{
		{`{"workspaces":["apps/*","packages/*"]}`, Workspaces{"apps/*", "packages/*"}},
		{`{"workspaces":{"packages":["apps/*"],"nohoist":["**/x"]}}`, Workspaces{"apps/*"}},
		{`{"name":"x"}`, nil},
	} {
		p, err := ParsePackageJSON([]byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, p.Workspaces); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.src, diff)
		}
	}
	if _, err := ParsePackageJSON([]byte(`{"workspaces": 3}`)); err == nil {
		t.Error("workspaces: 3 accepted")
	}
}

func FuzzDirectives(f *testing.F) {
	for _, s := range []string{"'use client'", "\"use server\";\n'use strict'", "#!x\n/* */ 'a' // b\n'c'", "'", "/*", "'a'\n."} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, d := range Directives(src) {
			if strings.ContainsAny(d, "\n") {
				t.Errorf("directive %q spans lines", d)
			}
		}
	})
}

func FuzzLexJS(f *testing.F) {
	for _, s := range []string{"process.env.A", "`a${`b${c}`}`", "/[/]/.test(x)", "'\\u{1F600}'", "\"\\x\"", "a/b/c", "}`", "\xff\xfe",
		// SDK clients and their options (sdkclient.go).
		"import O, { A as B } from 'openai'; const o = { ...o, baseURL: u }; new O(o); new B({ ...p, apiKey: k });",
		"const { default: C, x: { y } } = await import('@anthropic-ai/sdk'); const a = a, b = () => a; new C({ authToken: b(), baseURL: `${a}` });",
		"import * as s from '@ai-sdk/openai'; s.createOpenAI({ headers: { Authorization: process.env.K }, baseURL: void 0 }); new s.default",
		"const M = require('groq-sdk').Groq; new M({ baseURL: 'https://api.groq.com', apiKey: import.meta.env[k] }); export { default } from 'openai'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		last := -1
		for _, tok := range lexJS(src) {
			if tok.Off < 0 || tok.Off >= len(src) || tok.Off < last {
				t.Fatalf("token %+v out of order or range (len %d)", tok, len(src))
			}
			last = tok.Off
		}
		// Facts never panic on whatever the lexer produced.
		scanFacts(lexJS(src), func(int) pos { return pos{1, 1} })
	})
}

func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n", "export B=\"x\ny\"", "C='", "=x", "D=a #b", "\r\nE=1\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := strings.Count(string(b), "\n") + 1
		for _, e := range ParseEnvFile(b) {
			if !validEnvName(e.Name) || e.Line < 1 || e.Line > lines {
				t.Errorf("bad entry %+v", e)
			}
		}
	})
}

func FuzzParsePackageJSON(f *testing.F) {
	for _, s := range []string{`{"dependencies":{"next":"15.0.0"}}`, `{"workspaces":{"packages":["a"]}}`, `{"exports":{".":{"import":"./a.js"}}}`, `[]`, `{"workspaces":[1]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePackageJSON(b)
		if err != nil {
			return
		}
		p.Dependency("next")
		exportTargets(p.Exports, ".")
		exportTargets(p.Exports, "./sub")
	})
}

func FuzzSourceMap(f *testing.F) {
	for _, s := range []string{"AAAA;AACA,IAAI", ";;;", "gggggggg", "A,,B;C", "+/+/"} {
		f.Add(s, "ab\ncd")
	}
	f.Fuzz(func(t *testing.T, mappings, gen string) {
		lm := parseSourceMap([]byte(`{"mappings":`+quoteJSON(mappings)+`}`), gen)
		for off := 0; off <= len(gen); off++ {
			if l, c := lm.original(off); l < 1 || c < 1 {
				t.Fatalf("original(%d) = %d:%d", off, l, c)
			}
		}
	})
}

func FuzzVersions(f *testing.F) {
	for _, s := range []string{"15.2.3", "v16.0.0-canary.12", "next@^15:\n  version \"15.1.0\"\n", "1.2.3+build"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, ok := ParseVersion(s); ok {
			w, ok := ParseVersion(v.String())
			if !ok || w.Compare(v) != 0 {
				t.Errorf("%q → %v does not round-trip", s, v)
			}
		}
		VersionFromYarnLock([]byte(s), "next", "^15.0.0")
	})
}

func FuzzParseDockerfile(f *testing.F) {
	for _, s := range []string{"FROM x\nCOPY .env ./\n", "COPY \\\n", "# c\n\\", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range ParseDockerfile(b) {
			if in.Cmd == "" || in.Line < 1 || !utf8.ValidString(in.Cmd) && utf8.ValidString(string(b)) {
				t.Errorf("bad instruction %+v", in)
			}
		}
	})
}

// quoteJSON quotes s as a JSON string.
func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(" ")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
