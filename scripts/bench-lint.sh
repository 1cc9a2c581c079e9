#!/usr/bin/env bash
# Measures `sealant lint` on a generated repository of 20,000 manifests:
# wall time, throughput in MB/s and peak memory (GNU time), the same for `--history` on the corpus
# committed with 50 deploys and on this repository, and, when they are installed, the figures for
# gitleaks and detect-secrets on the same corpus.
#
# usage: scripts/bench-lint.sh [FILES] [CORPUS_DIR]
# Targets (issue 12): at least 100 MB/s, peak RSS under 64 MiB, on this machine (2 cores shared
# with other work: the load average is printed with the figures); history mode (`--history`) at
# least 50 MB/s of unique blobs; (issue 22) at least 50 MB/s on non-ASCII Markdown.
set -euo pipefail

files="${1:-20000}"
# v2: plain env settings hold realistic values (v1's were random strings; see gen-lint-corpus.py).
corpus="${2:-${TMPDIR:-/tmp}/sealant-lint-corpus-v2-$files}"
here="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$here/target}"

if [ ! -d "$corpus" ]; then
  python3 "$here/scripts/gen-lint-corpus.py" "$corpus" "$files"
fi
bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
count=$(find "$corpus" -type f | wc -l)
echo "corpus: $count files, $((bytes / 1000000)) MB in $corpus"

(cd "$here" && cargo build --release -q -p sealant)
bin="$target/release/sealant"

measure() { # name, bytes, command...
  local name="$1" size="$2"; shift 2
  local log; log="$(mktemp)"
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || true
  if ! grep -q "Elapsed (wall clock)" "$log"; then
    echo "$name: failed"; cat "$log"; rm -f "$log"; return
  fi
  local wall rss user sys
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  user=$(grep "User time" "$log" | awk '{print $NF}')
  sys=$(grep "System time" "$log" | awk '{print $NF}')
  local secs cpu
  secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  awk -v n="$name" -v b="$size" -v w="$secs" -v c="$cpu" -v r="$rss" 'BEGIN {
    printf "%-16s wall %7.2fs  %7.1f MB/s wall  cpu %7.2fs  %7.1f MB/cpu-s  peak RSS %5d MiB\n",
      n, w, (w > 0 ? b / 1e6 / w : 0), c, (c > 0 ? b / 1e6 / c : 0), r / 1024 }'
  echo "$cpu" > "/tmp/bench-lint-$name.cpu"
  rm -f "$log"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share the 2 cores)"
find "$corpus" -type f -exec cat {} + >/dev/null
findings=$("$bin" lint -o json "$corpus" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["findings"])' || true)
echo "sealant findings: $findings"
measure sealant "$bytes" "$bin" lint --quiet -o json -w /dev/null "$corpus"

# Non-ASCII Markdown (issue 22, target at least 50 MB/s): READMEs in French, Japanese and with
# emoji, each with fenced YAML, shell and env blocks that the Markdown analyzer scans with their
# own languages (one leak in 1% of the files).
markdown="${corpus}-markdown"
if [ ! -d "$markdown" ]; then
  python3 - "$markdown" <<'PY'
import os, random, sys
out = sys.argv[1]
random.seed(22)
prose = [
    "Le déploiement se fait en deux étapes : créez l'espace de noms, puis appliquez le manifeste. ",
    "設定ファイルはリポジトリに含まれています。パスワードは Vault から読み込まれます。",
    "Mot de passe oublié ? Consultez la documentation de l'équipe « plateforme » 🚀. ",
    "Ключ доступа хранится в секрете, а не в репозитории. ",
]
for d in range(20):
    os.makedirs(f"{out}/docs{d:02}", exist_ok=True)
for i in range(2000):
    parts = [f"# Service {i} — guide d'installation\n\n"]
    for j in range(12):
        parts.append("".join(random.choice(prose) for _ in range(6)) + "\n\n")
        kind = j % 3
        if kind == 0:
            parts.append(f"```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}-{j}\ndata:\n  LOG_LEVEL: info\n  DB_PASSWORD_FILE: /run/secrets/db\n  région: europe-ouest\n```\n\n")
        elif kind == 1:
            parts.append(f"```bash\n$ kubectl -n équipe-{j} apply -f app.yaml\n$ export API_TOKEN=$(vault read -field=token secret/app)\n```\n\n")
        else:
            leak = "s3cr3t-Pr0d-v4lue" if i % 100 == 0 and j == 2 else "${DB_PASSWORD}"
            parts.append(f"```env\nDB_HOST=db.interne\nDB_PASSWORD={leak}\n```\n\n")
    with open(f"{out}/docs{i % 20:02}/README-{i}.md", "w", encoding="utf-8") as f:
        f.write("".join(parts))
