package nextaudit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/keyward/keyward/internal/scan/detect"
)

// EnvEntry is one NAME=VALUE line of a .env file.
type EnvEntry struct {
	Name, Value string
	Line        int // 1-based
}

// ParseEnvFile reads dotenv syntax: NAME=VALUE lines, optional "export ",
// single, double or back quotes (double-quoted values may span lines),
// "#" comments, blank lines. Lines it does not understand are skipped.
func ParseEnvFile(b []byte) []EnvEntry {
	var out []EnvEntry
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		start := i + 1
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			continue
		}
		name := strings.TrimSpace(line[:eq])
		if !validEnvName(name) {
			continue
		}
		val := strings.TrimSpace(line[eq+1:])
		if len(val) > 0 && (val[0] == '"' || val[0] == '\'' || val[0] == '`') {
			q := val[0]
			rest := val[1:]
			// A quoted value may continue on the following lines.
			for !strings.Contains(rest, string(q)) && i+1 < len(lines) && i-start < 64 {
				i++
				rest += "\n" + lines[i]
			}
			if j := strings.IndexByte(rest, q); j >= 0 {
				rest = rest[:j]
			}
			val = rest
		} else if j := strings.Index(val, " #"); j >= 0 {
			val = strings.TrimSpace(val[:j])
		}
		out = append(out, EnvEntry{Name: name, Value: val, Line: start})
	}
	return out
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-')) {
			return false
		}
	}
	return true
}

