//! bitnami sealed-secrets' value format, opened exactly as its `pkg/crypto/crypto.go`
//! (`HybridDecrypt`/`singleDecrypt`) does:
//!
//! ```text
//! uint16 big-endian length n || RSA-OAEP(SHA-256, MGF1-SHA-256, label) ciphertext (n bytes)
//!                            || AES-GCM(session key, 12-byte zero nonce, no AAD) of the value
//! ```
//!
//! The session key is 32 bytes (AES-256) in everything bitnami writes; Go's `aes.NewCipher`
//! would also take 16 bytes (AES-128), so that is accepted too. RSA and AES-GCM are AWS-LC's
//! (constant-time RSA, unlike the `rsa` crate: RUSTSEC-2023-0071). Plaintext and session keys
//! only ever live in zeroizing buffers.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use zeroize::Zeroizing;

/// An RSA private key from the bitnami key backup. No `Debug`: it is a secret.
pub struct RsaKey {
    key: OaepPrivateDecryptingKey,
}

/// Why an RSA key could not be loaded (the message never includes key material).
#[derive(Debug, thiserror::Error)]
pub enum KeyParseError {
    #[error(
        "no PEM block (expected -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)"
    )]
    NoPem,
    #[error("PEM block '{0}' is not an RSA private key")]
    WrongBlock(String),
    #[error("PEM block is not terminated")]
    Unterminated,
    #[error("PEM body is not valid base64")]
    Base64,
    #[error("not a valid RSA private key (bitnami keys are 2048 to 8192-bit PKCS#1)")]
    Invalid,
}

/// Why one value did not open with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenFailure {
    /// Shorter than its own length prefix says (`ErrTooShort` in crypto.go).
    #[error("too short to be a sealed-secrets value")]
    TooShort,
    /// RSA-OAEP failed: another key, or another label (namespace, name or scope).
    #[error("the session key does not open with this key and label")]
    Rsa,
    /// The session key opened but is not an AES key length.
    #[error("the session key has an invalid length")]
    SessionKey,
    /// The session key opened but the value fails authentication: altered or truncated.
    #[error("the value fails authentication (altered or truncated)")]
    Aead,
}

impl RsaKey {
    /// Reads every RSA private key PEM block of `text` (`RSA PRIVATE KEY`: PKCS#1, as bitnami's
    /// controller writes them; `PRIVATE KEY`: PKCS#8).
    pub fn from_pem_blocks(text: &str) -> Result<Vec<RsaKey>, KeyParseError> {
        let mut keys = Vec::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            let line = line.trim();
            let Some(label) = line
                .strip_prefix("-----BEGIN ")
                .and_then(|l| l.strip_suffix("-----"))
            else {
                continue;
            };
            let end = format!("-----END {label}-----");
            let mut body = Zeroizing::new(String::new());
            let mut terminated = false;
            for inner in lines.by_ref() {
                let inner = inner.trim();
                if inner == end {
                    terminated = true;
                    break;
                }
                if inner.contains(':') {
                    // RFC 1421 headers (Proc-Type, DEK-Info): an encrypted key.
                    return Err(KeyParseError::WrongBlock(format!("{label} (encrypted)")));
                }
                body.push_str(inner);
            }
            if !terminated {
                return Err(KeyParseError::Unterminated);
            }
            let der =
                Zeroizing::new(crate::io::base64_decode(&body).map_err(|_| KeyParseError::Base64)?);
            let pkcs8 = match label {
                "RSA PRIVATE KEY" => pkcs1_to_pkcs8(&der),
                "PRIVATE KEY" => der,
                // Certificates sit beside keys in some backups; they are not keys.
                "CERTIFICATE" => continue,
                other => return Err(KeyParseError::WrongBlock(other.to_string())),
            };
            let key =
                PrivateDecryptingKey::from_pkcs8(&pkcs8).map_err(|_| KeyParseError::Invalid)?;
            let key = OaepPrivateDecryptingKey::new(key).map_err(|_| KeyParseError::Invalid)?;
            keys.push(RsaKey { key });
        }
        if keys.is_empty() {
            return Err(KeyParseError::NoPem);
        }
        Ok(keys)
    }

    /// `singleDecrypt` of crypto.go: one value, one key, one label.
    pub fn open(&self, ciphertext: &[u8], label: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenFailure> {
        let (len_bytes, rest) = ciphertext
            .split_at_checked(2)
            .ok_or(OpenFailure::TooShort)?;
        let rsa_len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let (rsa_ciphertext, aes_ciphertext) = rest
            .split_at_checked(rsa_len)
            .ok_or(OpenFailure::TooShort)?;

        let mut session = Zeroizing::new(vec![0u8; self.key.min_output_size()]);
        let session_key = self
            .key
            .decrypt(
                &OAEP_SHA256_MGF1SHA256,
                rsa_ciphertext,
                &mut session,
                Some(label),
            )
            .map_err(|_| OpenFailure::Rsa)?;
        let algorithm = match session_key.len() {
            32 => &AES_256_GCM,
            16 => &AES_128_GCM,
            _ => return Err(OpenFailure::SessionKey),
        };
        let aead = LessSafeKey::new(
            UnboundKey::new(algorithm, session_key).map_err(|_| OpenFailure::SessionKey)?,
        );
        // The session key is used once, so bitnami uses the zero nonce.
        let nonce = Nonce::assume_unique_for_key([0u8; NONCE_LEN]);
        let mut buffer = Zeroizing::new(aes_ciphertext.to_vec());
        let plaintext_len = aead
            .open_in_place(nonce, Aad::empty(), &mut buffer)
            .map_err(|_| OpenFailure::Aead)?
            .len();
        buffer.truncate(plaintext_len);
        Ok(buffer)
    }
}

