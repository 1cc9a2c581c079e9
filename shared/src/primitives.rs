//! Cryptographic building blocks, each a small function with one job.
//!
//! Everything the sealed-value format does with keys goes through this module: randomness from
//! one source ([`ring::rand::SystemRandom`]), HKDF-SHA256 and SHA-256 from `ring`, X25519 from
//! `x25519-dalek` and ChaCha20-Poly1305 from `chacha20poly1305`. The format (`docs/FORMAT.md`)
//! names every label defined here.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// Length of every symmetric key, X25519 key and shared secret, in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a ChaCha20-Poly1305 authentication tag, in bytes.
pub const TAG_LEN: usize = 16;

/// HKDF info label for the key that wraps a value's data key for one recipient.
pub const WRAP_LABEL: &[u8] = b"sealant.dev/v1/x25519-wrap";
/// HKDF info label for the key that encrypts the value itself, derived from the data key.
pub const PAYLOAD_LABEL: &[u8] = b"sealant.dev/v1/payload";
/// HKDF info label for the commitment to the data key that closes the header.
pub const COMMITMENT_LABEL: &[u8] = b"sealant.dev/v1/key-commitment";
/// Prefix hashed with a public key to form its key id.
pub const KEY_ID_LABEL: &[u8] = b"sealant.dev/v1/key-id";

/// Every AEAD key in the format is used exactly once, so the nonce is always zero.
const ZERO_NONCE: [u8; 12] = [0; 12];

/// A symmetric key or shared secret, cleared on drop.
pub type SecretKey = Zeroizing<[u8; KEY_LEN]>;

/// The randomness failed or a primitive rejected its input. Deliberately carries no detail:
/// callers add what they know (which value, which key).
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Randomness,
    /// An X25519 agreement gave the all-zero secret: the other public key is a low-order point.
    #[error("low-order X25519 public key (all-zero shared secret)")]
    NonContributory,
    /// An AEAD tag did not verify: wrong key, or the data was changed.
    #[error("authentication failed")]
    Authentication,
}

/// Where sealing gets its random bytes. Production code uses [`SystemRandom`]; known-answer
/// vectors replay fixed bytes through [`FixedEntropy`].
pub trait Entropy {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), CryptoError>;
}

impl Entropy for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CryptoError> {
        SecureRandom::fill(self, dest).map_err(|_| CryptoError::Randomness)
    }
}

/// Replays a fixed byte string as "randomness", for reproducible test vectors only. Running out
/// of bytes is an error, never a silent repeat.
pub struct FixedEntropy {
    bytes: Zeroizing<Vec<u8>>,
    used: std::cell::Cell<usize>,
}

impl FixedEntropy {
    /// Wraps the bytes to hand out, in order.
    pub fn new(bytes: Vec<u8>) -> Self {
        FixedEntropy {
            bytes: Zeroizing::new(bytes),
            used: std::cell::Cell::new(0),
        }
    }
}

impl Entropy for FixedEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CryptoError> {
        let start = self.used.get();
        let end = start + dest.len();
        let src = self.bytes.get(start..end).ok_or(CryptoError::Randomness)?;
        dest.copy_from_slice(src);
        self.used.set(end);
        Ok(())
    }
}

/// A fresh random 32-byte key.
pub fn random_key(entropy: &dyn Entropy) -> Result<SecretKey, CryptoError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    entropy.fill(key.as_mut())?;
    Ok(key)
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// HKDF-SHA256 (RFC 5869) producing one 32-byte key.
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8]) -> SecretKey {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    // Invariant: `expand` and `fill` fail only when the requested length exceeds 255 hash
    // lengths; HKDF_SHA256 as the key type asks for exactly one (32 bytes).
    #[allow(clippy::expect_used)]
    prk.expand(&[info], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(out.as_mut()))
        .expect("HKDF-SHA256 can always expand to 32 bytes");
    out
}

/// The public key of an X25519 secret scalar.
pub fn x25519_public(secret: &StaticSecret) -> [u8; KEY_LEN] {
    PublicKey::from(secret).to_bytes()
}

/// X25519 agreement, rejecting the all-zero result that a low-order public key produces.
pub fn x25519_agree(
    secret: &StaticSecret,
    their_public: &[u8; KEY_LEN],
) -> Result<SecretKey, CryptoError> {
    let shared = secret.diffie_hellman(&PublicKey::from(*their_public));
    if !shared.was_contributory() {
        return Err(CryptoError::NonContributory);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// Encrypts `buf` in place with ChaCha20-Poly1305 under a single-use `key` and returns the tag.
pub fn aead_seal(key: &[u8; KEY_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    // Invariant: encryption fails only for messages longer than 2^38 bytes; callers pass at most
    // a 4 GiB buffer (the format's length field is 32 bits).
    #[allow(clippy::expect_used)]
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&ZERO_NONCE), aad, buf)
        .expect("ChaCha20-Poly1305 encrypts any buffer under 256 GiB");
    tag.into()
}

/// Decrypts `buf` in place, or leaves an error if `tag` does not authenticate `buf` and `aad`.
pub fn aead_open(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), CryptoError> {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(&ZERO_NONCE),
            aad,
            buf,
            Tag::from_slice(tag),
        )
        .map_err(|_| CryptoError::Authentication)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_matches_rfc5869_test_case_1() {
        // RFC 5869 A.1, truncated to our 32-byte output.
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let okm = hkdf_sha256(&salt, &ikm, &info);
        assert_eq!(
            hex::encode(okm.as_ref()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    #[test]
    fn aead_round_trips_and_rejects_changed_aad() {
        let key = [7u8; 32];
        let mut buf = b"hunter2".to_vec();
        let tag = aead_seal(&key, b"aad", &mut buf);
        assert_ne!(buf, b"hunter2");
        let mut copy = buf.clone();
        assert_eq!(
            aead_open(&key, b"other", &mut copy, &tag),
            Err(CryptoError::Authentication)
        );
        aead_open(&key, b"aad", &mut buf, &tag).unwrap();
        assert_eq!(buf, b"hunter2");
    }

    #[test]
    fn agreement_rejects_low_order_points() {
        let secret = StaticSecret::from([9u8; 32]);
        assert_eq!(
            x25519_agree(&secret, &[0u8; 32]).err(),
            Some(CryptoError::NonContributory)
        );
        // u = 1, a point of order 4.
        let mut order4 = [0u8; 32];
        order4[0] = 1;
        assert_eq!(
            x25519_agree(&secret, &order4).err(),
            Some(CryptoError::NonContributory)
        );
    }

    #[test]
    fn fixed_entropy_runs_out_instead_of_repeating() {
        let e = FixedEntropy::new(vec![1, 2, 3]);
        let mut a = [0u8; 2];
        e.fill(&mut a).unwrap();
        assert_eq!(a, [1, 2]);
        assert_eq!(e.fill(&mut a), Err(CryptoError::Randomness));
    }
}
