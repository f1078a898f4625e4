package nextaudit

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Range is an npm version range as package.json writes one ("15.1.0",
// "^15.1.0", "~15.1", ">=14 <15.2.3", "15.x || 16.x", "14.0.0 - 14.2"),
// read as npm's semver package reads it: a version satisfies the range if it
// satisfies every comparator of one of its sets, and a prerelease only if a
// comparator of that set names a prerelease of the same major.minor.patch.
type Range struct {
	sets [][]comparator
}

// comparator is one bound: op is "<", "<=", ">", ">=" or "=".
type comparator struct {
	op string
	v  Version
}

// partial is a version as a range writes it: missing or wildcard parts
// ("15", "15.x", "*") end it.
type partial struct {
	nums [3]int
	n    int // how many of nums are given
	pre  string
}

var (
	partialRe = regexp.MustCompile(`^v?(\d{1,9}|[xX*])(?:\.(\d{1,9}|[xX*]))?(?:\.(\d{1,9}|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$`)
	hyphenRe  = regexp.MustCompile(`^(\S+)\s+-\s+(\S+)$`)
	// opSpaceRe joins an operator to its version: ">= 15.1.0".
	opSpaceRe = regexp.MustCompile(`(<=|>=|<|>|=|~>|~|\^)\s+`)
)

func parsePartial(s string) (partial, bool) {
	m := partialRe.FindStringSubmatch(s)
	if m == nil {
		return partial{}, false
	}
	var p partial
	for i, g := range m[1:4] {
		if g == "" || g == "x" || g == "X" || g == "*" {
			break
		}
		p.nums[i], _ = strconv.Atoi(g)
		p.n = i + 1
	}
	if p.n < 3 && m[4] != "" {
		return partial{}, false // "15.1-canary" means nothing
	}
	p.pre = m[4]
	return p, true
}

// version is p with its missing parts 0.
func (p partial) version() Version {
	return Version{Major: p.nums[0], Minor: p.nums[1], Patch: p.nums[2], Pre: p.pre}
}

// bump is the first version after everything p names: "15" → 16.0.0-0,
// "15.2" → 15.3.0-0 (the -0 keeps the next line's prereleases out).
func (p partial) bump() Version {
	switch p.n {
	case 1:
		return Version{Major: p.nums[0] + 1, Pre: "0"}
	case 2:
		return Version{Major: p.nums[0], Minor: p.nums[1] + 1, Pre: "0"}
	}
	return Version{Major: p.nums[0], Minor: p.nums[1], Patch: p.nums[2] + 1, Pre: "0"}
}

// ParseRange reads an npm range. Tags ("latest", "canary"), URLs, paths and
// workspace: or file: references are not ranges of published versions and
// yield false; "npm:next@RANGE" is RANGE.
func ParseRange(spec string) (Range, bool) {
	s := strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(s, "npm:"); ok {
		at := strings.LastIndex(rest, "@")
		if at <= 0 {
			return Range{}, false
		}
		s = strings.TrimSpace(rest[at+1:])
	}
	var r Range
	for _, alt := range strings.Split(s, "||") {
		set, ok := parseSet(strings.TrimSpace(alt))
		if !ok {
			return Range{}, false
		}
		r.sets = append(r.sets, set)
	}
	return r, len(r.sets) > 0
}

// anyVersion is the comparator every version satisfies.
var anyVersion = comparator{">=", Version{}}

func parseSet(s string) ([]comparator, bool) {
	if s == "" {
		return []comparator{anyVersion}, true
	}
	if m := hyphenRe.FindStringSubmatch(s); m != nil {
		lo, ok1 := parsePartial(m[1])
		hi, ok2 := parsePartial(m[2])
		if !ok1 || !ok2 {
			return nil, false
		}
		set := []comparator{{">=", lo.version()}}
		switch {
		case hi.n == 0:
		case hi.n < 3:
			set = append(set, comparator{"<", hi.bump()})
		default:
			set = append(set, comparator{"<=", hi.version()})
		}
		return set, true
	}
	var set []comparator
	for _, tok := range strings.Fields(opSpaceRe.ReplaceAllString(s, "$1")) {
		cs, ok := parseComparator(tok)
		if !ok {
			return nil, false
		}
		set = append(set, cs...)
	}
	return set, len(set) > 0
}

// parseComparator reads one token of a set into the comparators it means.
func parseComparator(tok string) ([]comparator, bool) {
	op := ""
	for _, o := range []string{"<=", ">=", "~>", "<", ">", "=", "~", "^"} {
		if rest, ok := strings.CutPrefix(tok, o); ok {
			op, tok = o, rest
			break
		}
	}
	p, ok := parsePartial(tok)
	if !ok {
		return nil, false
	}
	v := p.version()
	none := []comparator{{"<", Version{Pre: "0"}}} // no version at all
	switch op {
	case "", "=":
		switch p.n {
		case 0:
			return []comparator{anyVersion}, true
		case 3:
			return []comparator{{"=", v}}, true
		}
		return []comparator{{">=", v}, {"<", p.bump()}}, true
	case "~", "~>":
		if p.n == 0 {
			return []comparator{anyVersion}, true
		}
		up := partial{nums: p.nums, n: min(p.n, 2)}
		return []comparator{{">=", v}, {"<", up.bump()}}, true
	case "^":
		if p.n == 0 {
			return []comparator{anyVersion}, true
		}
		// The first non-zero part given (or the last given) may not change.
		keep := p.n
		for i := 0; i < p.n; i++ {
			if p.nums[i] != 0 {
				keep = i + 1
				break
			}
		}
		up := partial{nums: p.nums, n: keep}
		return []comparator{{">=", v}, {"<", up.bump()}}, true
	case ">":
		switch p.n {
		case 0:
			return none, true
		case 3:
			return []comparator{{">", v}}, true
		}
		return []comparator{{">=", p.bump().release()}}, true
	case ">=":
		if p.n == 0 {
			return []comparator{anyVersion}, true
		}
		return []comparator{{">=", v}}, true
	case "<":
		if p.n == 0 {
			return none, true
		}
		if p.n < 3 {
			v.Pre = "0"
		}
		return []comparator{{"<", v}}, true
	case "<=":
		switch p.n {
		case 0:
			return []comparator{anyVersion}, true
		case 3:
			return []comparator{{"<=", v}}, true
		}
		return []comparator{{"<", p.bump()}}, true
	}
	return nil, false
}

// pinned returns the one version the range allows, when it names exactly
// one ("15.1.0", "=15.1.0").
func (r Range) pinned() (Version, bool) {
	if len(r.sets) == 1 && len(r.sets[0]) == 1 && r.sets[0][0].op == "=" {
		return r.sets[0][0].v, true
	}
	return Version{}, false
}

// release is v without its prerelease.
func (v Version) release() Version { return Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch} }

