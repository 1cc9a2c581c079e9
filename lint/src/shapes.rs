//! Secrets recognised by the shape of their value alone, for settings whose name carries no
//! credential word (`UPSTREAM: 9xQk2LmP7vR4tW8zY1bC3dF6`): high-entropy random strings with mixed
//! character classes above a length bound, and base64 that decodes to key material. Known token
//! formats, URLs with a password, JWTs and PEM blocks are found by the raw-text search of every
//! file (`tokens`), so they are not repeated here.
//!
//! What is random-looking but public is left alone: hex digests and checksums (`sha256:...`, 64
//! hex characters), UUIDs, Subresource Integrity hashes (`sha512-...`), base64 certificates and
//! public keys, base64 text, and blobs longer than a key (ciphertext, files).

use base64::Engine;

use crate::codes::Confidence;

/// What a value looks like when it looks like a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Shown in the message: "high-entropy random string".
    pub label: &'static str,
    pub confidence: Confidence,
}

/// The shortest random string reported: shorter generated values are too often ids and tags.
pub const MIN_RANDOM_LEN: usize = 20;
/// The longest: longer random material is a file, a certificate or ciphertext, not a setting.
pub const MAX_RANDOM_LEN: usize = 200;
/// The longest base64 value decoded to look for key material.
const MAX_DECODED_LEN: usize = 16 * 1024;

/// Character classes of a byte, for the one-pass candidate search (bit 0: may be part of a
/// token; 1: lower case; 2: upper case; 3: digit).
const TOKEN: u8 = 1;
const LOWER: u8 = 2;
const UPPER: u8 = 4;
const DIGIT: u8 = 8;

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_lowercase() {
            TOKEN | LOWER
        } else if c.is_ascii_uppercase() {
            TOKEN | UPPER
        } else if c.is_ascii_digit() {
            TOKEN | DIGIT
        } else if matches!(
            c,
            b'+' | b'/'
                | b'='
                | b'_'
                | b'-'
                | b'.'
                | b'~'
                | b'!'
                | b'#'
                | b'%'
                | b'&'
                | b'*'
                | b'^'
        ) {
            TOKEN
        } else {
            0
        };
        b += 1;
    }
    t
}

static CLASSES: [u8; 256] = class_table();

/// Byte ranges of `text` that could be a secret by shape: maximal runs of token characters at
/// least [`MIN_RANDOM_LEN`] long holding lower case, upper case and digits. One pass, no
/// allocation per byte; the candidates are then judged by [`secret_shape`].
pub fn candidates(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen = 0u8;
    for (i, &b) in bytes.iter().enumerate() {
        let c = CLASSES[b as usize];
        // `=` joins base64 padding to its value but separates `key=value`.
        let separator = b == b'='
            && bytes
                .get(i + 1)
                .is_some_and(|&n| n != b'=' && CLASSES[n as usize] & TOKEN != 0);
        if c & TOKEN != 0 && !separator {
            seen |= c;
            continue;
        }
        if i - start >= MIN_RANDOM_LEN && seen & (LOWER | UPPER | DIGIT) == LOWER | UPPER | DIGIT
            || i - start == STELLAR_LEN && bytes[start] == b'S' && seen & LOWER == 0
        {
            out.push((start, i));
        }
        start = i + 1;
        seen = 0;
    }
    if bytes.len() - start >= MIN_RANDOM_LEN
        && seen & (LOWER | UPPER | DIGIT) == LOWER | UPPER | DIGIT
        || bytes.len() - start == STELLAR_LEN && bytes[start] == b'S' && seen & LOWER == 0
    {
        out.push((start, bytes.len()));
    }
    out
}

/// Whether `value` (a whole setting's value, without a credential-like name) looks like a secret,
/// and what it looks like.
pub fn secret_shape(value: &str) -> Option<Shape> {
    let v = value.trim();
    if v.len() < MIN_RANDOM_LEN || v.len() > MAX_DECODED_LEN {
        return None;
    }
    if !v.bytes().all(|b| CLASSES[b as usize] & TOKEN != 0) {
        return None;
    }
    let lower = v.to_ascii_lowercase();
    // Digests, checksums and Subresource Integrity hashes: `sha256-...`, `sha512.abc`.
    if ["sha1", "sha256", "sha384", "sha512", "md5"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return None;
    }
    if is_stellar_seed(v) {
        return Some(Shape {
            label: "Stellar secret seed",
            confidence: Confidence::High,
        });
    }
    if is_hex(v) || is_uuid_like(v) {
        return None;
    }
    if let Some(shape) = decoded_shape(v) {
        return shape;
    }
    if v.len() > MAX_RANDOM_LEN || !looks_generated(v) {
        return None;
    }
    // Padded or with `+`/`/`, and of a key's size once decoded (16 to 64 bytes: AES, HMAC,
    // session and cookie keys): say so.
    let base64_key = (v.ends_with('=') || v.contains(['+', '/']))
        && base64::engine::general_purpose::STANDARD
            .decode(v)
            .is_ok_and(|b| (16..=64).contains(&b.len()));
    Some(Shape {
        label: if base64_key {
            "base64-encoded random bytes (key material)"
        } else {
            "high-entropy random string"
        },
        confidence: Confidence::Low,
    })
}

