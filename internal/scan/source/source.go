// Package source feeds files to the detector: it walks paths with a pool
// of workers, skips what is not worth scanning (.git, node_modules, binary
// files) but never gitignored build output, streams each file in chunks
// with an overlap so memory stays bounded, and tells where a finding would
// end up in a Next.js deployment.
package source

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/scan/detect"
	"github.com/keyward/keyward/internal/scan/rules"
)

// Exposure says where a file's content ends up.
type Exposure string

// Exposures, worst first.
const (
	// Client: sent to browsers (.next/static, a static export, HTML and RSC
	// payloads of prerendered pages).
	Client Exposure = "client"
	// Server: part of the Next.js server build only.
	Server Exposure = "server"
	// Repository: source and everything else.
	Repository Exposure = "repository"
)

// Finding is a detector finding located in a file.
type Finding struct {
	detect.Finding
	// Path is the file's path (for git history, relative to the
	// repository's root; "-" for standard input).
	Path     string
	Exposure Exposure
	// Commit is the commit that added the secret (git history only).
	Commit *Commit
	// Encoding names the decodings that revealed the secret, outermost
	// first ("base64+escape"); empty when it is written as it is.
	Encoding string
	// Original is the source file a bundle was built from, named by the
	// bundle's source map ("webpack://app/src/keys.ts:12"); empty when
	// there is none.
	Original string
}

// ReportedSeverity is the finding's severity as reports give it: the
// rule's, raised to critical when the file is sent to browsers, where
// anyone can read it.
func (f Finding) ReportedSeverity() rules.Severity {
	if f.Exposure == Client {
		return rules.Critical
	}
	return f.Severity
}

// Commit identifies a commit in git history.
type Commit struct {
	Hash, Author, Email string
	Date                time.Time
}

// Options control a scan. The zero value skips .git, node_modules and
// binary files and uses the default chunk sizes and decoding.
type Options struct {
	// IncludeSkippedDirs scans .git and node_modules too.
	IncludeSkippedDirs bool
	// IncludeBinary scans files with a NUL byte in their first 8 KiB.
	IncludeBinary bool
	// ChunkSize and Overlap bound memory per file (defaults 1 MiB and
	// 8 KiB). A secret (or a PEM block) longer than half the overlap may be
	// missed at a chunk edge.
	ChunkSize, Overlap int
	// Workers defaults to runtime.NumCPU().
	Workers int
	// DecodeDepth is how many encodings (escapes, URL, base64) may be
	// stacked on a secret (default 2; negative: decode nothing).
	DecodeDepth int
	// DecodeBudget is how many decoded bytes one chunk (ChunkSize bytes
	// of input, with its overlap) may produce (default twice ChunkSize):
	// memory stays bounded per chunk, and the budget grows with the input
	// so a secret encoded late in a large bundle is decoded too.
	DecodeBudget int
	// DecodeCut, when set, is called (from any worker, once per file) with
	// the name of a file where some chunk ran out of DecodeBudget, so some
	// encoded text in it was not decoded and scanned.
	DecodeCut func(name string)
	// Skip, when set, leaves out the files (and directories) whose
	// slash-separated path relative to the scanned root it accepts.
	Skip func(rel string) bool
	// Progress, when set, counts what has been scanned.
	Progress *Progress
}

// Progress counts scanned files and bytes; it is safe to read while a scan
// runs.
type Progress struct {
	Files, Bytes atomic.Int64
}

