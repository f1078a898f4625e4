#!/usr/bin/env bash
# keyward's GitHub Action (action.yml) in one script, runnable anywhere:
#
#   bash scripts/action.sh            # scan (and audit), write SARIF, exit with keyward's status
#   bash scripts/action.sh build      # build keyward into KEYWARD_BUILD_DIR
#   bash scripts/action.sh prepare    # where build puts keyward, and a cache key for it
#
# It is driven by environment variables only (action.yml maps its inputs to
# them, so no input is ever part of shell text):
#
#   KEYWARD_PATHS          what to scan: paths separated by spaces or newlines (default ".")
#   KEYWARD_GIT_HISTORY    true: scan every commit (keyward scan --git) of the repository
#                          holding KEYWARD_PATHS (one directory) instead of the files
#   KEYWARD_BASELINE       a JSON report of an earlier scan whose findings are accepted
#   KEYWARD_FAIL_ON        critical, high, medium or low: only findings that bad fail
#   KEYWARD_SARIF          the scan's SARIF file (default keyward.sarif)
#   KEYWARD_AUDIT          false (default), true (audit "."), or the one directory to audit
#   KEYWARD_AUDIT_SARIF    the audit's SARIF file (default keyward-audit.sarif)
#   KEYWARD_AUDIT_BASELINE a JSON report of an earlier audit whose findings are accepted
#   KEYWARD_BIN            a keyward binary to run; without it, one is built first
#   KEYWARD_VERSION        build this released version (go install …@VERSION) instead of
#                          the source next to this script
#   KEYWARD_BUILD_DIR      where build (and run, without KEYWARD_BIN) puts keyward; build's
#                          default is $RUNNER_TEMP/keyward-action (else $TMPDIR's), run's a
#                          temporary directory removed at exit
#   KEYWARD_ACTION_REF     the action's ref (github.action_ref), stamped as the version of
#                          a keyward built from source
#   GITHUB_OUTPUT          when set, the outputs are appended to it
#
# Exit status: keyward's (0 nothing found or nothing at KEYWARD_FAIL_ON or
# above, 1 found, 2 error); with an audit, the worse of the two. The SARIF
# files are written whatever the status, unless keyward could not run.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
  echo "keyward action: $*" >&2
  exit 2
}

warn() {
  if [ "${GITHUB_ACTIONS:-}" = true ]; then
    echo "::warning title=keyward::$*"
  else
    echo "keyward action: warning: $*" >&2
  fi
}

# bool NAME VALUE: true or false, for an input that must be one of them.
bool() {
  case "$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" in
    true) echo true ;;
    false | "") echo false ;;
    *) die "$1 must be true or false, not \"$2\"" ;;
  esac
}

# output NAME VALUE appends NAME=VALUE to $GITHUB_OUTPUT.
output() {
  [ -n "${GITHUB_OUTPUT:-}" ] || return 0
  case "$2" in *$'\n'* | *$'\r'*) die "output $1 holds a line break" ;; esac
  printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
}

exe_suffix() {
  case "${RUNNER_OS:-$(uname -s)}" in Windows | MINGW* | MSYS* | CYGWIN*) echo .exe ;; esac
}

# default_build_dir is where prepare says, and build puts, keyward.
default_build_dir() {
  echo "${KEYWARD_BUILD_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/keyward-action}"
}

# A version is a module query such as v1.2.3, latest or a commit: never an
# option, never shell.
check_version() {
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "version \"$1\" is not a version, tag or commit"
}

# version_label is what a keyward built from source reports as its version:
# the action's ref (v1.2.0, main) when it looks like one, else nothing (dev).
version_label() {
  local ref=${KEYWARD_ACTION_REF:-}
  if [[ "$ref" =~ ^[A-Za-z0-9][A-Za-z0-9._/+-]*$ ]]; then echo "$ref"; fi
}

sha256_cmd=(sha256sum)
command -v sha256sum >/dev/null 2>&1 || sha256_cmd=(shasum -a 256)

# cache_key names the binary build would produce, for actions/cache: the
# platform and a hash of the source it is built from (go.mod, go.sum, cmd/,
# internal/) with its version label, or the released version asked for. An
# empty key (a moving version such as latest or a branch) is not cached.
cache_key() {
  local platform="${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}"
  local version=${KEYWARD_VERSION:-}
  if [ -n "$version" ]; then
    check_version "$version"
    if [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ || "$version" =~ ^[0-9a-f]{40}$ ]]; then
      echo "keyward-action-$platform-$version-$("${sha256_cmd[@]}" <"$src/go.mod" | cut -c1-16)"
    fi
    return 0
  fi
  local sum
  sum=$(
    cd "$src"
    {
      printf 'label %s\n' "$(version_label)"
      find go.mod go.sum cmd internal -type f ! -path '*/node_modules/*' -print0 | LC_ALL=C sort -z | xargs -0 "${sha256_cmd[@]}" --
    } | "${sha256_cmd[@]}" | cut -c1-24
  )
  echo "keyward-action-$platform-src-$sum"
}

