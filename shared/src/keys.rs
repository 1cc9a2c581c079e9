//! Cluster key pairs, key ids and their text forms.
//!
//! Two key types exist (docs/FORMAT.md §3): X25519, and the post-quantum hybrid X-Wing
//! (ML-KEM-768 + X25519). A public key travels as one line, `sealant-pub-v1:` (X25519) or
//! `sealant-pub-pq1:` (X-Wing) followed by unpadded url-safe base64 of the public key and a 4-byte
//! checksum, so that a typo is caught instead of sealing to a key nobody holds. A private key lives
//! in a file whose one key line starts with `SEALANT-PRIVATE-KEY-V1:` or `SEALANT-PRIVATE-KEY-PQ1:`;
//! public and private prefixes differ in case and wording so one can never be taken for the other,
//! and every reader detects the type from the prefix. Comment lines (`#`) and blank lines around
//! the key line are ignored.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::primitives::{
    self, CryptoError, KEY_ID_LABEL, KEY_LEN, SecretKey, XWING_PUBLIC_LEN, XWingPublic, XWingSecret,
};

/// Prefix of an X25519 public key's text form.
pub const PUBLIC_KEY_PREFIX: &str = "sealant-pub-v1:";
/// Prefix of the key line of an X25519 private key file.
pub const PRIVATE_KEY_PREFIX: &str = "SEALANT-PRIVATE-KEY-V1:";
/// Prefix of an X-Wing (post-quantum hybrid) public key's text form.
pub const PQ_PUBLIC_KEY_PREFIX: &str = "sealant-pub-pq1:";
/// Prefix of the key line of an X-Wing private key file.
pub const PQ_PRIVATE_KEY_PREFIX: &str = "SEALANT-PRIVATE-KEY-PQ1:";
/// Length of a key id in bytes (shown as 16 hex digits).
pub const KEY_ID_LEN: usize = 8;
const CHECKSUM_LEN: usize = 4;
/// What a "not a sealant public key" error says is expected.
const PUBLIC_PREFIXES: &str = "`sealant-pub-v1:` or `sealant-pub-pq1:`";
/// What a "not a sealant private key" error says is expected.
const PRIVATE_PREFIXES: &str = "`SEALANT-PRIVATE-KEY-V1:` or `SEALANT-PRIVATE-KEY-PQ1:`";

/// Whether a trimmed line is a sealant key line of any type, public or private: tools that accept
/// key files and other documents in one place use it to tell them apart.
pub fn is_key_line(line: &str) -> bool {
    [
        PUBLIC_KEY_PREFIX,
        PRIVATE_KEY_PREFIX,
        PQ_PUBLIC_KEY_PREFIX,
        PQ_PRIVATE_KEY_PREFIX,
    ]
    .iter()
    .any(|prefix| line.trim_ascii().starts_with(prefix))
}

/// The kind of a cluster key pair, and so of the stanzas sealed to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// X25519 (the default for new keys: small keys and values, see docs/FORMAT.md §3.5).
    #[default]
    X25519,
    /// X-Wing: ML-KEM-768 and X25519 combined (draft-connolly-cfrg-xwing-kem-06), safe against
    /// "harvest now, decrypt later" by a future quantum computer.
    XWing,
}

impl KeyType {
    /// Every key type, for help texts and tests.
    pub const ALL: [KeyType; 2] = [KeyType::X25519, KeyType::XWing];

    /// The name users write (`--key-type`): `x25519` or `xwing`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::X25519 => "x25519",
            KeyType::XWing => "xwing",
        }
    }

    fn public_prefix(self) -> &'static str {
        match self {
            KeyType::X25519 => PUBLIC_KEY_PREFIX,
            KeyType::XWing => PQ_PUBLIC_KEY_PREFIX,
        }
    }

    fn private_prefix(self) -> &'static str {
        match self {
            KeyType::X25519 => PRIVATE_KEY_PREFIX,
            KeyType::XWing => PQ_PRIVATE_KEY_PREFIX,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown key type '{s}' (expected x25519 or xwing)"))
    }
}

