package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/keyward/keyward/internal/redact"
)

// MaxFileBytes bounds a configuration file.
const MaxFileBytes = 1 << 20

// Problem is one thing wrong with a configuration, at a YAML path such as
// "providers[0].keys[1]".
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Error collects every problem found in a configuration.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	if len(e.Problems) == 1 {
		b.WriteString(": " + e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, ": %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - " + p.String())
	}
	return b.String()
}

// LoadFile reads, decodes and validates a configuration file.
func LoadFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return Config{}, fmt.Errorf("config %s: larger than %d bytes", path, MaxFileBytes)
	}
	cfg, err := Parse(data)
	var ce *Error
	if errors.As(err, &ce) {
		ce.File = path
	}
	return cfg, err
}

// Parse decodes YAML on top of Default and validates the result. Every
// problem — literal secrets, unknown keys, type errors, invalid values — is
// reported in one *Error. No value from the file is echoed in a message
// that could hold a secret.
func Parse(data []byte) (Config, error) {
	cfg := Default()
	var generic any
	if err := unmarshal(data, &generic); err != nil {
		return cfg, &Error{Problems: []Problem{{Msg: yamlError(err)}}}
	}
	var probs []Problem
	walkLiteralSecrets(generic, "", &probs)
	walkUnknownKeys(generic, reflect.TypeOf(cfg), "", &probs)
	if generic != nil {
		if _, ok := generic.(map[string]any); !ok {
			probs = append(probs, Problem{Msg: "the file must be a YAML mapping"})
			return cfg, &Error{Problems: probs}
		}
		if err := unmarshal(data, &cfg); err != nil {
			probs = append(probs, Problem{Msg: yamlError(err)})
			return cfg, &Error{Problems: probs}
		}
	}
	probs = append(probs, cfg.validate()...)
	if len(probs) > 0 {
		return cfg, &Error{Problems: probs}
	}
	return cfg, nil
}

// unmarshal decodes YAML, turning a panic inside the decoder (seen with
// some malformed tags; see testdata/fuzz) into an error.
func unmarshal(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("the YAML decoder failed on this input; check tags (!) and anchors")
		}
	}()
	return yaml.Unmarshal(data, v)
}

// yamlError renders a decoder error without the source excerpt (which would
// print the offending line, secret or not) and scrubbed besides.
func yamlError(err error) string {
	return redact.ScrubPatterns(yaml.FormatError(err, false, false))
}

// walkLiteralSecrets reports every scalar that looks like a provider key.
func walkLiteralSecrets(n any, path string, probs *[]Problem) {
	switch v := n.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if pat, ok := redact.Match(k); ok {
				*probs = append(*probs, Problem{Path: path, Msg: fmt.Sprintf("a mapping key looks like a literal %s key; secrets belong in env:NAME or file:PATH references", pat.Provider)})
			}
			walkLiteralSecrets(v[k], join(path, k), probs)
		}
	case []any:
		for i, e := range v {
			walkLiteralSecrets(e, path+"["+strconv.Itoa(i)+"]", probs)
		}
	case string:
		if pat, ok := redact.Match(v); ok {
			*probs = append(*probs, Problem{Path: path, Msg: fmt.Sprintf("looks like a literal %s key; put it in an environment variable or a file and write env:NAME or file:PATH here", pat.Provider)})
		}
	}
}

// walkUnknownKeys reports every mapping key that has no field in the
// struct it decodes into, with its path, all at once.
func walkUnknownKeys(n any, t reflect.Type, path string, probs *[]Problem) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch v := n.(type) {
	case map[string]any:
		if reflect.PointerTo(t).Implements(reflect.TypeFor[refFormer]()) && len(v) == 1 && (v["env"] != nil || v["file"] != nil) {
			return
		}
		if t.Kind() != reflect.Struct {
			return
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for _, k := range sortedKeys(v) {
			ft, ok := fields[k]
			if !ok {
				*probs = append(*probs, Problem{Path: join(path, k), Msg: "unknown key" + suggest(k, fields)})
				continue
			}
			walkUnknownKeys(v[k], ft, join(path, k), probs)
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return
		}
		for i, e := range v {
			walkUnknownKeys(e, t.Elem(), path+"["+strconv.Itoa(i)+"]", probs)
		}
	}
}

func suggest(k string, fields map[string]reflect.Type) string {
	var names []string
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.EqualFold(strings.ReplaceAll(name, "_", ""), strings.ReplaceAll(strings.ReplaceAll(k, "-", ""), "_", "")) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return fmt.Sprintf(" (known keys: %s)", strings.Join(names, ", "))
}

func join(path, k string) string {
	if redact.LooksLikeKey(k) {
		k = redact.Mask
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
