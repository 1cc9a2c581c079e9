//! Precision and recall of the lint on a labeled corpus of realistic leaks and tricky
//! non-leaks (placeholders, references, sealed and SOPS content, paths, ids, booleans, numbers).
//!
//! A line with a leak carries the marker `LEAK`; `extra-labels.txt` lists leaks on lines that
//! cannot hold a comment. Run with `--nocapture` to see the figures and every miss.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sealant_lint::{ScanOptions, Settings, scan};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/test/corpus")
}

fn labeled(dir: &Path, root: &Path, out: &mut BTreeSet<(String, usize)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            labeled(&p, root, out);
            continue;
        }
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "README.md" || rel == "extra-labels.txt" {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if line.contains("LEAK") {
                out.insert((rel.clone(), i + 1));
            }
        }
    }
}

#[test]
fn precision_and_recall_on_the_labeled_corpus() {
    let root = corpus();
    let mut expected = BTreeSet::new();
    labeled(&root, &root, &mut expected);
    let extra = std::fs::read_to_string(root.join("extra-labels.txt")).unwrap_or_default();
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        if let Some((path, n)) = line.rsplit_once(':') {
            expected.insert((path.to_string(), n.trim().parse().unwrap_or(0)));
        }
    }
    assert!(
        expected.len() >= 40,
        "the corpus should hold at least 40 leaks"
    );

    let options = ScanOptions {
        paths: vec![root.clone()],
        root: root.clone(),
    };
    let report = match scan(&options, &Settings::default()) {
        Ok(r) => r,
        Err(e) => panic!("scan failed: {e}"),
    };
    // The corpus README explains the labels and is not part of the data.
    let found: BTreeSet<(String, usize)> = report
        .findings
        .iter()
        .filter(|f| f.path != "README.md" && f.path != "extra-labels.txt")
        .map(|f| (f.path.clone(), f.line))
        .collect();

    let true_pos = found.intersection(&expected).count();
    let precision = true_pos as f64 / found.len().max(1) as f64;
    let recall = true_pos as f64 / expected.len() as f64;
    for miss in expected.difference(&found) {
        println!("missed: {}:{}", miss.0, miss.1);
    }
    for fp in found.difference(&expected) {
        let f = report
            .findings
            .iter()
            .find(|f| (f.path.clone(), f.line) == *fp);
        println!(
            "false positive: {}:{} {:?}",
            fp.0,
            fp.1,
            f.map(|f| (&f.rule, &f.message))
        );
    }
    println!(
        "corpus: {} leaks, {} findings, precision {:.3}, recall {:.3}",
        expected.len(),
        found.len(),
        precision,
        recall
    );
    assert!(precision >= 0.95, "precision {precision:.3} < 0.95");
    assert!(recall >= 0.95, "recall {recall:.3} < 0.95");
    assert!(
        report.diagnostics.is_empty(),
        "diagnostics: {:?}",
        report.diagnostics
    );
}
