//! The sealed-value envelope: one Secret value sealed to one or more cluster keys.
//!
//! ```text
//! header   version(1) scope(1) len(1) namespace len(1) name len(1) key count(1) stanza*count
//!          key commitment(32)
//! stanza   type(1)=1 key id(8) ephemeral X25519 public key(32) wrapped data key(32) tag(16)
//!        | type(1)=2 key id(8) X-Wing ciphertext(1120) wrapped data key(32) tag(16)
//! body     payload length(4, big-endian) ciphertext(length - 16) tag(16)
//! ```
//!
//! The key commitment is derived from the data key and checked (in constant time) by every
//! opener before the payload is decrypted, so all recipients that open a value get the same
//! plaintext: ChaCha20-Poly1305 alone does not commit to its key.
//!
//! The header travels in the clear so errors can say what a value was sealed for, and it is the
//! associated data of the payload's AEAD, so nothing in it can change without the value failing
//! to open. [`Envelope::read`] and [`Envelope::write`] mirror each other byte for byte; `read`
//! accepts only the canonical encoding. `docs/FORMAT.md` is the normative description.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use subtle::ConstantTimeEq;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::keys::{KEY_ID_LEN, KeyId, KeyType, PrivateKey, PublicKey, PublicMaterial, StanzaShare};
use crate::primitives::{
    self, COMMITMENT_LABEL, CryptoError, Entropy, KEY_LEN, PAYLOAD_LABEL, TAG_LEN, WRAP_LABEL,
    XWING_CIPHERTEXT_LEN, XWING_ENCAPS_RANDOM_LEN, XWING_WRAP_LABEL,
};

/// The one format version this code reads and writes.
pub const VERSION: u8 = 1;
/// Most recipients (cluster keys) one value may be sealed to.
pub const MAX_RECIPIENTS: usize = 32;
/// Longest namespace, name or key name, in bytes (Kubernetes' DNS subdomain limit).
pub const MAX_NAME_LEN: usize = 253;
/// Longest namespace (a DNS label).
pub const MAX_NAMESPACE_LEN: usize = 63;
/// Bytes of one X25519 recipient stanza, its type byte included.
pub const STANZA_LEN: usize = 1 + KEY_ID_LEN + KEY_LEN + KEY_LEN + TAG_LEN;
/// Bytes of the key commitment that closes the header.
pub const COMMITMENT_LEN: usize = 32;
/// Bytes of one X-Wing recipient stanza, its type byte included.
pub const XWING_STANZA_LEN: usize = 1 + KEY_ID_LEN + XWING_CIPHERTEXT_LEN + KEY_LEN + TAG_LEN;
/// The stanza type byte of an X25519 recipient.
pub const STANZA_X25519: u8 = 1;
/// The stanza type byte of an X-Wing (ML-KEM-768 + X25519) recipient.
pub const STANZA_XWING: u8 = 2;

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

/// Which names a value is bound to, and so where it may be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Bound to the namespace, the SealedSecret's name and the key name.
    Strict,
    /// Bound to the namespace and the key name: the SealedSecret may be renamed.
    NamespaceWide,
    /// Bound to the key name only: the SealedSecret may move to any namespace.
    ClusterWide,
}

impl Scope {
    /// Every scope, for help texts and tests.
    pub const ALL: [Scope; 3] = [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide];

    /// The byte that encodes the scope in the header.
    pub fn code(self) -> u8 {
        match self {
            Scope::Strict => 1,
            Scope::NamespaceWide => 2,
            Scope::ClusterWide => 3,
        }
    }

    fn from_code(code: u8) -> Result<Scope, FormatError> {
        match code {
            1 => Ok(Scope::Strict),
            2 => Ok(Scope::NamespaceWide),
            3 => Ok(Scope::ClusterWide),
            other => Err(FormatError::UnknownScope(other)),
        }
    }

    /// The scope's name as users write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }

    fn binds_namespace(self) -> bool {
        self != Scope::ClusterWide
    }

