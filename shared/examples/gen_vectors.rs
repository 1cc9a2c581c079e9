//! Writes the known-answer vectors of the sealed-value format, one file per case, into
//! `shared/testdata/` (or the directory given as the first argument).
//!
//! ```text
//! cargo run -p sealant-core --example gen_vectors
//! ```
//!
//! Every key and every "random" byte is derived from a fixed label, so running this again gives
//! the same files. Before writing, each case is opened with the library and must fail (or
//! succeed) exactly as its header says; `tests/shared/vectors.rs` checks the files again, independently
//! of this program, and re-seals every successful case from its listed entropy.
//!
//! File layout (one `field: value` per line, `private-key` and `recipient` repeatable):
//!
//! ```text
//! expect: success | wrong scope | unknown key | tampered | malformed
//! comment: what the case shows
//! private-key: SEALANT-PRIVATE-KEY-V1:...   the keys the opener holds
//! recipient: sealant-pub-v1:...             the keys the value was sealed to (success cases)
//! scope: strict                             the scope it was sealed with (success cases)
//! seal-at: NAMESPACE/NAME/KEY               where it was sealed for (success cases)
//! open-at: NAMESPACE/NAME/KEY               where the SealedSecret sits when opened
//! plaintext-hex: ...                        the value (success cases)
//! entropy-hex: ...                          data key, then one ephemeral secret per recipient
//! sealed: ...                               the text form (standard padded base64)
//! error: ...                                a substring of the expected error message
//! ```

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

use sealant_core::format::{self, Binding, Envelope, KeyRing, Location, Scope};
use sealant_core::keys::{KeyType, PrivateKey, PublicKey};
use sealant_core::primitives::{
    COMMITMENT_LABEL, FixedEntropy, PAYLOAD_LABEL, WRAP_LABEL, XWING_WRAP_LABEL,
};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// An X25519 point of order 8 (from the curve25519 low-order point list): any agreement with
/// it gives the all-zero shared secret.
const ORDER_8_POINT: &str = "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800";

fn main() -> Result<()> {
    let arg = std::env::args_os().nth(1);
    if arg.as_deref().is_some_and(|a| a == "--worked-example") {
        print!("{}", worked_example()?);
        return Ok(());
    }
    if arg.as_deref().is_some_and(|a| a == "--worked-example-pq") {
        print!("{}", worked_example_pq()?);
        return Ok(());
    }
    let dir = match arg {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata"),
    };
    let vectors = all_vectors()?;
    for vector in &vectors {
        vector.self_check()?;
    }
    let key_vectors = key_vectors()?;
    for vector in &key_vectors {
        vector.self_check()?;
    }
    std::fs::create_dir_all(&dir)?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt") {
            std::fs::remove_file(path)?;
        }
    }
    for vector in &vectors {
        std::fs::write(dir.join(format!("{}.txt", vector.name)), vector.render())?;
    }
    for vector in &key_vectors {
        std::fs::write(dir.join(format!("{}.txt", vector.name)), vector.render())?;
    }
    println!(
        "wrote {} vectors to {}",
        vectors.len() + key_vectors.len(),
        dir.display()
    );
    Ok(())
}

/// The worked example of `docs/FORMAT.md`: every intermediate value of the
/// `envelope_strict_one_recipient` case, computed step by step from the primitives as the
/// specification describes them (not through `format::seal`), then checked against it.
fn worked_example() -> Result<String> {
    let key_bytes = fixed_key("cluster key 1");
    let key = PrivateKey::from_bytes(&key_bytes);
    let public = *key.public().x25519().ok_or("not X25519")?;
    let name = "envelope_strict_one_recipient";
    let plaintext = b"Tr0ub4dor&3";
    let entropy = fixed_bytes(&format!("{name}/entropy"), 64);
    let data_key = &entropy[..32];
    let mut ephemeral_secret = [0u8; 32];
    ephemeral_secret.copy_from_slice(&entropy[32..]);
    let ephemeral_secret = x25519_dalek::StaticSecret::from(ephemeral_secret);
    let ephemeral = kit::x25519_public(&ephemeral_secret);
    let shared = kit::x25519_agree(&ephemeral_secret, &public)?;
    let salt = [ephemeral.as_slice(), public.as_slice()].concat();
    let wrap_key = kit::hkdf_sha256(&salt, shared.as_ref(), WRAP_LABEL);
    let mut wrapped = data_key.to_vec();
    let wrap_tag = kit::aead_seal(&wrap_key, &[], &mut wrapped);
    let commitment = kit::hkdf_sha256(&[], data_key, COMMITMENT_LABEL);
    let payload_key = kit::hkdf_sha256(&[], data_key, PAYLOAD_LABEL);

    let mut header = vec![1u8, 1];
    for part in ["production", "db-creds", "password"] {
        header.push(part.len() as u8);
        header.extend_from_slice(part.as_bytes());
    }
    header.push(1);
    header.push(format::STANZA_X25519);
    header.extend_from_slice(key.id().as_bytes());
    header.extend_from_slice(&ephemeral);
    header.extend_from_slice(&wrapped);
    header.extend_from_slice(&wrap_tag);
    header.extend_from_slice(commitment.as_ref());
    let mut ciphertext = plaintext.to_vec();
    let payload_tag = kit::aead_seal(&payload_key, &header, &mut ciphertext);
    let mut envelope = header.clone();
    envelope.extend_from_slice(&((ciphertext.len() + 16) as u32).to_be_bytes());
    envelope.extend_from_slice(&ciphertext);
    envelope.extend_from_slice(&payload_tag);
    let sealed = base64_standard(&envelope);

    let binding = Binding::new(
        Scope::Strict,
        &Location::new("production", "db-creds", "password"),
    )?;
    let check = format::seal_envelope(
        &FixedEntropy::new(entropy.clone()),
        plaintext,
        &binding,
        &[key.public().clone()],
    )?;
    if check.to_base64() != sealed {
        return Err("the step-by-step worked example differs from format::seal_envelope".into());
    }

    let public_text = key.public().to_string();
    let checksum = kit::sha256(&[b"sealant-pub-v1:", &public]);
    let private_checksum = kit::sha256(&[b"SEALANT-PRIVATE-KEY-V1:", &key_bytes]);
    let rows: Vec<(&str, String)> = vec![
        ("private-key-hex", hex::encode(key_bytes)),
        ("private-key-checksum", hex::encode(&private_checksum[..4])),
        ("private-key-line", key_line(&key)?),
        ("public-key-hex", hex::encode(public)),
        ("public-key-checksum", hex::encode(&checksum[..4])),
        ("public-key-line", public_text),
        ("key-id", key.id().to_string()),
        ("plaintext-hex", hex::encode(plaintext)),
        ("data-key", hex::encode(data_key)),
        ("ephemeral-secret", hex::encode(ephemeral_secret.to_bytes())),
        ("ephemeral-public", hex::encode(ephemeral)),
        ("shared-secret", hex::encode(shared.as_ref())),
        ("wrap-salt", hex::encode(&salt)),
        ("wrap-key", hex::encode(wrap_key.as_ref())),
        ("wrapped-data-key", hex::encode(&wrapped)),
        ("wrap-tag", hex::encode(wrap_tag)),
        ("key-commitment", hex::encode(commitment.as_ref())),
        ("payload-key", hex::encode(payload_key.as_ref())),
        ("header", hex::encode(&header)),
        (
            "payload-length",
            hex::encode(((ciphertext.len() + 16) as u32).to_be_bytes()),
        ),
        ("ciphertext", hex::encode(&ciphertext)),
        ("payload-tag", hex::encode(payload_tag)),
        ("envelope", hex::encode(&envelope)),
        ("sealed", sealed),
    ];
    Ok(render_rows(rows))
}

