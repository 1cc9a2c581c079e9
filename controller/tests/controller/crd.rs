//! `deploy/crd.yaml` is generated (`sealant-controller crd > deploy/crd.yaml`); this fails when
//! the committed file no longer matches the Rust types.

use kube::CustomResourceExt;

use sealant_core::resource::SealedSecret;

#[test]
fn committed_crd_matches_the_rust_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/crd.yaml");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = serde_yaml::to_string(&SealedSecret::crd()).unwrap_or_default();
    assert!(!generated.is_empty());
    assert!(
        committed == generated,
        "deploy/crd.yaml is out of date: run `cargo run -p sealant-controller -- crd > deploy/crd.yaml`"
    );
}
