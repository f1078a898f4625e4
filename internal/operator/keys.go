package operator

import (
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/policy"
)

// NewKey is what an operator asks a virtual key to be made with.
type NewKey struct {
	Name   string
	User   string
	Plan   string
	Scopes []string
	TTL    time.Duration
}

// CheckNewKey checks a key request before auth.Keys.Create makes it: a
// bounded, printable name and owner that are not credentials (both are
// listed and audited), a configured plan, known scopes and a lifetime
// that is not negative.
func CheckNewKey(cfg *config.Config, k NewKey, secrets Secrets) error {
	if err := CheckEchoed("name", k.Name, MaxName, false, secrets); err != nil {
		return err
	}
	if err := CheckEchoed("user", k.User, MaxID, true, secrets); err != nil {
		return err
	}
	if err := CheckPlan(cfg, "plan", k.Plan); err != nil {
		return err
	}
	for i, s := range k.Scopes {
		field := fmt.Sprintf("scopes[%d]", i)
		if err := CheckText(field, s, MaxName); err != nil {
			return err
		}
		if policy.CheckGrant(*cfg, k.Plan, []string{s}) != nil {
			return invalid(field, "must be tokens:mint, model:NAME or route:NAME, naming a configured model or route")
		}
	}
	if k.TTL < 0 {
		return invalid("expires", "must not be negative")
	}
	return nil
}

// CheckKeyID checks the id of an existing key (to revoke or rotate it).
func CheckKeyID(id string) error { return CheckText("id", id, MaxKeyID) }

// CheckGrace checks a rotation's grace period.
func CheckGrace(d time.Duration) error {
	if d < 0 {
		return invalid("grace", "must not be negative")
	}
	return nil
}