/// `label value` rows; long values wrap at 64 characters on indented continuation lines.
fn render_rows(rows: Vec<(&str, String)>) -> String {
    let mut out = String::new();
    for (label, value) in rows {
        // Long values wrap at 64 characters; continuation lines are indented.
        let mut chunks = value.as_bytes().chunks(64);
        let first = chunks
            .next()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let _ = writeln!(out, "{label:<20} {first}");
        for chunk in chunks {
            let _ = writeln!(out, "{:<20} {}", "", String::from_utf8_lossy(chunk));
        }
    }
    out
}

/// The X-Wing worked example of `docs/FORMAT.md`: the `envelope_xwing_one_recipient` case step by
/// step from the primitives (not through `format::seal`), then checked against it. Values of a
/// kilobyte or more are shown by their SHA-256; the vector file holds them in full.
fn worked_example_pq() -> Result<String> {
    use shake::{ExtendableOutput, Update, XofReader};
    let seed = fixed_key("pq cluster key 0");
    let key = PrivateKey::from_seed(KeyType::XWing, &seed);
    let public = kit::XWingPublic::from_seed(&seed);
    if public.as_bytes() != key.public().as_bytes() {
        return Err("X-Wing public keys differ".into());
    }
    let mut shake = shake::Shake256::default();
    shake.update(&seed);
    let mut expanded = [0u8; 96];
    shake.finalize_xof().read(&mut expanded);

    let name = "envelope_xwing_one_recipient";
    let plaintext = b"post-quantum Tr0ub4dor&3";
    let entropy = fixed_bytes(&format!("{name}/entropy"), 32 + 64);
    let data_key = &entropy[..32];
    let mut eseed = [0u8; 64];
    eseed.copy_from_slice(&entropy[32..]);
    let (ciphertext, shared) = kit::xwing_encapsulate(&public, &eseed);
    let wrap_key = kit::hkdf_sha256(&[], shared.as_ref(), XWING_WRAP_LABEL);
    let mut wrapped = data_key.to_vec();
    let wrap_tag = kit::aead_seal(&wrap_key, &[], &mut wrapped);
    let commitment = kit::hkdf_sha256(&[], data_key, COMMITMENT_LABEL);
    let payload_key = kit::hkdf_sha256(&[], data_key, PAYLOAD_LABEL);

    let mut header = vec![1u8, 1];
    for part in ["production", "db-creds", "password"] {
        header.push(part.len() as u8);
        header.extend_from_slice(part.as_bytes());
    }
    header.push(1);
    header.push(format::STANZA_XWING);
    header.extend_from_slice(key.id().as_bytes());
    header.extend_from_slice(ciphertext.as_ref());
    header.extend_from_slice(&wrapped);
    header.extend_from_slice(&wrap_tag);
    header.extend_from_slice(commitment.as_ref());
    let mut body = plaintext.to_vec();
    let payload_tag = kit::aead_seal(&payload_key, &header, &mut body);
    let length = ((body.len() + 16) as u32).to_be_bytes();
    let envelope = [&header[..], &length, &body, &payload_tag].concat();
    let sealed = base64_standard(&envelope);

    let binding = Binding::new(
        Scope::Strict,
        &Location::new("production", "db-creds", "password"),
    )?;
    let check = format::seal_envelope(
        &FixedEntropy::new(entropy.clone()),
        plaintext,
        &binding,
        &[key.public().clone()],
    )?;
    if check.to_base64() != sealed {
        return Err("the step-by-step X-Wing example differs from format::seal_envelope".into());
    }
    let sha = |bytes: &[u8]| hex::encode(kit::sha256(&[bytes]));
    let rows: Vec<(&str, String)> = vec![
        ("private-key-hex", hex::encode(seed)),
        ("private-key-line", key_line(&key)?),
        ("expanded", hex::encode(expanded)),
        ("x25519-public", hex::encode(public.x25519)),
        ("public-key-sha256", sha(public.as_bytes())),
        ("key-id", key.id().to_string()),
        ("plaintext-hex", hex::encode(plaintext)),
        ("data-key", hex::encode(data_key)),
        ("eseed", hex::encode(eseed)),
        ("mlkem-ct-sha256", sha(&ciphertext[..1088])),
        ("x25519-ciphertext", hex::encode(&ciphertext[1088..])),
        ("xwing-shared-secret", hex::encode(shared.as_ref())),
        ("wrap-key", hex::encode(wrap_key.as_ref())),
        ("wrapped-data-key", hex::encode(&wrapped)),
        ("wrap-tag", hex::encode(wrap_tag)),
        ("key-commitment", hex::encode(commitment.as_ref())),
        ("payload-key", hex::encode(payload_key.as_ref())),
        ("header-sha256", sha(&header)),
        ("payload-length", hex::encode(length)),
        ("ciphertext", hex::encode(&body)),
        ("payload-tag", hex::encode(payload_tag)),
        ("sealed-sha256", sha(sealed.as_bytes())),
    ];
    Ok(render_rows(rows))
}

/// `len` bytes that look random but are fixed: SHA-256 of a label and a counter, concatenated.
fn fixed_bytes(label: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u32;
    while out.len() < len {
        out.extend_from_slice(&kit::sha256(&[
            b"sealant test vectors/",
            label.as_bytes(),
            &counter.to_be_bytes(),
        ]));
        counter += 1;
    }
    out.truncate(len);
    out
}

fn fixed_key(label: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    key.copy_from_slice(&fixed_bytes(label, 32));
    key
}

/// The test cluster key number `n`.
/// Numbers from [`PQ`] up are X-Wing keys (`pq cluster key {n - PQ}`), the others X25519.
fn test_key(n: u8) -> PrivateKey {
    if n >= PQ {
        PrivateKey::from_seed(
            KeyType::XWing,
            &fixed_key(&format!("pq cluster key {}", n - PQ)),
        )
    } else {
        PrivateKey::from_bytes(&fixed_key(&format!("cluster key {n}")))
    }
}

/// The first X-Wing test key number.
const PQ: u8 = 101;

/// Random bytes sealing draws: the data key, then 32 per X25519 and 64 per X-Wing recipient.
fn entropy_len(recipients: &[PublicKey]) -> usize {
    32 + recipients
        .iter()
        .map(|k| match k.key_type() {
            KeyType::X25519 => 32,
            KeyType::XWing => kit::XWING_ENCAPS_RANDOM_LEN,
        })
        .sum::<usize>()
}

/// The key line of a private key file.
fn key_line(key: &PrivateKey) -> Result<String> {
    let text = key.to_file_text();
    let line = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .ok_or("private key file without a key line")?;
    Ok(line.to_string())
}

fn describe(at: &Location) -> String {
    format!("{}/{}/{}", at.namespace, at.name, at.key)
}

struct Vector {
    name: &'static str,
    expect: &'static str,
    comment: String,
    private_keys: Vec<String>,
    recipients: Vec<PublicKey>,
    sealed_with: Option<(Scope, Location, Vec<u8>, Vec<u8>)>,
    open_at: Location,
    sealed: String,
    error: Option<String>,
}

