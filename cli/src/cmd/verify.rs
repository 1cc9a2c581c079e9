//! `sealant verify`: checks SealedSecrets without opening them (offline), or asks the controller.

use std::path::PathBuf;

use sealant_core::format::{Location, check_location};
use sealant_core::{Envelope, PublicKey, SealedSecret};

use super::Namespaces;
use crate::cluster::{self, ControllerArgs, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::io;
use crate::manifest::parse_sealed_secret;

pub const AFTER_HELP: &str = "\
Examples:
  $ sealant verify --public-key prod.pub sealed/*.yaml
  $ sealant verify --public-key prod.pub --public-key dr.pub db-creds.sealed.yaml
  $ sealant verify --online db-creds.sealed.yaml

Offline, each value must parse, be sealed for where its SealedSecret sits (namespace, name and
key, as its scope requires) and, for each --public-key, be sealed to that key. Documents of other
kinds are skipped. Exit 1 when any value fails, 2 when an input cannot be read.";

/// Arguments of `sealant verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// SealedSecret files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A key every value must be sealed to (file or `sealant-pub-v1:` line); repeatable.
    #[arg(long = "public-key", value_name = "FILE_OR_KEY")]
    public_keys: Vec<String>,
    /// Namespace for SealedSecrets whose manifest has none (default: the kubeconfig context's).
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    /// Ask the controller (POST /v1/verify) whether it can open each SealedSecret.
    #[arg(long, conflicts_with = "public_keys")]
    online: bool,
    #[command(flatten)]
    controller: ControllerArgs,
}

/// Checks every value of every SealedSecret and prints one line per value.
pub fn verify(kube: &KubeArgs, args: VerifyArgs) -> CliResult<()> {
    let keys: Vec<(String, PublicKey)> = args
        .public_keys
        .iter()
        .map(|arg| io::load_public_key(arg).map(|k| (arg.clone(), k)))
        .collect::<CliResult<_>>()?;
    let namespaces = Namespaces::new(args.namespace.clone(), kube);
    let mut checked = 0usize;
    let mut failed = 0usize;
    for file in &args.files {
        let source = io::read_file(file)?;
        for doc in io::documents(&source)? {
            if doc.kind() != "SealedSecret" {
                eprintln!("{}: skipped (not a SealedSecret)", doc.context());
                continue;
            }
            let mut sealed = parse_sealed_secret(&doc)?;
            let namespace =
                namespaces.resolve(sealed.metadata.namespace.as_deref(), &doc.context())?;
            sealed.metadata.namespace = Some(namespace.clone());
            let name = sealed.metadata.name.clone().unwrap_or_default();
            let place = format!("{}: {namespace}/{name}", source.name);
            if args.online {
                checked += 1;
                if let Err(message) = verify_online(kube, &args.controller, &sealed)? {
                    failed += 1;
                    println!("{place}: FAILED: {message}");
                } else {
                    println!("{place}: ok (the controller can open every value)");
                }
                continue;
            }
            for (key, text) in &sealed.spec.encrypted_data {
                checked += 1;
                let at = Location::new(namespace.as_str(), name.as_str(), key.as_str());
                match check_value(text, &at, &keys) {
                    Ok(summary) => println!("{place}: {key}: ok ({summary})"),
                    Err(message) => {
                        failed += 1;
                        println!("{place}: {key}: FAILED: {message}");
                    }
                }
            }
        }
    }
    if checked == 0 {
        return Err(CliError::input(
            "no SealedSecret values found in the given files",
        ));
    }
    if failed > 0 {
        return Err(CliError::failed(format!(
            "{failed} of {checked} checks failed"
        )));
    }
    eprintln!("{checked} checks passed");
    Ok(())
}

/// Checks one value offline and summarises it: scope and key ids.
fn check_value(text: &str, at: &Location, keys: &[(String, PublicKey)]) -> Result<String, String> {
    let envelope =
        Envelope::from_base64(text).map_err(|e| format!("not a valid sealed value: {e}"))?;
    check_location(&envelope, at).map_err(|e| e.to_string())?;
    let ids = envelope.key_ids();
    for (arg, key) in keys {
        if !ids.contains(&key.id()) {
            return Err(format!(
                "not sealed for key {} ({arg}); sealed for {}",
                key.id(),
                ids.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(format!(
        "{}, key{} {}",
        envelope.binding.scope(),
        if ids.len() == 1 { "" } else { "s" },
        ids.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Asks the controller; `Ok(Err(message))` is a verification failure.
fn verify_online(
    kube: &KubeArgs,
    controller: &ControllerArgs,
    sealed: &SealedSecret,
) -> CliResult<Result<(), String>> {
    let body = serde_json::to_vec(sealed)
        .map_err(|e| CliError::input(format!("cannot encode the request: {e}")))?;
    let (code, text) = cluster::block_on(cluster::controller_post(
        kube,
        controller,
        "/v1/verify",
        body,
    ))??;
    Ok(if code == 200 { Ok(()) } else { Err(text) })
}
