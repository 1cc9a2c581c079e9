#!/usr/bin/env bash
# Scale bench for sealant-controller (figures, not a pass/fail test):
#   10,000 SealedSecrets x 5 values in the test API server; time from controller start until every
#   Secret is written (target < 30 s) and the controller's peak RSS (target < 100 MiB); then the
#   same with 50,000 unrelated Secrets in the cluster (target: peak RSS grows < 10%).
# The controller runs as its own release process; the test API server runs in the bench process.
#
# Usage: controller/benches/scale.sh [OBJECTS] [UNRELATED]
#        controller/benches/scale.sh --real [OBJECTS]
#   --real: the same load on a real control plane (etcd + kube-apiserver from the envtest assets,
#   KUBEBUILDER_ASSETS or SEALANT_K8S_ASSETS, else ../shared/k8s/bin with etcd on PATH), the
#   controller with its own ServiceAccount's token and deploy/'s RBAC; prints time to all Secrets,
#   peak RSS, controller CPU and its API requests by verb from the audit log, then the requests a
#   restart of the converged controller sends (tests/envtest/examples/scale_real.rs).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${1:-}" = "--real" ]; then
    if [ -z "${SEALANT_K8S_ASSETS:-}${KUBEBUILDER_ASSETS:-}" ] && [ -x ../shared/k8s/bin/kube-apiserver ]; then
        export KUBEBUILDER_ASSETS=$(cd ../shared/k8s/bin && pwd)
    fi
    target_dir="${CARGO_TARGET_DIR:-target}"
    cargo build --release -q -p sealant-controller --bin sealant-controller -p sealant-envtest --example scale_real
    exec "$target_dir/release/examples/scale_real" "$target_dir/release/sealant-controller" --objects "${2:-10000}"
fi
objects="${1:-10000}"
unrelated="${2:-50000}"
target_dir="${CARGO_TARGET_DIR:-target}"

cargo build --release -q -p sealant-controller --bin sealant-controller --example scale
controller="$target_dir/release/sealant-controller"
bench="$target_dir/release/examples/scale"

echo "== $objects SealedSecrets, no unrelated Secrets"
base=$("$bench" "$controller" --objects "$objects" --unrelated 0 | tee /dev/stderr | tail -1)
echo "== $objects SealedSecrets, $unrelated unrelated Secrets"
noisy=$("$bench" "$controller" --objects "$objects" --unrelated "$unrelated" | tee /dev/stderr | tail -1)

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
b=$(field peak_rss_mib "$base")
n=$(field peak_rss_mib "$noisy")
awk -v b="$b" -v n="$n" -v t1="$(field time_to_all_secrets_s "$base")" -v t2="$(field time_to_all_secrets_s "$noisy")" 'BEGIN {
  printf "summary: time_to_all_secrets %.2fs (with unrelated: %.2fs), peak RSS %.1f MiB -> %.1f MiB with unrelated Secrets (%+.1f%%)\n", t1, t2, b, n, (n - b) * 100 / b
}'