impl Vector {
    fn render(&self) -> String {
        let mut out = String::new();
        // Invariant: writing to a String cannot fail.
        let _ = writeln!(out, "expect: {}", self.expect);
        let _ = writeln!(out, "comment: {}", self.comment);
        for key in &self.private_keys {
            let _ = writeln!(out, "private-key: {key}");
        }
        for recipient in &self.recipients {
            let _ = writeln!(out, "recipient: {recipient}");
        }
        if let Some((scope, seal_at, plaintext, entropy)) = &self.sealed_with {
            let _ = writeln!(out, "scope: {scope}");
            let _ = writeln!(out, "seal-at: {}", describe(seal_at));
            let _ = writeln!(out, "open-at: {}", describe(&self.open_at));
            let _ = writeln!(out, "plaintext-hex: {}", hex::encode(plaintext));
            let _ = writeln!(out, "entropy-hex: {}", hex::encode(entropy));
        } else {
            let _ = writeln!(out, "open-at: {}", describe(&self.open_at));
        }
        let _ = writeln!(out, "sealed: {}", self.sealed);
        if let Some(error) = &self.error {
            let _ = writeln!(out, "error: {error}");
        }
        out
    }

    /// Opens the case with the library and checks that the outcome is the one the file states.
    fn self_check(&self) -> Result<()> {
        let mut ring = KeyRing::new();
        for line in &self.private_keys {
            ring.insert(PrivateKey::from_file_text(line)?);
        }
        let outcome = format::open(&self.sealed, &self.open_at, &ring);
        match (self.expect, outcome) {
            ("success", Ok(value)) => {
                let Some((_, _, plaintext, _)) = &self.sealed_with else {
                    return Err(format!("{}: a success case needs its plaintext", self.name).into());
                };
                if value.as_slice() != plaintext.as_slice() {
                    return Err(format!("{}: opened to a different value", self.name).into());
                }
            }
            (expect, Err(err)) => {
                let reason = match expect {
                    "wrong scope" => "WrongScope",
                    "unknown key" => "UnknownKey",
                    "tampered" => "Tampered",
                    "malformed" => "InvalidSealedValue",
                    other => {
                        return Err(format!("{}: expected {other}, got: {err}", self.name).into());
                    }
                };
                let message = err.to_string();
                let error = self.error.as_deref().unwrap_or_default();
                if err.reason() != reason || error.is_empty() || !message.contains(error) {
                    return Err(format!(
                        "{}: expected {expect} ({error:?}), got: {message}",
                        self.name
                    )
                    .into());
                }
            }
            (expect, Ok(_)) => {
                return Err(format!("{}: expected {expect}, but it opened", self.name).into());
            }
        }
        Ok(())
    }
}

/// A successfully sealed case and what it was made from, to derive failure cases from.
struct Sealed {
    keys: Vec<PrivateKey>,
    envelope: Envelope,
}

/// A successful case: `plaintext` sealed with `scope` for `seal_at` to the test keys numbered in
/// `recipients`, opened at `open_at` by a holder of the keys numbered in `opener`.
struct Success<'a> {
    name: &'static str,
    comment: &'a str,
    scope: Scope,
    seal_at: Location,
    open_at: Location,
    plaintext: &'a [u8],
    recipients: &'a [u8],
    opener: &'a [u8],
}

fn seal_case(case: Success<'_>) -> Result<(Vector, Sealed)> {
    let Success {
        name,
        comment,
        scope,
        seal_at,
        open_at,
        plaintext,
        recipients,
        opener,
    } = case;
    let keys: Vec<PrivateKey> = recipients.iter().map(|&n| test_key(n)).collect();
    let publics: Vec<PublicKey> = keys.iter().map(|k| k.public().clone()).collect();
    let entropy = fixed_bytes(&format!("{name}/entropy"), entropy_len(&publics));
    let binding = Binding::new(scope, &seal_at)?;
    let envelope = format::seal_envelope(
        &FixedEntropy::new(entropy.clone()),
        plaintext,
        &binding,
        &publics,
    )?;
    let vector = Vector {
        name,
        expect: "success",
        comment: comment.to_string(),
        private_keys: opener
            .iter()
            .map(|&n| key_line(&test_key(n)))
            .collect::<Result<_>>()?,
        recipients: publics,
        sealed_with: Some((scope, seal_at, plaintext.to_vec(), entropy)),
        open_at,
        sealed: envelope.to_base64(),
        error: None,
    };
    Ok((vector, Sealed { keys, envelope }))
}

fn failure(
    name: &'static str,
    expect: &'static str,
    comment: &str,
    keys: &[&PrivateKey],
    open_at: &Location,
    sealed: String,
    error: &str,
) -> Result<Vector> {
    Ok(Vector {
        name,
        expect,
        comment: comment.to_string(),
        private_keys: keys.iter().map(|k| key_line(k)).collect::<Result<_>>()?,
        recipients: Vec::new(),
        sealed_with: None,
        open_at: open_at.clone(),
        sealed,
        error: Some(error.to_string()),
    })
}

