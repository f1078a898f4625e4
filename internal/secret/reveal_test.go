package secret

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRevealIsCalledOnce holds the codebase to its promise: a secret's
// value is read in exactly one place, where the provider credential header
// is set. Adding a second caller should be a conscious, reviewed change.
func TestRevealIsCalledOnce(t *testing.T) {
	root := filepath.Join("..", "..")
	var calls []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Reveal" {
					calls = append(calls, path)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A secret's value leaves its type in two places only: a provider key
	// into the credential header (setCredential), and a connection string
	// to the PostgreSQL or Redis driver (connString).
	want := []string{filepath.Join(root, "cmd", "keyward", "backends.go"), filepath.Join(root, "internal", "provider", "provider.go")}
	if !slices.Equal(calls, want) {
		t.Fatalf("Reveal is called from %v; want exactly once in each of %v (connString, setCredential)", calls, want)
	}
}
