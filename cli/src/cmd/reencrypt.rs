//! `sealant reencrypt`: re-seal SealedSecret files to new keys, in place.

use std::path::PathBuf;

use sealant_core::format::{self, Location};
use sealant_core::keys::KeyId;
use sealant_core::resource::recipients_text;
use sealant_core::{Envelope, KeyRing, PublicKey, SealedSecret};
use serde_yaml::Value;

use super::{Namespaces, describe_keys, key_ring, sealing_keys};
use crate::cluster::{self, ControllerArgs, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::flags::InputFiles;
use crate::io::{self, Doc, Source};
use crate::manifest::{self, parse_sealed_secret};
use crate::trust::Rules;
use crate::yaml_edit::{SealedChange, edit_sealed};

pub const REENCRYPT_AFTER_HELP: &str = "\
Examples:
  $ sealant reencrypt --private-key keys-backup.yaml --public-key new.pub sealed/*.yaml
  $ sealant reencrypt --online sealed/db-creds.yaml

Offline, the values are opened with the backed-up private keys and sealed again, each with its
own scope, to the new public keys (written in this order, then the kept ones). Recipients whose private key was not given (other clusters,
found in spec.recipients) are kept, unless --drop-other-recipients; stderr says per SealedSecret
what was re-sealed, kept and dropped. Only the values' and spec.recipients' lines change (comments
and layout stay). Files are written atomically, and none is written unless
all of them re-seal. Without --public-key, the file's recipient rule in .sealant.toml names the keys,
and the values are sealed to exactly those (docs/recipient-rules.md). --online asks the controller (POST /v1/rotate) to re-seal to its newest key.";

/// Arguments of `sealant reencrypt`.
#[derive(clap::Args)]
pub struct ReencryptArgs {
    #[command(flatten)]
    files: InputFiles,
    /// Backed-up private key: a `keygen` key file or the YAML of the controller's key Secrets.
    #[arg(
        long = "private-key",
        value_name = "FILE",
        required_unless_present = "online"
    )]
    private_keys: Vec<PathBuf>,
    /// New public key to seal to; repeatable (default: the file's recipient rule in
    /// .sealant.toml, whose keys are then the only recipients).
    #[arg(long = "public-key", value_name = "FILE_OR_KEY")]
    public_keys: Vec<String>,
    /// Seal only to the --public-key keys, dropping recipients whose private key was not given
    /// (by default those other clusters are kept).
    #[arg(long, conflicts_with = "online")]
    drop_other_recipients: bool,
    /// Let the controller re-seal to its newest key (POST /v1/rotate).
    #[arg(long, conflicts_with_all = ["private_keys", "public_keys"])]
    online: bool,
    /// Namespace for SealedSecrets whose manifest has none.
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    #[command(flatten)]
    controller: ControllerArgs,
}

/// Re-seals every SealedSecret of every file, then rewrites the files.
pub fn reencrypt(kube: &KubeArgs, args: ReencryptArgs) -> CliResult<()> {
    let ring = key_ring(&args.private_keys)?;
    let flag_keys: Vec<PublicKey> = args
        .public_keys
        .iter()
        .map(|a| io::load_public_key(a))
        .collect::<CliResult<_>>()?;
    let mut rules = Rules::default();
    let namespaces = Namespaces::new(args.namespace.clone(), kube);
    let files = args.files.paths()?;
    let mut outputs = Vec::with_capacity(files.len());
    let mut count = 0usize;
    for file in &files {
        let source = io::read_file(file)?;
        // The keys to seal to: --public-key, else the file's recipient rule (and then exactly
        // its keys: recipients the rule does not name are dropped, as the rule is the trusted
        // set). Never the file's own list.
        let (keys, drop_others) = if args.online || !flag_keys.is_empty() {
            (flag_keys.clone(), args.drop_other_recipients)
        } else {
            match rules.trusted_for(Some(file), &[])? {
                Some(set) => (sealing_keys(Some(set), kube, &args.controller)?.1, true),
                None => {
                    return Err(CliError::input(format!(
                        "{}: no key to re-seal to: no --public-key and no recipient rule matches the file",
                        file.display()
                    ))
                    .hint("pass --public-key FILE, or add a rule to .sealant.toml (docs/recipient-rules.md)"));
                }
            }
        };
        let mut changes = Vec::new();
        let full = rewrite_stream(&source, |doc, value| {
            let mut sealed = parse_sealed_secret(doc)?;
            let namespace =
                namespaces.resolve(sealed.metadata.namespace.as_deref(), &doc.context())?;
            sealed.metadata.namespace = Some(namespace);
            let resealed = if args.online {
                rotate_online(kube, &args.controller, &sealed)
                    .map_err(|e| e.context(&doc.context()))?
            } else {
                let (resealed, report) = reseal_offline(&sealed, &ring, &keys, drop_others)
                    .map_err(|e| e.context(&doc.context()))?;
                let report = if drop_others && !args.drop_other_recipients {
                    report.replace("(--drop-other-recipients)", "(not in the recipient rule)")
                } else {
                    report
                };
                eprintln!("{}: {report}", doc.context());
                resealed
            };
            replace_sealed_data(value, &resealed);
            let recipients = if resealed.spec.recipients.is_empty() {
                sealed.spec.recipients.clone()
            } else {
                resealed.spec.recipients.clone()
            };
            changes.push(Some(SealedChange {
                data: resealed.spec.encrypted_data,
                old: sealed.spec.encrypted_data,
                recipients,
            }));
            count += 1;
            Ok(())
        })?;
        // Edit only the changed lines; the re-serialised stream is the fallback for layouts
        // the span editor does not handle, and the user is told.
        let text = match edit_sealed(&source.text, &changes) {
            Ok(text) => text,
            Err(reason) => {
                eprintln!(
                    "sealant: note: {}: rewritten in full, comments and layout not kept ({reason})",
                    source.name
                );
                full
            }
        };
        outputs.push((file, text));
    }
    if count == 0 {
        return Err(CliError::input("no SealedSecret found in the given files"));
    }
    for (file, text) in outputs {
        io::write_atomic(file, text.as_bytes(), false, true)?;
    }
    eprintln!(
        "re-sealed {count} SealedSecret(s) in {} file(s)",
        files.len()
    );
    Ok(())
}

/// Opens each value and seals it again, with the same binding, to `keys` and (unless `drop`)
/// to the value's other recipients: those whose private key is not in `ring`, with their public
/// keys from `spec.recipients`. Returns the new SealedSecret and what was done, in words.
fn reseal_offline(
    sealed: &SealedSecret,
    ring: &KeyRing,
    keys: &[PublicKey],
    drop: bool,
) -> CliResult<(SealedSecret, String)> {
    let namespace = sealed.metadata.namespace.as_deref().unwrap_or_default();
    let name = sealed.metadata.name.as_deref().unwrap_or_default();
    let listed: Vec<PublicKey> = sealed
        .spec
        .recipients
        .iter()
        .enumerate()
        .map(|(i, line)| {
            line.parse()
                .map_err(|e| CliError::input(format!("spec.recipients[{i}]: {e}")))
        })
        .collect::<CliResult<_>>()?;
    let mut out = sealed.clone();
    let mut kept: Vec<PublicKey> = Vec::new();
    let mut dropped: Vec<KeyId> = Vec::new();
    let mut replaced: Vec<KeyId> = Vec::new();
    for (key, text) in out.spec.encrypted_data.iter_mut() {
        let field = format!("spec.encryptedData.{key}");
        let envelope =
            Envelope::from_base64(text).map_err(|e| CliError::input(format!("{field}: {e}")))?;
        let binding = envelope.binding.clone();
        let mut recipients: Vec<PublicKey> = keys.to_vec();
        for id in envelope.key_ids() {
            if keys.iter().any(|k| k.id() == id) {
                continue;
            }
            if ring.get(&id).is_some() {
                push_unique(&mut replaced, id);
            } else if drop {
                push_unique(&mut dropped, id);
            } else {
                let public = listed.iter().find(|k| k.id() == id).ok_or_else(|| {
                    CliError::input(format!(
                        "{field}: also sealed to key {id}, whose private key was not given and whose public key is not in spec.recipients"
                    ))
                    .hint("pass that cluster's --public-key too, or --drop-other-recipients to seal only to the given keys")
                })?;
                if !kept.contains(public) {
                    kept.push(public.clone());
                }
                recipients.push(public.clone());
            }
        }
        let at = Location::new(namespace, name, key.as_str());
        let plaintext = format::open_envelope(envelope, &at, ring)
            .map_err(|e| CliError::input(format!("{field}: {e}")))?;
        *text = format::seal(&plaintext, &binding, &recipients)
            .map_err(|e| CliError::input(format!("{field}: {e}")))?;
    }
    let mut all = keys.to_vec();
    all.extend(kept.iter().cloned());
    out.spec.recipients = recipients_text(&all);
    let mut report = format!(
        "re-sealed {} value(s) to {}",
        out.spec.encrypted_data.len(),
        describe_keys(keys)
    );
    if !replaced.is_empty() {
        report.push_str(&format!("; replaced {}", ids_text(&replaced)));
    }
    if !kept.is_empty() {
        report.push_str(&format!(
            "; kept other recipient(s) {}",
            ids_text(&kept.iter().map(PublicKey::id).collect::<Vec<_>>())
        ));
    }
    if !dropped.is_empty() {
        report.push_str(&format!(
            "; dropped other recipient(s) {} (--drop-other-recipients)",
            ids_text(&dropped)
        ));
    }
    Ok((out, report))
}

fn push_unique(ids: &mut Vec<KeyId>, id: KeyId) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

fn ids_text(ids: &[KeyId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Asks the controller to re-seal to its newest key.
fn rotate_online(
    kube: &KubeArgs,
    controller: &ControllerArgs,
    sealed: &SealedSecret,
) -> CliResult<SealedSecret> {
    let body = serde_json::to_vec(sealed)
        .map_err(|e| CliError::input(format!("cannot encode the request: {e}")))?;
    let (code, text) = cluster::block_on(cluster::controller_post(
        kube,
        controller,
        "/v1/rotate",
        body,
    ))??;
    if code != 200 {
        return Err(CliError::failed(format!(
            "the controller refused to re-seal: {text}"
        )));
    }
    serde_json::from_str(&text)
        .map_err(|e| CliError::input(format!("unexpected answer from /v1/rotate: {e}")))
}

/// Puts the re-sealed values and recipients into the document, keeping key order and the rest.
fn replace_sealed_data(value: &mut Value, resealed: &SealedSecret) {
    let Some(Value::Mapping(spec)) = value.get_mut("spec") else {
        return;
    };
    if let Some(Value::Mapping(data)) = spec.get_mut("encryptedData") {
        for (key, text) in &resealed.spec.encrypted_data {
            data.insert(Value::String(key.clone()), Value::String(text.clone()));
        }
    }
    if !resealed.spec.recipients.is_empty() {
        let lines = resealed
            .spec
            .recipients
            .iter()
            .cloned()
            .map(Value::String)
            .collect();
        spec.insert(Value::String("recipients".into()), Value::Sequence(lines));
    }
}

/// Re-serialises a YAML stream, applying `f` to every SealedSecret (also inside Lists) and
/// keeping other documents as they are.
fn rewrite_stream(
    source: &Source,
    mut f: impl FnMut(&Doc, &mut Value) -> CliResult<()>,
) -> CliResult<String> {
    let mut docs = Vec::new();
    for (i, mut value) in io::yaml_values(source)?.into_iter().enumerate() {
        let place = format!("{}: document {}", source.name, i + 1);
        if value.is_null() {
            continue;
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if kind == "SealedSecret" {
            let doc = Doc {
                place,
                value: value.clone(),
            };
            f(&doc, &mut value)?;
        } else if kind == "List"
            && let Some(Value::Sequence(items)) = value.get_mut("items")
        {
            for (j, item) in items.iter_mut().enumerate() {
                if item.get("kind").and_then(Value::as_str) == Some("SealedSecret") {
                    let doc = Doc {
                        place: format!("{place}, item {}", j + 1),
                        value: item.clone(),
                    };
                    f(&doc, item)?;
                }
            }
        }
        docs.push(value);
    }
    manifest::yaml_stream(&docs)
}
