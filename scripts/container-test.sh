#!/usr/bin/env bash
# bash scripts/container-test.sh
#
# Tests the container image's recipe where there is no Docker daemon (CI):
#
#  1. reads the Dockerfile (and docker-compose.yaml, .dockerignore): two
#     stages, pinned non-latest bases, a non-root user, exec-form
#     HEALTHCHECK, ENTRYPOINT and CMD, the build command's flags;
#  2. runs the build stage's own commands, taken from the Dockerfile, on a
#     copy of exactly the build context .dockerignore lets through, and
#     checks that the binary is static and carries the stamped version,
#     commit and date;
#  3. runs that binary the way the image does: as uid 65532, from a
#     read-only directory, with examples/container/keyward.yaml (its
#     /run/secrets and /var/lib/keyward paths moved into a temporary
#     directory), a data directory only that user can write and — when the
#     script runs as root and may make a mount namespace — a read-only root
#     file system around it, like `docker run --read-only`. It waits for
#     `keyward health`, sends chat requests through the mock, creates a
#     virtual key, and stops keyward with SIGTERM, expecting a clean exit.
#
# What it cannot check — pulling the base images, Docker's build, volume and
# health-check machinery — is listed in docs/container.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dockerfile=$root/Dockerfile
compose=$root/docker-compose.yaml
dockerignore=$root/.dockerignore
example=$root/examples/container/keyward.yaml
nonroot_uid=65532

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
note() { printf '      %s\n' "$*"; }
# check WHAT CMD…: ok when CMD succeeds.
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
not() { ! "$@"; }
quiet() { "$@" >/dev/null 2>&1; }
silent() { "$@" >/dev/null; }
summary() { printf 'container-test: %d passed, %d failed\n' "$passed" "$failed"; }
# die: a failure the later steps depend on.
die() { bad "$*"; summary; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
echo "== 1. Dockerfile, .dockerignore and docker-compose.yaml"

[ -f "$dockerfile" ] || die "no Dockerfile at $dockerfile"

# instructions FILE: one line per instruction — comment lines dropped,
# continuation lines joined, white space squeezed.
instructions() {
  awk '
    /^[[:space:]]*#/ { next }
    {
      line = line $0
      if (line ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, " ", line); next }
      gsub(/[[:space:]]+/, " ", line); sub(/^ /, "", line); sub(/ $/, "", line)
      if (line != "") print line
      line = ""
    }' "$1"
}
mapfile -t ins < <(instructions "$dockerfile")

# Stages: the instructions of each FROM, by stage index.
froms=() stage_of=() stage=-1
for i in "${!ins[@]}"; do
  kw=$(printf '%s' "${ins[$i]%% *}" | tr '[:lower:]' '[:upper:]')
  if [ "$kw" = FROM ]; then stage=$((stage + 1)); froms+=("${ins[$i]}"); fi
  stage_of[i]=$stage
done
# in_stage N KEYWORD: the instructions of stage N with that keyword, one a line.
in_stage() {
  local i kw
  for i in "${!ins[@]}"; do
    [ "${stage_of[$i]}" = "$1" ] || continue
    kw=$(printf '%s' "${ins[$i]%% *}" | tr '[:lower:]' '[:upper:]')
    [ "$kw" = "$2" ] && printf '%s\n' "${ins[$i]}"
  done
  return 0
}
# index_of N REGEX: the first instruction of stage N matching REGEX (-1: none).
index_of() {
  local i
  for i in "${!ins[@]}"; do
    if [ "${stage_of[$i]}" = "$1" ] && [[ ${ins[$i]} =~ $2 ]]; then echo "$i"; return; fi
  done
  echo -1
}
# from_image "FROM [--platform=…] IMAGE [AS NAME]": IMAGE.
from_image() { printf '%s\n' "$1" | awk '{ for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; exit } }'; }
from_name() { printf '%s\n' "$1" | awk '{ for (i = 2; i < NF; i++) if (toupper($i) == "AS") print $(i + 1) }'; }

