#!/usr/bin/env bash
# The README's main job: sealant's whole loop on this machine. A cluster (a real control plane
# when Kubernetes test assets are there, else the in-memory test API server), deploy/'s CRD and
# RBAC, the controller, `sealant fetch-key` as an ordinary user, seal, apply, the Secret
# appearing, a copy in the wrong namespace refused, `sealant audit` finding the vulnerable Pod
# (real cluster only); then the offline steps (keygen, seal, verify,
# recover, lint) on the files in examples/. Everything it starts is stopped at the end.
#
# Run from anywhere: ./examples/demo.sh
# Real cluster: set KUBEBUILDER_ASSETS (or SEALANT_K8S_ASSETS) to a folder with kube-apiserver and
# kube-controller-manager, with etcd there or on PATH (tests/envtest/README.md); without either,
# ../shared/k8s/bin is used when it exists and etcd is installed. SEALANT_DEMO_CLUSTER=test forces
# the test API server, =real fails without assets.
set -euo pipefail
cd "$(dirname "$0")/.."

# Bold only on a terminal, and never with NO_COLOR set (https://no-color.org).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then on=$'\033[1m' off=$'\033[0m'; else on= off=; fi
bold() { printf '%s%s%s\n' "$on" "$*" "$off"; }
step() { printf '\n%s$ %s%s\n' "$on" "$*" "$off"; }
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started )) s"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "demo: needs kubectl (https://kubernetes.io/docs/tasks/tools/)" >&2; exit 2; }

assets=${SEALANT_K8S_ASSETS:-${KUBEBUILDER_ASSETS:-}}
if [ -z "$assets" ] && [ -x ../shared/k8s/bin/kube-apiserver ] && command -v etcd >/dev/null; then
    assets=$(cd ../shared/k8s/bin && pwd)
fi
case ${SEALANT_DEMO_CLUSTER:-auto} in
    auto) ;;
    test) assets= ;;
    real) [ -n "$assets" ] || { echo "demo: SEALANT_DEMO_CLUSTER=real but no Kubernetes assets (tests/envtest/README.md)" >&2; exit 2; } ;;
    *) echo "demo: SEALANT_DEMO_CLUSTER must be auto, real or test" >&2; exit 2 ;;
esac

cat <<EOF
To follow along you need: Rust (cargo) and kubectl. For a real cluster also etcd
(apt-get install etcd-server) and a folder with kube-apiserver + kube-controller-manager named by
KUBEBUILDER_ASSETS; without them the demo runs on sealant's in-memory test API server.
Every command a user would type is shown after '\$'; 'admin' is a cluster admin's kubeconfig,
'alice' an ordinary user's with no permissions granted.
EOF

# A cold build is most of a first run: say so, and let cargo show its progress.
if [ -x target/debug/sealant ] && [ -x target/debug/sealant-controller ]; then
    echo "demo: building sealant, sealant-controller and the test servers (built before: usually under a minute)..."
else
    echo "demo: building sealant, sealant-controller and the test servers: a cold build takes about"
    echo "      6 minutes on 2 cores (about 400 crates); cargo's progress follows..."
fi
if ! cargo build -p sealant -p sealant-controller -p sealant-test-apiserver -p sealant-envtest 2>&1 \
    | awk '/^ *Compiling / { n++; if (n % 25 == 0) { printf "demo:   %d crates compiled (%s)...\n", n, $2; fflush() }; next }
           /^ *(Finished|error|warning: unused)/ || /^ *-->/ { print; fflush() }'; then
    fail "cargo build (run the build above yourself to see every message)"
fi
echo "demo: built in $(elapsed)"
bin=$PWD/target/debug
work=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/kube"

# waits until FILE contains TEXT (the process PID must stay up), for at most 120 s
wait_line() {
    local file=$1 text=$2 pid=$3 what=$4
    for _ in $(seq 600); do
        grep -q "$text" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$work"/*.err >&2 2>/dev/null; fail "$what exited"; }
        sleep 0.2
    done
    fail "$what not ready after 120 s"
}

