//! Cluster key pairs, key ids and their text forms.
//!
//! A public key travels as one line, `sealant-pub-v1:` followed by unpadded url-safe base64 of the
//! 32-byte X25519 public key and a 4-byte checksum, so that a typo is caught instead of sealing to
//! a key nobody holds. A private key lives in a file whose one key line starts with
//! `SEALANT-PRIVATE-KEY-V1:`; the two prefixes differ in case and wording so one can never be
//! taken for the other. Comment lines (`#`) and blank lines around the key line are ignored.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::primitives::{self, CryptoError, KEY_ID_LABEL, KEY_LEN, SecretKey};

/// Prefix of a public key's text form.
pub const PUBLIC_KEY_PREFIX: &str = "sealant-pub-v1:";
/// Prefix of the key line in a private key file.
pub const PRIVATE_KEY_PREFIX: &str = "SEALANT-PRIVATE-KEY-V1:";
/// Length of a key id in bytes (shown as 16 hex digits).
pub const KEY_ID_LEN: usize = 8;
const CHECKSUM_LEN: usize = 4;

/// Reading a key failed. Messages never contain key material.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// A private key was given where a public key is expected.
    #[error(
        "this is a private key, not a public key: pass the .pub file or the `sealant-pub-v1:` line"
    )]
    PrivateWherePublicExpected,
    /// A public key was given where a private key is expected.
    #[error("this is a public key, not a private key")]
    PublicWherePrivateExpected,
    /// The text does not start with a known prefix.
    #[error("not a sealant {expected} key (expected a line starting with `{prefix}`)")]
    UnknownForm {
        expected: &'static str,
        prefix: &'static str,
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
    /// The key id of a 32-byte X25519 public key.
    pub fn of(public: &[u8; KEY_LEN]) -> KeyId {
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

/// A cluster's public key: what `sealant seal` encrypts to.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    bytes: [u8; KEY_LEN],
    id: KeyId,
}

impl PublicKey {
    /// Wraps 32 raw X25519 public key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> PublicKey {
        PublicKey {
            bytes,
            id: KeyId::of(&bytes),
        }
    }

    /// A key that claims another key's id: two distinct keys with one id, as only a crafted
    /// collision could give, for tests of the code that must refuse them.
    #[cfg(test)]
    pub(crate) fn with_forged_id(bytes: [u8; KEY_LEN], id: KeyId) -> PublicKey {
        PublicKey { bytes, id }
    }

    /// The raw X25519 public key.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
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
                prefix: PUBLIC_KEY_PREFIX,
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
        let mut body = [0u8; KEY_LEN + CHECKSUM_LEN];
        body[..KEY_LEN].copy_from_slice(&self.bytes);
        body[KEY_LEN..].copy_from_slice(&checksum(PUBLIC_KEY_PREFIX, &self.bytes));
        write!(f, "{PUBLIC_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(body))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim_ascii();
        if s.starts_with(PRIVATE_KEY_PREFIX) {
            return Err(KeyError::PrivateWherePublicExpected);
        }
        let body = s
            .strip_prefix(PUBLIC_KEY_PREFIX)
            .ok_or(KeyError::UnknownForm {
                expected: "public",
                prefix: PUBLIC_KEY_PREFIX,
            })?;
        let bytes = decode_body(body, "public", PUBLIC_KEY_PREFIX)?;
        if !is_canonical_u(&bytes) {
            return Err(KeyError::NonCanonical);
        }
        Ok(PublicKey::from_bytes(*bytes))
    }
}

/// A cluster's private key. Cleared from memory on drop; has no `Debug` and no `Display`, and
/// is written out only through [`PrivateKey::to_file_text`].
pub struct PrivateKey {
    secret: StaticSecret,
    public: PublicKey,
}

impl PrivateKey {
    /// A new random key pair from the system's random number generator.
    pub fn generate() -> Result<PrivateKey, KeyError> {
        let bytes = primitives::random_key(&SystemRandom::new())?;
        Ok(PrivateKey::from_bytes(&bytes))
    }

