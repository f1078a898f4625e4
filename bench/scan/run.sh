#!/usr/bin/env bash
# Benchmark keyward scan against gitleaks v8.28.0 on a generated corpus of
# JavaScript/TypeScript (minified bundles, sources, JSON, .env) with planted
# fake keys. Runs the two one after the other on a warm page cache and
# prints throughput, peak RSS, recall and precision (docs/BENCHMARKS.md).
#
#   bash bench/scan/run.sh            # 256 MiB corpus in a temp directory
#   MIB=512 WORK=/tmp/kwbench bash bench/scan/run.sh   # WORK keeps the corpus for reruns
set -euo pipefail
cd "$(dirname "$0")/../.."

MIB=${MIB:-256}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
echo "work directory: $WORK"

# KEYWARD=path uses a binary built elsewhere.
if [ -n "${KEYWARD:-}" ]; then cp "$KEYWARD" "$WORK/keyward"; else go build -o "$WORK/keyward" ./cmd/keyward; fi
GITLEAKS=$(command -v gitleaks || echo "$(go env GOPATH)/bin/gitleaks")
if ! go version -m "$GITLEAKS" 2>/dev/null | grep -q 'gitleaks/v8[[:space:]]*v8.28.0'; then
  go install github.com/zricethezav/gitleaks/v8@v8.28.0
  GITLEAKS="$(go env GOPATH)/bin/gitleaks"
fi

if [ ! -d "$WORK/corpus" ]; then
  go run ./bench/scan gen -out "$WORK/corpus" -mib "$MIB" -truth "$WORK/truth.json"
fi
# Warm the page cache so both tools read from memory.
find "$WORK/corpus" -type f -exec cat {} + > /dev/null

echo "== keyward $(git rev-parse --short HEAD 2>/dev/null || true), $(nproc) cores"
/usr/bin/time -v "$WORK/keyward" scan --no-progress --format json --report "$WORK/keyward.json" "$WORK/corpus" \
  > /dev/null 2> "$WORK/keyward.time" || [ $? -eq 1 ]
echo "== gitleaks v8.28.0 ($GITLEAKS)"
/usr/bin/time -v "$GITLEAKS" dir --no-banner --log-level error --exit-code 0 \
  --report-format json --report-path "$WORK/gitleaks.json" "$WORK/corpus" 2> "$WORK/gitleaks.time"

go run ./bench/scan score -truth "$WORK/truth.json" -corpus "$WORK/corpus" \
  -keyward "$WORK/keyward.json" -keyward-time "$WORK/keyward.time" \
  -gitleaks "$WORK/gitleaks.json" -gitleaks-time "$WORK/gitleaks.time"