    fn binds_name(self) -> bool {
        self == Scope::Strict
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                format!("unknown scope '{s}' (expected strict, namespace-wide or cluster-wide)")
            })
    }
}

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
    fn check(&self) -> Result<(), FormatError> {
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

/// One recipient's copy of the value's data key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stanza {
    /// Which cluster key can unwrap it.
    pub key_id: KeyId,
    /// What the recipient needs besides its private key to derive the wrap key.
    pub share: Share,
    /// The data key encrypted under the wrap key, followed by its tag.
    pub wrapped_key: [u8; KEY_LEN + TAG_LEN],
}

/// The per-recipient public part of a stanza; its variant is the stanza type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Share {
    /// Type 1: the ephemeral X25519 public key of this recipient's agreement.
    X25519([u8; KEY_LEN]),
    /// Type 2: the X-Wing ciphertext (ML-KEM-768 ciphertext, then the ephemeral X25519 key).
    XWing(Box<[u8; XWING_CIPHERTEXT_LEN]>),
}

impl Share {
    /// The stanza type byte.
    pub fn type_code(&self) -> u8 {
        match self {
            Share::X25519(_) => STANZA_X25519,
            Share::XWing(_) => STANZA_XWING,
        }
    }

    /// The type of key that can open the stanza.
    pub fn key_type(&self) -> KeyType {
        match self {
            Share::X25519(_) => KeyType::X25519,
            Share::XWing(_) => KeyType::XWing,
        }
    }

    /// The bytes written after the key id.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Share::X25519(ephemeral) => ephemeral,
            Share::XWing(ciphertext) => ciphertext.as_ref(),
        }
    }

    fn for_private_key(&self) -> StanzaShare<'_> {
        match self {
            Share::X25519(ephemeral) => StanzaShare::X25519(ephemeral),
            Share::XWing(ciphertext) => StanzaShare::XWing(ciphertext),
        }
    }
}

impl Stanza {
    /// Bytes of this stanza in the header.
    pub fn len(&self) -> usize {
        1 + KEY_ID_LEN + self.share.as_bytes().len() + KEY_LEN + TAG_LEN
    }

    /// Never true: a stanza always has its type, key id and wrapped key.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A parsed sealed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The scope and names the value is bound to.
    pub binding: Binding,
    /// One stanza per recipient, in the order they were sealed.
    pub stanzas: Vec<Stanza>,
    /// The commitment to the data key: HKDF(salt = "", data key, COMMITMENT_LABEL).
    pub commitment: [u8; COMMITMENT_LEN],
    /// The encrypted value followed by its 16-byte tag.
    pub payload: Vec<u8>,
}

impl Envelope {
    /// Parses the binary form, accepting only the canonical encoding.
    pub fn read(input: &[u8]) -> Result<Envelope, FormatError> {
        let (binding, stanzas, commitment, payload) = Envelope::parse(input)?;
        let payload = input[payload].to_vec();
        Ok(Envelope {
            binding,
            stanzas,
            commitment,
            payload,
        })
    }

    /// Parses the text form: canonical padded standard base64 of the binary form.
    pub fn from_base64(text: &str) -> Result<Envelope, FormatError> {
        let mut bytes = STANDARD.decode(text).map_err(|_| FormatError::Base64)?;
        let (binding, stanzas, commitment, payload) = Envelope::parse(&bytes)?;
        // Keep the payload in the decoded buffer instead of copying it out: opening a large
        // value then allocates one buffer, not two (the copy and its page faults cost a fifth of
        // opening 1 MiB), and decrypts in place in it.
        bytes.truncate(payload.end);
        bytes.drain(..payload.start);
        Ok(Envelope {
            binding,
            stanzas,
            commitment,
            payload: bytes,
        })
    }

