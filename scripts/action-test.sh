#!/usr/bin/env bash
# Tests keyward's GitHub Action: scripts/action.sh run the way action.yml
# runs it (inputs in KEYWARD_* variables, outputs appended to a GITHUB_OUTPUT
# file) on throwaway git repositories holding a fake key made up at run
# time, a static check of action.yml, and the commands .pre-commit-hooks.yaml
# runs. No GitHub and no network: keyward is $KEYWARD_BIN, or built here by
# `scripts/action.sh build` (from the module cache, as go build is).
#
#   bash scripts/action-test.sh
#   KEYWARD_BIN=path/to/keyward bash scripts/action-test.sh   # skip the build
#
# It needs git and node (for reading JSON).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
action="$root/scripts/action.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
indent() { sed 's/^/     | /'; }
pass() {
  passed=$((passed + 1))
  echo "ok   $*"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL $*"
}
# check NAME COMMAND...: COMMAND must succeed.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
# want_rc NAME WANT: the last run_action's exit status.
want_rc() {
  if [ "$rc" -eq "$2" ]; then
    pass "$1: exit $2"
  else
    fail "$1: exit $rc, want $2"
    indent <"$log"
  fi
}
# want_outputs NAME LINE...: the GITHUB_OUTPUT file holds exactly these lines.
want_outputs() {
  local name=$1
  shift
  if diff <(printf '%s\n' "$@") "$out" >"$work/diff"; then
    pass "$name: outputs"
  else
    fail "$name: outputs (- want, + got)"
    indent <"$work/diff"
  fi
}

command -v git >/dev/null || { echo "git is required"; exit 1; }
command -v node >/dev/null || { echo "node is required (to read the SARIF files)"; exit 1; }
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.com GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.com

# Go's caches, for the one run that builds keyward itself.
goenv=()
if command -v go >/dev/null; then
  goenv=(GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)" GOPROXY="$(go env GOPROXY)")
fi

# run_action NAME DIR [VAR=VALUE...]: scripts/action.sh in DIR with only
# those variables (and PATH, HOME, Go's caches, KEYWARD_BIN), as action.yml's
# run step.
# Sets rc, out (the GITHUB_OUTPUT file) and log (its standard output and
# error).
run_action() {
  local name=$1 dir=$2
  shift 2
  out="$work/$name.outputs"
  log="$work/$name.log"
  : >"$out"
  rc=0
  (cd "$dir" && env -i PATH="$PATH" HOME="$HOME" ${goenv[@]+"${goenv[@]}"} \
    GITHUB_OUTPUT="$out" KEYWARD_BIN="$bin" "$@" bash "$action") >"$log" 2>&1 || rc=$?
}

# sarif_facts FILE: what the tests look at in a SARIF file, one fact a line
# ("version 2.1.0", "results 1", "result RULE URI"); fails if it is not JSON.
sarif_facts() {
  node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log("version " + s.version);
    console.log("runs " + s.runs.length);
    const run = s.runs[0];
    console.log("tool " + run.tool.driver.name);
    console.log("results " + (Array.isArray(run.results) ? run.results.length : "missing"));
    for (const r of run.results || [])
      for (const l of r.locations || [])
        console.log("result " + r.ruleId + " " + l.physicalLocation.artifactLocation.uri);
  ' "$1"
}
# want_fact NAME FILE FACT: FACT is one of FILE's facts.
want_fact() {
  local facts
  if ! facts=$(sarif_facts "$2" 2>&1); then
    fail "$1: $2 is not a SARIF file keyward wrote: $facts"
  elif grep -qxF -- "$3" <<<"$facts"; then
    pass "$1: $3"
  else
    fail "$1: no \"$3\" in $2:"
    indent <<<"$facts"
  fi
}

