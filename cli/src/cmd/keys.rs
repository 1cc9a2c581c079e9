//! `sealant keys backup` and `sealant keys restore`: the controller's key Secrets to a private
//! file and back, without the plaintext copies `kubectl get -o yaml` / `kubectl apply` leave
//! behind (server-managed fields, the `last-applied-configuration` annotation).

use std::path::PathBuf;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{ListParams, PostParams};
use sealant_core::resource::{
    LAST_APPLIED_ANNOTATION, PRIVATE_KEY_DATA, PUBLIC_KEY_DATA, SEALING_KEY_LABEL,
};
use sealant_core::{PrivateKey, PublicKey};
use serde_yaml::Value;
use zeroize::{Zeroize, Zeroizing};

use crate::cluster::{self, ControllerArgs, DEFAULT_CONTROLLER_NAMESPACE, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::io::{self, Doc};

pub const BACKUP_AFTER_HELP: &str = "\
Examples:
  $ sealant keys backup -w keys-backup.yaml
  $ sealant keys backup --controller-namespace kube-system --context prod -w prod-keys.yaml

Reads the controller's key Secrets (label sealant.dev/sealing-key) with the current kubeconfig and
writes them as one `kind: List` to FILE, atomically and with mode 0600. Only what a restore needs
is kept: name, namespace, labels, annotations (never kubectl's last-applied-configuration), type
and data. The file holds private keys: encrypt it (age, gpg) and keep it off the cluster and out
of git. `sealant recover --private-key FILE` and `sealant reencrypt --private-key FILE` read it.";

pub const RESTORE_AFTER_HELP: &str = "\
Examples:
  $ sealant keys restore keys-backup.yaml
  $ sealant keys restore --controller-namespace sealant-system --context dr keys-backup.yaml

Creates each key Secret of the backup (with no last-applied-configuration annotation, so the
private key is stored once). A Secret that already exists with the same key is left as it is, so
restoring twice is harmless; one that exists with a different key is refused, and then nothing
is created. Restore before the controller first starts in a new cluster, or into a running one
(every replica picks restored keys up through its watch).";

/// Arguments of `sealant keys`.
#[derive(clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(clap::Subcommand)]
enum KeysCommand {
    /// Write the controller's key Secrets to a private file (mode 0600, atomically).
    #[command(after_help = BACKUP_AFTER_HELP)]
    Backup(BackupArgs),
    /// Create the key Secrets of a backup file in the cluster, refusing to replace another key.
    #[command(after_help = RESTORE_AFTER_HELP)]
    Restore(RestoreArgs),
}

/// Arguments of `sealant keys backup`.
#[derive(clap::Args)]
struct BackupArgs {
    /// The file to write the key Secrets to (atomically, mode 0600). Required: private keys are
    /// never printed to standard output.
    #[arg(short = 'w', long = "write", value_name = "FILE", required = true)]
    write: PathBuf,
    #[command(flatten)]
    controller: ControllerArgs,
}

/// Arguments of `sealant keys restore`.
#[derive(clap::Args)]
struct RestoreArgs {
    /// The backup written by `sealant keys backup` (or key Secrets as `kubectl get -o yaml`
    /// prints them).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    controller: ControllerArgs,
}

/// Runs `sealant keys ...`.
pub fn keys(kube: &KubeArgs, args: KeysArgs) -> CliResult<()> {
    match args.command {
        KeysCommand::Backup(args) => backup(kube, &args),
        KeysCommand::Restore(args) => restore(kube, &args),
    }
}

/// Key Secrets whose data is wiped when dropped.
struct KeySecrets(Vec<Secret>);

impl Drop for KeySecrets {
    fn drop(&mut self) {
        for secret in &mut self.0 {
            wipe(secret);
        }
    }
}

fn wipe(secret: &mut Secret) {
    for (_, ByteString(bytes)) in secret.data.iter_mut().flatten() {
        bytes.zeroize();
    }
}

fn backup(kube: &KubeArgs, args: &BackupArgs) -> CliResult<()> {
    let (namespace, secrets) = cluster::block_on(read_key_secrets(kube, &args.controller))??;
    if secrets.0.is_empty() {
        return Err(CliError::input(format!(
            "no key Secrets (label {SEALING_KEY_LABEL}) in namespace {namespace}"
        ))
        .hint("check --controller-namespace and --context; the controller creates its first key when it starts"));
    }
    let mut ids = Vec::new();
    let mut clean = KeySecrets(Vec::with_capacity(secrets.0.len()));
    for secret in &secrets.0 {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let ctx = format!("Secret {namespace}/{name}");
        let key = key_of(secret, &ctx)?;
        ids.push(format!("{name} ({})", key.id()));
        clean.0.push(restorable(secret, &namespace));
    }
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": &clean.0,
    });
    let text = Zeroizing::new(
        serde_yaml::to_string(&list)
            .map_err(|e| CliError::input(format!("cannot encode the backup: {e}")))?,
    );
    let header = "# sealant key backup: PRIVATE KEYS. Encrypt this file; never commit it.\n";
    let mut contents = Zeroizing::new(String::with_capacity(header.len() + text.len()));
    contents.push_str(header);
    contents.push_str(&text);
    // The JSON value also holds a copy of the key bytes.
    drop(list);
    io::write_atomic(&args.write, contents.as_bytes(), true, true)?;
    eprintln!(
        "backed up {} key(s) from namespace {namespace} to {} (mode 0600): {}",
        ids.len(),
        args.write.display(),
        ids.join(", ")
    );
    Ok(())
}

