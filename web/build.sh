#!/usr/bin/env bash
# Rebuilds web/vendor/noble.js from the npm packages pinned in package-lock.json, and its
# checksum web/vendor/noble.js.sha256. The page and the Rust binaries use the committed file;
# run this only to change a version (then review the diff and commit both files).
#   ./build.sh           rebuild
#   ./build.sh --check   rebuild into a temporary file and fail if it differs from the committed one
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/esbuild ] || npm ci --no-audit --no-fund --loglevel=error
out=vendor/noble.js
if [ "${1:-}" = "--check" ]; then
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
fi
npx --no-install esbuild vendor/entry.js --bundle --format=esm --target=es2022 \
    --legal-comments=inline --log-level=warning --outfile="$out"
if [ "${1:-}" = "--check" ]; then
    cmp -s "$out" vendor/noble.js || { echo "web/vendor/noble.js differs from a fresh build" >&2; exit 1; }
    (cd vendor && sha256sum -c --quiet noble.js.sha256)
    echo "web/vendor/noble.js matches a fresh build ($(cut -c1-16 vendor/noble.js.sha256)...)"
else
    (cd vendor && sha256sum noble.js > noble.js.sha256)
    cat vendor/noble.js.sha256
fi
