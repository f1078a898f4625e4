// Package scan runs a keyward scan from end to end: it pairs the paths with
// their ignore files, reads files, standard input, git history or the staged
// changes through the detector, leaves out the findings a project accepted
// (ignore files and a baseline report), merges and orders the rest, and, when
// asked, checks each key with its provider. The packages below it do one step
// each (source reads, detect finds, ignore decides, verify asks); reports and
// exit statuses belong to the command (cmd/keyward).
package scan

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/ignore"
	"github.com/keyward/keyward/internal/scan/rules"
	"github.com/keyward/keyward/internal/scan/source"
	"github.com/keyward/keyward/internal/scan/verify"
)

// Mode is what a scan reads.
type Mode int

// Modes.
const (
	// Files reads files and directories (Options.Paths, default ".").
	Files Mode = iota
	// Stdin reads Options.Stdin, reported as "-".
	Stdin
	// History reads the lines every commit added (git log -p).
	History
	// Staged reads the staged changes (git diff --cached).
	Staged
)

// Options describe one scan. The zero value scans the current directory
// with the default ignore files and no verification.
type Options struct {
	Mode Mode
	// Paths are the files and directories to scan (Files), or at most one
	// directory inside the repository (History, Staged); default ".".
	Paths []string
	// Stdin is read in Stdin mode.
	Stdin io.Reader
	// Since and Branch narrow History (see source.GitOptions).
	Since, Branch string

	// IgnoreFile applies to everything scanned. When empty, .keywardignore
	// is used where there is one: in the repository's root (History,
	// Staged), in each directory named (for the files under it), and in
	// the current directory (named files, standard input).
	IgnoreFile string
	// Baseline is an earlier JSON report whose findings are accepted.
	Baseline string
	// KnownRule accepts the ids an ignore file's "rule:" lines may name
	// besides scan rules' (keyward audit's check ids: one .keywardignore
	// serves both); an id neither knows is an error.
	KnownRule func(id string) bool

	// Source controls reading and decoding (skipped directories, binary
	// files, decoding, progress). Skip and DecodeCut are Run's own.
	Source source.Options
	// Scanned, when set, is called once reading is over, before keys are
	// verified (a progress display stops there).
	Scanned func()

	// Verify asks each key's provider whether it still works; this sends
	// the key to the provider.
	Verify bool
	// VerifyEndpoints replace providers' endpoints by rule id.
	VerifyEndpoints map[string]verify.Endpoint
	// VerifyTimeout bounds each request (default 5 s).
	VerifyTimeout time.Duration
}

// Result is what a scan found.
type Result struct {
	// Findings are the secrets not accepted, ordered by path and position
	// (or, for history, as git reported the commits).
	Findings []source.Finding
	// Verified holds each finding's verification status by fingerprint;
	// nil when nothing was verified.
	Verified map[string]string
	// Unreadable lists the paths that could not be read; the rest was
	// scanned, and Findings holds what it held.
	Unreadable *source.UnreadableError
	// DecodeCut names, sorted, the files where a chunk held more encoded
	// text than the decoding budget, so secrets encoded there may be
	// missed.
	DecodeCut []string
}

// group is paths scanned with one ignore list.
type group struct {
	paths []string
	ign   *ignore.List
}

