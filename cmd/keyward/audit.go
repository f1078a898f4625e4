package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/nextaudit"
	"github.com/keyward/keyward/internal/scan/ignore"
	"github.com/keyward/keyward/internal/scan/rules"
)

// errAuditFindings ends an audit that found problems at or above
// --fail-on: exit code 1, and nothing more to say, since the report has said
// it.
var errAuditFindings = fmt.Errorf("audit problems found: %w", errSilent)

func auditCmd(e env) *cobra.Command {
	var fl auditFlags
	cmd := &cobra.Command{
		Use:   "audit [DIR]",
		Short: "Check Next.js apps for code patterns that leak AI provider keys",
		Long: `Audit the Next.js apps under DIR (default "."), monorepos included, against
the key-safety checklist: secrets in public env variables or next.config env,
env files in git or Docker images, provider SDKs and server secrets in client
modules, secrets passed to Client Components, unprotected Route Handlers that
call providers, Next.js versions with known advisories, and keys in build
output sent to browsers (--build runs next build first). See docs/audit.md.

Accepted findings, as with keyward scan: a "keyward:allow" comment on the
finding's line (or alone on the line above; "keyward:allow CHECK-ID" silences
only that check); an ignore file (--ignore-file, default .keywardignore in
DIR) whose "path: GLOB", "rule: CHECK-ID" and "fingerprint: FP" lines apply;
and --baseline REPORT.json, an earlier JSON report whose findings are not
reported again.

Finding no Next.js app is an error (exit status 2), so a CI job pointed at the
wrong directory fails instead of passing; --allow-empty accepts it.

--fail-on SEVERITY (critical, high, medium, low) makes only problems of that
severity or worse fail the audit; the report still lists every problem.

Exit status: 0 no problems (or none at --fail-on or above), 1 problems found,
2 error (no Next.js app found included).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			fl.ignoreSet = cmd.Flags().Changed("ignore-file")
			return runAudit(cmd.Context(), e, dir, fl)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.format, "format", "text", "report format: "+strings.Join(nextaudit.Formats, ", "))
	f.StringVar(&fl.reportFile, "report", "", "write the report to this file instead of standard output")
	f.StringVar(&fl.baseline, "baseline", "", "JSON report of an earlier audit whose findings are accepted")
	f.StringVar(&fl.ignoreFile, "ignore-file", "", "ignore file (default: "+ignore.DefaultFile+" in DIR, if there is one)")
	f.BoolVarP(&fl.quiet, "quiet", "q", false, "print nothing; the exit status tells")
	f.BoolVar(&fl.allowEmpty, "allow-empty", false, "exit 0 when DIR holds no Next.js app (by default that is an error, exit status 2)")
	f.BoolVar(&fl.build, "build", false, "run next build (telemetry off) in every app before checking its build output")
	f.StringVar(&fl.failOn, "fail-on", string(rules.Low), "exit 1 only for problems of this severity or worse: "+severityNames()+" (low: any problem)")
	return cmd
}

// auditFlags are keyward audit's options.
type auditFlags struct {
	format, reportFile, baseline, ignoreFile, failOn string
	quiet, build, allowEmpty                         bool
	// ignoreSet is whether --ignore-file was given (else .keywardignore in
	// DIR applies, if there is one).
	ignoreSet bool
}

// runAudit is keyward audit: the ignore list from flags, the audit, then
// the report and the exit status.
func runAudit(ctx context.Context, e env, dir string, fl auditFlags) error {
	usage := func(err error) error { return exitStatus{exitUsage, err} }
	if !slices.Contains(nextaudit.Formats, fl.format) {
		return usage(fmt.Errorf("--format %q: want one of %s", fl.format, strings.Join(nextaudit.Formats, ", ")))
	}
	failOn, err := rules.ParseSeverity(fl.failOn)
	if err != nil {
		return usage(fmt.Errorf("--fail-on: %w", err))
	}
	ignorePath, optional := fl.ignoreFile, false
	if !fl.ignoreSet {
		ignorePath, optional = filepath.Join(dir, ignore.DefaultFile), true
	}
	ign, err := ignore.Load(ignorePath, optional)
	if err != nil {
		return usage(fmt.Errorf("ignore file: %w", err))
	}
	if fl.baseline != "" {
		f, err := os.Open(fl.baseline)
		if err != nil {
			return usage(fmt.Errorf("baseline: %w", err))
		}
		err = ign.AddBaseline(f)
		f.Close()
		if err != nil {
			return usage(fmt.Errorf("%s: %w", fl.baseline, err))
		}
	}
	res, err := nextaudit.Run(ctx, dir, nextaudit.Options{Build: fl.build, BuildLog: e.stderr, Ignore: ign})
	if err != nil {
		return usage(err)
	}
	if len(res.Apps) == 0 && !fl.allowEmpty {
		return usage(fmt.Errorf("no Next.js app found in %s: looked for a package.json that depends on next "+
			"(dependencies, devDependencies, peerDependencies or optionalDependencies) in it and its subdirectories, "+
			"node_modules and build output skipped; point keyward audit at the app or the monorepo root, "+
			"or pass --allow-empty to accept an empty result", dir))
	}
	var out bytes.Buffer
	if err := nextaudit.Write(&out, fl.format, res, versionString()); err != nil {
		return usage(err)
	}
	if err := writeReport(e, out.Bytes(), fl.reportFile, fl.quiet, fmt.Sprintf("%d problems found", len(res.Findings))); err != nil {
		return usage(err)
	}
	if slices.ContainsFunc(res.Findings, func(f nextaudit.Finding) bool { return f.Severity.AtLeast(failOn) }) {
		return exitStatus{exitError, errAuditFindings}
	}
	return nil
}
