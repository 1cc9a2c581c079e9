#!/usr/bin/env bash
# Builds a git repository whose history is the bench corpus and a series of deploys: the first
# commit adds every file of CORPUS_DIR, each later commit edits 1% of the files (a revision line
# appended, as a GitOps repository's deploys change a few manifests each), so that every commit
# brings new blobs. For measuring `sealant lint --history` in MB of unique blobs per second.
#
# usage: scripts/gen-lint-history.sh CORPUS_DIR REPO_DIR [COMMITS]   (default 50 commits)
set -euo pipefail

corpus="$1"
repo="$2"
commits="${3:-50}"

rm -rf "$repo"
mkdir -p "$repo"
cp -r "$corpus"/. "$repo"/
cd "$repo"
git init -q
commit() { git -c user.name=bench -c user.email=bench@example.invalid commit -q -m "$1"; }
git add -A
commit "corpus"
find . -path ./.git -prune -o -type f -print | sort > .git/bench-files
for i in $(seq 1 "$commits"); do
  awk -v i="$i" 'NR % 100 == i % 100' .git/bench-files | while read -r f; do
    printf '# deploy %d\n' "$i" >> "$f"
  done
  git add -A
  commit "deploy $i"
done
# Packed, as a clone is (git would pack some of it on its own, at a moment of its choosing).
git gc -q
echo "history: $commits deploys on top of the corpus in $repo"
