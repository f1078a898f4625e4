package nextaudit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustVersion(t testing.TB, s string) Version {
	t.Helper()
	v, ok := ParseVersion(s)
	if !ok {
		t.Fatalf("bad version %q", s)
	}
	return v
}

func TestParseRange(t *testing.T) {
	for _, tt := range []struct {
		spec           string
		allows, denies []string
	}{
		{"15.1.0", []string{"15.1.0"}, []string{"15.1.1", "15.0.9", "15.1.0-canary.1"}},
		{"=v15.1.0", []string{"15.1.0"}, []string{"15.1.1"}},
		{"^15.1.0", []string{"15.1.0", "15.9.9"}, []string{"16.0.0", "16.0.0-canary.1", "15.2.0-canary.1", "15.0.9"}},
		{"~15.1.0", []string{"15.1.0", "15.1.9"}, []string{"15.2.0", "15.1.0-canary.3"}},
		{"~> 15.1", []string{"15.1.0", "15.1.9"}, []string{"15.2.0"}},
		{"^0.2.3", []string{"0.2.3", "0.2.9"}, []string{"0.3.0", "0.2.2"}},
		{"^0.0.3", []string{"0.0.3"}, []string{"0.0.4"}},
		{"^0.0", []string{"0.0.0", "0.0.9"}, []string{"0.1.0"}},
		{"15", []string{"15.0.0", "15.9.1"}, []string{"16.0.0", "14.9.9", "15.1.0-canary.1"}},
		{"15.x", []string{"15.0.0", "15.9.1"}, []string{"16.0.0", "14.9.9"}},
		{"15.2.*", []string{"15.2.0", "15.2.9"}, []string{"15.3.0"}},
		{">=14 <15.2.3", []string{"14.0.0", "15.2.2"}, []string{"15.2.3", "13.9.9"}},
		{">= 14.0.0 < 15", []string{"14.2.0"}, []string{"15.0.0", "15.0.0-canary.1"}},
		{"14.0.0 - 14.2", []string{"14.0.0", "14.2.9"}, []string{"14.3.0", "13.9.9"}},
		{"14.0.0 - 14.2.3", []string{"14.2.3"}, []string{"14.2.4"}},
		{"^14.0.0 || ^16.0.0", []string{"14.1.0", "16.1.0"}, []string{"15.0.0"}},
		{"^15.0.0-canary.3", []string{"15.0.0-canary.3", "15.0.0-canary.9", "15.0.0", "15.1.0"}, []string{"15.0.0-canary.2", "15.1.0-canary.1"}},
		{">15", []string{"16.0.0"}, []string{"15.9.9"}},
		{">15.2", []string{"15.3.0"}, []string{"15.2.9"}},
		{">15.2.3", []string{"15.2.4"}, []string{"15.2.3"}},
		{"<15.2", []string{"15.1.9"}, []string{"15.2.0", "15.2.0-canary.1"}},
		{"<=15.2", []string{"15.2.9"}, []string{"15.3.0"}},
		{"<=15.2.3", []string{"15.2.3"}, []string{"15.2.4"}},
		{"*", []string{"1.0.0", "16.4.6"}, []string{"16.0.0-canary.1"}},
		{"", []string{"15.0.0"}, nil},
		{"x", []string{"15.0.0"}, nil},
		{">*", nil, []string{"0.0.0", "15.0.0"}},
		{"npm:next@^16.2.0", []string{"16.3.0"}, []string{"16.1.0"}},
	} {
		r, ok := ParseRange(tt.spec)
		if !ok {
			t.Errorf("ParseRange(%q) failed", tt.spec)
			continue
		}
		for _, v := range tt.allows {
			if !r.Allows(mustVersion(t, v)) {
				t.Errorf("%q does not allow %s", tt.spec, v)
			}
		}
		for _, v := range tt.denies {
			if r.Allows(mustVersion(t, v)) {
				t.Errorf("%q allows %s", tt.spec, v)
			}
		}
	}
	for _, bad := range []string{"latest", "canary", "workspace:*", "file:../next", "github:vercel/next.js", "15.1-canary",
		"^15.1.0 ||| x", ">=abc", "npm:next", "https://example.test/next.tgz", "1.2.3.4"} {
		if _, ok := ParseRange(bad); ok {
			t.Errorf("ParseRange(%q) succeeded", bad)
		}
	}
}

