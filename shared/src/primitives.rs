//! Cryptographic building blocks, each a small function with one job.
//!
//! Everything the sealed-value format does with keys goes through this module: randomness from
//! one source ([`ring::rand::SystemRandom`]), HKDF-SHA256 and SHA-256 from `ring`, X25519 from
//! `x25519-dalek`, ChaCha20-Poly1305 from `chacha20poly1305` and X-Wing from `ml-kem`, `sha3` and
//! `shake`. The format (`docs/FORMAT.md`) names every label defined here.
//!
//! The functions and key types are private to the crate: other crates seal and open through
//! `format` and hold keys through `keys`. Public are only the named labels and sizes of the
//! format, the error, and the entropy source that [`crate::format::seal_envelope`] takes, which
//! known-answer vectors replay with [`FixedEntropy`].

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use ml_kem::array::Array;
use ml_kem::ml_kem_768;
use ml_kem::{Decapsulate, KeyExport};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf};
use sha3::Digest;
use shake::{ExtendableOutput, Update, XofReader};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// Length of every symmetric key, X25519 key and shared secret, in bytes.
pub(crate) const KEY_LEN: usize = 32;
/// Length of a ChaCha20-Poly1305 authentication tag, in bytes.
pub(crate) const TAG_LEN: usize = 16;

/// HKDF info label for the key that wraps a value's data key for one recipient.
pub const WRAP_LABEL: &[u8] = b"sealant.dev/v1/x25519-wrap";
/// HKDF info label for the key that wraps a value's data key for one X-Wing recipient.
pub const XWING_WRAP_LABEL: &[u8] = b"sealant.dev/v1/xwing-wrap";
/// HKDF info label for the key that encrypts the value itself, derived from the data key.
pub const PAYLOAD_LABEL: &[u8] = b"sealant.dev/v1/payload";
/// HKDF info label for the commitment to the data key that closes the header.
pub const COMMITMENT_LABEL: &[u8] = b"sealant.dev/v1/key-commitment";
/// Prefix hashed with a public key to form its key id.
pub const KEY_ID_LABEL: &[u8] = b"sealant.dev/v1/key-id";

/// Bytes of an X-Wing public (encapsulation) key: ML-KEM-768's 1184, then X25519's 32.
pub(crate) const XWING_PUBLIC_LEN: usize = 1216;
/// Bytes of an X-Wing ciphertext: ML-KEM-768's 1088, then the X25519 ephemeral key's 32.
pub const XWING_CIPHERTEXT_LEN: usize = 1120;
/// Random bytes one X-Wing encapsulation draws: 32 for ML-KEM, then 32 for X25519.
pub(crate) const XWING_ENCAPS_RANDOM_LEN: usize = 64;
/// Bytes of the ML-KEM-768 part of an X-Wing public key or ciphertext.
const MLKEM_PUBLIC_LEN: usize = 1184;
const MLKEM_CIPHERTEXT_LEN: usize = 1088;
/// The X-Wing combiner's label (draft-connolly-cfrg-xwing-kem-06): the six bytes `\.//^\`.
const XWING_LABEL: &[u8; 6] = b"\\.//^\\";

/// Every AEAD key in the format is used exactly once, so the nonce is always zero.
const ZERO_NONCE: [u8; 12] = [0; 12];

/// A symmetric key or shared secret, cleared on drop.
pub(crate) type SecretKey = Zeroizing<[u8; KEY_LEN]>;

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
pub(crate) fn random_key(entropy: &dyn Entropy) -> Result<SecretKey, CryptoError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    entropy.fill(key.as_mut())?;
    Ok(key)
}

