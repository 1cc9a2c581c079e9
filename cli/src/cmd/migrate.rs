//! `sealant migrate`: bitnami sealed-secrets SealedSecrets to sealant ones, offline.

use std::path::PathBuf;

use sealant_core::PublicKey;

use crate::error::{CliError, CliResult};
use crate::io;
use crate::migrate::{self, BackupKey};

pub const AFTER_HELP: &str = "\
Examples:
  $ kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml \\
      > bitnami-keys.yaml
  $ sealant migrate --sealed-secrets-keys bitnami-keys.yaml --public-key sealant.pub -w *.yaml
  $ sealant migrate --sealed-secrets-keys bitnami-keys.yaml \\
      --public-key prod.pub --public-key dr.pub db.yaml > db.sealant.yaml

Each bitnami value is opened with the backed-up keys exactly as bitnami's controller opens it
and sealed again, with the same scope, to the sealant public keys; which backup key opened which
value is reported on standard error. Other documents are kept, but files are written from their
parsed form: YAML comments are not kept. Nothing is written unless every file migrates, and with
-w each file is replaced atomically. Plaintext never touches the disk.";

/// Arguments of `sealant migrate`.
#[derive(clap::Args)]
pub struct MigrateArgs {
    /// Files with bitnami SealedSecrets (YAML or JSON, multi-document, kind List); `-` is stdin.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// bitnami's key backup: `kubectl get secret -n kube-system -l
    /// sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`, or a PEM RSA private key; repeatable.
    #[arg(long = "sealed-secrets-keys", value_name = "KEYS", required = true)]
    backups: Vec<PathBuf>,
    /// sealant public key to seal to (file or the key line); repeatable, one per cluster.
    #[arg(long = "public-key", value_name = "FILE_OR_KEY", required = true)]
    public_keys: Vec<String>,
    /// Rewrite the files in place (atomically) instead of printing the result.
    #[arg(short = 'w', long = "in-place")]
    in_place: bool,
}

/// Migrates every file in memory, then writes them all (or prints them).
pub fn migrate(args: MigrateArgs) -> CliResult<()> {
    if args.in_place && args.files.iter().any(|f| f.as_os_str() == "-") {
        return Err(
            CliError::input("-w: standard input cannot be rewritten in place")
                .hint("pass files, or drop -w to print the result"),
        );
    }
    let mut keys: Vec<BackupKey> = Vec::new();
    for backup in &args.backups {
        keys.extend(migrate::load_backup(backup)?);
    }
    let recipients: Vec<PublicKey> = args
        .public_keys
        .iter()
        .map(|a| io::load_public_key(a))
        .collect::<CliResult<_>>()?;

    let sources = io::read_sources(&args.files)?;
    let mut outputs = Vec::with_capacity(sources.len());
    for source in &sources {
        outputs.push(migrate::migrate_source(source, &keys, &recipients)?);
    }

    let mut total = 0usize;
    for (source, output) in sources.iter().zip(&outputs) {
        if output.reports.is_empty() {
            eprintln!("{}: no bitnami SealedSecret, left as it is", source.name);
        }
        for report in &output.reports {
            eprintln!("{}", report.line());
        }
        total += output.reports.len();
    }
    if args.in_place {
        for (path, output) in args.files.iter().zip(&outputs) {
            if !output.reports.is_empty() {
                io::write_atomic(path, output.text.as_bytes(), false, true)?;
            }
        }
    } else {
        let texts: Vec<&str> = outputs.iter().map(|o| o.text.as_str()).collect();
        io::emit(None, &texts.join("---\n"))?;
    }
    eprintln!(
        "migrated {total} SealedSecret{} to {} public key{}",
        if total == 1 { "" } else { "s" },
        recipients.len(),
        if recipients.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
