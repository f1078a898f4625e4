// Package nextaudit checks Next.js projects for the code patterns that leak AI
// provider keys before they leak: secrets in public env variables, provider
// SDKs in client modules, env files in git or in Docker images, Route
// Handlers that spend money for anyone, Next.js versions with known
// advisories, and keys already sitting in the build output.
//
// The import graph comes from esbuild (a real JS/TS/JSX parser and
// resolver, tsconfig paths included); facts inside a module come from a
// token scan of esbuild's transformed output, mapped back to the original
// lines through its source map; directives are read lexically.
package nextaudit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/scan/report"
	"github.com/keyward/keyward/internal/scan/rules"
)

// Severity orders findings; the values are the scanner's.
type Severity = rules.Severity

// Severities, worst first.
const (
	Critical = rules.Critical
	High     = rules.High
	Medium   = rules.Medium
	Low      = rules.Low
)

// severityRank orders severities for sorting, worst first.
func severityRank(s Severity) int {
	switch s {
	case Critical:
		return 0
	case High:
		return 1
	case Medium:
		return 2
	}
	return 3
}

// Finding is one problem found by a check. Its fields map one to one onto
// a generic report result: CheckID is the rule id, Message the result
// message, Path/Line/Column the location, Fix the remediation, Fingerprint
// the baseline key.
type Finding struct {
	// CheckID is the check's stable id, e.g. "public-env-secret".
	CheckID  string
	Severity Severity
	// Message names what was found, where, and why it matters. It never
	// contains a secret; values that match scan rules are redacted.
	Message string
	// Path is slash-separated and relative to the audited directory.
	Path string
	// Line and Column are 1-based; 0 when the finding is about a whole
	// file (an env file tracked by git, a lockfile).
	Line, Column int
	// Fix says what to do instead.
	Fix string
	// App is the Next.js app the finding belongs to, relative to the
	// audited directory ("." for the root).
	App string
	// Subject is what the finding is about (a variable name, a package, a
	// host, an advisory id); with the check id and path it makes the
	// fingerprint, so a finding keeps its fingerprint when lines move.
	Subject string
}

// Fingerprint identifies the finding across runs for baselines: the first
// 16 hex digits of sha256(check id, path, subject). It does not depend on
// the line, so unrelated edits do not resurrect a baselined finding.
func (f Finding) Fingerprint() string {
	sum := sha256.Sum256([]byte(f.CheckID + "\x00" + f.Path + "\x00" + f.Subject))
	return hex.EncodeToString(sum[:8])
}

// Check describes one check, for documentation and reports.
type Check struct {
	ID       string
	Severity Severity // the usual severity; some findings are raised or lowered
	Title    string
	Fix      string
}

// Check ids.
const (
	CheckPublicEnvSecret      = "public-env-secret"
	CheckNextConfigEnv        = "next-config-env-secret"
	CheckEnvFileInGit         = "env-file-in-git"
	CheckClientProviderAccess = "client-provider-access"
	CheckDangerouslyAllow     = "dangerously-allow-browser"
	CheckMissingServerOnly    = "missing-server-only"
	CheckSecretToClient       = "secret-passed-to-client"
	CheckUnprotectedRoute     = "unprotected-route-handler"
	CheckEnvFileInDeployment  = "env-file-in-deployment"
	CheckVulnerableNext       = "vulnerable-next-version"
	CheckBuildOutputSecret    = "build-output-secret"
)

// Checks lists every check in the order of docs/audit.md.
var Checks = []Check{
	{CheckPublicEnvSecret, Critical, "Secret in a public env variable",
		"Rename the variable without the public prefix, read it only in server code (Server Actions, Route Handlers), and rotate the key: anything public is in the browser bundle."},
	{CheckNextConfigEnv, Critical, "next.config env inlines a secret into the client",
		"Remove the entry from next.config's env block; read process.env.NAME in server code at runtime instead, and rotate the key if it was ever built."},
	{CheckEnvFileInGit, Critical, "Env file tracked by git, in its history, or not gitignored",
		"Add .env*.local, .env and .env.production to .gitignore, `git rm --cached` the file, rotate every key it held and, if it is in history, purge it (git filter-repo)."},
	{CheckClientProviderAccess, High, "Client module reaches an AI provider",
		"Call the provider only from a Server Action or Route Handler (or through keyward); a client module must not import a provider SDK, call a provider host or read a server secret."},
	{CheckDangerouslyAllow, High, "dangerouslyAllowBrowser: true",
		"Call the provider from the server. In the browser use only a short-lived, origin-bound token (keyward browser tokens), never a provider key."},
	{CheckMissingServerOnly, Medium, "Server module with secrets imported by a client module, without server-only",
		"Add `import 'server-only'` at the top of the module so the build fails when a client module imports it, and stop importing it from client code."},
	{CheckSecretToClient, Critical, "Secret handed to the client",
		"Keep the secret on the server: call a Server Action that reads process.env itself instead of passing the value as a prop, a bound argument or a hidden input."},
	{CheckUnprotectedRoute, Medium, "Route Handler calls a provider without a visible auth check or rate limit",
		"Authenticate the caller first (const session = await auth(); if (!session) return new Response(null, { status: 401 })) and rate limit per user, or call keyward, which enforces plans and limits."},
	{CheckEnvFileInDeployment, High, "Env file shipped in a deployment artifact",
		"Do not COPY .env files into images; add .env* to .dockerignore and pass secrets at runtime (docker run --env-file, orchestrator secrets)."},
	{CheckVulnerableNext, Critical, "Next.js version with a known security advisory",
		"Upgrade next to the fixed version of your release line (or later) and redeploy."},
	{CheckBuildOutputSecret, Critical, "Key in build output sent to browsers",
		"Remove the key from client code and public env variables, rebuild, redeploy, and rotate the key: it has been served to browsers."},
}