func (c comparator) test(v Version) bool {
	d := v.Compare(c.v)
	switch c.op {
	case "<":
		return d < 0
	case "<=":
		return d <= 0
	case ">":
		return d > 0
	case ">=":
		return d >= 0
	}
	return d == 0
}

// Allows reports whether npm would install v for the range.
func (r Range) Allows(v Version) bool {
	for _, set := range r.sets {
		if !slices.ContainsFunc(set, func(c comparator) bool { return !c.test(v) }) && preAllowed(set, v) {
			return true
		}
	}
	return false
}

// preAllowed: a prerelease satisfies a set only if one of its comparators
// names a prerelease of the same major.minor.patch ("^15.0.0-canary.3"
// allows 15.0.0-canary.9, "^15.0.0" allows no canary).
func preAllowed(set []comparator, v Version) bool {
	if v.Pre == "" {
		return true
	}
	return slices.ContainsFunc(set, func(c comparator) bool { return c.v.Pre != "" && c.v.release() == v.release() })
}

// candidates are the versions at which what a range allows can begin or
// end: every bound, the release after a prerelease bound, the patch after
// an excluded release bound, and the first prerelease of a bound's
// version. Whether a range allows some version of an interval whose ends
// are among bounds is decided by trying these (see advisory.allowedBy).
func (r Range) candidates(bounds ...Version) []Version {
	out := []Version{{}}
	add := func(v Version) {
		out = append(out, v, v.release(), Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch + 1},
			Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch, Pre: "0"})
		if v.Pre != "" {
			out = append(out, Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch, Pre: v.Pre + ".0"})
		}
	}
	for _, set := range r.sets {
		for _, c := range set {
			add(c.v)
		}
	}
	for _, b := range bounds {
		add(b)
	}
	return out
}
