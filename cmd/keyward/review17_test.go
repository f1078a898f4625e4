package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReview17InitEnvFileModeKept: keyward init promises the env file that
// receives the server and mint keys is 0600, but an existing .env.local
// (commonly 0644, as editors and shells create files) keeps its mode: the
// keys land in a file every local user can read, and init says nothing.
func TestReview17InitEnvFileModeKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, ".env.local")
	if err := os.WriteFile(envFile, []byte("SESSION_SECRET=abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runLive(t, "init", "--nextjs", "--provider", "mock", "--env-file", envFile, dir)
	if r.err != nil {
		t.Fatalf("init: %v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(readFile(t, envFile), "KEYWARD_SERVER_KEY=kw_") {
		t.Fatalf("no key written:\n%s", readFile(t, envFile))
	}
	fi, err := os.Stat(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("%s holds the server and mint keys with mode %v (group/other readable), and init said nothing", envFile, fi.Mode().Perm())
	}
}

// TestReview17InitFollowsKeywardSymlink: a .keyward that is a symlink (a
// template repository can commit one) is followed: the pepper and signing
// key are written wherever it points — here into public/, which Next.js
// serves to everyone, and which the ".keyward/" ignore line does not cover.
func TestReview17InitFollowsKeywardSymlink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.MkdirAll(filepath.Join(dir, "public", "kw"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("public", "kw"), filepath.Join(dir, ".keyward")); err != nil {
		t.Fatal(err)
	}
	r := runLive(t, "init", "--nextjs", "--provider", "mock", dir)
	if _, err := os.Stat(filepath.Join(dir, "public", "kw", "signing.pem")); err == nil {
		t.Errorf("init wrote the signing key through the .keyward symlink into public/ (err %v):\n%s", r.err, r.stdout)
	}
}
