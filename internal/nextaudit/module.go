package nextaudit

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// pos is a 1-based position in a module's original source.
type pos struct{ Line, Col int }

// envRead is a read of process.env.NAME (or import.meta.env.NAME).
type envRead struct {
	Name string
	pos
}

// strLit is a string or template literal.
type strLit struct {
	Value string
	pos
}

// propSecret is a secret env value passed to a JSX element as a prop.
type propSecret struct {
	Component string // the element's type: an identifier, or "input"
	Prop      string
	Env       string // the env variable whose value is passed
	Hidden    bool   // an <input type="hidden">
	pos
}

// allowBrowser is a dangerouslyAllowBrowser: true.
type allowBrowser struct {
	// clientOpts is what the object literal holding it says: its base
	// URL and credentials. A base URL that is not a provider host is a
	// gateway such as keyward, whose browser tokens are meant for this.
	clientOpts
	pos
}

// facts are what a module's code says, as far as the checks care.
type facts struct {
	EnvReads []envRead
	Strings  []strLit
	Allow    []allowBrowser
	Props    []propSecret
	// Binds are secret env values bound into functions with .bind().
	Binds []envRead
	// Imported maps local names to the specifiers they were imported from.
	Imported map[string]string
	// Idents is every identifier and property name used.
	Idents map[string]bool
	// Numbers is every numeric literal.
	Numbers map[string]bool
	// TypeOnly are import specifiers whose every static import binds only
	// types (import { type X } from "s"; esbuild prints it as
	// import {} from "s"): TypeScript and SWC erase it. ValueImports are
	// the specifiers imported for their values anywhere in the module
	// (static, re-exported, import() or require()).
	TypeOnly, ValueImports map[string]bool
	// Calls are the plain function names called (not methods).
	Calls map[string]bool
	// Gates are the places where the code stops a request unless the
	// caller is authenticated or within a rate limit.
	Gates []gate
	// Matcher is a middleware's config.matcher.
	Matcher middlewareMatcher
	// SDKs are the clients the module makes with the provider SDKs it
	// imports, by package (for the packages sdkAPIFor knows).
	SDKs map[string]*sdkUse
}

// Module is one source file of an app.
type Module struct {
	// Path is slash-separated, relative to the audited directory.
	Path string
	Abs  string
	Src  []byte
	// UseClient and UseServer are the module's directives.
	UseClient, UseServer bool
	// Imports are the module's import records from esbuild's metafile.
	Imports []Import
	// ParseErr is esbuild's complaint when it could not transform the
	// module; the module then has no facts.
	ParseErr string
	facts
}

// Import is one import of a module.
type Import struct {
	// Spec is the specifier as written; Path is the resolved module
	// (relative to the audited directory) unless External.
	Spec, Path string
	External   bool
	Kind       string
}

// posOf returns the 1-based position of the first import of spec in the
// original source (where the specifier appears in quotes), or 1:1.
func (m *Module) posOf(spec string) pos {
	for _, q := range []string{`"`, `'`, "`"} {
		if i := bytes.Index(m.Src, []byte(q+spec+q)); i >= 0 {
			ls := bytes.LastIndexByte(m.Src[:i], '\n') + 1
			return pos{bytes.Count(m.Src[:i], []byte{'\n'}) + 1, i - ls + 1}
		}
	}
	return pos{1, 1}
}

// line returns the text of a 1-based line of the original source.
func (m *Module) line(n int) string {
	return sourceLine(m.Src, n)
}

func sourceLine(src []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return ""
		}
		src = src[j+1:]
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return string(src)
}

// loaderFor picks esbuild's loader by file extension. Plain .js files may
// hold JSX in Next.js apps.
func loaderFor(path string) api.Loader {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".ts", ".mts", ".cts":
		return api.LoaderTS
	case ".tsx":
		return api.LoaderTSX
	}
	return api.LoaderJSX
}

// analyze reads what the checks need from a module's source: esbuild
// strips types and turns JSX into calls, the token scan below reads the
// result, and the source map takes positions back to the original.
func analyze(m *Module) {
	m.UseClient = hasDirective(m.Src, "use client")
	m.UseServer = hasDirective(m.Src, "use server")
	r := api.Transform(string(m.Src), api.TransformOptions{
		Loader:     loaderFor(m.Abs),
		JSX:        api.JSXAutomatic,
		Sourcemap:  api.SourceMapExternal,
		Sourcefile: m.Path,
		LogLevel:   api.LogLevelSilent,
		// Keep imports that TypeScript would drop as unused: an import is
		// a fact even when nothing uses it yet.
		TsconfigRaw: `{"compilerOptions":{"verbatimModuleSyntax":true}}`,
	})
	if len(r.Errors) > 0 {
		m.ParseErr = r.Errors[0].Text
		if l := r.Errors[0].Location; l != nil {
			m.ParseErr = strings.TrimSpace(m.ParseErr + " (line " + strconv.Itoa(l.Line) + ")")
		}
		return
	}
	code := string(r.Code)
	lm := parseSourceMap(r.Map, code)
	m.facts = scanFacts(lexJS(code), func(off int) pos {
		l, c := lm.original(off)
		return pos{l, c}
	})
}

