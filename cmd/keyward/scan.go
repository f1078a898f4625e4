package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

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

Accepted findings: a line with "keyward:allow" on it; an ignore file
(--ignore-file, default .keywardignore in the scanned directory) with
"path: GLOB", "rule: ID", "regex: RE" (on the secret) and "fingerprint: FP"
lines; and --baseline REPORT.json, an earlier JSON report whose findings are
not reported again.

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
	f.StringVar(&fl.ignoreFile, "ignore-file", "", "ignore file (default: "+ignore.DefaultFile+" in the scanned directory, if there is one)")
	f.StringVar(&fl.baseline, "baseline", "", "JSON report of an earlier scan whose findings are accepted")
	f.BoolVar(&fl.noDecode, "no-decode", false, "do not decode escaped, URL-encoded or base64 text")
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

	// The ignore file: the one named, else .keywardignore in the scanned
	// directory (the repository for --git), if there is one.
	ignorePath, optional := fl.ignoreFile, false
	if !ignoreSet {
		optional = true
		dir := "."
		if st, err := os.Stat(args[0]); err == nil && st.IsDir() && !stdinMode {
			dir = args[0]
		}
		ignorePath = filepath.Join(dir, ignore.DefaultFile)
	}
	ign, err := ignore.Load(ignorePath, optional)
	if err != nil {
		return usageError{fmt.Errorf("ignore file: %w", err)}
	}
	if fl.baseline != "" {
		f, err := os.Open(fl.baseline)
		if err != nil {
			return usageError{fmt.Errorf("baseline: %w", err)}
		}
		err = ign.AddBaseline(f)
		f.Close()
		if err != nil {
			return usageError{fmt.Errorf("%s: %w", fl.baseline, err)}
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
	if ign.HasPaths() {
		opt.Skip = ign.Path
	}
	if !fl.quiet && !fl.noProgress && (fl.progress || isTerminal(e.stderr)) {
		stop := showProgress(e.stderr, opt.Progress, 250*time.Millisecond)
		defer stop()
	}

	d := detect.New(rules.All())
	var findings []source.Finding
	switch {
	case history:
		g := source.GitOptions{Since: fl.since, Branch: fl.branch, Staged: fl.staged}
		if len(args) == 1 {
			g.Dir = args[0]
		}
		findings, err = source.ScanGit(ctx, d, g, opt)
	case stdinMode:
		findings, err = source.ScanReader(d, stdin, "-", opt)
	default:
		findings, err = source.Scan(ctx, d, args, opt)
	}
	if err != nil {
		// Every scan error, an unreadable path above all, is exit status
		// 2, which usageError carries.
		return usageError{err}
	}
	findings = slices.DeleteFunc(findings, func(f source.Finding) bool {
		return ign.Finding(f.RuleID, f.Secret, f.Fingerprint())
	})

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