// envFiles lists the .env* files in dir.
func envFiles(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && (e.Name() == ".env" || strings.HasPrefix(e.Name(), ".env.")) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// appDirs are the directories whose env files, Dockerfiles and ignore
// files belong to an app: its own and its workspace root's.
func (c *appCtx) appDirs() []string {
	dirs := []string{c.Dir}
	if c.WorkspaceRoot != "" && c.WorkspaceRoot != c.Dir {
		dirs = append(dirs, c.WorkspaceRoot)
	}
	return dirs
}

// ruleMatch returns the most specific scan rule finding in a line of
// text: a provider's rule before the generic ones.
func (a *auditor) ruleMatch(text string) (detect.Finding, bool) {
	ms := a.det.Scan([]byte(text))
	if len(ms) == 0 {
		return detect.Finding{}, false
	}
	return preferSpecific(ms), true
}

// preferSpecific picks a provider rule's finding over a generic rule's.
func preferSpecific(ms []detect.Finding) detect.Finding {
	for _, m := range ms {
		if !strings.HasPrefix(m.RuleID, "generic") {
			return m
		}
	}
	return ms[0]
}

// checkEnvFiles (check 1, env files): NEXT_PUBLIC_ (and other public
// prefixes) variables whose name says secret or whose value matches a scan
// rule.
func (a *auditor) checkEnvFiles(c *appCtx) {
	for _, dir := range c.appDirs() {
		for _, path := range envFiles(dir) {
			b, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			rel := a.rel(path)
			a.files[rel] = b
			for _, e := range ParseEnvFile(b) {
				p := publicPrefix(e.Name)
				if p == "" {
					continue
				}
				f := Finding{CheckID: CheckPublicEnvSecret, Path: rel, Line: e.Line, Column: 1, App: c.Rel, Subject: "env:" + e.Name}
				if m, ok := a.ruleMatch(e.Name + "=" + e.Value); ok && isFirebaseKey(e.Name, m.RuleID) {
					a.firebaseKeys[m.Secret] = true
					f.Severity, f.Fix = Low, firebaseKeyFix
					f.Message = fmt.Sprintf("%s holds a Firebase web API key (%s): Firebase keys are public by design, but the same Google API key "+
						"can call Gemini (generativelanguage.googleapis.com) on your bill if the Generative Language API is enabled in its project", e.Name, detect.Redact(m.Secret))
				} else if ok {
					f.Severity = Critical
					f.Message = fmt.Sprintf("%s holds a secret (%s: %s): the %s prefix puts it in the client bundle", e.Name, m.Description, detect.Redact(m.Secret), p)
				} else if isSecretName(e.Name) {
					f.Severity = High
					f.Message = fmt.Sprintf("%s is named like a secret: the %s prefix puts its value in the client bundle", e.Name, p)
				} else {
					continue
				}
				a.add(f)
			}
		}
	}
}

// firebaseKeyFix is the fix for a Firebase web API key in client code:
// keep it public, but make sure it cannot call Gemini.
const firebaseKeyFix = "Restrict the key in Google Cloud Console (APIs & Services → Credentials): under API restrictions allow only the Firebase " +
	"APIs the app uses, not the Generative Language API; under Application restrictions set HTTP referrers to your domains. " +
	"Call Gemini from the server with a separate, server-only key."

// isFirebaseKey reports a Google API key (AIza…) in a variable whose name
// says Firebase: a web API key that is public by design.
func isFirebaseKey(name, ruleID string) bool {
	return ruleID == "google-api-key" && strings.Contains(strings.ToUpper(name), "FIREBASE")
}

// nextConfig returns the path of an app's next.config.*.
func nextConfig(dir string) string {
	for _, n := range []string{"next.config.js", "next.config.mjs", "next.config.ts", "next.config.cjs", "next.config.mts"} {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// configTokens transforms a next.config (TypeScript allowed) and lexes it.
func configTokens(path string, src []byte) ([]token, *lineMap, bool) {
	r := api.Transform(string(src), api.TransformOptions{Loader: loaderFor(path), Sourcemap: api.SourceMapExternal,
		Sourcefile: filepath.Base(path), LogLevel: api.LogLevelSilent})
	if len(r.Errors) > 0 {
		return nil, nil, false
	}
	return lexJS(string(r.Code)), parseSourceMap(r.Map, string(r.Code)), true
}

// nextConfigFacts are what check 2 and check 9 read from next.config.
type nextConfigFacts struct {
	// EnvEntries are the entries of the env block that carry a secret.
	EnvEntries []configEnv
	Standalone bool
}

type configEnv struct {
	Block  string // env or publicRuntimeConfig
	Name   string
	Reason string
	pos
}

// readNextConfig reads next.config's env block and output mode.
func (a *auditor) readNextConfig(path string, src []byte) nextConfigFacts {
	var out nextConfigFacts
	toks, lm, ok := configTokens(path, src)
	if !ok {
		return out
	}
	at := func(i int) pos { l, c := lm.original(toks[i].Off); return pos{l, c} }
	for i := 0; i+2 < len(toks); i++ {
		t := toks[i]
		if (t.Kind == tokIdent || t.Kind == tokString) && t.Text == "output" && toks[i+1].is(tokPunct, ":") &&
			toks[i+2].Kind == tokString && toks[i+2].Text == "standalone" {
			out.Standalone = true
		}
		// env is inlined into every bundle; publicRuntimeConfig (Pages
		// Router) is serialized into every page.
		block := t.Text
		if !((t.Kind == tokIdent || t.Kind == tokString) && (block == "env" || block == "publicRuntimeConfig") &&
			toks[i+1].is(tokPunct, ":") && toks[i+2].is(tokPunct, "{")) {
			continue
		}
		for _, p := range objectProps(toks, i+2, closingBracket(toks, i+2)) {
			nameTok := p.From - 2
			if nameTok < 0 || toks[nameTok].Text != p.Name {
				nameTok = p.From // shorthand
			}
			e := configEnv{Block: block, Name: p.Name, pos: at(nameTok)}
			var vals []string
			for k := p.From; k < p.To; k++ {
				switch tk := toks[k]; {
				case tk.Kind == tokString || tk.Kind == tokTemplate:
					vals = append(vals, tk.Text)
				case tk.is(tokIdent, "env") && k+2 < len(toks) && toks[k+1].is(tokPunct, ".") && toks[k+2].Kind == tokIdent &&
					isSecretName(toks[k+2].Text) && publicPrefix(toks[k+2].Text) == "":
					e.Reason = "the value of the server secret " + toks[k+2].Text
				}
			}
			for _, v := range vals {
				if m, ok := a.ruleMatch(p.Name + "=" + v); ok {
					e.Reason = fmt.Sprintf("a secret (%s: %s)", m.Description, detect.Redact(m.Secret))
				}
			}
			if e.Reason == "" && isSecretName(p.Name) {
				e.Reason = "a value named like a secret"
			}
			if e.Reason != "" {
				out.EnvEntries = append(out.EnvEntries, e)
			}
		}
	}
	return out
}

// blockEffect says how a next.config block reaches browsers.
var blockEffect = map[string]string{
	"env":                 "every env entry is inlined into every bundle, the client's included",
	"publicRuntimeConfig": "publicRuntimeConfig is serialized into every page",
}

// checkNextConfig (check 2): next.config's env block inlines every entry
// into every bundle, client included, whatever its prefix.
func (a *auditor) checkNextConfig(c *appCtx) {
	path := nextConfig(c.Dir)
	if path == "" {
		return
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return
	}
	rel := a.rel(path)
	a.files[rel] = src
	nc := a.readNextConfig(path, src)
	for _, e := range nc.EnvEntries {
		a.add(Finding{CheckID: CheckNextConfigEnv, Severity: Critical, Path: rel, Line: e.Line, Column: e.Col, App: c.Rel,
			Subject: e.Block + ":" + e.Name,
			Message: fmt.Sprintf("%s.%s in next.config sends %s to the browser: %s", e.Block, e.Name, e.Reason, blockEffect[e.Block])})
	}
}

// dockerfiles lists the Dockerfiles in dir.
func dockerfiles(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		n := strings.ToLower(e.Name())
		if e.Type().IsRegular() && (n == "dockerfile" || n == "containerfile" || strings.HasPrefix(n, "dockerfile.") || strings.HasSuffix(n, ".dockerfile")) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// DockerInstruction is one instruction of a Dockerfile, continuation
// lines joined.
type DockerInstruction struct {
	Cmd  string   // upper case: COPY, ADD, RUN, …
	Args []string // white-space separated, flags included
	Line int      // 1-based line of the instruction's start
}

// ParseDockerfile splits a Dockerfile into instructions: comments and
// blank lines dropped, backslash continuations joined.
func ParseDockerfile(b []byte) []DockerInstruction {
	var out []DockerInstruction
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur strings.Builder
	start, n := 0, 0
	flush := func() {
		f := strings.Fields(cur.String())
		if len(f) > 0 {
			out = append(out, DockerInstruction{Cmd: strings.ToUpper(f[0]), Args: f[1:], Line: start})
		}
		cur.Reset()
		start = 0
	}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" && start == 0 {
			continue
		}
		if start == 0 {
			start = n
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return out
}

// isEnvFileName reports names of env files that hold real values (not
// templates such as .env.example).
func isEnvFileName(name string) bool {
	if name != ".env" && !strings.HasPrefix(name, ".env.") {
		return false
	}
	for _, s := range []string{".example", ".sample", ".template", ".dist", ".defaults"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// copiesEnvFile reports whether a COPY/ADD source names env files.
func copiesEnvFile(src string) bool {
	base := filepath.Base(strings.TrimSuffix(src, "/"))
	if isEnvFileName(base) {
		return true
	}
	return strings.HasPrefix(base, ".env") && strings.ContainsAny(base, "*?[")
}

// dockerignored reports whether .dockerignore patterns exclude name (a
// file at the top of the build context).
func dockerignored(patterns []string, name string) bool {
	ignored := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/"), "**/")
		if m, _ := filepath.Match(p, name); m {
			ignored = !neg
		}
	}
	return ignored
}

func readIgnoreFile(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// secretEnvFiles returns the env files in dir (by name) that hold at
// least one non-empty value.
func secretEnvFiles(dir string) []string {
	var out []string
	for _, p := range envFiles(dir) {
		if !isEnvFileName(filepath.Base(p)) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(ParseEnvFile(b), func(e EnvEntry) bool { return e.Value != "" }) {
			out = append(out, filepath.Base(p))
		}
	}
	return out
}

// checkDeployment (check 9): Dockerfiles that COPY env files (by name, or
// with the whole context when .dockerignore lets them through), and
// standalone builds, which copy .env and .env.production into
// .next/standalone (vercel/next.js#34143). .env.local is not copied there
// (vercel/next.js#46296, #59130: .env*.local is excluded on purpose), so
// it is not reported for standalone builds.
func (a *auditor) checkDeployment(c *appCtx) {
	for _, dir := range c.appDirs() {
		present := secretEnvFiles(dir)
		ignore := readIgnoreFile(filepath.Join(dir, ".dockerignore"))
		for _, df := range dockerfiles(dir) {
			b, err := os.ReadFile(df)
			if err != nil {
				continue
			}
			rel := a.rel(df)
			a.files[rel] = b
			for _, in := range ParseDockerfile(b) {
				if in.Cmd != "COPY" && in.Cmd != "ADD" {
					continue
				}
				var args []string
				fromStage := false
				for _, x := range in.Args {
					if strings.HasPrefix(x, "--") {
						fromStage = fromStage || strings.HasPrefix(x, "--from=")
						continue
					}
					args = append(args, strings.Trim(x, `[]",`))
				}
				if len(args) < 2 {
					continue
				}
				for _, src := range args[:len(args)-1] {
					if copiesEnvFile(src) {
						a.add(Finding{CheckID: CheckEnvFileInDeployment, Severity: High, Path: rel, Line: in.Line, Column: 1, App: c.Rel,
							Subject: "copy:" + src,
							Message: fmt.Sprintf("%s %s puts an env file into the image: anyone who pulls the image reads its keys", in.Cmd, src)})
						continue
					}
					if fromStage || (src != "." && src != "./" && src != "*") {
						continue
					}
					var leaked []string
					for _, name := range present {
						if !dockerignored(ignore, name) {
							leaked = append(leaked, name)
						}
					}
					if len(leaked) > 0 {
						a.add(Finding{CheckID: CheckEnvFileInDeployment, Severity: High, Path: rel, Line: in.Line, Column: 1, App: c.Rel,
							Subject: "copy-context",
							Message: fmt.Sprintf("%s %s copies the whole build context, and .dockerignore does not exclude %s", in.Cmd, src, strings.Join(leaked, ", "))})
					}
				}
			}
		}
	}
	path := nextConfig(c.Dir)
	if path == "" {
		return
	}
	src, err := os.ReadFile(path)
	if err != nil || !a.readNextConfig(path, src).Standalone {
		return
	}
	var shipped []string
	for _, name := range secretEnvFiles(c.Dir) {
		if name == ".env" || name == ".env.production" {
			shipped = append(shipped, name)
		}
	}
	if len(shipped) > 0 {
		rel := a.rel(path)
		line := 1
		if i := bytes.Index(src, []byte("standalone")); i >= 0 {
			line = bytes.Count(src[:i], []byte{'\n'}) + 1
		}
		a.add(Finding{CheckID: CheckEnvFileInDeployment, Severity: Medium, Path: rel, Line: line, Column: 1, App: c.Rel,
			Subject: "standalone",
			Message: fmt.Sprintf("output: 'standalone' copies %s into .next/standalone, the folder you deploy: keep secrets out of those files and inject them at runtime", strings.Join(shipped, " and "))})
	}
}
