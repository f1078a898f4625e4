package nextaudit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
)

// Project is what Discover found under the audited directory.
type Project struct {
	// Root is the audited directory, absolute.
	Root string
	// Apps are the Next.js apps, ordered by path.
	Apps []*App
}

// App is one Next.js app: a directory whose package.json depends on next.
type App struct {
	// Dir is absolute; Rel is slash-separated and relative to the
	// project root ("." for the root itself).
	Dir, Rel string
	Pkg      PackageJSON
	// WorkspaceRoot is the monorepo root the app belongs to (the nearest
	// ancestor declaring workspaces), or Dir.
	WorkspaceRoot string
	// Workspace maps the names of the workspace's packages to their
	// directories, so imports of sibling packages are followed.
	Workspace map[string]string
}

// PackageJSON is the part of package.json the audit reads.
type PackageJSON struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Dependencies         map[string]string `json:"dependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	// Workspaces is npm/yarn's list of globs, or yarn's {packages: […]}.
	Workspaces Workspaces `json:"workspaces"`
	// Main, Module and Exports locate a workspace package's entry.
	Main    string          `json:"main"`
	Module  string          `json:"module"`
	Exports json.RawMessage `json:"exports"`
}

// Dependency returns the version spec of a dependency from any section.
func (p PackageJSON) Dependency(name string) (string, bool) {
	for _, m := range []map[string]string{p.Dependencies, p.DevDependencies, p.PeerDependencies, p.OptionalDependencies} {
		if v, ok := m[name]; ok {
			return v, true
		}
	}
	return "", false
}

// Workspaces is the workspaces field in either of its shapes.
type Workspaces []string

// UnmarshalJSON accepts ["apps/*"] and {"packages": ["apps/*"]}.
func (w *Workspaces) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			Packages []string `json:"packages"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*w = o.Packages
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*w = l
	return nil
}

// ParsePackageJSON parses package.json bytes.
func ParsePackageJSON(b []byte) (PackageJSON, error) {
	var p PackageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return PackageJSON{}, err
	}
	return p, nil
}

func readPackageJSON(dir string) (PackageJSON, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return PackageJSON{}, err
	}
	p, err := ParsePackageJSON(b)
	if err != nil {
		return PackageJSON{}, fmt.Errorf("%s: %w", filepath.Join(dir, "package.json"), err)
	}
	return p, nil
}

// skipDirs are never descended into when looking for apps or sources.
var skipDirs = map[string]bool{
	"node_modules": true, ".git": true, ".next": true, "out": true, "dist": true, "build": true,
	".turbo": true, ".vercel": true, "coverage": true, ".yarn": true, ".pnpm-store": true,
}

// Discover finds the Next.js apps under root (an absolute directory): every
// package.json that depends on next, in the root, in workspace packages
// and in nested directories such as apps/*.
func Discover(root string) (*Project, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	p := &Project{Root: root}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // an unreadable corner does not stop the audit
		}
		if d.IsDir() {
			if path != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "package.json" {
			return nil
		}
		dir := filepath.Dir(path)
		pkg, err := readPackageJSON(dir)
		if err != nil {
			return nil // not ours to judge; a broken package.json fails the build anyway
		}
		if _, ok := pkg.Dependency("next"); !ok {
			return nil
		}
		rel, _ := filepath.Rel(root, dir)
		app := &App{Dir: dir, Rel: filepath.ToSlash(rel), Pkg: pkg}
		app.WorkspaceRoot, app.Workspace = findWorkspace(dir)
		p.Apps = append(p.Apps, app)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(p.Apps, func(a, b *App) int { return strings.Compare(a.Rel, b.Rel) })
	return p, nil
}

// findWorkspace walks up from an app's directory to the nearest directory
// declaring workspaces (package.json workspaces or pnpm-workspace.yaml),
// stopping at a git top level, and maps its packages' names to their
// directories.
func findWorkspace(appDir string) (string, map[string]string) {
	for dir := appDir; ; {
		globs, ok := workspaceGlobs(dir)
		if ok {
			return dir, workspacePackages(dir, globs)
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return appDir, nil
}

// workspaceGlobs returns the package globs a directory declares, if any.
func workspaceGlobs(dir string) ([]string, bool) {
	if b, err := os.ReadFile(filepath.Join(dir, "pnpm-workspace.yaml")); err == nil {
		var w struct {
			Packages []string `yaml:"packages"`
		}
		if yaml.Unmarshal(b, &w) == nil {
			return w.Packages, true
		}
	}
	if pkg, err := readPackageJSON(dir); err == nil && len(pkg.Workspaces) > 0 {
		return pkg.Workspaces, true
	}
	return nil, false
}

// workspacePackages expands workspace globs ("apps/*", "packages/**",
// "!packages/legacy") into a name → directory map.
func workspacePackages(root string, globs []string) map[string]string {
	var dirs []string
	var excluded []string
	for _, g := range globs {
		if rest, ok := strings.CutPrefix(g, "!"); ok {
			excluded = append(excluded, filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(rest, "/"))))
			continue
		}
		g = strings.TrimSuffix(strings.TrimPrefix(g, "./"), "/")
		if base, ok := strings.CutSuffix(g, "/**"); ok {
			_ = filepath.WalkDir(filepath.Join(root, filepath.FromSlash(base)), func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return nil
				}
				if d.IsDir() && skipDirs[d.Name()] {
					return filepath.SkipDir
				}
				if !d.IsDir() && d.Name() == "package.json" {
					dirs = append(dirs, filepath.Dir(path))
				}
				return nil
			})
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(g), "package.json"))
		for _, m := range matches {
			dirs = append(dirs, filepath.Dir(m))
		}
	}
	out := map[string]string{}
	for _, d := range dirs {
		if slices.ContainsFunc(excluded, func(e string) bool { m, _ := filepath.Match(e, d); return m || e == d }) {
			continue
		}
		if pkg, err := readPackageJSON(d); err == nil && pkg.Name != "" {
			out[pkg.Name] = d
		}
	}
	return out
}

// errNotFound is returned by lookups that found nothing to read.
var errNotFound = errors.New("not found")

// findUp returns the first of names found in dir or its ancestors up to
// and including stop (or the filesystem root).
func findUp(dir, stop string, names ...string) (string, error) {
	for {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		if dir == stop {
			return "", errNotFound
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNotFound
		}
		dir = parent
	}
}
