package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/scan/ignore"
)

// errAuditFindings ends an audit that found problems: exit code 1, and
// nothing more to say, since the report has said it.
var errAuditFindings = fmt.Errorf("audit problems found: %w", errSilent)

func auditCmd(e env) *cobra.Command {
	var (
		format, reportFile, baseline, ignoreFile string
		quiet, build, allowEmpty                 bool
	)
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

Exit status: 0 no problems, 1 problems found, 2 error (no Next.js app found
included).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(audit.Formats, format) {
				return usageError{fmt.Errorf("--format %q: want one of %s", format, strings.Join(audit.Formats, ", "))}
			}
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			ignorePath, optional := ignoreFile, false
			if !cmd.Flags().Changed("ignore-file") {
				ignorePath, optional = filepath.Join(dir, ignore.DefaultFile), true
			}
			ign, err := ignore.Load(ignorePath, optional)
			if err != nil {
				return usageError{fmt.Errorf("ignore file: %w", err)}
			}
			if baseline != "" {
				f, err := os.Open(baseline)
				if err != nil {
					return usageError{fmt.Errorf("baseline: %w", err)}
				}
				err = ign.AddBaseline(f)
				f.Close()
				if err != nil {
					return usageError{fmt.Errorf("%s: %w", baseline, err)}
				}
			}
			opt := audit.Options{Build: build, BuildLog: e.stderr, Ignore: ign}
			res, err := audit.Run(cmd.Context(), dir, opt)
			if err != nil {
				return usageError{err}
			}
			if len(res.Apps) == 0 && !allowEmpty {
				return usageError{fmt.Errorf("no Next.js app found in %s: looked for a package.json that depends on next "+
					"(dependencies, devDependencies, peerDependencies or optionalDependencies) in it and its subdirectories, "+
					"node_modules and build output skipped; point keyward audit at the app or the monorepo root, "+
					"or pass --allow-empty to accept an empty result", dir)}
			}
			var out bytes.Buffer
			if err := audit.Write(&out, format, res, versionString()); err != nil {
				return usageError{err}
			}
			switch {
			case reportFile != "":
				if err := os.WriteFile(reportFile, out.Bytes(), 0o600); err != nil {
					return usageError{fmt.Errorf("write report: %w", err)}
				}
				if !quiet {
					fmt.Fprintf(e.stdout, "%d problems found; report written to %s\n", len(res.Findings), reportFile)
				}
			case !quiet:
				if _, err := e.stdout.Write(out.Bytes()); err != nil {
					return usageError{err}
				}
			}
			if len(res.Findings) > 0 {
				return errAuditFindings
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "text", "report format: "+strings.Join(audit.Formats, ", "))
	f.StringVar(&reportFile, "report", "", "write the report to this file instead of standard output")
	f.StringVar(&baseline, "baseline", "", "JSON report of an earlier audit whose findings are accepted")
	f.StringVar(&ignoreFile, "ignore-file", "", "ignore file (default: "+ignore.DefaultFile+" in DIR, if there is one)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print nothing; the exit status tells")
	f.BoolVar(&allowEmpty, "allow-empty", false, "exit 0 when DIR holds no Next.js app (by default that is an error, exit status 2)")
	f.BoolVar(&build, "build", false, "run next build (telemetry off) in every app before checking its build output")
	return cmd
}
