#!/usr/bin/env bash
# bash scripts/npm-pack.sh OUTDIR
#
# Cross-compiles keyward for every platform the npm packages ship
# (CGO_ENABLED=0, -trimpath, version, commit and date stamped) and writes
# the package tarballs into OUTDIR with npm pack:
#   keyward-<version>.tgz                   the launcher (bin: keyward)
#   keyward-cli-<os>-<cpu>-<version>.tgz    one binary each, for npm's os/cpu
# The version is npm/keyward/package.json's, or $KEYWARD_VERSION.
# $KEYWARD_PLATFORMS (for example "linux/amd64") builds fewer. Nothing is
# published; see docs/release.md.
set -euo pipefail
out=${1:?usage: bash scripts/npm-pack.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=${KEYWARD_VERSION:-$(node -p 'require(process.argv[1]).version' "$root/npm/keyward/package.json")}
commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
date=$(TZ=UTC git -C "$root" log -1 --date=iso-strict-local --format=%cd 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
platforms=${KEYWARD_PLATFORMS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npm_os() { case $1 in windows) echo win32 ;; *) echo "$1" ;; esac; }
npm_cpu() { case $1 in amd64) echo x64 ;; *) echo "$1" ;; esac; }

for p in $platforms; do
  goos=${p%/*} goarch=${p#*/}
  os=$(npm_os "$goos") cpu=$(npm_cpu "$goarch")
  name="cli-$os-$cpu"
  exe=keyward
  [ "$goos" = windows ] && exe=keyward.exe
  dir="$work/$name"
  mkdir -p "$dir/bin"
  echo "== $name: go build ($goos/$goarch)"
  (cd "$root" && CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOFLAGS=-buildvcs=false go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date" \
    -o "$dir/bin/$exe" ./cmd/keyward)
  node - "$dir/package.json" "$version" "$os" "$cpu" "$exe" <<'JS'
const [file, version, os, cpu, exe] = process.argv.slice(2);
require("fs").writeFileSync(file, JSON.stringify({
  name: `@keyward/cli-${os}-${cpu}`,
  version,
  description: `keyward's ${os}-${cpu} binary (installed by the keyward package)`,
  homepage: "https://github.com/keyward/keyward",
  repository: { type: "git", url: "git+https://github.com/keyward/keyward.git" },
  os: [os],
  cpu: [cpu],
  files: [`bin/${exe}`],
  preferUnplugged: true,
}, null, 2) + "\n");
JS
  printf "# @keyward/cli-%s-%s\n\nThe keyward binary for %s-%s. Install \`keyward\`, not this package: it picks the one for your platform.\n" \
    "$os" "$cpu" "$os" "$cpu" >"$dir/README.md"
  (cd "$dir" && npm pack --silent --pack-destination "$out" >/dev/null)
done

echo "== keyward (launcher)"
cp -R "$root/npm/keyward" "$work/keyward"
rm -rf "$work/keyward/test" "$work/keyward/node_modules"
node - "$work/keyward/package.json" "$version" <<'JS'
const [file, version] = process.argv.slice(2);
const fs = require("fs");
const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
pkg.version = version;
for (const dep of Object.keys(pkg.optionalDependencies)) pkg.optionalDependencies[dep] = version;
delete pkg.scripts;
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
JS
(cd "$work/keyward" && npm pack --silent --pack-destination "$out" >/dev/null)
echo "== packed $version ($commit) into $out:"
ls -1 "$out"
