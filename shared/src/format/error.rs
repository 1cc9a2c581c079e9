//! What can go wrong with a sealed value: parsing it ([`FormatError`]), sealing
//! ([`SealError`]) and opening ([`OpenError`]). Messages name the value, the field and what was
//! expected; none carries plaintext or key material, and authentication failures stay vague.

use crate::keys::KeyId;
use crate::primitives::CryptoError;

use super::recipient::MAX_RECIPIENTS;
use super::scope::Scope;

/// A sealed value could not be parsed. Says which part is wrong, never anything secret.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// Not canonical, padded, standard base64.
    #[error("not canonical standard base64 (padded, no whitespace)")]
    Base64,
    /// The input ends inside a field.
    #[error("truncated: the data ends inside the {0}")]
    Truncated(&'static str),
    /// Bytes follow the payload.
    #[error("{0} trailing bytes after the payload")]
    TrailingBytes(usize),
    /// The version byte is not one this code reads.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// The scope byte is not a known scope.
    #[error("unknown scope code {0}")]
    UnknownScope(u8),
    /// A name the scope binds is missing.
    #[error("a {scope} value must be bound to a {field}")]
    MissingName { scope: Scope, field: &'static str },
    /// A name the scope does not bind is present.
    #[error("a {scope} value must not carry a {field}")]
    UnexpectedName { scope: Scope, field: &'static str },
    /// A name is not a valid Kubernetes name. The value is quoted by [`quote`].
    #[error("invalid {field} {}: {rule}", quote(.value))]
    InvalidName {
        field: &'static str,
        value: String,
        rule: &'static str,
    },
    /// The recipient count is out of range.
    #[error("{0} recipients: a value is sealed to 1 to {MAX_RECIPIENTS} keys")]
    RecipientCount(usize),
    /// The same key id appears twice.
    #[error("key {0} appears twice among the recipients")]
    DuplicateRecipient(KeyId),
    /// A stanza type byte this code does not know.
    #[error("unknown recipient type {0}")]
    UnknownStanzaType(u8),
    /// The payload is shorter than its tag.
    #[error("the payload is shorter than its 16-byte tag")]
    PayloadTooShort,
}

/// A name as error messages show it: between double quotes, printable ASCII as is except `"` and
/// `\` (written `\"` and `\\`), every other character as `\u{H}` with H its code point in
/// lowercase hex without leading zeros. Bytes that are not UTF-8 were already replaced by
/// U+FFFD when the name was read. So a message is always one line of printable ASCII.
pub fn quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            other => out.push_str(&format!("\\u{{{:x}}}", u32::from(other))),
        }
    }
    out.push('"');
    out
}

/// Sealing failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// No recipient key was given.
    #[error("no public key to seal to")]
    NoRecipients,
    /// Too many distinct recipient keys.
    #[error("{0} public keys given: a value can be sealed to at most {MAX_RECIPIENTS}")]
    TooManyRecipients(usize),
    /// Two different public keys have the same key id.
    #[error(
        "two different public keys have the same key id {0}: refusing to seal to both (a key \
         pair can be made to collide with another's 64-bit id; check where each key came from)"
    )]
    KeyIdCollision(KeyId),
    /// A recipient public key is a low-order point: nobody holds its private key.
    #[error("public key {0} is not a usable X25519 key (low-order point)")]
    InvalidRecipient(KeyId),
    /// The value is larger than the format's 32-bit length field allows.
    #[error("value '{0}' is too large to seal (4 GiB at most)")]
    TooLarge(String),
    /// The namespace, name or key name is not valid for the scope.
    #[error(transparent)]
    Binding(#[from] FormatError),
    /// The random number generator failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Opening a value failed. Authentication failures stay vague on purpose ("tampered or
/// corrupt"); the clear header lets the others say exactly what was expected.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The value is not a well-formed envelope.
    #[error("value '{key}' is not a valid sealed value: {source}")]
    Malformed {
        key: String,
        #[source]
        source: FormatError,
    },
    /// The value's binding does not allow opening it where it sits.
    #[error("value '{key}' was sealed for {sealed_for} but is being opened as {opened_as}")]
    WrongScope {
        key: String,
        sealed_for: String,
        opened_as: String,
    },
    /// None of the value's recipients is among the keys held.
    #[error(
        "value '{key}' was sealed for {} which {} among the {} provided ({})",
        describe_ids(.wanted), if .wanted.len() == 1 { "is not" } else { "are not" },
        count_keys(.available.len()), describe_ids(.available)
    )]
    UnknownKey {
        key: String,
        wanted: Vec<KeyId>,
        available: Vec<KeyId>,
    },
    /// Authentication failed: the value, its header or the key was changed.
    #[error("tampered or corrupt value '{key}'")]
    Tampered { key: String },
}

impl OpenError {
    /// The reason as a fixed identifier (a `Synced` condition reason and a metric label).
    pub fn reason(&self) -> &'static str {
        match self {
            OpenError::Malformed { .. } => "InvalidSealedValue",
            OpenError::WrongScope { .. } => "WrongScope",
            OpenError::UnknownKey { .. } => "UnknownKey",
            OpenError::Tampered { .. } => "Tampered",
        }
    }
}

fn describe_ids(ids: &[KeyId]) -> String {
    match ids {
        [] => "no key".to_string(),
        [one] => format!("key {}", one.short()),
        many => format!(
            "keys {}",
            many.iter().map(KeyId::short).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn count_keys(n: usize) -> String {
    if n == 1 {
        "1 key".to_string()
    } else {
        format!("{n} keys")
    }
}
