// Package operator holds what an operator changes while keyward runs —
// users' plans and status, spend budgets — as services that the CLI and
// the admin API share: one validation, one store call, one audit event per
// change. It also checks every operator input that keyward stores and
// echoes (user ids, key names, budget subjects): bounded, printable, and
// never a credential.
//
// Errors are domain errors: *InputError (errors.Is ErrInvalid) for input
// that was refused, store.ErrNotFound for a missing record, anything else
// is an internal failure. The edge (the admin API, the CLI) chooses what a
// client sees from them.
package operator

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/vkey"
)

// Length bounds of the identifiers and names operators give keyward, in
// characters.
const (
	// MaxID bounds user ids and budget subjects (a browser token's sub
	// has the same bound).
	MaxID = 256
	// MaxName bounds key names.
	MaxName = 128
	// MaxKeyID bounds a key id given to revoke or rotate ("key_" and 16
	// hex digits; a little room for other stores).
	MaxKeyID = 64
	// MaxFilter bounds a filter value (a query parameter or flag that is
	// matched against records, never stored).
	MaxFilter = 256
)

// ErrInvalid marks input that validation refused. errors.As an
// *InputError to learn which input and why.
var ErrInvalid = errors.New("invalid input")

// InputError says which input was refused and why. Field and Reason are
// built by this package from fixed text and configured names only — never
// from the refused value — so an edge may show them to a client as they
// are.
type InputError struct {
	// Field names the input as the admin API spells it ("user", "name",
	// "subject", "scopes[1]", "daily_usd", …).
	Field string
	// Reason completes a sentence that starts with Field.
	Reason string
}

func (e *InputError) Error() string { return e.Field + " " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InputError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Secrets reports whether s holds the value of a secret keyward has
// loaded: a provider key, a client key, an admin key, the pepper, a JWT
// HMAC secret, the token signing key. A nil Secrets knows none.
type Secrets func(s string) bool

// CheckText checks a required identifier or name: 1 to max characters of
// valid UTF-8, not blank, without control or format characters (which
// would forge lines in logs and tables, or hide text in them).
func CheckText(field, v string, max int) error {
	if strings.TrimSpace(v) == "" {
		return invalid(field, "is required")
	}
	return checkChars(field, v, max)
}

// CheckOptional is CheckText for an input that may be empty.
func CheckOptional(field, v string, max int) error {
	if v == "" {
		return nil
	}
	return CheckText(field, v, max)
}

func checkChars(field, v string, max int) error {
	// A byte bound first, so a huge value is refused without a scan.
	if len(v) > max*utf8.UTFMax || utf8.RuneCountInString(v) > max {
		return invalid(field, "must be 1 to %d characters", max)
	}
	if !utf8.ValidString(v) {
		return invalid(field, "must be valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return invalid(field, "must not contain control or format characters (newlines, NUL, direction marks)")
		}
	}
	return nil
}

// CheckEchoed checks an input keyward stores and shows again — in lists,
// the CLI's output and the audit log: CheckText, and it must not be or
// hold a credential, whether a secret keyward loaded or anything shaped
// like a key. Set optional for inputs that may be empty.
func CheckEchoed(field, v string, max int, optional bool, secrets Secrets) error {
	if optional && v == "" {
		return nil
	}
	if err := CheckText(field, v, max); err != nil {
		return err
	}
	return checkNoCredential(field, v, secrets)
}

func checkNoCredential(field, v string, secrets Secrets) error {
	if secrets != nil && secrets(v) {
		return invalid(field, "holds a secret keyward has loaded; name a static client key by its reference (client:env:NAME), a virtual key by its id")
	}
	_, bare, _ := strings.Cut(v, ":")
	if vkey.Valid(v) || vkey.Valid(bare) || redact.ScrubPatterns(v) != v {
		return invalid(field, "looks like a key itself; name a virtual key by its id (keyward keys list) and a user by their user id")
	}
	return nil
}
