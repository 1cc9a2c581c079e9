//! The scope binding: the names a value is bound to under its scope, their validation, and
//! whether a value may be opened where it sits. The binding travels in the envelope's clear
//! header and is part of the payload's associated data; this module only knows names, never keys
//! or bytes.

use super::error::FormatError;
use super::scope::Scope;

/// Longest namespace, name or key name, in bytes (Kubernetes' DNS subdomain limit).
pub const MAX_NAME_LEN: usize = 253;
/// Longest namespace (a DNS label).
pub const MAX_NAMESPACE_LEN: usize = 63;

/// Where a value sits: the SealedSecret's namespace and name, and the value's key name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

impl Location {
    /// A location from its three names.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        key: impl Into<String>,
    ) -> Location {
        Location {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
        }
    }
}

/// The scope and the names a value is bound to, as carried in the envelope's header. Only the
/// names the scope binds are kept; the others are empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    scope: Scope,
    namespace: String,
    name: String,
    key: String,
}

impl Binding {
    /// The binding of a value sealed with `scope` for `at`; names the scope does not bind are
    /// dropped, names it binds must be valid.
    pub fn new(scope: Scope, at: &Location) -> Result<Binding, FormatError> {
        let binding = Binding {
            scope,
            namespace: if scope.binds_namespace() {
                at.namespace.clone()
            } else {
                String::new()
            },
            name: if scope.binds_name() {
                at.name.clone()
            } else {
                String::new()
            },
            key: at.key.clone(),
        };
        binding.check()?;
        Ok(binding)
    }

    /// The binding a header states, checked: exactly the names the scope binds, each valid.
    pub(super) fn from_header(
        scope: Scope,
        namespace: String,
        name: String,
        key: String,
    ) -> Result<Binding, FormatError> {
        let binding = Binding {
            scope,
            namespace,
            name,
            key,
        };
        binding.check()?;
        Ok(binding)
    }

    /// The scope.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The bound namespace (empty for cluster-wide).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The bound SealedSecret name (empty unless strict).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bound key name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether a value with this binding may be opened at `at`.
    pub fn allows(&self, at: &Location) -> bool {
        self.key == at.key
            && (!self.scope.binds_namespace() || self.namespace == at.namespace)
            && (!self.scope.binds_name() || self.name == at.name)
    }

    /// Where the value may be opened, for messages: `production/db-creds (strict)`.
    pub fn describe_place(&self) -> String {
        match self.scope {
            Scope::Strict => format!("{}/{} (strict)", self.namespace, self.name),
            Scope::NamespaceWide => format!("namespace {} (namespace-wide)", self.namespace),
            Scope::ClusterWide => "any namespace (cluster-wide)".to_string(),
        }
    }

    /// Checks the canonical form: required names present and valid, others empty.
    pub(super) fn check(&self) -> Result<(), FormatError> {
        let scope = self.scope;
        for (field, value, bound) in [
            ("namespace", &self.namespace, scope.binds_namespace()),
            ("name", &self.name, scope.binds_name()),
        ] {
            match (bound, value.is_empty()) {
                (true, true) => return Err(FormatError::MissingName { scope, field }),
                (false, false) => return Err(FormatError::UnexpectedName { scope, field }),
                _ => {}
            }
        }
        if scope.binds_namespace() {
            validate_namespace(&self.namespace)?;
        }
        if scope.binds_name() {
            validate_object_name(&self.name)?;
        }
        validate_key_name(&self.key)
    }
}

/// Checks a namespace: a DNS-1123 label (lowercase alphanumerics and '-', at most 63).
pub fn validate_namespace(value: &str) -> Result<(), FormatError> {
    let rule = "a namespace is at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit";
    let ok = !value.is_empty()
        && value.len() <= MAX_NAMESPACE_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    ok.then_some(()).ok_or_else(|| FormatError::InvalidName {
        field: "namespace",
        value: value.to_string(),
        rule,
    })
}

/// Checks an object name: a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.').
pub fn validate_object_name(value: &str) -> Result<(), FormatError> {
    let rule = "a name is at most 253 characters: dot-separated parts of lowercase letters, digits \
                and '-', each starting and ending with a letter or digit";
    let label_ok = |label: &str| {
        let edge = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        edge(label.bytes().next())
            && edge(label.bytes().last())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let ok = value.len() <= MAX_NAME_LEN && value.split('.').all(label_ok);
    ok.then_some(()).ok_or_else(|| FormatError::InvalidName {
        field: "name",
        value: value.to_string(),
        rule,
    })
}

/// Checks a Secret data key: letters, digits, '-', '_' and '.', at most 253, not `.` or `..`.
pub fn validate_key_name(value: &str) -> Result<(), FormatError> {
    let rule = "a key is at most 253 letters, digits, '-', '_' or '.'";
    let ok = !value.is_empty()
        && value.len() <= MAX_NAME_LEN
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    ok.then_some(()).ok_or_else(|| FormatError::InvalidName {
        field: "key",
        value: value.to_string(),
        rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ns: &str, name: &str, key: &str) -> Location {
        Location::new(ns, name, key)
    }

    #[test]
    fn names_are_validated_for_the_scope() {
        assert!(matches!(
            Binding::new(Scope::Strict, &at("", "n", "k")),
            Err(FormatError::MissingName {
                field: "namespace",
                ..
            })
        ));
        assert!(matches!(
            Binding::new(Scope::Strict, &at("Prod", "n", "k")),
            Err(FormatError::InvalidName {
                field: "namespace",
                ..
            })
        ));
        assert!(matches!(
            Binding::new(Scope::ClusterWide, &at("x", "y", "a/b")),
            Err(FormatError::InvalidName { field: "key", .. })
        ));
        for bad in ["a..b", "a.-b", "a-.b", ".a", "a.", "-a", "A"] {
            assert!(
                matches!(
                    Binding::new(Scope::Strict, &at("ns", bad, "k")),
                    Err(FormatError::InvalidName { field: "name", .. })
                ),
                "{bad}"
            );
        }
        assert!(Binding::new(Scope::Strict, &at("ns", "web.example-1.com", "k")).is_ok());
    }
}