var jsxCall = regexp.MustCompile(`^_?jsxs?(DEV)?\d*$|^createElement$`)

// scanFacts reads facts from tokens; at maps a token offset to its
// original position.
func scanFacts(toks []token, at func(int) pos) facts {
	f := facts{Imported: map[string]string{}, Idents: map[string]bool{}, Numbers: map[string]bool{}, Calls: map[string]bool{},
		TypeOnly: map[string]bool{}, ValueImports: map[string]bool{}}
	f.Gates = scanGates(toks, at)
	f.Matcher = scanMatcher(toks)
	tok := func(i int) token { return tokAt(toks, i) }
	// aliases maps local names to the env variable they were assigned
	// from: const key = process.env.OPENAI_API_KEY.
	aliases := map[string]string{}
	envAt := func(i int) (string, int) { return envReadAt(toks, i) }
	// allowOpen are the object literals holding dangerouslyAllowBrowser:
	// true (-1 when it is not in one), read once aliases are complete.
	var allowOpen []int
	// secretIn returns the secret env variables read (directly or through
	// an alias) in toks[from:to].
	secretIn := func(from, to int) []string {
		var out []string
		for k := from; k < to && k < len(toks); k++ {
			if name, _ := envAt(k); name != "" && isSecretName(name) && publicPrefix(name) == "" {
				out = append(out, name)
				continue
			}
			// The whole of process.env, every server variable at once.
			if tok(k).is(tokIdent, "process") && tok(k+1).is(tokPunct, ".") && tok(k+2).is(tokIdent, "env") &&
				!tok(k+3).is(tokPunct, ".") && !tok(k+3).is(tokPunct, "?.") && !tok(k+3).is(tokPunct, "[") {
				out = append(out, "process.env")
				k += 2
				continue
			}
			if t := tok(k); t.Kind == tokIdent && aliases[t.Text] != "" && !tok(k-1).is(tokPunct, ".") && !tok(k+1).is(tokPunct, ":") {
				out = append(out, aliases[t.Text])
			}
		}
		return out
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.Kind {
		case tokIdent:
			f.Idents[t.Text] = true
			if tok(i+1).is(tokPunct, "(") && !tok(i-1).is(tokPunct, ".") && !tok(i-1).is(tokPunct, "?.") {
				f.Calls[t.Text] = true
			}
		case tokNumber:
			f.Numbers[t.Text] = true
		case tokString, tokTemplate:
			f.Strings = append(f.Strings, strLit{t.Text, at(t.Off)})
		}

		// Imports: import X from "s"; import { a as b } from "s";
		// import * as N from "s".
		if t.is(tokIdent, "import") && !tok(i+1).is(tokPunct, ".") && !tok(i+1).is(tokPunct, "(") {
			end := i + 1
			for end < len(toks) && !tok(end).is(tokIdent, "from") && tok(end).Kind != tokString && end-i < 200 {
				end++
			}
			if tok(end).is(tokIdent, "from") && tok(end+1).Kind == tokString {
				spec := tok(end + 1).Text
				if end == i+3 && tok(i+1).is(tokPunct, "{") && tok(i+2).is(tokPunct, "}") {
					f.TypeOnly[spec] = true
				} else {
					f.ValueImports[spec] = true
				}
				for k := i + 1; k < end; k++ {
					c := tok(k)
					if c.Kind != tokIdent || c.Text == "type" || c.Text == "as" {
						continue
					}
					if tok(k+1).is(tokIdent, "as") {
						continue // the imported name; the local one follows "as"
					}
					f.Imported[c.Text] = spec
				}
			}
		}

		// import "s" (side effects), import("s"), require("s"),
		// export … from "s".
		if (t.is(tokIdent, "import") && tok(i+1).Kind == tokString) ||
			((t.is(tokIdent, "import") || t.is(tokIdent, "require")) && tok(i+1).is(tokPunct, "(") && tok(i+2).Kind == tokString) {
			f.ValueImports[tok(i+1+btoi(tok(i+1).is(tokPunct, "("))).Text] = true
		}
		if t.is(tokIdent, "export") && !tok(i+1).is(tokIdent, "default") {
			end := i + 1
			for end < len(toks) && !tok(end).is(tokIdent, "from") && !tok(end).is(tokPunct, ";") && end-i < 200 {
				end++
			}
			if tok(end).is(tokIdent, "from") && tok(end+1).Kind == tokString {
				spec := tok(end + 1).Text
				if end == i+3 && tok(i+1).is(tokPunct, "{") && tok(i+2).is(tokPunct, "}") {
					f.TypeOnly[spec] = true
				} else {
					f.ValueImports[spec] = true
				}
			}
		}

		// Env reads.
		if name, next := envAt(i); name != "" {
			f.EnvReads = append(f.EnvReads, envRead{name, at(t.Off)})
			// const key = process.env.X → alias.
			if tok(i-1).is(tokPunct, "=") && tok(i-2).Kind == tokIdent &&
				(tok(i-3).is(tokIdent, "const") || tok(i-3).is(tokIdent, "let") || tok(i-3).is(tokIdent, "var") || tok(i-3).is(tokPunct, ",")) {
				aliases[tok(i-2).Text] = name
			}
			i = next - 1
			continue
		}
		// const { A, B: b } = process.env → reads of A and B.
		if t.is(tokPunct, "=") && tok(i-1).is(tokPunct, "}") &&
			(tok(i+1).is(tokIdent, "process") && tok(i+2).is(tokPunct, ".") && tok(i+3).is(tokIdent, "env") && !tok(i+4).is(tokPunct, ".") && !tok(i+4).is(tokPunct, "[")) {
			depth := 0
			for k := i - 1; k >= 0; k-- {
				c := toks[k]
				if c.is(tokPunct, "}") {
					depth++
				} else if c.is(tokPunct, "{") {
					depth--
					if depth == 0 {
						break
					}
				}
				if depth == 1 && c.Kind == tokIdent && (tok(k-1).is(tokPunct, "{") || tok(k-1).is(tokPunct, ",")) {
					f.EnvReads = append(f.EnvReads, envRead{c.Text, at(c.Off)})
					local := c.Text
					if tok(k+1).is(tokPunct, ":") && tok(k+2).Kind == tokIdent {
						local = tok(k + 2).Text
					}
					aliases[local] = c.Text
				}
			}
		}

		// dangerouslyAllowBrowser: true
		if (t.Kind == tokIdent || t.Kind == tokString) && t.Text == "dangerouslyAllowBrowser" &&
			tok(i+1).is(tokPunct, ":") && (tok(i+2).is(tokIdent, "true") || tok(i+2).is(tokPunct, "!") && tok(i+3).is(tokNumber, "0")) {
			f.Allow = append(f.Allow, allowBrowser{pos: at(t.Off)})
			// The enclosing object literal says where the client goes.
			depth := 0
			open := -1
			for k := i - 1; k >= 0; k-- {
				c := toks[k]
				if c.is(tokPunct, "}") || c.is(tokPunct, ")") || c.is(tokPunct, "]") {
					depth++
				} else if c.is(tokPunct, "{") || c.is(tokPunct, "(") || c.is(tokPunct, "[") {
					if depth == 0 {
						open = k
						break
					}
					depth--
				}
			}
			if open >= 0 && toks[open].Text != "{" {
				open = -1
			}
			allowOpen = append(allowOpen, open)
		}

		// JSX: jsx(Component, { prop: value }) and createElement.
		if t.Kind == tokIdent && jsxCall.MatchString(t.Text) && tok(i+1).is(tokPunct, "(") {
			comp := tok(i + 2)
			k := i + 3
			for tok(k).is(tokPunct, ".") && tok(k+1).Kind == tokIdent { // ui.Chat
				comp = tok(k + 1)
				k += 2
			}
			if (comp.Kind == tokIdent || comp.Kind == tokString) && tok(k).is(tokPunct, ",") && tok(k+1).is(tokPunct, "{") {
				open := k + 1
				ps := objectProps(toks, open, closingBracket(toks, open))
				hidden := false
				if comp.Kind == tokString && comp.Text == "input" {
					for _, p := range ps {
						if p.Name == "type" && p.To == p.From+1 && tok(p.From).Kind == tokString && strings.EqualFold(tok(p.From).Text, "hidden") {
							hidden = true
						}
					}
				}
				for _, p := range ps {
					if comp.Kind == tokString && !hidden {
						continue // a DOM element's attribute renders on the server
					}
					for _, env := range secretIn(p.From, p.To) {
						f.Props = append(f.Props, propSecret{Component: comp.Text, Prop: p.Name, Env: env, Hidden: hidden, pos: at(tok(p.From).Off)})
					}
				}
			}
		}

		// fn.bind(null, process.env.SECRET)
		if t.is(tokPunct, ".") && tok(i+1).is(tokIdent, "bind") && tok(i+2).is(tokPunct, "(") {
			end := closingBracket(toks, i+2)
			for _, env := range secretIn(i+3, end) {
				f.Binds = append(f.Binds, envRead{env, at(tok(i + 1).Off)})
			}
		}
	}
	sc := newSDKScan(toks, aliases)
	for k, open := range allowOpen {
		if open >= 0 {
			f.Allow[k].clientOpts = sc.options(open, allowBrowserBase)
		}
	}
	f.SDKs = sc.uses()
	return f
}