/// The binary form of `envelope` with `edit` applied to it, as text.
fn edited(envelope: &Envelope, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = envelope.write();
    edit(&mut bytes);
    base64_standard(&bytes)
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Offset of the first stanza's key id (just after its type byte) in a written envelope.
fn stanzas_offset(envelope: &Envelope) -> usize {
    let b = &envelope.binding;
    2 + 3 + b.namespace().len() + b.name().len() + b.key().len() + 1 + 1
}

fn all_vectors() -> Result<Vec<Vector>> {
    let prod = Location::new("production", "db-creds", "password");
    let mut out = Vec::new();

    // --- successful opens ---
    let (v, strict) = seal_case(Success {
        name: "envelope_strict_one_recipient",
        comment: "strict scope, one recipient, opened where it was sealed for; the worked example of docs/FORMAT.md",
        scope: Scope::Strict,
        seal_at: prod.clone(),
        open_at: prod.clone(),
        plaintext: b"Tr0ub4dor&3",
        recipients: &[1],
        opener: &[1],
    })?;
    out.push(v);
    let (v, three) = seal_case(Success {
        name: "envelope_strict_three_recipients",
        comment: "three recipients (three clusters); the opener holds only the second key and the key id picks its stanza",
        scope: Scope::Strict,
        seal_at: prod.clone(),
        open_at: prod.clone(),
        plaintext: b"one value for three clusters",
        recipients: &[1, 2, 3],
        opener: &[2],
    })?;
    out.push(v);
    let (v, _) = seal_case(Success {
        name: "envelope_strict_three_recipients_all_keys",
        comment: "three recipients; the opener holds all three keys plus an unrelated one",
        scope: Scope::Strict,
        seal_at: prod.clone(),
        open_at: prod.clone(),
        plaintext: b"one value for three clusters",
        recipients: &[1, 2, 3],
        opener: &[4, 3, 2, 1],
    })?;
    out.push(v);
    let (v, _) = seal_case(Success {
        name: "envelope_strict_empty_value",
        comment: "an empty value: the payload is only its 16-byte tag",
        scope: Scope::Strict,
        seal_at: prod.clone(),
        open_at: prod.clone(),
        plaintext: b"",
        recipients: &[1],
        opener: &[1],
    })?;
    out.push(v);
    let (v, ns_wide) = seal_case(Success {
        name: "envelope_namespace_wide_renamed",
        comment: "namespace-wide scope: the header carries no name, so the SealedSecret may be renamed within its namespace",
        scope: Scope::NamespaceWide,
        seal_at: prod.clone(),
        open_at: Location::new("production", "db-creds-v2", "password"),
        plaintext: b"namespace-wide value",
        recipients: &[1],
        opener: &[1],
    })?;
    out.push(v);
    let (v, cluster_wide) = seal_case(Success {
        name: "envelope_cluster_wide_moved",
        comment: "cluster-wide scope: only the key name is bound, so the SealedSecret may move to any namespace and name",
        scope: Scope::ClusterWide,
        seal_at: prod.clone(),
        open_at: Location::new("staging", "shared-token", "password"),
        plaintext: b"cluster-wide value",
        recipients: &[1],
        opener: &[1],
    })?;
    out.push(v);
    let (v, _) = seal_case(Success {
        name: "envelope_cluster_wide_two_recipients",
        comment: "cluster-wide scope sealed to two clusters, binary value bytes",
        scope: Scope::ClusterWide,
        seal_at: Location::new("", "", "tls.key"),
        open_at: Location::new("ingress", "wildcard-tls", "tls.key"),
        plaintext: &(0u8..=255).collect::<Vec<u8>>(),
        recipients: &[2, 3],
        opener: &[3],
    })?;
    out.push(v);

    let (v, xwing) = seal_case(Success {
        name: "envelope_xwing_one_recipient",
        comment: "strict scope, one X-Wing (ML-KEM-768 + X25519) recipient: a stanza of type 2 with the 1120-byte X-Wing ciphertext",
        scope: Scope::Strict,
        seal_at: prod.clone(),
        open_at: prod.clone(),
        plaintext: b"post-quantum Tr0ub4dor&3",
        recipients: &[PQ],
        opener: &[PQ],
    })?;
    out.push(v);
    let (v, _) = seal_case(Success {
        name: "envelope_mixed_recipients_xwing_opener",
        comment: "one cluster with an X25519 key, another with an X-Wing key; the X-Wing holder opens (its stanza is the second)",
        scope: Scope::NamespaceWide,
        seal_at: prod.clone(),
        open_at: Location::new("production", "db-creds-v2", "password"),
        plaintext: b"one value, two kinds of cluster",
        recipients: &[1, PQ],
        opener: &[PQ],
    })?;
    out.push(v);
    let (v, _) = seal_case(Success {
        name: "envelope_mixed_recipients_x25519_opener",
        comment: "X-Wing, X25519 and a second X-Wing recipient; the holder of the X25519 key opens",
        scope: Scope::ClusterWide,
        seal_at: prod.clone(),
        open_at: Location::new("staging", "shared-token", "password"),
        plaintext: b"one value, three clusters",
        recipients: &[PQ, 2, PQ + 1],
        opener: &[2],
    })?;
    out.push(v);

    let k1 = &strict.keys[0];
    let strict_env = &strict.envelope;
    let strict_text = strict_env.to_base64();
    let strict_stanzas = stanzas_offset(strict_env);

    // --- wrong scope ---
    out.push(failure(
        "envelope_strict_moved_namespace",
        "wrong scope",
        "a strict value opened in another namespace",
        &[k1],
        &Location::new("staging", "db-creds", "password"),
        strict_text.clone(),
        "value 'password' was sealed for production/db-creds (strict) but is being opened as staging/db-creds",
    )?);
    out.push(failure(
        "envelope_strict_renamed",
        "wrong scope",
        "a strict value opened under another SealedSecret name in the same namespace",
        &[k1],
        &Location::new("production", "db-creds-copy", "password"),
        strict_text.clone(),
        "value 'password' was sealed for production/db-creds (strict) but is being opened as production/db-creds-copy",
    )?);
    out.push(failure(
        "envelope_strict_other_key_name",
        "wrong scope",
        "a strict value copied to another key of the same SealedSecret",
        &[k1],
        &Location::new("production", "db-creds", "username"),
        strict_text.clone(),
        "value 'username' was sealed for key 'password' of production/db-creds (strict) but is being opened as production/db-creds",
    )?);
    out.push(failure(
        "envelope_namespace_wide_moved_namespace",
        "wrong scope",
        "a namespace-wide value opened in another namespace",
        &[&ns_wide.keys[0]],
        &Location::new("staging", "db-creds", "password"),
        ns_wide.envelope.to_base64(),
        "value 'password' was sealed for namespace production (namespace-wide) but is being opened as namespace staging",
    )?);
    out.push(failure(
        "envelope_cluster_wide_other_key_name",
        "wrong scope",
        "a cluster-wide value still binds its key name",
        &[&cluster_wide.keys[0]],
        &Location::new("production", "db-creds", "token"),
        cluster_wide.envelope.to_base64(),
        "value 'token' was sealed for key 'password' of any namespace (cluster-wide) but is being opened as key 'token'",
    )?);
    // The namespace byte "production" -> "productiom" in the clear header: the scope check reads
    // the header and reports it, and opening it *there* fails authentication.
    let ns_byte = 3 + "production".len() - 1;
    let renamed_ns = edited(strict_env, |b| b[ns_byte] = b'm');
    out.push(failure(
        "envelope_header_namespace_changed",
        "wrong scope",
        "one byte of the namespace in the clear header changed (production -> productiom); opened where the SealedSecret really is",
        &[k1],
        &prod,
        renamed_ns.clone(),
        "value 'password' was sealed for productiom/db-creds (strict) but is being opened as production/db-creds",
    )?);

    // --- unknown key ---
    let k2 = test_key(2);
    let k3 = test_key(3);
    let k4 = test_key(4);
    out.push(failure(
        "envelope_unknown_key",
        "unknown key",
        "sealed to key 1, the opener holds keys 2 and 3: the error names the key ids on both sides",
        &[&k2, &k3],
        &prod,
        strict_text.clone(),
        &format!(
            "value 'password' was sealed for key {} which is not among the 2 keys provided (",
            k1.id().short()
        ),
    )?);
    out.push(failure(
        "envelope_unknown_key_three_recipients",
        "unknown key",
        "sealed to keys 1, 2 and 3, the opener holds key 4 only",
        &[&k4],
        &prod,
        three.envelope.to_base64(),
        &format!(
            "value 'password' was sealed for keys {}, {}, {} which are not among the 1 key provided (key {})",
            three.keys[0].id().short(),
            three.keys[1].id().short(),
            three.keys[2].id().short(),
            k4.id().short()
        ),
    )?);
    out.push(failure(
        "envelope_unknown_key_empty_ring",
        "unknown key",
        "the opener holds no key at all",
        &[],
        &prod,
        strict_text.clone(),
        "which is not among the 0 keys provided (no key)",
    )?);
    out.push(failure(
        "envelope_unknown_key_duplicate_held",
        "unknown key",
        "sealed to key 1, the opener holds key 2 twice: held keys are a set by key id, so it counts once",
        &[&k2, &k2],
        &prod,
        strict_text.clone(),
        &format!(
            "value 'password' was sealed for key {} which is not among the 1 key provided (key {})",
            k1.id().short(),
            k2.id().short()
        ),
    )?);

    // --- tampered ---
    let tampered = "tampered or corrupt value 'password'";
    let last = strict_env.write().len() - 1;
    out.push(failure(
        "envelope_tampered_payload_tag",
        "tampered",
        "the last byte (in the payload tag) flipped",
        &[k1],
        &prod,
        edited(strict_env, |b| b[last] ^= 0x01),
        tampered,
    )?);
    let first_payload = strict_env.write().len() - strict_env.payload.len();
    out.push(failure(
        "envelope_tampered_payload_ciphertext",
        "tampered",
        "the first ciphertext byte flipped",
        &[k1],
        &prod,
        edited(strict_env, |b| b[first_payload] ^= 0x80),
        tampered,
    )?);
    out.push(failure(
        "envelope_tampered_wrapped_key",
        "tampered",
        "a byte of the recipient's wrapped data key flipped: unwrapping fails",
        &[k1],
        &prod,
        edited(strict_env, |b| b[strict_stanzas + 8 + 32] ^= 0x04),
        tampered,
    )?);
    out.push(failure(
        "envelope_tampered_wrap_tag",
        "tampered",
        "a byte of the recipient's wrap tag flipped",
        &[k1],
        &prod,
        edited(strict_env, |b| b[strict_stanzas + 8 + 32 + 32 + 15] ^= 0x40),
        tampered,
    )?);
    out.push(failure(
        "envelope_tampered_ephemeral",
        "tampered",
        "a byte of the ephemeral public key changed: another shared secret and salt, unwrapping fails",
        &[k1],
        &prod,
        edited(strict_env, |b| b[strict_stanzas + 8] ^= 0x10),
        tampered,
    )?);
    out.push(failure(
        "envelope_tampered_ephemeral_high_bit",
        "tampered",
        "the ignored top bit of the ephemeral public key flipped: X25519 gives the same shared secret, but the HKDF salt and the payload AAD differ",
        &[k1],
        &prod,
        edited(strict_env, |b| b[strict_stanzas + 8 + 31] ^= 0x80),
        tampered,
    )?);
    out.push(failure(
        "envelope_header_namespace_changed_opened_there",
        "tampered",
        "the namespace in the clear header changed to productiom and the SealedSecret moved there: the scope check passes, the payload AAD does not",
        &[k1],
        &Location::new("productiom", "db-creds", "password"),
        renamed_ns,
        tampered,
    )?);
    // Rewrite the header to namespace-wide (dropping the bound name) keeping every stanza and the
    // payload: the CVE-style attempt to widen where a value may be opened.
    let widened = Envelope {
        binding: Binding::new(Scope::NamespaceWide, &prod)?,
        stanzas: strict_env.stanzas.clone(),
        commitment: strict_env.commitment,
        payload: strict_env.payload.clone(),
    };
    out.push(failure(
        "envelope_header_scope_widened",
        "tampered",
        "the header rewritten from strict to namespace-wide (name dropped) to open it under another name: the payload AAD no longer matches",
        &[k1],
        &Location::new("production", "other-name", "password"),
        widened.to_base64(),
        tampered,
    )?);
    let three_stanzas = stanzas_offset(&three.envelope);
    out.push(failure(
        "envelope_tampered_other_stanza",
        "tampered",
        "three recipients, the opener holds key 2; a byte of the third recipient's stanza changed: unwrapping works, the payload AAD (whole header) does not",
        &[&three.keys[1]],
        &prod,
        edited(&three.envelope, |b| b[three_stanzas + 2 * format::STANZA_LEN + 20] ^= 0x01),
        tampered,
    )?);
    let mut low_order = [0u8; 32];
    hex::decode_to_slice(ORDER_8_POINT, &mut low_order)?;
    out.push(failure(
        "envelope_low_order_ephemeral",
        "tampered",
        "the ephemeral public key replaced by a point of order 8: the shared secret is all zero and must be rejected",
        &[k1],
        &prod,
        edited(strict_env, |b| b[strict_stanzas + 8..strict_stanzas + 40].copy_from_slice(&low_order)),
        tampered,
    )?);
    out.push(failure(
        "envelope_zero_ephemeral",
        "tampered",
        "the ephemeral public key replaced by zero (the point of order 1 at u = 0): all-zero shared secret",
        &[k1],
        &prod,
        edited(strict_env, |b| b[strict_stanzas + 8..strict_stanzas + 40].fill(0)),
        tampered,
    )?);

    // --- X-Wing stanzas ---
    let pq_key = &xwing.keys[0];
    let pq_env = &xwing.envelope;
    let pq_stanza = stanzas_offset(pq_env);
    let pq_ciphertext = pq_stanza + 8;
    out.push(failure(
        "envelope_xwing_tampered_mlkem_ciphertext",
        "tampered",
        "a byte of the ML-KEM-768 ciphertext changed: ML-KEM's implicit rejection gives an unrelated shared secret, so unwrapping fails",
        &[pq_key],
        &prod,
        edited(pq_env, |b| b[pq_ciphertext + 500] ^= 0x01),
        tampered,
    )?);
    out.push(failure(
        "envelope_xwing_tampered_x25519_ciphertext",
        "tampered",
        "a byte of the X25519 ephemeral key inside the X-Wing ciphertext changed",
        &[pq_key],
        &prod,
        edited(pq_env, |b| b[pq_ciphertext + 1088 + 3] ^= 0x20),
        tampered,
    )?);
    out.push(failure(
        "envelope_xwing_low_order_ephemeral",
        "tampered",
        "the X25519 part of the X-Wing ciphertext replaced by zero: the X25519 agreement is all zero and is rejected",
        &[pq_key],
        &prod,
        edited(pq_env, |b| b[pq_ciphertext + 1088..pq_ciphertext + 1120].fill(0)),
        tampered,
    )?);
    out.push(failure(
        "envelope_xwing_tampered_wrapped_key",
        "tampered",
        "a byte of the X-Wing recipient's wrapped data key flipped",
        &[pq_key],
        &prod,
        edited(pq_env, |b| b[pq_ciphertext + 1120 + 9] ^= 0x01),
        tampered,
    )?);
    let pq_full = pq_env.write();
    out.push(failure(
        "envelope_xwing_truncated_ciphertext",
        "malformed",
        "cut off inside the X-Wing ciphertext",
        &[pq_key],
        &prod,
        base64_standard(&pq_full[..pq_ciphertext + 700]),
        "truncated: the data ends inside the recipient ciphertext",
    )?);
    out.push(failure(
        "envelope_unknown_stanza_type",
        "malformed",
        "stanza type byte 3, which this version does not define",
        &[k1],
        &prod,
        edited(strict_env, |b| b[strict_stanzas - 1] = 3),
        "unknown recipient type 3",
    )?);
    out.push(failure(
        "envelope_xwing_unknown_key",
        "unknown key",
        "sealed to an X-Wing key, opened with the X25519 key 1 only",
        &[k1],
        &prod,
        pq_env.to_base64(),
        &format!(
            "value 'password' was sealed for key {} which is not among the 1 key provided (key {})",
            pq_key.id().short(),
            k1.id().short()
        ),
    )?);

    // --- key commitment ---
    let mismatched = mismatched_data_keys(&[k1, &k2], b"a different value per cluster")?;
    out.push(failure(
        "envelope_mismatched_data_keys_first",
        "tampered",
        "stanza 1 wraps data key A, stanza 2 wraps data key B; the header commits to A and the payload is encrypted under B; the holder of key 1 unwraps A, the commitment matches, the payload does not open",
        &[k1],
        &prod,
        mismatched.clone(),
        tampered,
    )?);
    out.push(failure(
        "envelope_mismatched_data_keys_second",
        "tampered",
        "the same value opened by the holder of key 2: it unwraps B, which would decrypt the payload, but B is not the committed key, so it fails before the payload is opened",
        &[&k2],
        &prod,
        mismatched,
        tampered,
    )?);
    let commitment_at = strict_stanzas - 1 + format::STANZA_LEN;
    out.push(failure(
        "envelope_tampered_commitment",
        "tampered",
        "a byte of the key commitment flipped: it no longer matches the unwrapped data key",
        &[k1],
        &prod,
        edited(strict_env, |b| b[commitment_at + 7] ^= 0x02),
        tampered,
    )?);

    // --- malformed: binary ---
    out.push(failure(
        "envelope_version_7",
        "malformed",
        "version byte 7",
        &[k1],
        &prod,
        edited(strict_env, |b| b[0] = 7),
        "unsupported format version 7",
    )?);
    out.push(failure(
        "envelope_version_0",
        "malformed",
        "version byte 0",
        &[k1],
        &prod,
        edited(strict_env, |b| b[0] = 0),
        "unsupported format version 0",
    )?);
    out.push(failure(
        "envelope_unknown_scope",
        "malformed",
        "scope code 4",
        &[k1],
        &prod,
        edited(strict_env, |b| b[1] = 4),
        "unknown scope code 4",
    )?);
    out.push(failure(
        "envelope_scope_missing_name",
        "malformed",
        "scope code 1 (strict) with an empty name field",
        &[k1],
        &prod,
        base64_standard(&raw_header(1, "production", "", "password", 1)),
        "a strict value must be bound to a name",
    )?);
    out.push(failure(
        "envelope_scope_extra_namespace",
        "malformed",
        "scope code 3 (cluster-wide) carrying a namespace",
        &[k1],
        &prod,
        base64_standard(&raw_header(3, "production", "", "password", 1)),
        "a cluster-wide value must not carry a namespace",
    )?);
    out.push(failure(
        "envelope_scope_extra_name",
        "malformed",
        "scope code 2 (namespace-wide) carrying a name",
        &[k1],
        &prod,
        base64_standard(&raw_header(2, "production", "db-creds", "password", 1)),
        "a namespace-wide value must not carry a name",
    )?);
    out.push(failure(
        "envelope_invalid_namespace",
        "malformed",
        "an upper-case namespace in the header",
        &[k1],
        &prod,
        base64_standard(&raw_header(1, "Production", "db-creds", "password", 1)),
        "invalid namespace \"Production\"",
    )?);
    out.push(failure(
        "envelope_invalid_key_name",
        "malformed",
        "a key name with a '/'",
        &[k1],
        &prod,
        base64_standard(&raw_header(1, "production", "db-creds", "pass/word", 1)),
        "invalid key \"pass/word\"",
    )?);
    let full = strict_env.write();
    out.push(failure(
        "envelope_truncated",
        "malformed",
        "the last byte of the payload cut off",
        &[k1],
        &prod,
        base64_standard(&full[..full.len() - 1]),
        "truncated: the data ends inside the payload",
    )?);
    out.push(failure(
        "envelope_truncated_stanza",
        "malformed",
        "cut off inside the recipient's ephemeral key",
        &[k1],
        &prod,
        base64_standard(&full[..strict_stanzas + 20]),
        "truncated: the data ends inside the recipient ephemeral key",
    )?);
    out.push(failure(
        "envelope_empty",
        "malformed",
        "no bytes at all (the empty string)",
        &[k1],
        &prod,
        String::new(),
        "truncated: the data ends inside the version",
    )?);
    out.push(failure(
        "envelope_trailing_bytes",
        "malformed",
        "one zero byte after the payload",
        &[k1],
        &prod,
        edited(strict_env, |b| b.push(0)),
        "1 trailing bytes after the payload",
    )?);
    let len_at = full.len() - strict_env.payload.len() - 4;
    out.push(failure(
        "envelope_payload_too_short",
        "malformed",
        "payload length 15, shorter than a tag",
        &[k1],
        &prod,
        edited(strict_env, |b| {
            b.truncate(len_at);
            b.extend_from_slice(&15u32.to_be_bytes());
            b.extend_from_slice(&[0u8; 15]);
        }),
        "the payload is shorter than its 16-byte tag",
    )?);
    out.push(failure(
        "envelope_zero_recipients",
        "malformed",
        "recipient count 0",
        &[k1],
        &prod,
        base64_standard(&raw_header(1, "production", "db-creds", "password", 0)),
        "0 recipients: a value is sealed to 1 to 32 keys",
    )?);
    out.push(failure(
        "envelope_too_many_recipients",
        "malformed",
        "recipient count 33 (followed by 33 well-formed stanzas and a payload)",
        &[k1],
        &prod,
        base64_standard(&too_many_recipients()),
        "33 recipients: a value is sealed to 1 to 32 keys",
    )?);
    let dup_id = three.envelope.stanzas[0].key_id;
    let mut dup = three.envelope.clone();
    dup.stanzas[1].key_id = dup_id;
    out.push(failure(
        "envelope_duplicate_key_ids",
        "malformed",
        "three stanzas, the second with the first one's key id",
        &[&three.keys[0]],
        &prod,
        dup.to_base64(),
        &format!("key {dup_id} appears twice among the recipients"),
    )?);

    // --- malformed: text ---
    let canonical = strict_text.as_str();
    out.push(failure(
        "envelope_base64_trailing_bits",
        "malformed",
        "the last base64 character before the padding changed so that its unused low bits are not zero",
        &[k1],
        &prod,
        nonzero_trailing_bits(canonical)?,
        "not canonical standard base64",
    )?);
    out.push(failure(
        "envelope_base64_missing_padding",
        "malformed",
        "the '=' padding removed",
        &[k1],
        &prod,
        canonical.trim_end_matches('=').to_string(),
        "not canonical standard base64",
    )?);
    out.push(failure(
        "envelope_base64_whitespace",
        "malformed",
        "a space inside the base64 text (the vector file cannot show a line break; a line break is rejected the same way)",
        &[k1],
        &prod,
        format!("{} {}", &canonical[..64], &canonical[64..]),
        "not canonical standard base64",
    )?);
    let url_safe: String = canonical.replace('+', "-").replace('/', "_");
    if url_safe == canonical {
        return Err(
            "the worked example's base64 has neither '+' nor '/'; pick another plaintext".into(),
        );
    }
    out.push(failure(
        "envelope_base64_url_safe",
        "malformed",
        "the url-safe alphabet ('-' and '_' for '+' and '/'), which sealed values never use",
        &[k1],
        &prod,
        url_safe,
        "not canonical standard base64",
    )?);

    out.sort_by_key(|v| v.name);
    Ok(out)
}

/// A key text case: one line read as a public key (`public-key:`) or as a private key file
/// (`private-key:`). Success cases give the public key and key id it stands for.
struct KeyVector {
    name: &'static str,
    comment: &'static str,
    field: &'static str,
    text: String,
    outcome: std::result::Result<PublicKey, &'static str>,
}

impl KeyVector {
    fn render(&self) -> String {
        let mut out = String::new();
        // Invariant: writing to a String cannot fail.
        let expect = if self.outcome.is_ok() {
            "success"
        } else {
            "malformed"
        };
        let _ = writeln!(out, "expect: {expect}");
        let _ = writeln!(out, "comment: {}", self.comment);
        let _ = writeln!(out, "{}: {}", self.field, self.text);
        match &self.outcome {
            Ok(public) => {
                let _ = writeln!(out, "public-key-hex: {}", hex::encode(public.as_bytes()));
                let _ = writeln!(out, "key-id: {}", public.id());
            }
            Err(error) => {
                let _ = writeln!(out, "error: {error}");
            }
        }
        out
    }

    fn self_check(&self) -> Result<()> {
        let parsed = match self.field {
            "public-key" => self.text.parse::<PublicKey>(),
            _ => PrivateKey::from_file_text(&self.text).map(|k| k.public().clone()),
        };
        match (&self.outcome, parsed) {
            (Ok(want), Ok(got)) if *want == got => Ok(()),
            (Err(error), Err(got)) if got.to_string().contains(error) => Ok(()),
            (_, got) => Err(format!("{}: got {got:?}", self.name).into()),
        }
    }
}

/// `sealant-pub-v1:` text for arbitrary key bytes, with a correct checksum.
fn public_text_of(bytes: &[u8; 32]) -> String {
    use base64::Engine;
    let checksum = kit::sha256(&[b"sealant-pub-v1:", bytes]);
    let body = [&bytes[..], &checksum[..4]].concat();
    format!(
        "sealant-pub-v1:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body)
    )
}

/// `sealant-pub-pq1:` text for arbitrary X-Wing public key bytes, with a correct checksum.
fn pq_public_text_of(bytes: &[u8]) -> String {
    use base64::Engine;
    let checksum = kit::sha256(&[b"sealant-pub-pq1:", bytes]);
    let body = [bytes, &checksum[..4]].concat();
    format!(
        "sealant-pub-pq1:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body)
    )
}

/// Replaces the character at `at` with another base64url character.
fn retyped(text: &str, at: usize) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn key_vectors() -> Result<Vec<KeyVector>> {
    let key = test_key(1);
    let public = key.public().clone();
    let public_line = public.to_string();
    let private_line = key_line(&key)?;
    let mut high_bit = *public.x25519().ok_or("not X25519")?;
    high_bit[31] |= 0x80;
    // A key whose text uses '-' or '_', to show the standard alphabet is refused.
    let url_chars = (1..=32u8)
        .map(|n| test_key(n).public().to_string())
        .find(|t| t[15..].contains(['-', '_']))
        .ok_or("no test key with '-' or '_' in its text")?;
    let pq = test_key(PQ);
    let pq_public = pq.public().clone();
    let pq_public_line = pq_public.to_string();
    let pq_private_line = key_line(&pq)?;
    let mut pq_invalid_mlkem = pq_public.as_bytes().to_vec();
    // The first 12-bit coefficient of the ML-KEM key set to 4095, not below q = 3329.
    pq_invalid_mlkem[0] = 0xff;
    pq_invalid_mlkem[1] |= 0x0f;
    let mut pq_high_bit = pq_public.as_bytes().to_vec();
    pq_high_bit[1215] |= 0x80;
    let mut out = vec![
        KeyVector {
            name: "key_pq_public_valid",
            comment: "an X-Wing public key line (1216-byte key: ML-KEM-768 encapsulation key, then X25519 public key) and its key id",
            field: "public-key",
            text: pq_public_line.clone(),
            outcome: Ok(pq_public.clone()),
        },
        KeyVector {
            name: "key_pq_private_valid",
            comment: "an X-Wing private key line: the 32-byte seed, expanded with SHAKE256 to the ML-KEM-768 and X25519 secrets",
            field: "private-key",
            text: pq_private_line.clone(),
            outcome: Ok(pq_public.clone()),
        },
        KeyVector {
            name: "key_pq_public_checksum_mismatch",
            comment: "one character of an X-Wing public key line mistyped",
            field: "public-key",
            text: retyped(&pq_public_line, 700),
            outcome: Err("public key checksum mismatch"),
        },
        KeyVector {
            name: "key_pq_public_truncated",
            comment: "the last character of an X-Wing public key line cut off",
            field: "public-key",
            text: pq_public_line[..pq_public_line.len() - 1].to_string(),
            outcome: Err("must be 1627 base64url characters"),
        },
        KeyVector {
            name: "key_pq_public_invalid_mlkem",
            comment: "an ML-KEM-768 coefficient not below q = 3329, under a correct checksum: FIPS 203's input check refuses the key",
            field: "public-key",
            text: pq_public_text_of(&pq_invalid_mlkem),
            outcome: Err("not a valid ML-KEM-768 encapsulation key"),
        },
        KeyVector {
            name: "key_pq_public_non_canonical_x25519",
            comment: "the X25519 part of an X-Wing key with its top bit set, under a correct checksum",
            field: "public-key",
            text: pq_public_text_of(&pq_high_bit),
            outcome: Err("not a canonical X25519 public key"),
        },
        KeyVector {
            name: "key_pq_private_given_as_public",
            comment: "an X-Wing private key line where a public key is expected",
            field: "public-key",
            text: pq_private_line,
            outcome: Err(
                "this is a private key, not a public key: pass the .pub file or the `sealant-pub-pq1:` line",
            ),
        },
        KeyVector {
            name: "key_pq_public_given_as_private",
            comment: "an X-Wing public key line where a private key file is expected",
            field: "private-key",
            text: pq_public_line,
            outcome: Err("this is a public key, not a private key"),
        },
        KeyVector {
            name: "key_public_valid",
            comment: "a public key line and the key and key id it stands for",
            field: "public-key",
            text: public_line.clone(),
            outcome: Ok(public.clone()),
        },
        KeyVector {
            name: "key_private_valid",
            comment: "a private key line (a private key file of one line) and its public key and key id",
            field: "private-key",
            text: private_line.clone(),
            outcome: Ok(public.clone()),
        },
        KeyVector {
            name: "key_public_checksum_mismatch",
            comment: "one character of a public key line mistyped: the checksum catches it",
            field: "public-key",
            text: retyped(&public_line, 20),
            outcome: Err("public key checksum mismatch"),
        },
        KeyVector {
            name: "key_private_checksum_mismatch",
            comment: "one character of a private key line mistyped",
            field: "private-key",
            text: retyped(&private_line, 30),
            outcome: Err("private key checksum mismatch"),
        },
        KeyVector {
            name: "key_public_non_canonical",
            comment: "the same key with the top bit set, under a correct checksum: X25519 would ignore the bit, so this is a second text for one key and is refused",
            field: "public-key",
            text: public_text_of(&high_bit),
            outcome: Err("not a canonical X25519 public key"),
        },
        KeyVector {
            name: "key_public_truncated",
            comment: "the last character of a public key line cut off",
            field: "public-key",
            text: public_line[..public_line.len() - 1].to_string(),
            outcome: Err("must be 48 base64url characters"),
        },
        KeyVector {
            name: "key_public_standard_alphabet",
            comment: "'-' and '_' written as '+' and '/' (standard base64): key text is base64url only",
            field: "public-key",
            text: format!(
                "sealant-pub-v1:{}",
                url_chars[15..].replace('-', "+").replace('_', "/")
            ),
            outcome: Err("must be 48 base64url characters"),
        },
        KeyVector {
            name: "key_private_given_as_public",
            comment: "a private key line where a public key is expected: refused by its prefix",
            field: "public-key",
            text: private_line,
            outcome: Err("this is a private key, not a public key"),
        },
        KeyVector {
            name: "key_private_comments_only",
            comment: "a private key file with comment lines only: there is no key line",
            field: "private-key",
            text: "# sealant private key: keep it secret, back it up offline.".to_string(),
            outcome: Err(
                "not a sealant private key (expected a line starting with `SEALANT-PRIVATE-KEY-V1:` or `SEALANT-PRIVATE-KEY-PQ1:`)",
            ),
        },
        KeyVector {
            name: "key_public_padded_with_whitespace",
            comment: "a public key line with a tab before and after it: surrounding ASCII whitespace (space, tab, line feed, form feed, carriage return) is removed",
            field: "public-key",
            text: format!("\t{public_line}\t"),
            outcome: Ok(public.clone()),
        },
        KeyVector {
            name: "key_public_given_as_private",
            comment: "a public key line where a private key file is expected",
            field: "private-key",
            text: public_line,
            outcome: Err("this is a public key, not a private key"),
        },
    ];
    out.sort_by_key(|v| v.name);
    Ok(out)
}

/// A value sealed strictly for `production/db-creds/password` to `keys`, whose stanza `i` wraps
/// its own data key: the header commits to the first data key and the payload is encrypted
/// under the last one. Built from single-recipient envelopes with the public primitives, as a
/// dishonest sealer would.
fn mismatched_data_keys(keys: &[&PrivateKey], plaintext: &[u8]) -> Result<String> {
    let binding = Binding::new(
        Scope::Strict,
        &Location::new("production", "db-creds", "password"),
    )?;
    let mut data_keys = Vec::new();
    let mut stanzas = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let entropy = fixed_bytes(&format!("mismatched data keys/{i}"), 64);
        let single = format::seal_envelope(
            &FixedEntropy::new(entropy.clone()),
            plaintext,
            &binding,
            &[key.public().clone()],
        )?;
        data_keys.push(entropy[..32].to_vec());
        stanzas.extend(single.stanzas);
    }
    let first = data_keys.first().ok_or("no keys")?;
    let last = data_keys.last().ok_or("no keys")?;
    let mut envelope = Envelope {
        binding,
        stanzas,
        commitment: kit::hkdf_sha256(&[], first, COMMITMENT_LABEL),
        payload: Vec::new(),
    };
    let payload_key = kit::hkdf_sha256(&[], last, PAYLOAD_LABEL);
    let mut payload = plaintext.to_vec();
    let tag = kit::aead_seal(&payload_key, &envelope.header(), &mut payload);
    payload.extend_from_slice(&tag);
    envelope.payload = payload;
    Ok(envelope.to_base64())
}

