//! One bitnami `SealedSecret` (`bitnami.com/v1alpha1`) into a sealant SealedSecret: same name,
//! namespace and scope, the template's labels, annotations (minus bitnami's own), type and
//! immutability, every value opened with the backup keys and sealed to the new public keys.
//!
//! The scope and label follow bitnami's `Unseal` (pkg/apis/sealedsecrets/v1alpha1): they come
//! from the SealedSecret's own `metadata` (annotations `sealedsecrets.bitnami.com/cluster-wide`
//! then `.../namespace-wide`, each only when exactly `"true"`), and the OAEP label is
//! `namespace/name` (strict), `namespace` (namespace-wide) or empty (cluster-wide).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sealant_core::format::{self, Binding, Location, Scope};
use sealant_core::resource::{
    LAST_APPLIED_ANNOTATION, SecretTemplate, TemplateMetadata, recipients_text,
};
use sealant_core::{PublicKey, SealedSecret, SealedSecretSpec};
use serde_yaml::Value;
use zeroize::Zeroizing;

use super::crypto::OpenFailure;
use super::keys::BackupKey;
use crate::error::{CliError, CliResult};
use crate::manifest::{non_empty, string_map};

/// The API version bitnami's SealedSecrets carry.
pub const BITNAMI_API_VERSION: &str = "bitnami.com/v1alpha1";
/// Prefix of bitnami's own annotations.
const BITNAMI_PREFIX: &str = "sealedsecrets.bitnami.com/";
const CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";
const NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// bitnami behaviours sealant has no equivalent for yet: refused rather than dropped.
const UNSUPPORTED_ANNOTATIONS: [(&str, &str); 1] = [(
    "sealedsecrets.bitnami.com/patch",
    "bitnami patches an existing Secret without owning it",
)];
/// bitnami's template annotation that keeps the Secret when the SealedSecret is deleted; it
/// becomes sealant's `sealant.dev/keep-secret: "true"` on the SealedSecret.
const SKIP_OWNER_REFERENCES: &str = "sealedsecrets.bitnami.com/skip-set-owner-references";
/// sealant's equivalent, on the SealedSecret's own metadata.
const KEEP_SECRET: &str = "sealant.dev/keep-secret";

/// Whether a document is a bitnami SealedSecret (any `bitnami.com/` version; only v1alpha1 is
/// accepted, with an error for the others).
pub fn is_bitnami(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("SealedSecret")
        && value
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("bitnami.com/"))
}

/// What one migrated SealedSecret was: where it sits, its scope, and which backup key opened
/// each value (index into the backup keys).
pub struct Migrated {
    pub sealed: SealedSecret,
    pub scope: Scope,
    pub opened_by: BTreeMap<String, usize>,
}