/// SHA-256 of the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// HKDF-SHA256 (RFC 5869) producing one 32-byte key.
pub(crate) fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8]) -> SecretKey {
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
pub(crate) fn x25519_public(secret: &StaticSecret) -> [u8; KEY_LEN] {
    PublicKey::from(secret).to_bytes()
}

/// X25519 agreement, rejecting the all-zero result that a low-order public key produces.
pub(crate) fn x25519_agree(
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
pub(crate) fn aead_seal(key: &[u8; KEY_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
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
pub(crate) fn aead_open(
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

/// An X-Wing public key (draft-connolly-cfrg-xwing-kem-06): an ML-KEM-768 encapsulation key that
/// passed FIPS 203's input check, and an X25519 public key.
#[derive(Clone)]
pub(crate) struct XWingPublic {
    mlkem: ml_kem_768::EncapsulationKey,
    x25519: [u8; KEY_LEN],
    bytes: Box<[u8; XWING_PUBLIC_LEN]>,
}

impl XWingPublic {
    /// Checks and wraps 1216 bytes; `None` if the ML-KEM part fails FIPS 203's modulus check.
    pub fn from_bytes(bytes: &[u8; XWING_PUBLIC_LEN]) -> Option<XWingPublic> {
        let mlkem_bytes: &[u8] = &bytes[..MLKEM_PUBLIC_LEN];
        let mlkem = ml_kem_768::EncapsulationKey::new(mlkem_bytes.try_into().ok()?).ok()?;
        let mut x25519 = [0u8; KEY_LEN];
        x25519.copy_from_slice(&bytes[MLKEM_PUBLIC_LEN..]);
        Some(XWingPublic {
            mlkem,
            x25519,
            bytes: Box::new(*bytes),
        })
    }

    /// The 1216-byte encoding: ML-KEM-768 encapsulation key, then X25519 public key.
    pub fn as_bytes(&self) -> &[u8; XWING_PUBLIC_LEN] {
        &self.bytes
    }
}

/// An X-Wing private key: the 32-byte seed, and what it expands to (kept, so that opening does
/// not expand it again).
pub(crate) struct XWingSecret {
    seed: SecretKey,
    mlkem: ml_kem_768::DecapsulationKey,
    x25519: StaticSecret,
    public: XWingPublic,
}

impl XWingSecret {
    /// Expands a seed as X-Wing does: SHAKE256(seed) gives 96 bytes, the first 64 the ML-KEM-768
    /// seed (d || z, FIPS 203 ML-KEM.KeyGen_internal), the last 32 the X25519 secret.
    pub fn from_seed(seed: &[u8; KEY_LEN]) -> XWingSecret {
        let mut shake = shake::Shake256::default();
        shake.update(seed);
        let mut reader = shake.finalize_xof();
        let mut expanded = Zeroizing::new([0u8; 96]);
        reader.read(expanded.as_mut());
        let mut mlkem_seed = Array::<u8, ml_kem::array::sizes::U64>::default();
        mlkem_seed.copy_from_slice(&expanded[..64]);
        let mlkem = ml_kem_768::DecapsulationKey::from_seed(mlkem_seed);
        let mut x25519_secret = Zeroizing::new([0u8; KEY_LEN]);
        x25519_secret.copy_from_slice(&expanded[64..]);
        let x25519 = StaticSecret::from(*x25519_secret);
        let mut bytes = Box::new([0u8; XWING_PUBLIC_LEN]);
        bytes[..MLKEM_PUBLIC_LEN].copy_from_slice(&mlkem.encapsulation_key().to_bytes());
        bytes[MLKEM_PUBLIC_LEN..].copy_from_slice(&x25519_public(&x25519));
        let public = XWingPublic {
            mlkem: mlkem.encapsulation_key().clone(),
            x25519: x25519_public(&x25519),
            bytes,
        };
        XWingSecret {
            seed: Zeroizing::new(*seed),
            mlkem,
            x25519,
            public,
        }
    }

    /// The seed, which is the private key's stored form.
    pub fn seed(&self) -> &[u8; KEY_LEN] {
        &self.seed
    }

    /// The matching public key.
    pub fn public(&self) -> &XWingPublic {
        &self.public
    }
}

/// X-Wing encapsulation with the given 64 random bytes (32 for ML-KEM's message, then the
/// X25519 ephemeral secret): the 1120-byte ciphertext and the 32-byte shared secret. An all-zero
/// X25519 agreement (a low-order X25519 part in the public key) is refused.
pub(crate) fn xwing_encapsulate(
    public: &XWingPublic,
    randomness: &[u8; XWING_ENCAPS_RANDOM_LEN],
) -> Result<(Box<[u8; XWING_CIPHERTEXT_LEN]>, SecretKey), CryptoError> {
    let mut m = Array::<u8, ml_kem::array::sizes::U32>::default();
    m.copy_from_slice(&randomness[..KEY_LEN]);
    let (ct_m, mut ss_m) = public.mlkem.encapsulate_deterministic(&m);
    m.as_mut_slice().zeroize();
    let mut ephemeral = Zeroizing::new([0u8; KEY_LEN]);
    ephemeral.copy_from_slice(&randomness[KEY_LEN..]);
    let ephemeral = StaticSecret::from(*ephemeral);
    let ct_x = x25519_public(&ephemeral);
    let ss_x = x25519_agree(&ephemeral, &public.x25519)?;
    let mut ciphertext = Box::new([0u8; XWING_CIPHERTEXT_LEN]);
    ciphertext[..MLKEM_CIPHERTEXT_LEN].copy_from_slice(&ct_m);
    ciphertext[MLKEM_CIPHERTEXT_LEN..].copy_from_slice(&ct_x);
    let shared = xwing_combine(&ss_m, &ss_x, &ct_x, &public.x25519);
    ss_m.as_mut_slice().zeroize();
    Ok((ciphertext, shared))
}

/// X-Wing decapsulation. ML-KEM's implicit rejection turns a changed ML-KEM ciphertext into an
/// unrelated secret (so the wrap tag fails later); an all-zero X25519 agreement is an error.
pub(crate) fn xwing_decapsulate(
    secret: &XWingSecret,
    ciphertext: &[u8; XWING_CIPHERTEXT_LEN],
) -> Result<SecretKey, CryptoError> {
    let mlkem_ct: &[u8] = &ciphertext[..MLKEM_CIPHERTEXT_LEN];
    let ct_m =
        ml_kem_768::Ciphertext::try_from(mlkem_ct).map_err(|_| CryptoError::Authentication)?;
    let mut ss_m = secret.mlkem.decapsulate(&ct_m);
    let mut ct_x = [0u8; KEY_LEN];
    ct_x.copy_from_slice(&ciphertext[MLKEM_CIPHERTEXT_LEN..]);
    let shared = x25519_agree(&secret.x25519, &ct_x)
        .map(|ss_x| xwing_combine(&ss_m, &ss_x, &ct_x, &secret.public.x25519));
    ss_m.as_mut_slice().zeroize();
    shared
}

/// The X-Wing combiner: SHA3-256(ss_M || ss_X || ct_X || pk_X || XWING_LABEL).
fn xwing_combine(
    ss_m: &[u8],
    ss_x: &[u8; KEY_LEN],
    ct_x: &[u8; KEY_LEN],
    pk_x: &[u8; KEY_LEN],
) -> SecretKey {
    let mut hasher = sha3::Sha3_256::new();
    Digest::update(&mut hasher, ss_m);
    Digest::update(&mut hasher, ss_x);
    Digest::update(&mut hasher, ct_x);
    Digest::update(&mut hasher, pk_x);
    Digest::update(&mut hasher, XWING_LABEL);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(&hasher.finalize());
    out
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

    /// The known-answer vectors of draft-connolly-cfrg-xwing-kem-06 (as shipped with RustCrypto's
    /// `x-wing` crate): key expansion, derandomized encapsulation and decapsulation.
    #[test]
    fn xwing_matches_the_draft_vectors() {
        let text = include_str!("../testdata/xwing/draft-connolly-cfrg-xwing-kem-06.json");
        let vectors: Vec<std::collections::BTreeMap<String, String>> =
            serde_json::from_str(text).unwrap();
        assert_eq!(vectors.len(), 3);
        for v in &vectors {
            let hex32 =
                |field: &str| -> [u8; 32] { hex::decode(&v[field]).unwrap().try_into().unwrap() };
            let secret = XWingSecret::from_seed(&hex32("sk"));
            assert_eq!(hex::encode(secret.public().as_bytes()), v["pk"]);
            let public = XWingPublic::from_bytes(secret.public().as_bytes()).unwrap();
            let eseed: [u8; 64] = hex::decode(&v["eseed"]).unwrap().try_into().unwrap();
            let (ciphertext, shared) = xwing_encapsulate(&public, &eseed).unwrap();
            assert_eq!(hex::encode(ciphertext.as_ref()), v["ct"]);
            assert_eq!(hex::encode(shared.as_ref()), v["ss"]);
            let opened = xwing_decapsulate(&secret, &ciphertext).unwrap();
            assert_eq!(hex::encode(opened.as_ref()), v["ss"]);
        }
    }

    #[test]
    fn xwing_rejects_invalid_mlkem_keys_and_low_order_x25519() {
        let secret = XWingSecret::from_seed(&[3u8; 32]);
        let mut bytes = *secret.public().as_bytes();
        // The first 12-bit coefficient set to 4095 >= q = 3329: FIPS 203's modulus check fails.
        bytes[0] = 0xff;
        bytes[1] |= 0x0f;
        assert!(XWingPublic::from_bytes(&bytes).is_none());
        let mut low_order = *secret.public().as_bytes();
        low_order[1184..].fill(0);
        let public = XWingPublic::from_bytes(&low_order).unwrap();
        assert_eq!(
            xwing_encapsulate(&public, &[7u8; 64]).err(),
            Some(CryptoError::NonContributory)
        );
        let (mut ciphertext, _) = xwing_encapsulate(secret.public(), &[7u8; 64]).unwrap();
        ciphertext[1088..].fill(0);
        assert_eq!(
            xwing_decapsulate(&secret, &ciphertext).err(),
            Some(CryptoError::NonContributory)
        );
    }
}