/// Reading a key failed. Messages never contain key material.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// A private key was given where a public key is expected; names the public prefix of its
    /// type.
    #[error("this is a private key, not a public key: pass the .pub file or the `{0}` line")]
    PrivateWherePublicExpected(&'static str),
    /// A public key was given where a private key is expected.
    #[error("this is a public key, not a private key")]
    PublicWherePrivateExpected,
    /// The text does not start with a known prefix.
    #[error("not a sealant {expected} key (expected a line starting with {prefixes})")]
    UnknownForm {
        expected: &'static str,
        prefixes: &'static str,
    },
    /// The encoded part is not valid unpadded url-safe base64 of the right length.
    #[error(
        "malformed {expected} key: the text after `{prefix}` must be {chars} base64url characters"
    )]
    Encoding {
        expected: &'static str,
        prefix: &'static str,
        chars: usize,
    },
    /// The checksum does not match: the text was mistyped or cut.
    #[error("{expected} key checksum mismatch: the key was mistyped or truncated")]
    Checksum { expected: &'static str },
    /// The key bytes are not the canonical encoding of an X25519 public key (the top bit is set,
    /// or the value is not below 2^255 - 19): another text would name the same key.
    #[error("malformed public key: not a canonical X25519 public key")]
    NonCanonical,
    /// The ML-KEM-768 part of an X-Wing public key fails FIPS 203's input check.
    #[error("malformed public key: not a valid ML-KEM-768 encapsulation key")]
    InvalidMlKem,
    /// A key file holds more than one key line.
    #[error("a {expected} key file must hold exactly one key line, found {found}")]
    KeyLineCount {
        expected: &'static str,
        found: usize,
    },
    /// A key id is not 16 hex digits.
    #[error("a key id is 16 hexadecimal digits")]
    KeyId,
    /// Generating a key failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// A short, stable name for a public key: the first 8 bytes of
/// SHA-256(`sealant.dev/v1/key-id` || public key), shown as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// The key id of a public key's bytes (32 for X25519, 1216 for X-Wing).
    pub fn of(public: &[u8]) -> KeyId {
        let digest = primitives::sha256(&[KEY_ID_LABEL, public]);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        KeyId(id)
    }

    /// Wraps raw key id bytes read from an envelope.
    pub fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> KeyId {
        KeyId(bytes)
    }

    /// The raw bytes, as written into an envelope.
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }

    /// The first 6 hex digits and an ellipsis, for messages that list many keys.
    pub fn short(&self) -> String {
        format!("{}…", &hex::encode(self.0)[..6])
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut id = [0u8; KEY_ID_LEN];
        hex::decode_to_slice(s, &mut id).map_err(|_| KeyError::KeyId)?;
        if s.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(KeyError::KeyId);
        }
        Ok(KeyId(id))
    }
}

/// The key material of a public key.
#[derive(Clone)]
enum PublicInner {
    X25519([u8; KEY_LEN]),
    XWing(Arc<XWingPublic>),
}

/// A public key's material, by type.
pub(crate) enum PublicMaterial<'a> {
    X25519(&'a [u8; KEY_LEN]),
    XWing(&'a XWingPublic),
}

/// A cluster's public key: what `sealant seal` encrypts to. Compared and hashed as a key (type
/// and bytes), never by id alone.
#[derive(Clone)]
pub struct PublicKey {
    inner: PublicInner,
    id: KeyId,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.key_type() == other.key_type() && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key_type().hash(state);
        self.as_bytes().hash(state);
    }
}

