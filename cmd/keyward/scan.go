package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/report"
	"github.com/keyward/keyward/internal/scan/rules"
	"github.com/keyward/keyward/internal/scan/source"
)

// errFindings ends a scan that found secrets: exit code 1, and nothing more
// to say, since the report has said it.
var errFindings = fmt.Errorf("secrets found: %w", errSilent)

func scanCmd(e env) *cobra.Command {
	var (
		format, reportFile string
		quiet, noSkip, bin bool
	)
	cmd := &cobra.Command{
		Use:   "scan [PATH...]",
		Short: "Find leaked AI provider keys and other secrets in files",
		Long: `Scan files and directories (default ".") for AI provider keys and the secrets
that travel with them. .git, node_modules and binary files are skipped unless
asked for; build output (.next, out, dist, build) is scanned, and findings in
files Next.js sends to browsers are marked "client".

Exit status: 0 no secrets found, 1 secrets found, 2 error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(report.Formats, format) {
				return usageError{fmt.Errorf("--format %q: want one of %s", format, strings.Join(report.Formats, ", "))}
			}
			if len(args) == 0 {
				args = []string{"."}
			}
			findings, err := source.Scan(cmd.Context(), detect.New(rules.All()), args, source.Options{
				IncludeSkippedDirs: noSkip,
				IncludeBinary:      bin,
			})
			if err != nil {
				// Every scan error, an unreadable path above all, is exit
				// status 2, which usageError carries.
				return usageError{err}
			}
			var out bytes.Buffer
			if err := report.Write(&out, format, findings); err != nil {
				return usageError{err}
			}
			switch {
			case reportFile != "":
				if err := os.WriteFile(reportFile, out.Bytes(), 0o600); err != nil {
					return usageError{fmt.Errorf("write report: %w", err)}
				}
				if !quiet {
					fmt.Fprintf(e.stdout, "%d secrets found; report written to %s\n", len(findings), reportFile)
				}
			case !quiet:
				if _, err := e.stdout.Write(out.Bytes()); err != nil {
					return usageError{err}
				}
			}
			if len(findings) > 0 {
				return errFindings
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "text", "report format: "+strings.Join(report.Formats, ", "))
	f.StringVar(&reportFile, "report", "", "write the report to this file instead of standard output")
	f.BoolVarP(&quiet, "quiet", "q", false, "print nothing; the exit status tells")
	f.BoolVar(&noSkip, "no-skip", false, "scan .git and node_modules too")
	f.BoolVar(&bin, "binary", false, "scan binary files too")
	return cmd
}
