package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/admin"
	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/operator"
	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
)

// keyEnv is what the key commands share: the configuration, the store,
// the key manager and the operator services.
type keyEnv struct {
	cfg     config.Config
	db      appStore
	keys    *auth.Keys
	users   *operator.Users
	budgets *operator.Budgets
	// secrets holds the configured secrets this process could load, so
	// that an input that would be stored and shown again is refused when
	// it holds one.
	secrets operator.Secrets
}

func openKeys(ctx context.Context, e env, cfgFlag string) (*keyEnv, error) {
	path := configPath(cfgFlag, e.getenv)
	cfg, err := config.LoadFile(path)
	if err != nil {
		return nil, usageError{err}
	}
	loader := secret.Loader{Getenv: e.getenv, BaseDir: filepath.Dir(path)}
	var pepper secret.Secret
	if cfg.Auth.Pepper != "" {
		ref, err := secret.ParseRef(string(cfg.Auth.Pepper))
		if err == nil {
			pepper, err = loader.Load(ref)
		}
		if err != nil {
			return nil, usageError{fmt.Errorf("auth.pepper: %w", err)}
		}
	}
	db, err := openStore(ctx, cfg, path, loader)
	if err != nil {
		return nil, err
	}
	ke := &keyEnv{cfg: cfg, db: db, secrets: loadSecrets(cfg, loader)}
	log := slog.New(redact.NewHandler(slog.NewTextHandler(e.stderr, nil), nil))
	ke.keys = auth.NewKeys(db, auth.KeysOptions{Pepper: pepper, Logger: log})
	ke.users = operator.NewUsers(operator.UsersOptions{Store: db, Audit: db, Logger: log, Secrets: ke.secrets,
		Config: func() *config.Config { return &ke.cfg }})
	ke.budgets = operator.NewBudgets(operator.BudgetsOptions{Store: db, Audit: db, Logger: log, Secrets: ke.secrets})
	return ke, nil
}

// loadSecrets loads every secret the configuration references — provider,
// client and admin keys, the pepper, JWT HMAC secrets, the token signing
// key — that this process can read. A reference that does not resolve here
// (the CLI often runs without the server's environment) is skipped: it
// cannot be checked, and the check is a guard against pasting a known
// value, not the only one (inputs that look like keys are refused too).
func loadSecrets(cfg config.Config, loader secret.Loader) operator.Secrets {
	var refs []string
	for _, p := range cfg.Providers {
		for _, k := range p.Keys {
			refs = append(refs, k.Ref)
		}
	}
	for _, r := range cfg.Clients.Keys {
		refs = append(refs, string(r))
	}
	for _, r := range cfg.Auth.AdminKeys {
		refs = append(refs, string(r))
	}
	for _, j := range cfg.Auth.JWT {
		refs = append(refs, string(j.Secret))
	}
	refs = append(refs, string(cfg.Auth.Pepper), string(cfg.Auth.BrowserTokens.SigningKey))
	var loaded []secret.Secret
	for _, r := range refs {
		ref, err := secret.ParseRef(r)
		if r == "" || err != nil {
			continue
		}
		if v, err := loader.Load(ref); err == nil {
			loaded = append(loaded, v)
		}
	}
	scrub := secret.NewScrubber(loaded...)
	return func(s string) bool { return scrub.Contains([]byte(s)) }
}

// withStore runs a command with the configuration's store open, closing it
// after.
func withStore(e env, cfgFlag *string, run func(c *cobra.Command, args []string, ke *keyEnv) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		ke, err := openKeys(c.Context(), e, *cfgFlag)
		if err != nil {
			return err
		}
		defer ke.db.Close()
		return run(c, args, ke)
	}
}