func (opt *Options) defaults() error {
	if opt.ChunkSize <= 0 {
		opt.ChunkSize = 1 << 20
	}
	if opt.Overlap <= 0 {
		opt.Overlap = 8 << 10
	}
	if opt.Overlap >= opt.ChunkSize {
		return fmt.Errorf("overlap %d must be smaller than chunk size %d", opt.Overlap, opt.ChunkSize)
	}
	if opt.DecodeDepth == 0 {
		opt.DecodeDepth = 2
	}
	if opt.DecodeBudget <= 0 {
		opt.DecodeBudget = 2 * opt.ChunkSize
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	if opt.Progress == nil {
		opt.Progress = new(Progress)
	}
	return nil
}

// skippedDirs are directories skipped unless IncludeSkippedDirs. Build
// output (.next, out, dist, build) is deliberately not among them, even
// though it is usually gitignored: it is what ships.
var skippedDirs = map[string]bool{".git": true, "node_modules": true}

const sniffLen = 8 << 10

// FileError is a file (or directory) a scan could not read.
type FileError struct {
	Path string
	Err  error
}

// UnreadableError lists what a scan could not read. The scan went on
// without it: Scan returns every finding it made together with this error.
// Its message names paths and reasons only, never file content.
type UnreadableError struct {
	Files []FileError
}

func (e *UnreadableError) Error() string {
	var b strings.Builder
	if len(e.Files) == 1 {
		b.WriteString("could not read 1 path: ")
	} else {
		fmt.Fprintf(&b, "could not read %d paths: ", len(e.Files))
	}
	for i, f := range e.Files {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", EscapeControl(f.Path), EscapeControl(f.Err.Error()))
	}
	return b.String()
}

// Unwrap returns the errors, so errors.Is(err, fs.ErrPermission) works.
func (e *UnreadableError) Unwrap() []error {
	out := make([]error, len(e.Files))
	for i, f := range e.Files {
		out[i] = f.Err
	}
	return out
}

// openFile opens a file to scan; tests replace it to inject read errors
// (permission bits do not stop root).
var openFile = func(path string) (io.ReadSeekCloser, error) { return os.Open(path) }

// Scan walks paths (files or directories) and returns the findings ordered
// by path and position.
//
// A path argument that is a symbolic link is followed (to a file or a
// directory). Inside a walked directory, a symbolic link to a file is
// scanned under the link's path, unless its target is inside one of the
// walked roots (it is scanned there, once) or was already scanned through
// another link; symbolic links to directories are not followed (no loops),
// and dangling links are skipped.
//
// A path or file that cannot be read does not stop the scan: Scan returns
// the findings in everything else together with an *UnreadableError
// listing what it could not read. Any other error (a bad option, the
// context cancelled) comes with no findings.
func Scan(ctx context.Context, d *detect.Detector, paths []string, opt Options) ([]Finding, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	workers := opt.Workers

	// rel is the path that Classify reads: relative to the scanned root,
	// or from the .next or out directory the root is or is inside of.
	type job struct{ path, rel string }
	jobs := make(chan job)
	var (
		mu         sync.Mutex
		out        []Finding
		unreadable []FileError
		wg         sync.WaitGroup
	)
	fail := func(path string, err error) {
		mu.Lock()
		unreadable = append(unreadable, FileError{path, unwrapPathError(err)})
		mu.Unlock()
	}
	for range workers {
		wg.Go(func() {
			buf := make([]byte, opt.ChunkSize+opt.Overlap)
			for j := range jobs {
				found, err := scanFile(d, j.path, buf, opt)
				if err != nil {
					fail(j.path, err)
				}
				exp := Classify(j.rel)
				found = slices.DeleteFunc(found, func(f Finding) bool { return nextBuildKey(j.rel, exp, f) })
				if len(found) > 0 && exp != Server {
					found = withOriginals(j.path, found)
				}
				mu.Lock()
				for _, f := range found {
					f.Path, f.Exposure = j.path, exp
					out = append(out, f)
				}
				mu.Unlock()
			}
		})
	}

	// The walked roots, resolved, and the files reached through links, so
	// that a linked file is scanned once.
	var rootDirs []string
	for _, root := range paths {
		if st, err := os.Stat(root); err == nil && st.IsDir() {
			if r, err := resolve(root); err == nil {
				rootDirs = append(rootDirs, r)
			}
		}
	}
	linked := map[string]bool{}
	send := func(j job) error {
		select {
		case jobs <- j:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	walkErr := func() error {
		defer close(jobs)
		for _, root := range paths {
			st, err := os.Stat(root) // follows a link
			if err != nil {
				fail(root, err)
				continue
			}
			if !st.IsDir() {
				if !st.Mode().IsRegular() {
					fail(root, errors.New("not a regular file or directory"))
					continue
				}
				if opt.Skip != nil && opt.Skip(filepath.ToSlash(root)) {
					continue
				}
				if r, err := resolve(root); err == nil {
					if linked[r] {
						continue
					}
					linked[r] = true
				}
				if err := send(job{root, buildPrefix(root) + filepath.ToSlash(root)}); err != nil {
					return err
				}
				continue
			}
			prefix := buildPrefix(root)
			walkRoot := root
			if fi, err := os.Lstat(root); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				// "link/" makes WalkDir read the directory the link
				// names; paths below stay under the link's name.
				walkRoot = root + string(filepath.Separator)
			}
			err = filepath.WalkDir(walkRoot, func(path string, e fs.DirEntry, err error) error {
				if err != nil {
					fail(path, err)
					if e != nil && e.IsDir() && path != walkRoot {
						return filepath.SkipDir
					}
					return nil
				}
				rel, err := filepath.Rel(root, path)
				if err != nil || rel == "." {
					rel = path
				}
				rel = filepath.ToSlash(rel)
				if e.IsDir() {
					if path != walkRoot && (!opt.IncludeSkippedDirs && skippedDirs[e.Name()] || opt.Skip != nil && opt.Skip(rel)) {
						return filepath.SkipDir
					}
					return nil
				}
				if opt.Skip != nil && opt.Skip(rel) {
					return nil
				}
				if e.Type()&fs.ModeSymlink != 0 {
					if !followLink(path, rootDirs, linked) {
						return nil
					}
				} else if !e.Type().IsRegular() {
					return nil // sockets, devices, pipes
				}
				return send(job{path, prefix + rel})
			})
			if err != nil {
				return err
			}
		}
		return nil
	}()
	wg.Wait()
	if walkErr != nil {
		return nil, walkErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Start, b.Start), strings.Compare(a.RuleID, b.RuleID))
	})
	if len(unreadable) > 0 {
		slices.SortFunc(unreadable, func(a, b FileError) int { return strings.Compare(a.Path, b.Path) })
		return out, &UnreadableError{Files: unreadable}
	}
	return out, nil
}

