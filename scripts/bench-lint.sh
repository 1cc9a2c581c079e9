#!/usr/bin/env bash
# Measures `sealant lint` on a generated repository of 50,000 manifests (about 100+ MB):
# wall time, throughput in MB/s and peak memory (GNU time), and, when they are installed,
# the same figures for gitleaks and detect-secrets on the same corpus.
#
# usage: scripts/bench-lint.sh [FILES] [CORPUS_DIR]
# Targets (issue 4): under 2 s wall on 2 cores, peak RSS under 200 MiB.
set -euo pipefail

files="${1:-50000}"
corpus="${2:-${TMPDIR:-/tmp}/sealant-lint-corpus-$files}"
here="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$here/target}"

if [ ! -d "$corpus" ]; then
  python3 "$here/scripts/gen-lint-corpus.py" "$corpus" "$files"
fi
bytes=$(du -sb --apparent-size "$corpus" | cut -f1)
count=$(find "$corpus" -type f | wc -l)
echo "corpus: $count files, $((bytes / 1000000)) MB in $corpus"

(cd "$here" && cargo build --release -q -p sealant)
bin="$target/release/sealant"

measure() { # name, command...
  local name="$1"; shift
  local log; log="$(mktemp)"
  # Warm the page cache once so every tool reads from memory.
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || true
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  local secs
  secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  local mbs
  mbs=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else print "inf" }')
  printf '%-16s wall %8ss  %8s MB/s  peak RSS %6d MiB\n' "$name" "$secs" "$mbs" "$((rss / 1024))"
  rm -f "$log"
  echo "$secs" > "/tmp/bench-lint-$name.secs"
}

find "$corpus" -type f -exec cat {} + >/dev/null
findings=$("$bin" lint --format json "$corpus" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["findings"])' || true)
echo "sealant findings: $findings"
measure sealant "$bin" lint --quiet --format json --output /dev/null "$corpus"

if command -v gitleaks >/dev/null 2>&1; then
  measure gitleaks gitleaks dir --no-banner --exit-code 0 --report-path /dev/null "$corpus"
fi
if command -v detect-secrets >/dev/null 2>&1; then
  measure detect-secrets detect-secrets scan --all-files "$corpus"
fi
for tool in gitleaks detect-secrets; do
  if [ -f "/tmp/bench-lint-$tool.secs" ]; then
    awk -v a="$(cat /tmp/bench-lint-$tool.secs)" -v b="$(cat /tmp/bench-lint-sealant.secs)" \
      -v t="$tool" 'BEGIN { if (b > 0) printf "%s / sealant wall-time ratio: %.1fx\n", t, a / b }'
  fi
done
