//! `sealant seal`: Secrets to SealedSecrets, or one raw value.

use std::io::Read;
use std::path::PathBuf;

use sealant_core::format::{self, Binding, Location, Scope};
use sealant_core::{PublicKey, SealedSecret};
use zeroize::Zeroizing;

use super::{Namespaces, describe_keys, describe_namespaces, sealing_keys};
use crate::cluster::{ControllerArgs, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::flags::OutputFile;
use crate::io;
use crate::manifest::{self, json_output, parse_secret};
use crate::secret_input::SecretInput;
use crate::trust::{Rules, TrustedSet};

pub const AFTER_HELP: &str = "\
Examples:
  $ kubectl create secret generic db-creds --from-literal=password=s3cr3t --dry-run=client -o yaml \\
      | sealant seal --public-key cluster.pub > db-creds.sealed.yaml
  $ sealant seal -f secrets.yaml --public-key prod.pub --public-key dr.pub -w sealed.yaml
  $ sealant seal -f secret.json --scope namespace-wide -o json
  $ printf s3cr3t | sealant seal --raw --public-key k.pub -n prod --name db-creds --key password

Scopes: strict (default) binds namespace, name and key; namespace-wide binds namespace and key
(the SealedSecret may be renamed); cluster-wide binds only the key name.
Without --public-key, the recipient rule of .sealant.toml that matches the -w file (or the first
-f file) names the keys and the default scope (docs/recipient-rules.md); without either, the key
is fetched from the controller in the configured namespace of the current cluster.";

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
    #[arg(
        long = "public-key",
        value_name = "FILE_OR_KEY",
        env = "SEALANT_PUBLIC_KEY"
    )]
    public_keys: Vec<String>,
    /// Where the sealed values may be opened: strict, namespace-wide or cluster-wide (default:
    /// the recipient rule's scope, else strict).
    #[arg(long, value_name = "SCOPE")]
    scope: Option<Scope>,
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
    let target = args
        .write
        .path()
        .or_else(|| args.files.first().map(PathBuf::as_path))
        .filter(|p| p.as_os_str() != "-");
    let trusted = Rules::default().trusted_for(target, &args.public_keys)?;
    let scope = args
        .scope
        .or_else(|| trusted.as_ref().and_then(|t| t.scope))
        .unwrap_or(Scope::Strict);
    if args.raw {
        return seal_raw(kube, args, trusted, scope);
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
    let mut parsed = Vec::with_capacity(docs.len());
    for doc in &docs {
        let secret = parse_secret(doc)?;
        let ctx = doc.context();
        if !args.allow_empty_data && secret.data.is_none() && secret.string_data.is_none() {
            return Err(
                CliError::input(format!("{ctx}: the Secret has no data or stringData"))
                    .hint("pass --allow-empty-data to seal it anyway"),
            );
        }
        let namespace = if scope == Scope::ClusterWide {
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
        parsed.push((ctx, secret, namespace));
    }
    let (_, keys) = sealing_keys(trusted, kube, &args.controller)?;

    // Everything that can be wrong with the input is found before the first byte is written.
    let secrets = parsed
        .into_iter()
        .map(|(ctx, secret, namespace)| SecretInput::new(ctx, secret, namespace, scope))
        .collect::<CliResult<Vec<_>>>()?;
    match args.output {
        OutputFormat::Yaml => match args.write.path() {
            Some(path) => {
                io::write_atomic_with(path, false, true, |out| seal_stream(&secrets, &keys, out))?
            }
            None => {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                seal_stream(&secrets, &keys, &mut out)?;
                std::io::Write::flush(&mut out).map_err(|e| {
                    CliError::input(format!("cannot write to standard output: {e}"))
                })?;
            }
        },
        OutputFormat::Json => {
            let mut sealed: Vec<SealedSecret> = Vec::with_capacity(secrets.len());
            in_order(
                &secrets,
                |_, part| {
                    part.iter()
                        .map(|secret| secret.seal(&keys))
                        .collect::<CliResult<Vec<_>>>()
                },
                |part| {
                    sealed.extend(part);
                    Ok(())
                },
            )?;
            args.write.emit(&json_output(&sealed)?)?;
        }
    }
    let values: usize = secrets.iter().map(SecretInput::value_count).sum();
    eprintln!(
        "sealed {} Secret(s), {values} value(s), for namespace {} ({} scope) to {}",
        secrets.len(),
        describe_namespaces(secrets.iter().map(SecretInput::namespace)),
        scope,
        describe_keys(&keys)
    );
    Ok(())
}

/// Secrets per unit of work: small enough to spread 1,000 Secrets over every core and to keep
/// little output in memory, large enough that handing work out costs nothing next to sealing.
const CHUNK: usize = 16;
/// Below this many values one core is faster than starting threads.
const PARALLEL_FROM_VALUES: usize = 48;

/// Seals the Secrets and writes them as a YAML stream in input order, writing each chunk as soon
/// as it and those before it are done.
fn seal_stream(
    secrets: &[SecretInput],
    keys: &[PublicKey],
    out: &mut dyn std::io::Write,
) -> CliResult<()> {
    in_order(
        secrets,
        |index, part| {
            let mut text = String::new();
            for (j, secret) in part.iter().enumerate() {
                let sealed = secret.seal(keys)?;
                if index > 0 || j > 0 {
                    text.push_str("---\n");
                }
                text.push_str(&manifest::to_yaml(&sealed)?);
            }
            Ok(text)
        },
        |text| {
            out.write_all(text.as_bytes())
                .map_err(|e| CliError::input(format!("cannot write the output: {e}")))
        },
    )
}

/// Runs `work` on chunks of the Secrets, on every core when there are enough values to pay for
/// the threads (each value is independent), and hands the results to `sink` in input order, each
/// as soon as those before it are done.
fn in_order<R: Send>(
    secrets: &[SecretInput],
    work: impl Fn(usize, &[SecretInput]) -> CliResult<R> + Sync,
    mut sink: impl FnMut(R) -> CliResult<()>,
) -> CliResult<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let chunks: Vec<&[SecretInput]> = secrets.chunks(CHUNK).collect();
    let values: usize = secrets.iter().map(SecretInput::value_count).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.len());
    if values < PARALLEL_FROM_VALUES || threads <= 1 {
        for (i, part) in chunks.iter().enumerate() {
            sink(work(i, part)?)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, CliResult<R>)>();
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, chunks, work) = (&next, &chunks, &work);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(part) = chunks.get(i) else { break };
                    if tx.send((i, work(i, part))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Chunks finish out of order; each goes to the sink once those before it have.
        let mut pending = std::collections::BTreeMap::new();
        let mut done = 0usize;
        let stop = |next: &AtomicUsize| next.store(chunks.len(), Ordering::Relaxed);
        for (i, result) in rx {
            match result {
                Ok(part) => {
                    pending.insert(i, part);
                }
                Err(e) => {
                    stop(&next);
                    return Err(e);
                }
            }
            while let Some(part) = pending.remove(&done) {
                if let Err(e) = sink(part) {
                    stop(&next);
                    return Err(e);
                }
                done += 1;
            }
        }
        if done == chunks.len() {
            Ok(())
        } else {
            Err(CliError::input("a sealing thread failed"))
        }
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
fn seal_raw(
    kube: &KubeArgs,
    args: SealArgs,
    trusted: Option<TrustedSet>,
    scope: Scope,
) -> CliResult<()> {
    // Invariant: clap's `requires = "key"` on --raw guarantees --key is present.
    let key = args.key.clone().unwrap_or_default();
    let namespace = match (scope, &args.namespace) {
        (Scope::ClusterWide, ns) => ns.clone().unwrap_or_default(),
        (_, Some(ns)) => ns.clone(),
        (scope, None) => {
            return Err(CliError::input(format!(
                "--raw with {scope} scope needs --namespace"
            )));
        }
    };
    let name = match (scope, &args.name) {
        (Scope::Strict, None) => {
            return Err(CliError::input("--raw with strict scope needs --name"));
        }
        (_, name) => name.clone().unwrap_or_default(),
    };
    let binding = Binding::new(scope, &Location::new(namespace, name, key))
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
    let (_, keys) = sealing_keys(trusted, kube, &args.controller)?;
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
