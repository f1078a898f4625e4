package source

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// maxSourceMap bounds how much of a source map is read.
const maxSourceMap = 64 << 20

// withOriginals names, for findings in a JavaScript or CSS bundle that has
// a source map (a sourceMappingURL comment, or FILE.map beside it), the
// original source file and line each was built from. A map that cannot be
// read leaves the findings as they are: it is a hint, not the scan.
func withOriginals(path string, fs []Finding) []Finding {
	switch filepath.Ext(path) {
	case ".js", ".mjs", ".cjs", ".css":
	default:
		return fs
	}
	sm, err := loadSourceMap(path)
	if err != nil || sm == nil {
		return fs
	}
	for i := range fs {
		src, line, ok, err := sm.lookup(fs[i].Line-1, fs[i].Column-1)
		if err != nil || !ok {
			continue
		}
		fs[i].Original = fmt.Sprintf("%s:%d", src, line+1)
	}
	return fs
}

// sourceMap is the part of a source map (version 3) that names sources.
type sourceMap struct {
	Version    int      `json:"version"`
	SourceRoot string   `json:"sourceRoot"`
	Sources    []string `json:"sources"`
	Mappings   string   `json:"mappings"`
}

// loadSourceMap finds and reads the source map of the bundle at path; it
// returns nil when there is none.
func loadSourceMap(path string) (*sourceMap, error) {
	var raw []byte
	ref, err := sourceMappingURL(path)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(ref, "data:"):
		_, data, ok := strings.Cut(ref, ";base64,")
		if !ok {
			return nil, errors.New("inline source map is not base64")
		}
		raw, err = base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, err
		}
	case ref != "" && !strings.Contains(ref, "://") && !strings.HasPrefix(ref, "/"):
		if u, err := url.Parse(ref); err == nil {
			ref = u.Path
		}
		raw, err = readLimited(filepath.Join(filepath.Dir(path), filepath.FromSlash(ref)))
		if err != nil {
			return nil, err
		}
	default:
		raw, err = readLimited(path + ".map")
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	var sm sourceMap
	if err := json.Unmarshal(raw, &sm); err != nil {
		return nil, err
	}
	if sm.Version != 3 {
		return nil, fmt.Errorf("source map version %d", sm.Version)
	}
	return &sm, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSourceMap+1))
	if err == nil && len(b) > maxSourceMap {
		err = errors.New("source map too large")
	}
	return b, err
}

// sourceMappingURL returns the URL in the bundle's last sourceMappingURL
// comment ("//# sourceMappingURL=…" or "/*# sourceMappingURL=… */"), which
// bundlers put at the end.
func sourceMappingURL(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	// An inline map can be large; read up to 8 MiB of the tail.
	n := min(st.Size(), 8<<20)
	tail := make([]byte, n)
	if _, err := f.ReadAt(tail, st.Size()-n); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	const marker = "# sourceMappingURL="
	i := bytes.LastIndex(tail, []byte(marker))
	if i < 2 || (string(tail[i-2:i]) != "//" && string(tail[i-2:i]) != "/*") {
		return "", nil
	}
	ref := tail[i+len(marker):]
	if j := bytes.IndexAny(ref, " \t\r\n*"); j >= 0 {
		ref = ref[:j]
	}
	return string(ref), nil
}

// lookup returns the source and 0-based source line of the mapping segment
// that covers the 0-based generated line and column: the last one on that
// line that starts at or before col.
func (sm *sourceMap) lookup(line, col int) (source string, srcLine int, ok bool, err error) {
	src, sl, ok, err := lookupMappings(sm.Mappings, line, col)
	if err != nil || !ok || src < 0 || src >= len(sm.Sources) {
		return "", 0, false, err
	}
	name := sm.Sources[src]
	if sm.SourceRoot != "" && !strings.Contains(name, "://") {
		name = strings.TrimSuffix(sm.SourceRoot, "/") + "/" + name
	}
	return name, sl, true, nil
}

// lookupMappings decodes a source map's "mappings" (base64 VLQ segments,
// "," between segments, ";" between generated lines) up to the given line
// and returns the source index and source line of the segment covering
// col there. Fields other than the generated column are deltas across the
// whole string, so every segment before the line is decoded too.
func lookupMappings(m string, line, col int) (src, srcLine int, ok bool, err error) {
	var (
		genLine, genCol int
		s, sl, sc, name int
		found           bool
	)
	for i := 0; i < len(m) && genLine <= line; {
		switch m[i] {
		case ';':
			genLine++
			genCol = 0
			i++
			continue
		case ',':
			i++
			continue
		}
		var f [5]int
		n := 0
		for i < len(m) && m[i] != ',' && m[i] != ';' {
			if n == 5 {
				return 0, 0, false, errors.New("source map segment with more than 5 fields")
			}
			v, w, err := vlq(m[i:])
			if err != nil {
				return 0, 0, false, err
			}
			f[n] = v
			n++
			i += w
		}
		if n != 1 && n != 4 && n != 5 {
			return 0, 0, false, fmt.Errorf("source map segment with %d fields", n)
		}
		genCol += f[0]
		if n >= 4 {
			s, sl, sc = s+f[1], sl+f[2], sc+f[3]
			if n == 5 {
				name += f[4]
			}
		}
		if genLine == line && n >= 4 && genCol <= col {
			src, srcLine, found = s, sl, true
		}
	}
	return src, srcLine, found, nil
}

// vlq decodes one base64 VLQ value at the start of m and returns it and
// how many characters it took.
func vlq(m string) (v, n int, err error) {
	var u uint64
	for shift := uint(0); ; shift += 5 {
		if n >= len(m) {
			return 0, 0, errors.New("source map: truncated VLQ")
		}
		d := b64Value(m[n])
		if d < 0 {
			return 0, 0, fmt.Errorf("source map: bad VLQ character %q", m[n])
		}
		if shift > 55 {
			return 0, 0, errors.New("source map: VLQ too long")
		}
		n++
		u |= uint64(d&31) << shift
		if d&32 == 0 {
			break
		}
	}
	v = int(u >> 1)
	if u&1 == 1 {
		v = -v
	}
	return v, n, nil
}

func b64Value(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}
