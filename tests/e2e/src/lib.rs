//! Helpers for the end-to-end tests: locating the real binaries the workspace builds.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Serialises fallback builds so parallel tests do not start several `cargo build`s.
static BUILD: Mutex<()> = Mutex::new(());

/// The path of a workspace binary (`sealant`, `sealant-controller`, `test-apiserver`).
///
/// `cargo test --workspace` builds every binary before running tests, and they sit next to the
/// test's own `deps/` directory. When a test is run alone (`cargo test -p sealant-e2e`), the
/// binary is built on first use.
pub fn binary(name: &str) -> PathBuf {
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .and_then(|deps| deps.parent())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("target/debug"));
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .args(["build", "--bin", name])
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
        assert!(status.success(), "building {name} failed");
    }
    assert!(
        path.exists(),
        "{} does not exist after building",
        path.display()
    );
    path
}