/// The namespace and the key Secrets in it.
async fn read_key_secrets(
    kube: &KubeArgs,
    controller: &ControllerArgs,
) -> CliResult<(String, KeySecrets)> {
    let client = kube.client().await?;
    let namespace = cluster::find_controller_namespace(kube, &client, controller).await?;
    let api: Api<Secret> = Api::namespaced(client, &namespace);
    let list = api
        .list(&ListParams::default().labels(SEALING_KEY_LABEL))
        .await
        .map_err(|e| {
            CliError::input(format!(
                "cannot list the key Secrets in namespace {namespace}: {}",
                cluster::api_message(&e)
            ))
            .hint("reading keys needs get/list on Secrets in the controller's namespace")
        })?;
    Ok((namespace, KeySecrets(list.items)))
}

/// The private key a key Secret holds, checked against its public key.
fn key_of(secret: &Secret, ctx: &str) -> CliResult<PrivateKey> {
    let data = secret.data.as_ref();
    let private = data
        .and_then(|d| d.get(PRIVATE_KEY_DATA))
        .ok_or_else(|| CliError::input(format!("{ctx}: data.{PRIVATE_KEY_DATA}: missing")))?;
    let text = std::str::from_utf8(&private.0)
        .map_err(|_| CliError::input(format!("{ctx}: data.{PRIVATE_KEY_DATA}: not UTF-8")))?;
    let key = PrivateKey::from_file_text(text)
        .map_err(|e| CliError::input(format!("{ctx}: data.{PRIVATE_KEY_DATA}: {e}")))?;
    if let Some(public) = data.and_then(|d| d.get(PUBLIC_KEY_DATA)) {
        let line = std::str::from_utf8(&public.0).unwrap_or_default();
        let parsed = PublicKey::from_file_text(line)
            .map_err(|e| CliError::input(format!("{ctx}: data.{PUBLIC_KEY_DATA}: {e}")))?;
        if &parsed != key.public() {
            return Err(CliError::input(format!(
                "{ctx}: data.{PUBLIC_KEY_DATA} is not the public key of data.{PRIVATE_KEY_DATA}"
            )));
        }
    }
    Ok(key)
}

/// Only what a restore needs: no uid, resourceVersion, timestamps, managed fields, owner
/// references, or last-applied copy.
fn restorable(secret: &Secret, namespace: &str) -> Secret {
    let annotations = secret.metadata.annotations.clone().map(|mut a| {
        a.remove(LAST_APPLIED_ANNOTATION);
        a
    });
    Secret {
        metadata: ObjectMeta {
            name: secret.metadata.name.clone(),
            namespace: Some(namespace.to_string()),
            labels: secret.metadata.labels.clone(),
            annotations: annotations.filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        },
        type_: secret.type_.clone(),
        data: secret.data.clone(),
        ..Secret::default()
    }
}

