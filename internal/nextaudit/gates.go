package nextaudit

import (
	"regexp"
	"strings"
)

// gate is a place where code stops a request unless the caller is
// authenticated or within a rate limit: a call to a known auth or
// rate-limit function whose result leads to an early exit, a self-gating
// call (auth.protect()), or a guard on the request's credentials.
type gate struct {
	// Kind is "auth", "ratelimit" or "guard" (a check of the request's
	// Authorization header or cookies).
	Kind string
	// Call is the auth or rate-limit function called ("" for guards).
	Call string
	// Redirect is set when the early exit is a redirect (to a sign-in
	// page) rather than a 401/403/429: it gates pages in middleware, not
	// API responses.
	Redirect bool
	pos
}

// authFuncs are functions (or methods) whose result says who the caller
// is: Auth.js/next-auth, Clerk, Supabase, Firebase, Kinde, Lucia, jose and
// the usual names of a project's own helpers.
var authFuncs = map[string]bool{
	"auth": true, "getServerSession": true, "getServerAuthSession": true, "getSession": true, "currentUser": true,
	"getCurrentUser": true, "getAuth": true, "verifyToken": true, "jwtVerify": true, "getToken": true, "getUser": true,
	"getClaims": true, "requireUser": true, "requireAuth": true, "requireSession": true, "validateRequest": true,
	"verifyIdToken": true, "verifySessionCookie": true, "getKindeServerSession": true, "isAuthenticated": true,
	"getUserFromRequest": true, "authenticate": true, "verifySession": true,
}

// selfGatingFuncs end the request themselves when the caller is not
// signed in: Clerk's auth.protect(), next-auth's and Auth0's wrappers.
var selfGatingFuncs = map[string]bool{
	"withAuth": true, "withApiAuthRequired": true, "withMiddlewareAuthRequired": true,
}

// credentialHeaders are request headers that carry a caller's credentials.
var credentialHeaders = map[string]bool{"authorization": true, "x-api-key": true, "cookie": true}

// gateCall reports whether toks[i] is a call of an auth or rate-limit
// function: its kind, and whether the call ends the request by itself.
func gateCall(toks []token, i int) (kind string, self bool) {
	tok := func(k int) token {
		if k < 0 || k >= len(toks) {
			return token{}
		}
		return toks[k]
	}
	t := tok(i)
	if t.Kind != tokIdent || !tok(i+1).is(tokPunct, "(") {
		return "", false
	}
	if tok(i-1).is(tokIdent, "function") || tok(i-2).is(tokIdent, "function") {
		return "", false // a declaration, not a call
	}
	name, lower := t.Text, strings.ToLower(t.Text)
	if tok(i-1).is(tokPunct, ".") || tok(i-1).is(tokPunct, "?.") {
		obj := strings.ToLower(tok(i - 2).Text)
		switch {
		case name == "protect" && (obj == "auth" || tok(i-2).is(tokPunct, ")")):
			return "auth", true // Clerk: await auth.protect()
		case name == "limit" && strings.Contains(obj, "limit"):
			return "ratelimit", false // ratelimit.limit(id)
		case name == "verify" && (obj == "jwt" || obj == "jsonwebtoken" || obj == "jose"):
			return "auth", false
		}
	}
	switch {
	case selfGatingFuncs[name]:
		return "auth", true
	case authFuncs[name]:
		return "auth", false
	case strings.Contains(lower, "ratelimit"):
		return "ratelimit", false
	}
	return "", false
}

