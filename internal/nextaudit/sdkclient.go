package nextaudit

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// A provider SDK in browser code is a leak when its client calls the
// provider (the provider key must then be in the browser) or holds a key.
// It is keyward's browser pattern when the client is pointed at a gateway
// (a base URL that is not a provider's host) and holds a short-lived token
// fetched at run time: the browser then has nothing worth stealing. This
// file reads, from a module's tokens, the clients it makes and what their
// options say, and judges them.

// sdkAPI is how a provider SDK makes clients.
type sdkAPI struct {
	// ctors are the exports constructed with new ("default" is the
	// default export); factories the exports called. createAny makes
	// every create… export a factory.
	ctors, factories []string
	createAny        bool
	// base are the options that set the base URL, as the SDK spells
	// them: an option it does not read leaves the client on the provider.
	base []string
}

// sdkAPIs are the SDKs, other than the AI SDK's providers, whose clients
// the audit reads. The Stainless-built ones (openai, Anthropic, Groq)
// take baseURL; Mistral's takes serverURL.
var sdkAPIs = map[string]sdkAPI{
	"openai":               {ctors: []string{"default", "OpenAI"}, base: []string{"baseURL"}},
	"@anthropic-ai/sdk":    {ctors: []string{"default", "Anthropic"}, base: []string{"baseURL"}},
	"groq-sdk":             {ctors: []string{"default", "Groq"}, base: []string{"baseURL"}},
	"@mistralai/mistralai": {ctors: []string{"Mistral"}, base: []string{"serverURL"}},
}

// sdkAPIFor returns how a provider package makes clients. Every AI SDK
// provider package (@ai-sdk/openai, @ai-sdk/anthropic, …) makes them with
// create…({ baseURL, apiKey, headers }); its first versions spelled the
// option baseUrl.
func sdkAPIFor(pkg string) (sdkAPI, bool) {
	if api, ok := sdkAPIs[pkg]; ok {
		return api, true
	}
	if strings.HasPrefix(pkg, "@ai-sdk/") && providerPackage(pkg) == pkg {
		return sdkAPI{createAny: true, base: []string{"baseURL", "baseUrl"}}, true
	}
	return sdkAPI{}, false
}

func (api sdkAPI) ctor(name string) bool { return slices.Contains(api.ctors, name) }

func (api sdkAPI) factory(name string) bool {
	if api.createAny {
		rest, ok := strings.CutPrefix(name, "create")
		return ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z'
	}
	return slices.Contains(api.factories, name)
}

// neutralExport reports the exports of an SDK that hold no key and send
// nothing: error classes (for instanceof), upload helpers, prompt
// constants.
func neutralExport(name string) bool {
	return strings.HasSuffix(name, "Error") || name == "toFile" || name == "HUMAN_PROMPT" || name == "AI_PROMPT"
}

// allowBrowserBase are the base URL options looked for next to
// dangerouslyAllowBrowser, whichever SDK the object is given to.
var allowBrowserBase = []string{"baseURL", "baseUrl"}

