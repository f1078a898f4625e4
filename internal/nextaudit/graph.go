package nextaudit

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// sourceExts are the extensions of the modules an app is made of.
var sourceExts = map[string]bool{".js": true, ".jsx": true, ".ts": true, ".tsx": true, ".mjs": true, ".cjs": true, ".mts": true, ".cts": true}

// isTestFile reports files that never ship: tests, stories, declarations.
func isTestFile(name string) bool {
	for _, s := range []string{".test.", ".spec.", ".stories.", ".story."} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return strings.HasSuffix(name, ".d.ts") || strings.HasSuffix(name, ".d.mts") || strings.HasSuffix(name, ".d.cts")
}

// sourceFiles lists an app's modules: every JS/TS file under its
// directory except dependencies, build output, tests and nested apps.
func sourceFiles(app *App, nested map[string]bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(app.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != app.Dir && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".") || d.Name() == "__tests__" ||
				d.Name() == "public" || nested[path]) {
				return filepath.SkipDir
			}
			return nil
		}
		if sourceExts[strings.ToLower(filepath.Ext(d.Name()))] && !isTestFile(d.Name()) && d.Type().IsRegular() {
			out = append(out, path)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// emptyLoaderExts are imported assets the import graph does not need to
// read.
var emptyLoaderExts = []string{
	".css", ".scss", ".sass", ".less", ".styl", ".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".ico", ".bmp",
	".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".wav", ".ogg", ".md", ".mdx", ".txt", ".html",
	".graphql", ".gql", ".yaml", ".yml", ".wasm", ".node", ".glsl", ".csv", ".pdf", ".prisma", ".sql",
}

var (
	couldNotResolve = regexp.MustCompile(`^Could not resolve "([^"]+)"`)
	noLoader        = regexp.MustCompile(`^No loader is configured for "(\.[^"]+)" files`)
)

// auditEntry names the synthetic entry module that imports every module.
const auditEntry = "<keyward-audit-entry>"

// metafile is the part of esbuild's metafile the graph needs.
type metafile struct {
	Inputs map[string]struct {
		Imports []struct {
			Path     string `json:"path"`
			Kind     string `json:"kind"`
			External bool   `json:"external"`
			Original string `json:"original"`
		} `json:"imports"`
	} `json:"inputs"`
}

// importGraph bundles an app's modules with esbuild, every npm package
// external, and returns each module's imports keyed by path relative to
// root. esbuild resolves relative imports, tsconfig/jsconfig paths ("@/…",
// with extends) and, through the plugin below, the workspace's own
// packages. What it cannot resolve or parse is recorded and left out on
// the next attempt, so one broken file costs its edges, not the graph.
func importGraph(root string, app *App, entries []string) (map[string][]Import, []string, error) {
	unresolved := map[string]bool{} // importer NUL spec
	broken := map[string]bool{}     // absolute paths of modules esbuild cannot parse
	loaders := map[string]api.Loader{}
	for _, e := range emptyLoaderExts {
		loaders[e] = api.LoaderEmpty
	}
	loaders[".js"] = api.LoaderJSX
	var problems []string

	plugin := api.Plugin{Name: "keyward-audit", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			if unresolved[a.Importer+"\x00"+a.Path] {
				return api.OnResolveResult{Path: a.Path, External: true}, nil
			}
			if p := resolveWorkspace(app, a.Path); p != "" {
				return api.OnResolveResult{Path: p}, nil
			}
			return api.OnResolveResult{}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: "file"}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
			if broken[a.Path] {
				empty := ""
				return api.OnLoadResult{Contents: &empty, Loader: api.LoaderJS}, nil
			}
			return api.OnLoadResult{}, nil
		})
	}}

	// One synthetic entry imports every module: the metafile lists the
	// same inputs and imports as with one entry point per module, and the
	// linker runs once instead of once per module.
	var entry strings.Builder
	for _, e := range entries {
		b, _ := json.Marshal(e)
		fmt.Fprintf(&entry, "import %s;\n", b)
	}
	for attempt := 0; attempt < 8; attempt++ {
		r := api.Build(api.BuildOptions{
			Stdin:         &api.StdinOptions{Contents: entry.String(), ResolveDir: root, Sourcefile: auditEntry, Loader: api.LoaderJS},
			AbsWorkingDir: root,
			Bundle:        true,
			Write:         false,
			Metafile:      true,
			Outfile:       filepath.Join(root, ".keyward-audit-out.js"), // never written
			Packages:      api.PackagesExternal,
			Platform:      api.PlatformNeutral,
			Format:        api.FormatESModule,
			MainFields:    []string{"module", "main"},
			Loader:        loaders,
			JSX:           api.JSXAutomatic,
			LogLevel:      api.LogLevelSilent,
			Plugins:       []api.Plugin{plugin},
		})
		if len(r.Errors) == 0 {
			var mf metafile
			if err := json.Unmarshal([]byte(r.Metafile), &mf); err != nil {
				return nil, problems, fmt.Errorf("read esbuild metafile: %w", err)
			}
			out := map[string][]Import{}
			for path, in := range mf.Inputs {
				if path == auditEntry || strings.HasPrefix(path, "<") {
					continue
				}
				var imps []Import
				for _, im := range in.Imports {
					spec := im.Original
					if spec == "" {
						spec = im.Path
					}
					imp := Import{Spec: spec, External: im.External, Kind: im.Kind}
					if !im.External {
						imp.Path = filepath.ToSlash(filepath.Clean(filepath.FromSlash(im.Path)))
					}
					imps = append(imps, imp)
				}
				out[filepath.ToSlash(filepath.Clean(filepath.FromSlash(path)))] = imps
			}
			return out, problems, nil
		}
		progress := false
		for _, e := range r.Errors {
			if m := noLoader.FindStringSubmatch(e.Text); m != nil {
				if _, ok := loaders[m[1]]; !ok {
					loaders[m[1]] = api.LoaderEmpty
					progress = true
				}
				continue
			}
			if e.Location == nil || e.Location.File == "" {
				continue
			}
			file := e.Location.File
			if !filepath.IsAbs(file) {
				file = filepath.Join(root, filepath.FromSlash(file))
			}
			if m := couldNotResolve.FindStringSubmatch(e.Text); m != nil {
				key := file + "\x00" + m[1]
				if !unresolved[key] {
					unresolved[key] = true
					progress = true
				}
				continue
			}
			if !broken[file] {
				broken[file] = true
				progress = true
				rel, _ := filepath.Rel(root, file)
				problems = append(problems, fmt.Sprintf("%s:%d: %s", filepath.ToSlash(rel), e.Location.Line, e.Text))
			}
		}
		if !progress {
			return nil, problems, fmt.Errorf("esbuild: %s", r.Errors[0].Text)
		}
	}
	return nil, problems, fmt.Errorf("esbuild: too many unresolvable imports or broken modules")
}