    /// Checks the binary form and returns the binding, the stanzas, the key commitment and
    /// where the payload is.
    #[allow(clippy::type_complexity)]
    fn parse(
        input: &[u8],
    ) -> Result<
        (
            Binding,
            Vec<Stanza>,
            [u8; COMMITMENT_LEN],
            std::ops::Range<usize>,
        ),
        FormatError,
    > {
        let mut r = Reader { input };
        let version = r.byte("version")?;
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        let scope = Scope::from_code(r.byte("scope")?)?;
        let namespace = r.name("namespace")?;
        let name = r.name("name")?;
        let key = r.name("key")?;
        let binding = Binding {
            scope,
            namespace,
            name,
            key,
        };
        binding.check()?;

        let count = usize::from(r.byte("recipient count")?);
        if count == 0 || count > MAX_RECIPIENTS {
            return Err(FormatError::RecipientCount(count));
        }
        let mut stanzas: Vec<Stanza> = Vec::with_capacity(count);
        for _ in 0..count {
            let type_code = r.byte("recipient type")?;
            if type_code != STANZA_X25519 && type_code != STANZA_XWING {
                return Err(FormatError::UnknownStanzaType(type_code));
            }
            let key_id = KeyId::from_bytes(r.array("recipient key id")?);
            if stanzas.iter().any(|s| s.key_id == key_id) {
                return Err(FormatError::DuplicateRecipient(key_id));
            }
            let share = if type_code == STANZA_X25519 {
                Share::X25519(r.array("recipient ephemeral key")?)
            } else {
                let mut ciphertext = Box::new([0u8; XWING_CIPHERTEXT_LEN]);
                ciphertext.copy_from_slice(r.take(XWING_CIPHERTEXT_LEN, "recipient ciphertext")?);
                Share::XWing(ciphertext)
            };
            let wrapped_key = r.array("recipient wrapped key")?;
            stanzas.push(Stanza {
                key_id,
                share,
                wrapped_key,
            });
        }
        let commitment = r.array("key commitment")?;

        let len = u32::from_be_bytes(r.array("payload length")?) as usize;
        if len < TAG_LEN {
            return Err(FormatError::PayloadTooShort);
        }
        let start = input.len() - r.input.len();
        r.take(len, "payload")?;
        if !r.input.is_empty() {
            return Err(FormatError::TrailingBytes(r.input.len()));
        }
        Ok((binding, stanzas, commitment, start..start + len))
    }

    /// The header bytes: everything before the payload length. They are the payload's AEAD
    /// associated data.
    pub fn header(&self) -> Vec<u8> {
        let b = &self.binding;
        let mut out = Vec::with_capacity(
            6 + b.namespace.len()
                + b.name.len()
                + b.key.len()
                + self.stanzas.iter().map(Stanza::len).sum::<usize>()
                + COMMITMENT_LEN,
        );
        out.push(VERSION);
        out.push(b.scope.code());
        for name in [&b.namespace, &b.name, &b.key] {
            // Invariant: names were checked to be at most 253 bytes when the binding was made.
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
        // Invariant: 1..=MAX_RECIPIENTS (32) stanzas, checked on seal and on read.
        out.push(self.stanzas.len() as u8);
        for stanza in &self.stanzas {
            out.push(stanza.share.type_code());
            out.extend_from_slice(stanza.key_id.as_bytes());
            out.extend_from_slice(stanza.share.as_bytes());
            out.extend_from_slice(&stanza.wrapped_key);
        }
        out.extend_from_slice(&self.commitment);
        out
    }

    /// The binary form; `read(write(e)) == e` and `write(read(b)) == b`.
    pub fn write(&self) -> Vec<u8> {
        let mut out = self.header();
        out.reserve(4 + self.payload.len());
        // Invariant: payloads come from `read` (a u32 length) or from sealing a value that
        // `seal` checked to be under 4 GiB.
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// The text form: padded standard base64 of [`Envelope::write`].
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.write())
    }

    /// The key ids of the recipients, in order.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.stanzas.iter().map(|s| s.key_id).collect()
    }
}

