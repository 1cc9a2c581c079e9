//! `envtest-cluster`: starts the real control plane of [`sealant_envtest`] for scripts (the
//! demo), writes kubeconfigs, and stops everything on SIGINT/SIGTERM (or, should it be killed,
//! its reaper does).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sealant_envtest::{Assets, ControlPlane, HOW_TO_GET_ASSETS, Options};

/// Start etcd, kube-apiserver and kube-controller-manager on 127.0.0.1 from the assets in
/// $SEALANT_K8S_ASSETS or $KUBEBUILDER_ASSETS, until SIGINT or SIGTERM.
#[derive(Parser)]
#[command(
    name = "envtest-cluster",
    after_help = "Example:\n  $ KUBEBUILDER_ASSETS=../shared/k8s/bin envtest-cluster --kubeconfig-dir /tmp/k --user alice:developers\n\n\
                  Prints one line `envtest-cluster ready: SERVER` when the API server is ready. Exit codes: 0 after \
                  SIGINT/SIGTERM, 1 if it cannot start, 2 on bad arguments or no assets."
)]
struct Args {
    /// Write admin.kubeconfig (system:masters) and USER.kubeconfig for each --user here.
    #[arg(long)]
    kubeconfig_dir: PathBuf,
    /// An ordinary user, NAME or NAME:GROUP[,GROUP] (client certificate; no RBAC grants).
    #[arg(long = "user")]
    users: Vec<String>,
    /// Do not start kube-controller-manager (no garbage collection).
    #[arg(long)]
    no_controller_manager: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let assets = match Assets::from_env() {
        Ok(Some(assets)) => assets,
        Ok(None) => {
            eprintln!("envtest-cluster: no Kubernetes assets: {HOW_TO_GET_ASSETS}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("envtest-cluster: {e}");
            return ExitCode::from(2);
        }
    };
    let options = Options {
        garbage_collector: !args.no_controller_manager,
    };
    let plane = match ControlPlane::start(&assets, options) {
        Ok(plane) => plane,
        Err(e) => {
            eprintln!("envtest-cluster: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = write_kubeconfigs(&plane, &args) {
        eprintln!("envtest-cluster: {e}");
        return ExitCode::FAILURE;
    }
    println!("envtest-cluster ready: {}", plane.server());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("envtest-cluster: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    });
    plane.stop();
    ExitCode::SUCCESS
}

fn write_kubeconfigs(plane: &ControlPlane, args: &Args) -> Result<(), String> {
    let dir = &args.kubeconfig_dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = |from: &std::path::Path, name: &str| {
        let to = dir.join(format!("{name}.kubeconfig"));
        std::fs::copy(from, &to)
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", to.display()))
    };
    copy(plane.admin_kubeconfig(), "admin")?;
    for user in &args.users {
        let (name, groups) = user.split_once(':').unwrap_or((user, ""));
        if name.is_empty() || name.contains('/') {
            return Err(format!(
                "--user {user}: expected NAME or NAME:GROUP[,GROUP]"
            ));
        }
        let groups: Vec<&str> = groups.split(',').filter(|g| !g.is_empty()).collect();
        let path = plane
            .user_kubeconfig(name, &groups)
            .map_err(|e| format!("--user {user}: {e}"))?;
        copy(&path, name)?;
    }
    Ok(())
}
