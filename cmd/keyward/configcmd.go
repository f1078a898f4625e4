package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/secret"
)

func configCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with the configuration file",
		// A RunE makes cobra check arguments, so "config chek" is a usage
		// error rather than help and exit 0.
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	var (
		path      string
		noSecrets bool
	)
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and resolve its secret references",
		Long: `Validate the configuration file: unknown keys, literal secrets, invalid values,
and — unless --no-secrets — that every env:/file: reference resolves. Every
problem is listed with its YAML path; no secret value is ever printed.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p := configPath(path, e.getenv)
			cfg, err := config.LoadFile(p)
			if err != nil {
				return usageError{err}
			}
			if !noSecrets {
				loader := secret.Loader{Getenv: e.getenv, BaseDir: filepath.Dir(p)}
				if _, err := gateway.Build(cfg, loader, nil, nil); err != nil {
					if ce, ok := err.(*config.Error); ok {
						ce.File = p
					}
					return usageError{err}
				}
			}
			fmt.Fprintf(e.stdout, "%s: OK (%d providers, %d models, %d client keys)\n", p, len(cfg.Providers), len(cfg.Models), len(cfg.Clients.Keys))
			return nil
		},
	}
	check.Flags().StringVarP(&path, "config", "c", "", "configuration file (default $KEYWARD_CONFIG or keyward.yaml)")
	check.Flags().BoolVar(&noSecrets, "no-secrets", false, "do not resolve env:/file: references")
	cmd.AddCommand(check)
	return cmd
}
