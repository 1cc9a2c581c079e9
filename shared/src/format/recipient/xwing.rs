//! The X-Wing recipient (stanza type 2, docs/FORMAT.md §3.5): X-Wing encapsulation
//! (ML-KEM-768 + X25519, draft-connolly-cfrg-xwing-kem-06) to the cluster key, and HKDF-SHA256
//! over its shared secret, which already binds the ciphertext and the recipient's X25519 key.

use zeroize::Zeroizing;

use crate::keys::KEY_ID_LEN;
use crate::primitives::{
    self, CryptoError, Entropy, KEY_LEN, SecretKey, TAG_LEN, XWING_CIPHERTEXT_LEN,
    XWING_ENCAPS_RANDOM_LEN, XWING_WRAP_LABEL, XWingPublic, XWingSecret,
};

use super::Recipient;

/// The stanza type byte of an X-Wing (ML-KEM-768 + X25519) recipient.
pub const STANZA_XWING: u8 = 2;
/// Bytes of one X-Wing recipient stanza, its type byte included.
pub const XWING_STANZA_LEN: usize = 1 + KEY_ID_LEN + XWING_CIPHERTEXT_LEN + KEY_LEN + TAG_LEN;

/// The X-Wing recipient type.
pub(crate) struct XWing;

impl Recipient for XWing {
    const STANZA_TYPE: u8 = STANZA_XWING;
    type Public = XWingPublic;
    type Private = XWingSecret;
    /// The X-Wing ciphertext.
    type Share = Box<[u8; XWING_CIPHERTEXT_LEN]>;

    /// Draws the 64 bytes of one encapsulation (ML-KEM's message, then the X25519 ephemeral).
    fn wrap_key(
        public: &XWingPublic,
        entropy: &dyn Entropy,
    ) -> Result<(Self::Share, SecretKey), CryptoError> {
        let mut randomness = Zeroizing::new([0u8; XWING_ENCAPS_RANDOM_LEN]);
        entropy.fill(randomness.as_mut())?;
        let (ciphertext, shared) = primitives::xwing_encapsulate(public, &randomness)?;
        Ok((ciphertext, wrap_key(&shared)))
    }

    fn unwrap_key(
        private: &XWingSecret,
        _public: &XWingPublic,
        ciphertext: &Self::Share,
    ) -> Result<SecretKey, CryptoError> {
        let shared = primitives::xwing_decapsulate(private, ciphertext)?;
        Ok(wrap_key(&shared))
    }
}

/// The key that wraps the data key for one X-Wing recipient:
/// HKDF-SHA256(salt = empty, ikm = X-Wing shared secret, info = XWING_WRAP_LABEL).
fn wrap_key(shared: &[u8; KEY_LEN]) -> SecretKey {
    primitives::hkdf_sha256(&[], shared, XWING_WRAP_LABEL)
}
