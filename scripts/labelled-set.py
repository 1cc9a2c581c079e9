#!/usr/bin/env python3
"""Rebuilds the lint's labelled set (the files scripts/score-lint.py scores) from the public
repositories it was cut from, into a folder outside this repository.

The excerpts are not committed here: this project commits no files fetched from other projects.
lint/resources/labelled-sources.tsv names each file's repository, path, commit ("-": the default
branch) and the sha256 of the excerpt that was labelled; lint/resources/labelled-lines.tsv holds
the labels. A file whose rebuilt excerpt has another sha256 is reported: its repository changed
since it was labelled, and its labels must be checked before its figures are trusted.

Usage: scripts/labelled-set.py DIR     (needs git and network access to github.com)
"""

import hashlib
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = os.path.join(ROOT, "lint", "resources", "labelled-sources.tsv")
EXCERPT_LINES = 200


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    out = os.path.abspath(sys.argv[1])
    clones = os.path.join(out, ".repos")
    os.makedirs(clones, exist_ok=True)
    rows = []
    with open(SOURCES, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            rows.append(line.rstrip("\n").split("\t"))
    cloned = {}
    changed = []
    for file, repo, path, commit, _lines, sha in rows:
        git_dir = cloned.get(repo)
        if git_dir is None:
            git_dir = os.path.join(clones, repo.replace("/", "+") + ".git")
            if not os.path.isdir(git_dir):
                subprocess.run(
                    ["git", "clone", "--quiet", "--bare", "--filter=blob:none",
                     f"https://github.com/{repo}", git_dir],
                    check=True,
                )
            cloned[repo] = git_dir
        rev = "HEAD" if commit == "-" else commit
        shown = subprocess.run(
            ["git", "--git-dir", git_dir, "show", f"{rev}:{path}"], capture_output=True
        )
        if shown.returncode != 0:
            changed.append(f"{file}: not found at {rev}")
            continue
        text = shown.stdout.replace(b"\r\n", b"\n")
        excerpt = b"".join(text.splitlines(keepends=True)[:EXCERPT_LINES])
        target = os.path.join(out, file)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as w:
            w.write(excerpt)
        if hashlib.sha256(excerpt).hexdigest() != sha:
            changed.append(f"{file}: differs from the labelled excerpt (check its labels)")
    print(f"{len(rows)} files written to {out}; {len(changed)} differ from what was labelled")
    for c in changed:
        print("  " + c)


if __name__ == "__main__":
    main()
