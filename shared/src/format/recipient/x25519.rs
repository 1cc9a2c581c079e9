//! The X25519 recipient (stanza type 1, docs/FORMAT.md §3.3): an ephemeral X25519 agreement
//! with the cluster key per recipient, and HKDF-SHA256 over it with salt = ephemeral public ||
//! recipient public, so the wrap key is bound to both keys (as age's X25519 recipient does).

use x25519_dalek::StaticSecret;

use crate::keys::KEY_ID_LEN;
use crate::primitives::{self, CryptoError, Entropy, KEY_LEN, SecretKey, TAG_LEN, WRAP_LABEL};

use super::Recipient;

/// The stanza type byte of an X25519 recipient.
pub const STANZA_X25519: u8 = 1;
/// Bytes of one X25519 recipient stanza, its type byte included.
pub const STANZA_LEN: usize = 1 + KEY_ID_LEN + KEY_LEN + KEY_LEN + TAG_LEN;

/// The X25519 recipient type.
pub(crate) struct X25519;

impl Recipient for X25519 {
    const STANZA_TYPE: u8 = STANZA_X25519;
    type Public = [u8; KEY_LEN];
    type Private = StaticSecret;
    /// The ephemeral public key.
    type Share = [u8; KEY_LEN];

    /// Draws the 32-byte ephemeral secret.
    fn wrap_key(
        public: &[u8; KEY_LEN],
        entropy: &dyn Entropy,
    ) -> Result<([u8; KEY_LEN], SecretKey), CryptoError> {
        let ephemeral_secret = StaticSecret::from(*primitives::random_key(entropy)?);
        let ephemeral = primitives::x25519_public(&ephemeral_secret);
        let shared = primitives::x25519_agree(&ephemeral_secret, public)?;
        Ok((ephemeral, wrap_key(&shared, &ephemeral, public)))
    }

    fn unwrap_key(
        private: &StaticSecret,
        public: &[u8; KEY_LEN],
        ephemeral: &[u8; KEY_LEN],
    ) -> Result<SecretKey, CryptoError> {
        let shared = primitives::x25519_agree(private, ephemeral)?;
        Ok(wrap_key(&shared, ephemeral, public))
    }
}

/// The key that wraps the data key for one recipient:
/// HKDF-SHA256(salt = ephemeral public || recipient public, ikm = shared secret, info = WRAP_LABEL).
fn wrap_key(
    shared: &[u8; KEY_LEN],
    ephemeral: &[u8; KEY_LEN],
    recipient: &[u8; KEY_LEN],
) -> SecretKey {
    let mut salt = [0u8; 2 * KEY_LEN];
    salt[..KEY_LEN].copy_from_slice(ephemeral);
    salt[KEY_LEN..].copy_from_slice(recipient);
    primitives::hkdf_sha256(&salt, shared, WRAP_LABEL)
}
