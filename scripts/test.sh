#!/usr/bin/env bash
# The test command of README.md: `cargo test --workspace` (extra arguments are passed on), then
# one closing line that counts the tests that ran on a real kube-apiserver and those skipped for
# want of Kubernetes assets, and says how to enable them. Without this wrapper the skip lines of
# passing tests are easy to miss among cargo's output.
#
# Assets are found as tests/envtest/README.md says: SEALANT_K8S_ASSETS, KUBEBUILDER_ASSETS, or the
# folder `setup-envtest use 1.24.x` fills. With CI=true a skipped real-server test fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."

report=$(mktemp "${TMPDIR:-/tmp}/sealant-test-report.XXXXXX")
trap 'rm -f "$report"' EXIT
export SEALANT_TEST_REPORT=$report

# The whole workspace unless a package was chosen (-p NAME / --package NAME).
scope=(--workspace)
for arg in "$@"; do
    case $arg in -p|--package|-p*|--package=*) scope=() ;; esac
done
cargo test "${scope[@]}" "$@"
status=$?

ran=$(grep -c '^ran ' "$report" || true)
skipped=$(grep -c '^skipped ' "$report" || true)
echo
if [ "$skipped" -gt 0 ]; then
    echo "real-server tests: $ran ran, $skipped skipped (no Kubernetes assets: set KUBEBUILDER_ASSETS" \
        "to a folder with kube-apiserver and kube-controller-manager, install etcd; see tests/envtest/README.md)"
    if [ "${CI:-}" = true ] && [ "$status" -eq 0 ]; then
        echo "CI=true: real-server tests must run in CI, not be skipped" >&2
        status=1
    fi
elif [ "$ran" -gt 0 ]; then
    echo "real-server tests: $ran ran on a real kube-apiserver, 0 skipped"
else
    echo "real-server tests: none in this selection"
fi
exit "$status"
