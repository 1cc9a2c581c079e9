//! `sealant migrate`: bitnami sealed-secrets to sealant, offline, in one pass.
//!
//! Reads bitnami `SealedSecret`s (`bitnami.com/v1alpha1`; YAML or JSON, multi-document,
//! `kind: List`) and the bitnami key backup, opens each value exactly as bitnami's controller
//! does ([`crypto`], following `pkg/crypto/crypto.go` byte for byte), and seals it again, with
//! the same scope, to sealant public keys ([`convert`]). Plaintext lives only in zeroizing
//! buffers, never on disk. RSA is needed here and nowhere else, so this module (and aws-lc-rs)
//! is behind the CLI's `migrate` feature; the controller never links it.

pub mod convert;
pub mod crypto;
pub mod keys;

use std::collections::BTreeMap;

use sealant_core::PublicKey;
use serde_yaml::Value;

use crate::error::{CliError, CliResult};
use crate::io::{self, Source};
use crate::manifest;
pub use convert::is_bitnami;
pub use keys::{BackupKey, load_backup};

/// One migrated SealedSecret, for the report on standard error.
pub struct Report {
    /// `file: document 2, item 1`.
    pub place: String,
    /// `namespace/name` (or `name` for a cluster-wide one without a namespace).
    pub object: String,
    pub scope: sealant_core::Scope,
    /// For each backup key (by name), the value keys it opened.
    pub opened: BTreeMap<String, Vec<String>>,
}

impl Report {
    /// One line: `file: document 1: prod/db (strict): password, user opened with key-a`.
    pub fn line(&self) -> String {
        let by: Vec<String> = self
            .opened
            .iter()
            .map(|(key, values)| format!("{} opened with {key}", values.join(", ")))
            .collect();
        let by = if by.is_empty() {
            "no values".to_string()
        } else {
            by.join("; ")
        };
        format!("{}: {} ({}): {by}", self.place, self.object, self.scope)
    }
}

/// A migrated file: its new text and what was migrated in it.
pub struct MigratedFile {
    pub text: String,
    pub reports: Vec<Report>,
}

/// Migrates every bitnami SealedSecret of a source (documents and `List` items); other
/// documents are kept as they are. Fails, with the place and field, on the first object that
/// cannot be migrated completely.
pub fn migrate_source(
    source: &Source,
    keys: &[BackupKey],
    recipients: &[PublicKey],
) -> CliResult<MigratedFile> {
    let mut docs = Vec::new();
    let mut reports = Vec::new();
    for (i, mut value) in io::yaml_values(source)?.into_iter().enumerate() {
        let place = format!("{}: document {}", source.name, i + 1);
        if value.is_null() {
            continue;
        }
        if is_bitnami(&value) {
            migrate_in_place(&place, &mut value, keys, recipients, &mut reports)?;
        } else if value.get("kind").and_then(Value::as_str) == Some("List")
            && let Some(Value::Sequence(items)) = value.get_mut("items")
        {
            for (j, item) in items.iter_mut().enumerate() {
                if is_bitnami(item) {
                    let place = format!("{place}, item {}", j + 1);
                    migrate_in_place(&place, item, keys, recipients, &mut reports)?;
                }
            }
        }
        docs.push(value);
    }
    // A JSON file stays JSON (one object, or a List when it held several); YAML stays YAML.
    let text = if source.text.trim_start().starts_with('{') {
        match docs.as_slice() {
            [one] => serde_json::to_string_pretty(one)
                .map(|mut t| {
                    t.push('\n');
                    t
                })
                .map_err(|e| CliError::input(format!("{}: cannot write JSON: {e}", source.name)))?,
            many => manifest::json_output(many)?,
        }
    } else {
        manifest::yaml_stream(&docs)?
    };
    Ok(MigratedFile { text, reports })
}

fn migrate_in_place(
    place: &str,
    value: &mut Value,
    keys: &[BackupKey],
    recipients: &[PublicKey],
    reports: &mut Vec<Report>,
) -> CliResult<()> {
    let ctx = format!("{place} (kind SealedSecret)");
    let migrated = convert::migrate_object(&ctx, value, keys, recipients)?;
    let mut opened: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (value_key, by) in &migrated.opened_by {
        opened
            .entry(keys[*by].name.clone())
            .or_default()
            .push(value_key.clone());
    }
    let name = migrated.sealed.metadata.name.clone().unwrap_or_default();
    let object = match &migrated.sealed.metadata.namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name,
    };
    *value = serde_yaml::to_value(&migrated.sealed)
        .map_err(|e| CliError::input(format!("{ctx}: cannot write YAML: {e}")))?;
    reports.push(Report {
        place: place.to_string(),
        object,
        scope: migrated.scope,
        opened,
    });
    Ok(())
}
