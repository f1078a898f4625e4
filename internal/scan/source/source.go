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
	// DecodeBudget is how many decoded bytes one file may produce
	// (default 1 MiB).
	DecodeBudget int
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
		opt.DecodeBudget = 1 << 20
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

// Scan walks paths (files or directories) and returns the findings ordered
// by path and position. Unreadable paths are errors; the first one stops
// the scan.
func Scan(ctx context.Context, d *detect.Detector, paths []string, opt Options) ([]Finding, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	workers := opt.Workers

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// rel is the path that Classify reads: relative to the scanned root,
	// or from the .next or out directory the root is or is inside of.
	type job struct{ path, rel string }
	jobs := make(chan job)
	var (
		mu  sync.Mutex
		out []Finding
		wg  sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			buf := make([]byte, opt.ChunkSize+opt.Overlap)
			for j := range jobs {
				found, err := scanFile(d, j.path, buf, opt)
				if err != nil {
					cancel(err)
					continue
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

	walkErr := func() error {
		defer close(jobs)
		for _, root := range paths {
			prefix := buildPrefix(root)
			err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
				if err != nil {
					return fmt.Errorf("read %s: %w", path, unwrapPathError(err))
				}
				rel, err := filepath.Rel(root, path)
				if err != nil || rel == "." {
					rel = path
				}
				rel = filepath.ToSlash(rel)
				if e.IsDir() {
					if path != root && (!opt.IncludeSkippedDirs && skippedDirs[e.Name()] || opt.Skip != nil && opt.Skip(rel)) {
						return filepath.SkipDir
					}
					return nil
				}
				if !e.Type().IsRegular() {
					return nil // symlinks, sockets, devices
				}
				if opt.Skip != nil && opt.Skip(rel) {
					return nil
				}
				select {
				case jobs <- job{path, prefix + rel}:
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			})
			if err != nil {
				return err
			}
		}
		return nil
	}()
	wg.Wait()
	if err := cmp.Or(walkErr, context.Cause(ctx)); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Start, b.Start), strings.Compare(a.RuleID, b.RuleID))
	})
	return out, nil
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
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	if !opt.IncludeBinary {
		n, err := io.ReadFull(f, buf[:min(sniffLen, len(buf))])
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
		}
		if bytes.IndexByte(buf[:n], 0) >= 0 {
			return nil, nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
		}
	}
	found, err := scanReader(d, f, buf, opt)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
	}
	opt.Progress.Files.Add(1)
	return found, nil
}

// scanReader scans everything r yields, in chunks, reusing buf (of
// ChunkSize+Overlap bytes). Offsets in the findings are stream offsets;
// lines are counted across chunks.
func scanReader(d *detect.Detector, r io.Reader, buf []byte, opt Options) ([]Finding, error) {
	sc := newScanner(d, opt)
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
			return nil, err
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
	found, err := scanReader(d, r, make([]byte, opt.ChunkSize+opt.Overlap), opt)
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
