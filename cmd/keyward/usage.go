package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/admin"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/operator"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/usage"
)

func usageCmd(e env) *cobra.Command {
	var (
		cfgFlag, by, since, until, format string
		f                                 store.UsageFilter
	)
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Report tokens and cost by user, key, model or day",
		Long: `Sum the usage records keyward keeps (metadata only: who, which model, how many
tokens, what it cost) over a period, grouped by user, key, model or day (UTC).`,
		Example: `  keyward usage --by user --since 7d
  keyward usage --by day --since 2026-11-01 --format csv > november.csv
  keyward usage --by model --user alice --format json`,
		Args: cobra.NoArgs,
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, _ []string, ke *keyEnv) error {
			if !slices.Contains(usage.Groupings, by) {
				return usageError{fmt.Errorf("--by %q: want one of %s", by, strings.Join(usage.Groupings, ", "))}
			}
			if !slices.Contains(usage.ReportFormats, format) {
				return usageError{fmt.Errorf("--format %q: want one of %s", format, strings.Join(usage.ReportFormats, ", "))}
			}
			now := time.Now()
			var err error
			if f.Since, err = usage.ParseSince(since, now); err != nil {
				return usageError{fmt.Errorf("--since: %w", err)}
			}
			if until != "" {
				if f.Until, err = usage.ParseSince(until, now); err != nil {
					return usageError{fmt.Errorf("--until: %w", err)}
				}
			}
			for _, v := range []struct{ flag, v string }{{"--user", f.User}, {"--key", f.Key}, {"--model", f.Model}, {"--plan", f.Plan}} {
				if err := operator.CheckOptional(v.flag, v.v, operator.MaxFilter); err != nil {
					return usageError{err}
				}
			}
			groups, err := ke.db.SummarizeUsage(c.Context(), f, by)
			if err != nil {
				return err
			}
			return usage.WriteReport(e.stdout, format, by, groups)
		}),
	}
	fl := cmd.Flags()
	fl.StringVarP(&cfgFlag, "config", "c", "", "configuration file (default $KEYWARD_CONFIG or keyward.yaml)")
	fl.StringVar(&by, "by", store.ByUser, "group by "+strings.Join(usage.Groupings, ", "))
	fl.StringVar(&since, "since", "7d", "start: a duration back from now (7d, 36h) or a date (2026-11-01)")
	fl.StringVar(&until, "until", "", "end (same forms as --since; default now)")
	fl.StringVar(&format, "format", "table", "output: "+strings.Join(usage.ReportFormats, ", "))
	fl.StringVar(&f.User, "user", "", "only this user")
	fl.StringVar(&f.Key, "key", "", "only this credential (key:<id>, client:<name>, …)")
	fl.StringVar(&f.Model, "model", "", "only this configured model")
	fl.StringVar(&f.Plan, "plan", "", "only this plan")
	return cmd
}

