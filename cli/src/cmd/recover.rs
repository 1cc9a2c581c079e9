//! `sealant recover`: open SealedSecrets with backed-up private keys (disaster recovery).

use std::path::PathBuf;

use sealant_core::resource;

use super::{Namespaces, key_ring};
use crate::cluster::KubeArgs;
use crate::error::{CliError, CliResult};
use crate::flags::{InputFiles, OutputFile};
use crate::io;
use crate::manifest::{self, parse_sealed_secret};

pub const RECOVER_AFTER_HELP: &str = "\
Examples:
  $ sealant keys backup -w keys-backup.yaml
  $ sealant recover --private-key keys-backup.yaml sealed/db-creds.yaml
  $ sealant recover --private-key keys/sealant.key sealed/*.yaml -w recovered.yaml

Prints the Secrets in plaintext: this is the one command that does. Keep the output off disk or
write it with -w to a protected place.";

/// Arguments of `sealant recover`.
#[derive(clap::Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    files: InputFiles,
    /// Backed-up private key: a `keygen` key file or the YAML of the controller's key Secrets
    /// (`sealant keys backup`); repeatable.
    #[arg(long = "private-key", value_name = "FILE", required = true)]
    private_keys: Vec<PathBuf>,
    /// Namespace for SealedSecrets whose manifest has none.
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    // With -w the file gets mode 0600: it holds the plaintext.
    #[command(flatten)]
    write: OutputFile,
}

/// Opens every SealedSecret and prints the Secrets as a YAML stream.
pub fn recover(kube: &KubeArgs, args: RecoverArgs) -> CliResult<()> {
    let ring = key_ring(&args.private_keys)?;
    let namespaces = Namespaces::new(args.namespace.clone(), kube);
    let mut secrets = Vec::new();
    for doc in io::read_documents(&args.files.paths()?)? {
        if doc.kind() != "SealedSecret" {
            eprintln!("{}: skipped (not a SealedSecret)", doc.context());
            continue;
        }
        let mut sealed = parse_sealed_secret(&doc)?;
        let namespace = namespaces.resolve(sealed.metadata.namespace.as_deref(), &doc.context())?;
        sealed.metadata.namespace = Some(namespace);
        let secret = resource::open_sealed_secret(&sealed, &ring)
            .map_err(|e| CliError::input(format!("{}: {e}", doc.context())))?;
        secrets.push(secret);
    }
    if secrets.is_empty() {
        return Err(CliError::input("no SealedSecret found in the given files"));
    }
    let text = zeroize::Zeroizing::new(manifest::yaml_stream(&secrets)?);
    args.write.emit_private(&text)
}
