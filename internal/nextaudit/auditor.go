package nextaudit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/rules"
)

// auditor runs the checks over one project and collects findings.
type auditor struct {
	ctx      context.Context
	proj     *Project
	opt      Options
	det      *detect.Detector
	findings []Finding
	// notes are problems that did not stop the audit (unparsable
	// modules, git missing), for the report's footer.
	notes []string
	files map[string][]byte // original contents by path, for inline ignores
	// firebaseKeys are Google API keys found in Firebase-named public env
	// variables: public by design, so low severity in the build output too.
	firebaseKeys map[string]bool
}

func newAuditor(ctx context.Context, proj *Project, opt Options) *auditor {
	return &auditor{ctx: ctx, proj: proj, opt: opt, det: detect.New(rules.All()), files: map[string][]byte{},
		firebaseKeys: map[string]bool{}}
}

// rel returns an absolute path relative to the project root, slash-separated.
func (a *auditor) rel(abs string) string {
	r, err := filepath.Rel(a.proj.Root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(r)
}

func (a *auditor) add(f Finding) { a.findings = append(a.findings, f) }

// appCtx is one app under audit: its modules and import graph.
type appCtx struct {
	*App
	modules map[string]*Module // by path relative to the project root
	// client maps modules that end up in the browser to the chain of
	// modules that brought them there, starting at a client entry.
	client map[string][]string
	// env holds the values the app's env files give each variable, read
	// when first needed (envValues).
	env map[string][]string
}

func (a *auditor) auditApp(app *App) error {
	nested := map[string]bool{}
	for _, other := range a.proj.Apps {
		if other != app && strings.HasPrefix(other.Dir, app.Dir+string(filepath.Separator)) {
			nested[other.Dir] = true
		}
	}
	srcs, err := sourceFiles(app, nested)
	if err != nil {
		return err
	}
	c := &appCtx{App: app, modules: map[string]*Module{}}
	if len(srcs) > 0 {
		graph, problems, err := importGraph(a.proj.Root, app, srcs)
		if err != nil {
			a.notes = append(a.notes, fmt.Sprintf("%s: import graph unavailable: %v", app.Rel, err))
			graph = map[string][]Import{}
			for _, s := range srcs {
				graph[a.rel(s)] = nil
			}
		}
		for _, p := range problems {
			a.notes = append(a.notes, "esbuild could not parse "+p)
		}
		for path, imps := range graph {
			if err := a.ctx.Err(); err != nil {
				return err
			}
			abs := filepath.Join(a.proj.Root, filepath.FromSlash(path))
			src, err := os.ReadFile(abs)
			if err != nil {
				continue
			}
			m := &Module{Path: path, Abs: abs, Src: src, Imports: imps}
			analyze(m)
			c.modules[path] = m
			a.files[path] = src
		}
	}
	c.client = a.clientModules(c)

	a.checkPublicEnvInCode(c)
	a.checkClientProviderAccess(c)
	a.checkDangerouslyAllow(c)
	a.checkMissingServerOnly(c)
	a.checkSecretToClient(c)
	a.checkUnprotectedRoutes(c)
	a.checkEnvFiles(c)
	a.checkNextConfig(c)
	a.checkEnvFilesInGit(c)
	a.checkDeployment(c)
	a.checkNextVersion(c)
	return a.checkBuildOutput(c)
}

// appPath returns a module's path relative to its app.
func (c *appCtx) appPath(m *Module) (string, bool) {
	r, err := filepath.Rel(c.Dir, m.Abs)
	if err != nil || strings.HasPrefix(r, "..") {
		return "", false
	}
	return filepath.ToSlash(r), true
}

var (
	pagesFile = regexp.MustCompile(`^(src/)?pages/`)
	pagesAPI  = regexp.MustCompile(`^(src/)?pages/api/`)
	routeFile = regexp.MustCompile(`^(src/)?app/(.*/)?route\.(js|jsx|ts|tsx|mjs|mts)$`)
	pagesDoc  = regexp.MustCompile(`^(src/)?pages/_document\.`)
	// middlewareFile is middleware.ts, which Next.js 16 renames proxy.ts.
	middlewareFile = regexp.MustCompile(`^(src/)?(middleware|proxy)\.(js|ts|mjs|mts)$`)
)

// isClientEntry reports modules that start client code: 'use client'
// modules, and Pages Router pages (which are bundled for the browser)
// except API routes, _document and pages with server data functions,
// whose imports Next.js may strip from the client bundle.
func (c *appCtx) isClientEntry(m *Module) bool {
	if m.UseClient {
		return true
	}
	p, ok := c.appPath(m)
	if !ok || !pagesFile.MatchString(p) || pagesAPI.MatchString(p) || pagesDoc.MatchString(p) {
		return false
	}
	for _, fn := range []string{"getServerSideProps", "getStaticProps", "getStaticPaths", "getInitialProps"} {
		if m.Idents[fn] {
			return false
		}
	}
	return true
}

// importsServerOnly reports whether a module imports "server-only".
func importsServerOnly(m *Module) bool {
	return slices.ContainsFunc(m.Imports, func(i Import) bool { return i.External && i.Spec == "server-only" })
}

// clientModules follows the import graph from every client entry. It does
// not enter 'use server' modules (a client gets references to Server
// Actions, not their code) nor modules importing server-only (the build
// fails instead of leaking).
func (a *auditor) clientModules(c *appCtx) map[string][]string {
	out := map[string][]string{}
	var queue []string
	paths := make([]string, 0, len(c.modules))
	for p := range c.modules {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if c.isClientEntry(c.modules[p]) {
			out[p] = []string{p}
			queue = append(queue, p)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, im := range c.modules[p].Imports {
			if im.External || im.Path == "" {
				continue
			}
			m, ok := c.modules[im.Path]
			if !ok || m.UseServer || importsServerOnly(m) {
				continue
			}
			if _, seen := out[im.Path]; seen {
				continue
			}
			out[im.Path] = append(slices.Clip(out[p]), im.Path)
			queue = append(queue, im.Path)
		}
	}
	return out
}

// chain describes how a module reached the client.
func chain(path []string) string {
	if len(path) == 1 {
		return path[0] + " is a client module"
	}
	return "reached from client module " + strings.Join(path, " → ")
}

// sortedModules returns an app's modules in path order.
func (c *appCtx) sortedModules() []*Module {
	out := make([]*Module, 0, len(c.modules))
	for _, m := range c.modules {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *Module) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// checkPublicEnvInCode (check 1, code): process.env.NEXT_PUBLIC_*_KEY and
// friends anywhere in the code; Next.js inlines them into client bundles.
func (a *auditor) checkPublicEnvInCode(c *appCtx) {
	for _, m := range c.sortedModules() {
		for _, r := range m.EnvReads {
			if p := publicPrefix(r.Name); p != "" && isSecretName(r.Name) {
				a.add(Finding{CheckID: CheckPublicEnvSecret, Severity: High, Path: m.Path, Line: r.Line, Column: r.Col, App: c.Rel,
					Subject: "env:" + r.Name,
					Message: fmt.Sprintf("%s is read here: the %s prefix makes the build inline its value into the client bundle, and the name says it is a secret", r.Name, p)})
			}
		}
	}
}

// checkClientProviderAccess (check 4): client modules and everything they
// import must not import a provider SDK, call a provider host, or read a
// server secret.
func (a *auditor) checkClientProviderAccess(c *appCtx) {
	for _, m := range c.sortedModules() {
		path, ok := c.client[m.Path]
		if !ok {
			continue
		}
		how := chain(path)
		for _, im := range m.Imports {
			if !im.External {
				continue
			}
			if m.TypeOnly[im.Spec] && !m.ValueImports[im.Spec] {
				continue // import { type X } from "openai": erased by the compiler
			}
			if pkg := providerPackage(im.Spec); pkg != "" {
				// keyward's browser pattern: a client pointed at a gateway,
				// holding a short-lived token, not a key.
				ok, why := a.sdkViaGateway(c, m, pkg)
				if ok {
					continue
				}
				msg := fmt.Sprintf("imports the provider SDK %s in browser code (%s): the call, and the key it needs, run in the browser", pkg, how)
				if why != "" {
					msg = fmt.Sprintf("imports the provider SDK %s in browser code (%s): its client calls a gateway, but %s", pkg, how, why)
				}
				at := m.posOf(im.Spec)
				a.add(Finding{CheckID: CheckClientProviderAccess, Severity: High, Path: m.Path, Line: at.Line, Column: at.Col, App: c.Rel,
					Subject: "import:" + pkg, Message: msg})
			}
		}
		creds := sendsCredentials(m.facts)
		for _, s := range m.Strings {
			h := providerHost(s.Value)
			if h == "" || rules.IsPlaceholder(s.Value) {
				continue // "https://your-resource.openai.azure.com" is a hint, not a call
			}
			f := Finding{CheckID: CheckClientProviderAccess, Severity: High, Path: m.Path, Line: s.Line, Column: s.Col, App: c.Rel,
				Subject: "host:" + h,
				Message: fmt.Sprintf("calls the provider API %s from browser code (%s): the request needs the provider key in the browser", h, how)}
			if !creds {
				f.Severity = Low
				f.Message = fmt.Sprintf("calls the provider API %s from browser code (%s), with no credentials in sight: fine for a public endpoint, a leak if a key is added later", h, how)
			}
			a.add(f)
		}
		if !c.isClientEntry(m) {
			continue // secrets read by imported modules are missing-server-only findings
		}
		for _, r := range m.EnvReads {
			if publicPrefix(r.Name) == "" && isSecretName(r.Name) {
				a.add(Finding{CheckID: CheckClientProviderAccess, Severity: High, Path: m.Path, Line: r.Line, Column: r.Col, App: c.Rel,
					Subject: "env:" + r.Name,
					Message: fmt.Sprintf("reads the server secret %s in browser code (%s): it is undefined there unless something inlines it, and then it is public", r.Name, how)})
			}
		}
	}
}

// sendsCredentials reports whether a module sets credentials on requests:
// an Authorization or API-key header, a bearer token, an apiKey option or
// a key query parameter.
func sendsCredentials(f facts) bool {
	for id := range f.Idents {
		switch strings.ToLower(id) {
		case "apikey", "authorization", "authtoken", "bearer", "accesstoken":
			return true
		}
	}
	for _, s := range f.Strings {
		l := strings.ToLower(s.Value)
		for _, w := range []string{"authorization", "x-api-key", "api-key", "bearer ", "?key=", "&key="} {
			if strings.Contains(l, w) {
				return true
			}
		}
	}
	return false
}

// checkDangerouslyAllow (check 5): dangerouslyAllowBrowser: true anywhere,
// except in keyward's browser pattern: a base URL that is not a provider's
// and no key in the options.
func (a *auditor) checkDangerouslyAllow(c *appCtx) {
	for _, m := range c.sortedModules() {
		_, browser := c.client[m.Path]
		for _, al := range m.Allow {
			f := Finding{CheckID: CheckDangerouslyAllow, Severity: High, Path: m.Path, Line: al.Line, Column: al.Col, App: c.Rel,
				Subject: "dangerouslyAllowBrowser",
				Message: "dangerouslyAllowBrowser: true lets the SDK run in the browser, where its API key is readable by anyone"}
			switch v, why := a.judge(c, al.clientOpts, browser); v {
			case viaGateway:
				continue
			case holdsKey:
				f.Message = "dangerouslyAllowBrowser: true with a custom baseURL, but " + why + ": a key in the browser is readable by anyone, whatever the baseURL"
			case unseen:
				f.Severity = Low
				f.Message = "dangerouslyAllowBrowser: true with a custom baseURL: safe only if the apiKey is a short-lived, origin-bound token (a keyward browser token), never a provider or long-lived key"
			}
			a.add(f)
		}
	}
}

// secretReads returns the non-public secret env variables a module reads
// and the first such read.
func secretReads(m *Module) ([]string, pos) {
	var names []string
	var first pos
	for _, r := range m.EnvReads {
		if publicPrefix(r.Name) != "" || !isSecretName(r.Name) {
			continue
		}
		if len(names) == 0 {
			first = r.pos
		}
		if !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	return names, first
}

// checkMissingServerOnly (check 6): a module that reads secrets, is
// imported by a client module and does not import server-only.
func (a *auditor) checkMissingServerOnly(c *appCtx) {
	for _, m := range c.sortedModules() {
		path, ok := c.client[m.Path]
		if !ok || c.isClientEntry(m) {
			continue
		}
		names, first := secretReads(m)
		if len(names) == 0 {
			continue
		}
		a.add(Finding{CheckID: CheckMissingServerOnly, Severity: Medium, Path: m.Path, Line: first.Line, Column: first.Col, App: c.Rel,
			Subject: "module",
			Message: fmt.Sprintf("reads %s but has no import 'server-only' and is %s; with server-only the build would fail instead of shipping this module to browsers",
				strings.Join(names, ", "), chain(path))})
	}
}

// checkSecretToClient (check 7): a Server Component passing a secret env
// value to a Client Component as a prop, into a hidden input, or binding it
// into a Server Action.
func (a *auditor) checkSecretToClient(c *appCtx) {
	for _, m := range c.sortedModules() {
		if _, isClient := c.client[m.Path]; isClient {
			continue
		}
		for _, p := range m.Props {
			if p.Hidden {
				a.add(Finding{CheckID: CheckSecretToClient, Severity: Critical, Path: m.Path, Line: p.Line, Column: p.Col, App: c.Rel,
					Subject: "input:" + p.Env,
					Message: fmt.Sprintf("renders %s into a hidden <input>: its value is in the HTML sent to every visitor", p.Env)})
				continue
			}
			target := c.importedModule(m, p.Component)
			if target == nil || !target.UseClient {
				continue
			}
			a.add(Finding{CheckID: CheckSecretToClient, Severity: Critical, Path: m.Path, Line: p.Line, Column: p.Col, App: c.Rel,
				Subject: "prop:" + p.Component + "." + p.Prop + ":" + p.Env,
				Message: fmt.Sprintf("passes %s as the %s prop of the Client Component %s (%s): props are serialized into the page for the browser",
					p.Env, p.Prop, p.Component, target.Path)})
		}
		for _, b := range m.Binds {
			a.add(Finding{CheckID: CheckSecretToClient, Severity: Critical, Path: m.Path, Line: b.Line, Column: b.Col, App: c.Rel,
				Subject: "bind:" + b.Name,
				Message: fmt.Sprintf("binds %s into a function with .bind(): arguments bound to a Server Action are sent to the browser and back, unencrypted", b.Name)})
		}
	}
}

// importedModule returns the module a local name was imported from.
func (c *appCtx) importedModule(m *Module, local string) *Module {
	spec, ok := m.Imported[local]
	if !ok {
		return nil
	}
	for _, im := range m.Imports {
		if im.Spec == spec && !im.External {
			return c.modules[im.Path]
		}
	}
	return nil
}

// apiGate reports whether a module gates its responses: an auth or
// rate-limit gate that ends in a 401/403/429 (a redirect gates pages, not
// an API response).
func apiGate(f facts) bool {
	for _, g := range f.Gates {
		if !g.Redirect {
			return true
		}
	}
	return false
}

// helperGate reports whether a module calls a function imported from a
// local module that itself gates (requireUser() in lib/auth.ts that
// throws unauthorized()), and which one.
func (c *appCtx) helperGate(m *Module) string {
	for name := range m.Calls {
		if target := c.importedModule(m, name); target != nil && apiGate(target.facts) {
			return name
		}
	}
	return ""
}

var handlerExport = regexp.MustCompile(`(?m)^\s*export\s+(default\s+)?(async\s+)?(function\s*\*?\s*(GET|POST|PUT|PATCH|DELETE|handler)?\b|const\s+(GET|POST|PUT|PATCH|DELETE)\b)`)

// checkUnprotectedRoutes (check 8): Route Handlers and API routes that
// reach a provider (through any module they import) with no gate: an auth
// or rate-limit call whose result decides an early 401/403/429 in the
// handler itself (or in a local helper it calls), or a middleware/proxy
// that checks auth and whose matcher covers the route.
func (a *auditor) checkUnprotectedRoutes(c *appCtx) {
	var middleware []*Module
	for _, m := range c.sortedModules() {
		if p, ok := c.appPath(m); ok && middlewareFile.MatchString(p) {
			middleware = append(middleware, m)
		}
	}
	for _, m := range c.sortedModules() {
		p, ok := c.appPath(m)
		if !ok || !routeFile.MatchString(p) && !pagesAPI.MatchString(p) {
			continue
		}
		url := routeURL(p)
		guarded := apiGate(m.facts) || c.helperGate(m) != ""
		var uncovered []string // middleware that checks auth but does not run for this route
		for _, mw := range middleware {
			if len(mw.Gates) == 0 {
				continue
			}
			if mw.Matcher.covers(url) {
				guarded = true
			} else {
				uncovered = append(uncovered, mw.Path)
			}
		}
		provider := ""
		// Follow the handler's own imports (server side).
		seen := map[string]bool{m.Path: true}
		queue := []*Module{m}
		for len(queue) > 0 && provider == "" {
			cur := queue[0]
			queue = queue[1:]
			for _, im := range cur.Imports {
				if im.External {
					if pkg := providerPackage(im.Spec); pkg != "" {
						provider = pkg
					}
					continue
				}
				if next, ok := c.modules[im.Path]; ok && !seen[im.Path] {
					seen[im.Path] = true
					queue = append(queue, next)
				}
			}
			for _, s := range cur.Strings {
				if h := providerHost(s.Value); h != "" && provider == "" {
					provider = h
				}
			}
		}
		if provider == "" || guarded {
			continue
		}
		line := 1
		if loc := handlerExport.FindIndex(m.Src); loc != nil {
			line = strings.Count(string(m.Src[:loc[0]]), "\n") + 1
			for line <= len(m.Src) && strings.TrimSpace(m.line(line)) == "" {
				line++
			}
		}
		msg := fmt.Sprintf("this route handler calls %s with no visible auth check or rate limit: anyone who finds the URL spends your money", provider)
		if len(uncovered) > 0 {
			msg += fmt.Sprintf("; %s checks auth, but its matcher does not cover %s", strings.Join(uncovered, ", "), url)
		}
		a.add(Finding{CheckID: CheckUnprotectedRoute, Severity: Medium, Path: m.Path, Line: line, Column: 1, App: c.Rel,
			Subject: "route",
			Message: msg})
	}
}