func budgetsCmd(e env) *cobra.Command {
	var cfgFlag string
	cmd := &cobra.Command{
		Use:   "budgets",
		Short: "Set, list and remove spend caps for keys and users",
		Long: `A budget caps what a key or a user may spend per UTC day and month, beside
the caps of its plan (all apply). Requests reserve their worst-case cost
before they are sent, so concurrent requests never overshoot a cap. A budget
applies within a second in every running keyward on the same store.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	cmd.PersistentFlags().StringVarP(&cfgFlag, "config", "c", "", "configuration file (default $KEYWARD_CONFIG or keyward.yaml)")

	var (
		user, key      string
		daily, monthly float64
		asJSON         bool
	)
	scopeOf := func() (string, string, error) {
		switch {
		case user != "" && key != "":
			return "", "", usageError{errors.New("give --user or --key, not both")}
		case user != "":
			return budget.ScopeUser, user, nil
		case key != "":
			return budget.ScopeKey, key, nil
		}
		return "", "", usageError{errors.New("give --user USER or --key KEY_ID")}
	}
	// The service's input errors are the user's to fix.
	usageErr := func(err error) error {
		if errors.Is(err, operator.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
			return usageError{err}
		}
		return err
	}
	set := &cobra.Command{
		Use:     "set (--user USER | --key KEY_ID) [--daily USD] [--monthly USD]",
		Short:   "Cap a user's or a key's spend",
		Example: "  keyward budgets set --user alice --daily 0.50 --monthly 5\n  keyward budgets set --key k_8f3a --monthly 20",
		Args:    cobra.NoArgs,
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, _ []string, ke *keyEnv) error {
			scope, subject, err := scopeOf()
			if err != nil {
				return usageError{err}
			}
			b, err := ke.budgets.Set(c.Context(), "cli", scope, subject, daily, monthly)
			if err != nil {
				return usageErr(err)
			}
			fmt.Fprintf(e.stdout, "Budget of %s %s: %s a day, %s a month.\n", b.Scope, b.Subject, capString(b.DailyMicros), capString(b.MonthlyMicros))
			if b.MonthlyMicros > 0 && ke.cfg.Usage.Retention < config.MonthlyRetention {
				fmt.Fprintf(e.stderr, "warning: usage.retention is %s; a monthly cap needs %s of records to survive a restart\n", ke.cfg.Usage.Retention, config.MonthlyRetention)
			}
			return nil
		}),
	}
	set.Flags().StringVar(&user, "user", "", "the user to cap")
	set.Flags().StringVar(&key, "key", "", "the key to cap: its id (keyward keys list), or a static client key by its reference (client:env:NAME)")
	set.Flags().Float64Var(&daily, "daily", 0, "cap per UTC day, in US dollars (0: none)")
	set.Flags().Float64Var(&monthly, "monthly", 0, "cap per UTC month, in US dollars (0: none)")
	// The configuration's names work too (plans[].spend.daily_usd).
	set.Flags().Float64Var(&daily, "daily-usd", 0, "same as --daily")
	set.Flags().Float64Var(&monthly, "monthly-usd", 0, "same as --monthly")

	list := &cobra.Command{
		Use:   "list",
		Short: "List budgets",
		Args:  cobra.NoArgs,
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, _ []string, ke *keyEnv) error {
			bs, err := ke.budgets.List(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]map[string]any, 0, len(bs))
				for _, b := range bs {
					out = append(out, admin.BudgetJSON(b))
				}
				return json.NewEncoder(e.stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCOPE\tSUBJECT\tDAILY\tMONTHLY\tUPDATED")
			for _, b := range bs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Scope, b.Subject, capString(b.DailyMicros), capString(b.MonthlyMicros), day(b.UpdatedAt))
			}
			return tw.Flush()
		}),
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	del := &cobra.Command{
		Use:   "delete (--user USER | --key KEY_ID)",
		Short: "Remove a budget",
		Args:  cobra.NoArgs,
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, _ []string, ke *keyEnv) error {
			scope, subject, err := scopeOf()
			if err != nil {
				return usageError{err}
			}
			if subject, err = ke.budgets.Subject(scope, subject); err != nil {
				return usageErr(err)
			}
			if _, err := ke.budgets.Delete(c.Context(), "cli", scope, subject); errors.Is(err, store.ErrNotFound) {
				return usageError{fmt.Errorf("no budget for %s %s", scope, subject)}
			} else if err != nil {
				return usageErr(err)
			}
			fmt.Fprintf(e.stdout, "Removed the budget of %s %s.\n", scope, subject)
			return nil
		}),
	}
	del.Flags().StringVar(&user, "user", "", "the user")
	del.Flags().StringVar(&key, "key", "", "the key (its id, or client:env:NAME)")
	cmd.AddCommand(set, list, del)
	return cmd
}

func capString(micros int64) string {
	if micros == 0 {
		return "-"
	}
	return budget.USD(micros)
}
