//! The `SealedSecret` resource (`sealant.dev/v1alpha1`) and its conversion to and from Secrets.
//!
//! Sealing turns each value of a Secret's `data` and `stringData` into its own envelope, so diffs
//! stay per key and keys can be merged. The template carries the Secret's labels, annotations,
//! `type` and `immutable`; `kubectl.kubernetes.io/last-applied-configuration` is dropped because
//! it holds the whole Secret, plaintext included.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::format::{self, Binding, KeyRing, Location, OpenError, Scope, SealError};
use crate::keys::PublicKey;

/// API group of sealant's resources, labels and annotations.
pub const GROUP: &str = "sealant.dev";
/// The annotation kubectl writes with the whole applied object; never copied (it holds plaintext).
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Label the controller puts on the Secrets it writes (and watches, by selector).
pub const MANAGED_BY_LABEL: &str = "sealant.dev/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY_VALUE: &str = "sealant-controller";
/// Annotation on an existing Secret that lets the controller adopt it.
pub const ADOPT_ANNOTATION: &str = "sealant.dev/managed";
/// Name of the ConfigMap in the controller's namespace that publishes the public keys.
pub const PUBLIC_KEYS_CONFIGMAP: &str = "sealant-public-keys";
/// Annotation with which objects suppress lint rules.
pub const LINT_IGNORE_ANNOTATION: &str = "sealant.dev/lint-ignore";

/// A Secret sealed for one or more clusters.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "sealant.dev",
    version = "v1alpha1",
    kind = "SealedSecret",
    namespaced,
    status = "SealedSecretStatus",
    shortname = "sealed",
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].reason"}"#,
    printcolumn = r#"{"name":"Scope","type":"string","jsonPath":".status.scope"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretSpec {
    /// One sealed value per Secret key: standard base64 of a sealant envelope (docs/FORMAT.md).
    #[serde(default)]
    pub encrypted_data: BTreeMap<String, String>,
    /// The public keys the values were sealed to (`sealant-pub-v1:` lines). Informational: used
    /// to seal new keys into the same file; opening never depends on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Metadata, type and immutability of the Secret to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<SecretTemplate>,
}

/// What the unsealed Secret looks like besides its data.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplate {
    /// Labels and annotations of the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// The Secret's `type` (e.g. `kubernetes.io/tls`); `Opaque` when absent.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Whether the Secret is immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

/// Labels and annotations of the unsealed Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct TemplateMetadata {
    /// Labels of the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations of the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// What the controller last did with a SealedSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretStatus {
    /// The `metadata.generation` the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// One condition, `Synced`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Where the values may be opened: `strict`, `namespace-wide` or `cluster-wide` (`mixed`
    /// when they differ), from their authenticated headers; set by the controller once they
    /// opened, absent before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Converting between Secrets and SealedSecrets failed; each variant names the field.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// `metadata.name` is missing.
    #[error("metadata.name is required")]
    MissingName,
    /// The namespace is needed by the scope but unknown.
    #[error(
        "metadata.namespace is required for {0} sealing (set it in the manifest or pass --namespace)"
    )]
    MissingNamespace(Scope),
    /// A SealedSecret without `metadata.namespace` was given to be opened: the caller must first
    /// resolve where it sits (docs/FORMAT.md §9), never open it at the empty namespace.
    #[error(
        "metadata.namespace is not set: resolve it as kubectl does (--namespace, else the \
         kubeconfig context's namespace, else default) before opening"
    )]
    UnresolvedNamespace,
    /// The Secret has nothing to seal.
    #[error("the Secret has no data or stringData to seal")]
    NoData,
    /// A `data` or `stringData` key is not a valid Secret key.
    #[error("{field}: {source}")]
    InvalidKey {
        field: String,
        #[source]
        source: format::FormatError,
    },
    /// Sealing one value failed.
    #[error("{field}: {source}")]
    Seal {
        field: String,
        #[source]
        source: SealError,
    },
    /// Opening one value failed.
    #[error("spec.encryptedData.{field}: {source}")]
    Open {
        field: String,
        #[source]
        source: OpenError,
    },
}

/// The values of a Secret (`data`, then `stringData` overriding it as the API server does), in
/// key order, with the field each came from.
pub fn secret_values(secret: &Secret) -> BTreeMap<String, (String, Zeroizing<Vec<u8>>)> {
    let mut values = BTreeMap::new();
    for (key, ByteString(bytes)) in secret.data.iter().flatten() {
        values.insert(
            key.clone(),
            (format!("data.{key}"), Zeroizing::new(bytes.clone())),
        );
    }
    for (key, text) in secret.string_data.iter().flatten() {
        values.insert(
            key.clone(),
            (
                format!("stringData.{key}"),
                Zeroizing::new(text.as_bytes().to_vec()),
            ),
        );
    }
    values
}