# ---------------------------------------------------------------- the cluster
if [ -n "$assets" ]; then
    bold "cluster: a real control plane (etcd, kube-apiserver, kube-controller-manager) from $assets"
    KUBEBUILDER_ASSETS=$assets SEALANT_K8S_ASSETS='' "$bin/envtest-cluster" \
        --kubeconfig-dir "$work/kube" --user alice:developers > "$work/cluster.out" 2> "$work/cluster.err" &
    pids+=($!)
    wait_line "$work/cluster.out" "ready" "$!" "the control plane"
    real=1
else
    bold "cluster: sealant's in-memory test API server (no Kubernetes assets found: it has no RBAC;"
    bold "         set KUBEBUILDER_ASSETS for a real control plane, see tests/envtest/README.md)"
    "$bin/test-apiserver" --port 0 --gc --kubeconfig-out "$work/kube/admin.kubeconfig" \
        > "$work/cluster.out" 2> "$work/cluster.err" &
    pids+=($!)
    wait_line "$work/cluster.out" "ready" "$!" "the test API server"
    cp "$work/kube/admin.kubeconfig" "$work/kube/alice.kubeconfig"
    real=0
fi
cat "$work/cluster.out"
admin() { kubectl --kubeconfig "$work/kube/admin.kubeconfig" "$@"; }
alice_sealant() { "$bin/sealant" --kubeconfig "$work/kube/alice.kubeconfig" "$@"; }
# polls `admin get ...` until its output is WANT (or anything if WANT is empty), 90 s at most
wait_for() {
    local want=$1 what=$2 out
    shift 2
    for _ in $(seq 360); do
        out=$(admin get "$@" 2>/dev/null) || out=
        if { [ -z "$want" ] && [ -n "$out" ]; } || { [ -n "$want" ] && [ "$out" = "$want" ]; }; then
            printf '%s' "$out"
            return 0
        fi
        sleep 0.25
    done
    fail "timed out waiting for $what"
}

# ---------------------------------------------------------------- deploy/ and the controller
if [ "$real" = 1 ]; then
    step "admin: kubectl apply --server-side -k deploy/      (docs/install.md; no nodes run here, so"
    echo "  the Deployment's Pods never start: the controller runs out of cluster below)"
    admin apply --server-side -k deploy/ | sed 's/^/  /'
    admin wait --for condition=established crd/sealedsecrets.sealant.dev --timeout=60s >/dev/null
    step "admin: kubectl create token sealant-controller -n sealant-system   (its own ServiceAccount: deploy/'s RBAC, nothing more)"
    token=$(admin create token sealant-controller -n sealant-system --duration=1h)
    server=$(admin config view --raw -o jsonpath='{.clusters[0].cluster.server}')
    admin config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > "$work/kube/ca.crt"
    controller_kc=$work/kube/controller.kubeconfig
    (
        umask 077
        kubectl config --kubeconfig "$controller_kc" set-cluster demo --server="$server" \
            --certificate-authority="$work/kube/ca.crt" --embed-certs=true >/dev/null
        kubectl config --kubeconfig "$controller_kc" set-credentials sealant-controller --token="$token" >/dev/null
        kubectl config --kubeconfig "$controller_kc" set-context demo --cluster=demo --user=sealant-controller >/dev/null
        kubectl config --kubeconfig "$controller_kc" use-context demo >/dev/null
    )
    unset token
else
    step "admin: kubectl apply -f deploy/{namespace,crd,serviceaccount,rbac}.yaml"
    for f in namespace crd serviceaccount rbac; do admin apply -f "deploy/$f.yaml" | sed 's/^/  /'; done
    controller_kc=$work/kube/admin.kubeconfig