func keysCmd(e env) *cobra.Command {
	var cfgFlag string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, revoke and rotate virtual keys",
		Long: `Virtual keys (kw_live_…, kw_test_…) are what your servers use to call keyward.
A key is shown once, at creation; keyward stores only a keyed hash of it.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	cmd.PersistentFlags().StringVarP(&cfgFlag, "config", "c", "", "configuration file (default $KEYWARD_CONFIG or keyward.yaml)")

	var (
		name, plan, user string
		expires          time.Duration
		scopes           []string
		asJSON, test     bool
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a key and print it (once)",
		Args:  cobra.NoArgs,
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, _ []string, ke *keyEnv) error {
			nk := operator.NewKey{Name: name, User: user, Plan: plan, Scopes: scopes, TTL: expires}
			if err := operator.CheckNewKey(&ke.cfg, nk, ke.secrets); err != nil {
				return usageError{err}
			}
			rec, plain, err := ke.keys.Create(c.Context(), auth.CreateOptions{Name: name, User: user, Plan: plan, Scopes: scopes, TTL: expires, Test: test, Actor: "cli"})
			if errors.Is(err, auth.ErrNoPepper) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(map[string]any{"id": rec.ID, "key": plain, "name": rec.Name, "plan": rec.Plan, "user": rec.User, "expires_at": optTime(rec.ExpiresAt)})
			}
			fmt.Fprintf(e.stdout, "Created %s (%s).\n\n  %s\n\nStore it now: keyward does not keep it and cannot show it again.\n", rec.ID, rec.Name, plain)
			return nil
		}),
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for (required)")
	create.Flags().StringVar(&plan, "plan", "", "plan name from the configuration (required)")
	create.Flags().StringVar(&user, "user", "", "owning user id")
	create.Flags().DurationVar(&expires, "expires", 0, "lifetime, e.g. 720h (default: no expiry)")
	create.Flags().StringSliceVar(&scopes, "scope", nil, "scope to grant (repeatable): tokens:mint, model:NAME, route:NAME")
	create.Flags().BoolVar(&asJSON, "json", false, `print {"id":…,"key":…} as JSON`)
	create.Flags().BoolVar(&test, "test", false, "make a kw_test_ key")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("plan")

	var listJSON, all bool
	var listUser string
	list := &cobra.Command{
		Use:   "list",
		Short: "List keys (never the keys themselves)",
		Args:  cobra.NoArgs,
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, _ []string, ke *keyEnv) error {
			if err := operator.CheckOptional("user", listUser, operator.MaxFilter); err != nil {
				return usageError{err}
			}
			ks, err := ke.keys.List(c.Context(), store.KeyFilter{User: listUser, IncludeRevoked: all})
			if err != nil {
				return err
			}
			if listJSON {
				out := make([]map[string]any, 0, len(ks))
				for _, k := range ks {
					out = append(out, admin.KeyJSON(k))
				}
				return json.NewEncoder(e.stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tUSER\tPLAN\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tSTATUS")
			now := time.Now()
			for _, k := range ks {
				fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, dash(k.User), dash(k.Plan),
					dash(strings.Join(k.Scopes, ",")), day(k.CreatedAt), day(k.ExpiresAt), day(k.LastUsedAt), status(k, now))
			}
			return tw.Flush()
		}),
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")
	list.Flags().BoolVar(&all, "all", false, "include revoked keys")
	list.Flags().StringVar(&listUser, "user", "", "only this user's keys")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key (refused within a second everywhere)",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, args []string, ke *keyEnv) error {
			if err := operator.CheckKeyID(args[0]); err != nil {
				return usageError{err}
			}
			if err := ke.keys.Revoke(c.Context(), args[0], "cli"); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return usageError{fmt.Errorf("no key %q", args[0])}
				}
				return err
			}
			fmt.Fprintf(e.stdout, "Revoked %s.\n", args[0])
			return nil
		}),
	}

	var grace time.Duration
	var rotJSON bool
	rotate := &cobra.Command{
		Use:   "rotate ID",
		Short: "Replace a key; the old one keeps working for the grace period",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, args []string, ke *keyEnv) error {
			if err := errors.Join(operator.CheckKeyID(args[0]), operator.CheckGrace(grace)); err != nil {
				return usageError{err}
			}
			rec, plain, err := ke.keys.Rotate(c.Context(), args[0], grace, "cli")
			if errors.Is(err, store.ErrNotFound) {
				return usageError{fmt.Errorf("no key %q", args[0])}
			}
			if err != nil {
				return err
			}
			if rotJSON {
				return json.NewEncoder(e.stdout).Encode(map[string]any{"id": rec.ID, "key": plain, "replaces": args[0], "old_expires_at": time.Now().Add(grace).UTC()})
			}
			fmt.Fprintf(e.stdout, "Created %s to replace %s; %s stays valid for %s.\n\n  %s\n\nStore it now: keyward does not keep it and cannot show it again.\n", rec.ID, args[0], args[0], grace, plain)
			return nil
		}),
	}
	rotate.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the old key stays valid")
	rotate.Flags().BoolVar(&rotJSON, "json", false, "print JSON")

	cmd.AddCommand(create, list, revoke, rotate)
	return cmd
}

func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func status(k store.Key, now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	case !k.ExpiresAt.IsZero():
		return "expiring"
	}
	return "active"
}
