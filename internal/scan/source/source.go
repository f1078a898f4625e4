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
	Path     string
	Exposure Exposure
}

// Options control a walk. The zero value skips .git, node_modules and
// binary files and uses the default chunk sizes.
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
	if opt.ChunkSize <= 0 {
		opt.ChunkSize = 1 << 20
	}
	if opt.Overlap <= 0 {
		opt.Overlap = 8 << 10
	}
	if opt.Overlap >= opt.ChunkSize {
		return nil, fmt.Errorf("overlap %d must be smaller than chunk size %d", opt.Overlap, opt.ChunkSize)
	}
	workers := cmp.Or(opt.Workers, runtime.NumCPU())

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
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
				mu.Lock()
				for _, f := range found {
					out = append(out, Finding{Finding: f, Path: j.path, Exposure: exp})
				}
				mu.Unlock()
			}
		})
	}

	walkErr := func() error {
		defer close(jobs)
		for _, root := range paths {
			err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
				if err != nil {
					return fmt.Errorf("read %s: %w", path, unwrapPathError(err))
				}
				if e.IsDir() {
					if path != root && !opt.IncludeSkippedDirs && skippedDirs[e.Name()] {
						return filepath.SkipDir
					}
					return nil
				}
				if !e.Type().IsRegular() {
					return nil // symlinks, sockets, devices
				}
				rel, err := filepath.Rel(root, path)
				if err != nil || rel == "." {
					rel = path
				}
				select {
				case jobs <- job{path, filepath.ToSlash(rel)}:
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

// scanFile scans one file in chunks of opt.ChunkSize bytes, each preceded by
// the last opt.Overlap bytes of the one before. A finding belongs to the
// chunk whose share (see below) its start lies in, so a secret shorter than
// half the overlap is found exactly once. Offsets
// in the findings are file offsets; lines are counted across chunks.
func scanFile(d *detect.Detector, path string, buf []byte, opt Options) ([]detect.Finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
	}
	defer f.Close()

	var (
		out       []detect.Finding
		n         int   // bytes in buf
		base      int64 // file offset of buf[0]
		line      = 1   // line number at buf[0]
		lineStart int64 // file offset of the start of that line
		first     = true
	)
	for {
		m, err := io.ReadFull(f, buf[n:])
		n += m
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return nil, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
		}
		if first && !opt.IncludeBinary && bytes.IndexByte(buf[:min(n, sniffLen)], 0) >= 0 {
			return nil, nil
		}
		first = false
		data := buf[:n]
		// The overlap is split: its first half ends the previous chunk's
		// share, its second half starts this one's, so every finding has
		// half an overlap of context on either side.
		from, to := 0, n
		if base > 0 {
			from = opt.Overlap / 2
		}
		if !eof {
			to = n - opt.Overlap/2
		}
		for _, fd := range d.Scan(data) {
			if fd.Start < from || fd.Start >= to {
				continue
			}
			if fd.Line == 1 {
				fd.Column += int(base - lineStart)
			}
			fd.Line += line - 1
			fd.Start += int(base)
			fd.End += int(base)
			out = append(out, fd)
		}
		if eof {
			return out, nil
		}
		// Slide: keep the last Overlap bytes as the next chunk's head.
		consumed := data[:n-opt.Overlap]
		if c := bytes.Count(consumed, []byte{'\n'}); c > 0 {
			line += c
			lineStart = base + int64(bytes.LastIndexByte(consumed, '\n')+1)
		}
		copy(buf, data[n-opt.Overlap:])
		base += int64(n - opt.Overlap)
		n = opt.Overlap
	}
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