fi
step "sealant-controller --kubeconfig controller.kubeconfig --namespace sealant-system &"
"$bin/sealant-controller" --kubeconfig "$controller_kc" --namespace sealant-system \
    --listen-addr 127.0.0.1:0 --log-level warn > "$work/controller.log" 2>&1 &
pids+=($!)
wait_for "" "the controller's public key" configmap sealant-public-keys -n sealant-system \
    -o jsonpath='{.data.public-key}' >/dev/null
echo "  running; it generated a sealing key and published the public key"

# ---------------------------------------------------------------- the online loop
step "alice: sealant fetch-key      (an ordinary user: deploy/ lets everyone read the public key)"
alice_sealant fetch-key | sed 's/^/  /'
if [ "$real" = 1 ]; then
    step "alice: kubectl auth can-i get secrets -n sealant-system      (but not the private keys)"
    answer=$(kubectl --kubeconfig "$work/kube/alice.kubeconfig" auth can-i get secrets -n sealant-system || true)
    echo "  $answer"
    [ "$answer" = no ] || fail "alice can read the key Secrets"
fi

admin create namespace demo >/dev/null
step "alice: kubectl create secret generic db-creds -n demo --from-literal=password=... --dry-run=client -o yaml | sealant seal > db-creds.sealed.yaml"
# The example's (fake) password, read from examples/db-creds.secret.yaml rather than written here.
demo_password=$(sed -n 's/^ *password: *//p' examples/db-creds.secret.yaml | base64 -d)
kubectl --kubeconfig "$work/kube/alice.kubeconfig" create secret generic db-creds -n demo --from-literal=password="$demo_password" \
    --dry-run=client -o yaml | alice_sealant seal > "$work/db-creds.sealed.yaml"
sed 's/^/  /' "$work/db-creds.sealed.yaml"
grep -q 'ZGVtby1wYXNzd29yZC1ub3QtcmVhbA==' "$work/db-creds.sealed.yaml" && fail "the sealed file contains the plaintext"

step "admin: kubectl apply -f db-creds.sealed.yaml"
admin apply -f "$work/db-creds.sealed.yaml" | sed 's/^/  /'
wait_for 'ZGVtby1wYXNzd29yZC1ub3QtcmVhbA==' "the Secret" secret db-creds -n demo -o jsonpath='{.data.password}' >/dev/null
step "admin: kubectl get secret db-creds -n demo      (made by the controller, owned by the SealedSecret)"
admin get secret db-creds -n demo -o custom-columns='NAME:.metadata.name,TYPE:.type,OWNER:.metadata.ownerReferences[0].kind,KEYS:.data' \
    | sed -E 's/(map\[password:)[^]]*\]/\1<the sealed password>]/' | sed 's/^/  /'
status=$(wait_for True "Synced=True" sealedsecret db-creds -n demo -o jsonpath='{.status.conditions[?(@.type=="Synced")].status}')
echo "  SealedSecret db-creds: Synced=$status"

step "admin: sed 's/namespace: demo/namespace: demo-copy/' db-creds.sealed.yaml | kubectl apply -f -   (a copy in the wrong namespace)"
admin create namespace demo-copy >/dev/null
sed 's/namespace: demo$/namespace: demo-copy/' "$work/db-creds.sealed.yaml" | admin apply -f - | sed 's/^/  /'
wait_for False "Synced=False on the copy" sealedsecret db-creds -n demo-copy \
    -o jsonpath='{.status.conditions[?(@.type=="Synced")].status}' >/dev/null
admin get sealedsecret db-creds -n demo-copy \
    -o jsonpath='{range .status.conditions[?(@.type=="Synced")]}  Synced={.status} reason={.reason}: {.message}{"\n"}{end}'
admin get secret db-creds -n demo-copy >/dev/null 2>&1 && fail "a Secret was made from the copy"
echo "  refused: no Secret in demo-copy"