check "two stages (builder and final image)" [ "${#froms[@]}" -eq 2 ]
[ "${#froms[@]}" -ge 2 ] || die "cannot check the stages of a Dockerfile with ${#froms[@]} FROM"
last=$((${#froms[@]} - 1))
build_image=$(from_image "${froms[0]}")
build_name=$(from_name "${froms[0]}")
final_image=$(from_image "${froms[$last]}")
check "stage 1 is golang:1.26 (got $build_image)" \
  bash -c '[[ $1 =~ ^(docker\.io/(library/)?)?golang:1\.26(\.[0-9]+)?(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$ ]]' _ "$build_image"
check "stage 1 is named (AS $build_name)" [ -n "$build_name" ]
check "final stage is distroless static nonroot (got $final_image)" \
  bash -c '[[ $1 =~ ^gcr\.io/distroless/static-debian[0-9]+:nonroot(@sha256:[0-9a-f]{64})?$ ]]' _ "$final_image"
pinned=yes
for f in "${froms[@]}"; do
  img=$(from_image "$f")
  case $img in *:latest | *:latest@*) pinned=no; note "latest tag: $f" ;; esac
  # An image without a tag or digest is :latest too, unless it is a stage.
  if [[ $img != *:* && $img != *@* ]] && ! printf '%s\n' "${froms[@]}" | awk -v n="$img" '{ for (i = 1; i < NF; i++) if (toupper($i) == "AS" && $(i + 1) == n) f = 1 } END { exit !f }'; then
    pinned=no; note "no tag: $f"
  fi
done
check "no base image is latest or untagged" [ "$pinned" = yes ]
# The legacy builder (docker build without the buildx plugin) leaves
# BUILDPLATFORM and TARGETPLATFORM empty and refuses the FROM.
check "no FROM --platform=\$BUILDPLATFORM (the legacy builder stops on it)" \
  bash -c '! grep -Eq -- "--platform=\\\$\{?(BUILD|TARGET)PLATFORM" <<<"$1"' _ "$(printf '%s\n' "${froms[@]}")"

final_user=$(in_stage "$last" USER | tail -n 1 | awk '{ print $2 }')
check "final stage runs as a non-root numeric user (USER ${final_user:-none})" \
  bash -c '[[ $1 =~ ^[0-9]+(:[0-9]+)?$ && ${1%%:*} != 0 ]]' _ "$final_user"
check "final stage's USER is the base's nonroot uid $nonroot_uid" [ "${final_user%%:*}" = "$nonroot_uid" ]

entrypoint=$(in_stage "$last" ENTRYPOINT | tail -n 1)
cmd=$(in_stage "$last" CMD | tail -n 1)
healthcheck=$(in_stage "$last" HEALTHCHECK | tail -n 1)
nospace() { printf '%s' "$1" | tr -d ' '; }
check "ENTRYPOINT [\"/keyward\"] (exec form)" [ "$(nospace "$entrypoint")" = 'ENTRYPOINT["/keyward"]' ]
check "CMD [\"serve\", \"--config\", \"/etc/keyward/keyward.yaml\"] (exec form)" \
  [ "$(nospace "$cmd")" = 'CMD["serve","--config","/etc/keyward/keyward.yaml"]' ]
check "HEALTHCHECK runs /keyward health in exec form (the image has no shell)" \
  bash -c '[[ $1 =~ ^HEALTHCHECK\ (--[a-z-]+=[^\ ]+\ )*CMD\ \[ && $(tr -d " " <<<"$1") =~ CMD\[\"/keyward\",\"health\"(,\"[^\"]*\")*\]$ ]]' _ "$healthcheck"
check "EXPOSE 8080" bash -c 'grep -qx "EXPOSE 8080\(/tcp\)\?" <<<"$1"' _ "$(in_stage "$last" EXPOSE)"
check "VOLUME /var/lib/keyward" bash -c 'grep -q "/var/lib/keyward" <<<"$1"' _ "$(in_stage "$last" VOLUME)"
check "the data directory is owned by $nonroot_uid (a new named volume takes its owner)" \
  bash -c 'grep -Eq -- "--chown=$2(:$2)? [^ ]+ /var/lib/keyward/?$" <<<"$1"' _ "$(in_stage "$last" COPY)" "$nonroot_uid"
check "the binary is /keyward, copied from the builder" \
  bash -c 'grep -Eq -- "--from=$2 [^ ]+ /keyward$" <<<"$1"' _ "$(in_stage "$last" COPY)" "$build_name"

# The module download is its own cached layer: go.mod and go.sum copied,
# go mod download, and only then the source.
i_mods=$(index_of 0 '^COPY (--[^ ]+ )*go\.mod go\.sum ')
i_download=$(index_of 0 '^RUN .*go mod download')
i_source=$(index_of 0 '^COPY (--[^ ]+ )*\. ')
i_build=$(index_of 0 '^RUN .*go build')
check "go mod download runs after COPY go.mod go.sum and before the source is copied" \
  bash -c '[ "$1" -ge 0 ] && [ "$1" -lt "$2" ] && [ "$2" -lt "$3" ] && [ "$3" -lt "$4" ]' _ "$i_mods" "$i_download" "$i_source" "$i_build"
[ "$i_build" -ge 0 ] || die "no RUN … go build in the build stage"
build_run=${ins[$i_build]}
has() { [[ $build_run == *"$1"* ]]; }
for flag in 'CGO_ENABLED=0 ' 'go build ' '-trimpath' '-ldflags "' ' ./cmd/keyward'; do
  check "build command has ${flag% }" has "$flag"
done
ldflags=$(printf '%s\n' "$build_run" | sed -n 's/.*-ldflags "\([^"]*\)".*/\1/p')
for flag in -s -w; do
  check "ldflags has $flag" bash -c '[[ " $1 " == *" $2 "* ]]' _ "$ldflags" "$flag"
done
for v in version:VERSION commit:COMMIT date:DATE; do
  check "ldflags stamps main.${v%%:*} from the build arg ${v#*:}" \
    bash -c '[[ " $1 " == *" -X main.$2=\$$3 "* || " $1 " == *" -X main.$2=\${$3} "* ]]' _ "$ldflags" "${v%%:*}" "${v#*:}"
  check "ARG ${v#*:} is declared in the build stage before the build" \
    bash -c '[ "$1" -ge 0 ] && [ "$1" -lt "$2" ]' _ "$(index_of 0 "^ARG ${v#*:}(=|$)")" "$i_build"
done
# ARGs end with their stage: the labels need their own.
for l in version:VERSION revision:COMMIT created:DATE; do
  label=org.opencontainers.image.${l%%:*}
  check "LABEL $label from \$${l#*:}, declared in the final stage" \
    bash -c '[[ $1 =~ $2=\"?\$(\{$3\}|$3)\"? ]] && [ "$4" -ge 0 ]' _ \
    "$(in_stage "$last" LABEL)" "${label//./\\.}" "${l#*:}" "$(index_of "$last" "^ARG ${l#*:}(=|$)")"
done
check "LABEL org.opencontainers.image.source" bash -c 'grep -q "org.opencontainers.image.source=" <<<"$1"' _ "$(in_stage "$last" LABEL)"

# .dockerignore, as Docker's pattern matcher reads it: the last rule that
# matches a path or one of its parent directories decides; ! includes.
[ -f "$dockerignore" ] || die "no .dockerignore"
ign_re=() ign_neg=()
while IFS= read -r line || [ -n "$line" ]; do
  line=$(printf '%s' "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
  case $line in '' | '#'*) continue ;; esac
  neg=0
  if [ "${line#!}" != "$line" ]; then neg=1; line=${line#!}; fi
  line=${line#/}; line=${line#./}; line=${line%/}
  re=''
  while [ -n "$line" ]; do
    case $line in
      '**/'*) re+='(.*/)?'; line=${line:3} ;;
      '**'*) re+='.*'; line=${line:2} ;;
      '*'*) re+='[^/]*'; line=${line:1} ;;
      '?'*) re+='[^/]'; line=${line:1} ;;
      '['*) die ".dockerignore: character classes are not understood by this script: $line" ;;
      *) c=${line:0:1}; case $c in [.+^\$\(\)\{\}\|\\]) re+="\\$c" ;; *) re+=$c ;; esac; line=${line:1} ;;
    esac
  done
  ign_re+=("^$re\$") ign_neg+=("$neg")
