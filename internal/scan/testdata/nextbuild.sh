#!/usr/bin/env bash
# A real Next.js build for keyward scan (issue #6), run by .ci/run:
#
#   bash internal/scan/testdata/nextbuild.sh path/to/keyward
#
# 1. The stock app (nextapp/, installed once with npm ci from its lock file)
#    builds to a .next/ in which keyward finds nothing.
# 2. The same app plus a 'use client' page that reads NEXT_PUBLIC_GROQ_API_KEY
#    (nextapp-keyed/, with browser source maps on), built with a fake key made
#    up here, gives a "client" finding in .next/static/ — the leak the scanner
#    exists for — that names app/chat/page.jsx, through the source map.
set -euo pipefail
keyward=$(realpath "${1:?usage: nextbuild.sh KEYWARD_BINARY}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NEXT_TELEMETRY_DISABLED=1

cp -r "$here/nextapp/." "$work/"
cd "$work"
echo "node $(node --version), npm $(npm --version)"
npm ci --no-audit --no-fund --loglevel=error

build() {
  rm -rf .next
  if ! npx next build > build.log 2>&1; then
    cat build.log
    echo "FAIL: next build"
    exit 1
  fi
  head -1 build.log
}

build
if ! "$keyward" scan --no-progress .next; then
  echo "FAIL: keyward found secrets in a stock Next.js build"
  exit 1
fi

cp -r "$here/nextapp-keyed/." .
# A fake key with a Groq key's shape, made up for this run; never a real one.
key=$(node -e 'const a="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";let s="gsk_";for(let i=0;i<52;i++)s+=a[require("crypto").randomInt(a.length)];console.log(s)')
NEXT_PUBLIC_GROQ_API_KEY=$key build
status=0
"$keyward" scan --no-progress --format json --report report.json .next || status=$?
if [ "$status" -ne 1 ]; then
  echo "FAIL: keyward scan exited $status on a build with a NEXT_PUBLIC_ key, want 1"
  exit 1
fi
if grep -q "$key" report.json; then
  echo "FAIL: the report shows the key unredacted"
  exit 1
fi
node -e '
const r = require("./report.json");
const hit = r.findings.find(f => f.rule_id === "groq-api-key" && f.exposure === "client" && f.path.includes(".next/static/"));
if (!hit) { console.error("FAIL: no client finding in .next/static/:", JSON.stringify(r, null, 2)); process.exit(1); }
console.log("client finding:", hit.path, hit.line + ":" + hit.column, hit.secret, "from", hit.original);
if (!(hit.original || "").includes("app/chat/page.jsx")) { console.error("FAIL: the source map does not name app/chat/page.jsx"); process.exit(1); }
'
echo "ok: stock build clean; NEXT_PUBLIC_ key found in the client bundle, traced to its source file"
