package secret

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// MaxFileBytes bounds a file: secret; a PEM key fits many times over.
const MaxFileBytes = 64 << 10

// Ref names where a secret lives: "env:NAME" or "file:/path". A Ref is safe
// to print and log; the value it points to is not.
type Ref struct {
	kind string // "env" or "file"
	name string
}

// ParseRef parses "env:NAME" or "file:PATH".
func ParseRef(s string) (Ref, error) {
	kind, name, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return Ref{}, errors.New("must be a reference: env:NAME or file:PATH")
	}
	switch kind {
	case "env":
		for i, c := range name {
			if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
				return Ref{}, fmt.Errorf("env reference %q: not a valid variable name", truncate(name))
			}
		}
	case "file":
		if strings.ContainsRune(name, 0) {
			return Ref{}, errors.New("file reference contains a NUL byte")
		}
	default:
		return Ref{}, errors.New("must be a reference: env:NAME or file:PATH (a literal value is not accepted)")
	}
	return Ref{kind: kind, name: name}, nil
}

// MustRef parses a reference and panics on error; for tests and constants.
func MustRef(s string) Ref {
	r, err := ParseRef(s)
	if err != nil {
		panic(err)
	}
	return r
}

// String returns the reference as written, e.g. "env:OPENAI_API_KEY".
func (r Ref) String() string { return r.kind + ":" + r.name }

// IsFile reports whether the reference points to a file.
func (r Ref) IsFile() bool { return r.kind == "file" }

// Path returns the file path of a file: reference resolved against baseDir.
func (r Ref) Path(baseDir string) string {
	if r.kind != "file" {
		return ""
	}
	if filepath.IsAbs(r.name) || baseDir == "" {
		return r.name
	}
	return filepath.Join(baseDir, r.name)
}

// MarshalText lets a Ref print in JSON/YAML as the reference string.
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a reference from configuration.
func (r *Ref) UnmarshalText(b []byte) error {
	p, err := ParseRef(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// Loader resolves references. Getenv and ReadFile are injected so tests never
// touch the process environment; BaseDir anchors relative file: paths
// (keyward uses the directory of the configuration file).
type Loader struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	BaseDir  string
}

// Load resolves a reference to its secret. Surrounding white space (a
// trailing newline in a mounted file) is trimmed; an empty value is an error.
// Errors name the reference, never the value.
func (l Loader) Load(r Ref) (Secret, error) {
	var v string
	switch r.kind {
	case "env":
		getenv := l.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		v = getenv(r.name)
		if strings.TrimSpace(v) == "" {
			return Secret{}, fmt.Errorf("%s: variable is unset or empty", r)
		}
	case "file":
		b, err := l.readFile(r.Path(l.BaseDir))
		if err != nil {
			return Secret{}, fmt.Errorf("%s: %w", r, err)
		}
		v = string(b)
	default:
		return Secret{}, errors.New("empty secret reference")
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return Secret{}, fmt.Errorf("%s: value is empty", r)
	}
	if !utf8.ValidString(v) {
		return Secret{}, fmt.Errorf("%s: value is not valid UTF-8", r)
	}
	return Secret{v: v}, nil
}

func (l Loader) readFile(path string) ([]byte, error) {
	if l.ReadFile != nil {
		b, err := l.ReadFile(path)
		if err == nil && len(b) > MaxFileBytes {
			return nil, fmt.Errorf("file is larger than %d bytes", MaxFileBytes)
		}
		return b, err
	}
	f, err := os.Open(path)
	if err != nil {
		// The path is configuration, not a secret; the OS error names it.
		return nil, errors.Unwrap(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("file is larger than %d bytes", MaxFileBytes)
	}
	return b, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