// resolveWorkspace resolves an import of one of the workspace's own
// packages ("@acme/ai", "@acme/ai/server") to a source file, or "".
func resolveWorkspace(app *App, spec string) string {
	if len(app.Workspace) == 0 || spec == "" || spec[0] == '.' || spec[0] == '/' {
		return ""
	}
	name := packageName(spec)
	dir, ok := app.Workspace[name]
	if !ok || dir == app.Dir {
		return ""
	}
	sub := strings.TrimPrefix(strings.TrimPrefix(spec, name), "/")
	pkg, _ := readPackageJSON(dir)
	var candidates []string
	if sub == "" {
		candidates = append(candidates, exportTargets(pkg.Exports, ".")...)
		candidates = append(candidates, pkg.Module, pkg.Main, "src/index", "index")
	} else {
		candidates = append(candidates, exportTargets(pkg.Exports, "./"+sub)...)
		candidates = append(candidates, sub, "src/"+sub)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p := withExtension(filepath.Join(dir, filepath.FromSlash(c))); p != "" {
			return p
		}
	}
	return ""
}

// exportTargets returns the paths package.json "exports" maps key to,
// preferring source-like conditions.
func exportTargets(raw json.RawMessage, key string) []string {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if key == "." {
			return []string{s}
		}
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	if v, ok := m[key]; ok {
		return conditionTargets(v)
	}
	if key == "." && !hasDotKey(m) {
		return conditionTargets(raw) // conditions at the top level
	}
	return nil
}

func hasDotKey(m map[string]json.RawMessage) bool {
	for k := range m {
		if strings.HasPrefix(k, ".") {
			return true
		}
	}
	return false
}

func conditionTargets(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []string
	for _, c := range []string{"source", "react-server", "types", "import", "default", "require", "node", "browser"} {
		if v, ok := m[c]; ok {
			out = append(out, conditionTargets(v)...)
		}
	}
	return out
}

// withExtension returns p if it is a file, else p with a source extension
// or p/index with one, else "". Declaration files are mapped to the
// source beside them.
func withExtension(p string) string {
	p = strings.TrimSuffix(strings.TrimSuffix(p, ".d.ts"), ".d.mts")
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p
	}
	base := p
	for _, ext := range []string{".js", ".mjs", ".cjs", ".jsx"} {
		base = strings.TrimSuffix(base, ext)
	}
	for _, b := range []string{base, filepath.Join(p, "index")} {
		for _, ext := range []string{".ts", ".tsx", ".js", ".jsx", ".mjs", ".mts"} {
			if st, err := os.Stat(b + ext); err == nil && !st.IsDir() {
				return b + ext
			}
		}
	}
	return ""
}