done <"$dockerignore"
# ignored PATH: true when Docker leaves PATH out of the build context.
ignored() {
  local path=$1 excluded=0 i m part prefix
  local -a parts
  IFS=/ read -ra parts <<<"$path"
  for i in "${!ign_re[@]}"; do
    # An exclusion is only tried on an included path and vice versa.
    [ "${ign_neg[$i]}" = "$excluded" ] || continue
    m=0
    if [[ $path =~ ${ign_re[$i]} ]]; then m=1; else
      prefix=
      for part in "${parts[@]:0:${#parts[@]}-1}"; do
        prefix=${prefix:+$prefix/}$part
        if [[ $prefix =~ ${ign_re[$i]} ]]; then m=1; break; fi
      done
    fi
    if [ "$m" = 1 ]; then if [ "${ign_neg[$i]}" = 1 ]; then excluded=0; else excluded=1; fi; fi
  done
  [ "$excluded" = 1 ]
}
for p in go.mod go.sum cmd/keyward/main.go internal/store/sqlite/migrations/0001_init.sql; do
  check ".dockerignore lets $p in" not ignored "$p"
done
for p in .git/config .env .env.local keyward.db examples/quickstart.key examples/container/secrets/keyward_pepper \
  .keyward/pepper clients/ts/node_modules/x/index.js internal/scan/testdata/leak.txt cmd/keyward/serve_test.go; do
  check ".dockerignore keeps $p out" ignored "$p"