# ---------------------------------------------------------------- what already runs
if [ "$real" = 1 ]; then
    admin_sealant() { "$bin/sealant" --kubeconfig "$work/kube/admin.kubeconfig" "$@"; }
    step "admin: kubectl apply -n demo -f examples/vulnerable-pod.yaml   (the hardening guide's vulnerable Pod)"
    admin apply -n demo -f examples/vulnerable-pod.yaml | sed 's/^/  /'
    step "admin: sealant audit -n demo   (live objects, list-only; the Secret the controller wrote is not reported)"
    status=0
    admin_sealant audit -n demo > "$work/audit.txt" || status=$?
    sed 's/^/  /' "$work/audit.txt"
    [ "$status" -eq 1 ] || fail "audit should exit 1 with findings, got $status"
    grep -q 'demo/Pod/insecure-pod spec.containers\[name=app\].env\[name=DB_PASSWORD\].value: SL001' "$work/audit.txt" \
        || fail "audit did not find the vulnerable Pod's env credential"
    grep -q 'Secret/db-creds' "$work/audit.txt" && fail "audit reported the Secret sealant manages"
    step "admin: sealant audit -n demo --fix-plan   (the steps to move it into a SealedSecret; no values in it)"
    admin_sealant audit -n demo --fix-plan -q | sed 's/^/  /' || true
    step "admin: sealant audit -n sealant-system   (deploy/'s own objects: nothing to report)"
    admin_sealant audit -n sealant-system | sed 's/^/  /'
fi

# ---------------------------------------------------------------- offline, no cluster
sealant() { "$bin/sealant" "$@"; }
bold ""
bold "Offline: the same with a key pair of your own (no cluster involved)"

step "sealant keygen --out-dir keys"
sealant keygen --out-dir "$work/keys"

step "sealant seal -f examples/db-creds.secret.yaml --public-key keys/sealant.pub -w db-creds.sealed.yaml"
sealant seal -f examples/db-creds.secret.yaml --public-key "$work/keys/sealant.pub" -w "$work/offline.sealed.yaml"
cat "$work/offline.sealed.yaml"
if grep -q 'ZGVtby1wYXNzd29yZC1ub3QtcmVhbA==' "$work/offline.sealed.yaml"; then
    fail "the sealed file contains the plaintext"
fi

step "sealant verify --public-key keys/sealant.pub db-creds.sealed.yaml"
sealant verify --public-key "$work/keys/sealant.pub" "$work/offline.sealed.yaml"

step "sed 's/namespace: production/namespace: staging/' ... | sealant verify   (a moved file must fail)"
sed 's/namespace: production/namespace: staging/' "$work/offline.sealed.yaml" > "$work/moved.yaml"
if sealant verify "$work/moved.yaml"; then
    fail "a SealedSecret moved to another namespace verified"
fi

step "sealant recover --private-key keys/sealant.key db-creds.sealed.yaml"
sealant recover --private-key "$work/keys/sealant.key" "$work/offline.sealed.yaml" > "$work/recovered.yaml"
cat "$work/recovered.yaml"
grep -q 'password: ZGVtby1wYXNzd29yZC1ub3QtcmVhbA==' "$work/recovered.yaml"

step "sealant lint examples/   (the plaintext Secret and the vulnerable Pod must be flagged)"
status=0
sealant lint examples/ || status=$?
if [ "$status" -ne 1 ]; then
    fail "lint should exit 1 with findings, got $status"
fi

step "sealant lint db-creds.sealed.yaml examples/secure-pod.yaml   (must be clean)"
cp examples/secure-pod.yaml "$work/"
sealant lint "$work/offline.sealed.yaml" "$work/secure-pod.yaml"

if [ "$real" = 1 ]; then
    printf '\ndemo: ok (on a real kube-apiserver; everything started is stopped now)\n'
else
    printf '\ndemo: ok (on the test API server; everything started is stopped now)\n'
fi
