// Command keyward keeps AI provider keys out of browsers, git history and
// logs: a secure gateway (serve), a key scanner and a Next.js audit.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "keyward:", err)
		}
		os.Exit(exitCode(err))
	}
}
