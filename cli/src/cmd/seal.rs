//! `sealant seal`: Secrets to SealedSecrets, or one raw value.

use std::io::Read;
use std::path::PathBuf;

use sealant_core::format::{self, Binding, Location, Scope};
use sealant_core::resource;
use sealant_core::{PublicKey, SealedSecret};
use zeroize::Zeroizing;

use super::{Namespaces, describe_keys, describe_namespaces, recipients};
use crate::cluster::{ControllerArgs, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::flags::OutputFile;
use crate::io;
use crate::manifest::{json_output, parse_secret, yaml_stream};

pub const AFTER_HELP: &str = "\
Examples:
  $ kubectl create secret generic db-creds --from-literal=password=s3cr3t --dry-run=client -o yaml \\
      | sealant seal --public-key cluster.pub > db-creds.sealed.yaml
  $ sealant seal -f secrets.yaml --public-key prod.pub --public-key dr.pub -w sealed.yaml
  $ sealant seal -f secret.json --scope namespace-wide -o json
  $ printf s3cr3t | sealant seal --raw --public-key k.pub -n prod --name db-creds --key password

Scopes: strict (default) binds namespace, name and key; namespace-wide binds namespace and key
(the SealedSecret may be renamed); cluster-wide binds only the key name.
Without --public-key the key is fetched from the controller in the current cluster.";

/// Output formats of `seal`.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Yaml,
    Json,
}

/// Arguments of `sealant seal`.
#[derive(clap::Args)]
pub struct SealArgs {
    /// Secret manifest(s) to seal, YAML or JSON, multi-document or `kind: List` (default: stdin).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Public key to seal to: a file, the `sealant-pub-v1:`/`sealant-pub-pq1:` line, or an
    /// `https://` URL serving it. Repeat for several clusters.
    #[arg(long = "public-key", value_name = "FILE_OR_KEY")]
    public_keys: Vec<String>,
    /// Where the sealed values may be opened: strict, namespace-wide or cluster-wide.
    #[arg(long, default_value = "strict", value_name = "SCOPE")]
    scope: Scope,
    /// Namespace for Secrets whose manifest has none (default: the kubeconfig context's, else
    /// `default`); must agree with manifests that have one.
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: OutputFormat,
    #[command(flatten)]
    write: OutputFile,
    /// Seal Secrets that have no data (refused by default: usually a mistake).
    #[arg(long)]
    allow_empty_data: bool,
    /// Seal one value (from --from-file or stdin) and print only the sealed string.
    #[arg(long, requires = "key")]
    raw: bool,
    /// With --raw: the SealedSecret's name (required for strict scope).
    #[arg(long, requires = "raw", value_name = "NAME")]
    name: Option<String>,
    /// With --raw: the key name the value will have in the Secret.
    #[arg(long, requires = "raw", value_name = "KEY")]
    key: Option<String>,
    /// With --raw: read the value from PATH instead of standard input.
    #[arg(long, requires = "raw", value_name = "PATH")]
    from_file: Option<PathBuf>,
    #[command(flatten)]
    controller: ControllerArgs,
}

