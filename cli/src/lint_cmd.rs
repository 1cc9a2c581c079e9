//! `sealant lint`: owned by the lint work; this is the wiring contract only.

use std::path::PathBuf;

/// Arguments of `sealant lint`.
#[derive(clap::Args)]
pub struct LintArgs {
    /// Files or directories to scan.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
}

/// Runs the lint and returns the process exit code (0 clean, 1 findings, 2 errors).
pub fn run(args: LintArgs) -> u8 {
    let _ = args;
    2
}
