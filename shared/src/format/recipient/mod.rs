//! The recipient types, one module each (`x25519.rs`, `xwing.rs`), behind one trait: how a
//! value's data key is wrapped for one cluster key, and unwrapped by the holder of its private
//! key. A stanza carries the type byte, the key id, the type's [`Share`] and the wrapped data
//! key; the envelope (`envelope.rs`) reads and writes it, sealing and opening (`seal.rs`) reach
//! the types only through [`wrap_key`] and [`unwrap_key`].

mod x25519;
mod xwing;

use crate::keys::{KeyType, PrivateKey, PrivateMaterial, PublicKey, PublicMaterial};
use crate::primitives::{CryptoError, Entropy, KEY_LEN, SecretKey, XWING_CIPHERTEXT_LEN};

pub use x25519::{STANZA_LEN, STANZA_X25519};
pub use xwing::{STANZA_XWING, XWING_STANZA_LEN};

use x25519::X25519;
use xwing::XWing;

/// Most recipients (cluster keys) one value may be sealed to.
pub const MAX_RECIPIENTS: usize = 32;

/// One recipient type: what its stanza carries between the key id and the wrapped data key (the
/// share), and how sealer and opener each derive the key that wraps the data key.
pub(crate) trait Recipient {
    /// The stanza type byte.
    const STANZA_TYPE: u8;
    /// The recipient's public key.
    type Public;
    /// The recipient's private key.
    type Private;
    /// The share, as the stanza stores it.
    type Share;

    /// Draws the randomness one recipient of this type takes from `entropy` (a fixed amount, in
    /// a fixed order: known-answer vectors replay it) and returns the share to write and the
    /// wrap key. `NonContributory` means the public key is unusable.
    fn wrap_key(
        public: &Self::Public,
        entropy: &dyn Entropy,
    ) -> Result<(Self::Share, SecretKey), CryptoError>;

    /// The wrap key the sealer derived, from the share and the key pair.
    fn unwrap_key(
        private: &Self::Private,
        public: &Self::Public,
        share: &Self::Share,
    ) -> Result<SecretKey, CryptoError>;
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
            Share::X25519(_) => X25519::STANZA_TYPE,
            Share::XWing(_) => XWing::STANZA_TYPE,
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
}

/// The share and wrap key of one recipient, by the type of its public key.
pub(crate) fn wrap_key(
    recipient: &PublicKey,
    entropy: &dyn Entropy,
) -> Result<(Share, SecretKey), CryptoError> {
    match recipient.material() {
        PublicMaterial::X25519(public) => {
            X25519::wrap_key(public, entropy).map(|(share, key)| (Share::X25519(share), key))
        }
        PublicMaterial::XWing(public) => {
            XWing::wrap_key(public, entropy).map(|(share, key)| (Share::XWing(share), key))
        }
    }
}

/// The wrap key of a stanza's share, with a private key. A share of another type than the key is
/// an authentication failure, like a changed one.
pub(crate) fn unwrap_key(private: &PrivateKey, share: &Share) -> Result<SecretKey, CryptoError> {
    match (private.material(), private.public().material(), share) {
        (
            PrivateMaterial::X25519(secret),
            PublicMaterial::X25519(public),
            Share::X25519(ephemeral),
        ) => X25519::unwrap_key(secret, public, ephemeral),
        (
            PrivateMaterial::XWing(secret),
            PublicMaterial::XWing(public),
            Share::XWing(ciphertext),
        ) => XWing::unwrap_key(secret, public, ciphertext),
        _ => Err(CryptoError::Authentication),
    }
}
