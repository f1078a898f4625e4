package nextaudit

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Version is a semantic version: major.minor.patch and an optional
// prerelease ("canary.77").
type Version struct {
	Major, Minor, Patch int
	Pre                 string
}

// String formats v as semver: "15.2.3", "16.1.0-canary.12".
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}

var semverRe = regexp.MustCompile(`^v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$`)

// ParseVersion parses "15.2.3", "v15.2.3", "15.6.0-canary.58" and the
// partial forms "15" and "15.2" (missing parts are 0).
func ParseVersion(s string) (Version, bool) {
	m := semverRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, false
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		v.Minor, _ = strconv.Atoi(m[2])
	}
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	v.Pre = m[4]
	return v, true
}

// Compare orders versions as semver does: a prerelease comes before its
// release, and prerelease parts compare numerically when both are numbers.
func (v Version) Compare(w Version) int {
	if c := cmp.Or(cmp.Compare(v.Major, w.Major), cmp.Compare(v.Minor, w.Minor), cmp.Compare(v.Patch, w.Patch)); c != 0 {
		return c
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	a, b := strings.Split(v.Pre, "."), strings.Split(w.Pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		x, errx := strconv.Atoi(a[i])
		y, erry := strconv.Atoi(b[i])
		var c int
		switch {
		case errx == nil && erry == nil:
			c = cmp.Compare(x, y)
		case errx == nil:
			c = -1
		case erry == nil:
			c = 1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// advisory is a Next.js security advisory with the versions it affects:
// [Introduced, Fixed) ranges.
type advisory struct {
	ID, CVE, Summary string
	Severity         Severity
	Ranges           [][2]string
}

// nextAdvisories are the Next.js advisories the audit knows. Every row is
// checked against the GitHub Advisory Database record (npm "next"; ids,
// ranges and severity as published there, November 2026):
//
//   - GHSA-f82v-jwr5-mffw (CVE-2025-29927), middleware authorization
//     bypass via x-middleware-subrequest: introduced 11.1.4; fixed in
//     12.3.5, 13.5.9, 14.2.25 and 15.2.3; severity critical (CVSS 9.1).
//     Source: github/advisory-database
//     advisories/github-reviewed/2025/03/GHSA-f82v-jwr5-mffw, and the
//     vendor advisory github.com/vercel/next.js/security/advisories/GHSA-f82v-jwr5-mffw.
//   - GHSA-9qr9-h5gf-34mp (CVE-2025-66478, upstream CVE-2025-55182), React
//     Server Components remote code execution, which lets an attacker read
//     every server env var: Next.js 15.x and 16.x App Router and canaries
//     from 14.3.0-canary.77; fixed in 15.0.5, 15.1.9, 15.2.6, 15.3.6,
//     15.4.8, 15.5.7, 16.0.7 (and the 15.6.0-canary.58 and
//     16.1.0-canary.12 canaries); severity critical (CVSS 10.0). Source:
//     github/advisory-database
//     advisories/github-reviewed/2025/12/GHSA-9qr9-h5gf-34mp. The ranges
//     below start each release line at its first prerelease, as the
//     advisory text covers all of 15.x and 16.x. The 14.3 line was only
//     ever canaries (14.2.x continued, 15.0.0 followed), so its range ends
//     at 14.3.0: no release a package.json range may allow is in it.
//   - GHSA-267c-6grr-h53f (CVE-2026-44575), middleware/proxy bypass in App
//     Router apps via segment-prefetch (.rsc) URLs, which defeats auth done
//     in middleware: affected >=15.2.0 <15.5.16 and >=16.0.0 <16.2.5;
//     severity high (CVSS 7.5). Source: github/advisory-database
//     advisories/github-reviewed/2026/05/GHSA-267c-6grr-h53f.
//   - GHSA-h64f-5h5j-jqjh (CVE-2026-44577), denial of service in the
//     Image Optimization API (local images read into memory without a
//     limit): affected >=10.0.0 <15.5.16 and >=16.0.0 <16.2.5; severity
//     moderate (CVSS 5.9). Source: github/advisory-database
//     advisories/github-reviewed/2026/05/GHSA-h64f-5h5j-jqjh.
//   - GHSA-8h8q-6873-q5fj (upstream React CVE-2026-23870, tracked in
//     facebook/react GHSA-rv78-f8rc-xrxh; the record lists no CVE alias of
//     its own), denial of service: a crafted request to any App Router
//     Server Function endpoint spends the server's CPU: affected >=13.0.0
//     <15.5.16 and >=16.0.0 <16.2.5; severity high (CVSS 7.5). Source:
//     github/advisory-database advisories/github-reviewed/2026/05/GHSA-8h8q-6873-q5fj.
//   - GHSA-492v-c6pp-mqqv (CVE-2026-44574), middleware/proxy bypass through
//     dynamic route parameter injection (crafted query parameters change
//     the route value a page sees while the path middleware matched stays
//     the same): affected >=15.4.0 <15.5.16 and >=16.0.0 <16.2.5; severity
//     high (CVSS 8.1). Source: github/advisory-database
//     advisories/github-reviewed/2026/05/GHSA-492v-c6pp-mqqv.
//   - GHSA-26hh-7cqf-hhc6 (CVE-2026-45109), the segment-prefetch bypass
//     again: the fix for CVE-2026-44575 did not apply to middleware.ts built
//     with Turbopack: affected >=15.2.0 <15.5.18 and >=16.0.0 <16.2.6;
//     severity high (CVSS 7.5). Source: github/advisory-database
//     advisories/github-reviewed/2026/05/GHSA-26hh-7cqf-hhc6. (The CVE
//     record says "< 15.5.17" for the 15 line; the reviewed GHSA record,
//     which every row here follows, says 15.5.18.)
//   - GHSA-6gpp-xcg3-4w24 (CVE-2026-64642), middleware/proxy bypass in App
//     Router apps built with Turbopack whose config.i18n.locales has a
//     single entry: affected >=16.0.0 <16.2.11; severity high (CVSS 4.0
//     8.3). Source: github/advisory-database
//     advisories/github-reviewed/2026/07/GHSA-6gpp-xcg3-4w24, as imported by
//     osv.dev (GHSA-6gpp-xcg3-4w24).
//
// Not in the table, for want of the reviewed record: GHSA-m99w-x7hq-7vfj
// (CVE-2026-64641, Server Actions denial of service) and GHSA-89xv-2m56-2m9x
// (CVE-2026-64649, Server Actions SSRF on custom servers). Their ids and
// severity (high) are quoted widely, but only second-hand sources give
// their ranges, and those disagree on where they begin (12.0.0 or 13.0.0;
// 14.1.1); both are fixed in 15.5.21 and 16.2.11 by the same accounts.
//
// A row for "GHSA-2464-fhr4-w9xw / CVE-2026-96889" (Image Optimization
// RCE, fixed 15.5.28 / 16.4.1) was removed: no advisory database, CVE
// record, vendor advisory or issue could be found for either id.
var nextAdvisories = []advisory{
	{ID: "GHSA-f82v-jwr5-mffw", CVE: "CVE-2025-29927", Severity: Critical,
		Summary: "middleware authorization bypass: a request with x-middleware-subrequest skips middleware, and any auth check in it",
		Ranges:  [][2]string{{"11.1.4", "12.3.5"}, {"13.0.0", "13.5.9"}, {"14.0.0", "14.2.25"}, {"15.0.0", "15.2.3"}}},
	{ID: "GHSA-9qr9-h5gf-34mp", CVE: "CVE-2025-55182", Severity: Critical,
		Summary: "React Server Components remote code execution: an unauthenticated request runs code on the server and reads every server env var, provider keys included",
		Ranges: [][2]string{{"14.3.0-canary.77", "14.3.0"}, {"15.0.0-0", "15.0.5"}, {"15.1.0-0", "15.1.9"}, {"15.2.0-0", "15.2.6"},
			{"15.3.0-0", "15.3.6"}, {"15.4.0-0", "15.4.8"}, {"15.5.0-0", "15.5.7"}, {"15.6.0-canary.0", "15.6.0-canary.58"},
			{"16.0.0-0", "16.0.7"}, {"16.1.0-canary.0", "16.1.0-canary.12"}}},
	{ID: "GHSA-267c-6grr-h53f", CVE: "CVE-2026-44575", Severity: High,
		Summary: "middleware/proxy bypass through segment-prefetch (.rsc) URLs: routes protected only by middleware are reachable without its auth check",
		Ranges:  [][2]string{{"15.2.0", "15.5.16"}, {"16.0.0", "16.2.5"}}},
	{ID: "GHSA-h64f-5h5j-jqjh", CVE: "CVE-2026-44577", Severity: Medium,
		Summary: "denial of service in the Image Optimization API: large local images requested through /_next/image exhaust the server's memory",
		Ranges:  [][2]string{{"10.0.0", "15.5.16"}, {"16.0.0", "16.2.5"}}},
	{ID: "GHSA-8h8q-6873-q5fj", CVE: "CVE-2026-23870", Severity: High,
		Summary: "denial of service with Server Components: a crafted request to any App Router Server Function endpoint exhausts the server's CPU",
		Ranges:  [][2]string{{"13.0.0", "15.5.16"}, {"16.0.0", "16.2.5"}}},
	{ID: "GHSA-492v-c6pp-mqqv", CVE: "CVE-2026-44574", Severity: High,
		Summary: "middleware/proxy bypass through dynamic route parameter injection: crafted query parameters render a protected dynamic route without the middleware check",
		Ranges:  [][2]string{{"15.4.0", "15.5.16"}, {"16.0.0", "16.2.5"}}},
	{ID: "GHSA-26hh-7cqf-hhc6", CVE: "CVE-2026-45109", Severity: High,
		Summary: "middleware/proxy bypass through segment-prefetch URLs with Turbopack: the CVE-2026-44575 fix did not cover middleware.ts built by Turbopack",
		Ranges:  [][2]string{{"15.2.0", "15.5.18"}, {"16.0.0", "16.2.6"}}},
	{ID: "GHSA-6gpp-xcg3-4w24", CVE: "CVE-2026-64642", Severity: High,
		Summary: "middleware/proxy bypass in App Router apps built with Turbopack and a single i18n locale: routes protected only by middleware are reachable without its auth check",
		Ranges:  [][2]string{{"16.0.0", "16.2.11"}}},
}

// affected returns the fixed version of the range v falls in, if any.
func (a advisory) affected(v Version) (Version, bool) {
	for _, r := range a.Ranges {
		lo, _ := ParseVersion(r[0])
		hi, _ := ParseVersion(r[1])
		if v.Compare(lo) >= 0 && v.Compare(hi) < 0 {
			return hi, true
		}
	}
	return Version{}, false
}

// allowedBy says what a package.json range means for the advisory: whether
// it allows some affected version, whether every version it allows is
// affected, and the lowest version that leaves out every affected version
// it allows (the highest fix among the advisory's ranges it reaches into).
func (a advisory) allowedBy(r Range) (some, all bool, floor Version) {
	var bounds []Version
	for _, rg := range a.Ranges {
		lo, _ := ParseVersion(rg[0])
		hi, _ := ParseVersion(rg[1])
		bounds = append(bounds, lo, hi)
	}
	unaffected := false
	// What a range allows within an interval begins at one of the
	// candidates (the range's bounds and the interval's, and the versions
	// right after them), so trying them answers for every version.
	for _, v := range r.candidates(bounds...) {
		if !r.Allows(v) {
			continue
		}
		if fixed, hit := a.affected(v); hit {
			some = true
			if fixed.Compare(floor) > 0 {
				floor = fixed
			}
		} else {
			unaffected = true
		}
	}
	return some, some && !unaffected, floor
}

// nextVersion is the app's Next.js version and where it came from.
type nextVersion struct {
	// Version is the installed or locked version when Exact; else Range is
	// what package.json's Spec allows.
	Version Version
	Exact   bool
	Range   Range
	Spec    string
	// From names the file for messages ("package-lock.json",
	// "node_modules/next/package.json").
	From string
	Path string // absolute
	Line int
}

// findNextVersion reads the installed version of next
// (node_modules/next/package.json, in the app or up to its workspace root),
// else the locked one (package-lock.json, npm-shrinkwrap.json,
// pnpm-lock.yaml, yarn.lock or bun.lock, the nearest first), else the range
// package.json asks for.
func findNextVersion(app *App) (nextVersion, bool) {
	if p, err := findUp(app.Dir, app.WorkspaceRoot, filepath.Join("node_modules", "next", "package.json")); err == nil {
		if pkg, err := readPackageJSON(filepath.Dir(p)); err == nil {
			if v, ok := ParseVersion(pkg.Version); ok {
				return nextVersion{Version: v, Exact: true, From: "node_modules/next/package.json", Path: p, Line: lineOfBytes(p, `"version"`)}, true
			}
		}
	}
	spec, _ := app.Pkg.Dependency("next")
	if nv, ok := lockedNext(app, spec); ok {
		nv.From = filepath.Base(nv.Path)
		return nv, true
	}
	if r, ok := ParseRange(spec); ok {
		p := filepath.Join(app.Dir, "package.json")
		return nextVersion{Range: r, Spec: spec, From: "package.json", Path: p, Line: lineOfBytes(p, `"next"`)}, true
	}
	return nextVersion{}, false
}

func lineOfBytes(path, needle string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	if i := bytes.Index(b, []byte(needle)); i >= 0 {
		return bytes.Count(b[:i], []byte{'\n'}) + 1
	}
	return 0
}

// checkNextVersion (check 10): the app's Next.js version against the
// embedded advisory table. An installed or locked version is affected or
// not; a package.json range with no lockfile beside it is judged by what
// it allows: when every version it allows is affected, as if installed;
// when only some are, one severity lower, since the version in use may be
// a fixed one.
func (a *auditor) checkNextVersion(c *appCtx) {
	nv, ok := findNextVersion(c.App)
	if !ok {
		return
	}
	rel := a.rel(nv.Path)
	for _, adv := range nextAdvisories {
		f := Finding{CheckID: CheckVulnerableNext, Severity: adv.Severity, Path: rel, Line: nv.Line, Column: col(nv.Line), App: c.Rel,
			Subject: "advisory:" + adv.ID}
		what := fmt.Sprintf("%s (%s), %s", adv.CVE, adv.ID, adv.Summary)
		if nv.Exact {
			fixed, hit := adv.affected(nv.Version)
			if !hit {
				continue
			}
			f.Message = fmt.Sprintf("next %s (%s) is affected by %s", nv.Version, nv.From, what)
			f.Fix = fmt.Sprintf("Upgrade next to %s or later (the fix in your release line) and redeploy.", fixed)
			a.add(f)
			continue
		}
		some, all, floor := adv.allowedBy(nv.Range)
		const noLock = "no lockfile or installed next found"
		switch {
		case all:
			if v, ok := nv.Range.pinned(); ok {
				f.Message = fmt.Sprintf("next %s (pinned in package.json; %s) is affected by %s", v, noLock, what)
			} else {
				f.Message = fmt.Sprintf("next %q (package.json; %s): every version it allows is affected by %s", nv.Spec, noLock, what)
			}
			f.Fix = fmt.Sprintf("Upgrade next to %s or later (the fix in your release line), commit the lockfile, and redeploy.", floor)
		case some:
			f.Severity = oneLower(adv.Severity)
			f.Message = fmt.Sprintf("next %q (package.json; %s) allows, but may not install, versions affected by %s", nv.Spec, noLock, what)
			f.Fix = fmt.Sprintf("Raise the range to %s or later (\"next\": \"^%s\"), commit the lockfile so the version in use is known, and redeploy.", floor, floor)
		default:
			continue
		}
		a.add(f)
	}
}

// oneLower is the severity one step below s (low stays low): a range that
// merely allows an affected version is less certain than one installed.
func oneLower(s Severity) Severity {
	switch s {
	case Critical:
		return High
	case High:
		return Medium
	}
	return Low
}

// col is the column to report for a finding about a line: 1, or 0 for a
// finding about a whole file.
func col(line int) int {
	if line > 0 {
		return 1
	}
	return 0
}