// openingBracket returns the index of the bracket opening the one closing
// at toks[i], or -1.
func openingBracket(toks []token, i int) int {
	depth := 0
	for k := i; k >= 0; k-- {
		if toks[k].Kind != tokPunct {
			continue
		}
		switch toks[k].Text {
		case ")", "]", "}":
			depth++
		case "(", "[", "{":
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// statementEnd returns the index just past the statement starting at
// toks[i]: a block, or tokens up to a top-level ";".
func statementEnd(toks []token, i int) int {
	if i < len(toks) && toks[i].is(tokPunct, "{") {
		return closingBracket(toks, i) + 1
	}
	for k := i; k < len(toks); k++ {
		t := toks[k]
		if t.Kind == tokPunct && (t.Text == "(" || t.Text == "[" || t.Text == "{") {
			k = closingBracket(toks, k)
			continue
		}
		if t.is(tokPunct, ";") || t.is(tokPunct, "}") {
			return k + 1
		}
	}
	return len(toks)
}

// exitKind reports whether toks[from:to] ends the request early: a return
// or throw with a 401/403/429 status (or Next.js's unauthorized() and
// forbidden()), a return of the auth helper's own result (a Response it
// built), or, with redirect set, a redirect.
func exitKind(toks []token, from, to int, bound map[string]bool) (exits, redirect bool) {
	leaves := false
	status, redir := false, false
	for k := from; k < to && k < len(toks); k++ {
		t := toks[k]
		switch {
		case t.is(tokIdent, "return") || t.is(tokIdent, "throw"):
			leaves = true
			if n := k + 1; n < to && toks[n].Kind == tokIdent && bound[toks[n].Text] {
				status = true
			}
		case t.Kind == tokNumber && (t.Text == "401" || t.Text == "403" || t.Text == "429"):
			status = true
		case (t.is(tokIdent, "unauthorized") || t.is(tokIdent, "forbidden")) && k+1 < len(toks) && toks[k+1].is(tokPunct, "("):
			leaves, status = true, true // they throw
		case t.is(tokIdent, "redirect") && k+1 < len(toks) && toks[k+1].is(tokPunct, "("):
			redir = true
			if k > 0 && !toks[k-1].is(tokPunct, ".") {
				leaves = true // next/navigation's redirect() throws
			}
		}
	}
	if !leaves {
		return false, false
	}
	if status {
		return true, false
	}
	return redir, redir
}

// boundNames returns the names a call's result is assigned to: const s =
// await auth(); const { success } = await rl.limit(id); and the start of
// the call expression.
func boundNames(toks []token, i int) (map[string]bool, int) {
	k := i
	for k >= 2 && (toks[k-1].is(tokPunct, ".") || toks[k-1].is(tokPunct, "?.")) {
		switch prev := toks[k-2]; {
		case prev.Kind == tokIdent:
			k -= 2
		case prev.is(tokPunct, ")"):
			o := openingBracket(toks, k-2)
			if o <= 0 || toks[o-1].Kind != tokIdent {
				return nil, k
			}
			k = o - 1
		default:
			return nil, k
		}
	}
	start := k
	if k >= 1 && toks[k-1].is(tokIdent, "await") {
		k--
	}
	if k < 2 || !toks[k-1].is(tokPunct, "=") {
		return nil, start
	}
	out := map[string]bool{}
	lhs := toks[k-2]
	switch {
	case lhs.Kind == tokIdent:
		out[lhs.Text] = true
	case lhs.is(tokPunct, "}") || lhs.is(tokPunct, "]"):
		o := openingBracket(toks, k-2)
		for p := o + 1; o >= 0 && p < k-2; p++ {
			if toks[p].Kind == tokIdent && !toks[p+1].is(tokPunct, ":") {
				out[toks[p].Text] = true
			}
		}
	}
	return out, start
}

// credentialGuard reports whether an if condition toks[from:to] reads
// the request's credentials: headers.get("authorization"),
// req.headers.authorization, cookies().get(…), req.cookies.
func credentialGuard(toks []token, from, to int) bool {
	for k := from; k < to && k+2 < len(toks); k++ {
		t := toks[k]
		if t.is(tokIdent, "cookies") {
			return true
		}
		if t.is(tokIdent, "headers") {
			switch n, m := toks[k+1], toks[k+2]; {
			case (n.is(tokPunct, ".") || n.is(tokPunct, "?.")) && m.Kind == tokIdent && credentialHeaders[strings.ToLower(m.Text)]:
				return true
			case n.is(tokPunct, "[") && m.Kind == tokString && credentialHeaders[strings.ToLower(m.Text)]:
				return true
			case (n.is(tokPunct, ".") || n.is(tokPunct, "?.")) && m.is(tokIdent, "get") && k+4 < len(toks) &&
				toks[k+3].is(tokPunct, "(") && toks[k+4].Kind == tokString && credentialHeaders[strings.ToLower(toks[k+4].Text)]:
				return true
			}
		}
		// headers().get("authorization"), h.get("x-api-key")
		if t.is(tokIdent, "get") && k > 0 && toks[k-1].is(tokPunct, ".") && toks[k+1].is(tokPunct, "(") &&
			toks[k+2].Kind == tokString && credentialHeaders[strings.ToLower(toks[k+2].Text)] {
			return true
		}
	}
	return false
}

// ifAt describes an if statement: its condition and its branches.
type ifAt struct {
	condFrom, condTo int // the condition's tokens
	thenFrom, thenTo int
	elseFrom, elseTo int // zero when there is no else
}

func ifStatements(toks []token) []ifAt {
	var out []ifAt
	for f := 0; f+1 < len(toks); f++ {
		if !toks[f].is(tokIdent, "if") || !toks[f+1].is(tokPunct, "(") {
			continue
		}
		ce := closingBracket(toks, f+1)
		s := ifAt{condFrom: f + 2, condTo: ce, thenFrom: ce + 1}
		s.thenTo = statementEnd(toks, ce+1)
		if s.thenTo < len(toks) && toks[s.thenTo].is(tokIdent, "else") {
			s.elseFrom = s.thenTo + 1
			s.elseTo = statementEnd(toks, s.elseFrom)
		}
		out = append(out, s)
	}
	return out
}

// scanGates finds the places where code stops a request unless the caller
// is authenticated or within a rate limit. An auth call alone is not a
// gate, nor is an identifier that merely mentions auth, nor a credential
// header the code sends to someone else: the call's result has to decide
// an early 401/403/429 (or, for middleware, a redirect).
func scanGates(toks []token, at func(int) pos) []gate {
	var out []gate
	ifs := ifStatements(toks)
	branchExits := func(s ifAt, bound map[string]bool) (bool, bool) {
		if ok, r := exitKind(toks, s.thenFrom, s.thenTo, bound); ok {
			return ok, r
		}
		if s.elseFrom > 0 {
			return exitKind(toks, s.elseFrom, s.elseTo, bound)
		}
		return false, false
	}
	for i := range toks {
		kind, self := gateCall(toks, i)
		if kind == "" {
			continue
		}
		g := gate{Kind: kind, Call: toks[i].Text, pos: at(toks[i].Off)}
		if self {
			out = append(out, g)
			continue
		}
		callEnd := closingBracket(toks, i+1)
		// A wrapper: export const POST = auth(async (req) => { … 401 … }).
		hasFn := false
		for k := i + 2; k < callEnd; k++ {
			if toks[k].is(tokPunct, "=>") || toks[k].is(tokIdent, "function") {
				hasFn = true
				break
			}
		}
		if hasFn {
			// The wrapper hands the handler the session (req.auth); a
			// 401 returned inside is the gate.
			if ok, r := exitKind(toks, i+2, callEnd, nil); ok {
				g.Redirect = r
				out = append(out, g)
				continue
			}
		}
		bound, start := boundNames(toks, i)
		// The result decides an early exit: if (!session) return 401.
		found := false
		for _, s := range ifs {
			if s.condTo <= start {
				continue
			}
			uses := s.condFrom <= i && i < s.condTo
			for k := s.condFrom; !uses && k < s.condTo; k++ {
				uses = toks[k].Kind == tokIdent && bound[toks[k].Text] && !toks[k-1].is(tokPunct, ".") && !toks[k-1].is(tokPunct, "?.")
			}
			if !uses {
				continue
			}
			if ok, r := branchExits(s, bound); ok {
				g.Redirect, found = r, true
				break
			}
		}
		// A throwing verifier in a try whose catch returns 401.
		for t := 0; !found && t+1 < len(toks) && t < i; t++ {
			if !toks[t].is(tokIdent, "try") || !toks[t+1].is(tokPunct, "{") {
				continue
			}
			end := closingBracket(toks, t+1)
			if i > end || end+1 >= len(toks) || !toks[end+1].is(tokIdent, "catch") {
				continue
			}
			c := end + 2
			if c < len(toks) && toks[c].is(tokPunct, "(") {
				c = closingBracket(toks, c) + 1
			}
			if ok, r := exitKind(toks, c, statementEnd(toks, c), nil); ok {
				g.Redirect, found = r, true
			}
		}
		if found {
			out = append(out, g)
		}
	}
	// Guards on the request's own credentials.
	for _, s := range ifs {
		if !credentialGuard(toks, s.condFrom, s.condTo) {
			continue
		}
		if ok, r := branchExits(s, nil); ok {
			out = append(out, gate{Kind: "guard", Redirect: r, pos: at(toks[s.condFrom-2].Off)})
		}
	}
	return out
}

// middlewareMatcher is a middleware's config.matcher.
type middlewareMatcher struct {
	// Set is false when the module has no matcher: middleware then runs
	// for every route.
	Set bool
	// Patterns are the matcher's path patterns.
	Patterns []string
	// Opaque is set when some entry could not be read (not a string
	// literal, or an object with has/missing conditions, which a request
	// can dodge): such entries are taken to match nothing.
	Opaque bool
}

// scanMatcher reads matcher: "…" or matcher: ["…", { source: "…" }].
func scanMatcher(toks []token) middlewareMatcher {
	var m middlewareMatcher
	for i := 0; i+2 < len(toks); i++ {
		t := toks[i]
		if !(t.Kind == tokIdent || t.Kind == tokString) || t.Text != "matcher" || !toks[i+1].is(tokPunct, ":") {
			continue
		}
		m.Set = true
		v := i + 2
		switch {
		case toks[v].Kind == tokString:
			m.Patterns = append(m.Patterns, toks[v].Text)
		case toks[v].is(tokPunct, "["):
			end := closingBracket(toks, v)
			for k := v + 1; k < end; k++ {
				switch e := toks[k]; {
				case e.Kind == tokString:
					m.Patterns = append(m.Patterns, e.Text)
				case e.is(tokPunct, "{"):
					oe := closingBracket(toks, k)
					src, cond := "", false
					for _, p := range objectProps(toks, k, oe) {
						switch p.Name {
						case "source":
							if p.To == p.From+1 && toks[p.From].Kind == tokString {
								src = toks[p.From].Text
							}
						case "has", "missing":
							cond = true
						}
					}
					if src == "" || cond {
						m.Opaque = true
					} else {
						m.Patterns = append(m.Patterns, src)
					}
					k = oe
				case e.is(tokPunct, ","):
				default:
					m.Opaque = true
				}
			}
		default:
			m.Opaque = true
		}
	}
	return m
}

// covers reports whether the matcher runs the middleware for a path.
func (m middlewareMatcher) covers(path string) bool {
	if !m.Set {
		return true
	}
	for _, p := range m.Patterns {
		if matcherMatches(p, path) {
			return true
		}
	}
	return false
}

// leadingLookahead is Next.js's usual "everything but" matcher:
// /((?!api|_next/static|…).*)
var leadingLookahead = regexp.MustCompile(`^/\(\(\?!(.*)\)\.\*\)$`)

// nestedLookahead strips lookaheads inside an exclusion list
// ("js(?!on)"), which RE2 lacks: the list then excludes more paths, so
// fewer routes count as covered, never more.
var nestedLookahead = regexp.MustCompile(`\(\?!([^()]|\([^()]*\))*\)`)

// matcherMatches reports whether a Next.js matcher pattern (path-to-regexp
// syntax with regex groups) matches a path. A pattern it cannot read
// matches nothing.
func matcherMatches(pattern, path string) bool {
	if m := leadingLookahead.FindStringSubmatch(pattern); m != nil {
		excl, err := regexp.Compile(`^(?:` + nestedLookahead.ReplaceAllString(m[1], "") + `)`)
		if err != nil || !strings.HasPrefix(path, "/") {
			return false
		}
		return !excl.MatchString(path[1:])
	}
	re, ok := pathToRegexp(pattern)
	if !ok {
		return false
	}
	r, err := regexp.Compile(re)
	if err != nil {
		return false
	}
	return r.MatchString(path) || path != "/" && r.MatchString(path+"/")
}

// pathToRegexp turns a matcher pattern into an RE2 expression:
// "/api/:path*" → ^/api(?:/[^/]+)*$; regex groups pass through.
func pathToRegexp(p string) (string, bool) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '(':
			j := matchParen(p, i)
			if j < 0 || strings.Contains(p[i:j+1], "(?!") || strings.Contains(p[i:j+1], "(?<") {
				return "", false
			}
			b.WriteString(p[i : j+1])
			i = j + 1
			if i < len(p) && strings.IndexByte("?*+", p[i]) >= 0 {
				b.WriteByte(p[i])
				i++
			}
		case c == ':' || c == '/' && i+1 < len(p) && p[i+1] == ':':
			slash := ""
			if c == '/' {
				slash = "/"
				i++
			}
			j := i + 1
			for j < len(p) && isIdentPart(p[j]) {
				j++
			}
			seg := `[^/]+`
			if j < len(p) && p[j] == '(' {
				k := matchParen(p, j)
				if k < 0 {
					return "", false
				}
				seg = p[j+1 : k]
				j = k + 1
			}
			mod := ""
			if j < len(p) && strings.IndexByte("?*+", p[j]) >= 0 {
				mod = string(p[j])
				j++
			}
			b.WriteString("(?:" + regexp.QuoteMeta(slash) + "(?:" + seg + "))" + mod)
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
			i++
		}
	}
	b.WriteString("$")
	return b.String(), true
}