/// Wraps a PKCS#1 `RSAPrivateKey` in a PKCS#8 `PrivateKeyInfo` (RFC 5208) with the
/// `rsaEncryption` algorithm identifier, the form AWS-LC's RSA decryption key reads.
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Zeroizing<Vec<u8>> {
    // version 0, AlgorithmIdentifier { 1.2.840.113549.1.1.1, NULL }
    const HEAD: [u8; 18] = [
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01, 0x05, 0x00,
    ];
    let mut octets = Zeroizing::new(vec![0x04]);
    push_der_len(&mut octets, pkcs1.len());
    octets.extend_from_slice(pkcs1);
    let mut out = Zeroizing::new(vec![0x30]);
    push_der_len(&mut out, HEAD.len() + octets.len());
    out.extend_from_slice(&HEAD);
    out.extend_from_slice(&octets);
    out
}

fn push_der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// The sealing side of crypto.go (`HybridEncrypt`), for building bitnami-format fixtures in
/// tests. Never used to seal anything real: sealant seals with its own format.
#[cfg(test)]
pub mod testing {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    use aws_lc_rs::rsa::{
        KeySize, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PrivateDecryptingKey,
    };

    /// A fresh 2048-bit key: its PKCS#8 DER and the PEM `RSA PRIVATE KEY` (PKCS#1) bitnami writes.
    pub fn generate() -> (PrivateDecryptingKey, String) {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&key).unwrap();
        let pkcs1 = pkcs8_to_pkcs1(pkcs8.as_ref());
        let pem = pem("RSA PRIVATE KEY", &pkcs1);
        (key, pem)
    }

    /// `HybridEncrypt` of crypto.go, byte for byte.
    pub fn hybrid_encrypt(key: &PrivateDecryptingKey, plaintext: &[u8], label: &[u8]) -> Vec<u8> {
        let mut session = [0u8; 32];
        SystemRandom::new().fill(&mut session).unwrap();
        let public = OaepPublicEncryptingKey::new(key.public_key()).unwrap();
        let mut rsa = vec![0u8; public.ciphertext_size()];
        let rsa = public
            .encrypt(&OAEP_SHA256_MGF1SHA256, &session, &mut rsa, Some(label))
            .unwrap()
            .to_vec();
        let mut out = (rsa.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&rsa);
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &session).unwrap());
        let mut body = plaintext.to_vec();
        aead.seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0u8; NONCE_LEN]),
            Aad::empty(),
            &mut body,
        )
        .unwrap();
        out.extend_from_slice(&body);
        out
    }

    /// The PEM text of a DER blob.
    pub fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut out = format!("-----BEGIN {label}-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    }

    /// The `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (the OCTET STRING after the
    /// version and algorithm identifier).
    pub fn pkcs8_to_pkcs1(der: &[u8]) -> Vec<u8> {
        fn read(der: &[u8]) -> (u8, &[u8], &[u8]) {
            let tag = der[0];
            let (len, hdr) = if der[1] < 0x80 {
                (usize::from(der[1]), 2)
            } else {
                let n = usize::from(der[1] & 0x7f);
                let len = der[2..2 + n]
                    .iter()
                    .fold(0usize, |a, b| (a << 8) | usize::from(*b));
                (len, 2 + n)
            };
            (tag, &der[hdr..hdr + len], &der[hdr + len..])
        }
        let (_, body, _) = read(der);
        let (_, _, rest) = read(body); // version
        let (_, _, rest) = read(rest); // algorithm
        let (tag, key, _) = read(rest);
        assert_eq!(tag, 0x04);
        key.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{generate, hybrid_encrypt, pem};
    use super::*;
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};

    #[test]
    fn opens_what_hybrid_encrypt_sealed_with_the_same_label_only() {
        let (key, pem_text) = generate();
        let keys = RsaKey::from_pem_blocks(&pem_text).unwrap();
        assert_eq!(keys.len(), 1);
        let sealed = hybrid_encrypt(&key, b"s3cr3t\x00\xff", b"prod/db");
        // 2-byte length, a 256-byte RSA block, the value and a 16-byte tag.
        assert_eq!(sealed.len(), 2 + 256 + 8 + 16);
        assert_eq!(&sealed[..2], &[0x01, 0x00]);
        assert_eq!(
            &keys[0].open(&sealed, b"prod/db").unwrap()[..],
            b"s3cr3t\x00\xff"
        );
        assert_eq!(keys[0].open(&sealed, b"prod").err(), Some(OpenFailure::Rsa));
        assert_eq!(keys[0].open(&sealed, b"").err(), Some(OpenFailure::Rsa));
    }

    #[test]
    fn an_empty_label_is_the_cluster_wide_label() {
        let (key, pem_text) = generate();
        let keys = RsaKey::from_pem_blocks(&pem_text).unwrap();
        let sealed = hybrid_encrypt(&key, b"", b"");
        assert_eq!(&keys[0].open(&sealed, b"").unwrap()[..], b"");
    }

    #[test]
    fn tampering_and_truncation_are_told_apart_from_a_wrong_key() {
        let (key, pem_text) = generate();
        let keys = RsaKey::from_pem_blocks(&pem_text).unwrap();
        let mut sealed = hybrid_encrypt(&key, b"value", b"ns/name");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            keys[0].open(&sealed, b"ns/name").err(),
            Some(OpenFailure::Aead)
        );
        assert_eq!(
            keys[0].open(&sealed[..100], b"ns/name").err(),
            Some(OpenFailure::TooShort)
        );
        assert_eq!(
            keys[0].open(&[1], b"ns/name").err(),
            Some(OpenFailure::TooShort)
        );
        let (_, other) = generate();
        let other = RsaKey::from_pem_blocks(&other).unwrap();
        let sealed = hybrid_encrypt(&key, b"value", b"ns/name");
        assert_eq!(
            other[0].open(&sealed, b"ns/name").err(),
            Some(OpenFailure::Rsa)
        );
    }

    #[test]
    fn reads_pkcs8_and_several_blocks_and_refuses_other_pem() {
        let (key, pkcs1_pem) = generate();
        let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&key).unwrap();
        let text = format!(
            "{}{}{}",
            pem("CERTIFICATE", b"not a key"),
            pkcs1_pem,
            pem("PRIVATE KEY", pkcs8.as_ref())
        );
        assert_eq!(RsaKey::from_pem_blocks(&text).unwrap().len(), 2);
        assert!(matches!(
            RsaKey::from_pem_blocks(&pem("EC PRIVATE KEY", b"x")),
            Err(KeyParseError::WrongBlock(label)) if label == "EC PRIVATE KEY"
        ));
        assert!(matches!(
            RsaKey::from_pem_blocks("hello"),
            Err(KeyParseError::NoPem)
        ));
        assert!(matches!(
            RsaKey::from_pem_blocks(&pem("RSA PRIVATE KEY", b"garbage")),
            Err(KeyParseError::Invalid)
        ));
    }
}