impl PublicKey {
    /// Wraps 32 raw X25519 public key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> PublicKey {
        PublicKey {
            inner: PublicInner::X25519(bytes),
            id: KeyId::of(&bytes),
        }
    }

    /// Wraps an X-Wing public key.
    fn from_xwing(public: XWingPublic) -> PublicKey {
        let id = KeyId::of(public.as_bytes());
        PublicKey {
            inner: PublicInner::XWing(Arc::new(public)),
            id,
        }
    }

    /// A key that claims another key's id: two distinct keys with one id, as only a crafted
    /// collision could give, for tests of the code that must refuse them.
    #[cfg(test)]
    pub(crate) fn with_forged_id(bytes: [u8; KEY_LEN], id: KeyId) -> PublicKey {
        PublicKey {
            inner: PublicInner::X25519(bytes),
            id,
        }
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            PublicInner::X25519(_) => KeyType::X25519,
            PublicInner::XWing(_) => KeyType::XWing,
        }
    }

    /// The raw public key: 32 bytes (X25519) or 1216 bytes (X-Wing: ML-KEM-768, then X25519).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.inner {
            PublicInner::X25519(bytes) => bytes,
            PublicInner::XWing(public) => public.as_bytes(),
        }
    }

    /// The X25519 public key, for an X25519 key.
    pub fn x25519(&self) -> Option<&[u8; KEY_LEN]> {
        match &self.inner {
            PublicInner::X25519(bytes) => Some(bytes),
            PublicInner::XWing(_) => None,
        }
    }

    /// The key material, for sealing.
    pub(crate) fn material(&self) -> PublicMaterial<'_> {
        match &self.inner {
            PublicInner::X25519(bytes) => PublicMaterial::X25519(bytes),
            PublicInner::XWing(public) => PublicMaterial::XWing(public),
        }
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Parses the public key out of a file's text: the one non-comment line.
    pub fn from_file_text(text: &str) -> Result<PublicKey, KeyError> {
        let lines = key_lines(text);
        match lines.as_slice() {
            [line] => line.parse(),
            [] => Err(KeyError::UnknownForm {
                expected: "public",
                prefixes: PUBLIC_PREFIXES,
            }),
            more => Err(KeyError::KeyLineCount {
                expected: "public",
                found: more.len(),
            }),
        }
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.key_type().public_prefix();
        let key = self.as_bytes();
        let mut body = Vec::with_capacity(key.len() + CHECKSUM_LEN);
        body.extend_from_slice(key);
        body.extend_from_slice(&checksum(prefix, key));
        write!(f, "{prefix}{}", URL_SAFE_NO_PAD.encode(body))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.key_type(), self.id)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim_ascii();
        for key_type in KeyType::ALL {
            if s.starts_with(key_type.private_prefix()) {
                return Err(KeyError::PrivateWherePublicExpected(
                    key_type.public_prefix(),
                ));
            }
        }
        if let Some(body) = s.strip_prefix(PUBLIC_KEY_PREFIX) {
            let bytes = decode_body::<KEY_LEN>(body, "public", PUBLIC_KEY_PREFIX)?;
            if !is_canonical_u(&bytes) {
                return Err(KeyError::NonCanonical);
            }
            return Ok(PublicKey::from_bytes(*bytes));
        }
        if let Some(body) = s.strip_prefix(PQ_PUBLIC_KEY_PREFIX) {
            let bytes = decode_body::<XWING_PUBLIC_LEN>(body, "public", PQ_PUBLIC_KEY_PREFIX)?;
            let mut x25519 = [0u8; KEY_LEN];
            x25519.copy_from_slice(&bytes[XWING_PUBLIC_LEN - KEY_LEN..]);
            if !is_canonical_u(&x25519) {
                return Err(KeyError::NonCanonical);
            }
            let public = XWingPublic::from_bytes(&bytes).ok_or(KeyError::InvalidMlKem)?;
            return Ok(PublicKey::from_xwing(public));
        }
        Err(KeyError::UnknownForm {
            expected: "public",
            prefixes: PUBLIC_PREFIXES,
        })
    }
}

/// The key material of a private key.
enum PrivateInner {
    X25519(StaticSecret),
    XWing(Box<XWingSecret>),
}

