package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestUsageCommand(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k.yaml"), []byte(keysConfig), 0o600)
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	d1 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	rec := func(at time.Time, key, user, model string, in, cached, out, cost int64) store.UsageRecord {
		return store.UsageRecord{At: at, Key: key, User: user, Model: model, Route: "chat", Input: in, CachedInput: cached, Output: out, CostMicros: cost, Status: 200}
	}
	err = db.AppendUsage(context.Background(), []store.UsageRecord{
		rec(d1, "key:k1", "alice", "fast", 1200, 0, 300, 1080),
		rec(d1.Add(time.Hour), "key:k1", "alice", "smart", 5000, 4096, 800, 21000),
		rec(d1.Add(48*time.Hour), "key:k2", "=cmd|evil", "fast", 10, 0, 5, 7),
		rec(d1.AddDate(0, 2, 0), "key:k2", "bob", "fast", 1, 0, 1, 1), // outside the window
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PEPPER": "cli-test-pepper-0001"}
	window := []string{"--since", "2026-01-01", "--until", "2026-02-01"}
	for _, tt := range []struct {
		golden string
		args   []string
	}{
		{"usage-user.txt", []string{"--by", "user"}},
		{"usage-model.json", []string{"--by", "model", "--format", "json"}},
		{"usage-day.csv", []string{"--by", "day", "--format", "csv"}},
		{"usage-key-alice.txt", []string{"--by", "key", "--user", "alice"}},
	} {
		args := append([]string{"usage", "--config", filepath.Join(dir, "k.yaml")}, append(window, tt.args...)...)
		var out, errb strings.Builder
		if err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb); err != nil {
			t.Fatalf("%v: %v %s", tt.args, err, errb.String())
		}
		golden(t, tt.golden, out.String())
	}
	for _, bad := range [][]string{{"--by", "ip"}, {"--format", "xml"}, {"--since", "last week"}} {
		args := append([]string{"usage", "--config", filepath.Join(dir, "k.yaml")}, bad...)
		var out, errb strings.Builder
		if err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb); exitCode(err) != exitUsage {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestBudgetsCommands(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k.yaml"), []byte(keysConfig), 0o600)
	env := map[string]string{"PEPPER": "cli-test-pepper-0001"}
	out, err := keysCLI(t, dir, env, "budgets", "set", "--user", "alice", "--daily", "0.50", "--monthly", "5")
	if err != nil || !strings.Contains(out, "$0.50 a day, $5.00 a month") {
		t.Fatalf("set: %q %v", out, err)
	}
	if _, err := keysCLI(t, dir, env, "budgets", "set", "--key", "k_8f3a", "--monthly-usd", "20"); err != nil {
		t.Fatal(err)
	}
	out, err = keysCLI(t, dir, env, "budgets", "list")
	if err != nil || !strings.Contains(out, "key:k_8f3a") || !strings.Contains(out, "alice") {
		t.Fatalf("list: %q %v", out, err)
	}
	out, err = keysCLI(t, dir, env, "budgets", "list", "--json")
	if err != nil || !strings.Contains(out, `"daily_usd":0.5`) {
		t.Fatalf("list --json: %q %v", out, err)
	}
	for _, bad := range [][]string{
		{"budgets", "set", "--user", "alice"},
		{"budgets", "set", "--daily", "1"},
		{"budgets", "set", "--user", "a", "--key", "k", "--daily", "1"},
		{"budgets", "set", "--user", "alice", "--daily", "-1"},
		{"budgets", "delete", "--user", "nobody"},
	} {
		if _, err := keysCLI(t, dir, env, bad...); exitCode(err) != exitUsage {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if _, err := keysCLI(t, dir, env, "budgets", "delete", "--user", "alice"); err != nil {
		t.Fatal(err)
	}
	if out, _ := keysCLI(t, dir, env, "budgets", "list"); strings.Contains(out, "alice") {
		t.Fatalf("deleted budget listed: %s", out)
	}
}

func TestConfigCheckPriceWarnings(t *testing.T) {
	dir := t.TempDir()
	cfg := `providers:
  - {name: m, kind: mock}
  - {name: oa, kind: openai, keys: [env:K]}
models:
  - {name: fast, targets: [{provider: m, model: x}]}
  - {name: mini, targets: [{provider: oa, model: gpt-4.1-mini-2025-04-14}]}
  - {name: tuned, targets: [{provider: oa, model: ft:gpt-4.1-mini:acme}]}
  - {name: other, targets: [{provider: oa, model: my-private-model}]}
clients: {keys: [env:C]}
plans:
  - {name: paid, models: [mini, tuned], spend: {daily_usd: 1}}
`
	os.WriteFile(filepath.Join(dir, "k.yaml"), []byte(cfg), 0o600)
	var out, errb strings.Builder
	env := map[string]string{"K": "provider-key-000001", "C": "client-key-0000001"}
	if err := run(context.Background(), []string{"config", "check", "--config", filepath.Join(dir, "k.yaml")}, func(k string) string { return env[k] }, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	for _, want := range []string{
		`model "tuned": oa/ft:gpt-4.1-mini:acme has no price, so plans with a spend cap (paid) are refused it`,
		`model "other": oa/my-private-model has no price; its usage is recorded at zero cost`,
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("missing %q in:\n%s", want, errb.String())
		}
	}
	if strings.Contains(errb.String(), `"mini"`) || strings.Contains(errb.String(), `"fast"`) {
		t.Errorf("priced or mock models warned about:\n%s", errb.String())
	}
}