PY
fi
md_bytes=$(find "$markdown" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
echo "markdown: $(find "$markdown" -type f | wc -l) files, $((md_bytes / 1000000)) MB (non-ASCII prose, fenced blocks)"
find "$markdown" -type f -exec cat {} + >/dev/null
echo "sealant findings there: $("$bin" lint -o json "$markdown" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["findings"])' || true)"
measure sealant-markdown "$md_bytes" "$bin" lint --quiet -o json -w /dev/null "$markdown"
rm -f /tmp/bench-lint-sealant-markdown.cpu

# History mode: MB of unique blobs per wall second, on the corpus committed with 50 deploys after
# it (scripts/gen-lint-history.sh) and on this repository's own history. Unique blobs are those
# reachable from HEAD, each counted once whatever the number of commits and paths it appears in.
blob_bytes() { # repository
  git -C "$1" rev-list --objects HEAD | cut -d" " -f1 | git -C "$1" cat-file --batch-check='%(objecttype) %(objectsize)' |
    awk '$1 == "blob" { n += 1; s += $2 } END { printf "%d %d\n", n, s }'
}
history="${corpus}-history"
if [ ! -d "$history/.git" ]; then
  "$here/scripts/gen-lint-history.sh" "$corpus" "$history" 50 >/dev/null
fi
for repo in "$history" "$here"; do
  read -r blobs hbytes < <(blob_bytes "$repo")
  echo "history of $repo: $(git -C "$repo" rev-list --count HEAD) commits, $blobs unique blobs, $((hbytes / 1000000)) MB"
  measure sealant-history "$hbytes" "$bin" lint --history --quiet -o json -w /dev/null "$repo"
done
rm -f /tmp/bench-lint-sealant-history.cpu

report="$(mktemp)"
if command -v gitleaks >/dev/null 2>&1; then
  measure gitleaks "$bytes" gitleaks dir --no-banner --exit-code 0 --report-format json --report-path "$report" "$corpus"
  echo "gitleaks findings: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$report" 2>/dev/null || echo '?')"
fi
if command -v detect-secrets >/dev/null 2>&1; then
  # detect-secrets needs minutes for the whole corpus: measure one directory of it and scale.
  sub="$(find "$corpus" -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)"
  sub_bytes=$(find "$sub" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
  echo "detect-secrets on $(find "$sub" -type f | wc -l) files ($((sub_bytes / 1000000)) MB):"
  # Run from inside the directory: from within another git checkout it scans nothing.
  measure detect-secrets "$sub_bytes" bash -c "cd '$sub' && detect-secrets scan --all-files . > /tmp/bench-lint-ds.json"
  echo "detect-secrets findings there: $(python3 -c 'import json; print(sum(len(v) for v in json.load(open("/tmp/bench-lint-ds.json"))["results"].values()))' 2>/dev/null || echo '?')"
  awk -v c="$(cat /tmp/bench-lint-detect-secrets.cpu)" -v s="$sub_bytes" -v b="$bytes" \
    'BEGIN { printf "detect-secrets   cpu for the whole corpus (scaled): %.0fs\n", c * b / s }' \
    > /tmp/bench-lint-ds-scaled
  cat /tmp/bench-lint-ds-scaled
  awk -v c="$(cat /tmp/bench-lint-detect-secrets.cpu)" -v s="$sub_bytes" -v b="$bytes" \
    'BEGIN { printf "%.2f", c * b / s }' > /tmp/bench-lint-detect-secrets.cpu
fi
rm -f "$report"
for tool in gitleaks detect-secrets; do
  if [ -f "/tmp/bench-lint-$tool.cpu" ]; then
    awk -v a="$(cat /tmp/bench-lint-$tool.cpu)" -v b="$(cat /tmp/bench-lint-sealant.cpu)" \
      -v t="$tool" 'BEGIN { if (b > 0) printf "%s uses %.1fx the CPU time of sealant\n", t, a / b }'
  fi
done
