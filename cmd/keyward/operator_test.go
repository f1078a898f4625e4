package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/sqlite"
)

const operatorConfig = `providers: [{name: oa, kind: openai, keys: [env:K]}]
models: [{name: fast, targets: [{provider: oa, model: gpt-4.1-mini}]}]
clients: {keys: [env:C]}
auth: {pepper: env:PEPPER, admin_keys: [env:ADMIN]}
plans: [{name: free, models: [fast]}]
store: {path: data/keyward.db}
`

var operatorEnv = map[string]string{
	"PEPPER": "cli-test-pepper-0001",
	"K":      "provider-value-abcdefghijkl",
	"C":      "client-value-0123456789",
	"ADMIN":  "admin-value-0123456789",
}

// cliRun runs a command against operatorConfig and returns everything it
// printed.
func cliRun(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{args[0], args[1], "--config", filepath.Join(dir, "k.yaml")}, args[2:]...)
	err := run(context.Background(), full, func(k string) string { return operatorEnv[k] }, &out, &errb)
	return out.String() + errb.String(), err
}

// TestCLIRefusesSecretsAndBadInput (issue #15): the CLI checks what it
// stores and prints as the admin API does — budget subjects, user ids, key
// names and owners are bounded, printable and never a loaded secret.
func TestCLIRefusesSecretsAndBadInput(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data"), 0o700)
	os.WriteFile(filepath.Join(dir, "k.yaml"), []byte(operatorConfig), 0o600)
	for name, args := range map[string][]string{
		"budget by a client key's value": {"budgets", "set", "--key", "client:" + operatorEnv["C"], "--daily", "1"},
		"budget by a provider key":       {"budgets", "set", "--user", operatorEnv["K"], "--daily", "1"},
		"budget delete by a secret":      {"budgets", "delete", "--key", "client:" + operatorEnv["ADMIN"]},
		"budget subject with a newline":  {"budgets", "set", "--user", "a\nb", "--daily", "1"},
		"user id is the pepper":          {"users", "set", operatorEnv["PEPPER"]},
		"user id with NUL":               {"users", "set", "a\x00b"},
		"user id 60 KB":                  {"users", "set", strings.Repeat("u", 60<<10)},
		"key name is a client key":       {"keys", "create", "--name", operatorEnv["C"], "--plan", "free"},
		"key name with a newline":        {"keys", "create", "--name", "a\nkey.revoked", "--plan", "free"},
		"key user 60 KB":                 {"keys", "create", "--name", "x", "--plan", "free", "--user", strings.Repeat("u", 60<<10)},
		"key user is the admin key":      {"keys", "create", "--name", "x", "--plan", "free", "--user", operatorEnv["ADMIN"]},
		"key id too long":                {"keys", "revoke", strings.Repeat("k", 65)},
		"keys list filter with escape":   {"keys", "list", "--user", "\x1b[2J"},
	} {
		out, err := cliRun(t, dir, args...)
		if err == nil || exitCode(err) != exitUsage {
			t.Errorf("%s: err = %v", name, err)
		}
		for _, s := range operatorEnv {
			if strings.Contains(out, s) || strings.Contains(err.Error(), s) {
				t.Errorf("%s: a secret was echoed: %v %s", name, err, out)
			}
		}
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"usage", "--config", filepath.Join(dir, "k.yaml"), "--user", "a\nb"},
		func(k string) string { return operatorEnv[k] }, &out, &errb)
	if exitCode(err) != exitUsage {
		t.Errorf("usage filter with a newline: %v", err)
	}
	if out, err := cliRun(t, dir, "budgets", "set", "--key", "client:env:C", "--daily", "1"); err != nil || !strings.Contains(out, "client:env:C") {
		t.Fatalf("budget by reference: %q %v", out, err)
	}
	list, err := cliRun(t, dir, "budgets", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range operatorEnv {
		if strings.Contains(list, s) {
			t.Errorf("a secret in the budget list: %s", list)
		}
	}
}