// tokAt returns toks[i], or the zero token when i is out of range.
func tokAt(toks []token, i int) token {
	if i < 0 || i >= len(toks) {
		return token{}
	}
	return toks[i]
}

// envReadAt reports the env variable read at toks[i] (process.env.NAME,
// process.env["NAME"], import.meta.env.NAME), and the index after the
// read. A read with a computed name returns "" and the index after
// "process.env".
func envReadAt(toks []token, i int) (string, int) {
	tok := func(i int) token { return tokAt(toks, i) }
	var j int
	switch {
	case tok(i).is(tokIdent, "process") && tok(i+1).is(tokPunct, ".") && tok(i+2).is(tokIdent, "env"):
		j = i + 3
	case tok(i).is(tokIdent, "import") && tok(i+1).is(tokPunct, ".") && tok(i+2).is(tokIdent, "meta") &&
		tok(i+3).is(tokPunct, ".") && tok(i+4).is(tokIdent, "env"):
		j = i + 5
	default:
		return "", i
	}
	switch {
	case (tok(j).is(tokPunct, ".") || tok(j).is(tokPunct, "?.")) && tok(j+1).Kind == tokIdent:
		return tok(j + 1).Text, j + 2
	case tok(j).is(tokPunct, "[") && tok(j+1).Kind == tokString && tok(j+2).is(tokPunct, "]"):
		return tok(j + 1).Text, j + 3
	}
	return "", j
}

