package nextaudit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// gitEnvFile reports the env file names that must never be committed:
// .env, .env.local, .env.*.local and .env.production.
func gitEnvFile(name string) bool {
	return name == ".env" || name == ".env.local" || name == ".env.production" ||
		strings.HasPrefix(name, ".env.") && strings.HasSuffix(name, ".local")
}

// gitEnvPathspecs match gitEnvFile names in the current directory.
var gitEnvPathspecs = []string{".env", ".env.local", ".env.*.local", ".env.production"}

// environ is the environment of the commands the audit runs, with extra
// variables added.
func (a *auditor) environ(extra ...string) []string {
	env := a.opt.Env
	if env == nil {
		env = os.Environ()
	}
	return append(slices.Clip(env), extra...)
}

// git runs git in dir and returns its standard output. The audited
// directory may come from anywhere, so git is told not to run the
// programs a repository's own configuration may name (fsmonitor, external
// diff drivers).
func (a *auditor) git(dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(a.ctx, "git", append([]string{"-C", dir, "-c", "core.fsmonitor=false", "-c", "diff.external=",
		"-c", "core.untrackedCache=false"}, args...)...)
	cmd.Env = a.environ("GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// checkEnvFilesInGit (check 3): env files tracked by git, present in its
// history, or not covered by .gitignore.
func (a *auditor) checkEnvFilesInGit(c *appCtx) {
	for _, dir := range c.appDirs() {
		topOut, err := a.git(dir, "rev-parse", "--show-toplevel")
		if err != nil {
			if note := "git not found: env files in git (check 3) not checked"; errors.Is(err, exec.ErrNotFound) && !slices.Contains(a.notes, note) {
				a.notes = append(a.notes, note)
			}
			continue // not a git repository
		}
		top := strings.TrimSpace(string(topOut))

		tracked := map[string]bool{}
		if out, err := a.git(dir, append([]string{"ls-files", "-z", "--"}, gitEnvPathspecs...)...); err == nil {
			for _, p := range strings.Split(string(out), "\x00") {
				if p != "" && !strings.Contains(p, "/") && gitEnvFile(p) {
					tracked[p] = true
				}
			}
		}
		for _, name := range sortedKeys(tracked) {
			a.add(Finding{CheckID: CheckEnvFileInGit, Severity: Critical, Path: a.rel(filepath.Join(dir, name)), App: c.Rel,
				Subject: "tracked",
				Message: name + " is tracked by git: everyone with the repository has its keys"})
		}

		// History: the newest commit that touched each env file.
		if out, err := a.git(dir, append([]string{"log", "--all", "--no-ext-diff", "--no-textconv", "--format=commit %h", "--name-only", "--"}, gitEnvPathspecs...)...); err == nil {
			commitOf := map[string]string{}
			commit := ""
			for _, l := range strings.Split(string(out), "\n") {
				if h, ok := strings.CutPrefix(l, "commit "); ok {
					commit = h
					continue
				}
				if l == "" {
					continue
				}
				abs := filepath.Join(top, filepath.FromSlash(l))
				if filepath.Dir(abs) != filepath.Clean(dir) && !sameDir(filepath.Dir(abs), dir) {
					continue
				}
				name := filepath.Base(abs)
				if _, ok := commitOf[name]; !ok && gitEnvFile(name) {
					commitOf[name] = commit
				}
			}
			for _, name := range sortedKeys(commitOf) {
				if tracked[name] {
					continue
				}
				a.add(Finding{CheckID: CheckEnvFileInGit, Severity: High, Path: a.rel(filepath.Join(dir, name)), App: c.Rel,
					Subject: "history",
					Message: fmt.Sprintf("%s is in the git history (last in commit %s): deleting it did not remove its keys from the repository", name, commitOf[name])})
			}
		}

		// Existing env files that .gitignore does not cover.
		for _, p := range envFiles(dir) {
			name := filepath.Base(p)
			if !gitEnvFile(name) || tracked[name] {
				continue
			}
			if _, err := a.git(dir, "check-ignore", "-q", "--", name); err == nil {
				continue // ignored
			} else if !isExit(err, 1) {
				continue // git failed; say nothing rather than something wrong
			}
			a.add(Finding{CheckID: CheckEnvFileInGit, Severity: High, Path: a.rel(p), App: c.Rel,
				Subject: "not-ignored",
				Message: name + " is not covered by .gitignore: the next `git add .` commits its keys"})
		}
		// The file Next.js tells everyone to create, before it exists.
		if dir == c.Dir {
			if _, err := os.Stat(filepath.Join(dir, ".env.local")); err != nil {
				if _, err := a.git(dir, "check-ignore", "-q", "--no-index", "--", ".env.local"); isExit(err, 1) {
					a.add(Finding{CheckID: CheckEnvFileInGit, Severity: Low, Path: a.rel(filepath.Join(dir, ".gitignore")), App: c.Rel,
						Subject: "gitignore-missing-env-local",
						Message: "no .gitignore rule covers .env.local yet: add .env*.local before anyone creates one"})
				}
			}
		}
	}
}

func sameDir(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// isExit reports whether err is a process exit with the given code.
func isExit(err error, code int) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == code
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