/// A cluster's private key. Cleared from memory on drop; has no `Debug` and no `Display`, and
/// is written out only through [`PrivateKey::to_file_text`].
pub struct PrivateKey {
    inner: PrivateInner,
    public: PublicKey,
}

/// A private key's material, by type.
pub(crate) enum PrivateMaterial<'a> {
    X25519(&'a StaticSecret),
    XWing(&'a XWingSecret),
}

impl PrivateKey {
    /// A new random X25519 key pair from the system's random number generator.
    pub fn generate() -> Result<PrivateKey, KeyError> {
        PrivateKey::generate_with(KeyType::X25519)
    }

    /// A new random key pair of the given type from the system's random number generator.
    pub fn generate_with(key_type: KeyType) -> Result<PrivateKey, KeyError> {
        let bytes = primitives::random_key(&SystemRandom::new())?;
        Ok(PrivateKey::from_seed(key_type, &bytes))
    }

    /// The X25519 key pair of 32 secret bytes (clamped by X25519 as usual).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> PrivateKey {
        PrivateKey::from_seed(KeyType::X25519, bytes)
    }

    /// The key pair of the given type stored as these 32 bytes: the X25519 secret, or the
    /// X-Wing seed that expands to the ML-KEM-768 and X25519 secrets.
    pub fn from_seed(key_type: KeyType, bytes: &[u8; KEY_LEN]) -> PrivateKey {
        match key_type {
            KeyType::X25519 => {
                let secret = StaticSecret::from(*bytes);
                let public = PublicKey::from_bytes(primitives::x25519_public(&secret));
                PrivateKey {
                    inner: PrivateInner::X25519(secret),
                    public,
                }
            }
            KeyType::XWing => {
                let secret = XWingSecret::from_seed(bytes);
                let public = PublicKey::from_xwing(secret.public().clone());
                PrivateKey {
                    inner: PrivateInner::XWing(Box::new(secret)),
                    public,
                }
            }
        }
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.public.key_type()
    }

    /// The matching public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key id of the matching public key.
    pub fn id(&self) -> KeyId {
        self.public.id
    }

    /// The key material, for opening.
    pub(crate) fn material(&self) -> PrivateMaterial<'_> {
        match &self.inner {
            PrivateInner::X25519(secret) => PrivateMaterial::X25519(secret),
            PrivateInner::XWing(secret) => PrivateMaterial::XWing(secret),
        }
    }

    /// The 32 bytes the key is stored as.
    fn stored_bytes(&self) -> SecretKey {
        match &self.inner {
            PrivateInner::X25519(secret) => Zeroizing::new(secret.to_bytes()),
            PrivateInner::XWing(secret) => Zeroizing::new(*secret.seed()),
        }
    }

    /// The private key file: comment lines naming the key type, key id and public key, then the
    /// key line.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let prefix = self.key_type().private_prefix();
        let secret = self.stored_bytes();
        let mut body = Zeroizing::new([0u8; KEY_LEN + CHECKSUM_LEN]);
        body[..KEY_LEN].copy_from_slice(secret.as_ref());
        body[KEY_LEN..].copy_from_slice(&checksum(prefix, secret.as_ref()));
        let encoded = Zeroizing::new(URL_SAFE_NO_PAD.encode(body.as_ref()));
        let kind = match self.key_type() {
            KeyType::X25519 => "",
            KeyType::XWing => " (post-quantum hybrid: X-Wing, ML-KEM-768 + X25519)",
        };
        Zeroizing::new(format!(
            "# sealant private key{kind}: keep it secret, back it up offline.\n\
             # key id: {}\n\
             # public key: {}\n\
             {prefix}{}\n",
            self.public.id,
            self.public,
            encoded.as_str()
        ))
    }

    /// Parses a private key file (or just its key line) of either type.
    pub fn from_file_text(text: &str) -> Result<PrivateKey, KeyError> {
        let unknown = KeyError::UnknownForm {
            expected: "private",
            prefixes: PRIVATE_PREFIXES,
        };
        let lines = key_lines(text);
        let line = match lines.as_slice() {
            [line] => *line,
            [] => return Err(unknown),
            more => {
                return Err(KeyError::KeyLineCount {
                    expected: "private",
                    found: more.len(),
                });
            }
        };
        if line.starts_with(PUBLIC_KEY_PREFIX) || line.starts_with(PQ_PUBLIC_KEY_PREFIX) {
            return Err(KeyError::PublicWherePrivateExpected);
        }
        for key_type in KeyType::ALL {
            let prefix = key_type.private_prefix();
            if let Some(body) = line.strip_prefix(prefix) {
                let bytes = decode_body::<KEY_LEN>(body, "private", prefix)?;
                return Ok(PrivateKey::from_seed(key_type, &bytes));
            }
        }
        Err(unknown)
    }
}

