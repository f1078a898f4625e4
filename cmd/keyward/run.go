package main

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitError = 1 // something failed while running
	exitUsage = 2 // bad flags, bad configuration
)

// errSilent marks an error already reported to the user.
var errSilent = errors.New("already reported")

// usageError is an error the user fixes by changing the command line or the
// configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitStatus is how scan and audit end: every error they return carries
// the exit status it means (exitError: findings at or above --fail-on, with
// errSilent inside, since the report said it; exitUsage: anything that kept
// them from checking everything: a bad flag, an unreadable path, a failed
// scan). Commands that return no exitStatus keep the older convention:
// usageError for 2, anything else 1.
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string { return e.err.Error() }
func (e exitStatus) Unwrap() error { return e.err }

// exitCode is the process's exit status for an error run returned.
func exitCode(err error) int {
	var x exitStatus
	if errors.As(err, &x) {
		return x.code
	}
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitError
}

// env is what commands need from the process, injected so tests never touch
// globals.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// run is main without the process: tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "keyward",
		Short: "Keep AI provider keys out of browsers, git history and logs",
		Long: `keyward keeps AI provider keys (OpenAI, Anthropic, Gemini, Groq, Mistral, …)
server-side. "keyward serve" is a gateway your app calls instead of the provider:
the provider keys live only inside it and never come back out.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(serveCmd(e), initCmd(e), configCmd(e), keysCmd(e), usersCmd(e), scanCmd(e), auditCmd(e), versionCmd(e))
	root.AddCommand(usageCmd(e), budgetsCmd(e), healthCmd(e), storeCmd(e))
	root.Version = versionString()
	root.SetVersionTemplate("keyward {{.Version}}\n")
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && cmd != nil && isCobraUsage(err) {
		return usageError{err}
	}
	return err
}

// isCobraUsage recognises cobra's own argument errors (unknown command,
// wrong number of arguments), which carry no type.
func isCobraUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires ", "unknown flag", "unknown shorthand", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