# build puts keyward in $1: the source next to this script, or the released
# KEYWARD_VERSION.
build() {
  local dir=$1 version=${KEYWARD_VERSION:-}
  command -v go >/dev/null 2>&1 || die "go is not on PATH: set KEYWARD_BIN to a keyward binary, or install Go"
  mkdir -p "$dir"
  case "$dir" in /* | [A-Za-z]:*) ;; *) dir="$PWD/$dir" ;; esac
  # The user's GOFLAGS (-mod=vendor) and go.work are for their module, not keyward's.
  if [ -n "$version" ]; then
    check_version "$version"
    local module
    module=$(awk '$1 == "module" { print $2; exit }' "$src/go.mod")
    [ -n "$module" ] || die "no module line in $src/go.mod"
    echo "keyward action: go install $module/cmd/keyward@$version" >&2
    GOFLAGS='' GOWORK=off GOBIN="$dir" CGO_ENABLED=0 go install -trimpath "$module/cmd/keyward@$version"
  else
    local label ldflags=()
    label=$(version_label)
    [ -z "$label" ] || ldflags=(-ldflags "-X main.version=$label")
    echo "keyward action: building keyward from $src with $(go env GOVERSION)" >&2
    (cd "$src" && GOFLAGS='' GOWORK=off CGO_ENABLED=0 go build -trimpath ${ldflags[@]+"${ldflags[@]}"} -o "$dir/keyward$(exe_suffix)" ./cmd/keyward)
  fi
  [ -x "$dir/keyward$(exe_suffix)" ] || die "the build left no keyward in $dir"
}

# split_words VALUE sets split to VALUE's words (separated by spaces, tabs
# or newlines), with no glob expansion.
split_words() {
  split=()
  local line words
  while IFS= read -r line || [ -n "$line" ]; do
    read -ra words <<<"$line"
    split+=(${words[@]+"${words[@]}"})
  done <<<"$1"
}

# count_results FILE prints the number of results in a SARIF file keyward
# wrote (one "ruleId" key per result, each on its own line), or nothing.
count_results() {
  [ -f "$1" ] || return 0
  grep -c '^[[:space:]]*"ruleId":' "$1" || true
}

# relative_dir DIR prints DIR as a clean path relative to the current
# directory ("." for it), or fails when it is not inside it.
relative_dir() {
  local d=$1
  case "$d" in
    "$PWD") d=. ;;
    "$PWD"/*) d=${d#"$PWD"/} ;;
    /*) return 1 ;;
  esac
  while [[ "$d" == ./* ]]; do d=${d#./}; done
  while [[ "$d" == */ && "$d" != / ]]; do d=${d%/}; done
  [ -n "$d" ] || d=.
  case "/$d/" in */../*) return 1 ;; esac
  echo "$d"
}

# rebase_sarif FILE DIR: keyward audit DIR reports paths relative to DIR;
# GitHub code scanning reads them relative to the repository's root, where
# this runs. DIR is prefixed to each artifact location that is a relative
# path (keyward writes one "uri" key a line).
rebase_sarif() {
  local file=$1 dir=$2
  [ "$dir" != . ] || return 0
  [ -f "$file" ] || return 0
  if ! [[ "$dir" =~ ^[A-Za-z0-9._@+,~/-]+$ ]]; then
    warn "the audit's SARIF paths are relative to $dir (a name this script does not rewrite): run the audit from a directory whose name is plain, or audit ."
    return 0
  fi
  local tmp="$file.rebase"
  sed -E '/^[[:space:]]*"uri": "[A-Za-z][A-Za-z0-9+.-]*:/!s|^([[:space:]]*"uri": ")([^"/])|\1'"$dir"'/\2|' "$file" >"$tmp"
  cat "$tmp" >"$file"
  rm -f "$tmp"
}

scan_and_audit() {
  local bin=${KEYWARD_BIN:-}
  if [ -z "$bin" ]; then
    local dir=${KEYWARD_BUILD_DIR:-}
    if [ -z "$dir" ]; then
      tmp_build=$(mktemp -d)
      trap 'rm -rf "$tmp_build"' EXIT
      dir=$tmp_build
    fi
    build "$dir"
    bin="$dir/keyward$(exe_suffix)"
  fi
  [ -x "$bin" ] || die "KEYWARD_BIN $bin is not an executable"

  local paths=()
  split_words "${KEYWARD_PATHS:-}"
  paths=(${split[@]+"${split[@]}"})
  [ ${#paths[@]} -gt 0 ] || paths=(.)

  local git_history
  git_history=$(bool git-history "${KEYWARD_GIT_HISTORY:-false}")
  local sarif=${KEYWARD_SARIF:-keyward.sarif}
  local audit_dir=""
  case "$(printf '%s' "${KEYWARD_AUDIT:-}" | tr '[:upper:]' '[:lower:]')" in
    "" | false) ;;
    true) audit_dir=. ;;
    *)
      split_words "$KEYWARD_AUDIT"
      [ ${#split[@]} -eq 1 ] || die "audit takes one directory (keyward audit finds every Next.js app under it, monorepos included), not \"$KEYWARD_AUDIT\""
      audit_dir=${split[0]}
      ;;
  esac
  local audit_sarif=${KEYWARD_AUDIT_SARIF:-keyward-audit.sarif}

  # scan
  local args=(scan --no-progress --format sarif --report "$sarif")
  [ -z "${KEYWARD_BASELINE:-}" ] || args+=(--baseline "$KEYWARD_BASELINE")
  [ -z "${KEYWARD_FAIL_ON:-}" ] || args+=(--fail-on "$KEYWARD_FAIL_ON")
  local what="${paths[*]}"
  if [ "$git_history" = true ]; then
    [ ${#paths[@]} -eq 1 ] || die "git-history scans the whole history of one repository: give one directory in it as paths, not \"${paths[*]}\""
    args+=(--git)
    what="the git history of ${paths[0]}"
    if [ "$(git -C "${paths[0]}" rev-parse --is-shallow-repository 2>/dev/null)" = true ]; then
      warn "${paths[0]} is a shallow clone: only the commits fetched are scanned (actions/checkout: fetch-depth: 0)"
    fi
  fi
  args+=(-- "${paths[@]}")
  mkdir -p "$(dirname "$sarif")"
  rm -f "$sarif"
  local scan_rc=0
  "$bin" "${args[@]}" || scan_rc=$?
  local found
  found=$(count_results "$sarif")

  # audit
  local audit_rc="" audit_found="" audit_written=""
  if [ -n "$audit_dir" ]; then
    args=(audit --format sarif --report "$audit_sarif")
    [ -z "${KEYWARD_AUDIT_BASELINE:-}" ] || args+=(--baseline "$KEYWARD_AUDIT_BASELINE")
    [ -z "${KEYWARD_FAIL_ON:-}" ] || args+=(--fail-on "$KEYWARD_FAIL_ON")
    args+=(-- "$audit_dir")
    mkdir -p "$(dirname "$audit_sarif")"
    rm -f "$audit_sarif"
    audit_rc=0
    "$bin" "${args[@]}" || audit_rc=$?
    local rel
    if rel=$(relative_dir "$audit_dir"); then
      rebase_sarif "$audit_sarif" "$rel"
    else
      warn "$audit_dir is not inside $PWD: the audit's SARIF paths are relative to it, and code scanning will not find them"
    fi
    audit_found=$(count_results "$audit_sarif")
    [ ! -f "$audit_sarif" ] || audit_written=$audit_sarif
  fi

  local rc=$scan_rc
  if [ -n "$audit_rc" ]; then
    if [ "$scan_rc" -ge 2 ]; then
      rc=$scan_rc
    elif [ "$audit_rc" -ge 2 ] || [ "$audit_rc" -gt "$scan_rc" ]; then
      rc=$audit_rc
    fi
  fi

  local written=""
  [ ! -f "$sarif" ] || written=$sarif
  output sarif-file "$written"
  output findings "$found"
  output scan-exit-code "$scan_rc"
  output audit-sarif-file "$audit_written"
  output audit-findings "$audit_found"
  output audit-exit-code "$audit_rc"
  output exit-code "$rc"

  local summary="keyward: scan of $what: ${found:-?} finding(s), exit $scan_rc, SARIF ${written:-not written}"
  if [ -n "$audit_dir" ]; then
    summary+="; audit of $audit_dir: ${audit_found:-?} problem(s), exit $audit_rc, SARIF ${audit_written:-not written}"
  fi
  echo "$summary; exit status $rc"
  exit "$rc"
}

case "${1:-run}" in
  prepare)
    dir=$(default_build_dir)
    key=$(cache_key)
    output bin "$dir/keyward$(exe_suffix)"
    output dir "$dir"
    output cache-key "$key"
    echo "keyward action: keyward goes to $dir/keyward$(exe_suffix), cache key ${key:-none (not cached)}"
    ;;
  build)
    dir=$(default_build_dir)
    build "$dir"
    "$dir/keyward$(exe_suffix)" --version
    ;;
  run) scan_and_audit ;;
  *) die "unknown command \"$1\": want run (the default), build or prepare" ;;
esac
