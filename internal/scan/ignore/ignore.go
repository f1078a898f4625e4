// Package ignore decides which findings a project has accepted: paths,
// rule ids, secret patterns and fingerprints listed in an ignore file
// (.keywardignore), and the fingerprints of a baseline report.
//
// An ignore file has one entry per line; "#" starts a comment:
//
//	path: .next/cache/**        # a glob; "**" spans directories, a pattern without "/" matches at any depth
//	path: fixtures/             # everything under a directory
//	rule: generic-secret        # a rule id
//	regex: ^sk-test-            # a Go regular expression, matched against the secret
//	fingerprint: 1a2b3c4d5e6f7a8b
package ignore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// DefaultFile is the ignore file looked for in the scanned directory.
const DefaultFile = ".keywardignore"

// List is what a project ignores. The zero value ignores nothing.
type List struct {
	paths        []*regexp.Regexp
	rules        map[string]bool
	ruleLines    map[string]int // the line that names each rule
	secrets      []*regexp.Regexp
	fingerprints map[string]bool
}

// Parse reads an ignore file; it reports every bad line at once.
func Parse(r io.Reader) (*List, error) {
	l := &List{rules: map[string]bool{}, ruleLines: map[string]int{}, fingerprints: map[string]bool{}}
	var problems []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kind, value, ok := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		if !ok || value == "" {
			problems = append(problems, fmt.Sprintf("line %d: want \"kind: value\"", n))
			continue
		}
		switch strings.TrimSpace(kind) {
		case "path":
			l.paths = append(l.paths, Glob(value))
		case "rule":
			l.rules[value] = true
			if _, ok := l.ruleLines[value]; !ok {
				l.ruleLines[value] = n
			}
		case "regex":
			re, err := regexp.Compile(value)
			if err != nil {
				problems = append(problems, fmt.Sprintf("line %d: %v", n, err))
				continue
			}
			l.secrets = append(l.secrets, re)
		case "fingerprint":
			l.fingerprints[value] = true
		default:
			problems = append(problems, fmt.Sprintf("line %d: unknown kind %q (want path, rule, regex or fingerprint)", n, strings.TrimSpace(kind)))
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return l, nil
}

// Load reads the ignore file at path; a missing file is an empty list when
// optional.
func Load(path string, optional bool) (*List, error) {
	f, err := os.Open(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return &List{}, nil
		}
		return nil, err
	}
	defer f.Close()
	l, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// CheckRules reports every "rule:" line whose id known does not accept
// (a typo silently matches nothing), naming the line.
func (l *List) CheckRules(known func(id string) bool) error {
	type bad struct {
		line int
		id   string
	}
	var bads []bad
	for id, n := range l.ruleLines {
		if !known(id) {
			bads = append(bads, bad{n, id})
		}
	}
	if len(bads) == 0 {
		return nil
	}
	sort.Slice(bads, func(i, j int) bool { return bads[i].line < bads[j].line })
	problems := make([]string, len(bads))
	for i, b := range bads {
		problems[i] = fmt.Sprintf("line %d: unknown rule %q", b.line, b.id)
	}
	return errors.New(strings.Join(problems, "; "))
}

// AddBaseline adds the fingerprints of an earlier JSON report (keyward
// scan --format json), so only new findings are reported.
func (l *List) AddBaseline(r io.Reader) error {
	var rep struct {
		Findings []struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"findings"`
	}
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if l.fingerprints == nil {
		l.fingerprints = map[string]bool{}
	}
	for _, f := range rep.Findings {
		if f.Fingerprint != "" {
			l.fingerprints[f.Fingerprint] = true
		}
	}
	return nil
}

// Path reports whether the slash-separated path is ignored.
func (l *List) Path(rel string) bool {
	rel = strings.TrimPrefix(rel, "./")
	for _, re := range l.paths {
		if re.MatchString(rel) {
			return true
		}
	}
	return false
}

// HasPaths reports whether any path is ignored.
func (l *List) HasPaths() bool { return len(l.paths) > 0 }

// Finding reports whether a finding of rule with secret and fingerprint is
// ignored.
func (l *List) Finding(rule, secret, fingerprint string) bool {
	if l.rules[rule] || l.fingerprints[fingerprint] {
		return true
	}
	for _, re := range l.secrets {
		if re.MatchString(secret) {
			return true
		}
	}
	return false
}

// Glob compiles a path pattern: "*" and "?" stay within a directory, "**"
// spans directories, a trailing "/" means everything below, and a pattern
// without "/" matches a name at any depth (and what is below it).
func Glob(pattern string) *regexp.Regexp {
	pattern = strings.TrimPrefix(pattern, "./")
	anchored := strings.Contains(strings.TrimSuffix(pattern, "/"), "/")
	pattern = strings.ToValidUTF8(strings.TrimPrefix(pattern, "/"), "\uFFFD")
	var b strings.Builder
	b.WriteString("^")
	if !anchored {
		b.WriteString("(?:.*/)?")
	}
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				i++
				if i+1 < len(pattern) && pattern[i+1] == '/' {
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
				continue
			}
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	if !strings.HasSuffix(pattern, "/") {
		b.WriteString("(?:/.*)?")
	} else {
		b.WriteString(".*")
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