/// Migrates one bitnami SealedSecret; `ctx` names the file and document in errors.
pub fn migrate_object(
    ctx: &str,
    value: &Value,
    keys: &[BackupKey],
    recipients: &[PublicKey],
) -> CliResult<Migrated> {
    let err = |field: &str, msg: &str| CliError::input(format!("{ctx}: {field}: {msg}"));
    match value.get("apiVersion").and_then(Value::as_str) {
        Some(BITNAMI_API_VERSION) => {}
        other => {
            return Err(err(
                "apiVersion",
                &format!(
                    "expected {BITNAMI_API_VERSION}, found {}",
                    other.unwrap_or("nothing")
                ),
            ));
        }
    }
    let metadata = value
        .get("metadata")
        .ok_or_else(|| err("metadata", "missing"))?;
    let name = string_field(metadata, "name", "metadata.name", ctx)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| err("metadata.name", "missing"))?;
    let namespace =
        string_field(metadata, "namespace", "metadata.namespace", ctx)?.filter(|n| !n.is_empty());
    let outer_annotations = string_map(metadata.get("annotations"), "metadata.annotations", ctx)?;
    let outer_labels = string_map(metadata.get("labels"), "metadata.labels", ctx)?;

    let scope = if outer_annotations.get(CLUSTER_WIDE).map(String::as_str) == Some("true") {
        Scope::ClusterWide
    } else if outer_annotations.get(NAMESPACE_WIDE).map(String::as_str) == Some("true") {
        Scope::NamespaceWide
    } else {
        Scope::Strict
    };
    let namespace = match (namespace, scope) {
        (Some(ns), _) => ns,
        (None, Scope::ClusterWide) => String::new(),
        (None, _) => {
            return Err(err(
                "metadata.namespace",
                &format!("missing, and a {scope} bitnami SealedSecret is bound to its namespace"),
            )
            .hint("set metadata.namespace to the namespace the SealedSecret is applied in"));
        }
    };
    let label = match scope {
        Scope::ClusterWide => String::new(),
        Scope::NamespaceWide => namespace.clone(),
        Scope::Strict => format!("{namespace}/{name}"),
    };

    let spec = value.get("spec").ok_or_else(|| err("spec", "missing"))?;
    let spec = spec
        .as_mapping()
        .ok_or_else(|| err("spec", "expected a mapping"))?;
    for (field, v) in spec {
        match field.as_str() {
            Some("encryptedData" | "template") => {}
            Some("data") if v.is_null() => {}
            Some("data") => {
                return Err(err(
                    "spec.data",
                    "the deprecated single-blob format (sealed-secrets before v0.7) is not migrated",
                )
                .hint("re-seal it with a current kubeseal (kubeseal --re-encrypt) first, then migrate"));
            }
            other => {
                return Err(err(
                    &format!("spec.{}", other.unwrap_or("?")),
                    "not a bitnami SealedSecret field; sealant would drop it",
                )
                .hint("remove the field, then migrate"));
            }
        }
    }
    let (template, keep) = parse_template(ctx, spec.get("template"))?;

    let encrypted = string_map(spec.get("encryptedData"), "spec.encryptedData", ctx)?;
    let mut encrypted_data = BTreeMap::new();
    let mut opened_by = BTreeMap::new();
    for (key, text) in &encrypted {
        let field = format!("spec.encryptedData.{key}");
        let binding = Binding::new(scope, &Location::new(&namespace, &name, key))
            .map_err(|e| err(&field, &e.to_string()))?;
        let (plaintext, by) = match open_value(text, label.as_bytes(), keys) {
            Ok(opened) => opened,
            Err((msg, no_key)) => {
                let e = err(&field, &msg);
                let sealed_as = no_key
                    .then(|| sealed_scope(text, &namespace, &name, scope, keys))
                    .flatten();
                return Err(match (sealed_as, scope) {
                    (Some(other), _) => e.hint(format!(
                        "it opens as {other}, not {scope}: make the scope annotations (sealedsecrets.bitnami.com/cluster-wide, namespace-wide) say how it was sealed; bitnami's controller cannot open it as it is either"
                    )),
                    (None, Scope::ClusterWide) => e,
                    (None, _) => e.hint(format!(
                        "bitnami opens it with the label '{label}' ({scope}): check that the namespace and name are the ones it was sealed for"
                    )),
                });
            }
        };
        let sealed = format::seal(&plaintext, &binding, recipients)
            .map_err(|e| err(&field, &format!("cannot seal: {e}")))?;
        encrypted_data.insert(key.clone(), sealed);
        opened_by.insert(key.clone(), by);
    }

    let sealed = SealedSecret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: (!namespace.is_empty()).then_some(namespace),
            labels: non_empty(outer_labels),
            annotations: non_empty({
                let mut annotations = without_bitnami(outer_annotations);
                if keep {
                    annotations.insert(KEEP_SECRET.to_string(), "true".to_string());
                }
                annotations
            }),
            ..ObjectMeta::default()
        },
        spec: SealedSecretSpec {
            encrypted_data,
            recipients: recipients_text(recipients),
            template: (template != SecretTemplate::default()).then_some(template),
        },
        status: None,
    };
    Ok(Migrated {
        sealed,
        scope,
        opened_by,
    })
}

/// `HybridDecrypt` with every backup key, as bitnami does, but saying which key opened it.
/// Why a value did not open: the message, and whether it was that no key opens it with the label.
type NotOpened = (String, bool);

