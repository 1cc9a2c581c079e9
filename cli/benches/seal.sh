#!/usr/bin/env bash
# Bench of the `sealant` binary (release build), printing figures:
#   - sealing a stream of 1,000 Secrets with 5 keys each (5,000 values): target < 1 s wall
#   - sealing one Secret with a local public key, process start included: target < 10 ms
# Usage: cli/benches/seal.sh [RUNS]   (default 5 runs each; the best and median are shown)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
cargo build --quiet --release -p sealant
bin=$PWD/target/release/sealant
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" keygen --out-dir "$work" >/dev/null

python3 - "$work/stream.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1000):
        f.write(f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{i}\n  namespace: team-{i % 20}\ntype: Opaque\nstringData:\n")
        for k in range(5):
            f.write(f"  key-{k}: value-{i}-{k}-{'x' * 24}\n")
PY
cat > "$work/one.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: db-creds, namespace: production}
stringData: {username: admin, password: s3cr3t-value}
YAML

# run_once CMD...: prints "WALL_MS CPU_MS" for one run (CPU = user + system, all threads), so a
# figure taken on a busy machine can be told apart from a slow program.
run_once() {
    local TIMEFORMAT='%R %U %S' t
    t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
    awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.1f %.1f", a[1] * 1000, (a[2] + a[3]) * 1000 }'
}

report() {
    local name=$1 target=$2
    shift 2
    local walls=() cpus=() sample
    for _ in $(seq "$runs"); do
        sample=$(run_once "$@")
        walls+=("${sample% *}")
        cpus+=("${sample#* }")
    done
    best=$(printf '%s\n' "${walls[@]}" | sort -n | head -1)
    median=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | head -1)
    printf '%-48s wall best %8s ms  median %8s ms  cpu %8s ms  target < %s ms wall\n' \
        "$name" "$best" "$median" "$cpu" "$target"
}

echo "sealant seal bench ($(nproc) cores, $runs runs each)"
report "1,000 Secrets x 5 keys (5,000 values), stream" 1000 \
    "$bin" seal --public-key "$work/sealant.pub" -f "$work/stream.yaml" -w "$work/out.yaml"
count=$(grep -c '^kind: SealedSecret' "$work/out.yaml")
[ "$count" -eq 1000 ] || { echo "expected 1000 SealedSecrets, got $count" >&2; exit 1; }
report "1 Secret, local public key, process start incl." 10 \
    "$bin" seal --public-key "$work/sealant.pub" -f "$work/one.yaml"
