//! `sealant fetch-key`: the controller's current public key.

use std::path::PathBuf;

use crate::cluster::{self, ControllerArgs, KubeArgs};
use crate::error::CliResult;
use crate::flags::{self, OutputFile};

pub const FETCH_AFTER_HELP: &str = "\
Examples:
  $ sealant fetch-key -w cluster.pub
  $ sealant fetch-key --controller-namespace kube-system --context prod > prod.pub

The key is read from the ConfigMap sealant-public-keys that the controller publishes; reading it
needs only `get` on that ConfigMap, which the deploy manifests grant to every authenticated user.";

/// Arguments of `sealant fetch-key`.
#[derive(clap::Args)]
pub struct FetchKeyArgs {
    #[command(flatten)]
    controller: ControllerArgs,
    #[command(flatten)]
    write: OutputFile,
    /// Deprecated spelling of -w FILE (-o names a format in every other command).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        hide = true,
        conflicts_with = "write"
    )]
    output: Option<PathBuf>,
}

/// Prints (or writes) the controller's current public key.
pub fn fetch_key(kube: &KubeArgs, args: FetchKeyArgs) -> CliResult<()> {
    let write = match args.output {
        Some(path) => {
            flags::deprecated("`fetch-key -o FILE`", "`fetch-key -w FILE`");
            OutputFile { write: Some(path) }
        }
        None => args.write,
    };
    let (namespace, key) = cluster::block_on(cluster::fetch_public_key(kube, &args.controller))??;
    write.emit(&format!("{key}\n"))?;
    eprintln!(
        "fetched key {} from the controller in namespace {namespace}",
        key.id()
    );
    Ok(())
}