/// The plaintext and the index of the backup key that opened it.
fn open_value(
    text: &str,
    label: &[u8],
    keys: &[BackupKey],
) -> Result<(Zeroizing<Vec<u8>>, usize), NotOpened> {
    let bytes = decode(text).ok_or_else(|| ("invalid base64".to_string(), false))?;
    let mut failure = OpenFailure::Rsa;
    let mut failed_key = None;
    for (i, backup) in keys.iter().enumerate() {
        match backup.key.open(&bytes, label) {
            Ok(plaintext) => return Ok((plaintext, i)),
            Err(OpenFailure::Rsa) => {}
            Err(other) => {
                failure = other;
                failed_key = Some(i);
            }
        }
    }
    Err(match (failure, failed_key) {
        (OpenFailure::TooShort, _) => (failure.to_string(), false),
        (f, Some(i)) => (
            format!("its session key opens with {} but {f}", keys[i].name),
            false,
        ),
        _ => (
            format!(
                "no key of the backup opens it ({} tried): it was sealed with a key that is not in the backup, or for another namespace, name or scope",
                keys.len()
            ),
            true,
        ),
    })
}

/// Standard base64; Go's `base64.StdEncoding` skips line breaks, so this does too.
fn decode(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    crate::io::base64_decode(&compact).ok()
}

/// For a value that does not open with its scope's label: the other scope whose label opens
/// it, to say what the annotations should be. The plaintext is dropped (zeroized) at once.
fn sealed_scope(
    text: &str,
    namespace: &str,
    name: &str,
    scope: Scope,
    keys: &[BackupKey],
) -> Option<Scope> {
    let bytes = decode(text)?;
    let labels = [
        (Scope::Strict, format!("{namespace}/{name}")),
        (Scope::NamespaceWide, namespace.to_string()),
        (Scope::ClusterWide, String::new()),
    ];
    labels
        .into_iter()
        .filter(|(s, _)| *s != scope)
        .find(|(_, label)| {
            keys.iter()
                .any(|k| k.key.open(&bytes, label.as_bytes()).is_ok())
        })
        .map(|(s, _)| s)
}

/// `spec.template`: labels, annotations, type and immutability carry over; everything sealant
/// has no equivalent for is refused with what to do.
/// The sealant template of a bitnami one, and whether the Secret is to be kept when the
/// SealedSecret is deleted.
fn parse_template(ctx: &str, template: Option<&Value>) -> CliResult<(SecretTemplate, bool)> {
    let err = |field: &str, msg: &str| CliError::input(format!("{ctx}: {field}: {msg}"));
    let template = match template {
        None | Some(Value::Null) => return Ok((SecretTemplate::default(), false)),
        Some(Value::Mapping(map)) => map,
        Some(_) => return Err(err("spec.template", "expected a mapping")),
    };
    let mut out = SecretTemplate::default();
    let mut labels = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    for (field, v) in template {
        match field.as_str() {
            Some("type") => out.type_ = string_value(v, "spec.template.type", ctx)?,
            Some("immutable") => {
                out.immutable = match v {
                    Value::Null => None,
                    Value::Bool(b) => Some(*b),
                    _ => return Err(err("spec.template.immutable", "expected true or false")),
                }
            }
            Some("data") => {
                let keys = string_map(Some(v), "spec.template.data", ctx)?;
                if let Some(key) = keys.keys().next() {
                    return Err(err(
                        &format!("spec.template.data.{key}"),
                        "bitnami renders this key from the decrypted values with a Go template; sealant has no templates",
                    )
                    .hint("render the value yourself (kubeseal --recovery-unseal), add it to the Secret and seal it with `sealant seal`, or remove the key, then migrate"));
                }
            }
            Some("metadata") => {
                let Some(meta) = v.as_mapping() else {
                    if v.is_null() {
                        continue;
                    }
                    return Err(err("spec.template.metadata", "expected a mapping"));
                };
                for (mfield, mv) in meta {
                    match mfield.as_str() {
                        Some("labels") => {
                            labels = string_map(Some(mv), "spec.template.metadata.labels", ctx)?
                        }
                        Some("annotations") => {
                            annotations =
                                string_map(Some(mv), "spec.template.metadata.annotations", ctx)?
                        }
                        // bitnami overwrites name and namespace with the SealedSecret's, and
                        // kubeseal writes `creationTimestamp: null`.
                        Some("name" | "namespace" | "creationTimestamp") => {}
                        Some(_) if is_empty(mv) => {}
                        other => {
                            return Err(err(
                                &format!("spec.template.metadata.{}", other.unwrap_or("?")),
                                "sealant templates carry only labels and annotations",
                            )
                            .hint("remove the field (or set it on the Secret another way), then migrate"));
                        }
                    }
                }
            }
            other => {
                return Err(err(
                    &format!("spec.template.{}", other.unwrap_or("?")),
                    "not a field sealant's template has",
                )
                .hint("remove the field, then migrate"));
            }
        }
    }
    for (annotation, what) in UNSUPPORTED_ANNOTATIONS {
        if annotations.get(annotation).map(String::as_str) == Some("true") {
            return Err(err(
                &format!("spec.template.metadata.annotations.{annotation}"),
                &format!("{what}; in sealant the existing Secret opts in instead"),
            )
            .hint("remove the annotation here and annotate the existing Secret: kubectl annotate secret NAME sealant.dev/managed=patch"));
        }
    }
    let keep = annotations.get(SKIP_OWNER_REFERENCES).map(String::as_str) == Some("true");
    let labels = non_empty(labels);
    let annotations = non_empty(without_bitnami(annotations));
    if labels.is_some() || annotations.is_some() {
        out.metadata = Some(TemplateMetadata {
            labels,
            annotations,
        });
    }
    Ok((out, keep))
}

