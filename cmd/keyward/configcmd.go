package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/live"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
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
				if _, err := live.Build(cfg, loader, nil, nil); err != nil {
					if ce, ok := err.(*config.Error); ok {
						ce.File = p
					}
					return usageError{err}
				}
			}
			fmt.Fprintf(e.stdout, "%s: OK (%d providers, %d models, %d client keys)\n", p, len(cfg.Providers), len(cfg.Models), len(cfg.Clients.Keys))
			for _, w := range configWarnings(cfg) {
				fmt.Fprintln(e.stderr, "warning:", w)
			}
			return nil
		},
	}
	check.Flags().StringVarP(&path, "config", "c", "", "configuration file (default $KEYWARD_CONFIG or keyward.yaml)")
	check.Flags().BoolVar(&noSecrets, "no-secrets", false, "do not resolve env:/file: references")
	cmd.AddCommand(check)

	var reloadPath string
	reload := &cobra.Command{
		Use:   "reload",
		Short: "Ask every replica sharing the store to reload its configuration now",
		Long: `Tell every keyward serve that shares this configuration's PostgreSQL store to
reload its configuration file at once (each reloads its own copy, as on SIGHUP;
a configuration that does not load is refused there and the old one kept). With
the embedded SQLite store there is no one to tell: send serve SIGHUP.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			p := configPath(reloadPath, e.getenv)
			cfg, err := config.LoadFile(p)
			if err != nil {
				return usageError{err}
			}
			if cfg.Store.Driver != config.StorePostgres {
				return usageError{errors.New("config reload tells replicas through PostgreSQL (store.driver: postgres); with SQLite, send serve SIGHUP (kill -HUP PID)")}
			}
			db, err := openStore(c.Context(), cfg, p, secret.Loader{Getenv: e.getenv, BaseDir: filepath.Dir(p)})
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			defer db.Close()
			ch, ok := db.(store.Changes)
			if !ok {
				return errors.New("this store does not carry change events")
			}
			if err := ch.Announce(c.Context(), store.Change{Kind: store.ChangeConfig}); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "asked every replica listening to this store to reload its configuration")
			return nil
		},
	}
	reload.Flags().StringVarP(&reloadPath, "config", "c", "", "configuration file (default $KEYWARD_CONFIG or keyward.yaml)")
	cmd.AddCommand(reload)
	return cmd
}

// configWarnings are what config check (and serve, at start) warns
// about: a configuration that loads but will not do what it seems to.
func configWarnings(cfg config.Config) []string {
	return append(append(priceWarnings(cfg), limitWarnings(cfg)...), browserWarnings(cfg)...)
}

// browserWarnings names browser tokens configured without the origins
// that may use them: every browser call would be refused, and the browser
// would show only a generic CORS error.
func browserWarnings(cfg config.Config) []string {
	bt := cfg.Auth.BrowserTokens
	if (bt.SigningKey == "" && len(bt.Issuers) == 0) || len(cfg.CORS.AllowedOrigins) > 0 {
		return nil
	}
	return []string{"auth.browser_tokens is configured but cors.allowed_origins is empty: no browser page may call keyward, so every browser token is refused (the browser shows only a CORS error) and none can be minted; add your app's origin, such as http://localhost:3000"}
}

// limitWarnings names the plans whose tokens-per-minute limit does not
// leave room for their output cap: a request that sets no max_tokens is
// estimated at the cap and refused as larger than the whole limit.
func limitWarnings(cfg config.Config) []string {
	var out []string
	for _, pl := range cfg.Plans {
		capOut := cfg.Limits.MaxOutputTokens
		if pl.MaxOutputTokens > 0 && pl.MaxOutputTokens < capOut {
			capOut = pl.MaxOutputTokens
		}
		if pl.TPM > 0 && capOut > 0 && capOut >= pl.TPM {
			out = append(out, fmt.Sprintf("plan %q: tpm %d does not exceed its output cap of %d tokens, so a request that sets no lower max_tokens can never fit and is refused (tokens_over_limit); lower max_output_tokens or raise tpm", pl.Name, pl.TPM, capOut))
		}
	}
	return out
}

// priceWarnings names the targets without a price: under a plan's spend
// cap they are refused (usage.unpriced: deny), elsewhere they are recorded
// at zero cost. A provider may price its own models (the mock's are free).
func priceWarnings(cfg config.Config) []string {
	prices := budget.NewPrices(cfg.Pricing)
	providers := map[string]*provider.Provider{}
	for _, pc := range cfg.Providers {
		if pv, err := provider.New(pc, nil, nil); err == nil {
			providers[pc.Name] = pv
		}
	}
	var out []string
	for _, m := range cfg.Models {
		for _, t := range m.Targets {
			if _, ok := prices.LookupFor(providers[t.Provider], t.Model, m.Name); ok {
				continue
			}
			var capped []string
			for _, pl := range cfg.Plans {
				if pl.Spend != nil && (pl.Spend.DailyUSD > 0 || pl.Spend.MonthlyUSD > 0) && (len(pl.Models) == 0 || slices.Contains(pl.Models, m.Name)) {
					capped = append(capped, pl.Name)
				}
			}
			switch {
			case len(capped) > 0 && cfg.Usage.Unpriced == config.UnpricedDeny:
				out = append(out, fmt.Sprintf("model %q: %s/%s has no price, so plans with a spend cap (%s) are refused it; add it under pricing:", m.Name, t.Provider, t.Model, strings.Join(capped, ", ")))
			default:
				out = append(out, fmt.Sprintf("model %q: %s/%s has no price; its usage is recorded at zero cost (add it under pricing:)", m.Name, t.Provider, t.Model))
			}
		}
	}
	return out
}
