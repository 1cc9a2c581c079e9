//! `sealant keys backup` and `sealant keys restore`: the controller's key Secrets to a private
//! file and back, without the plaintext copies `kubectl get -o yaml` / `kubectl apply` leave
//! behind (server-managed fields, the `last-applied-configuration` annotation).

use std::path::PathBuf;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ListParams, PostParams};
use sealant_core::key_secret::{self, BACKUP_HEADER, KeyState, SEALING_KEY_LABEL};
use sealant_core::{PrivateKey, PublicKey};
use zeroize::{Zeroize, Zeroizing};

use crate::cluster::{self, ControllerArgs, KubeArgs};
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
private key is stored once), only in the controller's namespace. Every document must be a sealant
key Secret with the exact key layout (label sealant.dev/sealing-key active|retired, annotation
sealant.dev/created-at not in the future, type Opaque, data private-key and the matching
public-key, nothing else); anything else is refused by name and nothing is written. The plan (key
ids, fingerprints, dates, which key will be the newest) is printed first; without a terminal,
--yes is required. A restored key that would become the newest sealing key of a cluster that
already has keys needs --make-newest. A Secret that already exists with the same key is left as
it is, so restoring twice is harmless; one that exists with a different key is refused, and then
nothing is created. Restore before the controller first starts in a new cluster, or into a
running one (every replica picks restored keys up through its watch).";

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
    /// Restore without asking (required when standard input is not a terminal).
    #[arg(long)]
    yes: bool,
    /// Allow a restored key to become the newest sealing key of a cluster that has keys already
    /// (by default that is refused: new values would be sealed to the restored key).
    #[arg(long)]
    make_newest: bool,
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
        clean.0.push(key_secret::restorable(secret, &namespace));
    }
    let list = key_secret::backup_list(&clean.0);
    let text = Zeroizing::new(
        serde_yaml::to_string(&list)
            .map_err(|e| CliError::input(format!("cannot encode the backup: {e}")))?,
    );
    let mut contents = Zeroizing::new(String::with_capacity(BACKUP_HEADER.len() + text.len()));
    contents.push_str(BACKUP_HEADER);
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
    let namespace = cluster::controller_namespace(controller)?;
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
    key_secret::checked_private_key(secret).map_err(|e| CliError::input(format!("{ctx}: {e}")))
}

fn restore(kube: &KubeArgs, args: &RestoreArgs) -> CliResult<()> {
    let mut source = io::read_file(&args.file)?;
    let docs = io::documents(&source);
    source.text.zeroize();
    let docs = docs?;
    // One runtime for the client and every request: its connection worker lives there.
    let outcome = cluster::block_on(async {
        let client = kube.client().await?;
        let namespace = cluster::controller_namespace(&args.controller)?;
        let now = jiff::Timestamp::now();
        let mut secrets = KeySecrets(Vec::new());
        let mut planned = Vec::new();
        for doc in &docs {
            let (secret, key) = key_secret_of(doc, &namespace, now)?;
            planned.push(key);
            secrets.0.push(secret);
        }
        if secrets.0.is_empty() {
            return Err(CliError::input(format!(
                "{}: no key Secrets in the file",
                args.file.display()
            )));
        }
        restore_plan(client, &namespace, &secrets.0, &planned, args).await
    })??;
    for line in &outcome {
        eprintln!("{line}");
    }
    Ok(())
}

/// A key of the backup, as the plan shows it.
struct PlannedKey {
    public: PublicKey,
    created_at: Option<jiff::Timestamp>,
    active: bool,
}

/// How far ahead of this machine's clock a key's creation date may be (clock skew), as the
/// controller allows.
const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(300);

/// Reads one document of a backup as a key Secret to create in `namespace`: a Secret with the
/// exact layout the controller writes, a private key whose public half matches, and no creation
/// date in the future. Anything else is refused with the document and field named.
fn key_secret_of(
    doc: &Doc,
    namespace: &str,
    now: jiff::Timestamp,
) -> CliResult<(Secret, PlannedKey)> {
    let ctx = doc.context();
    if doc.kind() != "Secret" {
        return Err(CliError::input(format!(
            "{ctx}: expected key Secrets only; nothing was restored"
        )));
    }
    let mut secret: Secret = serde_yaml::from_value(doc.value.clone())
        .map_err(|e| CliError::input(format!("{ctx}: not a valid Secret: {e}")))?;
    let result = check_key_layout(doc, &secret, namespace, now);
    let planned = match result {
        Ok(planned) => planned,
        Err(e) => {
            wipe(&mut secret);
            return Err(CliError::input(format!("{e}; nothing was restored"))
                .hint("a backup holds only the controller's key Secrets (sealant keys backup writes it); check where this file came from"));
        }
    };
    let clean = key_secret::restorable(&secret, namespace);
    wipe(&mut secret);
    Ok((clean, planned))
}

/// The layout checks of one key Secret: in the controller's namespace, and the exact layout of
/// [`key_secret::check_layout`] with a creation date no later than the clock skew allows.
fn check_key_layout(
    doc: &Doc,
    secret: &Secret,
    namespace: &str,
    now: jiff::Timestamp,
) -> CliResult<PlannedKey> {
    let ctx = doc.context();
    let meta = &secret.metadata;
    let name = meta
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| CliError::input(format!("{ctx}: metadata.name: missing")))?;
    if let Some(ns) = &meta.namespace
        && ns != namespace
    {
        return Err(CliError::input(format!(
            "{ctx}: metadata.namespace: {name} is in '{ns}', but keys are restored only into the controller's namespace '{namespace}'"
        )));
    }
    let checked = key_secret::check_layout(secret, now + CLOCK_SKEW)
        .map_err(|e| CliError::input(format!("{ctx}: {e}")))?;
    Ok(PlannedKey {
        public: checked.public,
        created_at: checked.created_at,
        active: checked.state == KeyState::Active,
    })
}