/// A cursor over the input that turns running out of bytes into [`FormatError::Truncated`].
struct Reader<'a> {
    input: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FormatError> {
        if self.input.len() < n {
            return Err(FormatError::Truncated(field));
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    fn byte(&mut self, field: &'static str) -> Result<u8, FormatError> {
        Ok(self.take(1, field)?[0])
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn name(&mut self, field: &'static str) -> Result<String, FormatError> {
        let len = usize::from(self.byte(field)?);
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| FormatError::InvalidName {
            field,
            value: String::from_utf8_lossy(bytes).into_owned(),
            rule: "names are ASCII",
        })
    }
}

/// The private keys a value may be opened with, looked up by key id.
#[derive(Default)]
pub struct KeyRing {
    keys: HashMap<KeyId, PrivateKey>,
}

impl KeyRing {
    /// An empty key ring.
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// Adds a key; a key with the same id replaces the old one (they are the same key).
    pub fn insert(&mut self, key: PrivateKey) {
        self.keys.insert(key.id(), key);
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key with this id, if present.
    pub fn get(&self, id: &KeyId) -> Option<&PrivateKey> {
        self.keys.get(id)
    }

    /// The ids of the keys held, sorted.
    pub fn ids(&self) -> Vec<KeyId> {
        let mut ids: Vec<KeyId> = self.keys.keys().copied().collect();
        ids.sort();
        ids
    }
}

impl FromIterator<PrivateKey> for KeyRing {
    fn from_iter<I: IntoIterator<Item = PrivateKey>>(iter: I) -> Self {
        let mut ring = KeyRing::new();
        for key in iter {
            ring.insert(key);
        }
        ring
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing").field("ids", &self.ids()).finish()
    }
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

/// Seals `plaintext` for `binding` to every key in `recipients` (duplicates removed), with the
/// system's randomness, and returns the text form.
pub fn seal(
    plaintext: &[u8],
    binding: &Binding,
    recipients: &[PublicKey],
) -> Result<String, SealError> {
    Ok(seal_envelope(&SystemRandom::new(), plaintext, binding, recipients)?.to_base64())
}

/// Seals with the given entropy: a 32-byte data key first, then one 32-byte ephemeral secret
/// per recipient. Known-answer vectors use this with fixed bytes; everything else uses [`seal`].
pub fn seal_envelope(
    entropy: &dyn Entropy,
    plaintext: &[u8],
    binding: &Binding,
    recipients: &[PublicKey],
) -> Result<Envelope, SealError> {
    binding.check()?;
    // Recipients are compared as keys: the same key given twice is sealed once, but two
    // different keys that share a key id are refused, since an opener picks its stanza by id.
    let mut unique: Vec<&PublicKey> = Vec::with_capacity(recipients.len());
    for key in recipients {
        match unique.iter().find(|k| k.id() == key.id()) {
            None => unique.push(key),
            Some(same) if *same == key => {}
            Some(_) => return Err(SealError::KeyIdCollision(key.id())),
        }
    }
    if unique.is_empty() {
        return Err(SealError::NoRecipients);
    }
    if unique.len() > MAX_RECIPIENTS {
        return Err(SealError::TooManyRecipients(unique.len()));
    }
    if plaintext.len() > u32::MAX as usize - TAG_LEN {
        return Err(SealError::TooLarge(binding.key.clone()));
    }

    let data_key = primitives::random_key(entropy)?;
    let mut stanzas = Vec::with_capacity(unique.len());
    for recipient in unique {
        let unusable = |_| SealError::InvalidRecipient(recipient.id());
        let (share, wrap_key) = match recipient.material() {
            PublicMaterial::X25519(public) => {
                let ephemeral_secret = StaticSecret::from(*primitives::random_key(entropy)?);
                let ephemeral = primitives::x25519_public(&ephemeral_secret);
                let shared =
                    primitives::x25519_agree(&ephemeral_secret, public).map_err(unusable)?;
                (
                    Share::X25519(ephemeral),
                    wrap_key(&shared, &ephemeral, public),
                )
            }
            PublicMaterial::XWing(public) => {
                let mut randomness = Zeroizing::new([0u8; XWING_ENCAPS_RANDOM_LEN]);
                entropy.fill(randomness.as_mut())?;
                let (ciphertext, shared) =
                    primitives::xwing_encapsulate(public, &randomness).map_err(unusable)?;
                (Share::XWing(ciphertext), xwing_wrap_key(&shared))
            }
        };
        let mut wrapped_key = [0u8; KEY_LEN + TAG_LEN];
        wrapped_key[..KEY_LEN].copy_from_slice(data_key.as_ref());
        let tag = primitives::aead_seal(&wrap_key, &[], &mut wrapped_key[..KEY_LEN]);
        wrapped_key[KEY_LEN..].copy_from_slice(&tag);
        stanzas.push(Stanza {
            key_id: recipient.id(),
            share,
            wrapped_key,
        });
    }

    let mut envelope = Envelope {
        binding: binding.clone(),
        stanzas,
        commitment: key_commitment(&data_key),
        payload: Vec::new(),
    };
    let header = envelope.header();
    let mut payload = Vec::with_capacity(plaintext.len() + TAG_LEN);
    payload.extend_from_slice(plaintext);
    let tag = primitives::aead_seal(&payload_key(&data_key), &header, &mut payload);
    payload.extend_from_slice(&tag);
    envelope.payload = payload;
    Ok(envelope)
}

/// Opens the text form of a sealed value found at `at`, with one of `keys`.
pub fn open(sealed: &str, at: &Location, keys: &KeyRing) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let envelope = Envelope::from_base64(sealed).map_err(|source| OpenError::Malformed {
        key: at.key.clone(),
        source,
    })?;
    open_envelope(envelope, at, keys)
}

/// Opens a parsed envelope found at `at`: checks the binding, picks the stanza whose key id is
/// held (no trial decryption), unwraps the data key and decrypts the payload.
pub fn open_envelope(
    envelope: Envelope,
    at: &Location,
    keys: &KeyRing,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    check_location(&envelope, at)?;
    let Some((stanza, private)) = envelope
        .stanzas
        .iter()
        .find_map(|s| keys.get(&s.key_id).map(|k| (s, k)))
    else {
        return Err(OpenError::UnknownKey {
            key: at.key.clone(),
            wanted: envelope.key_ids(),
            available: keys.ids(),
        });
    };

    let tampered = || OpenError::Tampered {
        key: at.key.clone(),
    };
    let shared = private
        .shared_secret(stanza.share.for_private_key())
        .map_err(|_| tampered())?;
    let wrap_key = match (&stanza.share, private.public().x25519()) {
        (Share::X25519(ephemeral), Some(public)) => wrap_key(&shared, ephemeral, public),
        (Share::XWing(_), None) => xwing_wrap_key(&shared),
        // `shared_secret` refuses a share of the other type.
        _ => return Err(tampered()),
    };
    let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
    data_key.copy_from_slice(&stanza.wrapped_key[..KEY_LEN]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&stanza.wrapped_key[KEY_LEN..]);
    primitives::aead_open(&wrap_key, &[], data_key.as_mut(), &tag).map_err(|_| tampered())?;
    // The data key must be the one the header commits to, or another recipient could open the
    // same value to a different plaintext (ChaCha20-Poly1305 does not commit to its key).
    let committed: bool = key_commitment(&data_key).ct_eq(&envelope.commitment).into();
    if !committed {
        return Err(tampered());
    }

    let header = envelope.header();
    let mut payload = Zeroizing::new(envelope.payload);
    // `read` guarantees the tag is there, but an `Envelope` can also be built by hand.
    let Some(body_len) = payload.len().checked_sub(TAG_LEN) else {
        return Err(OpenError::Malformed {
            key: at.key.clone(),
            source: FormatError::PayloadTooShort,
        });
    };
    tag.copy_from_slice(&payload[body_len..]);
    primitives::aead_open(
        &payload_key(&data_key),
        &header,
        &mut payload[..body_len],
        &tag,
    )
    .map_err(|_| tampered())?;
    payload.truncate(body_len);
    Ok(payload)
}

/// Checks that a value with this envelope's binding may be opened at `at`, and says what it was
/// sealed for when not. Needs no key: `verify` uses it offline.
pub fn check_location(envelope: &Envelope, at: &Location) -> Result<(), OpenError> {
    let binding = &envelope.binding;
    if binding.allows(at) {
        return Ok(());
    }
    let place = binding.describe_place();
    let sealed_for = if binding.key == at.key {
        place
    } else {
        format!("key '{}' of {place}", binding.key)
    };
    let opened_as = match binding.scope {
        Scope::Strict => format!("{}/{}", at.namespace, at.name),
        Scope::NamespaceWide => format!("namespace {}", at.namespace),
        Scope::ClusterWide => format!("key '{}'", at.key),
    };
    Err(OpenError::WrongScope {
        key: at.key.clone(),
        sealed_for,
        opened_as,
    })
}

/// The key that wraps the data key for one recipient:
/// HKDF-SHA256(salt = ephemeral public || recipient public, ikm = shared secret, info = WRAP_LABEL).
fn wrap_key(
    shared: &[u8; KEY_LEN],
    ephemeral: &[u8; KEY_LEN],
    recipient: &[u8; KEY_LEN],
) -> primitives::SecretKey {
    let mut salt = [0u8; 2 * KEY_LEN];
    salt[..KEY_LEN].copy_from_slice(ephemeral);
    salt[KEY_LEN..].copy_from_slice(recipient);
    primitives::hkdf_sha256(&salt, shared, WRAP_LABEL)
}

/// The key that wraps the data key for one X-Wing recipient:
/// HKDF-SHA256(salt = empty, ikm = X-Wing shared secret, info = XWING_WRAP_LABEL). X-Wing's shared
/// secret already binds its ciphertext and the recipient's X25519 key.
fn xwing_wrap_key(shared: &[u8; KEY_LEN]) -> primitives::SecretKey {
    primitives::hkdf_sha256(&[], shared, XWING_WRAP_LABEL)
}

/// The commitment to the data key, carried in the header:
/// HKDF-SHA256(salt = empty, ikm = data key, info = COMMITMENT_LABEL).
fn key_commitment(data_key: &[u8; KEY_LEN]) -> [u8; COMMITMENT_LEN] {
    *primitives::hkdf_sha256(&[], data_key, COMMITMENT_LABEL)
}

/// The key that encrypts the value: HKDF-SHA256(salt = empty, ikm = data key, info = PAYLOAD_LABEL).
fn payload_key(data_key: &[u8; KEY_LEN]) -> primitives::SecretKey {
    primitives::hkdf_sha256(&[], data_key, PAYLOAD_LABEL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PrivateKey {
        PrivateKey::from_bytes(&[n; 32])
    }

    fn at(ns: &str, name: &str, key: &str) -> Location {
        Location::new(ns, name, key)
    }

    #[test]
    fn seal_open_round_trip_for_every_scope() {
        let k = key(1);
        let ring: KeyRing = [key(1)].into_iter().collect();
        for scope in Scope::ALL {
            let loc = at("production", "db-creds", "password");
            let binding = Binding::new(scope, &loc).unwrap();
            let sealed = seal(b"s3cr3t", &binding, &[k.public().clone()]).unwrap();
            assert_eq!(&*open(&sealed, &loc, &ring).unwrap(), b"s3cr3t");
        }
    }

    #[test]
    fn wrong_scope_names_what_was_expected() {
        let k = key(1);
        let ring: KeyRing = [key(1)].into_iter().collect();
        let binding =
            Binding::new(Scope::Strict, &at("production", "db-creds", "password")).unwrap();
        let sealed = seal(b"x", &binding, &[k.public().clone()]).unwrap();
        let err = open(&sealed, &at("staging", "db-creds", "password"), &ring).unwrap_err();
        assert_eq!(
            err.to_string(),
            "value 'password' was sealed for production/db-creds (strict) but is being opened as staging/db-creds"
        );
        assert_eq!(err.reason(), "WrongScope");
    }

    #[test]
    fn namespace_wide_allows_renaming_but_not_moving() {
        let k = key(1);
        let ring: KeyRing = [key(1)].into_iter().collect();
        let binding = Binding::new(Scope::NamespaceWide, &at("prod", "a", "k")).unwrap();
        assert_eq!(binding.name(), "");
        let sealed = seal(b"v", &binding, &[k.public().clone()]).unwrap();
        assert!(open(&sealed, &at("prod", "renamed", "k"), &ring).is_ok());
        let err = open(&sealed, &at("dev", "a", "k"), &ring).unwrap_err();
        assert_eq!(
            err.to_string(),
            "value 'k' was sealed for namespace prod (namespace-wide) but is being opened as namespace dev"
        );
    }

    #[test]
    fn unknown_key_lists_the_keys_on_both_sides() {
        let sealed_to = key(1);
        let binding = Binding::new(Scope::ClusterWide, &at("", "", "token")).unwrap();
        let sealed = seal(b"v", &binding, &[sealed_to.public().clone()]).unwrap();
        let ring: KeyRing = [key(2), key(3)].into_iter().collect();
        let err = open(&sealed, &at("any", "thing", "token"), &ring).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "value 'token' was sealed for key {} which is not among the 2 keys provided (",
                sealed_to.id().short()
            )),
            "{msg}"
        );
        assert_eq!(err.reason(), "UnknownKey");
    }

    #[test]
    fn multi_recipient_values_open_with_any_one_key() {
        let keys = [key(1), key(2), key(3)];
        let publics: Vec<PublicKey> = keys.iter().map(|k| k.public().clone()).collect();
        let loc = at("ns", "n", "k");
        let sealed = seal(
            b"multi",
            &Binding::new(Scope::Strict, &loc).unwrap(),
            &publics,
        )
        .unwrap();
        for n in 1..=3 {
            let ring: KeyRing = [key(n)].into_iter().collect();
            assert_eq!(&*open(&sealed, &loc, &ring).unwrap(), b"multi");
        }
    }

    #[test]
    fn duplicate_recipients_are_sealed_once_and_too_many_refused() {
        let k = key(1);
        let loc = at("ns", "n", "k");
        let binding = Binding::new(Scope::Strict, &loc).unwrap();
        let sealed = seal(b"v", &binding, &[k.public().clone(), k.public().clone()]).unwrap();
        assert_eq!(Envelope::from_base64(&sealed).unwrap().stanzas.len(), 1);
        let many: Vec<PublicKey> = (0..33u8).map(|n| key(n).public().clone()).collect();
        assert!(matches!(
            seal(b"v", &binding, &many),
            Err(SealError::TooManyRecipients(33))
        ));
        assert!(matches!(
            seal(b"v", &binding, &[]),
            Err(SealError::NoRecipients)
        ));
    }

    #[test]
    fn names_in_errors_are_quoted_on_one_printable_line() {
        assert_eq!(quote("Production"), r#""Production""#);
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("x\ny\u{e9}\u{fffd}"), r#""x\u{a}y\u{e9}\u{fffd}""#);
        let err = Envelope::read(&[1, 1, 2, b'a', 0xff, 1, b'n', 1, b'k']).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid namespace "a\u{fffd}": names are ASCII"#
        );
    }

    #[test]
    fn distinct_keys_with_one_key_id_are_refused() {
        let real = key(1).public().clone();
        let forged = PublicKey::with_forged_id(*key(2).public().x25519().unwrap(), real.id());
        assert_ne!(real, forged);
        let binding = Binding::new(Scope::Strict, &at("ns", "n", "k")).unwrap();
        let err = seal(b"v", &binding, &[real.clone(), forged]).unwrap_err();
        assert!(
            matches!(err, SealError::KeyIdCollision(id) if id == real.id()),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(&format!(
                "two different public keys have the same key id {}",
                real.id()
            )),
            "{err}"
        );
    }

    #[test]
    fn read_write_mirror_each_other() {
        let binding = Binding::new(Scope::Strict, &at("ns", "n", "k")).unwrap();
        let env = seal_envelope(
            &SystemRandom::new(),
            b"abc",
            &binding,
            &[key(1).public().clone()],
        )
        .unwrap();
        let bytes = env.write();
        assert_eq!(Envelope::read(&bytes).unwrap(), env);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Envelope::read(&longer), Err(FormatError::TrailingBytes(1)));
        assert_eq!(
            Envelope::read(&bytes[..bytes.len() - 1]),
            Err(FormatError::Truncated("payload"))
        );
    }

    #[test]
    fn a_hand_built_envelope_without_a_tag_is_an_error_not_a_panic() {
        let loc = at("ns", "n", "k");
        let mut env = seal_envelope(
            &SystemRandom::new(),
            b"",
            &Binding::new(Scope::Strict, &loc).unwrap(),
            &[key(1).public().clone()],
        )
        .unwrap();
        env.payload.truncate(5);
        let ring: KeyRing = [key(1)].into_iter().collect();
        let err = open_envelope(env, &loc, &ring).unwrap_err();
        assert!(
            matches!(
                err,
                OpenError::Malformed {
                    source: FormatError::PayloadTooShort,
                    ..
                }
            ),
            "{err}"
        );
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