// Run scans as opt says. An error means the scan could not be done (a bad
// ignore file or baseline, not a git repository, a cancelled context);
// files that could not be read are not an error but Result.Unreadable.
// Even with an error, Result.DecodeCut says what was cut short so far.
func Run(ctx context.Context, opt Options) (Result, error) {
	paths := opt.Paths
	if len(paths) == 0 {
		paths = []string{"."}
	}
	history := opt.Mode == History || opt.Mode == Staged
	if history && len(paths) > 1 {
		return Result{}, errors.New("git history and staged changes are read from one repository directory")
	}
	var baseline []byte
	if opt.Baseline != "" {
		b, err := os.ReadFile(opt.Baseline)
		if err != nil {
			return Result{}, fmt.Errorf("baseline: %w", err)
		}
		if err := (&ignore.List{}).AddBaseline(bytes.NewReader(b)); err != nil {
			return Result{}, fmt.Errorf("%s: %w", opt.Baseline, err)
		}
		baseline = b
	}
	groups, err := groupPaths(ctx, opt, paths, history, baseline)
	if err != nil {
		return Result{}, err
	}

	sopt := opt.Source
	// Files where some encoded text was left undecoded (more of it in one
	// chunk than the decoding budget): reported, never silently dropped.
	var (
		cutMu sync.Mutex
		cut   []string
	)
	sopt.DecodeCut = func(name string) {
		cutMu.Lock()
		cut = append(cut, name)
		cutMu.Unlock()
	}

	d := detect.New(rules.All())
	var res Result
	for _, g := range groups {
		gopt := sopt
		if g.ign.HasPaths() {
			gopt.Skip = g.ign.Path
		}
		var found []source.Finding
		switch opt.Mode {
		case History, Staged:
			gg := source.GitOptions{Since: opt.Since, Branch: opt.Branch, Staged: opt.Mode == Staged}
			if len(g.paths) == 1 {
				gg.Dir = g.paths[0]
			}
			found, err = source.ScanGit(ctx, d, gg, gopt)
		case Stdin:
			found, err = source.ScanReader(d, opt.Stdin, "-", gopt)
		default:
			found, err = source.Scan(ctx, d, g.paths, gopt)
		}
		// Files that could not be read do not stop the scan: the findings
		// in the rest count, and the unreadable files are listed.
		var ue *source.UnreadableError
		if errors.As(err, &ue) {
			if res.Unreadable == nil {
				res.Unreadable = &source.UnreadableError{}
			}
			res.Unreadable.Files = append(res.Unreadable.Files, ue.Files...)
			err = nil
		}
		if err != nil {
			break
		}
		res.Findings = append(res.Findings, slices.DeleteFunc(found, func(f source.Finding) bool {
			return g.ign.Finding(f.RuleID, f.Secret, f.Fingerprint())
		})...)
	}
	if len(groups) > 1 {
		slices.SortStableFunc(res.Findings, func(a, b source.Finding) int {
			return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Start, b.Start), strings.Compare(a.RuleID, b.RuleID))
		})
	}
	if opt.Scanned != nil {
		opt.Scanned()
	}
	cutMu.Lock()
	res.DecodeCut = slices.Sorted(slices.Values(cut))
	cutMu.Unlock()
	if err != nil {
		return Result{DecodeCut: res.DecodeCut}, err
	}

	if opt.Verify && len(res.Findings) > 0 {
		v := &verify.Verifier{Timeout: opt.VerifyTimeout, Endpoints: opt.VerifyEndpoints}
		keys := make([]verify.Key, len(res.Findings))
		for i, f := range res.Findings {
			keys[i] = verify.Key{RuleID: f.RuleID, Secret: f.Secret}
		}
		res.Verified = map[string]string{}
		for i, st := range v.Check(ctx, keys) {
			res.Verified[res.Findings[i].Fingerprint()] = string(st)
		}
	}
	return res, nil
}

// groupPaths pairs the paths with their ignore lists: the one named (for
// every path), else, where there is one, .keywardignore in the
// repository's root for history, in each directory named for the files
// under it, and in the current directory for named files and standard
// input. Named files come first, in one group.
func groupPaths(ctx context.Context, opt Options, paths []string, history bool, baseline []byte) ([]group, error) {
	load := func(dir string) (*ignore.List, error) {
		path, optional := opt.IgnoreFile, false
		if path == "" {
			path, optional = filepath.Join(dir, ignore.DefaultFile), true
		}
		ign, err := ignore.Load(path, optional)
		if err != nil {
			return nil, fmt.Errorf("ignore file: %w", err)
		}
		if err := ign.CheckRules(func(id string) bool { return isRule(id) || opt.KnownRule != nil && opt.KnownRule(id) }); err != nil {
			return nil, fmt.Errorf("ignore file: %s: %w", path, err)
		}
		if baseline != nil {
			if err := ign.AddBaseline(bytes.NewReader(baseline)); err != nil {
				return nil, fmt.Errorf("%s: %w", opt.Baseline, err)
			}
		}
		return ign, nil
	}
	switch {
	case history:
		dir := "."
		if len(paths) == 1 {
			dir = paths[0]
		}
		if top, err := source.GitTopLevel(ctx, dir); err == nil {
			dir = top // else ScanGit says it is not a repository
		}
		ign, err := load(dir)
		if err != nil {
			return nil, err
		}
		return []group{{paths, ign}}, nil
	case opt.Mode == Stdin || opt.IgnoreFile != "":
		ign, err := load(".")
		if err != nil {
			return nil, err
		}
		return []group{{paths, ign}}, nil
	}
	var groups []group
	var files []string
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			ign, err := load(p)
			if err != nil {
				return nil, err
			}
			groups = append(groups, group{[]string{p}, ign})
		} else {
			files = append(files, p)
		}
	}
	if len(files) > 0 {
		ign, err := load(".")
		if err != nil {
			return nil, err
		}
		groups = append([]group{{files, ign}}, groups...)
	}
	return groups, nil
}

// isRule reports whether id is a scan rule's.
func isRule(id string) bool {
	return slices.ContainsFunc(rules.All(), func(r *rules.Rule) bool { return r.ID == id })
}
