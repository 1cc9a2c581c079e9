//! The bitnami key backup, as users make it:
//! `kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`
//! (a `List` of `kubernetes.io/tls` Secrets whose `tls.key` is a PEM RSA private key; one
//! Secret works too), or a plain PEM file.

use std::path::Path;

use serde_yaml::Value;
use zeroize::{Zeroize, Zeroizing};

use super::crypto::RsaKey;
use crate::error::{CliError, CliResult};
use crate::io::{self, Source};

/// The flag the backup comes from, as errors name it.
const FLAG: &str = "--sealed-secrets-keys";
/// The data key of a bitnami key Secret that holds the private key.
const TLS_KEY: &str = "tls.key";

/// One backed-up RSA key and where it came from, for the report of which key opened what.
pub struct BackupKey {
    /// `sealed-secrets-key7x2bm (keys.yaml: document 1, item 2)` or `keys.pem, key 1`.
    pub name: String,
    pub key: RsaKey,
}

/// Loads every key of a backup file.
pub fn load_backup(path: &Path) -> CliResult<Vec<BackupKey>> {
    let source = Wiped(io::read_file(path).map_err(|e| e.context(FLAG))?);
    let (name, text) = (&source.0.name, &source.0.text);
    // A PEM file (possibly with text before its blocks, as `openssl` writes "Bag Attributes");
    // the kubectl backup holds its keys base64-encoded, so it has no PEM line.
    if text.lines().any(|l| l.starts_with("-----BEGIN ")) {
        let keys = RsaKey::from_pem_blocks(text)
            .map_err(|e| CliError::input(format!("{FLAG} {name}: {e}")))?;
        let count = keys.len();
        return Ok(keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| BackupKey {
                name: if count == 1 {
                    name.to_string()
                } else {
                    format!("{name}, key {}", i + 1)
                },
                key,
            })
            .collect());
    }
    let mut docs = io::documents(&source.0).map_err(|e| e.context(FLAG))?;
    // The parsed documents hold the keys' base64 PEM too: cleared once read, like the text.
    let keys = keys_of_secrets(&docs);
    for doc in &mut docs {
        if let Some(Value::String(encoded)) =
            doc.value.get_mut("data").and_then(|d| d.get_mut(TLS_KEY))
        {
            encoded.zeroize();
        }
    }
    let keys = keys?;
    if keys.is_empty() {
        return Err(CliError::input(format!("{FLAG} {name}: no key found"))
            .hint("make the backup with: kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml"));
    }
    Ok(keys)
}

/// The keys of the key Secrets, in order.
fn keys_of_secrets(docs: &[io::Doc]) -> CliResult<Vec<BackupKey>> {
    let mut keys = Vec::new();
    for doc in docs {
        let ctx = doc.context();
        if doc.kind() != "Secret" {
            return Err(CliError::input(format!(
                "{FLAG} {ctx}: expected the bitnami key Secrets or a PEM key, found kind '{}'",
                doc.kind()
            ))
            .hint("make the backup with: kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml"));
        }
        let secret_name = doc
            .value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("unnamed");
        let field = format!("data.{TLS_KEY}");
        let encoded = doc
            .value
            .get("data")
            .and_then(|d| d.get(TLS_KEY))
            .and_then(Value::as_str)
            .ok_or_else(|| CliError::input(format!("{FLAG} {ctx}: {field}: missing")))?;
        let pem = Zeroizing::new(
            io::base64_decode(encoded)
                .map_err(|_| CliError::input(format!("{FLAG} {ctx}: {field}: invalid base64")))?,
        );
        let pem = std::str::from_utf8(&pem)
            .map_err(|_| CliError::input(format!("{FLAG} {ctx}: {field}: not PEM text")))?;
        for key in RsaKey::from_pem_blocks(pem)
            .map_err(|e| CliError::input(format!("{FLAG} {ctx}: {field}: {e}")))?
        {
            keys.push(BackupKey {
                name: format!("{secret_name} ({})", doc.place),
                key,
            });
        }
    }
    Ok(keys)
}

/// The backup's text, cleared when dropped (on every path, errors included).
struct Wiped(Source);

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.text.zeroize();
    }
}
