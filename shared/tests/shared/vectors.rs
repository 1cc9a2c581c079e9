//! Known-answer vectors: every file in `shared/testdata/` must open (or fail) exactly as its
//! header says, every successful case must re-seal to the same bytes from its listed entropy, and
//! the worked example of `docs/FORMAT.md` must match its vector, recomputed step by step from the
//! specification with the underlying crates (not through `format`).
//!
//! The files are written by `cargo run -p sealant-core --example gen_vectors`; `docs/FORMAT.md`
//! §12 describes their fields.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ring::{digest, hkdf};

use sealant_core::format::{self, Binding, KeyRing, Location, Scope};
use sealant_core::keys::{KeyType, PrivateKey, PublicKey};
use sealant_core::primitives::FixedEntropy;

/// The generator writes this many files; fewer means some were lost.
const MIN_VECTORS: usize = 79;

/// Cases the format's issue asks for by name; each must exist.
const REQUIRED: &[&str] = &[
    "envelope_strict_one_recipient",
    "envelope_strict_three_recipients",
    "envelope_namespace_wide_renamed",
    "envelope_cluster_wide_moved",
    "envelope_strict_moved_namespace",
    "envelope_strict_renamed",
    "envelope_strict_other_key_name",
    "envelope_namespace_wide_moved_namespace",
    "envelope_cluster_wide_other_key_name",
    "envelope_unknown_key",
    "envelope_tampered_payload_tag",
    "envelope_header_namespace_changed",
    "envelope_version_7",
    "envelope_tampered_ephemeral",
    "envelope_truncated",
    "envelope_trailing_bytes",
    "envelope_base64_trailing_bits",
    "envelope_base64_missing_padding",
    "envelope_base64_whitespace",
    "envelope_low_order_ephemeral",
    "envelope_too_many_recipients",
    "envelope_zero_recipients",
    "envelope_duplicate_key_ids",
    "envelope_mismatched_data_keys_first",
    "envelope_mismatched_data_keys_second",
    "envelope_tampered_commitment",
    "envelope_xwing_one_recipient",
    "envelope_mixed_recipients_xwing_opener",
    "envelope_mixed_recipients_x25519_opener",
    "envelope_xwing_tampered_mlkem_ciphertext",
    "envelope_xwing_low_order_ephemeral",
    "envelope_unknown_stanza_type",
    "key_pq_public_valid",
    "key_pq_private_valid",
    "key_pq_public_invalid_mlkem",
    "key_public_valid",
    "key_private_valid",
    "key_public_checksum_mismatch",
    "key_public_non_canonical",
    "key_private_comments_only",
];

const FIELDS: &[&str] = &[
    "expect",
    "comment",
    "private-key",
    "recipient",
    "scope",
    "seal-at",
    "open-at",
    "plaintext-hex",
    "entropy-hex",
    "sealed",
    "error",
    "public-key",
    "public-key-hex",
    "key-id",
];

const WORKED_EXAMPLE: &str = "envelope_strict_one_recipient";

/// One vector file.
struct Case {
    name: String,
    fields: Vec<(String, String)>,
}

