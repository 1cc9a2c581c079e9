//! `sealant fetch-key`: the controller's current public key.

use crate::cluster::{self, ControllerArgs, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::flags::OutputFile;

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
    /// `-o` names an output format in every command and a key line is fetch-key's only one;
    /// the old `-o FILE` spelling is refused with a pointer to -w instead of writing a file.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", hide = true)]
    output: Option<String>,
}

/// Prints (or writes) the controller's current public key.
pub fn fetch_key(kube: &KubeArgs, args: FetchKeyArgs) -> CliResult<()> {
    if let Some(value) = args.output {
        return Err(CliError::input(format!(
            "fetch-key -o {value}: -o names an output format, and fetch-key prints a key line only"
        ))
        .hint(format!(
            "to write the key to a file: sealant fetch-key -w {value}"
        )));
    }
    let write = args.write;
    let (namespace, key) = cluster::block_on(cluster::fetch_public_key(kube, &args.controller))??;
    write.emit(&format!("{key}\n"))?;
    eprintln!(
        "fetched key {} from the controller in namespace {namespace}",
        key.id()
    );
    Ok(())
}