/// A header with the given scope code, names and recipient count, followed by `count` stanzas,
/// a 16-byte payload length and payload; well-formed except for what the caller chose.
fn raw_header(scope: u8, namespace: &str, name: &str, key: &str, count: u8) -> Vec<u8> {
    let mut out = vec![format::VERSION, scope];
    for part in [namespace, name, key] {
        out.push(part.len() as u8);
        out.extend_from_slice(part.as_bytes());
    }
    out.push(count);
    for i in 0..count {
        out.push(format::STANZA_X25519);
        out.extend_from_slice(&fixed_bytes(
            &format!("raw stanza {i}"),
            format::STANZA_LEN - 1,
        ));
    }
    out.extend_from_slice(&fixed_bytes("raw commitment", format::COMMITMENT_LEN));
    out.extend_from_slice(&16u32.to_be_bytes());
    out.extend_from_slice(&fixed_bytes("raw payload", 16));
    out
}

/// 33 stanzas with distinct key ids.
fn too_many_recipients() -> Vec<u8> {
    raw_header(1, "production", "db-creds", "password", 33)
}

/// Changes the last data character of canonical padded base64 so that the bits the padding
/// leaves unused become non-zero; decoding permissively would give the same bytes.
fn nonzero_trailing_bits(canonical: &str) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let padding = canonical.len() - canonical.trim_end_matches('=').len();
    if padding == 0 {
        return Err("the worked example needs padding to show non-canonical trailing bits".into());
    }
    let mut bytes = canonical.as_bytes().to_vec();
    let at = bytes.len() - padding - 1;
    let index = ALPHABET
        .iter()
        .position(|&c| c == bytes[at])
        .ok_or("not base64")?;
    // One '=' leaves 2 unused bits, two leave 4; set the lowest one.
    bytes[at] = ALPHABET[index | 1];
    Ok(String::from_utf8(bytes)?)
}