done

# docker-compose.yaml: no YAML parser is assumed, so its settings are read
# as lines (comments dropped).
if [ -f "$compose" ]; then
  compose_lines=$(sed 's/[[:space:]]#.*$//; /^[[:space:]]*#/d' "$compose")
  cgrep() { grep -Eq -- "$1" <<<"$compose_lines"; }
  check "compose: read_only: true" cgrep '^[[:space:]]+read_only:[[:space:]]*true[[:space:]]*$'
  check "compose: cap_drop ALL" cgrep '^[[:space:]]+cap_drop:[[:space:]]*\[[[:space:]]*"?ALL"?[[:space:]]*\]|^[[:space:]]+-[[:space:]]*"?ALL"?[[:space:]]*$'
  check "compose: no-new-privileges" cgrep 'no-new-privileges(:true)?'
  check "compose: port published on 127.0.0.1:8080 only" cgrep '"?127\.0\.0\.1:8080:8080"?'
  check "compose: the example config mounted read-only" cgrep '\./examples/container/keyward\.yaml:/etc/keyward/keyward\.yaml:ro'
  check "compose: a named volume on /var/lib/keyward" cgrep '^[[:space:]]+-[[:space:]]*"?[A-Za-z0-9_-]+:/var/lib/keyward"?[[:space:]]*$'
  check "compose: healthcheck runs /keyward health (exec form)" cgrep 'test:[[:space:]]*\[[[:space:]]*"CMD",[[:space:]]*"/keyward",[[:space:]]*"health"'
  check "compose: no Postgres or Redis service that pretends to work" bash -c '! grep -Eiq "^[[:space:]]+(postgres|redis)[a-z0-9_-]*:" <<<"$1"' _ "$compose_lines"
else
  bad "no docker-compose.yaml"
fi

# ---------------------------------------------------------------------------
echo "== 2. the build stage's commands, on this machine"