fn without_bitnami(mut annotations: BTreeMap<String, String>) -> BTreeMap<String, String> {
    annotations.retain(|k, _| !k.starts_with(BITNAMI_PREFIX) && k != LAST_APPLIED_ANNOTATION);
    annotations
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn string_value(value: &Value, field: &str, ctx: &str) -> CliResult<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(CliError::input(format!(
            "{ctx}: {field}: expected a string"
        ))),
    }
}

fn string_field(map: &Value, key: &str, field: &str, ctx: &str) -> CliResult<Option<String>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => string_value(v, field, ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::super::crypto::RsaKey;
    use super::super::crypto::testing::{generate, hybrid_encrypt};
    use super::*;
    use base64::Engine;
    use sealant_core::{KeyRing, PrivateKey};

    struct Fixture {
        rsa: aws_lc_rs::rsa::PrivateDecryptingKey,
        keys: Vec<BackupKey>,
        sealant: PrivateKey,
    }

    fn fixture() -> Fixture {
        let (rsa, pem) = generate();
        let keys = RsaKey::from_pem_blocks(&pem)
            .unwrap()
            .into_iter()
            .map(|key| BackupKey {
                name: "k".into(),
                key,
            })
            .collect();
        Fixture {
            rsa,
            keys,
            sealant: PrivateKey::from_bytes(&[7; 32]),
        }
    }

    impl Fixture {
        fn seal(&self, value: &[u8], label: &str) -> String {
            base64::engine::general_purpose::STANDARD.encode(hybrid_encrypt(
                &self.rsa,
                value,
                label.as_bytes(),
            ))
        }

        fn migrate(&self, yaml: &str) -> CliResult<Migrated> {
            let value: Value = serde_yaml::from_str(yaml).unwrap();
            migrate_object(
                "f: document 1",
                &value,
                &self.keys,
                std::slice::from_ref(self.sealant.public()),
            )
        }

        fn error(&self, yaml: &str) -> String {
            match self.migrate(yaml) {
                Ok(_) => panic!("expected an error for:\n{yaml}"),
                Err(e) => e.to_string(),
            }
        }
    }

    #[test]
    fn cluster_wide_wins_over_namespace_wide_and_only_exact_true_counts() {
        let f = fixture();
        let both = format!(
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: n\n  namespace: ns\n  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"true\"\n    sealedsecrets.bitnami.com/namespace-wide: \"true\"\nspec:\n  encryptedData:\n    k: {}\n",
            f.seal(b"v", "")
        );
        let migrated = f.migrate(&both).unwrap();
        assert_eq!(migrated.scope, Scope::ClusterWide);
        assert_eq!(migrated.sealed.metadata.annotations, None);

        let not_true = format!(
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: n\n  namespace: ns\n  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"True\"\nspec:\n  encryptedData:\n    k: {}\n",
            f.seal(b"v", "ns/n")
        );
        let migrated = f.migrate(&not_true).unwrap();
        assert_eq!(migrated.scope, Scope::Strict);
        let ring: KeyRing = [PrivateKey::from_bytes(&[7; 32])].into_iter().collect();
        let values = sealant_core::resource::open_values(&migrated.sealed, &ring).unwrap();
        assert_eq!(&values["k"][..], b"v");
    }

    #[test]
    fn a_value_sealed_with_another_scope_is_refused_with_the_scope_it_opens_as() {
        let f = fixture();
        let yaml = format!(
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {{name: n, namespace: ns}}\nspec:\n  encryptedData:\n    k: {}\n",
            f.seal(b"v", "ns")
        );
        let err = f.migrate(&yaml).err().unwrap();
        assert!(
            err.to_string().starts_with(
                "f: document 1: spec.encryptedData.k: no key of the backup opens it (1 tried)"
            ),
            "{err}"
        );
        assert!(
            err.hint_text()
                .unwrap()
                .starts_with("it opens as namespace-wide, not strict: "),
            "{:?}",
            err.hint_text()
        );
    }

    #[test]
    fn fields_sealant_cannot_carry_are_refused_by_name() {
        let f = fixture();
        let head = "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: n, namespace: ns}\n";
        assert_eq!(
            f.error(&format!("{head}spec:\n  data: AAAA\n")),
            "f: document 1: spec.data: the deprecated single-blob format (sealed-secrets before v0.7) is not migrated"
        );
        assert_eq!(
            f.error(&format!("{head}spec:\n  encryptedData: {{}}\n  extra: 1\n")),
            "f: document 1: spec.extra: not a bitnami SealedSecret field; sealant would drop it"
        );
        assert_eq!(
            f.error(&format!(
                "{head}spec:\n  template:\n    metadata:\n      finalizers: [x]\n"
            )),
            "f: document 1: spec.template.metadata.finalizers: sealant templates carry only labels and annotations"
        );
        assert_eq!(
            f.error("apiVersion: bitnami.com/v1beta1\nkind: SealedSecret\nmetadata: {name: n}\nspec: {}\n"),
            "f: document 1: apiVersion: expected bitnami.com/v1alpha1, found bitnami.com/v1beta1"
        );
        assert_eq!(
            f.error(&format!("{head}spec:\n  encryptedData:\n    k: '%%%'\n")),
            "f: document 1: spec.encryptedData.k: invalid base64"
        );
    }

    #[test]
    fn template_and_outer_metadata_lose_only_bitnami_and_last_applied_annotations() {
        let f = fixture();
        let yaml = format!(
            "apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: n
  namespace: ns
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{{}}'
    keep: outer
spec:
  encryptedData:
    k: {}
  template:
    metadata:
      annotations:
        sealedsecrets.bitnami.com/managed: \"true\"
        sealedsecrets.bitnami.com/patch: \"false\"
        kubectl.kubernetes.io/last-applied-configuration: '{{}}'
        keep: inner
    type: kubernetes.io/tls
    immutable: false
",
            f.seal(b"v", "ns/n")
        );
        let migrated = f.migrate(&yaml).unwrap();
        let outer = migrated.sealed.metadata.annotations.unwrap();
        assert_eq!(
            outer.into_iter().collect::<Vec<_>>(),
            vec![("keep".to_string(), "outer".to_string())]
        );
        let template = migrated.sealed.spec.template.unwrap();
        let inner = template.metadata.unwrap().annotations.unwrap();
        assert_eq!(
            inner.into_iter().collect::<Vec<_>>(),
            vec![("keep".to_string(), "inner".to_string())]
        );
        assert_eq!(template.type_.as_deref(), Some("kubernetes.io/tls"));
        assert_eq!(template.immutable, Some(false));
    }

    #[test]
    fn skip_set_owner_references_becomes_keep_secret() {
        let f = fixture();
        let yaml = format!(
            "apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: n
  namespace: ns
spec:
  encryptedData:
    k: {}
  template:
    metadata:
      annotations:
        sealedsecrets.bitnami.com/skip-set-owner-references: \"true\"
",
            f.seal(b"v", "ns/n")
        );
        let migrated = f.migrate(&yaml).unwrap();
        let outer = migrated.sealed.metadata.annotations.unwrap();
        assert_eq!(outer.get(KEEP_SECRET).map(String::as_str), Some("true"));
        // Not copied into the Secret's template (bitnami's own prefix is dropped).
        assert!(
            migrated
                .sealed
                .spec
                .template
                .and_then(|t| t.metadata)
                .is_none()
        );
    }
}