// CheckByID returns the check with the id.
func CheckByID(id string) (Check, bool) {
	i := slices.IndexFunc(Checks, func(c Check) bool { return c.ID == id })
	if i < 0 {
		return Check{}, false
	}
	return Checks[i], true
}

// Options control an audit.
type Options struct {
	// Build runs `next build` in every app before checking its output.
	Build bool
	// BuildLog receives the output of `next build` (default: discarded).
	BuildLog io.Writer
	// Env, when set, is the environment of git and `next build`; by
	// default they get the process's, as they would from a shell.
	Env []string
	// Ignore, when set, leaves out accepted findings: keyward scan's
	// ignore file and baseline (internal/scan/ignore.List), applied to a
	// finding's path, check id and fingerprint.
	Ignore Ignorer
}

// Ignorer is what the audit needs from an ignore list: the same one
// keyward scan uses, so one .keywardignore and one baseline serve both.
type Ignorer interface {
	// Path reports whether a slash-separated path is ignored.
	Path(rel string) bool
	// Finding reports whether a finding of a rule (a check id here), with
	// a secret (none here) and a fingerprint, is ignored.
	Finding(rule, secret, fingerprint string) bool
}

// Result is what an audit found.
type Result struct {
	// Apps are the Next.js apps found, relative to the audited directory.
	Apps     []string
	Findings []Finding
	// Notes are problems that did not stop the audit: modules esbuild
	// could not parse, git missing.
	Notes []string
}

// Run audits every Next.js app under root.
func Run(ctx context.Context, root string, opt Options) (Result, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Result{}, err
	}
	proj, err := Discover(abs)
	if err != nil {
		return Result{}, err
	}
	var res Result
	a := newAuditor(ctx, proj, opt)
	for _, app := range proj.Apps {
		res.Apps = append(res.Apps, app.Rel)
		if err := a.auditApp(app); err != nil {
			return Result{}, fmt.Errorf("audit %s: %w", app.Rel, err)
		}
	}
	res.Findings = a.finish()
	res.Notes = a.notes
	return res, nil
}

// finish applies inline ignores and the ignore list, keeps one finding
// per check, file and subject (the first; its message counts the others,
// which share its fingerprint anyway), and sorts.
func (a *auditor) finish() []Finding {
	var kept []Finding
	for _, f := range a.findings {
		if f.Fix == "" {
			if c, ok := CheckByID(f.CheckID); ok {
				f.Fix = c.Fix
			}
		}
		if a.ignored(f) || a.allowed(f) {
			continue
		}
		kept = append(kept, f)
	}
	SortFindings(kept)
	type key struct{ check, path, subject string }
	first := map[key]int{}
	more := map[key]int{}
	var out []Finding
	for _, f := range kept {
		k := key{f.CheckID, f.Path, f.Subject}
		if _, ok := first[k]; ok {
			if f.Line != out[first[k]].Line {
				more[k]++
			}
			continue
		}
		first[k] = len(out)
		out = append(out, f)
	}
	for k, n := range more {
		out[first[k]].Message += fmt.Sprintf(" (and %s in this file)", report.Plural(n, "more place"))
	}
	return out
}

// ignored reports whether the ignore list accepts a finding.
func (a *auditor) ignored(f Finding) bool {
	ig := a.opt.Ignore
	return ig != nil && (ig.Path(f.Path) || ig.Finding(f.CheckID, "", f.Fingerprint()))
}

// SortFindings orders findings by path, position, severity and check.
func SortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)), strings.Compare(a.CheckID, b.CheckID),
			strings.Compare(a.Subject, b.Subject))
	})
}
