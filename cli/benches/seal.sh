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

# time_ms CMD...: wall time of one run in milliseconds (3 decimals).
time_ms() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000000 }'
}

report() {
    local name=$1 target=$2
    shift 2
    local samples=()
    for _ in $(seq "$runs"); do samples+=("$(time_ms "$@")"); done
    sorted=$(printf '%s\n' "${samples[@]}" | sort -n)
    best=$(echo "$sorted" | head -1)
    median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
    printf '%-48s best %9s ms   median %9s ms   target < %s ms\n' "$name" "$best" "$median" "$target"
}

echo "sealant seal bench ($(nproc) cores, $runs runs each)"
report "1,000 Secrets x 5 keys (5,000 values), stream" 1000 \
    "$bin" seal --public-key "$work/sealant.pub" -f "$work/stream.yaml" -w "$work/out.yaml"
count=$(grep -c '^kind: SealedSecret' "$work/out.yaml")
[ "$count" -eq 1000 ] || { echo "expected 1000 SealedSecrets, got $count" >&2; exit 1; }
report "1 Secret, local public key, process start incl." 10 \
    "$bin" seal --public-key "$work/sealant.pub" -f "$work/one.yaml"
