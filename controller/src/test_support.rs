//! Test helpers shared by the unit tests of the reconcile phases.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sealant_core::format::{Binding, Location, Scope, seal};
use sealant_core::keys::PrivateKey;
use sealant_core::resource::{SealedSecret, SealedSecretSpec, SecretTemplate, TemplateMetadata};

/// A SealedSecret `prod/db` with one value, `password`, sealed to `key` for `sealed_for`.
pub(crate) fn sealed_secret(
    key: &PrivateKey,
    scope: Scope,
    sealed_for: (&str, &str),
) -> SealedSecret {
    let binding = Binding::new(
        scope,
        &Location::new(sealed_for.0, sealed_for.1, "password"),
    )
    .unwrap();
    let value = seal(b"hunter2", &binding, &[key.public().clone()]).unwrap();
    SealedSecret {
        metadata: ObjectMeta {
            name: Some("db".into()),
            namespace: Some("prod".into()),
            uid: Some("uid-1".into()),
            generation: Some(3),
            ..ObjectMeta::default()
        },
        spec: SealedSecretSpec {
            encrypted_data: BTreeMap::from([("password".to_string(), value)]),
            recipients: vec![],
            template: Some(SecretTemplate {
                metadata: Some(TemplateMetadata {
                    labels: Some(BTreeMap::from([("app".to_string(), "db".to_string())])),
                    annotations: None,
                }),
                type_: None,
                immutable: None,
            }),
        },
        status: None,
    }
}