impl Case {
    fn read(path: &Path) -> Case {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let fields = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let (field, value) = line
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{name}: not a `field: value` line: {line:?}"));
                // One space separates the colon from the value; the value itself is kept exact
                // (the whitespace vector's `sealed` contains a space).
                let value = value.strip_prefix(' ').unwrap_or(value);
                (field.to_string(), value.to_string())
            })
            .collect();
        Case { name, fields }
    }

    fn all(&self, field: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, field: &str) -> Option<&str> {
        let values = self.all(field);
        assert!(
            values.len() <= 1,
            "{}: `{field}` appears {} times",
            self.name,
            values.len()
        );
        values.first().copied()
    }

    fn required(&self, field: &str) -> &str {
        self.one(field)
            .unwrap_or_else(|| panic!("{}: missing `{field}`", self.name))
    }

    fn hex(&self, field: &str) -> Vec<u8> {
        hex::decode(self.required(field))
            .unwrap_or_else(|e| panic!("{}: `{field}`: {e}", self.name))
    }

    fn location(&self, field: &str) -> Location {
        let parts: Vec<&str> = self.required(field).split('/').collect();
        match parts.as_slice() {
            [namespace, name, key] => Location::new(*namespace, *name, *key),
            _ => panic!("{}: `{field}` is not NAMESPACE/NAME/KEY", self.name),
        }
    }

    fn ring(&self) -> KeyRing {
        self.all("private-key")
            .into_iter()
            .map(|line| {
                PrivateKey::from_file_text(line).unwrap_or_else(|e| panic!("{}: {e}", self.name))
            })
            .collect()
    }

    fn recipients(&self) -> Vec<PublicKey> {
        self.all("recipient")
            .into_iter()
            .map(|line| {
                line.parse()
                    .unwrap_or_else(|e| panic!("{}: {e}", self.name))
            })
            .collect()
    }
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// The cases of one area (`envelope`, `key`).
fn cases_of(area: &str) -> Vec<Case> {
    all_cases()
        .into_iter()
        .filter(|c| c.name.starts_with(&format!("{area}_")))
        .collect()
}

fn all_cases() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths.iter().map(|p| Case::read(p)).collect()
}

/// Opens the case and returns a description of what differs from its header, if anything.
fn check_open(case: &Case) -> Option<String> {
    let expect = case.required("expect");
    let outcome = format::open(
        case.required("sealed"),
        &case.location("open-at"),
        &case.ring(),
    );
    match (expect, outcome) {
        ("success", Ok(value)) => {
            let want = case.hex("plaintext-hex");
            (value.as_slice() != want.as_slice()).then(|| "opened to a different value".to_string())
        }
        ("success", Err(err)) => Some(format!("expected success, got: {err}")),
        (expect, Ok(_)) => Some(format!("expected {expect}, but it opened")),
        (expect, Err(err)) => {
            let reason = match expect {
                "wrong scope" => "WrongScope",
                "unknown key" => "UnknownKey",
                "tampered" => "Tampered",
                "malformed" => "InvalidSealedValue",
                other => return Some(format!("unknown expect {other:?}")),
            };
            let message = err.to_string();
            let error = case.required("error");
            if err.reason() != reason {
                Some(format!(
                    "expected {expect}, got {}: {message}",
                    err.reason()
                ))
            } else if !message.contains(error) {
                Some(format!("error {message:?} does not contain {error:?}"))
            } else {
                None
            }
        }
    }
}

#[test]
fn the_vector_directory_holds_every_required_case() {
    let cases = all_cases();
    assert!(
        cases.len() >= MIN_VECTORS,
        "{} vector files in {}, expected at least {MIN_VECTORS}",
        cases.len(),
        testdata().display()
    );
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    for required in REQUIRED {
        assert!(names.contains(required), "missing vector {required}");
    }
    for case in &cases {
        let (area, condition) = case.name.split_once('_').unwrap_or_default();
        assert!(
            ["envelope", "key"].contains(&area) && !condition.is_empty(),
            "{}: name is not <area>_<condition>",
            case.name
        );
        for (field, _) in &case.fields {
            assert!(
                FIELDS.contains(&field.as_str()),
                "{}: unknown field `{field}`",
                case.name
            );
        }
    }
    let successes: Vec<&Case> = cases
        .iter()
        .filter(|c| c.name.starts_with("envelope_") && c.one("expect") == Some("success"))
        .collect();
    for scope in Scope::ALL {
        assert!(
            successes
                .iter()
                .any(|c| c.one("scope") == Some(scope.as_str())),
            "no successful {scope} vector"
        );
    }
    for n in [1, 3] {
        assert!(
            successes.iter().any(|c| c.all("recipient").len() == n),
            "no successful vector with {n} recipients"
        );
    }
    for expect in ["wrong scope", "unknown key", "tampered", "malformed"] {
        assert!(
            cases.iter().any(|c| c.one("expect") == Some(expect)),
            "no `{expect}` vector"
        );
    }
}