# The build context: every file .dockerignore lets through. Directories
# Docker would send but this script does not walk (.git, node_modules,
# .next) are checked to be ignored above.
ctx=$work/context
mkdir -p "$ctx"
(
  cd "$root"
  { find . \( -name .git -o -name node_modules -o -name .next \) -prune -o \( -type f -o -type l \) -print 2>"$work/find.err" || true; } |
    sed 's#^\./##' | while IFS= read -r f; do ignored "$f" || printf '%s\n' "$f"; done
) >"$work/context.list"
# What this user cannot read matters only if Docker would send it (a
# non-root run meets other people's 0700 directories).
unreadable=$(sed -n "s#^find: '\./\(.*\)': Permission denied\$#\1#p" "$work/find.err" |
  while IFS= read -r f; do ignored "$f" || printf '%s\n' "$f"; done)
check "every file of the build context is readable${unreadable:+ (not: $unreadable)}" [ -z "$unreadable" ]
tar -C "$root" -cf - -T "$work/context.list" | tar -C "$ctx" -xf -
check "build context: $(wc -l <"$work/context.list") files, only go.mod, go.sum, cmd/ and internal/" \
  bash -c '! grep -Ev "^(go\.mod|go\.sum|cmd/.*|internal/.*)$" "$1"' _ "$work/context.list"
check "build context holds no database, .env, key or PEM file" \
  bash -c '! grep -Eq "(\.db(-wal|-shm)?|/\.env[^/]*|^\.env[^/]*|\.key|\.pem|/\.keyward/.*)$" "$1"' _ "$work/context.list"