/// Checks the backup against the cluster, prints the plan, asks (or needs `--yes`), and creates
/// the missing Secrets. Nothing is written unless every check passed.
async fn restore_plan(
    client: kube::Client,
    namespace: &str,
    secrets: &[Secret],
    planned: &[PlannedKey],
    args: &RestoreArgs,
) -> CliResult<Vec<String>> {
    let api: Api<Secret> = Api::namespaced(client, namespace);
    // The keys already in the cluster, for the "which will be newest" line.
    let mut existing = cluster_keys(&api, namespace).await?;
    let mut missing = Vec::new();
    let mut lines = Vec::new();
    for (secret, key) in secrets.iter().zip(planned) {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let found = existing.iter().find(|(n, _, _)| *n == name);
        match found {
            None => missing.push((secret, key)),
            Some((_, public, _)) => {
                if public.as_ref() != Some(&key.public) {
                    return Err(CliError::input(format!(
                        "Secret {namespace}/{name} in the cluster already exists and does not hold key {} from the backup; nothing was restored",
                        key.public.id()
                    ))
                    .hint("restore into another namespace (--controller-namespace), or delete that Secret after backing it up"));
                }
                lines.push(format!(
                    "unchanged: Secret {namespace}/{name} already holds key {}",
                    key.public.id()
                ));
            }
        }
    }
    if missing.is_empty() {
        return Ok(lines);
    }
    let now = jiff::Timestamp::now();
    let newest_before = newest(existing.iter().map(|(_, p, at)| (p.clone(), *at)));
    let mut plan = vec![format!(
        "restore plan for namespace {namespace} ({} to create):",
        missing.len()
    )];
    for (secret, key) in &missing {
        let name = secret.metadata.name.clone().unwrap_or_default();
        plan.push(format!(
            "  create Secret {namespace}/{name}: key {} ({}), {}, created {}",
            key.public.id(),
            key.public.key_type(),
            if key.active { "active" } else { "retired" },
            key.created_at
                .map_or_else(|| "(no date: counts as now)".to_string(), |t| t.to_string())
        ));
        if key.active {
            existing.push((
                name,
                Some(key.public.clone()),
                Some(key.created_at.unwrap_or(now)),
            ));
        }
    }
    let newest_after = newest(existing.iter().map(|(_, p, at)| (p.clone(), *at)));
    let restored_newest = newest_after.as_ref().filter(|after| {
        missing.iter().any(|(_, k)| k.public.id() == after.id())
            && newest_before.as_ref().map(PublicKey::id) != Some(after.id())
    });
    match (&newest_after, restored_newest) {
        (Some(after), Some(_)) => plan.push(format!(
            "  newest sealing key after the restore: {} ({}), a RESTORED key",
            after.id(),
            after.key_type()
        )),
        (Some(after), None) => plan.push(format!(
            "  newest sealing key after the restore: {} ({}), unchanged",
            after.id(),
            after.key_type()
        )),
        (None, _) => plan.push("  no active key after the restore".to_string()),
    }
    for line in &plan {
        eprintln!("{line}");
    }
    if let (Some(before), Some(after)) = (&newest_before, restored_newest)
        && !args.make_newest
    {
        return Err(CliError::input(format!(
            "restored key {} would become the newest sealing key in place of {}; nothing was restored",
            after.id(),
            before.id()
        ))
        .hint("pass --make-newest if new values should be sealed to the restored key"));
    }
    confirm(args.yes)?;
    for (secret, key) in missing {
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
            key.public.id()
        ));
    }
    Ok(lines)
}

/// The key Secrets in the cluster: name, public key (if readable) and, for active keys, the
/// creation date that counts (annotation, else the server's creation time).
async fn cluster_keys(
    api: &Api<Secret>,
    namespace: &str,
) -> CliResult<Vec<(String, Option<PublicKey>, Option<jiff::Timestamp>)>> {
    let list = api
        .list(&ListParams::default().labels(SEALING_KEY_LABEL))
        .await
        .map_err(|e| {
            CliError::input(format!(
                "cannot list the key Secrets in namespace {namespace}: {}",
                cluster::api_message(&e)
            ))
            .hint("restoring keys needs get/list/create on Secrets in the controller's namespace")
        })?;
    let mut keys = KeySecrets(list.items);
    let mut out = Vec::with_capacity(keys.0.len());
    for secret in &mut keys.0 {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let public = key_of(secret, &name).ok().map(|k| k.public().clone());
        let active = key_secret::state(secret) == Some(KeyState::Active);
        let created = key_secret::created_at(secret).ok().flatten().or_else(|| {
            secret
                .metadata
                .creation_timestamp
                .as_ref()
                .and_then(|t| t.0.to_string().parse().ok())
        });
        out.push((name, public, if active { created } else { None }));
    }
    Ok(out)
}

/// The newest active key: the latest creation date (inactive keys have none).
fn newest(
    keys: impl Iterator<Item = (Option<PublicKey>, Option<jiff::Timestamp>)>,
) -> Option<PublicKey> {
    keys.filter_map(|(public, at)| Some((at?, public?)))
        .max_by_key(|(at, _)| *at)
        .map(|(_, public)| public)
}

/// Asks on a terminal; without one, `--yes` is required.
fn confirm(yes: bool) -> CliResult<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::input(
            "not on a terminal, so the plan above cannot be confirmed; nothing was restored",
        )
        .hint("check the plan, then run again with --yes"));
    }
    eprint!("restore these keys? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::input(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim_ascii(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::input("not confirmed; nothing was restored"))
    }
}
