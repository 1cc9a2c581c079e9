//! The one way the CLI waits for async work. The CLI is synchronous; a call to the cluster or
//! to an `https://` key URL runs to completion on a small runtime started for it. A leaf: the
//! cluster and key-fetching modules both use it without using each other.

use crate::error::{CliError, CliResult};

/// Runs a future to completion on a current-thread runtime.
pub fn block_on<F: std::future::Future>(future: F) -> CliResult<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::input(format!("cannot start the async runtime: {e}")))?;
    Ok(runtime.block_on(future))
}
