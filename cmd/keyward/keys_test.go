package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/vkey"
)

const keysConfig = `providers: [{name: m, kind: mock}]
models: [{name: fast, targets: [{provider: m, model: x}]}]
auth:
  pepper: env:PEPPER
plans: [{name: free, models: [fast]}]
store: {path: data/keyward.db}
`

func keysCLI(t *testing.T, dir string, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{args[0], args[1], "--config", filepath.Join(dir, "k.yaml")}, args[2:]...)
	err := run(context.Background(), full, func(k string) string { return env[k] }, &out, &errb)
	if strings.Contains(errb.String(), "kw_live_") {
		t.Fatalf("a key reached stderr: %s", errb.String())
	}
	return out.String(), err
}

func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data"), 0o700)
	os.WriteFile(filepath.Join(dir, "k.yaml"), []byte(keysConfig), 0o600)
	env := map[string]string{"PEPPER": "cli-test-pepper-0001"}

	out, err := keysCLI(t, dir, env, "keys", "create", "--name", "backend", "--plan", "free", "--user", "alice", "--scope", "tokens:mint", "--expires", "720h", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID, Key string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || !vkey.IsLive(created.Key) || created.ID == "" {
		t.Fatalf("create --json: %q %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "keyward.db")); err != nil {
		t.Fatalf("store path is relative to the config: %v", err)
	}

	out, err = keysCLI(t, dir, env, "keys", "create", "--name", "human", "--plan", "free", "--test")
	if err != nil || !strings.Contains(out, "kw_test_") || !strings.Contains(out, "not show it again") {
		t.Fatalf("create: %q %v", out, err)
	}

	out, err = keysCLI(t, dir, env, "keys", "list")
	if err != nil || !strings.Contains(out, created.ID) || !strings.Contains(out, "alice") || strings.Contains(out, created.Key) {
		t.Fatalf("list: %q %v", out, err)
	}
	out, err = keysCLI(t, dir, env, "keys", "list", "--json")
	if err != nil || strings.Contains(out, created.Key) || !strings.Contains(out, `"prefix":"kw_live_`) {
		t.Fatalf("list --json: %q %v", out, err)
	}

	out, err = keysCLI(t, dir, env, "keys", "rotate", created.ID, "--grace", "1h", "--json")
	var rotated struct{ ID, Key, Replaces string }
	if err != nil || json.Unmarshal([]byte(out), &rotated) != nil || rotated.Replaces != created.ID || !vkey.Valid(rotated.Key) {
		t.Fatalf("rotate: %q %v", out, err)
	}

	if _, err := keysCLI(t, dir, env, "keys", "revoke", rotated.ID); err != nil {
		t.Fatal(err)
	}
	out, _ = keysCLI(t, dir, env, "keys", "list", "--all")
	if !strings.Contains(out, "revoked") {
		t.Fatalf("list --all: %q", out)
	}

	for name, args := range map[string][]string{
		"unknown plan":   {"keys", "create", "--name", "x", "--plan", "gold"},
		"missing name":   {"keys", "create", "--plan", "free"},
		"unknown scope":  {"keys", "create", "--name", "x", "--plan", "free", "--scope", "admin"},
		"unknown model":  {"keys", "create", "--name", "x", "--plan", "free", "--scope", "model:smart"},
		"revoke missing": {"keys", "revoke", "key_nope"},
		"rotate missing": {"keys", "rotate", "key_nope"},
		"revoke no id":   {"keys", "revoke"},
	} {
		if _, err := keysCLI(t, dir, env, args...); err == nil || exitCode(err) != exitUsage {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := keysCLI(t, dir, map[string]string{}, "keys", "create", "--name", "x", "--plan", "free"); err == nil || !strings.Contains(err.Error(), "auth.pepper") {
		t.Errorf("unset pepper: %v", err)
	}
}

func TestKeysWithoutPepperConfigured(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k.yaml"), []byte(strings.Replace(keysConfig, "  pepper: env:PEPPER\n", "", 1)), 0o600)
	_, err := keysCLI(t, dir, nil, "keys", "create", "--name", "x", "--plan", "free")
	if err == nil || exitCode(err) != exitUsage || !strings.Contains(err.Error(), "auth.pepper is not configured") {
		t.Fatalf("err = %v", err)
	}
}

func TestUsersCommands(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k.yaml"), []byte(keysConfig), 0o600)
	env := map[string]string{"PEPPER": "cli-test-pepper-0001"}
	if _, err := keysCLI(t, dir, env, "users", "set", "alice", "--plan", "free", "--disabled"); err != nil {
		t.Fatal(err)
	}
	out, err := keysCLI(t, dir, env, "users", "list")
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "disabled") {
		t.Fatalf("list: %q %v", out, err)
	}
	if _, err := keysCLI(t, dir, env, "users", "set", "bob", "--plan", "gold"); err == nil || exitCode(err) != exitUsage {
		t.Fatalf("unknown plan: %v", err)
	}
}