// credentialOption reports options that may carry a credential: apiKey,
// authToken, adminAPIKey, webhookSecret, credentials, accessKeyId,
// sessionToken, and the headers and query parameters sent with every
// request.
func credentialOption(name string) bool {
	l := strings.ToLower(name)
	for _, w := range []string{"key", "token", "secret", "credential", "password", "auth", "headers", "query"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// clientOpts is what the options object of an SDK client says about
// where its requests go and what they carry.
type clientOpts struct {
	// Base is set when an option names a base URL (not undefined, null or
	// ""); BaseHost is the provider host it names, if any; BaseEnv are the
	// env variables it is built from, whose values may be in env files.
	Base     bool
	BaseHost string
	BaseEnv  []string
	// Creds are what the credential options are built from.
	Creds []credValue
	// Hidden is set when the options cannot all be seen: options that are
	// not an object literal of the module, or a spread of something else.
	Hidden bool
}

// credValue is an env variable or a string literal a credential option
// is built from.
type credValue struct {
	Option string
	// Env is the variable read ("process.env" for a computed name);
	// Literal, when Env is "", the literal's value.
	Env, Literal string
}

// sdkUse is how a module uses one provider package it imports.
type sdkUse struct {
	// Clients are the options of each client the module makes.
	Clients []clientOpts
	// Other is set when the module uses the package in a way the scan
	// does not follow: an import form it does not read (import "openai",
	// a re-export, a subpath's exports), the class or the module passed
	// as a value, the package's default provider instance (openai() of
	// @ai-sdk/openai), a client class it does not know (AzureOpenAI).
	Other bool
}

// tokRange is the tokens [from, to) of an expression.
type tokRange struct{ from, to int }

// sdkScan reads SDK clients and their options from a module's tokens.
type sdkScan struct {
	toks []token
	// aliases map local names to the env variable they hold.
	aliases map[string]string
	// consts are the initializers of const declarations by name; a name
	// declared in several scopes has several.
	consts map[string][]tokRange
	// resolved caches resolve.
	resolved map[string]resolution
}

func newSDKScan(toks []token, aliases map[string]string) *sdkScan {
	s := &sdkScan{toks: toks, aliases: aliases, consts: map[string][]tokRange{}, resolved: map[string]resolution{}}
	for i := range toks {
		if !toks[i].is(tokIdent, "const") {
			continue
		}
		// const a = 1, b = { … }; destructuring is left to aliases.
		k := i + 1
		for s.tok(k).Kind == tokIdent && s.tok(k+1).is(tokPunct, "=") {
			end := s.exprEnd(k + 2)
			s.consts[toks[k].Text] = append(s.consts[toks[k].Text], tokRange{k + 2, end})
			if !s.tok(end).is(tokPunct, ",") {
				break
			}
			k = end + 1
		}
	}
	return s
}

func (s *sdkScan) tok(i int) token { return tokAt(s.toks, i) }

// exprEnd returns the index of the token ending the expression that
// starts at from: a "," or ";" outside brackets, or the bracket closing
// an enclosing one.
func (s *sdkScan) exprEnd(from int) int {
	k := from
	for k < len(s.toks) {
		t := s.toks[k]
		if t.Kind == tokPunct {
			switch t.Text {
			case "(", "[", "{":
				k = closingBracket(s.toks, k) + 1
				continue
			case ",", ";", ")", "]", "}":
				return k
			}
		}
		k++
	}
	return len(s.toks)
}

// objectConst returns the index of the "{" of the object literal a const
// is initialized with, when the name has one declaration and it is that.
func (s *sdkScan) objectConst(name string) (int, bool) {
	rs := s.consts[name]
	if len(rs) != 1 || !s.tok(rs[0].from).is(tokPunct, "{") || closingBracket(s.toks, rs[0].from) != rs[0].to-1 {
		return 0, false
	}
	return rs[0].from, true
}

// props returns the properties of the object literal at toks[open] in
// source order, spreads of const object literals expanded, and whether a
// spread of anything else hides some.
func (s *sdkScan) props(open int, seen map[string]bool) ([]objProp, bool) {
	var out []objProp
	hidden := false
	for _, r := range objectItems(s.toks, open, closingBracket(s.toks, open)) {
		if !s.tok(r.from).is(tokPunct, "...") {
			if p, ok := itemProp(s.toks, r); ok {
				out = append(out, p)
			}
			continue
		}
		name := s.tok(r.from + 1).Text
		if o, ok := s.objectConst(name); ok && r.to == r.from+2 && s.tok(r.from+1).Kind == tokIdent && !seen[name] {
			seen[name] = true
			ps, h := s.props(o, seen)
			out = append(out, ps...)
			hidden = hidden || h
			continue
		}
		hidden = true
	}
	return out, hidden
}

// options reads the options object literal at toks[open]; base are the
// options that set the base URL. A later property overrides an earlier
// one of the same name, as in JavaScript.
func (s *sdkScan) options(open int, base []string) clientOpts {
	var o clientOpts
	ps, hidden := s.props(open, map[string]bool{})
	o.Hidden = hidden
	last := map[string]objProp{}
	var names []string
	for _, p := range ps {
		if _, ok := last[p.Name]; !ok {
			names = append(names, p.Name)
		}
		last[p.Name] = p
	}
	for _, name := range names {
		p := last[name]
		switch {
		case slices.Contains(base, name):
			if s.empty(p) {
				continue // baseURL: undefined falls back to the provider
			}
			o.Base = true
			envs, lits := s.value(p.From, p.To)
			for _, l := range lits {
				if h := providerHost(l); h != "" && o.BaseHost == "" {
					o.BaseHost = h
				}
			}
			o.BaseEnv = append(o.BaseEnv, envs...)
		case credentialOption(name):
			l := strings.ToLower(name)
			if (strings.Contains(l, "headers") || strings.Contains(l, "query")) &&
				s.tok(p.From).is(tokPunct, "{") && closingBracket(s.toks, p.From) == p.To-1 {
				// Headers and query parameters: only the credential ones
				// (Authorization, x-api-key, key) count.
				sub, hidden := s.props(p.From, map[string]bool{})
				o.Hidden = o.Hidden || hidden
				for _, q := range sub {
					if credentialOption(q.Name) {
						o.Creds = append(o.Creds, s.creds(name+"."+q.Name, q)...)
					}
				}
				continue
			}
			o.Creds = append(o.Creds, s.creds(name, p)...)
		}
	}
	return o
}

// creds returns what a credential option's value is built from.
func (s *sdkScan) creds(option string, p objProp) []credValue {
	var out []credValue
	envs, lits := s.value(p.From, p.To)
	for _, e := range envs {
		out = append(out, credValue{Option: option, Env: e})
	}
	for _, l := range lits {
		out = append(out, credValue{Option: option, Literal: l})
	}
	return out
}

// empty reports a property whose value is undefined, null, void 0 or "".
func (s *sdkScan) empty(p objProp) bool {
	switch p.To - p.From {
	case 1:
		t := s.tok(p.From)
		return t.is(tokIdent, "undefined") || t.is(tokIdent, "null") || t.is(tokString, "") || t.is(tokTemplate, "")
	case 2:
		return s.tok(p.From).is(tokIdent, "void") && s.tok(p.From+1).Kind == tokNumber
	}
	return false
}

// value returns the env variables read and the string literals used in
// toks[from:to], following local names to the env variable or the const
// initializer they hold.
func (s *sdkScan) value(from, to int) (envs, lits []string) {
	seen := map[string]bool{}
	for k := from; k < to && k < len(s.toks); k++ {
		t := s.toks[k]
		if name, next := envReadAt(s.toks, k); next != k {
			if name == "" {
				name = "process.env"
			}
			envs = appendNew(envs, name)
			k = next - 1
			continue
		}
		switch t.Kind {
		case tokString, tokTemplate:
			if t.Text != "" {
				lits = appendNew(lits, t.Text)
			}
		case tokIdent:
			if p := s.tok(k - 1); p.is(tokPunct, ".") || p.is(tokPunct, "?.") || seen[t.Text] {
				continue
			}
			seen[t.Text] = true
			if env := s.aliases[t.Text]; env != "" {
				envs = appendNew(envs, env)
				continue
			}
			e, l := s.resolve(t.Text)
			envs, lits = appendNew(envs, e...), appendNew(lits, l...)
		}
	}
	return envs, lits
}

// resolve returns the env variables and string literals a const's
// initializers are built from, computed once per name. A const holding a
// function is not followed: what a call returns is a run-time value, such
// as a token fetched from the app's token route.
func (s *sdkScan) resolve(name string) (envs, lits []string) {
	if r, ok := s.resolved[name]; ok {
		return r.envs, r.lits
	}
	s.resolved[name] = resolution{} // a cycle resolves to nothing
	for _, r := range s.consts[name] {
		if s.function(r) {
			continue
		}
		e, l := s.value(r.from, r.to)
		envs, lits = appendNew(envs, e...), appendNew(lits, l...)
	}
	s.resolved[name] = resolution{envs, lits}
	return envs, lits
}

// resolution is what resolve found for a name.
type resolution struct{ envs, lits []string }

// maxValues bounds what value keeps of an expression: enough for any
// options object, and linear time on generated code.
const maxValues = 256

// appendNew appends the items not in list yet, up to maxValues.
func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if len(list) < maxValues && !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// function reports an expression that is a function or a class: an arrow
// function, function or class expression.
func (s *sdkScan) function(r tokRange) bool {
	t := s.tok(r.from)
	if t.is(tokIdent, "function") || t.is(tokIdent, "class") || t.is(tokIdent, "async") && s.tok(r.from+1).is(tokIdent, "function") {
		return true
	}
	for k := r.from; k < r.to && k < len(s.toks); k++ {
		switch t := s.toks[k]; {
		case t.is(tokPunct, "=>"):
			return true
		case t.Kind == tokPunct && (t.Text == "(" || t.Text == "[" || t.Text == "{"):
			if c := closingBracket(s.toks, k); c > k {
				k = c
			}
		}
	}
	return false
}

// sdkBinding is a local name bound to an SDK's export: Name is the export
// ("default", "OpenAI"), "*" for an import namespace, "module" for what
// require returns (a CommonJS module: the client class, with the other
// exports as properties).
type sdkBinding struct {
	Pkg, Name string
}

// uses finds, for every SDK of sdkAPIFor the module imports, the clients
// it makes and whether it uses the SDK in ways the scan cannot follow.
func (s *sdkScan) uses() map[string]*sdkUse {
	out := map[string]*sdkUse{}
	use := func(pkg string) *sdkUse {
		if out[pkg] == nil {
			out[pkg] = &sdkUse{}
		}
		return out[pkg]
	}
	binds := map[string]sdkBinding{}
	decl := map[int]bool{} // tokens that declare a binding or name an export, not uses
	for i := range s.toks {
		spec, ok := s.importSpec(i)
		if !ok {
			continue
		}
		pkg := providerPackage(spec)
		if _, known := sdkAPIFor(pkg); !known {
			continue
		}
		names, ok := s.importBindings(i, decl)
		if !ok || spec != pkg && len(names) > 0 {
			use(pkg).Other = true
			continue
		}
		use(pkg)
		for local, name := range names {
			binds[local] = sdkBinding{pkg, name}
		}
	}
	used := map[string]bool{}
	for r, t := range s.toks {
		b, ok := binds[t.Text]
		if !ok || t.Kind != tokIdent || decl[r] {
			continue
		}
		if p := s.tok(r - 1); p.is(tokPunct, ".") || p.is(tokPunct, "?.") ||
			(p.is(tokPunct, "{") || p.is(tokPunct, ",")) && s.tok(r+1).is(tokPunct, ":") {
			continue // a property of something else, or an object key
		}
		used[t.Text] = true
		api, _ := sdkAPIFor(b.Pkg)
		args, made, ok := s.reference(r, b, api)
		switch {
		case !ok:
			use(b.Pkg).Other = true
		case made:
			use(b.Pkg).Clients = append(use(b.Pkg).Clients, s.clientAt(args, api))
		}
	}
	// An import is a fact even when nothing uses it yet: the SDK is in
	// the bundle, and the scan cannot say what it will be used for.
	for local, b := range binds {
		if !used[local] {
			use(b.Pkg).Other = true
		}
	}
	return out
}

// importSpec returns the specifier of an import, require, import() or
// re-export starting at toks[i].
func (s *sdkScan) importSpec(i int) (string, bool) {
	t := s.tok(i)
	switch {
	case (t.is(tokIdent, "require") || t.is(tokIdent, "import")) && s.tok(i+1).is(tokPunct, "(") && s.tok(i+2).Kind == tokString:
		return s.tok(i + 2).Text, !s.tok(i-1).is(tokPunct, ".")
	case t.is(tokIdent, "import") && s.tok(i+1).Kind == tokString:
		return s.tok(i + 1).Text, true
	case t.is(tokIdent, "import") && !s.tok(i+1).is(tokPunct, ".") && !s.tok(i-1).is(tokPunct, "."),
		t.is(tokIdent, "export") && !s.tok(i+1).is(tokIdent, "default"):
		end := i + 1
		for end < len(s.toks) && !s.tok(end).is(tokIdent, "from") && !s.tok(end).is(tokPunct, ";") && end-i < 200 {
			end++
		}
		if s.tok(end).is(tokIdent, "from") && s.tok(end+1).Kind == tokString {
			return s.tok(end + 1).Text, true
		}
	}
	return "", false
}

// importBindings returns the local names an import statement, require
// or import() at toks[i] binds and the exports they stand for, marking
// the tokens that declare them. ok is false for forms it does not read.
func (s *sdkScan) importBindings(i int, decl map[int]bool) (map[string]string, bool) {
	names := map[string]string{}
	bind := func(k int, name string) {
		names[s.toks[k].Text] = name
		decl[k] = true
	}
	t := s.tok(i)
	switch {
	case t.is(tokIdent, "export"), t.is(tokIdent, "import") && s.tok(i+1).Kind == tokString:
		return nil, false // a re-export, or import "openai" for its side effects
	case s.tok(i+1).is(tokPunct, "("):
		// const X = require("s"); const X = await import("s");
		// const { default: X, Y } = …; const X = require("s").Y;
		module := "module"
		if t.Text == "import" {
			module = "*"
		}
		after := i + 4
		if s.tok(after).is(tokPunct, ".") && s.tok(after+1).Kind == tokIdent {
			module = s.tok(after + 1).Text
			decl[after+1] = true
			after += 2
		}
		if !s.tok(after).is(tokPunct, ";") && !s.tok(after).is(tokPunct, ",") {
			return nil, false
		}
		j := i - 1
		if t.Text == "import" && s.tok(j).is(tokIdent, "await") {
			j--
		}
		if !s.tok(j).is(tokPunct, "=") {
			return nil, false
		}
		if s.tok(j-1).Kind == tokIdent && declKeyword(s.tok(j-2)) {
			bind(j-1, module)
			return names, true
		}
		if !s.tok(j-1).is(tokPunct, "}") || module != "module" && module != "*" {
			return nil, false
		}
		open := j - 1
		for depth := 0; open >= 0 && open > j-200; open-- {
			if s.toks[open].is(tokPunct, "}") {
				depth++
			} else if s.toks[open].is(tokPunct, "{") {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if open < 0 || !s.tok(open).is(tokPunct, "{") || !declKeyword(s.tok(open-1)) {
			return nil, false
		}
		for _, r := range objectItems(s.toks, open, j-1) {
			switch n := r.to - r.from; {
			case n == 1 && s.toks[r.from].Kind == tokIdent:
				bind(r.from, s.toks[r.from].Text)
			case n == 3 && s.tok(r.from+1).is(tokPunct, ":") && s.tok(r.from+2).Kind == tokIdent:
				decl[r.from] = true
				bind(r.from+2, s.toks[r.from].Text)
			case n > 2 && s.toks[r.from].Kind == tokIdent && s.tok(r.from+1).is(tokPunct, "="):
				bind(r.from, s.toks[r.from].Text)
			default:
				return nil, false // nested patterns, rest elements
			}
		}
		return names, true
	}
	// import D, { A, B as C, default as E } from "s"; import * as N from "s".
	end := i + 1
	for end < len(s.toks) && !s.tok(end).is(tokIdent, "from") {
		end++
	}
	k := i + 1
	if s.tok(k).Kind == tokIdent && !s.tok(k).is(tokIdent, "from") {
		bind(k, "default")
		k++
		if s.tok(k).is(tokPunct, ",") {
			k++
		}
	}
	switch {
	case s.tok(k).is(tokPunct, "*") && s.tok(k+1).is(tokIdent, "as") && s.tok(k+2).Kind == tokIdent:
		bind(k+2, "*")
		k += 3
	case s.tok(k).is(tokPunct, "{"):
		close := closingBracket(s.toks, k)
		for _, r := range objectItems(s.toks, k, close) {
			switch n := r.to - r.from; {
			case n == 1 && s.toks[r.from].Kind == tokIdent:
				bind(r.from, s.toks[r.from].Text)
			case n == 3 && s.tok(r.from+1).is(tokIdent, "as") && s.tok(r.from+2).Kind == tokIdent:
				decl[r.from] = true
				bind(r.from+2, s.toks[r.from].Text)
			default:
				return nil, false
			}
		}
		k = close + 1
	}
	return names, k == end
}

func declKeyword(t token) bool {
	return t.is(tokIdent, "const") || t.is(tokIdent, "let") || t.is(tokIdent, "var")
}

// reference classifies the use at toks[r] of a name bound to an SDK
// export: made reports a client construction (new OpenAI(…),
// createOpenAI(…), new sdk.OpenAI(…)) whose argument list opens at
// toks[args] (-1 when there is none); a use that is neither that nor
// neutral (instanceof, an error class) is not ok.
func (s *sdkScan) reference(r int, b sdkBinding, api sdkAPI) (args int, made, ok bool) {
	name, last := b.Name, r
	member := func(k int) bool {
		return (s.tok(k+1).is(tokPunct, ".") || s.tok(k+1).is(tokPunct, "?.")) && s.tok(k+2).Kind == tokIdent
	}
	switch {
	case (name == "*" || name == "module") && member(r):
		name, last = s.tok(r+2).Text, r+2
	case name == "*":
		return 0, false, false // the namespace passed around
	case name == "module":
		name = "default"
	}
	if member(last) {
		return 0, false, neutralExport(s.tok(last + 2).Text) // OpenAI.APIError
	}
	isNew := s.tok(r-1).is(tokIdent, "new")
	args = -1
	if s.tok(last+1).is(tokPunct, "(") {
		args = last + 1
	}
	switch {
	case isNew && api.ctor(name):
		return args, true, true
	case !isNew && args >= 0 && api.factory(name):
		return args, true, true
	case s.tok(r-1).is(tokIdent, "instanceof") || neutralExport(name):
		return 0, false, true
	}
	return 0, false, false
}

// clientAt reads the options of a client made with the argument list
// opening at toks[args]: an object literal, or a const holding one.
func (s *sdkScan) clientAt(args int, api sdkAPI) clientOpts {
	if args < 0 || s.tok(args+1).is(tokPunct, ")") {
		return clientOpts{} // new OpenAI(): the provider, and the key from the environment
	}
	first := args + 1
	if s.tok(first).is(tokPunct, "{") {
		return s.options(first, api.base)
	}
	if after := s.tok(first + 1); s.tok(first).Kind == tokIdent && (after.is(tokPunct, ")") || after.is(tokPunct, ",")) {
		if o, ok := s.objectConst(s.tok(first).Text); ok {
			return s.options(o, api.base)
		}
	}
	return clientOpts{Hidden: true}
}

// verdict is what the audit makes of a client's options.
type verdict int

const (
	// toProvider: no base URL, or a provider's: whatever key the client
	// sends is a provider key, in the browser.
	toProvider verdict = iota
	// holdsKey: a gateway base URL, but a credential is a key.
	holdsKey
	// unseen: a gateway base URL, but part of the options is hidden.
	unseen
	// viaGateway: a gateway base URL and no key in sight.
	viaGateway
)

// judge says where a client's requests go and whether it holds a key. In
// browser code every env read is a key (the build inlines it, or it is
// undefined); in server code only public ones are. why says which
// credential holds a key.
func (a *auditor) judge(c *appCtx, o clientOpts, browser bool) (v verdict, why string) {
	if !o.Base || c.baseProvider(o) != "" {
		return toProvider, ""
	}
	for _, cr := range o.Creds {
		if why := a.heldKey(cr, browser); why != "" {
			return holdsKey, why
		}
	}
	if o.Hidden {
		return unseen, ""
	}
	return viaGateway, ""
}

// heldKey says how a credential option holds a key, or "".
func (a *auditor) heldKey(cr credValue, browser bool) string {
	switch {
	case cr.Env != "" && publicPrefix(cr.Env) != "":
		return fmt.Sprintf("its %s reads %s, which the build inlines into the browser bundle", cr.Option, cr.Env)
	case cr.Env != "" && browser:
		return fmt.Sprintf("its %s reads %s: in browser code that is undefined unless the build inlines it, and then it is public", cr.Option, cr.Env)
	case cr.Env == "" && cr.Literal != "":
		if _, ok := a.ruleMatch(`apiKey = "` + cr.Literal + `"`); ok {
			return fmt.Sprintf("its %s is a key-shaped string literal, shipped in the browser bundle", cr.Option)
		}
	}
	return ""
}

// baseProvider returns the provider host a client's base URL names,
// written in the code or as the value of the env variable it reads in one
// of the app's env files.
func (c *appCtx) baseProvider(o clientOpts) string {
	if o.BaseHost != "" {
		return o.BaseHost
	}
	for _, name := range o.BaseEnv {
		for _, v := range c.envValues()[name] {
			if h := providerHost(v); h != "" {
				return h
			}
		}
	}
	return ""
}

// envValues returns the values the app's env files give each variable.
func (c *appCtx) envValues() map[string][]string {
	if c.env == nil {
		c.env = map[string][]string{}
		for _, dir := range c.appDirs() {
			for _, path := range envFiles(dir) {
				b, err := os.ReadFile(path)
				if err != nil {
					continue
				}
				for _, e := range ParseEnvFile(b) {
					c.env[e.Name] = append(c.env[e.Name], e.Value)
				}
			}
		}
	}
	return c.env
}

// sdkViaGateway reports whether a browser module uses a provider SDK only
// as keyward's browser pattern: every client it makes has a base URL that
// is not a provider's and no key, and it uses the SDK for nothing else
// than error classes. When not, why says which key a client holds, if
// that is the reason.
func (a *auditor) sdkViaGateway(c *appCtx, m *Module, pkg string) (ok bool, why string) {
	u := m.SDKs[pkg]
	if u == nil || u.Other {
		return false, ""
	}
	ok = true
	for _, cl := range u.Clients {
		v, w := a.judge(c, cl, true)
		if v != viaGateway {
			ok = false
			if v == holdsKey && why == "" {
				why = w
			}
		}
	}
	return ok, why
}