fn restore(kube: &KubeArgs, args: &RestoreArgs) -> CliResult<()> {
    let mut source = io::read_file(&args.file)?;
    let docs = io::documents(&source);
    source.text.zeroize();
    let default_namespace = args
        .controller
        .controller_namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_CONTROLLER_NAMESPACE.to_string());
    let mut secrets = KeySecrets(Vec::new());
    let mut ids = Vec::new();
    for doc in docs? {
        let secret = key_secret_of(&doc, &default_namespace)?;
        let key = key_of(&secret, &doc.context())?;
        ids.push(key.public().clone());
        secrets.0.push(secret);
    }
    if secrets.0.is_empty() {
        return Err(CliError::input(format!(
            "{}: no key Secrets in the file",
            args.file.display()
        )));
    }
    let outcome = cluster::block_on(create_all(kube, &secrets.0, &ids))??;
    for line in &outcome {
        eprintln!("{line}");
    }
    Ok(())
}

/// Reads one document of a backup as a key Secret to create.
fn key_secret_of(doc: &Doc, default_namespace: &str) -> CliResult<Secret> {
    let ctx = doc.context();
    if doc.kind() != "Secret" {
        return Err(CliError::input(format!("{ctx}: expected key Secrets only")));
    }
    let mut secret: Secret = serde_yaml::from_value(doc.value.clone())
        .map_err(|e| CliError::input(format!("{ctx}: not a valid Secret: {e}")))?;
    let name = secret
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| CliError::input(format!("{ctx}: metadata.name: missing")))?;
    let labelled = secret
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(SEALING_KEY_LABEL));
    if !labelled {
        wipe(&mut secret);
        return Err(CliError::input(format!(
            "{ctx}: metadata.labels: no {SEALING_KEY_LABEL} label, so {name} is not a key Secret"
        )));
    }
    if doc
        .value
        .get("stringData")
        .is_some_and(|v| !matches!(v, Value::Null))
    {
        wipe(&mut secret);
        return Err(CliError::input(format!(
            "{ctx}: stringData: a key backup holds data only"
        )));
    }
    let namespace = secret
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| default_namespace.to_string());
    let clean = restorable(&secret, &namespace);
    wipe(&mut secret);
    Ok(clean)
}

/// Creates every Secret that is missing, after checking that none exists with another key.
async fn create_all(
    kube: &KubeArgs,
    secrets: &[Secret],
    keys: &[PublicKey],
) -> CliResult<Vec<String>> {
    let client = kube.client().await?;
    let mut missing = Vec::new();
    let mut lines = Vec::new();
    for (secret, key) in secrets.iter().zip(keys) {
        let namespace = secret.metadata.namespace.clone().unwrap_or_default();
        let name = secret.metadata.name.clone().unwrap_or_default();
        let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        let existing = api.get_opt(&name).await.map_err(|e| {
            CliError::input(format!(
                "cannot read Secret {namespace}/{name}: {}",
                cluster::api_message(&e)
            ))
        })?;
        match existing {
            None => missing.push((api, secret, key)),
            Some(mut found) => {
                let ctx = format!("Secret {namespace}/{name} in the cluster");
                let same = key_of(&found, &ctx).is_ok_and(|k| k.public() == key);
                wipe(&mut found);
                if !same {
                    return Err(CliError::input(format!(
                        "{ctx} already exists and does not hold key {} from the backup; nothing was restored",
                        key.id()
                    ))
                    .hint("restore into another namespace (--controller-namespace), or delete that Secret after backing it up"));
                }
                lines.push(format!(
                    "unchanged: Secret {namespace}/{name} already holds key {}",
                    key.id()
                ));
            }
        }
    }
    for (api, secret, key) in missing {
        let namespace = secret.metadata.namespace.clone().unwrap_or_default();
        let name = secret.metadata.name.clone().unwrap_or_default();
        let mut created = api
            .create(&PostParams::default(), secret)
            .await
            .map_err(|e| {
                CliError::input(format!(
                    "cannot create Secret {namespace}/{name}: {}",
                    cluster::api_message(&e)
                ))
            })?;
        wipe(&mut created);
        lines.push(format!(
            "created: Secret {namespace}/{name} with key {}",
            key.id()
        ));
    }
    Ok(lines)
}
