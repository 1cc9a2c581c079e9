//! The input Secret on its way to sealing, checked once. `seal` and `merge-into` read a document
//! with [`parse_secret`](crate::manifest::parse_secret) (every field as the API server accepts
//! it), resolve its namespace, and make it a [`SecretInput`]: every value's binding checked for
//! the scope, so nothing is sealed or written until all of them are known to fit. Sealing takes
//! only a `SecretInput`, through the core's [`resource::seal_secret`], for both subcommands.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use sealant_core::PublicKey;
use sealant_core::format::{Binding, Location, Scope};
use sealant_core::resource;

use crate::error::{CliError, CliResult};

/// A parsed Secret whose namespace is resolved and whose values all bind for the scope.
pub struct SecretInput {
    /// `file: document 2 (kind Secret)`, for messages.
    ctx: String,
    secret: Secret,
    /// Where it will be opened; empty for a cluster-wide value without a namespace.
    namespace: String,
    scope: Scope,
}

impl SecretInput {
    /// Checks every value's binding (names and key as the scope requires), `data` then
    /// `stringData`, naming the first that does not fit.
    pub fn new(ctx: String, secret: Secret, namespace: String, scope: Scope) -> CliResult<Self> {
        let name = secret.metadata.name.as_deref().unwrap_or_default();
        let fields = secret
            .data
            .iter()
            .flatten()
            .map(|(k, _)| ("data", k))
            .chain(
                secret
                    .string_data
                    .iter()
                    .flatten()
                    .map(|(k, _)| ("stringData", k)),
            );
        for (field, key) in fields {
            Binding::new(
                scope,
                &Location::new(namespace.as_str(), name, key.as_str()),
            )
            .map_err(|e| CliError::input(format!("{ctx}: {field}.{key}: {e}")))?;
        }
        Ok(SecretInput {
            ctx,
            secret,
            namespace,
            scope,
        })
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The number of distinct keys (`stringData` overrides `data`).
    pub fn value_count(&self) -> usize {
        let mut keys: Vec<&String> = self.secret.data.iter().flatten().map(|(k, _)| k).collect();
        keys.extend(self.secret.string_data.iter().flatten().map(|(k, _)| k));
        keys.sort();
        keys.dedup();
        keys.len()
    }

    /// The SealedSecret: each value sealed to `keys`, the template from the Secret.
    pub fn seal(&self, keys: &[PublicKey]) -> CliResult<sealant_core::SealedSecret> {
        resource::seal_secret(&self.secret, &self.namespace, self.scope, keys)
            .map_err(|e| CliError::input(format!("{}: {e}", self.ctx)))
    }

    /// Only the sealed values, by key, to add to an existing SealedSecret.
    pub fn seal_values(&self, keys: &[PublicKey]) -> CliResult<BTreeMap<String, String>> {
        if self.value_count() == 0 {
            return Ok(BTreeMap::new());
        }
        Ok(self.seal(keys)?.spec.encrypted_data)
    }
}
