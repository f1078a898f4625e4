package nextaudit

import (
	"encoding/json"
	"sort"
	"strings"
)

// segment maps a generated column to an original position (0-based).
type segment struct{ genCol, line, col int }

// lineMap maps positions in esbuild's transformed output back to the
// original source, from a version 3 source map with one source.
type lineMap struct {
	lines [][]segment // by generated line
	// gen holds the offsets at which generated lines start.
	gen []int
}

// parseSourceMap decodes a source map's mappings. Segments that point into
// another source than the first are ignored; malformed input yields an
// empty map (every position maps to line 1), never a panic.
func parseSourceMap(mapJSON []byte, generated string) *lineMap {
	m := &lineMap{gen: []int{0}}
	for i := 0; i < len(generated); i++ {
		if generated[i] == '\n' {
			m.gen = append(m.gen, i+1)
		}
	}
	var sm struct {
		Mappings string `json:"mappings"`
	}
	if json.Unmarshal(mapJSON, &sm) != nil {
		return m
	}
	m.lines = decodeMappings(sm.Mappings)
	return m
}

// decodeMappings decodes the "mappings" field: lines separated by ";",
// segments by ",", each a run of base64 VLQ deltas (generated column,
// source index, original line, original column[, name]).
func decodeMappings(s string) [][]segment {
	var out [][]segment
	var src, line, col int
	for _, l := range strings.Split(s, ";") {
		var segs []segment
		genCol := 0
		for _, seg := range strings.Split(l, ",") {
			if seg == "" {
				continue
			}
			vals, ok := decodeVLQ(seg)
			if !ok || len(vals) == 0 {
				break
			}
			genCol += vals[0]
			if len(vals) < 4 {
				continue
			}
			src += vals[1]
			line += vals[2]
			col += vals[3]
			if src == 0 && line >= 0 && col >= 0 && genCol >= 0 {
				segs = append(segs, segment{genCol, line, col})
			}
		}
		sort.SliceStable(segs, func(i, j int) bool { return segs[i].genCol < segs[j].genCol })
		out = append(out, segs)
	}
	return out
}

const base64Digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// decodeVLQ decodes a run of base64 VLQ values.
func decodeVLQ(s string) ([]int, bool) {
	var out []int
	shift, v := 0, 0
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base64Digits, s[i])
		if d < 0 || shift > 30 {
			return nil, false
		}
		v |= (d & 31) << shift
		if d&32 != 0 {
			shift += 5
			continue
		}
		n := v >> 1
		if v&1 != 0 {
			n = -n
		}
		out = append(out, n)
		shift, v = 0, 0
	}
	if shift != 0 {
		return nil, false
	}
	return out, true
}

// original returns the 1-based original line and column for a byte offset
// in the generated code: the last segment at or before it on its line, or
// the nearest earlier line's last segment.
func (m *lineMap) original(off int) (line, col int) {
	gl := sort.Search(len(m.gen), func(i int) bool { return m.gen[i] > off }) - 1
	if gl < 0 {
		gl = 0
	}
	gc := off - m.gen[gl]
	for l := gl; l >= 0; l-- {
		if l >= len(m.lines) {
			continue
		}
		segs := m.lines[l]
		if len(segs) == 0 {
			continue
		}
		i := sort.Search(len(segs), func(i int) bool { return segs[i].genCol > gc }) - 1
		if l != gl {
			i = len(segs) - 1
		}
		if i < 0 {
			// Before the first segment of this line: use it anyway, it
			// is on the same statement far more often than the last
			// segment of the line before.
			i = 0
		}
		return segs[i].line + 1, segs[i].col + 1
	}
	return 1, 1
}