// closingBracket returns the index of the bracket closing the one at
// toks[i] (or the last token when it is not closed).
func closingBracket(toks []token, i int) int {
	if i < 0 || i >= len(toks) || toks[i].Kind != tokPunct || toks[i].Text != "(" && toks[i].Text != "[" && toks[i].Text != "{" {
		return i
	}
	depth := 0
	for k := i; k < len(toks); k++ {
		if toks[k].Kind != tokPunct {
			continue
		}
		switch toks[k].Text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return len(toks) - 1
}

// objProp is one top-level property of an object literal: its name and
// the tokens [From, To) of its value.
type objProp struct {
	Name     string
	From, To int
}

// objectProps splits the object literal toks[open:close] into its
// top-level properties. Spreads and computed keys are skipped.
func objectProps(toks []token, open, close int) []objProp {
	var out []objProp
	for _, r := range objectItems(toks, open, close) {
		if p, ok := itemProp(toks, r); ok {
			out = append(out, p)
		}
	}
	return out
}

// objectItems splits the inside of the brackets toks[open:close] (an
// object literal, a destructuring pattern, an import clause) into its
// comma-separated items. An item is never empty.
func objectItems(toks []token, open, close int) []tokRange {
	var out []tokRange
	k := open + 1
	for k < close && k < len(toks) {
		end := k
		for end < close && end < len(toks) {
			t := toks[end]
			if t.Kind == tokPunct && (t.Text == "(" || t.Text == "[" || t.Text == "{") {
				end = closingBracket(toks, end) + 1
				continue
			}
			if t.is(tokPunct, ",") {
				break
			}
			end++
		}
		if end > k {
			out = append(out, tokRange{k, min(end, len(toks))})
		}
		k = end + 1
	}
	return out
}

// itemProp reads an object literal item as a property: key: value, or a
// shorthand name.
func itemProp(toks []token, r tokRange) (objProp, bool) {
	t := toks[r.from]
	switch {
	case (t.Kind == tokIdent || t.Kind == tokString) && r.from+1 < len(toks) && toks[r.from+1].is(tokPunct, ":"):
		return objProp{t.Text, r.from + 2, r.to}, true
	case t.Kind == tokIdent && r.from+1 == r.to:
		return objProp{t.Text, r.from, r.to}, true // shorthand
	}
	return objProp{}, false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