// matchParen returns the index of the parenthesis closing p[i], or -1.
func matchParen(p string, i int) int {
	depth := 0
	for k := i; k < len(p); k++ {
		switch p[k] {
		case '\\':
			k++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

var dynamicSegment = regexp.MustCompile(`^\[+\.{0,3}[^\]]*\]+$`)

// routeURL returns the URL path a Route Handler or API route serves, with
// a sample value for dynamic segments: app/api/chat/[id]/route.ts →
// /api/chat/x. Route groups and parallel-route slots are left out.
func routeURL(appPath string) string {
	p := strings.TrimPrefix(appPath, "src/")
	var segs []string
	switch {
	case strings.HasPrefix(p, "app/"):
		parts := strings.Split(strings.TrimPrefix(p, "app/"), "/")
		segs = parts[:len(parts)-1] // drop route.ts
	case strings.HasPrefix(p, "pages/"):
		p = strings.TrimPrefix(p, "pages/")
		if i := strings.LastIndexByte(p, '.'); i >= 0 {
			p = p[:i]
		}
		segs = strings.Split(strings.TrimSuffix(p, "/index"), "/")
		if len(segs) > 0 && segs[len(segs)-1] == "index" {
			segs = segs[:len(segs)-1]
		}
	}
	var out []string
	for _, s := range segs {
		switch {
		case s == "" || strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") || strings.HasPrefix(s, "@"):
			continue
		case strings.HasPrefix(s, "[[") && dynamicSegment.MatchString(s):
			continue // optional catch-all: the shortest URL
		case dynamicSegment.MatchString(s):
			out = append(out, "x")
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}