/// Seals Secrets, or one raw value with `--raw`.
pub fn seal(kube: &KubeArgs, args: SealArgs) -> CliResult<()> {
    if args.raw {
        return seal_raw(kube, args);
    }
    if args.from_file.is_some() || args.name.is_some() {
        return Err(CliError::input("--name and --from-file go with --raw"));
    }
    // Read and check every input before asking the cluster for a key.
    let docs = io::read_documents(&args.files)?;
    if docs.is_empty() {
        return Err(CliError::input(format!(
            "{}: no Secret to seal (the input is empty)",
            input_name(&args.files)
        )));
    }
    let namespaces = Namespaces::new(args.namespace.clone(), kube);
    let mut secrets = Vec::with_capacity(docs.len());
    for doc in &docs {
        let secret = parse_secret(doc)?;
        let ctx = doc.context();
        if !args.allow_empty_data && secret.data.is_none() && secret.string_data.is_none() {
            return Err(
                CliError::input(format!("{ctx}: the Secret has no data or stringData"))
                    .hint("pass --allow-empty-data to seal it anyway"),
            );
        }
        let namespace = if args.scope == Scope::ClusterWide {
            namespaces
                .resolve(secret.metadata.namespace.as_deref(), &ctx)
                .map(|ns| {
                    // A cluster-wide SealedSecret keeps a namespace only if one was given.
                    if secret.metadata.namespace.is_some() || args.namespace.is_some() {
                        ns
                    } else {
                        String::new()
                    }
                })?
        } else {
            namespaces.resolve(secret.metadata.namespace.as_deref(), &ctx)?
        };
        secrets.push((ctx, secret, namespace));
    }
    let keys = recipients(&args.public_keys, kube, &args.controller)?;

    let sealed = seal_all(&secrets, args.scope, &keys)?;
    let text = match args.output {
        OutputFormat::Yaml => yaml_stream(&sealed)?,
        OutputFormat::Json => json_output(&sealed)?,
    };
    args.write.emit(&text)?;
    let values: usize = sealed.iter().map(|s| s.spec.encrypted_data.len()).sum();
    eprintln!(
        "sealed {} Secret(s), {values} value(s), for namespace {} ({} scope) to {}",
        sealed.len(),
        describe_namespaces(secrets.iter().map(|(_, _, ns)| ns.as_str())),
        args.scope,
        describe_keys(&keys)
    );
    Ok(())
}

/// Seals each Secret; with many values, on all cores (each value is independent).
fn seal_all(
    secrets: &[(String, k8s_openapi::api::core::v1::Secret, String)],
    scope: Scope,
    keys: &[PublicKey],
) -> CliResult<Vec<SealedSecret>> {
    let seal_one =
        |(ctx, secret, namespace): &(String, k8s_openapi::api::core::v1::Secret, String)| {
            resource::seal_secret(secret, namespace, scope, keys)
                .map_err(|e| CliError::input(format!("{ctx}: {e}")))
        };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if secrets.len() < 64 || threads == 1 {
        return secrets.iter().map(seal_one).collect();
    }
    let chunk = secrets.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = secrets
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(seal_one).collect::<CliResult<Vec<_>>>()))
            .collect();
        let mut out = Vec::with_capacity(secrets.len());
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| CliError::input("a sealing thread failed"))??;
            out.extend(part);
        }
        Ok(out)
    })
}

fn input_name(files: &[PathBuf]) -> String {
    match files {
        [one] => one.display().to_string(),
        [] => io::STDIN.to_string(),
        _ => "input".to_string(),
    }
}

/// `seal --raw`: one value to one sealed string.
fn seal_raw(kube: &KubeArgs, args: SealArgs) -> CliResult<()> {
    // Invariant: clap's `requires = "key"` on --raw guarantees --key is present.
    let key = args.key.clone().unwrap_or_default();
    let namespace = match (args.scope, &args.namespace) {
        (Scope::ClusterWide, ns) => ns.clone().unwrap_or_default(),
        (_, Some(ns)) => ns.clone(),
        (scope, None) => {
            return Err(CliError::input(format!(
                "--raw with {scope} scope needs --namespace"
            )));
        }
    };
    let name = match (args.scope, &args.name) {
        (Scope::Strict, None) => {
            return Err(CliError::input("--raw with strict scope needs --name"));
        }
        (_, name) => name.clone().unwrap_or_default(),
    };
    let binding = Binding::new(args.scope, &Location::new(namespace, name, key))
        .map_err(|e| CliError::input(format!("--raw: {e}")))?;
    let value = Zeroizing::new(match &args.from_file {
        Some(path) => std::fs::read(path)
            .map_err(|e| CliError::input(format!("{}: cannot read: {e}", path.display())))?,
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| CliError::input(format!("{}: cannot read: {e}", io::STDIN)))?;
            buf
        }
    });
    let keys = recipients(&args.public_keys, kube, &args.controller)?;
    let sealed = format::seal(&value, &binding, &keys)
        .map_err(|e| CliError::input(format!("--raw: {e}")))?;
    args.write.emit(&format!("{sealed}\n"))?;
    eprintln!(
        "sealed 1 value (key {}) for {} to {}",
        binding.key(),
        binding.describe_place(),
        describe_keys(&keys)
    );
    Ok(())
}