/// The format's building blocks, taken from the crates the core uses (`ring`, `x25519-dalek`,
/// `chacha20poly1305`, `ml-kem`, `sha3`, `shake`): the core's own primitives are private to it,
/// and the worked examples are computed as the specification describes them, then checked
/// against `format::seal_envelope`.
mod kit {
    use chacha20poly1305::aead::{AeadInPlace, KeyInit};
    use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
    use ml_kem::KeyExport;
    use ring::{digest, hkdf};
    use sha3::Digest;
    use shake::{ExtendableOutput, Update, XofReader};
    use x25519_dalek::{PublicKey, StaticSecret};

    use super::Result;

    /// Random bytes one X-Wing encapsulation draws: 32 for ML-KEM, then 32 for X25519.
    pub const XWING_ENCAPS_RANDOM_LEN: usize = 64;

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

    /// HKDF-SHA256 giving one 32-byte key.
    pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
            .extract(ikm)
            .expand(&[info], hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut out))
            .expect("HKDF-SHA256 expands to 32 bytes");
        out
    }

    /// ChaCha20-Poly1305 with the zero nonce (every key is used once), in place; the tag.
    pub fn aead_seal(key: &[u8; 32], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        ChaCha20Poly1305::new(Key::from_slice(key))
            .encrypt_in_place_detached(Nonce::from_slice(&[0u8; 12]), aad, buf)
            .expect("ChaCha20-Poly1305 encrypts any test value")
            .into()
    }

    /// The X25519 public key of a secret.
    pub fn x25519_public(secret: &StaticSecret) -> [u8; 32] {
        PublicKey::from(secret).to_bytes()
    }

    /// X25519 agreement, refusing the all-zero secret of a low-order point.
    pub fn x25519_agree(secret: &StaticSecret, public: &[u8; 32]) -> Result<[u8; 32]> {
        let shared = secret.diffie_hellman(&PublicKey::from(*public));
        if !shared.was_contributory() {
            return Err("low-order X25519 public key".into());
        }
        Ok(shared.to_bytes())
    }

    /// An X-Wing public key expanded from its seed (draft-connolly-cfrg-xwing-kem-06).
    pub struct XWingPublic {
        mlkem: ml_kem::ml_kem_768::EncapsulationKey,
        pub x25519: [u8; 32],
        bytes: Vec<u8>,
    }

    impl XWingPublic {
        /// SHAKE256(seed) gives 96 bytes: the ML-KEM-768 seed (64), then the X25519 secret (32).
        pub fn from_seed(seed: &[u8; 32]) -> XWingPublic {
            let mut shake = shake::Shake256::default();
            shake.update(seed);
            let mut expanded = [0u8; 96];
            shake.finalize_xof().read(&mut expanded);
            let mut mlkem_seed = ml_kem::array::Array::<u8, ml_kem::array::sizes::U64>::default();
            mlkem_seed.copy_from_slice(&expanded[..64]);
            let dk = ml_kem::ml_kem_768::DecapsulationKey::from_seed(mlkem_seed);
            let mlkem = dk.encapsulation_key().clone();
            let mut x_secret = [0u8; 32];
            x_secret.copy_from_slice(&expanded[64..]);
            let x25519 = x25519_public(&StaticSecret::from(x_secret));
            let bytes = [&mlkem.to_bytes()[..], &x25519].concat();
            XWingPublic {
                mlkem,
                x25519,
                bytes,
            }
        }

        /// The 1216-byte encoding: ML-KEM-768 encapsulation key, then X25519 public key.
        pub fn as_bytes(&self) -> &[u8] {
            &self.bytes
        }
    }

    /// X-Wing encapsulation with 64 given random bytes: the 1120-byte ciphertext (ML-KEM's,
    /// then the X25519 ephemeral key) and SHA3-256(ss_M || ss_X || ct_X || pk_X || label).
    pub fn xwing_encapsulate(
        public: &XWingPublic,
        randomness: &[u8; XWING_ENCAPS_RANDOM_LEN],
    ) -> (Vec<u8>, [u8; 32]) {
        let mut m = ml_kem::array::Array::<u8, ml_kem::array::sizes::U32>::default();
        m.copy_from_slice(&randomness[..32]);
        let (ct_m, ss_m) = public.mlkem.encapsulate_deterministic(&m);
        let mut ephemeral = [0u8; 32];
        ephemeral.copy_from_slice(&randomness[32..]);
        let ephemeral = StaticSecret::from(ephemeral);
        let ct_x = x25519_public(&ephemeral);
        let ss_x = ephemeral
            .diffie_hellman(&PublicKey::from(public.x25519))
            .to_bytes();
        let mut combiner = sha3::Sha3_256::new();
        for part in [&ss_m[..], &ss_x, &ct_x, &public.x25519, b"\\.//^\\"] {
            Digest::update(&mut combiner, part);
        }
        let shared: [u8; 32] = combiner.finalize().into();
        ([&ct_m[..], &ct_x].concat(), shared)
    }
}