// resolve is path's absolute form with every link resolved.
func resolve(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// followLink reports whether the symbolic link at path, met in a walk,
// should be scanned: it names a regular file (not a directory: following
// those could loop), outside every walked root (a file inside one is
// scanned there) and not already scanned through another link. A dangling
// link, or a loop of links, is skipped.
func followLink(path string, rootDirs []string, linked map[string]bool) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	target, err := resolve(path)
	if err != nil {
		return false
	}
	for _, r := range rootDirs {
		if rel, err := filepath.Rel(r, target); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return false
		}
	}
	if linked[target] {
		return false
	}
	linked[target] = true
	return true
}

// unwrapPathError drops the *fs.PathError wrapper, whose message repeats
// the path.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// scanFile scans one file in chunks (see stream), reusing buf.
func scanFile(d *detect.Detector, path string, buf []byte, opt Options) ([]Finding, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	if !opt.IncludeBinary {
		n, err := io.ReadFull(f, buf[:min(sniffLen, len(buf))])
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, unwrapPathError(err)
		}
		if bytes.IndexByte(buf[:n], 0) >= 0 {
			return nil, nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, unwrapPathError(err)
		}
	}
	found, err := scanNamedReader(d, f, path, buf, opt)
	opt.Progress.Files.Add(1)
	if err != nil {
		// What was read before the error is reported too.
		return found, err
	}
	return found, nil
}

