package main

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

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/ignore"
	"github.com/keyward/keyward/internal/scan/report"
	"github.com/keyward/keyward/internal/scan/rules"
	"github.com/keyward/keyward/internal/scan/source"
	"github.com/keyward/keyward/internal/scan/verify"
)

// errFindings ends a scan that found secrets: exit code 1, and nothing more
// to say, since the report has said it.
var errFindings = fmt.Errorf("secrets found: %w", errSilent)

// scanFlags are keyward scan's options.
type scanFlags struct {
	format, reportFile   string
	quiet, noSkip, bin   bool
	git, staged          bool
	since, branch        string
	ignoreFile, baseline string
	noDecode             bool
	decodeBudget         int
	verify               bool
	verifyEndpoints      []string
	verifyTimeout        time.Duration
	progress, noProgress bool
}

func scanCmd(e env) *cobra.Command {
	var fl scanFlags
	cmd := &cobra.Command{
		Use:   "scan [PATH... | -]",
		Short: "Find leaked AI provider keys and other secrets in files, git history and staged changes",
		Long: `Scan files and directories (default ".") for AI provider keys and the secrets
that travel with them. .git, node_modules and binary files are skipped unless
asked for; build output (.next, out, dist, build) is scanned, and findings in
files Next.js sends to browsers are marked "client" (with the original source
file when the bundle has a source map). Secrets hidden by JavaScript escapes,
URL encoding or base64 are decoded and found too. "-" scans standard input.

--git scans the lines every commit reachable from any ref added (or --branch
REV's, after --since DATE), so a key committed and removed later is still
found, with its commit. --staged scans the staged changes, for a pre-commit
hook. With either, PATH is a directory in the repository (default ".").

Accepted findings: a "keyward:allow" comment on the finding's line; an
ignore file with "path: GLOB", "rule: ID", "regex: RE" (on the secret) and
"fingerprint: FP" lines — --ignore-file for every path, else .keywardignore
in the repository's root (--git, --staged), in each directory named (for
its files), or in the current directory (for named files and stdin); an
unknown rule id is an error; and --baseline REPORT.json, an earlier JSON
report whose findings are not reported again.

--verify asks each key's provider whether it still works (one read-only
request per distinct key, 5s timeout) and reports active, inactive or
unknown. Without --verify no key ever leaves this machine.

Exit status: 0 no secrets found, 1 secrets found, 2 error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), e, cmd.InOrStdin(), cmd.Flags().Changed("ignore-file"), fl, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.format, "format", "text", "report format: "+strings.Join(report.Formats, ", "))
	f.StringVar(&fl.reportFile, "report", "", "write the report to this file instead of standard output")
	f.BoolVarP(&fl.quiet, "quiet", "q", false, "print nothing (no report, no progress); the exit status tells")
	f.BoolVar(&fl.noSkip, "no-skip", false, "scan .git and node_modules too")
	f.BoolVar(&fl.bin, "binary", false, "scan binary files too")
	f.BoolVar(&fl.git, "git", false, "scan the lines added by every commit in the repository's history")
	f.StringVar(&fl.since, "since", "", "with --git: only commits more recent than this date (git log --since)")
	f.StringVar(&fl.branch, "branch", "", "with --git: only commits reachable from this revision or range, not from every ref")
	f.BoolVar(&fl.staged, "staged", false, "scan the staged changes (for a pre-commit hook)")
	f.StringVar(&fl.ignoreFile, "ignore-file", "", "ignore file for every path (default: "+ignore.DefaultFile+" in each directory named, the repository's root with --git/--staged, or the current directory for files and stdin; if there is one)")
	f.StringVar(&fl.baseline, "baseline", "", "JSON report of an earlier scan whose findings are accepted")
	f.BoolVar(&fl.noDecode, "no-decode", false, "do not decode escaped, URL-encoded or base64 text")
	f.IntVar(&fl.decodeBudget, "decode-budget", 0, "decoded bytes allowed per 1 MiB chunk scanned (default 2 MiB)")
	f.BoolVar(&fl.verify, "verify", false, "check each key against its provider (sends the key to the provider)")
	f.StringArrayVar(&fl.verifyEndpoints, "verify-endpoint", nil, "with --verify: RULE=URL, check that rule's keys at URL instead (repeatable)")
	f.DurationVar(&fl.verifyTimeout, "verify-timeout", 5*time.Second, "with --verify: timeout per request")
	f.BoolVar(&fl.progress, "progress", false, "show progress on standard error even when it is not a terminal")
	f.BoolVar(&fl.noProgress, "no-progress", false, "never show progress")
	return cmd
}

func runScan(ctx context.Context, e env, stdin io.Reader, ignoreSet bool, fl scanFlags, args []string) error {
	if !slices.Contains(report.Formats, fl.format) {
		return usageError{fmt.Errorf("--format %q: want one of %s", fl.format, strings.Join(report.Formats, ", "))}
	}
	if (fl.since != "" || fl.branch != "") && !fl.git {
		return usageError{errors.New("--since and --branch need --git")}
	}
	if fl.git && fl.staged {
		return usageError{errors.New("--git and --staged exclude each other")}
	}
	if len(fl.verifyEndpoints) > 0 && !fl.verify {
		return usageError{errors.New("--verify-endpoint needs --verify")}
	}
	history := fl.git || fl.staged
	stdinMode := len(args) == 1 && args[0] == "-"
	switch {
	case history && len(args) > 1:
		return usageError{errors.New("--git and --staged take one repository directory")}
	case !stdinMode && slices.Contains(args, "-"):
		return usageError{errors.New(`"-" (standard input) cannot be mixed with paths`)}
	}
	if len(args) == 0 {
		args = []string{"."}
	}

	// The ignore file: the one named (for every path), else, if there is
	// one, .keywardignore in the repository's root for --git and --staged,
	// in each directory named for its files, and in the current directory
	// for named files and standard input.
	var baseline []byte
	if fl.baseline != "" {
		b, err := os.ReadFile(fl.baseline)
		if err != nil {
			return usageError{fmt.Errorf("baseline: %w", err)}
		}
		baseline = b
		if err := (&ignore.List{}).AddBaseline(bytes.NewReader(baseline)); err != nil {
			return usageError{fmt.Errorf("%s: %w", fl.baseline, err)}
		}
	}
	loadIgnore := func(dir string) (*ignore.List, error) {
		path, optional := fl.ignoreFile, false
		if !ignoreSet {
			path, optional = filepath.Join(dir, ignore.DefaultFile), true
		}
		ign, err := ignore.Load(path, optional)
		if err != nil {
			return nil, usageError{fmt.Errorf("ignore file: %w", err)}
		}
		if err := ign.CheckRules(knownRule); err != nil {
			return nil, usageError{fmt.Errorf("ignore file: %s: %w", path, err)}
		}
		if baseline != nil {
			if err := ign.AddBaseline(bytes.NewReader(baseline)); err != nil {
				return nil, usageError{fmt.Errorf("%s: %w", fl.baseline, err)}
			}
		}
		return ign, nil
	}
	// A group is paths scanned with one ignore list.
	type group struct {
		paths []string
		ign   *ignore.List
	}
	var groups []group
	switch {
	case history:
		dir := "."
		if len(args) == 1 {
			dir = args[0]
		}
		if top, err := source.GitTopLevel(ctx, dir); err == nil {
			dir = top // else ScanGit says it is not a repository
		}
		ign, err := loadIgnore(dir)
		if err != nil {
			return err
		}
		groups = []group{{args, ign}}
	case stdinMode || ignoreSet:
		ign, err := loadIgnore(".")
		if err != nil {
			return err
		}
		groups = []group{{args, ign}}
	default:
		var files []string
		for _, p := range args {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				ign, err := loadIgnore(p)
				if err != nil {
					return err
				}
				groups = append(groups, group{[]string{p}, ign})
			} else {
				files = append(files, p)
			}
		}
		if len(files) > 0 {
			ign, err := loadIgnore(".")
			if err != nil {
				return err
			}
			groups = append([]group{{files, ign}}, groups...)
		}
	}
	verifier := &verify.Verifier{Timeout: fl.verifyTimeout, Endpoints: map[string]verify.Endpoint{}}
	for _, s := range fl.verifyEndpoints {
		rule, ep, err := verify.ParseEndpoint(s)
		if err != nil {
			return usageError{err}
		}
		verifier.Endpoints[rule] = ep
	}

	opt := source.Options{IncludeSkippedDirs: fl.noSkip, IncludeBinary: fl.bin, Progress: new(source.Progress)}
	if fl.noDecode {
		opt.DecodeDepth = -1
	}
	if fl.decodeBudget < 0 {
		return usageError{errors.New("--decode-budget must not be negative")}
	}
	opt.DecodeBudget = fl.decodeBudget
	// Files where some encoded text was left undecoded (more of it in one
	// chunk than the decoding budget): said on standard error, never
	// silently.
	var (
		cutMu sync.Mutex
		cut   []string
	)
	opt.DecodeCut = func(name string) {
		cutMu.Lock()
		cut = append(cut, name)
		cutMu.Unlock()
	}
	stopProgress := func() {}
	if !fl.quiet && !fl.noProgress && (fl.progress || isTerminal(e.stderr)) {
		stopProgress = sync.OnceFunc(showProgress(e.stderr, opt.Progress, 250*time.Millisecond))
		defer stopProgress()
	}

	d := detect.New(rules.All())
	var (
		findings   []source.Finding
		unreadable *source.UnreadableError
		err        error
	)
	for _, g := range groups {
		gopt := opt
		if g.ign.HasPaths() {
			gopt.Skip = g.ign.Path
		}
		var found []source.Finding
		switch {
		case history:
			gg := source.GitOptions{Since: fl.since, Branch: fl.branch, Staged: fl.staged}
			if len(g.paths) == 1 {
				gg.Dir = g.paths[0]
			}
			found, err = source.ScanGit(ctx, d, gg, gopt)
		case stdinMode:
			found, err = source.ScanReader(d, stdin, "-", gopt)
		default:
			found, err = source.Scan(ctx, d, g.paths, gopt)
		}
		// Files that could not be read do not stop the scan: the
		// findings in the rest are reported, then the unreadable files
		// are listed on standard error and the exit status is 2.
		var ue *source.UnreadableError
		if errors.As(err, &ue) {
			if unreadable == nil {
				unreadable = &source.UnreadableError{}
			}
			unreadable.Files = append(unreadable.Files, ue.Files...)
			err = nil
		}
		if err != nil {
			break
		}
		findings = append(findings, slices.DeleteFunc(found, func(f source.Finding) bool {
			return g.ign.Finding(f.RuleID, f.Secret, f.Fingerprint())
		})...)
	}
	if len(groups) > 1 {
		slices.SortStableFunc(findings, func(a, b source.Finding) int {
			return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Start, b.Start), strings.Compare(a.RuleID, b.RuleID))
		})
	}
	stopProgress()
	if len(cut) > 0 && !fl.quiet {
		slices.Sort(cut)
		fmt.Fprintf(e.stderr, "keyward: note: decoding was cut short in %d file(s) with more encoded text than the budget; secrets encoded there may be missed:\n", len(cut))
		for _, name := range cut {
			fmt.Fprintf(e.stderr, "  %s\n", source.EscapeControl(name))
		}
	}
	if err != nil {
		// Every other scan error is exit status 2, which usageError
		// carries.
		return usageError{err}
	}

	ropt := report.Options{Version: versionString(), Color: fl.reportFile == "" && colorful(e.stdout, e.getenv)}
	if fl.verify && len(findings) > 0 {
		keys := make([]verify.Key, len(findings))
		for i, f := range findings {
			keys[i] = verify.Key{RuleID: f.RuleID, Secret: f.Secret}
		}
		ropt.Verified = map[string]string{}
		for i, st := range verifier.Check(ctx, keys) {
			ropt.Verified[findings[i].Fingerprint()] = string(st)
		}
	}

	var out bytes.Buffer
	if err := report.Write(&out, fl.format, findings, ropt); err != nil {
		return usageError{err}
	}
	switch {
	case fl.reportFile != "":
		if err := os.WriteFile(fl.reportFile, out.Bytes(), 0o600); err != nil {
			return usageError{fmt.Errorf("write report: %w", err)}
		}
		if !fl.quiet {
			fmt.Fprintf(e.stdout, "%d secrets found; report written to %s\n", len(findings), fl.reportFile)
		}
	case !fl.quiet:
		if _, err := e.stdout.Write(out.Bytes()); err != nil {
			return usageError{err}
		}
	}
	if unreadable != nil {
		return usageError{unreadable}
	}
	if len(findings) > 0 {
		return errFindings
	}
	return nil
}

// showProgress writes what has been scanned to w every interval, on one
// line that it rewrites, until the returned stop is called, which clears
// it.
func showProgress(w io.Writer, p *source.Progress, every time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		shown := false
		for {
			select {
			case <-done:
				if shown {
					fmt.Fprint(w, "\r\x1b[K")
				}
				return
			case <-t.C:
				mib := float64(p.Bytes.Load()) / (1 << 20)
				fmt.Fprintf(w, "\r\x1b[Kscanning: %d files, %.1f MiB, %.1f MiB/s", p.Files.Load(), mib, mib/time.Since(start).Seconds())
				shown = true
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// isTerminal reports whether w is a terminal: a character device other
// than the null device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(st, null)
}

// colorful reports whether text for w may use colours: a terminal, and
// neither NO_COLOR nor TERM=dumb.
func colorful(w io.Writer, getenv func(string) string) bool {
	return isTerminal(w) && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// knownRule accepts the ids a "rule:" line of an ignore file may name: a
// scan rule's, or an audit check's (one .keywardignore serves both).
func knownRule(id string) bool {
	if _, ok := audit.CheckByID(id); ok {
		return true
	}
	return slices.ContainsFunc(rules.All(), func(r *rules.Rule) bool { return r.ID == id })
}
