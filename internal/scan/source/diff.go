package source

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// diffHandler receives what parseDiff finds in a patch stream.
type diffHandler interface {
	// commit starts a commit (git log only).
	commit(c Commit)
	// file starts a file's diff; path is the new path, "" for a deleted
	// file.
	file(path string)
	// added passes an added line, or a piece of one: line is its number in
	// the new file, last says the piece ends the line (text then ends in
	// "\n" unless the file does not).
	added(line int, text []byte, last bool)
}

// commitMarker starts the header line that gitLog's --format prints; no
// line of a patch starts with it.
const commitMarker = "\x00commit\x00"

// gitLogFormat prints commitMarker, then hash, author date (strict ISO
// 8601), author email and name, NUL-separated.
const gitLogFormat = "--format=%x00commit%x00%H%x00%aI%x00%ae%x00%an"

// maxDiffLine is the longest piece of a line parseDiff holds in memory;
// longer added lines are passed on in pieces.
const maxDiffLine = 64 << 10

// parseDiff reads a unified diff with zero context lines (git log -p -U0 or
// git diff -U0, with gitLogFormat headers) and passes the commits, files
// and added lines to h. It holds at most maxDiffLine bytes of a line. It
// counts hunk lines against the hunk header, so an added line that starts
// with "++ " or a removed one that starts with "-- " is never mistaken for
// a file header.
func parseDiff(r io.Reader, h diffHandler) error {
	return parseDiffSize(r, h, maxDiffLine)
}

func parseDiffSize(r io.Reader, h diffHandler, size int) error {
	br := bufio.NewReaderSize(r, size)
	var (
		hk      hunk // the current hunk's counts
		newLine int  // number of the next line of the new file
		inFile  bool // between "diff --git" and the next header
		// cont says what the rest of a line longer than the buffer is:
		// added text, header text (collected up to maxHeader) or dropped.
		cont int
		hdr  []byte
	)
	const (
		contAdded = 1 + iota
		contHeader
		contDrop
		maxHeader = 4 << 10
	)
	header := func(line []byte) {
		headerLine(line, h, &inFile, &hk, &newLine)
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return err
		}
		eof := errors.Is(err, io.EOF)
		if len(line) == 0 {
			if eof && cont == contHeader {
				header(hdr)
			}
			if eof {
				return nil
			}
			continue
		}
		complete := err == nil || eof
		switch cont {
		case contAdded:
			h.added(newLine, line, complete)
			if complete {
				newLine++
			}
		case contHeader:
			if len(hdr) < maxHeader {
				hdr = append(hdr, line[:min(len(line), maxHeader-len(hdr))]...)
			}
			if complete {
				header(hdr)
			}
		case 0:
			next := contDrop
			if hk.open() {
				switch kind := hk.line(line); kind {
				case lineAdded:
					h.added(newLine, line[hk.parents:], complete)
					if complete {
						newLine++
					}
					next = contAdded
				case lineKept:
					newLine++
				case lineBad:
					// A malformed hunk: stop counting and read the line
					// as a header.
					hk = hunk{}
					next = contHeader
				}
			} else {
				next = contHeader
			}
			if next == contHeader {
				if complete {
					header(line)
				} else {
					hdr = append(hdr[:0], line[:min(len(line), maxHeader)]...)
				}
			}
			if !complete {
				cont = next
				continue
			}
		}
		if complete {
			cont = 0
		}
		if eof {
			return nil
		}
	}
}

// headerLine handles a line outside a hunk.
func headerLine(line []byte, h diffHandler, inFile *bool, hk *hunk, newLine *int) {
	s := strings.TrimRight(string(line), "\r\n")
	switch {
	case strings.HasPrefix(s, commitMarker):
		f := strings.SplitN(s[len(commitMarker):], "\x00", 4)
		for len(f) < 4 {
			f = append(f, "")
		}
		date, _ := time.Parse(time.RFC3339, f[1])
		h.commit(Commit{Hash: f[0], Date: date, Email: f[2], Author: f[3]})
		*inFile = false
	case strings.HasPrefix(s, "diff --git "), strings.HasPrefix(s, "diff --cc "), strings.HasPrefix(s, "diff --combined "):
		*inFile = true
		// The path comes with "+++"; a pure rename or mode change has
		// none and no hunks.
		h.file("")
	case *inFile && strings.HasPrefix(s, "+++ "):
		h.file(diffPath(s[4:]))
	case *inFile && strings.HasPrefix(s, "@@"):
		if k, start, ok := hunkHeader(s); ok {
			*hk, *newLine = k, start
		}
	}
}

