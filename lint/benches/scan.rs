//! Throughput of `sealant_lint::scan` on a generated repository of manifests.
//!
//! The full-size measurement (50,000 files, wall time and peak memory of the real binary) is
//! `scripts/bench-lint.sh`; this bench tracks the engine's MB/s between changes.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sealant_lint::{ScanOptions, Settings, scan};

/// A Deployment with a long env list (mostly `secretKeyRef`, one literal leak every 50 files),
/// a ConfigMap with embedded properties, or a SealedSecret with long ciphertext.
fn manifest(i: usize) -> String {
    let mut env = String::new();
    for j in 0..20 {
        env.push_str(&format!(
            "            - name: SETTING_{j}\n              value: \"value-{i}-{j}\"\n"
        ));
        if j % 4 == 0 {
            env.push_str(&format!(
                "            - name: DB_PASSWORD_{j}\n              valueFrom:\n                secretKeyRef: {{name: db-{i}, key: password}}\n"
            ));
        }
    }
    if i.is_multiple_of(50) {
        env.push_str("            - name: API_TOKEN\n              value: \"tok-9f8e7d6c5b4a\"\n");
    }
    match i % 3 {
        0 => format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: app:{i}\n          args: [\"--port=8080\"]\n          env:\n{env}"
        ),
        1 => {
            let props: String = (0..40)
                .map(|j| format!("    service.setting{j}=value-{i}-{j}\n"))
                .collect();
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-{i}\ndata:\n  LOG_LEVEL: info\n  app.properties: |\n{props}"
            )
        }
        _ => {
            let data: String = (0..8)
                .map(|j| format!("    key{j}: AQ{}==\n", "Zm9vYmFyYmF6cXV4".repeat(15)))
                .collect();
            format!(
                "apiVersion: sealant.dev/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: s-{i}\nspec:\n  encryptedData:\n{data}"
            )
        }
    }
}

fn write_corpus(dir: &Path, files: usize) -> u64 {
    let mut bytes = 0;
    for i in 0..files {
        let sub = dir.join(format!("team{:02}", i % 20));
        let _ = std::fs::create_dir_all(&sub);
        let text = manifest(i);
        bytes += text.len() as u64;
        let _ = std::fs::write(sub.join(format!("m{i}.yaml")), text);
    }
    bytes
}

fn bench_scan(c: &mut Criterion) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let bytes = write_corpus(dir.path(), 2_000);
    let options = ScanOptions {
        paths: vec![dir.path().to_path_buf()],
        root: dir.path().to_path_buf(),
    };
    let settings = Settings::default();
    let mut group = c.benchmark_group("lint");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.bench_function("scan 2000 manifests", |b| {
        b.iter(|| {
            scan(&options, &settings)
                .map(|r| r.findings.len())
                .unwrap_or(0)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_scan);
criterion_main!(benches);