/// The judgement of a base64 value by what it decodes to: `Some(None)` for public or textual
/// content (a certificate, a public key, encoded configuration) and blobs longer than a key,
/// `Some(Some(_))` for private key material, `None` when it is not base64 or decodes to other
/// bytes (left to the random-string judgement).
fn decoded_shape(v: &str) -> Option<Option<Shape>> {
    if v.len() < 24 || !v.len().is_multiple_of(4) {
        return None;
    }
    // Longer than a key: only a PEM block (`LS0tLS1` is `-----`) or DER (`MII`, a SEQUENCE with
    // a two-byte length) can be key material; anything else is a file or ciphertext, not decoded.
    if v.len() > MAX_RANDOM_LEN && !(v.starts_with("LS0tLS1") || v.starts_with("MII")) {
        return Some(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
    let private = Some(Some(Shape {
        label: "base64-encoded private key",
        confidence: Confidence::High,
    }));
    if let Ok(text) = std::str::from_utf8(&bytes) {
        if text.contains("PRIVATE KEY-----") {
            return private;
        }
        let printable = text
            .chars()
            .filter(|c| !c.is_control() || c.is_ascii_whitespace())
            .count();
        // Encoded text (configuration, a certificate, a public key): judged where it is decoded,
        // not as random bytes.
        if printable * 10 >= text.chars().count() * 9 {
            return Some(None);
        }
    }
    // DER: a SEQUENCE. PKCS#1 and PKCS#8 private keys begin with version 0 (`02 01 00`);
    // certificates and public keys with another SEQUENCE.
    if bytes.len() >= 64 && bytes[0] == 0x30 && matches!(bytes[1], 0x81 | 0x82) {
        let body = if bytes[1] == 0x81 { 3 } else { 4 };
        if bytes.get(body..body + 3) == Some(&[0x02, 0x01, 0x00]) {
            return private;
        }
        return Some(None);
    }
    if v.len() > MAX_RANDOM_LEN {
        return Some(None);
    }
    // Other bytes: judged as a random string below.
    None
}

/// Length of a Stellar strkey: 35 bytes in base32.
const STELLAR_LEN: usize = 56;

/// A Stellar secret seed (`S...`, 56 base32 characters): version byte `18 << 3`, a 32-byte
/// ed25519 seed and a CRC16-XModem checksum (little-endian) over the first 33 bytes, as the
/// Stellar strkey specification (SEP-23) defines. The checksum makes the match exact.
pub fn is_stellar_seed(v: &str) -> bool {
    if v.len() != STELLAR_LEN || !v.starts_with('S') {
        return false;
    }
    let mut bytes = Vec::with_capacity(35);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in v.bytes() {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return false,
        };
        acc = (acc << 5) | u32::from(d);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push(((acc >> bits) & 0xff) as u8);
        }
    }
    if bytes.len() != 35 || bytes[0] != 18 << 3 {
        return false;
    }
    let mut crc: u16 = 0;
    for &b in &bytes[..33] {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc.to_le_bytes() == [bytes[33], bytes[34]]
}

fn is_hex(v: &str) -> bool {
    let v = v.strip_prefix("0x").unwrap_or(v);
    v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// UUIDs and other groups of hex digits separated by dashes (`0a1b2c3d-...`, trace ids).
fn is_uuid_like(v: &str) -> bool {
    v.contains('-')
        && v.split('-')
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Generated rather than written: lower case, upper case and digits, few characters in word-like
/// runs (four or more lower-case letters or digits: identifiers are made of them,
/// `MyApplicationController2`, `ReadWriteOnce2024`; runs of capitals are as common in random
/// text as acronyms are in names, so they do not count), and an entropy near that of random
/// characters. About 4% of random 20-character strings fail this, against none of the
/// identifiers in the tests.
pub fn looks_generated(v: &str) -> bool {
    let b = v.as_bytes();
    let mut seen = 0u8;
    let mut in_words = 0usize;
    let mut run = 0usize;
    let mut prev = 0u8;
    let word_like = |class: u8, run: usize| match class {
        LOWER | DIGIT => run >= 4,
        _ => false,
    };
    for &c in b {
        let class = CLASSES[c as usize] & (LOWER | UPPER | DIGIT);
        seen |= class;
        if class == prev {
            run += 1;
        } else {
            if word_like(prev, run) {
                in_words += run;
            }
            run = 1;
        }
        prev = class;
    }
    if word_like(prev, run) {
        in_words += run;
    }
    seen == LOWER | UPPER | DIGIT
        && in_words * 100 <= b.len() * 35
        && entropy(b) >= 3.5
        && !is_word_segments(v)
}

/// Words joined by separators (`AES/CBC/PKCS5Padding`, `Standard_D4s_v3`, `eu-West-2a`): every
/// segment is a word, an acronym with a number and a word, or a number. Random text split at its
/// `/` or `-` has random segments.
fn is_word_segments(v: &str) -> bool {
    let segments: Vec<&str> = v.split(['/', '.', '-', '_', '+', '=']).collect();
    segments.len() >= 2 && segments.iter().all(|s| is_word(s))
}

/// `PKCS5Padding`, `Padding`, `ABC`, `v3`, `D4s`, `2024`: capitals, digits, then lower case, or a
/// short segment.
fn is_word(s: &str) -> bool {
    if s.len() <= 3 {
        return true;
    }
    let rest = s.trim_start_matches(|c: char| c.is_ascii_uppercase());
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest
        .strip_prefix(|c: char| c.is_ascii_uppercase())
        .unwrap_or(rest);
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_lowercase());
    rest.trim_start_matches(|c: char| c.is_ascii_digit())
        .is_empty()
}

/// Shannon entropy in bits per byte.
fn entropy(b: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &c in b {
        counts[c as usize] += 1;
    }
    let n = b.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(v: &str) -> Option<&'static str> {
        secret_shape(v).map(|s| s.label)
    }

    #[test]
    fn random_strings_are_secrets() {
        for v in [
            "9xQk2LmP7vR4tW8zY1bC3dF6",
            "Zk8Lm2Qp9Rt4Vw7Xy1Bc",
            "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",
            "kX9-mP2_qL7-vR4_tW8z",
            "RImaBXZBMKST9OPE261yEz",
        ] {
            assert_eq!(label(v), Some("high-entropy random string"), "{v}");
        }
    }

    #[test]
    fn public_random_looking_values_are_not() {
        for v in [
            // digests, checksums, ids
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
            "sha512-Zk8Lm2Qp9Rt4Vw7Xy1Bc9xQk2LmP7vR4tW8zY1bC3dF6==",
            // names, identifiers, versions
            "my-application-deployment",
            "MyApplicationController2",
            "org.apache.kafka.common.security.plain.PlainLoginModule",
            "v1.28.3-eksbuild.1",
            "ReadWriteOnce2024Standard",
            "S3BucketNameProduction01",
            "AWSLoadBalancerController2",
            "kubernetesVersion1Point28",
            "AES/CBC/PKCS5Padding",
            "Standard_D4s_v3-Premium2",
            // short
            "aB3dE5fG7h",
            // base64 text and certificates
            "aGVsbG8gd29ybGQsIHRoaXMgaXMgYSBjb25maWcgZmlsZQ==",
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENCK3dJSkFPYg==",
        ] {
            assert_eq!(label(v), None, "{v}");
        }
    }

    #[test]
    fn base64_key_material() {
        let pem = base64::engine::general_purpose::STANDARD.encode(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
        );
        assert_eq!(label(&pem), Some("base64-encoded private key"));
        let mut der = vec![0x30, 0x82, 0x04, 0xa4, 0x02, 0x01, 0x00];
        der.extend((0u8..120).map(|i| i.wrapping_mul(37)));
        let der = base64::engine::general_purpose::STANDARD.encode(der);
        assert_eq!(label(&der), Some("base64-encoded private key"));
        let mut cert = vec![0x30, 0x82, 0x04, 0xa4, 0x30, 0x82];
        cert.extend((0u8..200).map(|i| i.wrapping_mul(37)));
        let cert = base64::engine::general_purpose::STANDARD.encode(cert);
        assert_eq!(label(&cert), None);
        let key: Vec<u8> = (0u8..32)
            .map(|i| i.wrapping_mul(97).wrapping_add(13))
            .collect();
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        assert_eq!(
            label(&key),
            Some("base64-encoded random bytes (key material)")
        );
    }

    #[test]
    fn stellar_seeds_are_checked_by_their_checksum() {
        // Stellar's documentation (developers.stellar.org, "Keypair.fromSecret").
        let seed = "SCZANGBA5YHTNYVVV4C3U252E2B6P6F5T3U6MM63WBSBZATAQI3EBTQ4";
        assert!(is_stellar_seed(seed));
        assert_eq!(label(seed), Some("Stellar secret seed"));
        // The same key with one character changed, and the public account id of a key.
        assert!(!is_stellar_seed(
            "SCZANGBA5YHTNYVVV4C3U252E2B6P6F5T3U6MM63WBSBZATAQI3EBTQ5"
        ));
        assert!(!is_stellar_seed(
            "GCFXHS4GXL6BVUCXBWXGTITROWLVYXQKQLF4YH5O5JT3YZXCYPAFBJZB"
        ));
        assert_eq!(candidates(&format!("seed: {seed}\n")), [(6, 62)]);
    }

    #[test]
    fn candidates_are_runs_with_three_classes() {
        let text = "a: 9xQk2LmP7vR4tW8zY1bC3dF6\nb: my-application-deployment-v2\nc: ABCDEFGHIJKLMNOPQRSTUVWXYZ\napp.setting3=aB3dE5fG7hJ9\nk=aB3dE5fG7hJ9kL1mN3pQ5r==\n";
        let found: Vec<&str> = candidates(text).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(
            found,
            ["9xQk2LmP7vR4tW8zY1bC3dF6", "aB3dE5fG7hJ9kL1mN3pQ5r=="]
        );
    }
}
