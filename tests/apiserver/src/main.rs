//! `test-apiserver`: serves the in-memory Kubernetes API on 127.0.0.1 until killed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use sealant_test_apiserver::TestApiServer;

/// An in-memory Kubernetes API server for tests (plain HTTP on 127.0.0.1).
#[derive(Parser)]
#[command(
    version,
    after_help = "Examples:\n  $ test-apiserver --port 0 --kubeconfig-out /tmp/kc --gc\n  $ kubectl --kubeconfig /tmp/kc get namespaces"
)]
struct Args {
    /// Port to listen on (0 picks a free one; the ready line names it).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write a kubeconfig for this server here (kubectl and kube-rs accept it).
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Garbage-collect objects whose owners (by ownerReferences uid) are gone.
    #[arg(long)]
    gc: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let server = match TestApiServer::builder()
        .port(args.port)
        .gc(args.gc)
        .try_start()
        .await
    {
        Ok(server) => server,
        Err(err) => {
            eprintln!(
                "test-apiserver: {err}{}",
                std::error::Error::source(&err)
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default()
            );
            return ExitCode::from(1);
        }
    };
    if let Some(path) = &args.kubeconfig_out
        && let Err(err) = server.write_kubeconfig(path)
    {
        eprintln!(
            "test-apiserver: {err}{}",
            std::error::Error::source(&err)
                .map(|s| format!(": {s}"))
                .unwrap_or_default()
        );
        return ExitCode::from(1);
    }
    let kubeconfig = args
        .kubeconfig_out
        .as_ref()
        .map(|p| format!(" kubeconfig={}", p.display()))
        .unwrap_or_default();
    println!(
        "test-apiserver ready url={}{kubeconfig} gc={}",
        server.url(),
        args.gc
    );
    wait_for_signal().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