/// Seals a Secret for `namespace` (already resolved by the caller; may be empty for cluster-wide)
/// into a SealedSecret, one envelope per value.
pub fn seal_secret(
    secret: &Secret,
    namespace: &str,
    scope: Scope,
    recipients: &[PublicKey],
) -> Result<SealedSecret, ConvertError> {
    let name = secret
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(ConvertError::MissingName)?;
    if namespace.is_empty() && scope != Scope::ClusterWide {
        return Err(ConvertError::MissingNamespace(scope));
    }
    let mut encrypted_data = BTreeMap::new();
    for (key, (field, value)) in secret_values(secret) {
        let at = Location::new(namespace, name.as_str(), key.as_str());
        let binding = Binding::new(scope, &at).map_err(|source| match source {
            format::FormatError::InvalidName { field: "key", .. } => ConvertError::InvalidKey {
                field: field.clone(),
                source,
            },
            other => ConvertError::Seal {
                field: "metadata".to_string(),
                source: SealError::Binding(other),
            },
        })?;
        let sealed = format::seal(&value, &binding, recipients)
            .map_err(|source| ConvertError::Seal { field, source })?;
        encrypted_data.insert(key, sealed);
    }

    let template = template_of(secret);
    Ok(SealedSecret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            ..ObjectMeta::default()
        },
        spec: SealedSecretSpec {
            encrypted_data,
            recipients: recipients_text(recipients),
            template: (template != SecretTemplate::default()).then_some(template),
        },
        status: None,
    })
}

/// The `spec.recipients` lines for a set of keys, duplicates removed, in order.
pub fn recipients_text(recipients: &[PublicKey]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in recipients {
        let text = key.to_string();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

/// The template describing a Secret's labels, annotations (minus last-applied), type and
/// immutability.
pub fn template_of(secret: &Secret) -> SecretTemplate {
    let labels = secret.metadata.labels.clone().filter(|l| !l.is_empty());
    let annotations = secret.metadata.annotations.clone().map(|mut a| {
        a.remove(LAST_APPLIED_ANNOTATION);
        a
    });
    let annotations = annotations.filter(|a| !a.is_empty());
    let metadata = (labels.is_some() || annotations.is_some()).then_some(TemplateMetadata {
        labels,
        annotations,
    });
    SecretTemplate {
        metadata,
        type_: secret.type_.clone(),
        immutable: secret.immutable,
    }
}

/// Opens every value of a SealedSecret where it sits (its namespace and name), in key order.
/// Fails on the first value that does not open, naming it. The namespace must be set: a
/// manifest without one sits where kubectl puts it, which only the caller knows (FORMAT.md §9).
pub fn open_values(
    sealed: &SealedSecret,
    keys: &KeyRing,
) -> Result<BTreeMap<String, Zeroizing<Vec<u8>>>, ConvertError> {
    let namespace = sealed
        .metadata
        .namespace
        .as_deref()
        .ok_or(ConvertError::UnresolvedNamespace)?;
    let name = sealed.metadata.name.as_deref().unwrap_or_default();
    let mut values = BTreeMap::new();
    for (key, text) in &sealed.spec.encrypted_data {
        let at = Location::new(namespace, name, key.as_str());
        let value = format::open(text, &at, keys).map_err(|source| ConvertError::Open {
            field: key.clone(),
            source,
        })?;
        values.insert(key.clone(), value);
    }
    Ok(values)
}

/// The scope of a SealedSecret's values as its status shows it: the scope's name when every
/// value has the same, `mixed` when they differ, `None` without values or when a header does not
/// parse. Read from the clear headers: only after the values opened is this authenticated.
pub fn scope_summary(sealed: &SealedSecret) -> Option<&'static str> {
    let mut found: Option<Scope> = None;
    for text in sealed.spec.encrypted_data.values() {
        let scope = format::Envelope::from_base64(text).ok()?.binding.scope();
        match found {
            Some(seen) if seen != scope => return Some("mixed"),
            _ => found = Some(scope),
        }
    }
    found.map(Scope::as_str)
}

/// The Secret a SealedSecret stands for, given its opened values: same name and namespace,
/// template labels, annotations, type and immutability.
pub fn secret_of(sealed: &SealedSecret, values: &BTreeMap<String, Zeroizing<Vec<u8>>>) -> Secret {
    let template = sealed.spec.template.clone().unwrap_or_default();
    let metadata = template.metadata.unwrap_or_default();
    let annotations = metadata.annotations.map(|mut a| {
        a.remove(LAST_APPLIED_ANNOTATION);
        a
    });
    Secret {
        metadata: ObjectMeta {
            name: sealed.metadata.name.clone(),
            namespace: sealed.metadata.namespace.clone(),
            labels: metadata.labels,
            annotations: annotations.filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        },
        data: Some(
            values
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.to_vec())))
                .collect(),
        ),
        type_: template.type_,
        immutable: template.immutable,
        ..Secret::default()
    }
}

