package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/operator"
	"github.com/keyward/keyward/internal/store"
)

func usersCmd(e env) *cobra.Command {
	var cfgFlag string
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Assign plans to users and disable them",
		Long: `A user's assigned plan overrides the plan claim of their JWTs; a disabled
user's keys, tokens and JWTs are all refused (within a second).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	cmd.PersistentFlags().StringVarP(&cfgFlag, "config", "c", "", "configuration file (default $KEYWARD_CONFIG or keyward.yaml)")
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List users keyward has settings for",
		Args:  cobra.NoArgs,
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, _ []string, ke *keyEnv) error {
			us, err := ke.users.List(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if us == nil {
					us = []store.User{}
				}
				return json.NewEncoder(e.stdout).Encode(us)
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tPLAN\tSTATUS\tUPDATED")
			for _, u := range us {
				st := "active"
				if u.Disabled {
					st = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.ID, dash(u.Plan), st, day(u.UpdatedAt))
			}
			return tw.Flush()
		}),
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	var plan string
	var disabled bool
	set := &cobra.Command{
		Use:   "set USER",
		Short: "Set a user's plan (--plan) and status (--disabled)",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(e, &cfgFlag, func(c *cobra.Command, args []string, ke *keyEnv) error {
			u, err := ke.users.Put(c.Context(), "cli", store.User{ID: args[0], Plan: plan, Disabled: disabled})
			if errors.Is(err, operator.ErrInvalid) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Updated %s.\n", u.ID)
			return nil
		}),
	}
	set.Flags().StringVar(&plan, "plan", "", "plan to assign (empty: none, the token's or default plan applies)")
	set.Flags().BoolVar(&disabled, "disabled", false, "refuse every credential of this user")
	cmd.AddCommand(list, set)
	return cmd
}
