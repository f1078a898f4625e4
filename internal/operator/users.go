package operator

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/store"
)

// Audit event kinds this package writes.
const (
	EventUserUpdated   = "user.updated"
	EventBudgetSet     = "budget.set"
	EventBudgetDeleted = "budget.deleted"
)

// Users assigns plans to users and disables them. What it changes the
// gateway sees within a second (auth.Users caches for that long).
type Users struct {
	st      store.Users
	events  *events
	config  func() *config.Config
	secrets Secrets
}

// UsersOptions configure a Users.
type UsersOptions struct {
	Store store.Users
	// Audit records every change (nil: none).
	Audit store.Audit
	// Config is the running configuration, for its plans (it may change on
	// reload, so it is asked each time).
	Config func() *config.Config
	// Secrets refuses a user id that holds a loaded secret.
	Secrets Secrets
	// Logger reports audit events that could not be written.
	Logger *slog.Logger
}

// NewUsers returns the user service.
func NewUsers(o UsersOptions) *Users {
	return &Users{st: o.Store, events: newEvents(o.Audit, o.Logger), config: o.Config, secrets: o.Secrets}
}

// Put sets a user's plan ("" for none: the token's or the default plan
// applies) and status, and returns the stored record.
func (us *Users) Put(ctx context.Context, actor string, u store.User) (store.User, error) {
	if err := CheckEchoed("user", u.ID, MaxID, false, us.secrets); err != nil {
		return store.User{}, err
	}
	if u.Plan != "" {
		if err := CheckPlan(us.config(), "plan", u.Plan); err != nil {
			return store.User{}, err
		}
	}
	if err := us.st.PutUser(ctx, store.User{ID: u.ID, Plan: u.Plan, Disabled: u.Disabled}); err != nil {
		return store.User{}, fmt.Errorf("put user: %w", err)
	}
	us.events.append(ctx, EventUserUpdated, actor, u.ID, fmt.Sprintf("plan=%q disabled=%v", u.Plan, u.Disabled))
	got, err := us.st.User(ctx, u.ID)
	if err != nil {
		return store.User{}, fmt.Errorf("read user back: %w", err)
	}
	return got, nil
}

// Get returns a user's record (store.ErrNotFound when keyward has none).
func (us *Users) Get(ctx context.Context, id string) (store.User, error) {
	if err := CheckText("user", id, MaxID); err != nil {
		return store.User{}, err
	}
	u, err := us.st.User(ctx, id)
	if err != nil {
		return store.User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// List returns every user keyward has settings for.
func (us *Users) List(ctx context.Context) ([]store.User, error) {
	list, err := us.st.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return list, nil
}

// CheckPlan refuses a plan name the configuration does not have, naming
// the plans it has (never the refused name).
func CheckPlan(cfg *config.Config, field, name string) error {
	if err := CheckText(field, name, MaxName); err != nil {
		return err
	}
	if _, ok := cfg.Plan(name); ok {
		return nil
	}
	names := make([]string, 0, len(cfg.Plans))
	for _, p := range cfg.Plans {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return invalid(field, "names no configured plan (the configuration has none)")
	}
	return invalid(field, "names no configured plan (plans: %s)", strings.Join(names, ", "))
}

// events appends audit events; one that cannot be written is logged, as
// the change it records has already been made.
type events struct {
	st  store.Audit
	log *slog.Logger
}

func newEvents(st store.Audit, log *slog.Logger) *events {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &events{st: st, log: log}
}

func (e *events) append(ctx context.Context, kind, actor, subject, detail string) {
	if e.st == nil {
		return
	}
	if err := e.st.AppendEvent(ctx, store.Event{Kind: kind, Actor: actor, Subject: subject, Detail: detail}); err != nil {
		e.log.Error("audit event lost", "kind", kind, "err", err)
	}
}
