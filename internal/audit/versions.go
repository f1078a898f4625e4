package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
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
//     advisory text covers all of 15.x and 16.x.
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
		Ranges: [][2]string{{"14.3.0-canary.77", "15.0.0-0"}, {"15.0.0-0", "15.0.5"}, {"15.1.0-0", "15.1.9"}, {"15.2.0-0", "15.2.6"},
			{"15.3.0-0", "15.3.6"}, {"15.4.0-0", "15.4.8"}, {"15.5.0-0", "15.5.7"}, {"15.6.0-canary.0", "15.6.0-canary.58"},
			{"16.0.0-0", "16.0.7"}, {"16.1.0-canary.0", "16.1.0-canary.12"}}},
	{ID: "GHSA-267c-6grr-h53f", CVE: "CVE-2026-44575", Severity: High,
		Summary: "middleware/proxy bypass through segment-prefetch (.rsc) URLs: routes protected only by middleware are reachable without its auth check",
		Ranges:  [][2]string{{"15.2.0", "15.5.16"}, {"16.0.0", "16.2.5"}}},
	{ID: "GHSA-h64f-5h5j-jqjh", CVE: "CVE-2026-44577", Severity: Medium,
		Summary: "denial of service in the Image Optimization API: large local images requested through /_next/image exhaust the server's memory",
		Ranges:  [][2]string{{"10.0.0", "15.5.16"}, {"16.0.0", "16.2.5"}}},
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

// nextVersion is where the app's Next.js version came from.
type nextVersion struct {
	Version Version
	Path    string // absolute
	Line    int
	// Exact is false when the version is the lowest one a package.json
	// range allows.
	Exact bool
	Spec  string
}

// findNextVersion reads the installed or locked version of next: from
// node_modules, package-lock.json, pnpm-lock.yaml or yarn.lock (in the app
// or its workspace root), else the lowest version package.json allows.
func findNextVersion(app *App) (nextVersion, bool) {
	stop := app.WorkspaceRoot
	if p, err := findUp(app.Dir, stop, filepath.Join("node_modules", "next", "package.json")); err == nil {
		if pkg, err := readPackageJSON(filepath.Dir(p)); err == nil {
			if v, ok := ParseVersion(pkg.Version); ok {
				return nextVersion{Version: v, Path: p, Line: lineOfBytes(p, `"version"`), Exact: true}, true
			}
		}
	}
	if p, err := findUp(app.Dir, stop, "package-lock.json", "npm-shrinkwrap.json"); err == nil {
		if v, ok := versionFromPackageLock(p, app.Dir); ok {
			return nextVersion{Version: v, Path: p, Line: lineOfBytes(p, `node_modules/next"`), Exact: true}, true
		}
	}
	if p, err := findUp(app.Dir, stop, "pnpm-lock.yaml"); err == nil {
		if v, ok := versionFromPnpmLock(p, app.Dir); ok {
			return nextVersion{Version: v, Path: p, Line: lineOfBytes(p, "next:"), Exact: true}, true
		}
	}
	if p, err := findUp(app.Dir, stop, "yarn.lock"); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			if v, line, ok := VersionFromYarnLock(b, "next"); ok {
				return nextVersion{Version: v, Path: p, Line: line, Exact: true}, true
			}
		}
	}
	spec, _ := app.Pkg.Dependency("next")
	if v, ok := lowestAllowed(spec); ok {
		p := filepath.Join(app.Dir, "package.json")
		return nextVersion{Version: v, Path: p, Line: lineOfBytes(p, `"next"`), Spec: spec}, true
	}
	return nextVersion{}, false
}