// TestCLIAndAdminShareTheServices (issue #16): the CLI's user and budget
// changes go through the operator services and leave the same audit
// events as the admin API's.
func TestCLIAndAdminShareTheServices(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data"), 0o700)
	os.WriteFile(filepath.Join(dir, "k.yaml"), []byte(operatorConfig), 0o600)
	for _, args := range [][]string{
		{"users", "set", "alice", "--plan", "free", "--disabled"},
		{"budgets", "set", "--user", "alice", "--daily", "0.5"},
		{"budgets", "delete", "--user", "alice"},
	} {
		if out, err := cliRun(t, dir, args...); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	if out, err := cliRun(t, dir, "users", "set", "bob", "--plan", "gold"); exitCode(err) != exitUsage || strings.Contains(err.Error(), "gold") || !strings.Contains(err.Error(), "plans: free") {
		t.Fatalf("unknown plan: %v %s", err, out)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	evs, err := db.Events(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Kind+" "+e.Actor+" "+e.Subject+" "+e.Detail)
	}
	want := []string{
		"budget.deleted cli user:alice ",
		"budget.set cli user:alice daily=0.500000 monthly=0.000000",
		`user.updated cli alice plan="free" disabled=true`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestConfigCheckNamesTheValue (issue #15): config check names the value
// it rejects and suggests the right one.
func TestConfigCheckNamesTheValue(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "k.yaml", `providers: [{name: oa, kind: opnai, keys: [env:K]}]
models: [{name: fast, targets: [{provider: oa, model: gpt-4.1-mini}]}]
clients: {keys: [env:C]}
log: {format: jsn}
`)
	r := runCLI(t, operatorEnv, "config", "check", "--config", cfg)
	if r.err == nil || exitCode(r.err) != exitUsage {
		t.Fatalf("err = %v", r.err)
	}
	for _, want := range []string{
		`providers[0].kind: "opnai" is not one of openai, openai-compatible, azure-openai, anthropic, mock; did you mean "openai"?`,
		`log.format: "jsn" is not one of json, text; did you mean "json"?`,
	} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, r.err)
		}
	}
}

// TestConfigCheckWarnsTPMBelowOutputCap: a plan whose tpm does not exceed
// its output cap refuses every request that sets no lower max_tokens
// (tokens_over_limit), so config check says so.
func TestConfigCheckWarnsTPMBelowOutputCap(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "k.yaml", `providers: [{name: m, kind: mock}]
models: [{name: fast, targets: [{provider: m, model: mock-1}]}]
clients: {keys: [env:C]}
limits: {max_output_tokens: 4096}
plans:
  - {name: small, tpm: 2000}
  - {name: capped, tpm: 2000, max_output_tokens: 500}
`)
	r := runCLI(t, operatorEnv, "config", "check", "--config", cfg)
	if r.err != nil {
		t.Fatalf("err = %v", r.err)
	}
	if !strings.Contains(r.stderr, `plan "small": tpm 2000 does not exceed its output cap of 4096 tokens`) || strings.Contains(r.stderr, `plan "capped"`) {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
}

// TestConfigCheckWarnsBrowserTokensWithoutOrigins: browser tokens with no
// cors.allowed_origins can never be used from a page, so config check
// says so and names the setting; with an origin it is quiet.
func TestConfigCheckWarnsBrowserTokensWithoutOrigins(t *testing.T) {
	dir := t.TempDir()
	base := `providers: [{name: m, kind: mock}]
models: [{name: fast, targets: [{provider: m, model: mock-1}]}]
clients: {keys: [env:C]}
auth:
  browser_tokens: {signing_key: file:signing.pem}
`
	for _, tt := range []struct {
		name, extra string
		warn        bool
	}{
		{"no origins", "", true},
		{"with an origin", "cors: {allowed_origins: [\"http://localhost:3000\"]}\n", false},
	} {
		cfg := writeFile(t, dir, "k.yaml", base+tt.extra)
		r := runCLI(t, operatorEnv, "config", "check", "--no-secrets", "--config", cfg)
		if r.err != nil {
			t.Fatalf("%s: err = %v", tt.name, r.err)
		}
		if got := strings.Contains(r.stderr, "cors.allowed_origins is empty"); got != tt.warn {
			t.Errorf("%s: warned %v, want %v:\n%s", tt.name, got, tt.warn, r.stderr)
		}
	}
}