/// The non-blank, non-comment lines of a key file, trimmed. A line is what lies between line
/// feeds (U+000A); whitespace is ASCII only (space, tab, line feed, form feed, carriage return),
/// so a CRLF file reads like an LF file and no other character is ever dropped.
fn key_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .map(str::trim_ascii)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// Whether 32 bytes are the canonical little-endian encoding of an X25519 u-coordinate: below
/// 2^255 - 19, so the top bit is clear. X25519 ignores the top bit and reduces larger values, so a
/// non-canonical text would act as the same key under another key id, and values sealed to it
/// would name a key id no cluster has.
fn is_canonical_u(bytes: &[u8; KEY_LEN]) -> bool {
    // p = 2^255 - 19 is ed ff .. ff 7f little-endian; compare from the most significant byte.
    let mut p = [0xffu8; KEY_LEN];
    p[0] = 0xed;
    p[KEY_LEN - 1] = 0x7f;
    for i in (0..KEY_LEN).rev() {
        if bytes[i] != p[i] {
            return bytes[i] < p[i];
        }
    }
    false
}

/// First 4 bytes of SHA-256(prefix || key).
fn checksum(prefix: &str, key: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = primitives::sha256(&[prefix.as_bytes(), key]);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

/// The number of unpadded base64 characters that encode `bytes` bytes.
const fn base64url_chars(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// Decodes `key || checksum` (an `N`-byte key) from canonical unpadded base64url and checks the
/// checksum.
fn decode_body<const N: usize>(
    body: &str,
    expected: &'static str,
    prefix: &'static str,
) -> Result<Zeroizing<[u8; N]>, KeyError> {
    let chars = base64url_chars(N + CHECKSUM_LEN);
    let encoding = KeyError::Encoding {
        expected,
        prefix,
        chars,
    };
    if body.len() != chars {
        return Err(encoding);
    }
    let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(body).map_err(|_| encoding.clone())?);
    if raw.len() != N + CHECKSUM_LEN {
        return Err(encoding);
    }
    let mut key = Zeroizing::new([0u8; N]);
    key.copy_from_slice(&raw[..N]);
    if raw[N..] != checksum(prefix, key.as_ref()) {
        return Err(KeyError::Checksum { expected });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_text_round_trips_and_names_its_id() {
        let key = PrivateKey::from_bytes(&[42u8; 32]);
        let text = key.public().to_string();
        assert!(text.starts_with(PUBLIC_KEY_PREFIX));
        assert_eq!(text.len(), PUBLIC_KEY_PREFIX.len() + 48);
        let parsed: PublicKey = text.parse().unwrap();
        assert_eq!(&parsed, key.public());
        assert_eq!(parsed.id().to_string().len(), 16);
        assert_eq!(
            parsed.id().to_string().parse::<KeyId>().unwrap(),
            parsed.id()
        );
    }

    #[test]
    fn a_typo_in_a_public_key_is_caught_by_the_checksum() {
        let text = PrivateKey::from_bytes(&[1u8; 32]).public().to_string();
        let mut chars: Vec<char> = text.chars().collect();
        let i = PUBLIC_KEY_PREFIX.len() + 5;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(
            typo.parse::<PublicKey>(),
            Err(KeyError::Checksum { expected: "public" })
        );
    }

    #[test]
    fn private_key_file_round_trips_and_is_never_taken_for_public() {
        let key = PrivateKey::from_bytes(&[3u8; 32]);
        let file = key.to_file_text();
        let back = PrivateKey::from_file_text(&file).unwrap();
        assert_eq!(back.public(), key.public());
        assert_eq!(
            PublicKey::from_file_text(&file),
            Err(KeyError::PrivateWherePublicExpected(PUBLIC_KEY_PREFIX))
        );
        let public_text = key.public().to_string();
        assert!(matches!(
            PrivateKey::from_file_text(&public_text),
            Err(KeyError::PublicWherePrivateExpected)
        ));
    }

    #[test]
    fn private_key_file_names_the_public_key_and_id_in_comments() {
        let key = PrivateKey::from_bytes(&[5u8; 32]);
        let file = key.to_file_text();
        assert!(file.contains(&format!("# key id: {}", key.id())));
        assert!(file.contains(&format!("# public key: {}", key.public())));
    }

    #[test]
    fn non_canonical_public_keys_are_rejected_even_with_a_valid_checksum() {
        let encode = |bytes: [u8; KEY_LEN]| {
            let mut body = [0u8; KEY_LEN + CHECKSUM_LEN];
            body[..KEY_LEN].copy_from_slice(&bytes);
            body[KEY_LEN..].copy_from_slice(&checksum(PUBLIC_KEY_PREFIX, &bytes));
            format!("{PUBLIC_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(body))
        };
        let mut high_bit = *PrivateKey::from_bytes(&[1u8; 32])
            .public()
            .x25519()
            .unwrap();
        assert!(encode(high_bit).parse::<PublicKey>().is_ok());
        high_bit[31] |= 0x80;
        assert_eq!(
            encode(high_bit).parse::<PublicKey>(),
            Err(KeyError::NonCanonical)
        );
        // p itself and p + 1 are non-canonical; p - 1 is the largest canonical value.
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert_eq!(encode(p).parse::<PublicKey>(), Err(KeyError::NonCanonical));
        p[0] = 0xee;
        assert_eq!(encode(p).parse::<PublicKey>(), Err(KeyError::NonCanonical));
        p[0] = 0xec;
        assert!(encode(p).parse::<PublicKey>().is_ok());
    }

    #[test]
    fn wrong_lengths_and_garbage_are_rejected() {
        assert!(matches!(
            "sealant-pub-v1:abc".parse::<PublicKey>(),
            Err(KeyError::Encoding { .. })
        ));
        assert!(matches!(
            "ssh-ed25519 AAAA".parse::<PublicKey>(),
            Err(KeyError::UnknownForm { .. })
        ));
        assert!(matches!(
            PrivateKey::from_file_text("# only a comment\n"),
            Err(KeyError::UnknownForm { .. })
        ));
        assert!(matches!("0123".parse::<KeyId>(), Err(KeyError::KeyId)));
    }

    #[test]
    fn key_file_lines_and_whitespace_are_ascii_only() {
        let key = PrivateKey::from_bytes(&[6u8; 32]);
        let crlf = key.to_file_text().replace('\n', "\r\n");
        assert_eq!(
            PrivateKey::from_file_text(&crlf).unwrap().public(),
            key.public()
        );
        let padded = format!(" \t{}\x0c\r\n", key.public());
        assert_eq!(&padded.parse::<PublicKey>().unwrap(), key.public());
        // A no-break space is not whitespace here: the line no longer starts with the prefix.
        let nbsp = format!("\u{a0}{}", key.public());
        assert_eq!(
            nbsp.parse::<PublicKey>().unwrap_err().to_string(),
            "not a sealant public key (expected a line starting with `sealant-pub-v1:` or \
             `sealant-pub-pq1:`)"
        );
    }

    #[test]
    fn key_file_errors_say_what_the_specification_says() {
        let comments_only = "# sealant private key: keep it secret\n\n   # key id: none\n";
        assert_eq!(
            PrivateKey::from_file_text(comments_only)
                .err()
                .unwrap()
                .to_string(),
            "not a sealant private key (expected a line starting with `SEALANT-PRIVATE-KEY-V1:` or \
             `SEALANT-PRIVATE-KEY-PQ1:`)"
        );
        let public = PrivateKey::from_bytes(&[6u8; 32]).public().to_string();
        assert_eq!(
            PublicKey::from_file_text(&format!("{public}\n{public}\n"))
                .unwrap_err()
                .to_string(),
            "a public key file must hold exactly one key line, found 2"
        );
        assert_eq!(
            PublicKey::from_file_text("# nothing\n")
                .unwrap_err()
                .to_string(),
            "not a sealant public key (expected a line starting with `sealant-pub-v1:` or \
             `sealant-pub-pq1:`)"
        );
    }

    #[test]
    fn xwing_key_text_round_trips_and_is_never_taken_for_x25519() {
        let key = PrivateKey::from_seed(KeyType::XWing, &[9u8; 32]);
        assert_eq!(key.key_type(), KeyType::XWing);
        let text = key.public().to_string();
        assert!(text.starts_with(PQ_PUBLIC_KEY_PREFIX));
        assert_eq!(text.len(), PQ_PUBLIC_KEY_PREFIX.len() + 1627);
        let parsed: PublicKey = text.parse().unwrap();
        assert_eq!(&parsed, key.public());
        assert_eq!(parsed.key_type(), KeyType::XWing);
        assert_eq!(parsed.as_bytes().len(), XWING_PUBLIC_LEN);
        assert_eq!(parsed.id(), KeyId::of(parsed.as_bytes()));

        let file = key.to_file_text();
        assert!(file.contains("post-quantum hybrid"));
        assert!(file.contains(&format!("# public key: {}", key.public())));
        let back = PrivateKey::from_file_text(&file).unwrap();
        assert_eq!(back.public(), key.public());
        assert_eq!(back.key_type(), KeyType::XWing);

        // The same 32 bytes as an X25519 key are another key with another id.
        let x = PrivateKey::from_seed(KeyType::X25519, &[9u8; 32]);
        assert_ne!(x.public(), key.public());
        assert_ne!(x.id(), key.id());
        assert_eq!(
            PublicKey::from_file_text(&file),
            Err(KeyError::PrivateWherePublicExpected(PQ_PUBLIC_KEY_PREFIX))
        );
        assert!(matches!(
            PrivateKey::from_file_text(&text),
            Err(KeyError::PublicWherePrivateExpected)
        ));
        // An X25519 body under the PQ prefix (and the reverse) is malformed, not misread.
        let x_text = x.public().to_string();
        let swapped = x_text.replace(PUBLIC_KEY_PREFIX, PQ_PUBLIC_KEY_PREFIX);
        assert!(matches!(
            swapped.parse::<PublicKey>(),
            Err(KeyError::Encoding { chars: 1627, .. })
        ));
    }

    #[test]
    fn key_types_have_names_and_generate() {
        for key_type in KeyType::ALL {
            assert_eq!(key_type.as_str().parse::<KeyType>(), Ok(key_type));
            let key = PrivateKey::generate_with(key_type).unwrap();
            assert_eq!(key.key_type(), key_type);
        }
        assert_eq!(KeyType::default(), KeyType::X25519);
        assert!("pq".parse::<KeyType>().is_err());
        assert!(is_key_line("  sealant-pub-pq1:abc"));
        assert!(is_key_line("SEALANT-PRIVATE-KEY-PQ1:abc"));
        assert!(!is_key_line("apiVersion: v1"));
    }
}