    /// The key pair of 32 secret bytes (clamped by X25519 as usual).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> PrivateKey {
        let secret = StaticSecret::from(*bytes);
        let public = PublicKey::from_bytes(primitives::x25519_public(&secret));
        PrivateKey { secret, public }
    }

    /// The matching public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key id of the matching public key.
    pub fn id(&self) -> KeyId {
        self.public.id
    }

    /// X25519 agreement with an ephemeral public key from an envelope.
    pub(crate) fn agree(&self, ephemeral: &[u8; KEY_LEN]) -> Result<SecretKey, CryptoError> {
        primitives::x25519_agree(&self.secret, ephemeral)
    }

    /// The private key file: comment lines naming the key id and public key, then the key line.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let secret = Zeroizing::new(self.secret.to_bytes());
        let mut body = Zeroizing::new([0u8; KEY_LEN + CHECKSUM_LEN]);
        body[..KEY_LEN].copy_from_slice(secret.as_ref());
        body[KEY_LEN..].copy_from_slice(&checksum(PRIVATE_KEY_PREFIX, &secret));
        let encoded = Zeroizing::new(URL_SAFE_NO_PAD.encode(body.as_ref()));
        Zeroizing::new(format!(
            "# sealant private key: keep it secret, back it up offline.\n\
             # key id: {}\n\
             # public key: {}\n\
             {PRIVATE_KEY_PREFIX}{}\n",
            self.public.id,
            self.public,
            encoded.as_str()
        ))
    }

    /// Parses a private key file (or just its key line).
    pub fn from_file_text(text: &str) -> Result<PrivateKey, KeyError> {
        let lines = key_lines(text);
        let line = match lines.as_slice() {
            [line] => *line,
            [] => {
                return Err(KeyError::UnknownForm {
                    expected: "private",
                    prefix: PRIVATE_KEY_PREFIX,
                });
            }
            more => {
                return Err(KeyError::KeyLineCount {
                    expected: "private",
                    found: more.len(),
                });
            }
        };
        if line.starts_with(PUBLIC_KEY_PREFIX) {
            return Err(KeyError::PublicWherePrivateExpected);
        }
        let body = line
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(KeyError::UnknownForm {
                expected: "private",
                prefix: PRIVATE_KEY_PREFIX,
            })?;
        let bytes = decode_body(body, "private", PRIVATE_KEY_PREFIX)?;
        Ok(PrivateKey::from_bytes(&bytes))
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
fn checksum(prefix: &str, key: &[u8; KEY_LEN]) -> [u8; CHECKSUM_LEN] {
    let digest = primitives::sha256(&[prefix.as_bytes(), key]);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

/// Decodes `key || checksum` and checks the checksum.
fn decode_body(
    body: &str,
    expected: &'static str,
    prefix: &'static str,
) -> Result<SecretKey, KeyError> {
    let encoding = KeyError::Encoding {
        expected,
        prefix,
        chars: 48,
    };
    let mut raw = Zeroizing::new([0u8; KEY_LEN + CHECKSUM_LEN]);
    if body.len() != 48 {
        return Err(encoding);
    }
    let n = URL_SAFE_NO_PAD
        .decode_slice(body, raw.as_mut())
        .map_err(|_| encoding.clone())?;
    if n != raw.len() {
        return Err(encoding);
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&raw[..KEY_LEN]);
    if raw[KEY_LEN..] != checksum(prefix, &key) {
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
            Err(KeyError::PrivateWherePublicExpected)
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
        let mut high_bit = *PrivateKey::from_bytes(&[1u8; 32]).public().as_bytes();
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
            "not a sealant public key (expected a line starting with `sealant-pub-v1:`)"
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
            "not a sealant private key (expected a line starting with `SEALANT-PRIVATE-KEY-V1:`)"
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
            "not a sealant public key (expected a line starting with `sealant-pub-v1:`)"
        );
    }
}