func advisoryByID(t *testing.T, id string) advisory {
	t.Helper()
	for _, a := range nextAdvisories {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("no advisory %s", id)
	return advisory{}
}

// TestAdvisoryAllowedBy: what a range means for an advisory, including ranges
// whose lowest version is fixed but which allow affected later ones, which
// judging by the lowest version missed.
func TestAdvisoryAllowedBy(t *testing.T) {
	for _, tt := range []struct {
		spec, id  string
		some, all bool
		floor     string
	}{
		{"^15.2.2", "GHSA-f82v-jwr5-mffw", true, false, "15.2.3"},
		{"~15.1.0", "GHSA-f82v-jwr5-mffw", true, true, "15.2.3"},
		{"15.1.0", "GHSA-9qr9-h5gf-34mp", true, true, "15.1.9"},
		// Every 15.x line up to 15.5 has an affected stretch: the floor is
		// the last fix.
		{"^15.2.2", "GHSA-9qr9-h5gf-34mp", true, false, "15.5.7"},
		// 15.1.9 is fixed, but >=15.1.9 allows 15.2.0 to 15.2.5, and 16.0.x.
		{">=15.1.9", "GHSA-9qr9-h5gf-34mp", true, false, "16.0.7"},
		{"^14.2.20", "GHSA-9qr9-h5gf-34mp", false, false, "0.0.0"},
		{"^15.0.0-canary.50", "GHSA-9qr9-h5gf-34mp", true, false, "15.5.7"},
		{"^16.2.11", "GHSA-6gpp-xcg3-4w24", false, false, "0.0.0"},
		{"^16.2.5", "GHSA-6gpp-xcg3-4w24", true, false, "16.2.11"},
		{"16.2.4 || 15.5.0", "GHSA-267c-6grr-h53f", true, true, "16.2.5"},
	} {
		r, ok := ParseRange(tt.spec)
		if !ok {
			t.Fatalf("ParseRange(%q)", tt.spec)
		}
		some, all, floor := advisoryByID(t, tt.id).allowedBy(r)
		if some != tt.some || all != tt.all || floor.String() != tt.floor {
			t.Errorf("%q, %s: some %v all %v floor %s; want %v %v %s", tt.spec, tt.id, some, all, floor, tt.some, tt.all, tt.floor)
		}
	}
}

func TestStripJSONC(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"a": [1, 2,], "b": {"c": 3,},}`, `{"a": [1, 2 ], "b": {"c": 3 } }`},
		// Comments become spaces, the trailing comma too; lines stay lines.
		{"{\n  // a comment, with a comma,\n  \"a\": 1, /* and\n one */\n}",
			"{\n" + strings.Repeat(" ", 29) + "\n  \"a\": 1" + strings.Repeat(" ", 8) + "\n       \n}"},
		{`{"url": "https://x.test/a//b", "s": "/* not a comment */", "q": "\",}"}`, `{"url": "https://x.test/a//b", "s": "/* not a comment */", "q": "\",}"}`},
	} {
		got := string(StripJSONC([]byte(tt.in)))
		if got != tt.want {
			t.Errorf("StripJSONC(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("StripJSONC(%q) is not JSON: %q", tt.in, got)
		}
	}
}

func TestReadBunLock(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "lockfiles", "bun", "bun.lock"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rel, name, want string
		line            int
	}{
		{".", "acme", "16.2.10", 22},
		{"apps/docs", "docs", "16.2.10", 22},
		{"apps/web", "web", "14.2.24", 29},
		// The workspace's name comes from bun.lock when package.json's is
		// not given.
		{"apps/web", "", "14.2.24", 29},
	} {
		v, line, ok := readBunLock(b, tt.rel, tt.name, "")
		if !ok || v.String() != tt.want || line != tt.line {
			t.Errorf("%s: %v %s line %d, want %s line %d", tt.rel, ok, v, line, tt.want, tt.line)
		}
	}
	// An alias to another package is not next.
	alias := []byte(`{"packages": {"next": ["@acme/next-fork@1.0.0", "", {}, "sha512-A"]}}`)
	if v, _, ok := readBunLock(alias, ".", "", ""); ok {
		t.Errorf("alias read as next %s", v)
	}
}

// lockfileSeeds are inputs for the lockfile fuzzers: each kind's fixtures.
func lockfileSeeds(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "lockfiles", "*", "*.*"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "apps/web")
		}
	}
	f.Add([]byte(`{"packages":{"node_modules/next":{"version":"15.5.6"}}}`), ".")
	f.Add([]byte("importers:\n  .:\n    dependencies:\n      next: 12.0.0_react@17\n"), ".")
	f.Add([]byte(`{"packages": {"next": ["next@16.2.5", "", {},],},}`), ".")
}

// FuzzLockfiles: no lockfile reader panics on any input, and what one
// reports is a version that round-trips, on a line of the file.
func FuzzLockfiles(f *testing.F) {
	lockfileSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte, rel string) {
		lines := bytes.Count(b, []byte{'\n'}) + 1
		for _, lf := range lockfiles {
			v, line, ok := lf.read(b, rel, "web", "^15.0.0")
			if !ok {
				continue
			}
			if w, ok := ParseVersion(v.String()); !ok || w.Compare(v) != 0 {
				t.Errorf("%s: version %v does not round-trip", lf.name, v)
			}
			if line < 0 || line > lines {
				t.Errorf("%s: line %d of %d", lf.name, line, lines)
			}
		}
	})
}

// FuzzStripJSONC: JSON comes out as it went in, byte for byte; anything
// else comes out without panicking, and keeps its line count.
func FuzzStripJSONC(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2,],}`, "// c\n{}", "/* x", `"unterminated`, `{"a": "\\"}`, `[,]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := StripJSONC(b)
		if json.Valid(b) && !bytes.Equal(out, b) {
			t.Errorf("JSON changed: %q → %q", b, out)
		}
		if bytes.Count(out, []byte{'\n'}) != bytes.Count(b, []byte{'\n'}) {
			t.Errorf("line count changed: %q → %q", b, out)
		}
	})
}

// FuzzParseRange: no range panics; a pinned range allows its version.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"^15.1.0", ">= 14 <15.2.3 || 16.x", "14.0.0 - 14.2", "npm:next@^16", "~>1", "^0.0.x", "15.1.0"} {
		f.Add(s, "15.1.0")
	}
	f.Fuzz(func(t *testing.T, spec, version string) {
		r, ok := ParseRange(spec)
		if !ok {
			return
		}
		if v, ok := ParseVersion(version); ok {
			r.Allows(v)
		}
		if v, ok := r.pinned(); ok && !r.Allows(v) {
			t.Errorf("%q pins %s but does not allow it", spec, v)
		}
	})
}

// FuzzAllowedBy checks advisory.allowedBy, which tries a few candidate
// versions, against trying every version of a dense grid: if the grid holds
// an allowed affected version, allowedBy must say some, with a floor at
// least that version's fix; if it holds an allowed unaffected one, it must
// not say all.
func FuzzAllowedBy(f *testing.F) {
	f.Add("^1.2.3", "1.0.0", "1.3.0", "2.1.0-canary.1", "2.2.0")
	f.Add(">=1.1.4 <3", "1.2.0-0", "1.2.3", "2.0.0", "2.0.2")
	f.Add("~2.1.0-rc.1 || 0.x", "0.1.0", "2.1.0", "2.1.0-canary.2", "2.1.0-rc.2")
	f.Fuzz(func(t *testing.T, spec, lo1, hi1, lo2, hi2 string) {
		r, ok := ParseRange(spec)
		if !ok {
			return
		}
		var bounds []Version
		for _, s := range []string{lo1, hi1, lo2, hi2} {
			v, ok := ParseVersion(s)
			if !ok || v.Major > 9 || v.Minor > 9 || v.Patch > 9 {
				return
			}
			bounds = append(bounds, v)
		}
		if bounds[0].Compare(bounds[1]) >= 0 || bounds[2].Compare(bounds[3]) >= 0 {
			return
		}
		adv := advisory{Ranges: [][2]string{{bounds[0].String(), bounds[1].String()}, {bounds[2].String(), bounds[3].String()}}}
		some, all, floor := adv.allowedBy(r)
		for _, v := range grid(bounds) {
			if !r.Allows(v) {
				continue
			}
			fixed, hit := adv.affected(v)
			if hit && (!some || floor.Compare(fixed) < 0) {
				t.Fatalf("%q allows %s, affected until %s: allowedBy says some %v, floor %s", spec, v, fixed, some, floor)
			}
			if !hit && all {
				t.Fatalf("%q allows %s, not affected: allowedBy says all", spec, v)
			}
		}
	})
}

// grid is every version with parts 0 to 11 and a few prereleases, and
// the prereleases of the bounds.
func grid(bounds []Version) []Version {
	var out []Version
	pres := []string{"", "0", "1", "canary.1", "canary.2", "canary.10", "rc.1", "rc.1.0"}
	for _, b := range bounds {
		if b.Pre != "" {
			pres = append(pres, b.Pre, b.Pre+".0", b.Pre+".1", b.Pre+"a")
		}
	}
	for ma := range 12 {
		for mi := range 12 {
			for pa := range 12 {
				for _, pre := range pres {
					out = append(out, Version{Major: ma, Minor: mi, Patch: pa, Pre: pre})
				}
			}
		}
	}
	return out
}

func ExampleParseRange() {
	r, _ := ParseRange("^15.1.0")
	for _, v := range []string{"15.0.9", "15.1.0", "15.5.7", "16.0.0", "15.6.0-canary.1"} {
		pv, _ := ParseVersion(v)
		fmt.Println(v, r.Allows(pv))
	}
	// Output:
	// 15.0.9 false
	// 15.1.0 true
	// 15.5.7 true
	// 16.0.0 false
	// 15.6.0-canary.1 false
}
