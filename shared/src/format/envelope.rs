//! The envelope: the binary form of one sealed value, read and written byte for byte.
//!
//! ```text
//! header   version(1) scope(1) len(1) namespace len(1) name len(1) key count(1) stanza*count
//!          key commitment(32)
//! stanza   type(1)=1 key id(8) ephemeral X25519 public key(32) wrapped data key(32) tag(16)
//!        | type(1)=2 key id(8) X-Wing ciphertext(1120) wrapped data key(32) tag(16)
//! body     payload length(4, big-endian) ciphertext(length - 16) tag(16)
//! ```
//!
//! [`Envelope::read`] and [`Envelope::write`] mirror each other; `read` accepts only the
//! canonical encoding. The key commitment and the payload key are derived here from the data
//! key; how the data key reaches each recipient is the recipient types' business (`recipient/`).

use std::ops::Range;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::keys::{KEY_ID_LEN, KeyId};
use crate::primitives::{
    self, COMMITMENT_LABEL, KEY_LEN, PAYLOAD_LABEL, SecretKey, TAG_LEN, XWING_CIPHERTEXT_LEN,
};

use super::binding::Binding;
use super::error::FormatError;
use super::recipient::{MAX_RECIPIENTS, STANZA_X25519, STANZA_XWING, Share};
use super::scope::Scope;

/// The one format version this code reads and writes.
pub const VERSION: u8 = 1;
/// Bytes of the key commitment that closes the header.
pub const COMMITMENT_LEN: usize = 32;

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
    ) -> Result<(Binding, Vec<Stanza>, [u8; COMMITMENT_LEN], Range<usize>), FormatError> {
        let mut r = Reader { input };
        let version = r.byte("version")?;
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        let code = r.byte("scope")?;
        let scope = Scope::from_code(code).ok_or(FormatError::UnknownScope(code))?;
        let namespace = r.name("namespace")?;
        let name = r.name("name")?;
        let key = r.name("key")?;
        let binding = Binding::from_header(scope, namespace, name, key)?;

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
            6 + b.namespace().len()
                + b.name().len()
                + b.key().len()
                + self.stanzas.iter().map(Stanza::len).sum::<usize>()
                + COMMITMENT_LEN,
        );
        out.push(VERSION);
        out.push(b.scope().code());
        for name in [b.namespace(), b.name(), b.key()] {
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

/// The commitment to the data key, carried in the header:
/// HKDF-SHA256(salt = empty, ikm = data key, info = COMMITMENT_LABEL).
pub(super) fn key_commitment(data_key: &[u8; KEY_LEN]) -> [u8; COMMITMENT_LEN] {
    *primitives::hkdf_sha256(&[], data_key, COMMITMENT_LABEL)
}

/// The key that encrypts the value: HKDF-SHA256(salt = empty, ikm = data key, info = PAYLOAD_LABEL).
pub(super) fn payload_key(data_key: &[u8; KEY_LEN]) -> SecretKey {
    primitives::hkdf_sha256(&[], data_key, PAYLOAD_LABEL)
}