/// Opens a SealedSecret into the Secret it stands for.
pub fn open_sealed_secret(sealed: &SealedSecret, keys: &KeyRing) -> Result<Secret, ConvertError> {
    Ok(secret_of(sealed, &open_values(sealed, keys)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;

    fn secret_yaml() -> Secret {
        serde_yaml::from_str(
            r#"
apiVersion: v1
kind: Secret
metadata:
  name: db-creds
  namespace: production
  labels: {app: db}
  annotations:
    team: data
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"c2VjcmV0"}}'
type: kubernetes.io/basic-auth
immutable: true
data:
  username: YWRtaW4=
  password: b2xk
stringData:
  password: new
"#,
        )
        .unwrap()
    }

    #[test]
    fn seal_then_open_gives_back_the_secret_without_last_applied() {
        let key = PrivateKey::from_bytes(&[8; 32]);
        let sealed = seal_secret(
            &secret_yaml(),
            "production",
            Scope::Strict,
            &[key.public().clone()],
        )
        .unwrap();
        assert_eq!(sealed.spec.encrypted_data.len(), 2);
        assert_eq!(sealed.spec.recipients, vec![key.public().to_string()]);
        let yaml = serde_yaml::to_string(&sealed).unwrap();
        assert!(!yaml.contains("last-applied"), "{yaml}");
        assert!(!yaml.contains("c2VjcmV0"));

        let ring: KeyRing = [key].into_iter().collect();
        let secret = open_sealed_secret(&sealed, &ring).unwrap();
        let data = secret.data.unwrap();
        assert_eq!(data["username"].0, b"admin");
        assert_eq!(
            data["password"].0, b"new",
            "stringData wins over data, as in the API server"
        );
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/basic-auth"));
        assert_eq!(secret.immutable, Some(true));
        let annotations = secret.metadata.annotations.unwrap();
        assert_eq!(annotations.get("team").map(String::as_str), Some("data"));
        assert!(!annotations.contains_key(LAST_APPLIED_ANNOTATION));
    }

    #[test]
    fn moving_a_strict_sealed_secret_fails_with_the_field_named() {
        let key = PrivateKey::from_bytes(&[8; 32]);
        let mut sealed = seal_secret(
            &secret_yaml(),
            "production",
            Scope::Strict,
            &[key.public().clone()],
        )
        .unwrap();
        sealed.metadata.namespace = Some("staging".into());
        let ring: KeyRing = [key].into_iter().collect();
        let err = open_sealed_secret(&sealed, &ring).unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.encryptedData.password: value 'password' was sealed for production/db-creds (strict) but is being opened as staging/db-creds"
        );
    }

    #[test]
    fn strict_sealing_needs_a_namespace() {
        let key = PrivateKey::from_bytes(&[8; 32]);
        let err =
            seal_secret(&secret_yaml(), "", Scope::Strict, &[key.public().clone()]).unwrap_err();
        assert!(matches!(err, ConvertError::MissingNamespace(Scope::Strict)));
        assert!(
            seal_secret(
                &secret_yaml(),
                "",
                Scope::ClusterWide,
                &[key.public().clone()]
            )
            .is_ok()
        );
    }

    #[test]
    fn a_sealed_secret_without_namespace_is_opened_only_once_resolved() {
        let key = PrivateKey::from_bytes(&[8; 32]);
        let mut sealed = seal_secret(
            &secret_yaml(),
            "",
            Scope::ClusterWide,
            &[key.public().clone()],
        )
        .unwrap();
        assert_eq!(sealed.metadata.namespace, None);
        let ring: KeyRing = [key].into_iter().collect();
        assert!(matches!(
            open_values(&sealed, &ring),
            Err(ConvertError::UnresolvedNamespace)
        ));
        sealed.metadata.namespace = Some("default".into());
        let secret = open_sealed_secret(&sealed, &ring).unwrap();
        assert_eq!(secret.metadata.namespace.as_deref(), Some("default"));
    }
}