#[test]
fn every_vector_opens_or_fails_as_its_header_says() {
    let failures: Vec<String> = cases_of("envelope")
        .iter()
        .filter_map(|case| check_open(case).map(|why| format!("{}: {why}", case.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn successful_vectors_reseal_to_the_same_bytes() {
    let mut checked = 0;
    for case in cases_of("envelope")
        .iter()
        .filter(|c| c.one("expect") == Some("success"))
    {
        let recipients = case.recipients();
        let entropy = case.hex("entropy-hex");
        // FORMAT.md §6: the data key, then 32 bytes per X25519 and 64 per X-Wing recipient.
        let wanted: usize = 32
            + recipients
                .iter()
                .map(|k| {
                    if k.key_type() == KeyType::XWing {
                        64
                    } else {
                        32
                    }
                })
                .sum::<usize>();
        assert_eq!(entropy.len(), wanted, "{}: entropy length", case.name);
        let scope: Scope = case.required("scope").parse().unwrap();
        let binding = Binding::new(scope, &case.location("seal-at")).unwrap();
        let envelope = format::seal_envelope(
            &FixedEntropy::new(entropy),
            &case.hex("plaintext-hex"),
            &binding,
            &recipients,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(
            envelope.to_base64(),
            case.required("sealed"),
            "{}: re-sealed differently",
            case.name
        );
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} successful vectors");
}

#[test]
fn successful_vectors_fail_without_a_key_or_with_a_changed_byte() {
    // The positive cases also carry negative information: the same text must not open with no
    // key at all, nor after any one of its bytes changes.
    for case in cases_of("envelope")
        .iter()
        .filter(|c| c.one("expect") == Some("success"))
    {
        let sealed = case.required("sealed");
        let at = case.location("open-at");
        let err = format::open(sealed, &at, &KeyRing::new()).unwrap_err();
        assert_eq!(err.reason(), "UnknownKey", "{}", case.name);
        let mut bytes = STANDARD.decode(sealed).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        assert!(
            format::open(&STANDARD.encode(&bytes), &at, &case.ring()).is_err(),
            "{}",
            case.name
        );
    }
}

#[test]
fn every_key_vector_parses_or_fails_as_its_header_says() {
    let cases = cases_of("key");
    assert!(cases.len() >= 9, "only {} key vectors", cases.len());
    for case in &cases {
        let parsed = match (case.one("public-key"), case.one("private-key")) {
            (Some(text), None) => text.parse::<PublicKey>(),
            (None, Some(text)) => PrivateKey::from_file_text(text).map(|k| k.public().clone()),
            _ => panic!("{}: exactly one of public-key and private-key", case.name),
        };
        match (case.required("expect"), parsed) {
            ("success", Ok(public)) => {
                let bytes = case.hex("public-key-hex");
                assert_eq!(public.as_bytes(), bytes.as_slice(), "{}", case.name);
                // The key id, recomputed from FORMAT.md §3.2 rather than taken from the library.
                let id = hex::encode(&sha256(&[b"sealant.dev/v1/key-id", &bytes])[..8]);
                assert_eq!(case.required("key-id"), id, "{}", case.name);
                assert_eq!(public.id().to_string(), id, "{}", case.name);
            }
            ("malformed", Err(err)) => {
                let error = case.required("error");
                assert!(
                    err.to_string().contains(error),
                    "{}: {err} does not contain {error:?}",
                    case.name
                );
            }
            (expect, got) => panic!("{}: expected {expect}, got {got:?}", case.name),
        }
    }
}

// --- the worked example of docs/FORMAT.md ---

/// The `label value` rows between the `<!-- MARKER:begin -->` and `<!-- MARKER:end -->` markers
/// of FORMAT.md; indented lines continue the value above.
fn worked_example_rows(marker: &str) -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/FORMAT.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc
        .find(&format!("<!-- {marker}:begin -->"))
        .expect("begin marker in FORMAT.md");
    let end = doc
        .find(&format!("<!-- {marker}:end -->"))
        .expect("end marker in FORMAT.md");
    let mut rows: Vec<(String, String)> = Vec::new();
    for line in doc[start..end].lines().skip(1) {
        if line.starts_with("```") || line.trim().is_empty() {
            continue;
        }
        if line.starts_with(' ') {
            let (_, value) = rows.last_mut().expect("a continuation line after a row");
            value.push_str(line.trim());
        } else {
            let (label, value) = line.split_once(' ').expect("a `label value` row");
            rows.push((label.to_string(), value.trim().to_string()));
        }
    }
    rows
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    ctx.finish().as_ref().to_vec()
}

fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[info], hkdf::HKDF_SHA256)
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

fn chacha_seal(key: &[u8; 32], aad: &[u8], data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut buf = data.to_vec();
    let tag = ChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt_in_place_detached(Nonce::from_slice(&[0u8; 12]), aad, &mut buf)
        .unwrap();
    (buf, tag.to_vec())
}

fn array32(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().unwrap()
}

/// Every value of the worked example, recomputed from the vector file by following FORMAT.md §3
/// and §6 with `ring`, `x25519-dalek` and `chacha20poly1305` directly.
fn recompute_worked_example(case: &Case) -> Vec<(String, String)> {
    let private_line = case.all("private-key")[0];
    let body = URL_SAFE_NO_PAD
        .decode(
            private_line
                .strip_prefix("SEALANT-PRIVATE-KEY-V1:")
                .unwrap(),
        )
        .unwrap();
    let secret = array32(&body[..32]);
    let private_checksum = sha256(&[b"SEALANT-PRIVATE-KEY-V1:", &secret])[..4].to_vec();
    assert_eq!(body[32..], private_checksum[..], "private key checksum");
    let public =
        x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(secret)).to_bytes();
    let public_checksum = sha256(&[b"sealant-pub-v1:", &public])[..4].to_vec();
    let public_line = format!(
        "sealant-pub-v1:{}",
        URL_SAFE_NO_PAD.encode([&public[..], &public_checksum].concat())
    );
    assert_eq!(
        case.all("recipient"),
        vec![public_line.as_str()],
        "recipient line"
    );
    let key_id = sha256(&[b"sealant.dev/v1/key-id", &public])[..8].to_vec();

    let plaintext = case.hex("plaintext-hex");
    let entropy = case.hex("entropy-hex");
    let data_key = array32(&entropy[..32]);
    let ephemeral_secret = array32(&entropy[32..64]);
    let ephemeral_static = x25519_dalek::StaticSecret::from(ephemeral_secret);
    let ephemeral = x25519_dalek::PublicKey::from(&ephemeral_static).to_bytes();
    let shared = ephemeral_static
        .diffie_hellman(&x25519_dalek::PublicKey::from(public))
        .to_bytes();
    assert_ne!(shared, [0u8; 32]);
    let salt = [&ephemeral[..], &public[..]].concat();
    let wrap_key = hkdf32(&salt, &shared, b"sealant.dev/v1/x25519-wrap");
    let (wrapped, wrap_tag) = chacha_seal(&wrap_key, b"", &data_key);
    let commitment = hkdf32(b"", &data_key, b"sealant.dev/v1/key-commitment");
    let payload_key = hkdf32(b"", &data_key, b"sealant.dev/v1/payload");

    let at = case.location("seal-at");
    assert_eq!(case.required("scope"), "strict");
    let mut header = vec![1u8, 1];
    for name in [&at.namespace, &at.name, &at.key] {
        header.push(u8::try_from(name.len()).unwrap());
        header.extend_from_slice(name.as_bytes());
    }
    header.push(1);
    header.push(1); // stanza type 1, X25519
    for part in [&key_id[..], &ephemeral, &wrapped, &wrap_tag, &commitment] {
        header.extend_from_slice(part);
    }
    let (ciphertext, payload_tag) = chacha_seal(&payload_key, &header, &plaintext);
    let length = u32::try_from(plaintext.len() + 16).unwrap().to_be_bytes();
    let envelope = [&header[..], &length, &ciphertext, &payload_tag].concat();

    [
        ("private-key-hex", hex::encode(secret)),
        ("private-key-checksum", hex::encode(&private_checksum)),
        ("private-key-line", private_line.to_string()),
        ("public-key-hex", hex::encode(public)),
        ("public-key-checksum", hex::encode(&public_checksum)),
        ("public-key-line", public_line),
        ("key-id", hex::encode(&key_id)),
        ("plaintext-hex", hex::encode(&plaintext)),
        ("data-key", hex::encode(data_key)),
        ("ephemeral-secret", hex::encode(ephemeral_secret)),
        ("ephemeral-public", hex::encode(ephemeral)),
        ("shared-secret", hex::encode(shared)),
        ("wrap-salt", hex::encode(&salt)),
        ("wrap-key", hex::encode(wrap_key)),
        ("wrapped-data-key", hex::encode(&wrapped)),
        ("wrap-tag", hex::encode(&wrap_tag)),
        ("key-commitment", hex::encode(commitment)),
        ("payload-key", hex::encode(payload_key)),
        ("header", hex::encode(&header)),
        ("payload-length", hex::encode(length)),
        ("ciphertext", hex::encode(&ciphertext)),
        ("payload-tag", hex::encode(&payload_tag)),
        ("envelope", hex::encode(&envelope)),
        ("sealed", STANDARD.encode(&envelope)),
    ]
    .into_iter()
    .map(|(label, value)| (label.to_string(), value))
    .collect()
}

#[test]
fn format_md_worked_example_is_the_vector_recomputed_from_the_spec() {
    let case = Case::read(&testdata().join(format!("{WORKED_EXAMPLE}.txt")));
    let expected = recompute_worked_example(&case);
    let documented = worked_example_rows("worked-example");
    let documented_map: BTreeMap<&str, &str> = documented
        .iter()
        .map(|(l, v)| (l.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        documented.len(),
        documented_map.len(),
        "a label appears twice in FORMAT.md"
    );
    for (label, value) in &expected {
        assert_eq!(
            documented_map.get(label.as_str()).copied(),
            Some(value.as_str()),
            "FORMAT.md worked example, `{label}`"
        );
    }
    assert_eq!(
        documented.len(),
        expected.len(),
        "FORMAT.md has rows this test does not check"
    );
    assert_eq!(
        expected.last().unwrap().1,
        case.required("sealed"),
        "the worked example is the vector"
    );
    // And the library opens it.
    let opened = format::open(
        case.required("sealed"),
        &case.location("open-at"),
        &case.ring(),
    )
    .unwrap();
    assert_eq!(opened.as_slice(), case.hex("plaintext-hex").as_slice());
}

/// The X-Wing worked example, recomputed from the vector file by following FORMAT.md §3.1 and §6
/// with `ml-kem`, `sha3`, `shake`, `x25519-dalek`, `ring` and `chacha20poly1305` directly.
fn recompute_worked_example_pq(case: &Case) -> Vec<(String, String)> {
    use ml_kem::KeyExport;
    use sha3::Digest;
    use shake::{ExtendableOutput, Update, XofReader};

    let private_line = case.all("private-key")[0];
    let body = URL_SAFE_NO_PAD
        .decode(
            private_line
                .strip_prefix("SEALANT-PRIVATE-KEY-PQ1:")
                .unwrap(),
        )
        .unwrap();
    let seed = array32(&body[..32]);
    assert_eq!(
        body[32..],
        sha256(&[b"SEALANT-PRIVATE-KEY-PQ1:", &seed])[..4],
        "private key checksum"
    );
    let mut shake = shake::Shake256::default();
    shake.update(&seed);
    let mut expanded = [0u8; 96];
    shake.finalize_xof().read(&mut expanded);
    let dk_m = ml_kem::ml_kem_768::DecapsulationKey::from_seed(
        ml_kem::array::Array::try_from(&expanded[..64]).unwrap(),
    );
    let ek_m = dk_m.encapsulation_key().clone();
    let sk_x = x25519_dalek::StaticSecret::from(array32(&expanded[64..]));
    let pk_x = x25519_dalek::PublicKey::from(&sk_x).to_bytes();
    let public = [&ek_m.to_bytes()[..], &pk_x].concat();
    assert_eq!(public.len(), 1216);
    let public_checksum = sha256(&[b"sealant-pub-pq1:", &public])[..4].to_vec();
    let public_line = format!(
        "sealant-pub-pq1:{}",
        URL_SAFE_NO_PAD.encode([&public[..], &public_checksum].concat())
    );
    assert_eq!(
        case.all("recipient"),
        vec![public_line.as_str()],
        "recipient line"
    );
    let key_id = sha256(&[b"sealant.dev/v1/key-id", &public])[..8].to_vec();

    let plaintext = case.hex("plaintext-hex");
    let entropy = case.hex("entropy-hex");
    assert_eq!(entropy.len(), 96);
    let data_key = array32(&entropy[..32]);
    let eseed = &entropy[32..];
    let m = ml_kem::array::Array::try_from(&eseed[..32]).unwrap();
    let (ct_m, ss_m) = ek_m.encapsulate_deterministic(&m);
    let ek_x = x25519_dalek::StaticSecret::from(array32(&eseed[32..]));
    let ct_x = x25519_dalek::PublicKey::from(&ek_x).to_bytes();
    let ss_x = ek_x
        .diffie_hellman(&x25519_dalek::PublicKey::from(pk_x))
        .to_bytes();
    let mut combiner = sha3::Sha3_256::new();
    for part in [&ss_m[..], &ss_x, &ct_x, &pk_x, b"\\.//^\\"] {
        Digest::update(&mut combiner, part);
    }
    let shared: [u8; 32] = combiner.finalize().into();
    let wrap_key = hkdf32(b"", &shared, b"sealant.dev/v1/xwing-wrap");
    let (wrapped, wrap_tag) = chacha_seal(&wrap_key, b"", &data_key);
    let commitment = hkdf32(b"", &data_key, b"sealant.dev/v1/key-commitment");
    let payload_key = hkdf32(b"", &data_key, b"sealant.dev/v1/payload");

    let at = case.location("seal-at");
    assert_eq!(case.required("scope"), "strict");
    let mut header = vec![1u8, 1];
    for name in [&at.namespace, &at.name, &at.key] {
        header.push(u8::try_from(name.len()).unwrap());
        header.extend_from_slice(name.as_bytes());
    }
    header.push(1);
    header.push(2); // stanza type 2, X-Wing
    for part in [&key_id[..], &ct_m, &ct_x, &wrapped, &wrap_tag, &commitment] {
        header.extend_from_slice(part);
    }
    let (ciphertext, payload_tag) = chacha_seal(&payload_key, &header, &plaintext);
    let length = u32::try_from(plaintext.len() + 16).unwrap().to_be_bytes();
    let envelope = [&header[..], &length, &ciphertext, &payload_tag].concat();
    let sealed = STANDARD.encode(&envelope);
    assert_eq!(
        sealed,
        case.required("sealed"),
        "the X-Wing example is the vector"
    );

    [
        ("private-key-hex", hex::encode(seed)),
        ("private-key-line", private_line.to_string()),
        ("expanded", hex::encode(expanded)),
        ("x25519-public", hex::encode(pk_x)),
        ("public-key-sha256", hex::encode(sha256(&[&public]))),
        ("key-id", hex::encode(&key_id)),
        ("plaintext-hex", hex::encode(&plaintext)),
        ("data-key", hex::encode(data_key)),
        ("eseed", hex::encode(eseed)),
        ("mlkem-ct-sha256", hex::encode(sha256(&[&ct_m]))),
        ("x25519-ciphertext", hex::encode(ct_x)),
        ("xwing-shared-secret", hex::encode(shared)),
        ("wrap-key", hex::encode(wrap_key)),
        ("wrapped-data-key", hex::encode(&wrapped)),
        ("wrap-tag", hex::encode(&wrap_tag)),
        ("key-commitment", hex::encode(commitment)),
        ("payload-key", hex::encode(payload_key)),
        ("header-sha256", hex::encode(sha256(&[&header]))),
        ("payload-length", hex::encode(length)),
        ("ciphertext", hex::encode(&ciphertext)),
        ("payload-tag", hex::encode(&payload_tag)),
        ("sealed-sha256", hex::encode(sha256(&[sealed.as_bytes()]))),
    ]
    .into_iter()
    .map(|(label, value)| (label.to_string(), value))
    .collect()
}

#[test]
fn format_md_xwing_worked_example_is_the_vector_recomputed_from_the_spec() {
    let case = Case::read(&testdata().join("envelope_xwing_one_recipient.txt"));
    let expected = recompute_worked_example_pq(&case);
    let documented = worked_example_rows("worked-example-pq");
    assert_eq!(
        documented, expected,
        "FORMAT.md's X-Wing worked example differs from the vector recomputed from the spec"
    );
    let opened = format::open(
        case.required("sealed"),
        &case.location("open-at"),
        &case.ring(),
    )
    .unwrap();
    assert_eq!(opened.as_slice(), case.hex("plaintext-hex").as_slice());
}

#[test]
fn format_md_names_every_label_and_limit_the_code_uses() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/FORMAT.md"),
    )
    .unwrap();
    use sealant_core::keys::{
        PQ_PRIVATE_KEY_PREFIX, PQ_PUBLIC_KEY_PREFIX, PRIVATE_KEY_PREFIX, PUBLIC_KEY_PREFIX,
    };
    use sealant_core::primitives::{
        COMMITMENT_LABEL, KEY_ID_LABEL, PAYLOAD_LABEL, WRAP_LABEL, XWING_WRAP_LABEL,
    };
    for label in [
        KEY_ID_LABEL,
        WRAP_LABEL,
        PAYLOAD_LABEL,
        COMMITMENT_LABEL,
        XWING_WRAP_LABEL,
    ] {
        let label = std::str::from_utf8(label).unwrap();
        assert!(
            doc.contains(&format!("`\"{label}\"` ({} bytes)", label.len())),
            "FORMAT.md: {label}"
        );
    }
    for prefix in [
        PUBLIC_KEY_PREFIX,
        PRIVATE_KEY_PREFIX,
        PQ_PUBLIC_KEY_PREFIX,
        PQ_PRIVATE_KEY_PREFIX,
    ] {
        assert!(
            doc.contains(&format!("`\"{prefix}\"` ({} bytes)", prefix.len())),
            "FORMAT.md: {prefix}"
        );
    }
    assert!(doc.contains(&format!("`n`, 1 to {}", format::MAX_RECIPIENTS)));
    assert!(doc.contains(&format!(
        "| stanza × `n` | {} (X25519) or {} (X-Wing) each |",
        format::STANZA_LEN,
        format::XWING_STANZA_LEN
    )));
    for (code, name) in [
        (format::STANZA_X25519, "X25519"),
        (format::STANZA_XWING, "X-Wing"),
    ] {
        assert!(
            doc.contains(&format!(
                "| stanza type | 1 | `0x0{code}`: an {name} recipient |"
            )),
            "FORMAT.md: stanza type {code}"
        );
    }
    assert!(doc.contains(&format!("| version | 1 | `0x0{}` |", format::VERSION)));
    for scope in Scope::ALL {
        assert!(
            doc.contains(&format!("| `{scope}` | `{}` |", scope.code())),
            "FORMAT.md: scope {scope}"
        );
    }
}
