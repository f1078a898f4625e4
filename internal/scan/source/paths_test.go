package source

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
}

// TestScanSymlinks: path arguments that are links are followed; in a walk,
// links to files are followed once, links to directories are not (no
// loops), dangling links are skipped.
func TestScanSymlinks(t *testing.T) {
	k1, k2, k3 := fakeGroqKey(31), fakeGroqKey(32), fakeGroqKey(33)
	// rel is a finding's path relative to the test's directory.
	type found struct{ Rel, Secret string }
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		args  []string // relative to dir
		want  []found
		bad   []string // unreadable paths, relative to dir
	}{
		{
			name: "argument links to a file",
			setup: func(t *testing.T, dir string) {
				write(t, dir, "real/.env", "GROQ_API_KEY="+k1+"\n")
				symlink(t, filepath.Join(dir, "real/.env"), filepath.Join(dir, "link.env"))
			},
			args: []string{"link.env"},
			want: []found{{"link.env", k1}},
		},
		{
			name: "argument links to a directory",
			setup: func(t *testing.T, dir string) {
				write(t, dir, "real/a.js", `const k="`+k1+`"`)
				symlink(t, "real", filepath.Join(dir, "linkdir"))
			},
			args: []string{"linkdir"},
			want: []found{{"linkdir/a.js", k1}},
		},
		{
			name: "argument links to a build directory",
			setup: func(t *testing.T, dir string) {
				write(t, dir, "build/.next/static/a.js", `const k="`+k1+`"`)
				symlink(t, filepath.Join(dir, "build/.next"), filepath.Join(dir, "app/.next"))
			},
			args: []string{"app/.next"},
			want: []found{{"app/.next/static/a.js", k1}},
		},
		{
			name: "link to a file outside the tree is followed once",
			setup: func(t *testing.T, dir string) {
				write(t, dir, "shared/keys.env", "GROQ_API_KEY="+k2+"\n")
				write(t, dir, "app/src/a.js", `const k="`+k1+`"`)
				symlink(t, "../../shared/keys.env", filepath.Join(dir, "app/src/keys.env"))
				symlink(t, filepath.Join(dir, "shared/keys.env"), filepath.Join(dir, "app/other.env"))
			},
			args: []string{"app"},
			want: []found{{"app/other.env", k2}, {"app/src/a.js", k1}},
		},
		{
			name: "link to a file inside the tree is scanned at its target",
			setup: func(t *testing.T, dir string) {
				write(t, dir, "app/.env", "GROQ_API_KEY="+k1+"\n")
				symlink(t, ".env", filepath.Join(dir, "app/.env.local"))
			},
			args: []string{"app"},
			want: []found{{"app/.env", k1}},
		},
		{
			name: "directory links are not followed: no loop, no double",
			setup: func(t *testing.T, dir string) {
				write(t, dir, "app/a.js", `const k="`+k1+`"`)
				symlink(t, "..", filepath.Join(dir, "app/sub/loop"))
				symlink(t, filepath.Join(dir, "outside"), filepath.Join(dir, "app/out-link"))
				write(t, dir, "outside/b.js", `const k="`+k3+`"`)
			},
			args: []string{"app"},
			want: []found{{"app/a.js", k1}},
		},
		{
			name: "link loops and dangling links in a walk are skipped",
			setup: func(t *testing.T, dir string) {
				write(t, dir, "app/a.js", `const k="`+k1+`"`)
				symlink(t, "nowhere", filepath.Join(dir, "app/dangling.env"))
				symlink(t, "l2", filepath.Join(dir, "app/l1"))
				symlink(t, "l1", filepath.Join(dir, "app/l2"))
			},
			args: []string{"app"},
			want: []found{{"app/a.js", k1}},
		},
		{
			name: "the same file named twice is scanned once",
			setup: func(t *testing.T, dir string) {
				write(t, dir, "a.env", "GROQ_API_KEY="+k1+"\n")
				symlink(t, "a.env", filepath.Join(dir, "b.env"))
			},
			args: []string{"a.env", "b.env"},
			want: []found{{"a.env", k1}},
		},
		{
			name: "a dangling link argument is unreadable, the rest is scanned",
			setup: func(t *testing.T, dir string) {
				write(t, dir, "a.env", "GROQ_API_KEY="+k1+"\n")
				symlink(t, "nowhere", filepath.Join(dir, "gone.env"))
			},
			args: []string{"gone.env", "a.env"},
			want: []found{{"a.env", k1}},
			bad:  []string{"gone.env"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			var args []string
			for _, a := range tt.args {
				args = append(args, filepath.Join(dir, a))
			}
			got, err := Scan(context.Background(), det, args, Options{Workers: 2})
			var ue *UnreadableError
			if err != nil && !errors.As(err, &ue) {
				t.Fatal(err)
			}
			var bad []string
			if ue != nil {
				for _, f := range ue.Files {
					rel, _ := filepath.Rel(dir, f.Path)
					bad = append(bad, filepath.ToSlash(rel))
				}
			}
			if diff := cmp.Diff(tt.bad, bad); diff != "" {
				t.Errorf("unreadable (-want +got):\n%s", diff)
			}
			var fs []found
			for _, f := range got {
				rel, _ := filepath.Rel(dir, f.Path)
				fs = append(fs, found{filepath.ToSlash(rel), f.Secret})
			}
			if diff := cmp.Diff(tt.want, fs); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// failingFile reads part of a file, then fails.
type failingFile struct {
	io.ReadSeekCloser
	left int
	err  error
}

func (f *failingFile) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, f.err
	}
	n, err := f.ReadSeekCloser.Read(p[:min(len(p), f.left)])
	f.left -= n
	return n, err
}

// TestScanUnreadable: files that cannot be opened or read (injected
// through the opener, since permission bits do not stop root; a file
// that vanishes; a FIFO is not read at all) do not stop the scan: every
// finding elsewhere is returned with an *UnreadableError naming them.
func TestScanUnreadable(t *testing.T) {
	k1, k2, k3 := fakeGroqKey(41), fakeGroqKey(42), fakeGroqKey(43)
	dir := t.TempDir()
	write(t, dir, "a.js", `const k="`+k1+`"`)
	write(t, dir, "denied.js", `const k="`+fakeGroqKey(44)+`"`)
	write(t, dir, "eio.js", `const k="`+k2+`";`+strings.Repeat("x", 100)+`const j="`+fakeGroqKey(45)+`"`)
	write(t, dir, "vanishes.js", `const k="`+fakeGroqKey(46)+`"`)
	write(t, dir, "z/c.js", `const k="`+k3+`"`)
	mkfifo(t, filepath.Join(dir, "fifo")) // not a regular file: never opened
	errIO := errors.New("input/output error")

	var once sync.Once
	orig := openFile
	t.Cleanup(func() { openFile = orig })
	openFile = func(path string) (io.ReadSeekCloser, error) {
		switch filepath.Base(path) {
		case "denied.js":
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission}
		case "vanishes.js":
			once.Do(func() { os.Remove(path) })
		}
		f, err := orig(path)
		if err == nil && filepath.Base(path) == "eio.js" {
			// The first key is read, then the disk fails.
			return &failingFile{ReadSeekCloser: f, left: 80, err: errIO}, nil
		}
		return f, err
	}

	for _, workers := range []int{1, 3} {
		got, err := Scan(context.Background(), det, []string{dir}, Options{Workers: workers, IncludeBinary: true})
		var ue *UnreadableError
		if !errors.As(err, &ue) {
			t.Fatalf("workers %d: err = %v, want an *UnreadableError", workers, err)
		}
		var bad []string
		for _, f := range ue.Files {
			bad = append(bad, filepath.Base(f.Path))
		}
		if want := []string{"denied.js", "eio.js", "vanishes.js"}; !slices.Equal(bad, want) {
			t.Errorf("workers %d: unreadable %v, want %v (%v)", workers, bad, want, err)
		}
		if !errors.Is(err, fs.ErrPermission) || !errors.Is(err, errIO) {
			t.Errorf("workers %d: %v does not wrap the causes", workers, err)
		}
		var secrets []string
		for _, f := range got {
			secrets = append(secrets, f.Secret)
		}
		if want := []string{k1, k2, k3}; !slices.Equal(secrets, want) {
			t.Errorf("workers %d: found %v, want %v", workers, secrets, want)
		}
		once = sync.Once{}
		write(t, dir, "vanishes.js", `const k="`+fakeGroqKey(46)+`"`)
	}
}

// TestScanPermissionDenied uses real permission bits, which only stop a
// process that is not root.
func TestScanPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files of mode 000; TestScanUnreadable covers this through the opener")
	}
	k1 := fakeGroqKey(51)
	dir := t.TempDir()
	write(t, dir, "a.js", `const k="`+k1+`"`)
	write(t, dir, "secret.js", `const k="`+fakeGroqKey(52)+`"`)
	write(t, dir, "locked/b.js", `const k="`+fakeGroqKey(53)+`"`)
	for _, p := range []string{"secret.js", "locked"} {
		if err := os.Chmod(filepath.Join(dir, p), 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(filepath.Join(dir, p), 0o755) })
	}
	got, err := Scan(context.Background(), det, []string{dir}, Options{Workers: 2})
	var ue *UnreadableError
	if !errors.As(err, &ue) || len(ue.Files) != 2 || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("err = %v", err)
	}
	if len(got) != 1 || got[0].Secret != k1 {
		t.Errorf("got %+v", got)
	}
}
