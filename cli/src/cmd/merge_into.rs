//! `sealant merge-into`: seal a Secret's keys into an existing SealedSecret file, in place.

use std::path::PathBuf;

use sealant_core::format::Scope;
use sealant_core::keys::KeyId;
use sealant_core::resource::recipients_text;
use sealant_core::{Envelope, PublicKey, SealedSecret};
use serde_yaml::Value;

use super::{Namespaces, describe_keys, sealing_keys};
use crate::cluster::{ControllerArgs, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::io;
use crate::manifest::{self, parse_secret};
use crate::secret_input::SecretInput;
use crate::trust::{Found, Rules};
use crate::yaml_edit::{SealedChange, edit_sealed};

pub const MERGE_AFTER_HELP: &str = "\
Examples:
  $ kubectl create secret generic db-creds --from-literal=api-token=abc --dry-run=client -o yaml \\
      | sealant merge-into db-creds.sealed.yaml
  $ sealant merge-into db-creds.sealed.yaml -f new-keys.yaml --public-key cluster.pub

The new values are sealed to the keys you trust: --public-key, else the file's recipient rule in
.sealant.toml, else the controller's key. The file's spec.recipients and existing values must be
sealed to exactly those keys; otherwise nothing is written and the extra or missing keys are
named (a pull request cannot add a reader by editing spec.recipients).
Keys of the Secret are sealed with the scope of the values already in the file and added or
replaced in place. Only the lines of the changed values (and of spec.recipients, when keys are
added) change: comments, key order, layout and a one-item `kind: List` are kept byte for byte. A
layout the editor cannot keep (block scalars, flow style) is rewritten in full, with a note. The
file is written atomically.";

/// Arguments of `sealant merge-into`.
#[derive(clap::Args)]
pub struct MergeArgs {
    /// The SealedSecret file to update in place.
    #[arg(value_name = "SEALED_FILE")]
    sealed_file: PathBuf,
    /// The Secret whose keys to seal into it (default: stdin).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Public key(s) to seal to (default: the file's recipient rule in .sealant.toml, else the
    /// controller's key). The file's own spec.recipients is never trusted: it must match.
    #[arg(long = "public-key", value_name = "FILE_OR_KEY")]
    public_keys: Vec<String>,
    /// Scope for the new values when the file has no values yet (otherwise the file's scope).
    #[arg(long, value_name = "SCOPE")]
    scope: Option<Scope>,
    /// Namespace of the SealedSecret when its file has none.
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    #[command(flatten)]
    controller: ControllerArgs,
}

/// Seals the Secret's keys into the SealedSecret file.
pub fn merge_into(kube: &KubeArgs, args: MergeArgs) -> CliResult<()> {
    let source = io::read_file(&args.sealed_file)?;
    let docs = io::documents(&source)?;
    let [doc] = docs.as_slice() else {
        return Err(CliError::input(format!(
            "{}: expected exactly one SealedSecret, found {} documents",
            source.name,
            docs.len()
        )));
    };
    let sealed = manifest::parse_sealed_secret(doc)?;
    let ctx = doc.context();
    let name = sealed.metadata.name.clone().unwrap_or_default();
    let namespaces = Namespaces::new(args.namespace.clone(), kube);
    let namespace = namespaces.resolve(sealed.metadata.namespace.as_deref(), &ctx)?;

    let secret_docs = io::read_documents(args.file.as_slice())?;
    let [secret_doc] = secret_docs.as_slice() else {
        return Err(CliError::input(format!(
            "expected exactly one Secret to merge, found {}",
            secret_docs.len()
        )));
    };
    let secret = parse_secret(secret_doc)?;
    let secret_name = secret.metadata.name.clone().unwrap_or_default();
    if secret_name != name {
        return Err(CliError::input(format!(
            "{}: metadata.name is '{secret_name}' but the SealedSecret in {} is '{name}'",
            secret_doc.context(),
            source.name
        )));
    }
    if let Some(ns) = &secret.metadata.namespace
        && *ns != namespace
    {
        return Err(CliError::input(format!(
            "{}: metadata.namespace is '{ns}' but the SealedSecret is in '{namespace}'",
            secret_doc.context()
        )));
    }

    let existing: Vec<Envelope> = sealed
        .spec
        .encrypted_data
        .iter()
        .map(|(key, text)| {
            Envelope::from_base64(text)
                .map_err(|e| CliError::input(format!("{ctx}: spec.encryptedData.{key}: {e}")))
        })
        .collect::<CliResult<_>>()?;
    let scope = match (existing.first(), args.scope) {
        (Some(envelope), Some(flag)) if envelope.binding.scope() != flag => {
            return Err(CliError::input(format!(
                "--scope {flag} differs from the file's values, which are {}",
                envelope.binding.scope()
            )));
        }
        (Some(envelope), _) => envelope.binding.scope(),
        (None, flag) => flag.unwrap_or(Scope::Strict),
    };
    let keys = merge_recipients(&args, &sealed, &existing, &ctx, kube)?;

    let secret = SecretInput::new(secret_doc.context(), secret, namespace.clone(), scope)?;
    let new_values = secret.seal_values(&keys)?;

    let mut value = doc.value.clone();
    let spec = mapping_entry(&mut value, "spec");
    let data = mapping_entry(spec, "encryptedData");
    if let Value::Mapping(map) = data {
        for (key, text) in &new_values {
            map.insert(Value::String(key.clone()), Value::String(text.clone()));
        }
    }
    let mut all_recipients = sealed.spec.recipients.clone();
    for line in recipients_text(&keys) {
        if !all_recipients.contains(&line) {
            all_recipients.push(line);
        }
    }
    let change = SealedChange {
        data: new_values,
        old: sealed.spec.encrypted_data.clone(),
        recipients: all_recipients.clone(),
    };
    if let Value::Mapping(map) = spec {
        map.insert(
            Value::String("recipients".into()),
            Value::Sequence(all_recipients.into_iter().map(Value::String).collect()),
        );
    }
    // Edit only the changed lines; re-serialise (and say so) only when the layout is unusual.
    let text = match edit_sealed(&source.text, &[Some(change)]) {
        Ok(text) => text,
        Err(reason) => {
            eprintln!(
                "sealant: note: {}: rewritten in full, comments and layout not kept ({reason})",
                source.name
            );
            manifest::to_yaml(&value)?
        }
    };
    io::write_atomic(&args.sealed_file, text.as_bytes(), false, true)?;
    eprintln!(
        "sealed {} value(s) into {} for {namespace}/{name} ({scope} scope) to {}",
        secret.value_count(),
        source.name,
        describe_keys(&keys)
    );
    Ok(())
}

/// The keys to seal new values to: the trusted set (`--public-key`, else the file's recipient
/// rule, else the controller's key), never the file's own `spec.recipients`, which whoever wrote
/// the file chose. The file's listed recipients and each existing value's stanzas must be exactly
/// that set; a difference is an error naming each extra or missing key, and nothing is added.
fn merge_recipients(
    args: &MergeArgs,
    sealed: &SealedSecret,
    existing: &[Envelope],
    ctx: &str,
    kube: &KubeArgs,
) -> CliResult<Vec<PublicKey>> {
    let trusted = Rules::default().trusted_for(Some(&args.sealed_file), &args.public_keys)?;
    let (set, keys) = sealing_keys(trusted, kube, &args.controller)?;
    let mut problems = Vec::new();
    if !sealed.spec.recipients.is_empty() {
        let listed: Vec<KeyId> = sealed
            .spec
            .recipients
            .iter()
            .enumerate()
            .map(|(i, line)| {
                line.parse::<PublicKey>()
                    .map(|k| k.id())
                    .map_err(|e| CliError::input(format!("{ctx}: spec.recipients[{i}]: {e}")))
            })
            .collect::<CliResult<_>>()?;
        if let Err(problem) = set.compare(&listed, false, Found::Listed) {
            problems.push(format!("spec.recipients {problem}"));
        }
    }
    for (key, envelope) in sealed.spec.encrypted_data.keys().zip(existing) {
        if let Err(problem) = set.compare(&envelope.key_ids(), false, Found::Stanzas) {
            problems.push(format!("spec.encryptedData.{key} {problem}"));
        }
    }
    if !problems.is_empty() {
        return Err(CliError::failed(format!(
            "{ctx}: the file's recipients differ from the keys you trust ({}), so nothing was sealed: {}",
            set.describe(),
            problems.join("; ")
        ))
        .hint(set.accept_hint()));
    }
    Ok(keys)
}

/// The mapping under `key`, created if missing or not a mapping.
fn mapping_entry<'v>(value: &'v mut Value, key: &str) -> &'v mut Value {
    if let Value::Mapping(map) = value {
        let entry = map
            .entry(Value::String(key.to_string()))
            .or_insert(Value::Null);
        if !entry.is_mapping() {
            *entry = Value::Mapping(Default::default());
        }
        return entry;
    }
    value
}
