package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/nextaudit"
	"github.com/keyward/keyward/internal/scan"
	"github.com/keyward/keyward/internal/scan/ignore"
	"github.com/keyward/keyward/internal/scan/report"
	"github.com/keyward/keyward/internal/scan/rules"
	"github.com/keyward/keyward/internal/scan/source"
	"github.com/keyward/keyward/internal/scan/verify"
)

// errFindings ends a scan that found secrets at or above --fail-on: exit
// code 1, and nothing more to say, since the report has said it.
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
	failOn               string
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

--fail-on SEVERITY (critical, high, medium, low) makes only findings of that
severity or worse fail the scan; the report still lists every finding.

Exit status: 0 no secrets found (or none at --fail-on or above), 1 secrets
found, 2 error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("ignore-file") && fl.ignoreFile == "" {
				return exitStatus{exitUsage, errors.New("--ignore-file needs a file name")}
			}
			return runScan(cmd.Context(), e, cmd.InOrStdin(), fl, args)
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
	f.StringVar(&fl.failOn, "fail-on", string(rules.Low), "exit 1 only for findings of this severity or worse: "+severityNames()+" (low: any finding)")
	return cmd
}

// scanOptions turns keyward scan's flags and arguments into scan options,
// rejecting combinations that mean nothing.
func scanOptions(fl scanFlags, args []string, stdin io.Reader) (scan.Options, error) {
	var opt scan.Options
	if (fl.since != "" || fl.branch != "") && !fl.git {
		return opt, errors.New("--since and --branch need --git")
	}
	if fl.git && fl.staged {
		return opt, errors.New("--git and --staged exclude each other")
	}
	if len(fl.verifyEndpoints) > 0 && !fl.verify {
		return opt, errors.New("--verify-endpoint needs --verify")
	}
	stdinMode := len(args) == 1 && args[0] == "-"
	switch {
	case (fl.git || fl.staged) && len(args) > 1:
		return opt, errors.New("--git and --staged take one repository directory")
	case !stdinMode && slices.Contains(args, "-"):
		return opt, errors.New(`"-" (standard input) cannot be mixed with paths`)
	}
	switch {
	case fl.git:
		opt.Mode = scan.History
	case fl.staged:
		opt.Mode = scan.Staged
	case stdinMode:
		opt.Mode, opt.Stdin = scan.Stdin, stdin
	}
	opt.Paths, opt.Since, opt.Branch = args, fl.since, fl.branch
	opt.IgnoreFile, opt.Baseline = fl.ignoreFile, fl.baseline
	opt.KnownRule = func(id string) bool { _, ok := nextaudit.CheckByID(id); return ok }
	opt.Verify, opt.VerifyTimeout = fl.verify, fl.verifyTimeout
	for _, s := range fl.verifyEndpoints {
		rule, ep, err := verify.ParseEndpoint(s)
		if err != nil {
			return opt, err
		}
		if opt.VerifyEndpoints == nil {
			opt.VerifyEndpoints = map[string]verify.Endpoint{}
		}
		opt.VerifyEndpoints[rule] = ep
	}
	if fl.decodeBudget < 0 {
		return opt, errors.New("--decode-budget must not be negative")
	}
	opt.Source = source.Options{IncludeSkippedDirs: fl.noSkip, IncludeBinary: fl.bin, DecodeBudget: fl.decodeBudget, Progress: new(source.Progress)}
	if fl.noDecode {
		opt.Source.DecodeDepth = -1
	}
	return opt, nil
}

// runScan is keyward scan: options from flags, the scan, then the report
// and the exit status.
func runScan(ctx context.Context, e env, stdin io.Reader, fl scanFlags, args []string) error {
	usage := func(err error) error { return exitStatus{exitUsage, err} }
	if !slices.Contains(report.Formats, fl.format) {
		return usage(fmt.Errorf("--format %q: want one of %s", fl.format, strings.Join(report.Formats, ", ")))
	}
	failOn, err := rules.ParseSeverity(fl.failOn)
	if err != nil {
		return usage(fmt.Errorf("--fail-on: %w", err))
	}
	opt, err := scanOptions(fl, args, stdin)
	if err != nil {
		return usage(err)
	}
	if !fl.quiet && !fl.noProgress && (fl.progress || isTerminal(e.stderr)) {
		stopProgress := sync.OnceFunc(showProgress(e.stderr, opt.Source.Progress, 250*time.Millisecond))
		defer stopProgress()
		opt.Scanned = stopProgress
	}

	res, err := scan.Run(ctx, opt)
	if len(res.DecodeCut) > 0 && !fl.quiet {
		fmt.Fprintf(e.stderr, "keyward: note: decoding was cut short in %d file(s) with more encoded text than the budget; secrets encoded there may be missed:\n", len(res.DecodeCut))
		for _, name := range res.DecodeCut {
			fmt.Fprintf(e.stderr, "  %s\n", source.EscapeControl(name))
		}
	}
	if err != nil {
		return usage(err)
	}

	ropt := report.Options{Version: versionString(), Color: fl.reportFile == "" && colorful(e.stdout, e.getenv), Verified: res.Verified}
	var out bytes.Buffer
	if err := report.Write(&out, fl.format, res.Findings, ropt); err != nil {
		return usage(err)
	}
	if err := writeReport(e, out.Bytes(), fl.reportFile, fl.quiet, fmt.Sprintf("%d secrets found", len(res.Findings))); err != nil {
		return usage(err)
	}
	if res.Unreadable != nil {
		return usage(res.Unreadable)
	}
	if slices.ContainsFunc(res.Findings, func(f source.Finding) bool { return f.ReportedSeverity().AtLeast(failOn) }) {
		return exitStatus{exitError, errFindings}
	}
	return nil
}

// writeReport puts a report where it was asked for: in a file (and,
// unless quiet, says so on standard output, with what was found: "3 secrets
// found"), on standard output, or nowhere (quiet). scan and audit share it.
func writeReport(e env, report []byte, file string, quiet bool, what string) error {
	switch {
	case file != "":
		if err := os.WriteFile(file, report, 0o600); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		if !quiet {
			fmt.Fprintf(e.stdout, "%s; report written to %s\n", what, file)
		}
	case !quiet:
		if _, err := e.stdout.Write(report); err != nil {
			return err
		}
	}
	return nil
}

// severityNames lists the severities --fail-on accepts, worst first.
func severityNames() string {
	names := make([]string, len(rules.Severities))
	for i, s := range rules.Severities {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
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