# paths_under FILE DIR ROOT: every result's path in the SARIF FILE is under
# DIR/, in a directory of ROOT (a finding may name a file to create, such as
# a .gitignore).
paths_under() {
  local p bad=0
  while read -r p; do
    case "$p" in "$2"/*) ;; *) echo "     | not under $2: $p"; bad=1 ;; esac
    [ -d "$3/$(dirname "$p")" ] || { echo "     | no such directory: $(dirname "$p")"; bad=1; }
  done < <(sarif_facts "$1" | awk '$1 == "result" { print $3 }' | sort -u)
  return "$bad"
}

# only_lines FILE SELECT WANT: every line of FILE that the extended regular
# expression SELECT matches is matched in full by WANT; prints those that
# are not.
only_lines() {
  ! grep -E -- "$2" "$1" | grep -vxE -- "$3"
}
# no_line FILE REGEX: no line of FILE matches the extended regular
# expression; prints those that do.
no_line() {
  ! grep -nE -- "$2" "$1"
}
# lacks FILE STRING...: FILE holds none of the STRINGs.
lacks() {
  local file=$1 s
  shift
  for s; do
    if grep -qF -- "$s" "$file"; then return 1; fi
  done
}
# yaml_keys SECTION FILE: the keys of a top-level mapping of a YAML file
# written as action.yml is (two-space indentation).
yaml_keys() {
  awk -v section="$1:" '$0 == section { on = 1; next } /^[^ #]/ { on = 0 } on && /^  [a-z-]+:$/ { sub(/:$/, ""); print $1 }' "$2"
}

new_repo() {
  git init -q "$1"
  echo "# demo" >"$1/README.md"
  git -C "$1" add README.md
  git -C "$1" commit -qm "readme"
}

rand() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1" || true; }
# A fake key with an OpenAI project key's shape, made up for this run.
key="sk-proj-$(rand 74)T3BlbkFJ$(rand 74)"

echo "== action.yml"
yml="$root/action.yml"
check "action.yml is a composite action" grep -qxE '  using: "?composite"?' "$yml"
# Inputs reach the script through env: only; an expression in run: text is
# the composite-action injection.
check "no run: line holds an expression" no_line "$yml" 'run:.*\$\{\{'
# shellcheck disable=SC2016 # $GITHUB_ACTION_PATH is text here
check "every run: is one line calling scripts/action.sh" only_lines "$yml" '^[[:space:]-]*run:' \
  '[[:space:]]+run: bash "\$GITHUB_ACTION_PATH/scripts/action.sh"( (prepare|build))?'
check "inputs are read only as env: KEYWARD_X: \${{ inputs.x }}" only_lines "$yml" 'inputs\.' \
  ' +KEYWARD_[A-Z_]+: \$\{\{ inputs\.[a-z-]+ \}\}'
declared=$(yaml_keys inputs "$yml" | sort)
used=$(grep -oE '\$\{\{ inputs\.[a-z-]+ \}\}' "$yml" | sed -E 's/.*inputs\.([a-z-]+).*/\1/' | sort -u)
check "inputs: declared = used ($(tr '\n' ' ' <<<"$declared"))" test -n "$declared" -a "$declared" = "$used"
for input in $declared; do
  check "docs/ci.md documents input $input" grep -qF "\`$input\`" "$root/docs/ci.md"
done
for var in $(grep -oE '^ +KEYWARD_[A-Z_]+:' "$yml" | tr -d ' :' | sort -u); do
  check "scripts/action.sh reads $var" grep -qF "$var" "$action"
done
outputs=$(yaml_keys outputs "$yml")
check "action.yml has outputs" test -n "$outputs"
for o in $outputs; do
  check "output $o is the run step's" grep -qxF "    value: \${{ steps.run.outputs.$o }}" "$yml"
  check "scripts/action.sh writes output $o" grep -qE "output $o " "$action"
  check "docs/ci.md documents output $o" grep -qF "\`$o\`" "$root/docs/ci.md"
done
check "every uses: is pinned to a commit" only_lines "$yml" '^[[:space:]-]*uses:' \
  '.*uses: [A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}( #.*)?'
if python3 -c 'import yaml' 2>/dev/null; then
  check "action.yml parses as YAML (PyYAML)" python3 -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d["runs"]["using"] == "composite"
assert all("shell" in s or "uses" in s for s in d["runs"]["steps"])
' "$yml"
else
  echo "skip action.yml YAML parse (no PyYAML; the checks above read its lines)"
fi

echo "== build"
if [ -n "${KEYWARD_BIN:-}" ]; then
  bin=$(cd "$(dirname "$KEYWARD_BIN")" && pwd)/$(basename "$KEYWARD_BIN")
  echo "skip build: KEYWARD_BIN=$bin"
else
  rc=0
  env KEYWARD_BUILD_DIR="$work/bin" KEYWARD_ACTION_REF=v0.0.0-action-test bash "$action" build >"$work/build.log" 2>&1 || rc=$?
  bin="$work/bin/keyward"
  if [ "$rc" -eq 0 ] && [ -x "$bin" ]; then pass "action.sh build"; else
    fail "action.sh build: exit $rc"
    cat "$work/build.log"
    exit 1
  fi
  check "the build says the action's ref as its version" grep -qx "keyward v0.0.0-action-test" <("$bin" --version)
fi

echo "== scan"
clean="$work/clean"
new_repo "$clean"
run_action clean "$clean"
want_rc "clean repository" 0
want_fact "clean repository" "$clean/keyward.sarif" "version 2.1.0"
want_fact "clean repository" "$clean/keyward.sarif" "results 0"
want_outputs "clean repository" sarif-file=keyward.sarif findings=0 scan-exit-code=0 audit-sarif-file= audit-findings= audit-exit-code= exit-code=0
check "clean repository: a one-line summary" grep -qx "keyward: scan of .: 0 finding(s), exit 0, SARIF keyward.sarif; exit status 0" "$log"

leaky="$work/leaky"
new_repo "$leaky"
printf 'OPENAI_API_KEY=%s\n' "$key" >"$leaky/config.env"
git -C "$leaky" add config.env
git -C "$leaky" commit -qm "config"
run_action leaky "$leaky"
want_rc "a key" 1
want_fact "a key" "$leaky/keyward.sarif" "version 2.1.0"
want_fact "a key" "$leaky/keyward.sarif" "tool keyward"
want_fact "a key" "$leaky/keyward.sarif" "results 1"
want_fact "a key" "$leaky/keyward.sarif" "result openai-api-key config.env"
check "a key: the SARIF does not hold the key" lacks "$leaky/keyward.sarif" "$key" "${key:20:30}"
check "a key: the log does not hold the key" lacks "$log" "$key" "${key:20:30}"
want_outputs "a key" sarif-file=keyward.sarif findings=1 scan-exit-code=1 audit-sarif-file= audit-findings= audit-exit-code= exit-code=1
check "a key: a one-line summary" grep -qx "keyward: scan of .: 1 finding(s), exit 1, SARIF keyward.sarif; exit status 1" "$log"

run_action fail-on-critical "$leaky" KEYWARD_FAIL_ON=critical
want_rc "a key (critical), fail-on critical" 1
run_action fail-on-bad "$leaky" KEYWARD_FAIL_ON=severe
want_rc "fail-on severe (no such severity)" 2

medium="$work/medium"
new_repo "$medium"
printf 'API_SECRET=%s\n' "$(rand 40)" >"$medium/app.env"
run_action medium "$medium"
want_rc "a generic secret (medium)" 1
run_action medium-fail-on-high "$medium" KEYWARD_FAIL_ON=high
want_rc "a generic secret (medium), fail-on high" 0
want_fact "a generic secret (medium), fail-on high: still reported" "$medium/keyward.sarif" "result generic-config-secret app.env"
want_outputs "a generic secret (medium), fail-on high" sarif-file=keyward.sarif findings=1 scan-exit-code=0 audit-sarif-file= audit-findings= audit-exit-code= exit-code=0

"$bin" scan --no-progress --quiet --format json --report "$work/baseline.json" "$leaky" || true
run_action baseline "$leaky" KEYWARD_BASELINE="$work/baseline.json"
want_rc "a key in the baseline" 0
want_fact "a key in the baseline" "$leaky/keyward.sarif" "results 0"

run_action paths "$leaky" KEYWARD_PATHS=$'README.md\n  config.env '
want_rc "paths README.md and config.env (newline)" 1
want_fact "paths README.md and config.env (newline)" "$leaky/keyward.sarif" "results 1"
run_action paths-readme "$leaky" KEYWARD_PATHS="README.md"
want_rc "paths README.md" 0

run_action sarif-file "$leaky" KEYWARD_SARIF=reports/secrets.sarif
want_rc "sarif-file reports/secrets.sarif" 1
want_fact "sarif-file reports/secrets.sarif" "$leaky/reports/secrets.sarif" "result openai-api-key config.env"
want_outputs "sarif-file reports/secrets.sarif" sarif-file=reports/secrets.sarif findings=1 scan-exit-code=1 audit-sarif-file= audit-findings= audit-exit-code= exit-code=1

# Inputs are data: no shell runs them, and none becomes a flag.
# shellcheck disable=SC2016 # the shell in these values must stay text
run_action injection "$leaky" KEYWARD_PATHS='$(touch pwned1) `touch pwned2` ;touch pwned3' KEYWARD_SARIF='x.sarif;touch pwned4'
want_rc "shell in paths (no such files)" 2
check "shell in paths and sarif-file: nothing ran" test -z "$(find "$work" -name 'pwned*')"
run_action dash "$leaky" KEYWARD_PATHS=--verify
want_rc "paths --verify is a path, not a flag" 2
check "paths --verify: named as a path" grep -qF -- "--verify" "$log"
run_action bad-bool "$leaky" KEYWARD_GIT_HISTORY=yes
want_rc "git-history yes" 2

echo "== git history"
history="$work/history"
new_repo "$history"
printf 'OPENAI_API_KEY=%s\n' "$key" >"$history/config.env"
git -C "$history" add config.env
git -C "$history" commit -qm "add config"
git -C "$history" rm -q config.env
git -C "$history" commit -qm "remove config"
run_action history-files "$history"
want_rc "a key committed then deleted, files" 0
run_action history "$history" KEYWARD_GIT_HISTORY=true
want_rc "a key committed then deleted, git-history" 1
want_fact "a key committed then deleted, git-history" "$history/keyward.sarif" "result openai-api-key config.env"
check "git-history: the SARIF does not hold the key" lacks "$history/keyward.sarif" "$key" "${key:20:30}"
want_outputs "git-history" sarif-file=keyward.sarif findings=1 scan-exit-code=1 audit-sarif-file= audit-findings= audit-exit-code= exit-code=1
check "git-history: summary" grep -qx "keyward: scan of the git history of .: 1 finding(s), exit 1, SARIF keyward.sarif; exit status 1" "$log"
run_action history-two "$history" KEYWARD_GIT_HISTORY=true KEYWARD_PATHS=". README.md"
want_rc "git-history with two paths" 2
git clone -q --depth 1 "file://$history" "$work/shallow"
run_action shallow "$work/shallow" KEYWARD_GIT_HISTORY=true
check "git-history of a shallow clone warns" grep -q "shallow clone" "$log"

echo "== audit"
app="$work/app"
new_repo "$app"
mkdir -p "$app/apps"
cp -R "$root/internal/nextaudit/testdata/nextjs/vulnerable" "$app/apps/web"
git -C "$app" add apps
git -C "$app" commit -qm "app"
run_action audit "$app" KEYWARD_AUDIT=apps/web/ KEYWARD_SARIF=reports/scan.sarif KEYWARD_AUDIT_SARIF=reports/audit.sarif
want_rc "audit apps/web (the vulnerable fixture)" 1
want_fact "audit apps/web" "$app/reports/audit.sarif" "version 2.1.0"
want_fact "audit apps/web" "$app/reports/audit.sarif" "tool keyward audit"
want_fact "audit apps/web: client-provider-access" "$app/reports/audit.sarif" "result client-provider-access apps/web/app/components/chat.jsx"
n=$(sarif_facts "$app/reports/audit.sarif" | sed -n 's/^results //p')
check "audit apps/web: problems found ($n)" test "$n" -gt 0
# Code scanning reads the paths from the repository's root.
check "audit apps/web: every path is under apps/web, from the repository's root" paths_under "$app/reports/audit.sarif" apps/web "$app"
want_outputs "audit apps/web" sarif-file=reports/scan.sarif findings=0 scan-exit-code=0 audit-sarif-file=reports/audit.sarif "audit-findings=$n" audit-exit-code=1 exit-code=1
check "audit apps/web: summary" grep -qx "keyward: scan of .: 0 finding(s), exit 0, SARIF reports/scan.sarif; audit of apps/web/: $n problem(s), exit 1, SARIF reports/audit.sarif; exit status 1" "$log"

secure="$work/secure"
cp -R "$root/internal/nextaudit/testdata/nextjs/secure" "$secure"
git -C "$secure" init -q
git -C "$secure" add .
git -C "$secure" commit -qm "secure app"
run_action audit-secure "$secure" KEYWARD_AUDIT=true
want_rc "audit true (the secure fixture)" 0
want_fact "audit true (the secure fixture)" "$secure/keyward-audit.sarif" "results 0"
want_outputs "audit true (the secure fixture)" sarif-file=keyward.sarif findings=0 scan-exit-code=0 audit-sarif-file=keyward-audit.sarif audit-findings=0 audit-exit-code=0 exit-code=0
run_action audit-leaky "$leaky" KEYWARD_AUDIT=true
want_rc "audit true with no Next.js app, and a key" 2
check "audit with no Next.js app: the scan's SARIF is written" test -f "$leaky/keyward.sarif"
run_action audit-two "$app" KEYWARD_AUDIT="apps/web apps/api"
want_rc "audit of two directories" 2

echo "== build options"
rt="$work/runner-temp"
: >"$work/prepare.outputs"
env -i PATH="$PATH" RUNNER_TEMP="$rt" GITHUB_OUTPUT="$work/prepare.outputs" KEYWARD_ACTION_REF=v1.0.0 bash "$action" prepare >/dev/null
check "prepare: bin" grep -qx "bin=$rt/keyward-action/keyward" "$work/prepare.outputs"
check "prepare: dir" grep -qx "dir=$rt/keyward-action" "$work/prepare.outputs"
check "prepare: a cache key of the source" grep -qE '^cache-key=keyward-action-.+-src-[0-9a-f]{24}$' "$work/prepare.outputs"
key1=$(sed -n 's/^cache-key=//p' "$work/prepare.outputs")
key2=$(env -i PATH="$PATH" RUNNER_TEMP="$rt" GITHUB_OUTPUT=/dev/stdout KEYWARD_ACTION_REF=v1.0.1 bash "$action" prepare | sed -n 's/^cache-key=//p')
check "prepare: another ref, another key" test -n "$key2" -a "$key1" != "$key2"
key3=$(env -i PATH="$PATH" GITHUB_OUTPUT=/dev/stdout KEYWARD_VERSION=v1.2.3 bash "$action" prepare | sed -n 's/^cache-key=//p')
check "prepare: version v1.2.3 is cached ($key3)" grep -q -- "-v1.2.3-" <<<"$key3"
check "prepare: version latest is not cached" grep -qx "cache-key=" <(env -i PATH="$PATH" GITHUB_OUTPUT=/dev/stdout KEYWARD_VERSION=latest bash "$action" prepare)

# version: go install of a release, seen through a stand-in for go.
stub="$work/stub"
mkdir -p "$stub"
cat >"$stub/go" <<'EOF'
#!/usr/bin/env bash
echo "go $* GOBIN=${GOBIN:-} CGO_ENABLED=${CGO_ENABLED:-} GOFLAGS=${GOFLAGS-unset}" >>"$STUB_LOG"
if [ "$1" = install ]; then cp "$STUB_KEYWARD" "$GOBIN/keyward"; fi
EOF
chmod +x "$stub/go"
rc=0
env -i PATH="$stub:$PATH" STUB_LOG="$work/stub.log" STUB_KEYWARD="$bin" GOFLAGS=-mod=vendor \
  KEYWARD_VERSION=v1.2.3 KEYWARD_BUILD_DIR="$work/vbin" bash "$action" build >"$work/version.log" 2>&1 || rc=$?
check "version v1.2.3: build succeeds" test "$rc" -eq 0
check "version v1.2.3: go install of the release into KEYWARD_BUILD_DIR" \
  grep -qxF "go install -trimpath github.com/keyward/keyward/cmd/keyward@v1.2.3 GOBIN=$work/vbin CGO_ENABLED=0 GOFLAGS=" "$work/stub.log"
rc=0
env -i PATH="$stub:$PATH" STUB_LOG="$work/stub-bad.log" KEYWARD_VERSION="-x;y" KEYWARD_BUILD_DIR="$work/vbin" bash "$action" build >/dev/null 2>&1 || rc=$?
check "version -x;y: refused before go runs" test "$rc" -eq 2 -a ! -e "$work/stub-bad.log"

if [ -z "${KEYWARD_BIN:-}" ]; then
  run_action self-build "$clean" KEYWARD_BIN=
  want_rc "no KEYWARD_BIN: builds, then scans" 0
fi

echo "== pre-commit hooks (.pre-commit-hooks.yaml)"
staged="$work/staged"
new_repo "$staged"
entries=$(sed -n 's/^ *entry: *//p' "$root/.pre-commit-hooks.yaml")
check "two hook entries" test "$(wc -l <<<"$entries")" -eq 2
while IFS= read -r entry; do
  read -ra argv <<<"$entry"
  [ "${argv[0]}" = keyward ] || { fail "hook entry \"$entry\" does not run keyward"; continue; }
  printf 'OPENAI_API_KEY=%s\n' "$key" >"$staged/config.env"
  git -C "$staged" add config.env
  rc=0
  (cd "$staged" && "$bin" "${argv[@]:1}" >"$work/hook.log" 2>&1) || rc=$?
  check "hook \"$entry\": a staged key fails the commit (exit $rc)" test "$rc" -eq 1
  check "hook \"$entry\": the key is not printed" lacks "$work/hook.log" "$key" "${key:20:30}"
  git -C "$staged" rm -q --cached config.env
  rc=0
  (cd "$staged" && "$bin" "${argv[@]:1}" >"$work/hook.log" 2>&1) || rc=$?
  check "hook \"$entry\": nothing staged passes (exit $rc)" test "$rc" -eq 0
done <<<"$entries"

echo "== this repository's own files"
rc=0
(cd "$root" && "$bin" scan --no-progress action.yml scripts/action.sh scripts/action-test.sh docs/ci.md .pre-commit-hooks.yaml >"$work/self.log" 2>&1) || rc=$?
check "no key-shaped text in the action's files" test "$rc" -eq 0

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
