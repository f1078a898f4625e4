package nextaudit

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/source"
)

// runNextBuild runs the app's own `next build` with telemetry off.
func (a *auditor) runNextBuild(c *appCtx) error {
	bin, err := findUp(c.Dir, c.WorkspaceRoot, filepath.Join("node_modules", ".bin", "next"))
	if err != nil {
		return fmt.Errorf("--build: next is not installed for %s (run npm install first)", c.Rel)
	}
	cmd := exec.CommandContext(a.ctx, bin, "build")
	cmd.Dir = c.Dir
	cmd.Env = a.environ("NEXT_TELEMETRY_DISABLED=1", "CI=1")
	log := a.opt.BuildLog
	if log == nil {
		log = io.Discard
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("next build in %s: %w", c.Rel, err)
	}
	return nil
}

// clientOutputDirs are the parts of a build that can hold files sent to
// browsers (source.Classify decides file by file); .next/cache and the
// server bundles are left alone. public/ is served as it is, build or not.
var clientOutputDirs = []string{".next/static", ".next/server/app", "out", "public"}

// sentToBrowsers reports whether a file, by its slash-separated path
// relative to the app, is sent to browsers.
func sentToBrowsers(appRel string) bool {
	return strings.HasPrefix(appRel, "public/") || source.Classify(appRel) == source.Client
}

// checkBuildOutput (check 11): with .next/ or out/ present (after --build,
// or left by an earlier build), run the scanner over what browsers
// receive, public/ included, and report every key there as critical.
func (a *auditor) checkBuildOutput(c *appCtx) error {
	if a.opt.Build {
		if err := a.runNextBuild(c); err != nil {
			return err
		}
	}
	var roots []string
	for _, d := range clientOutputDirs {
		p := filepath.Join(c.Dir, filepath.FromSlash(d))
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			roots = append(roots, p)
		}
	}
	if len(roots) == 0 {
		return nil
	}
	found, err := source.Scan(a.ctx, a.det, roots, source.Options{Workers: 2})
	if err != nil {
		return fmt.Errorf("scan build output: %w", err)
	}
	// One finding per secret occurrence: where a provider rule and a
	// generic rule match the same bytes, the provider's names it.
	type span struct {
		path       string
		start, end int
	}
	bySpan := map[span][]source.Finding{}
	var order []span
	for _, f := range found {
		appRel, err := filepath.Rel(c.Dir, f.Path)
		if err != nil || !sentToBrowsers(filepath.ToSlash(appRel)) {
			continue
		}
		k := span{f.Path, f.Start, f.End}
		if _, ok := bySpan[k]; !ok {
			order = append(order, k)
		}
		bySpan[k] = append(bySpan[k], f)
	}
	for _, k := range order {
		fs := bySpan[k]
		f := fs[0]
		for _, g := range fs {
			if !strings.HasPrefix(g.RuleID, "generic") {
				f = g
				break
			}
		}
		fd := Finding{CheckID: CheckBuildOutputSecret, Severity: Critical, Path: a.rel(f.Path), Line: f.Line, Column: f.Column, App: c.Rel,
			Subject: "secret:" + f.Fingerprint(),
			Message: fmt.Sprintf("%s (%s, %s) is in a file sent to browsers (client): anyone who loads the app can read it",
				f.Description, f.RuleID, detect.Redact(f.Secret))}
		if f.RuleID == "google-api-key" && a.firebaseKeys[f.Secret] {
			fd.Severity, fd.Fix = Low, firebaseKeyFix
			fd.Message = fmt.Sprintf("the Firebase web API key %s from your public env is in a file sent to browsers: public by design, "+
				"but it can call Gemini if the Generative Language API is enabled in its project", detect.Redact(f.Secret))
		}
		a.add(fd)
	}
	return nil
}