version=0.0.0-container-test
commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo 0000000000000000000000000000000000000000)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
out=$work/out
mkdir -p "$out"
# A RUN's shell form is /bin/sh -c with the build args in the environment.
download_cmd=${ins[$i_download]#RUN }
build_cmd=${ins[$i_build]#RUN }
[[ $build_cmd == *' -o /out/keyward '* ]] || die "the build command does not write -o /out/keyward"
build_cmd=${build_cmd/ -o \/out\/keyward / -o $out/keyward }
echo "   in a copy of the context: $download_cmd"
(cd "$ctx" && sh -c "$download_cmd") || die "go mod download failed"
echo "   VERSION=$version COMMIT=$commit DATE=$date"
echo "   $build_cmd"
(cd "$ctx" && VERSION=$version COMMIT=$commit DATE=$date sh -c "$build_cmd") ||
  die "the Dockerfile's go build failed"
bin=$out/keyward
ok "built $(du -h "$bin" | cut -f1) $bin"

buildinfo=$(go version -m "$bin")
check "go version -m: CGO_ENABLED=0" grep -Eq $'^\tbuild\tCGO_ENABLED=0$' <<<"$buildinfo"
check "go version -m: -trimpath=true" grep -Eq $'^\tbuild\t-trimpath=true$' <<<"$buildinfo"
# With -trimpath the build information leaves -ldflags out: -s shows as a
# binary without a symbol table, the -X stamps in keyward version below.
check "stripped (-s): go tool nm finds no symbols" not quiet go tool nm "$bin"

# Static: no program interpreter (PT_INTERP, 3) and no dynamic section
# (PT_DYNAMIC, 2) among the ELF program headers. Read with od, which every
# Debian has; readelf (binutils) and file, when present, must agree.
elf_static() {
  local f=$1 phoff phentsize phnum i t
  [ "$(od -An -tx1 -N4 "$f" | tr -d ' \n')" = 7f454c46 ] || return 1         # \x7fELF
  [ "$(od -An -tu1 -j4 -N2 "$f" | tr -s ' ' | sed 's/^ //;s/ $//')" = "2 1" ] || return 1 # ELF64, little-endian
  [ "$(printf '\1\0' | od -An -tu2 | tr -d ' ')" = 1 ] || return 1           # and so is this machine
  phoff=$(od -An -tu8 -j32 -N8 "$f" | tr -d ' ')
  phentsize=$(od -An -tu2 -j54 -N2 "$f" | tr -d ' ')
  phnum=$(od -An -tu2 -j56 -N2 "$f" | tr -d ' ')
  [ "$phnum" -gt 0 ] || return 1
  for ((i = 0; i < phnum; i++)); do
    t=$(od -An -tu4 -j $((phoff + i * phentsize)) -N4 "$f" | tr -d ' ')
    case $t in 2 | 3) return 1 ;; esac
  done
}
check "static: no PT_INTERP or PT_DYNAMIC program header (ELF read with od)" elf_static "$bin"
if command -v readelf >/dev/null; then
  check "static: readelf -l shows no interpreter" bash -c '! readelf -lW "$1" | grep -q "INTERP"' _ "$bin"
  check "static: readelf -d finds no dynamic section" bash -c 'readelf -d "$1" | grep -q "no dynamic section"' _ "$bin"
  check "stripped: readelf -S finds no .symtab and no DWARF (-s -w)" bash -c '! readelf -SW "$1" | grep -Eq "\.symtab|\.debug_"' _ "$bin"
else
  note "readelf not installed (binutils): the od check stands alone"
fi
if command -v file >/dev/null; then note "file: $(file -b "$bin")"; fi

vjson=$("$bin" version --json)
for kv in "version:$version" "commit:$commit" "date:$date"; do
  check "keyward version --json: ${kv%%:*} ${kv#*:}" grep -Fq "\"${kv%%:*}\": \"${kv#*:}\"" <<<"$vjson"
done

# ---------------------------------------------------------------------------
echo "== 3. keyward serve as the image runs it"

[ -f "$example" ] || die "no example config at $example"
# The layout of the container, under $work: /etc/keyward (read-only),
# /run/secrets, /var/lib/keyward (the volume).
etc=$work/etc/keyward secrets=$work/run/secrets data=$work/var/lib/keyward
mkdir -p "$etc" "$secrets" "$data"
sed -e "s#/run/secrets/#$secrets/#g" -e "s#/var/lib/keyward#$data#g" "$example" >"$etc/keyward.yaml"
check "the example's secrets are under /run/secrets and its store under /var/lib/keyward" \
  bash -c '[ "$(grep -c "file:/run/secrets/" "$1")" -ge 1 ] && grep -Eq "^[[:space:]]+path:[[:space:]]*/var/lib/keyward/" "$1"' _ "$example"
check "the example listens on 0.0.0.0:8080" grep -Eq '^listen:[[:space:]]*"?0\.0\.0\.0:8080"?[[:space:]]*(#.*)?$' "$example"
rand() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
rand 32 >"$secrets/keyward_client_key"
rand 32 >"$secrets/keyward_pepper"
mock_key=mock-$(rand 16)
chmod 0755 "$work" "$work/etc" "$etc" "$work/run" "$secrets" "$work/var" "$work/var/lib" "$out"
chmod 0644 "$etc/keyward.yaml"
conf=$etc/keyward.yaml

# as_user: the container's user. As root: uid/gid 65532, no supplementary
# groups, no new privileges; otherwise the caller itself (not root either),
# with the configuration directory made read-only.
as_user=()
if [ "$(id -u)" = 0 ]; then
  if command -v setpriv >/dev/null; then
    as_user=(setpriv --reuid="$nonroot_uid" --regid="$nonroot_uid" --clear-groups)
    if setpriv --help 2>&1 | grep -q -- --no-new-privs; then as_user+=(--no-new-privs); fi
    as_user+=(--)
  elif name=$(getent passwd "$nonroot_uid" | cut -d: -f1) && [ -n "$name" ]; then
    as_user=(runuser -u "$name" --)
  else
    die "as root, setpriv (util-linux) or a user with uid $nonroot_uid is needed to drop to uid $nonroot_uid"
  fi
  chown "$nonroot_uid:$nonroot_uid" "$secrets"/* "$data"
  chmod 0400 "$secrets"/*
  chmod 0700 "$data"
  run_uid=$nonroot_uid
else
  chmod 0444 "$secrets"/*
  chmod 0555 "$etc"
  run_uid=$(id -u)
fi

# A read-only root like `docker run --read-only`: a private mount namespace
# in which every writable mount but /proc, /sys, /dev and the data
# directory is remounted read-only. It needs root; without it the test runs
# on the normal file system and says so.
ns_script='
set -e
mount --bind "$KW_DATA" "$KW_DATA"
awk '\''$6 ~ /^rw/ { print $5 }'\'' /proc/self/mountinfo | while read -r m; do
  case $m in /proc | /proc/* | /sys | /sys/* | /dev | /dev/* | "$KW_DATA") continue ;; esac
  [ "$m" = / ] || mount -o remount,bind,ro "$m" 2>/dev/null || true
done
mount -o remount,bind,ro /
cd "$KW_CWD"
exec "$@"'
read_only_root=no
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
  KW_DATA=$data KW_CWD=$etc unshare --mount --propagation private -- sh -c "$ns_script" sh true 2>/dev/null; then
  read_only_root=yes
fi
# The image's environment, and nothing of this shell's.
container_env=(env -i PATH=/usr/bin:/bin HOME=/nonexistent KEYWARD_CONFIG="$conf" SQLITE_TMPDIR="$data" KEYWARD_MOCK_KEY="$mock_key")
# container_argv CMD…: sets argv to the command line that runs CMD as the
# image would (environment, user, read-only root); run it from $etc.
container_argv() {
  argv=("${container_env[@]}" "${as_user[@]}" "$@")
  if [ "$read_only_root" = yes ]; then
    argv=(env KW_DATA="$data" KW_CWD="$etc" unshare --mount --propagation private -- sh -c "$ns_script" sh "${argv[@]}")
  fi
}
in_container() { container_argv "$@"; (cd "$etc" && exec "${argv[@]}"); }

if [ "$read_only_root" = yes ]; then
  ok "read-only root: a private mount namespace, writable only in $data"
  check "read-only root: uid $run_uid cannot write /tmp" not quiet in_container sh -c 'touch /tmp/.keyward-container-test'
else
  note "read-only root NOT simulated (needs root and mount namespaces): the checks below run on the normal file system"
fi
check "uid $run_uid cannot write the configuration directory" not quiet in_container sh -c 'touch "$1/x"' sh "$etc"
check "uid $run_uid can write the data directory" in_container sh -c 'touch "$1/.probe" && rm "$1/.probe"' sh "$data"
check "keyward config check resolves the example's env: and file: secrets" \
  silent in_container "$bin" config check --config "$conf"

# serve on a free port: --listen overrides the configuration's 0.0.0.0:8080,
# on every interface as in the container (it needs client auth there).
# exec all the way down: $! is keyward's own pid.
container_argv "$bin" serve --config "$conf" --listen 0.0.0.0:0
(cd "$etc" && exec "${argv[@]}") >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
port=
for _ in $(seq 300); do
  port=$(sed -n 's#^keyward is listening on http://.*:\([0-9][0-9]*\)$#\1#p' "$work/serve.out")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  sed 's/^/      serve: /' "$work/serve.out" "$work/serve.err" || true
  die "keyward serve did not start"
fi
ok "keyward serve (pid $server_pid, uid $(awk '/^Uid:/ { print $2 }' "/proc/$server_pid/status")) listens on port $port"
check "serve runs as uid $run_uid" bash -c '[ "$(awk "/^Uid:/ { print \$2 }" "/proc/$1/status")" = "$2" ]' _ "$server_pid" "$run_uid"
base=http://127.0.0.1:$port
healthy=no
for _ in $(seq 50); do
  if quiet in_container "$bin" health --url "$base/healthz"; then healthy=yes; break; fi
  sleep 0.2
done
check "keyward health --url $base/healthz" [ "$healthy" = yes ]
check "keyward health with \$KEYWARD_HEALTH_URL" silent in_container env KEYWARD_HEALTH_URL="$base/healthz" "$bin" health

# post PATH BODY KEY: POST JSON to keyward; prints the status code and
# writes the response body to $work/response. curl when installed, else
# bash's /dev/tcp (HTTP/1.1, Connection: close), so the test needs neither.
post() {
  local auth=() code
  if command -v curl >/dev/null; then
    [ -n "$3" ] && auth=(-H "Authorization: Bearer $3")
    code=$(curl -sS -o "$work/response" -w '%{http_code}' --max-time 20 "${auth[@]}" \
      -H 'Content-Type: application/json' -d "$2" "$base$1") || code=000
    printf '%s\n' "$code"
    return
  fi
  local header='' response
  [ -n "$3" ] && header="Authorization: Bearer $3"$'\r\n'
  exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo 000; return; }
  printf 'POST %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s' \
    "$1" "$port" "${#2}" "$header" "$2" >&3
  response=$(timeout 20 cat <&3 | tr -d '\r') || true
  exec 3<&-
  printf '%s\n' "$response" | sed '1,/^$/d' >"$work/response"
  printf '%s\n' "$response" | awk 'NR == 1 { print $2 }'
}
# chat STATUS KEY: a chat completion through the mock answers STATUS.
chat() {
  local code
  code=$(post /v1/chat/completions '{"model":"fast","messages":[{"role":"user","content":"Hello from the container test"}]}' "$2")
  [ "$code" = "$1" ] || { note "got $code: $(head -c 300 "$work/response" 2>/dev/null)"; return 1; }
}
client_key=$(cat "$secrets/keyward_client_key")
command -v curl >/dev/null || note "curl not installed: requests go through bash's /dev/tcp"
check "chat completion with the client key (file secret): 200" chat 200 "$client_key"
check "the answer is a chat completion from the mock" grep -q '"chat.completion"' "$work/response"
check "no key: 401" chat 401 ""
# docker exec … /keyward keys create: a second process on the same store.
vkey=$(in_container "$bin" keys create --name container-test --plan app --json 2>"$work/keys.err" |
  sed -n 's/.*"key":"\([^"]*\)".*/\1/p') || true
check "keyward keys create (virtual key in the volume's store)" [ -n "$vkey" ]
if [ -n "$vkey" ]; then check "chat completion with the virtual key: 200" chat 200 "$vkey"; else sed 's/^/      /' "$work/keys.err"; fi
check "the store is in the data directory, owned by uid $run_uid" \
  bash -c '[ -f "$1/keyward.db" ] && [ "$(stat -c %u "$1/keyward.db")" = "$2" ]' _ "$data" "$run_uid"

kill -TERM "$server_pid"
rc=0
# It drains for at most timeouts.shutdown (30s) and writes queued usage.
for _ in $(seq 400); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  bad "keyward still running 40s after SIGTERM: killed"
  kill -KILL "$server_pid" 2>/dev/null || true
fi
wait "$server_pid" || rc=$?
server_pid=
check "SIGTERM: keyward drained and exited 0 (exit $rc)" [ "$rc" = 0 ]
check "its log says it shut down" grep -q 'shutting down' "$work/serve.err"
check "keyward health fails once it is gone (an unhealthy container)" not quiet in_container "$bin" health --url "$base/healthz" --timeout 2s
check "no secret value in keyward's output" bash -c '! grep -Fq -e "$1" -e "$2" -e "$3" "$4" "$5"' _ \
  "$client_key" "$(cat "$secrets/keyward_pepper")" "$mock_key" "$work/serve.out" "$work/serve.err"
if [ "$failed" -gt 0 ]; then
  sed 's/^/      serve: /' "$work/serve.out" "$work/serve.err" | tail -n 40 || true
fi

echo "== summary"
note "base images, docker build, volumes and the HEALTHCHECK itself are not exercised here (no Docker daemon): docs/container.md"
note "read-only root simulated: $read_only_root; user: uid $run_uid"
summary
[ "$failed" -eq 0 ]
