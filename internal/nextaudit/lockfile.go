package nextaudit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

// lockfiles are the lockfiles read for the installed version, in the order
// they are tried in one directory.
var lockfiles = []struct {
	name string
	// read returns next's version for the app at rel (slash-separated,
	// relative to the lockfile's directory; "." for the same directory),
	// whose package.json names it pkgName and asks for spec, and the
	// 1-based line of the entry (0 when unknown).
	read func(b []byte, rel, pkgName, spec string) (Version, int, bool)
}{
	{"package-lock.json", readPackageLock},
	{"npm-shrinkwrap.json", readPackageLock},
	{"pnpm-lock.yaml", readPnpmLock},
	{"yarn.lock", func(b []byte, _, _, spec string) (Version, int, bool) { return VersionFromYarnLock(b, "next", spec) }},
	{"bun.lock", readBunLock},
}

// lockedNext looks for the app's locked Next.js version in the lockfiles of
// its directory, then of each parent up to the workspace root: the nearest
// lockfile that names next wins.
func lockedNext(app *App, spec string) (nextVersion, bool) {
	dir := app.Dir
	for {
		for _, lf := range lockfiles {
			p := filepath.Join(dir, lf.name)
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			rel, _ := filepath.Rel(dir, app.Dir)
			if v, line, ok := lf.read(b, filepath.ToSlash(rel), app.Pkg.Name, spec); ok {
				return nextVersion{Version: v, Exact: true, Path: p, Line: line}, true
			}
		}
		parent := filepath.Dir(dir)
		if dir == app.WorkspaceRoot || parent == dir {
			return nextVersion{}, false
		}
		dir = parent
	}
}

// readPackageLock reads next's version from package-lock.json (or
// npm-shrinkwrap.json) v1 to v3, preferring the copy installed for the
// app's own directory in a workspace.
func readPackageLock(b []byte, rel, _, _ string) (Version, int, bool) {
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
		Dependencies map[string]struct {
			Version string `json:"version"`
		} `json:"dependencies"`
	}
	if json.Unmarshal(b, &lock) != nil {
		return Version{}, 0, false
	}
	keys := []string{"node_modules/next"}
	if rel != "." {
		keys = []string{rel + "/node_modules/next", "node_modules/next"}
	}
	for _, k := range keys {
		if p, ok := lock.Packages[k]; ok {
			if v, ok := ParseVersion(p.Version); ok {
				return v, lineOfMatch(b, regexp.MustCompile(`"`+regexp.QuoteMeta(k)+`"\s*:`)), true
			}
		}
	}
	if d, ok := lock.Dependencies["next"]; ok {
		if v, ok := ParseVersion(d.Version); ok {
			return v, lineOfMatch(b, regexp.MustCompile(`"next"\s*:\s*\{`)), true
		}
	}
	return Version{}, 0, false
}

