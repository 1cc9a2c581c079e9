#!/usr/bin/env bash
# HTTP bench under attack (figures, not a pass/fail test): the release controller with its default
# limits, 20 clients keeping 1 MiB hostile YAML bodies in flight to /v1/verify and /v1/rotate, and
# the latency of /v1/public-key for another client (target: under 100 ms), plus how the hostile
# bodies were answered (target: a 4xx each, in under 100 ms once read).
#
# Usage: controller/benches/hostile_http.sh [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/../.."
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p sealant-controller --bin sealant-controller --example hostile_http
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$target_dir/release/examples/hostile_http" "$target_dir/release/sealant-controller" --samples "${1:-200}"
