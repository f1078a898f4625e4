#!/usr/bin/env bash
# The npm packages as a Next.js developer gets them (issue #18), run by
# .ci/run: pack every platform (scripts/npm-pack.sh), check each tarball,
# install the launcher and this platform's binary into a fresh Next.js
# project from tarballs, then npx keyward --version, npx keyward audit, and
# a postbuild `keyward scan .next` that passes the clean build and fails a
# copy with a NEXT_PUBLIC_ key.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NEXT_TELEMETRY_DISABLED=1 npm_config_audit=false npm_config_fund=false npm_config_loglevel=error

echo "== launcher unit tests"
(cd "$root/npm/keyward" && node --test test/)

echo "== pack"
bash "$root/scripts/npm-pack.sh" "$work/pkgs"
version=$(node -p 'require(process.argv[1]).version' "$root/npm/keyward/package.json")
host=$(node -p 'process.platform + "-" + process.arch')
for t in keyward-$version keyward-cli-linux-x64-$version keyward-cli-linux-arm64-$version \
  keyward-cli-darwin-x64-$version keyward-cli-darwin-arm64-$version keyward-cli-win32-x64-$version; do
  [ -f "$work/pkgs/$t.tgz" ] || { echo "FAIL: $t.tgz was not packed"; exit 1; }
done
for os_cpu in linux-x64 linux-arm64 darwin-x64 darwin-arm64 win32-x64; do
  exe=keyward
  [ "$os_cpu" = win32-x64 ] && exe=keyward.exe
  list=$(tar -tzf "$work/pkgs/keyward-cli-$os_cpu-$version.tgz")
  [ "$(echo "$list" | sort | tr '\n' ' ')" = "package/README.md package/bin/$exe package/package.json " ] ||
    { echo "FAIL: keyward-cli-$os_cpu holds: $list"; exit 1; }
  tar -xzOf "$work/pkgs/keyward-cli-$os_cpu-$version.tgz" package/package.json | OS_CPU=$os_cpu node -e '
    const p = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const [os, cpu] = process.env.OS_CPU.split("-");
    if (p.name !== "@keyward/cli-" + process.env.OS_CPU || p.os[0] !== os || p.cpu[0] !== cpu || p.scripts)
      throw new Error("bad platform package.json: " + JSON.stringify(p));'
done
tar -xzOf "$work/pkgs/keyward-$version.tgz" package/package.json | node -e '
  const p = JSON.parse(require("fs").readFileSync(0, "utf8"));
  if (p.scripts || p.bin.keyward !== "bin/keyward.js" || Object.keys(p.optionalDependencies).length !== 5)
    throw new Error("bad launcher package.json: " + JSON.stringify(p));'

echo "== install into a fresh Next.js project ($host)"
app="$work/app"
cp -R "$root/internal/scan/testdata/nextapp" "$app"
cd "$app"
npm ci
cp "$work/pkgs/keyward-$version.tgz" "$work/pkgs/keyward-cli-$host-$version.tgz" .
npm install ./keyward-*.tgz ./keyward-cli-$host-*.tgz
got=$(npx keyward --version)
[ "$got" = "keyward $version" ] || { echo "FAIL: npx keyward --version printed '$got', want 'keyward $version'"; exit 1; }
npx keyward version --json | KEYWARD_VERSION="$version" node -e '
  const v = JSON.parse(require("fs").readFileSync(0, "utf8"));
  if (v.version !== process.env.KEYWARD_VERSION || !/^[0-9a-f]{40}$|^unknown$/.test(v.commit) || !v.date)
    throw new Error("version --json: " + JSON.stringify(v));'
npx keyward audit
npm pkg set scripts.postbuild="keyward scan .next"

echo "== postbuild scan: the clean build passes"
npm run build >"$work/clean.log" 2>&1 || { cat "$work/clean.log"; echo "FAIL: the clean build failed"; exit 1; }
grep -q "No secrets found" "$work/clean.log" || { cat "$work/clean.log"; echo "FAIL: postbuild did not scan"; exit 1; }

echo "== postbuild scan: a NEXT_PUBLIC_ key fails the build"
cp -R "$app" "$work/keyed"
cd "$work/keyed"
cp -R "$root/internal/scan/testdata/nextapp-keyed/." .
rand() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1" || true; }
printf 'NEXT_PUBLIC_GROQ_API_KEY=gsk_%s\n' "$(rand 52)" >.env.local
rm -rf .next
if npm run build >"$work/keyed.log" 2>&1; then
  cat "$work/keyed.log"
  echo "FAIL: the build with a NEXT_PUBLIC_ key passed"
  exit 1
fi
grep -q "groq" "$work/keyed.log" || { cat "$work/keyed.log"; echo "FAIL: the finding is not in the build output"; exit 1; }
if grep -qF "$(sed -n 's/^NEXT_PUBLIC_GROQ_API_KEY=//p' .env.local)" "$work/keyed.log"; then
  echo "FAIL: the build output shows the key unredacted"
  exit 1
fi
echo "npm packages OK: $version for 5 platforms; npx keyward works in a Next.js project; postbuild scan fails a leaking build"