// lowestAllowed returns the lowest version a simple npm range allows:
// "15.1.0", "^15.1.0", "~15.1.0", ">=15.1.0", "15.1.x". Ranges it cannot
// read (tags, URLs, "||") yield false.
func lowestAllowed(spec string) (Version, bool) {
	s := strings.TrimSpace(spec)
	if strings.Contains(s, "||") || strings.Contains(s, " ") {
		return Version{}, false
	}
	s = strings.TrimLeft(s, "^~>=v")
	s = strings.NewReplacer(".x", ".0", ".*", ".0").Replace(s)
	return ParseVersion(s)
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

// versionFromPackageLock reads next's version from package-lock.json v1-v3,
// preferring the copy installed for the app's own directory.
func versionFromPackageLock(path, appDir string) (Version, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Version{}, false
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
		Dependencies map[string]struct {
			Version string `json:"version"`
		} `json:"dependencies"`
	}
	if json.Unmarshal(b, &lock) != nil {
		return Version{}, false
	}
	rel, _ := filepath.Rel(filepath.Dir(path), appDir)
	rel = filepath.ToSlash(rel)
	keys := []string{"node_modules/next"}
	if rel != "." {
		keys = []string{rel + "/node_modules/next", "node_modules/next"}
	}
	for _, k := range keys {
		if p, ok := lock.Packages[k]; ok {
			if v, ok := ParseVersion(p.Version); ok {
				return v, true
			}
		}
	}
	if d, ok := lock.Dependencies["next"]; ok {
		return ParseVersion(d.Version)
	}
	return Version{}, false
}

// versionFromPnpmLock reads next's version for the app's importer from
// pnpm-lock.yaml (v6+ {specifier, version} and v5 strings).
func versionFromPnpmLock(path, appDir string) (Version, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Version{}, false
	}
	var lock struct {
		Importers    map[string]map[string]map[string]any `yaml:"importers"`
		Dependencies map[string]any                       `yaml:"dependencies"`
	}
	if yaml.Unmarshal(b, &lock) != nil {
		return Version{}, false
	}
	rel, _ := filepath.Rel(filepath.Dir(path), appDir)
	rel = filepath.ToSlash(rel)
	var entry any
	if imp, ok := lock.Importers[rel]; ok {
		for _, section := range []string{"dependencies", "devDependencies"} {
			if e, ok := imp[section]["next"]; ok {
				entry = e
				break
			}
		}
	} else if e, ok := lock.Dependencies["next"]; ok {
		entry = e
	}
	var s string
	switch e := entry.(type) {
	case string:
		s = e
	case map[string]any:
		s, _ = e["version"].(string)
	}
	if i := strings.IndexAny(s, "(_"); i >= 0 {
		s = s[:i]
	}
	return ParseVersion(s)
}

// VersionFromYarnLock finds the version of a package in a yarn.lock
// (classic `version "x"` and berry `version: x`), with the 1-based line of
// the version.
func VersionFromYarnLock(b []byte, name string) (Version, int, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	in, n := false, 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		if l[0] != ' ' {
			in = false
			for _, key := range strings.Split(strings.TrimSuffix(l, ":"), ",") {
				key = strings.Trim(strings.TrimSpace(key), `"`)
				if at := strings.LastIndex(key, "@"); at > 0 && key[:at] == name {
					in = true
				}
			}
			continue
		}
		if !in {
			continue
		}
		t := strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(t, "version"); ok {
			v = strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":")), `"`)
			if ver, ok := ParseVersion(v); ok {
				return ver, n, true
			}
		}
	}
	return Version{}, 0, false
}

// checkNextVersion (check 10): the app's Next.js version against the
// embedded advisory table.
func (a *auditor) checkNextVersion(c *appCtx) {
	nv, ok := findNextVersion(c.App)
	if !ok {
		return
	}
	rel := a.rel(nv.Path)
	from := filepath.Base(nv.Path)
	if !nv.Exact {
		from = fmt.Sprintf("the lowest version package.json's %q allows; no lockfile found", nv.Spec)
	}
	for _, adv := range nextAdvisories {
		fixed, hit := adv.affected(nv.Version)
		if !hit {
			continue
		}
		a.add(Finding{CheckID: CheckVulnerableNext, Severity: adv.Severity, Path: rel, Line: nv.Line, Column: col(nv.Line), App: c.Rel,
			Subject: "advisory:" + adv.ID,
			Message: fmt.Sprintf("next %s (%s) is affected by %s (%s), %s", nv.Version, from, adv.CVE, adv.ID, adv.Summary),
			Fix:     fmt.Sprintf("Upgrade next to %s or later (the fix in your release line) and redeploy.", fixed)})
	}
}

// col is the column to report for a finding about a line: 1, or 0 for a
// finding about a whole file.
func col(line int) int {
	if line > 0 {
		return 1
	}
	return 0
}