// scanReader scans everything r yields, in chunks, reusing buf (of
// ChunkSize+Overlap bytes). Offsets in the findings are stream offsets;
// lines are counted across chunks.
func scanReader(d *detect.Detector, r io.Reader, buf []byte, opt Options) ([]Finding, error) {
	return scanNamedReader(d, r, "", buf, opt)
}

// scanNamedReader is scanReader for a stream that DecodeCut calls name.
func scanNamedReader(d *detect.Detector, r io.Reader, name string, buf []byte, opt Options) ([]Finding, error) {
	sc := newScanner(d, opt, name)
	var out []Finding
	st := newStream(buf, opt.Overlap, func(c chunk) {
		for _, h := range sc.scan(c) {
			out = append(out, Finding{Finding: h.Finding, Encoding: h.encoding})
		}
	})
	rd := make([]byte, 64<<10)
	for {
		n, err := r.Read(rd)
		st.Write(rd[:n])
		opt.Progress.Bytes.Add(int64(n))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			st.Close()
			return out, err
		}
	}
	st.Close()
	return out, nil
}

// ScanReader scans a stream, such as standard input, as one file named
// name (exposure Repository).
func ScanReader(d *detect.Detector, r io.Reader, name string, opt Options) ([]Finding, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	found, err := scanNamedReader(d, r, name, make([]byte, opt.ChunkSize+opt.Overlap), opt)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	for i := range found {
		found[i].Path, found[i].Exposure = name, Repository
	}
	return found, nil
}

// buildPrefix is what makes paths under root readable to Classify when root
// is a build output directory or inside one: ".next/" for root ".next", or
// ".next/static/" for "app/.next/static", "out/" for "out".
func buildPrefix(root string) string {
	abs, err := filepath.Abs(root)
	if err != nil {
		return ""
	}
	abs = filepath.ToSlash(abs) + "/"
	if i := strings.LastIndex(abs, "/.next/"); i >= 0 {
		return abs[i+1:]
	}
	if strings.HasSuffix(abs, "/out/") {
		return "out/"
	}
	return ""
}

// nextBuildFiles hold the keys Next.js generates for each build and keeps
// on the server: the preview-mode id, signing and encryption keys, and the
// Server Actions encryption key. They are secrets, but Next.js put them
// there and never sends them to browsers; reporting them would fail every
// build. A provider's key in these files is still reported.
var nextBuildFiles = map[string]bool{
	".next/prerender-manifest.json":               true,
	".next/server/preview-props.json":             true,
	".next/server/server-reference-manifest.js":   true,
	".next/server/server-reference-manifest.json": true,
}

func nextBuildKey(rel string, exp Exposure, f Finding) bool {
	if exp == Client || f.Provider != "Generic" {
		return false
	}
	if i := strings.LastIndex("/"+rel, "/.next/"); i >= 0 {
		return nextBuildFiles[("/" + rel)[i+1:]]
	}
	return false
}

// Classify says where a file, given by its slash-separated path relative to
// the scanned root, ends up in a Next.js deployment: anything under
// .next/static/ or a static export's out/ (at the root) is sent to
// browsers, and so are the HTML, RSC and body files of prerendered pages
// under .next/server/app/; the rest of .next/server/ stays on the server.
func Classify(rel string) Exposure {
	rel = "/" + strings.TrimPrefix(rel, "./")
	switch {
	case strings.Contains(rel, "/.next/static/"), strings.HasPrefix(rel, "/out/"):
		return Client
	case strings.Contains(rel, "/.next/server/app/") &&
		(strings.HasSuffix(rel, ".html") || strings.HasSuffix(rel, ".rsc") || strings.HasSuffix(rel, ".body")):
		return Client
	case strings.Contains(rel, "/.next/server/"):
		return Server
	}
	return Repository
}
