package source

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/keyward/keyward/internal/scan/detect"
)

// GitOptions choose what history ScanGit reads.
type GitOptions struct {
	// Dir is a directory inside the repository (default ".").
	Dir string
	// Since limits history to commits after a date or revision
	// (git log --since; "v1.2.0.." style ranges go in Branch).
	Since string
	// Branch limits history to what one revision (or range) reaches;
	// default every ref (--all).
	Branch string
	// Staged scans the staged changes (git diff --cached) instead of
	// history.
	Staged bool
}

// gitArgs is the git command line for g. Only added lines matter, so no
// context lines are asked for; renames are followed so that a moved file
// is not read as added again; external diff and text conversion drivers
// are turned off so the patch is git's own.
func gitArgs(g GitOptions) []string {
	args := []string{"-c", "core.quotePath=false", "-c", "diff.noprefix=false"}
	common := []string{"-p", "-U0", "-M", "--no-color", "--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/"}
	if g.Staged {
		return append(append(append(args, "diff", "--cached"), common...), "--")
	}
	// --cc shows what a merge itself changed (conflict resolutions, evil
	// merges) as a combined diff; plain commits are unaffected.
	args = append(append(append(args, "log"), common...), gitLogFormat, "--full-history", "--cc")
	if g.Since != "" {
		args = append(args, "--since="+g.Since)
	}
	if g.Branch != "" {
		args = append(args, "--end-of-options", g.Branch)
	} else {
		args = append(args, "--all")
	}
	return append(args, "--")
}

// ScanGit scans the lines that commits added (every commit reachable from
// any ref, or what g selects), or the staged changes. It streams git's
// output through a parser into the detector's workers, so memory is bounded
// by the chunk size and the number of workers, not by the history. A
// secret added in one commit and removed in a later one is found in the
// first, with its commit.
func ScanGit(ctx context.Context, d *detect.Detector, g GitOptions, opt Options) ([]Finding, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", gitArgs(g)...)
	cmd.Dir = cmp.Or(g.Dir, ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run git: %w", err)
	}
	out, perr := scanPatch(ctx, d, stdout, opt)
	if perr != nil {
		cancel()
		_, _ = io.Copy(io.Discard, stdout)
	}
	werr := cmd.Wait()
	if werr != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = werr.Error()
		}
		if ctx.Err() != nil && perr != nil {
			return nil, perr
		}
		return nil, fmt.Errorf("git: %s", msg)
	}
	if perr != nil {
		return nil, perr
	}
	return out, nil
}

// gitJob is one chunk of one file's added lines in one commit.
type gitJob struct {
	c    chunk
	file *gitFile
	// hunks is file.hunks as it was when the chunk was cut.
	hunks []hunkStart
}

// gitFile is one file's diff in one commit: its added lines form a
// stream, in which blob line n (1-based) is the n-th added line.
type gitFile struct {
	seq    int
	path   string
	commit *Commit
	sc     *scanner
	// hunks map blob lines to file lines; they only grow, so a chunk
	// keeps the slice it saw.
	hunks []hunkStart
}

type hunkStart struct{ blobLine, fileLine int }

// fileLine maps a blob line to the file's line.
func fileLine(hs []hunkStart, blob int) int {
	i := sort.Search(len(hs), func(i int) bool { return hs[i].blobLine > blob }) - 1
	if i < 0 {
		return blob
	}
	return hs[i].fileLine + blob - hs[i].blobLine
}

// patchScanner is the diffHandler that feeds the workers.
type patchScanner struct {
	d    *detect.Detector
	opt  Options
	jobs chan<- gitJob
	hdr  *Commit
	cur  *gitFile
	st   *stream
	buf  []byte
	seq  int
	// blobLine is the number of the next added line in cur's blob;
	// lastLine the file line of the previous one.
	blobLine, lastLine int
	lineOpen           bool // the previous piece did not end its line
}

func (p *patchScanner) commit(c Commit) {
	p.endFile()
	p.hdr = &c
}

func (p *patchScanner) file(path string) {
	p.endFile()
	if path == "" || p.opt.Skip != nil && p.opt.Skip(path) {
		return
	}
	p.seq++
	p.cur = &gitFile{seq: p.seq, path: path, commit: p.hdr, sc: newScanner(p.d, p.opt, gitName(path, p.hdr))}
	p.blobLine, p.lastLine, p.lineOpen = 1, -1, false
	f := p.cur
	p.st = newStream(p.buf, p.opt.Overlap, func(c chunk) {
		data := append([]byte(nil), c.data...)
		c.data = data
		p.jobs <- gitJob{c: c, file: f, hunks: f.hunks}
	})
	p.opt.Progress.Files.Add(1)
}

func (p *patchScanner) added(line int, text []byte, last bool) {
	if p.cur == nil {
		return
	}
	if !p.lineOpen && line != p.lastLine+1 {
		p.cur.hunks = append(p.cur.hunks, hunkStart{p.blobLine, line})
	}
	p.st.Write(text)
	p.opt.Progress.Bytes.Add(int64(len(text)))
	p.lineOpen = !last
	if last {
		if len(text) == 0 || text[len(text)-1] != '\n' {
			p.st.Write([]byte{'\n'}) // "\ No newline at end of file"
		}
		p.blobLine++
		p.lastLine = line
	}
}

func (p *patchScanner) endFile() {
	if p.cur != nil && p.st.Len() > 0 {
		p.st.Close()
	}
	p.cur, p.st = nil, nil
}

// scanPatch parses a patch stream and scans its added lines with
// opt.Workers workers.
func scanPatch(ctx context.Context, d *detect.Detector, r io.Reader, opt Options) ([]Finding, error) {
	jobs := make(chan gitJob, opt.Workers)
	var (
		mu  sync.Mutex
		out []Finding
		wg  sync.WaitGroup
	)
	type ordered struct {
		f   Finding
		seq int
	}
	var found []ordered
	for range opt.Workers {
		wg.Go(func() {
			for j := range jobs {
				hs := j.hunks
				exp := Classify(j.file.path)
				for _, h := range j.file.sc.scan(j.c) {
					f := Finding{Finding: h.Finding, Path: j.file.path, Exposure: exp,
						Commit: j.file.commit, Encoding: h.encoding}
					if nextBuildKey(j.file.path, exp, f) {
						continue
					}
					f.Line = fileLine(hs, f.Line)
					mu.Lock()
					found = append(found, ordered{f, j.file.seq})
					mu.Unlock()
				}
			}
		})
	}
	p := &patchScanner{d: d, opt: opt, jobs: jobs, buf: make([]byte, opt.ChunkSize+opt.Overlap)}
	err := parseDiff(ctxReader{ctx, r}, p)
	if err == nil {
		p.endFile()
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(found, func(a, b ordered) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.f.Start, b.f.Start), strings.Compare(a.f.RuleID, b.f.RuleID))
	})
	for _, o := range found {
		out = append(out, o.f)
	}
	return out, nil
}

// ctxReader stops reading when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// gitName names a file in a commit for DecodeCut: "path (commit 1a2b3c4d5e6f)",
// or the path alone for staged changes.
func gitName(path string, c *Commit) string {
	if c == nil || c.Hash == "" {
		return path
	}
	return fmt.Sprintf("%s (commit %s)", path, c.Hash[:min(len(c.Hash), 12)])
}

// GitTopLevel is the root of the work tree that holds dir (git rev-parse
// --show-toplevel).
func GitTopLevel(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel")
	cmd.Dir = cmp.Or(dir, ".")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("not in a git work tree: %s", cmp.Or(dir, "."))
	}
	return strings.TrimRight(string(out), "\r\n"), nil
}
