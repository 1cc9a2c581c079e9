#!/usr/bin/env bash
# The offline demo: keygen, seal, verify, recover and lint on the files in examples/, with no
# cluster. Run from anywhere: ./examples/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p sealant
sealant() { ./target/debug/sealant "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "sealant keygen --out-dir keys"
sealant keygen --out-dir "$work/keys"

step "sealant seal -f examples/db-creds.secret.yaml --public-key keys/sealant.pub -w db-creds.sealed.yaml"
sealant seal -f examples/db-creds.secret.yaml --public-key "$work/keys/sealant.pub" -w "$work/db-creds.sealed.yaml"
cat "$work/db-creds.sealed.yaml"
if grep -q 'ZGVtby1wYXNzd29yZC1ub3QtcmVhbA==' "$work/db-creds.sealed.yaml"; then
    echo "demo: FAILED: the sealed file contains the plaintext" >&2
    exit 1
fi

step "sealant verify --public-key keys/sealant.pub db-creds.sealed.yaml"
sealant verify --public-key "$work/keys/sealant.pub" "$work/db-creds.sealed.yaml"

step "sed 's/namespace: production/namespace: staging/' ... | sealant verify   (a moved file must fail)"
sed 's/namespace: production/namespace: staging/' "$work/db-creds.sealed.yaml" > "$work/moved.yaml"
if sealant verify "$work/moved.yaml"; then
    echo "demo: FAILED: a SealedSecret moved to another namespace verified" >&2
    exit 1
fi

step "sealant recover --private-key keys/sealant.key db-creds.sealed.yaml"
sealant recover --private-key "$work/keys/sealant.key" "$work/db-creds.sealed.yaml" > "$work/recovered.yaml"
cat "$work/recovered.yaml"
grep -q 'password: ZGVtby1wYXNzd29yZC1ub3QtcmVhbA==' "$work/recovered.yaml"

step "sealant lint examples/   (the plaintext Secret and the vulnerable Pod must be flagged)"
status=0
sealant lint examples/ || status=$?
if [ "$status" -ne 1 ]; then
    echo "demo: FAILED: lint should exit 1 with findings, got $status" >&2
    exit 1
fi

step "sealant lint db-creds.sealed.yaml examples/secure-pod.yaml   (must be clean)"
cp examples/secure-pod.yaml "$work/"
sealant lint "$work/db-creds.sealed.yaml" "$work/secure-pod.yaml"

printf '\ndemo: ok\n'