// readPnpmLock reads next's version for the app's importer from
// pnpm-lock.yaml: v6 and later write {specifier, version}, v5 a string;
// peer suffixes ("16.0.6(react@19.2.0)", "12.0.0_react@17") are dropped.
func readPnpmLock(b []byte, rel, _, _ string) (Version, int, bool) {
	var lock struct {
		Importers    map[string]map[string]map[string]any `yaml:"importers"`
		Dependencies map[string]any                       `yaml:"dependencies"`
	}
	if yaml.Unmarshal(b, &lock) != nil {
		return Version{}, 0, false
	}
	var entry any
	anchor := -1 // where the importer's block starts
	if imp, ok := lock.Importers[rel]; ok {
		for _, section := range []string{"dependencies", "devDependencies"} {
			if e, ok := imp[section]["next"]; ok {
				entry = e
				break
			}
		}
		if loc := regexp.MustCompile(`(?m)^[ \t]+['"]?` + regexp.QuoteMeta(rel) + `['"]?:[ \t]*$`).FindIndex(b); loc != nil {
			anchor = loc[1]
		}
	} else if e, ok := lock.Dependencies["next"]; ok {
		entry, anchor = e, 0
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
	v, ok := ParseVersion(s)
	if !ok {
		return Version{}, 0, false
	}
	line := 0
	if anchor >= 0 {
		if loc := regexp.MustCompile(`(?m)^[ \t]+next:`).FindIndex(b[anchor:]); loc != nil {
			line = bytes.Count(b[:anchor+loc[0]], []byte{'\n'}) + 1
		}
	}
	return v, line, true
}

// VersionFromYarnLock finds the version of a package in a yarn.lock
// (classic `version "x"` and berry `version: x`), with the 1-based line of
// the version. When several versions are locked, the entry whose
// descriptors include spec ("next@^15.1.0", berry's "next@npm:^15.1.0")
// wins, else the first.
func VersionFromYarnLock(b []byte, name, spec string) (Version, int, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	in, wanted, n := false, false, 0
	var first Version
	firstLine := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		if l[0] != ' ' {
			in, wanted = false, false
			for _, key := range strings.Split(strings.TrimSuffix(l, ":"), ",") {
				key = strings.Trim(strings.TrimSpace(key), `"`)
				if at := strings.LastIndex(key, "@"); at > 0 && key[:at] == name {
					in = true
					if d := key[at+1:]; spec != "" && (d == spec || d == "npm:"+spec) {
						wanted = true
					}
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
				if wanted {
					return ver, n, true
				}
				if firstLine == 0 {
					first, firstLine = ver, n
				}
				in = false
			}
		}
	}
	return first, firstLine, firstLine > 0
}

// readBunLock reads next's version from bun.lock, Bun's text lockfile
// (JSONC: comments and trailing commas). A package entry is keyed by its
// place in the install tree ("next", or "web/next" for a copy nested under
// the workspace package named web) and starts with "name@version".
func readBunLock(b []byte, rel, pkgName, _ string) (Version, int, bool) {
	var lock struct {
		Workspaces map[string]struct {
			Name string `json:"name"`
		} `json:"workspaces"`
		Packages map[string][]json.RawMessage `json:"packages"`
	}
	if json.Unmarshal(StripJSONC(b), &lock) != nil {
		return Version{}, 0, false
	}
	var keys []string
	name := pkgName
	if w, ok := lock.Workspaces[rel]; ok && w.Name != "" {
		name = w.Name
	}
	if rel != "." && rel != "" && name != "" {
		keys = append(keys, name+"/next")
	}
	keys = append(keys, "next")
	for _, k := range keys {
		entry := lock.Packages[k]
		if len(entry) == 0 {
			continue
		}
		var ident string
		if json.Unmarshal(entry[0], &ident) != nil {
			continue
		}
		at := strings.LastIndex(ident, "@")
		if at <= 0 || ident[:at] != "next" {
			continue // an alias to another package, a link or a workspace
		}
		if v, ok := ParseVersion(ident[at+1:]); ok {
			return v, lineOfMatch(b, regexp.MustCompile(`"`+regexp.QuoteMeta(k)+`"\s*:\s*\[`)), true
		}
	}
	return Version{}, 0, false
}

// StripJSONC turns JSONC (JSON with // and /* */ comments and trailing
// commas, as bun.lock and tsconfig.json are written) into JSON: comments
// become spaces (line breaks kept) and a comma before a closing bracket or
// brace is dropped. Strings are left as they are. Anything that is not
// valid JSONC stays invalid.
func StripJSONC(b []byte) []byte {
	out := make([]byte, 0, len(b))
	lastComma := -1 // index in out of a comma not yet followed by a value
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j, len(b)-1)
			out = append(out, b[i:j+1]...)
			i, lastComma = j, -1
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				out = append(out, ' ')
				i++
			}
			i--
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := bytes.Index(b[i+2:], []byte("*/"))
			if end < 0 {
				return append(out, b[i:]...) // unterminated: leave it invalid
			}
			for _, x := range b[i : i+2+end+2] {
				if x == '\n' {
					out = append(out, '\n')
				} else {
					out = append(out, ' ')
				}
			}
			i += 2 + end + 1
		case c == ',':
			lastComma = len(out)
			out = append(out, c)
		case c == '}' || c == ']':
			if lastComma >= 0 {
				out[lastComma] = ' '
			}
			out = append(out, c)
			lastComma = -1
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			out = append(out, c)
		default:
			out = append(out, c)
			lastComma = -1
		}
	}
	return out
}

// lineOfMatch is the 1-based line where re first matches b, or 0.
func lineOfMatch(b []byte, re *regexp.Regexp) int {
	if loc := re.FindIndex(b); loc != nil {
		return bytes.Count(b[:loc[0]], []byte{'\n'}) + 1
	}
	return 0
}