// diffPath turns a "+++" header's path into the file's path: "b/x" → "x",
// "/dev/null" → "", with git's C-style quoting undone.
func diffPath(p string) string {
	if p == "/dev/null" {
		return ""
	}
	if strings.HasPrefix(p, `"`) {
		if u, err := strconv.Unquote(p); err == nil {
			p = u
		}
	} else if i := strings.IndexByte(p, '\t'); i >= 0 {
		p = p[:i] // some diff producers add a tab and a timestamp
	}
	return strings.TrimPrefix(p, "b/")
}

// maxParents bounds the parents of a merge whose combined diff is read
// (an octopus merge has more than two).
const maxParents = 16

// hunk counts the lines left in a hunk: of the new file, and of each
// parent's file (one for a plain diff, one per parent for a merge's
// combined diff).
type hunk struct {
	parents int
	oldLeft [maxParents]int
	newLeft int
}

// Kinds of hunk line.
const (
	lineRemoved = iota // in a parent only
	lineKept           // in the new file and a parent (a context line)
	lineAdded          // in the new file only
	lineBad            // not a hunk line
)

func (k *hunk) open() bool {
	if k.newLeft > 0 {
		return true
	}
	for _, n := range k.oldLeft[:k.parents] {
		if n > 0 {
			return true
		}
	}
	return false
}

// line counts one line of the hunk and says what it is. Its first
// k.parents bytes say, per parent, whether it was added ("+") to the new
// file, removed ("-") from it, or kept (" "); a line the new file has is
// added only if it is new against every parent, so a merge's combined diff
// yields the lines the merge itself introduced (an evil merge), not those
// its branches brought.
func (k *hunk) line(line []byte) int {
	if line[0] == '\\' {
		return lineRemoved // "\ No newline at end of file"
	}
	if len(line) < k.parents {
		return lineBad
	}
	inNew, added := true, true
	for _, c := range line[:k.parents] {
		switch c {
		case '+':
		case '-':
			inNew, added = false, false
		case ' ':
			added = false
		default:
			return lineBad
		}
	}
	for i, c := range line[:k.parents] {
		if c != '+' && k.oldLeft[i] > 0 {
			k.oldLeft[i]--
		}
	}
	switch {
	case !inNew:
		return lineRemoved
	case k.newLeft == 0:
		return lineRemoved // more than the header said: ignore it
	}
	k.newLeft--
	if added {
		return lineAdded
	}
	return lineKept
}

// hunkHeader parses "@@ -a[,b] +c[,d] @@…", or a merge's combined
// "@@@ -a,b -c,d +e,f @@@…" (one "@" more than it has parents), into the
// line counts and the new start line.
func hunkHeader(s string) (k hunk, newStart int, ok bool) {
	at := 0
	for at < len(s) && s[at] == '@' {
		at++
	}
	k.parents = at - 1
	if k.parents < 1 || k.parents > maxParents || at >= len(s) || s[at] != ' ' {
		return hunk{}, 0, false
	}
	rest := s[at+1:]
	end := strings.Index(rest, " "+s[:at])
	if end < 0 {
		return hunk{}, 0, false
	}
	ranges := strings.Fields(rest[:end])
	if len(ranges) != k.parents+1 {
		return hunk{}, 0, false
	}
	for i, r := range ranges {
		want := byte('-')
		if i == k.parents {
			want = '+'
		}
		if len(r) < 2 || r[0] != want {
			return hunk{}, 0, false
		}
		start, count := r[1:], "1"
		if j := strings.IndexByte(start, ','); j >= 0 {
			start, count = start[:j], start[j+1:]
		}
		a, err1 := strconv.Atoi(start)
		c, err2 := strconv.Atoi(count)
		if err1 != nil || err2 != nil || a < 0 || c < 0 || c > 1<<30 {
			return hunk{}, 0, false
		}
		if i < k.parents {
			k.oldLeft[i] = c
		} else {
			k.newLeft, newStart = c, max(a, 1)
		}
	}
	return k, newStart, true
}
