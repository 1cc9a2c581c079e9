//! Property tests of the sealed-value envelope: sealing then opening gives the value back for
//! any value, names, scope and recipients; any single-bit change makes opening fail; `read` and
//! `write` mirror each other; and no input makes parsing panic.
//!
//! Case counts are kept small enough for CI in a debug build (the crypto is unoptimized there);
//! raise them locally with `PROPTEST_CASES=...`.

#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use proptest::prelude::*;
use proptest::sample::select;
use ring::hkdf;

use sealant_core::format::{
    self, Binding, Envelope, KeyRing, Location, MAX_RECIPIENTS, OpenError, Scope, Share, Stanza,
};
use sealant_core::keys::{KeyId, KeyType, PrivateKey, PublicKey};
use sealant_core::primitives::{
    COMMITMENT_LABEL, FixedEntropy, PAYLOAD_LABEL, XWING_CIPHERTEXT_LEN,
};

const MIB: usize = 1 << 20;

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn namespace() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
}

fn object_name() -> impl Strategy<Value = String> {
    // A DNS-1123 subdomain: dot-separated labels that start and end with a letter or digit.
    "[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?".prop_filter("DNS-1123 subdomain", |n| {
        n.split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
    })
}

fn key_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,253}".prop_filter("not . or ..", |k| k != "." && k != "..")
}

fn location() -> impl Strategy<Value = Location> {
    (namespace(), object_name(), key_name())
        .prop_map(|(ns, name, key)| Location::new(ns, name, key))
}

fn scope() -> impl Strategy<Value = Scope> {
    select(Scope::ALL.to_vec())
}

/// A value's length: mostly small, sometimes anywhere up to 1 MiB.
fn value_len() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 0..256usize, 1 => 0..=MIB]
}

/// `len` bytes from a seed (cheap for 1 MiB, unlike a strategy per byte).
fn bytes_from_seed(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// 1 to 4 distinct private keys from seeds.
fn private_keys() -> impl Strategy<Value = Vec<[u8; 32]>> {
    prop::collection::vec(any::<[u8; 32]>(), 1..=4)
}

fn keys_of(seeds: &[[u8; 32]]) -> (Vec<PrivateKey>, Vec<PublicKey>) {
    let keys: Vec<PrivateKey> = seeds.iter().map(PrivateKey::from_bytes).collect();
    let publics = keys.iter().map(|k| k.public().clone()).collect();
    (keys, publics)
}

/// A structurally valid envelope with arbitrary stanza and payload bytes.
fn arbitrary_envelope() -> impl Strategy<Value = Envelope> {
    // Mostly X25519 stanzas, some X-Wing ones (their 1120-byte ciphertext from a seed).
    let share = prop_oneof![
        4 => any::<[u8; 32]>().prop_map(Share::X25519),
        1 => any::<u64>().prop_map(|seed| {
            let mut ciphertext = Box::new([0u8; XWING_CIPHERTEXT_LEN]);
            ciphertext.copy_from_slice(&bytes_from_seed(seed, XWING_CIPHERTEXT_LEN));
            Share::XWing(ciphertext)
        }),
    ];
    let stanzas = prop::collection::vec(
        (any::<[u8; 8]>(), share, any::<[u8; 48]>()),
        1..=MAX_RECIPIENTS,
    )
    .prop_map(|raw| {
        let mut stanzas: Vec<Stanza> = Vec::new();
        for (id, share, wrapped_key) in raw {
            let key_id = KeyId::from_bytes(id);
            if !stanzas.iter().any(|s| s.key_id == key_id) {
                stanzas.push(Stanza {
                    key_id,
                    share,
                    wrapped_key,
                });
            }
        }
        stanzas
    });
    let payload = prop::collection::vec(any::<u8>(), 16..512);
    (scope(), location(), stanzas, any::<[u8; 32]>(), payload).prop_map(
        |(scope, at, stanzas, commitment, payload)| Envelope {
            binding: Binding::new(scope, &at).unwrap(),
            stanzas,
            commitment,
            payload,
        },
    )
}

/// Another location that `scope` does not allow when sealed for `at`.
fn elsewhere(scope: Scope, at: &Location, which: u8) -> Location {
    let mut other = at.clone();
    match (scope, which % 3) {
        (Scope::Strict, 0) => other.namespace.push('x'),
        (Scope::Strict, 1) => other.name.push('x'),
        (Scope::NamespaceWide, 0 | 1) => other.namespace.push('x'),
        _ => other.key.push('x'),
    }
    other
}

/// A location the scope allows: the names it does not bind changed.
fn allowed_elsewhere(scope: Scope, at: &Location) -> Location {
    let mut other = at.clone();
    if scope != Scope::Strict {
        other.name = format!("{}-renamed", at.name);
    }
    if scope == Scope::ClusterWide {
        other.namespace = format!("{}-moved", at.namespace);
    }
    other
}

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn seal_then_open_gives_the_value_back(
        len in value_len(),
        seed in any::<u64>(),
        scope in scope(),
        at in location(),
        seeds in private_keys(),
        opener in any::<prop::sample::Index>(),
        which in any::<u8>(),
    ) {
        let value = bytes_from_seed(seed, len);
        let (keys, publics) = keys_of(&seeds);
        let binding = Binding::new(scope, &at).unwrap();
        let sealed = format::seal(&value, &binding, &publics).unwrap();

        let envelope = Envelope::from_base64(&sealed).unwrap();
        prop_assert_eq!(envelope.payload.len(), value.len() + 16);
        prop_assert_eq!(envelope.to_base64(), sealed.clone());

        // Any one recipient key opens it, where it was sealed for and where the scope allows.
        let chosen = opener.index(keys.len());
        let ring: KeyRing = [PrivateKey::from_bytes(&seeds[chosen])].into_iter().collect();
        let opened = format::open(&sealed, &at, &ring).unwrap();
        prop_assert!(opened.as_slice() == value.as_slice());
        let opened = format::open(&sealed, &allowed_elsewhere(scope, &at), &ring).unwrap();
        prop_assert!(opened.as_slice() == value.as_slice());

        // Nowhere else, and with no recipient key.
        let err = format::open(&sealed, &elsewhere(scope, &at, which), &ring).unwrap_err();
        prop_assert_eq!(err.reason(), "WrongScope");
        let stranger: KeyRing = [PrivateKey::from_bytes(&[0x5a; 32])]
            .into_iter()
            .filter(|k| !publics.contains(k.public()))
            .collect();
        let err = format::open(&sealed, &at, &stranger).unwrap_err();
        prop_assert_eq!(err.reason(), "UnknownKey");
        drop(keys);
    }

    #[test]
    fn any_single_bit_flip_fails_to_open(
        len in 0..64usize,
        seed in any::<u64>(),
        scope in scope(),
        at in location(),
        seeds in private_keys(),
        bit in any::<prop::sample::Index>(),
    ) {
        let value = bytes_from_seed(seed, len);
        let (keys, publics) = keys_of(&seeds);
        let binding = Binding::new(scope, &at).unwrap();
        let sealed = format::seal(&value, &binding, &publics).unwrap();
        // The opener holds every recipient key, so no flip can be "unknown" by luck.
        let ring: KeyRing = keys.into_iter().collect();

        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let result = format::open(&STANDARD.encode(&bytes), &at, &ring);
        prop_assert!(result.is_err(), "bit {} flipped and the value still opened", bit);
    }

    #[test]
    fn read_write_mirror_each_other(envelope in arbitrary_envelope()) {
        let bytes = envelope.write();
        let back = Envelope::read(&bytes).unwrap();
        prop_assert_eq!(&back, &envelope);
        prop_assert_eq!(back.write(), bytes);
        prop_assert_eq!(Envelope::from_base64(&envelope.to_base64()).unwrap(), envelope);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(envelope) = Envelope::read(&bytes) {
            prop_assert_eq!(envelope.write(), bytes);
        }
    }

    #[test]
    fn parse_never_panics_on_damaged_envelopes(
        envelope in arbitrary_envelope(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        // Random bytes rarely get past the version byte; damaging a valid envelope reaches
        // every later check.
        let mut bytes = envelope.write();
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if let Ok(parsed) = Envelope::read(&bytes) {
            prop_assert_eq!(parsed.write(), bytes);
        }
    }

    #[test]
    fn opening_never_panics_on_arbitrary_text(text in ".{0,300}", at in location()) {
        let ring: KeyRing = [PrivateKey::from_bytes(&[1; 32])].into_iter().collect();
        match format::open(&text, &at, &ring) {
            Ok(_) => prop_assert!(false, "arbitrary text opened"),
            Err(OpenError::Malformed { .. } | OpenError::WrongScope { .. } | OpenError::UnknownKey { .. } | OpenError::Tampered { .. }) => {}
        }
    }

    #[test]
    fn key_text_parsing_never_panics(text in "(sealant-pub-v1:|SEALANT-PRIVATE-KEY-V1:|sealant-pub-pq1:|SEALANT-PRIVATE-KEY-PQ1:|# .*\n)?[A-Za-z0-9_=+/ -]{0,60}") {
        let _ = text.parse::<PublicKey>();
        let _ = PublicKey::from_file_text(&text);
        let _ = PrivateKey::from_file_text(&text);
        let _ = text.parse::<KeyId>();
    }

    #[test]
    fn key_text_forms_round_trip(seed in any::<[u8; 32]>()) {
        let key = PrivateKey::from_bytes(&seed);
        let public: PublicKey = key.public().to_string().parse().unwrap();
        prop_assert_eq!(&public, key.public());
        let back = PrivateKey::from_file_text(&key.to_file_text()).unwrap();
        prop_assert_eq!(back.public(), key.public());
        prop_assert_eq!(key.id().to_string().parse::<KeyId>().unwrap(), key.id());
    }
}

/// HKDF-SHA256 with an empty salt, as the format derives the commitment and the payload key
/// (with `ring` directly: the core's own primitives are private to it).
fn hkdf32(ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
        .extract(ikm)
        .expand(&[info], hkdf::HKDF_SHA256)
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

/// What a dishonest sealer can build: stanza `i` wraps `data_keys[i]` for `keys[i]`, the header
/// commits to `data_keys[committed]`, and the payload is `plaintext` under
/// `data_keys[encrypted]`, with the whole header as associated data.
fn mixed_envelope(
    keys: &[PrivateKey],
    data_keys: &[[u8; 32]],
    committed: usize,
    encrypted: usize,
    binding: &Binding,
    plaintext: &[u8],
) -> Envelope {
    let mut stanzas = Vec::new();
    for (i, (key, data_key)) in keys.iter().zip(data_keys).enumerate() {
        let mut entropy = data_key.to_vec();
        entropy.extend_from_slice(&[i as u8 + 1; 32]);
        let single = format::seal_envelope(
            &FixedEntropy::new(entropy),
            plaintext,
            binding,
            &[key.public().clone()],
        )
        .unwrap();
        stanzas.extend(single.stanzas);
    }
    let mut envelope = Envelope {
        binding: binding.clone(),
        stanzas,
        commitment: hkdf32(&data_keys[committed], COMMITMENT_LABEL),
        payload: Vec::new(),
    };
    let mut payload = plaintext.to_vec();
    let payload_key = hkdf32(&data_keys[encrypted], PAYLOAD_LABEL);
    let tag = ChaCha20Poly1305::new(Key::from_slice(&payload_key))
        .encrypt_in_place_detached(
            Nonce::from_slice(&[0u8; 12]),
            &envelope.header(),
            &mut payload,
        )
        .unwrap();
    payload.extend_from_slice(&tag);
    envelope.payload = payload;
    envelope
}

proptest! {
    #![proptest_config(cases(32))]

    /// Stanzas that wrap different data keys: only the recipient whose stanza wraps the committed
    /// key can open, and only if the payload is under that key too; so no two recipients ever
    /// get different plaintexts, and when the payload is not under the committed key, every
    /// recipient fails.
    #[test]
    fn stanzas_wrapping_different_data_keys_never_open_to_different_values(
        seeds in prop::collection::vec(any::<[u8; 32]>(), 2..=4),
        data_keys in prop::collection::vec(any::<[u8; 32]>(), 4),
        committed in any::<prop::sample::Index>(),
        encrypted in any::<prop::sample::Index>(),
        at in location(),
        scope in scope(),
    ) {
        let (keys, _) = keys_of(&seeds);
        prop_assume!(keys.iter().map(PrivateKey::id).collect::<std::collections::HashSet<_>>().len() == keys.len());
        let data_keys = &data_keys[..keys.len()];
        prop_assume!(data_keys.iter().collect::<std::collections::HashSet<_>>().len() == keys.len());
        let committed = committed.index(keys.len());
        let encrypted = encrypted.index(keys.len());
        let binding = Binding::new(scope, &at).unwrap();
        let sealed = mixed_envelope(&keys, data_keys, committed, encrypted, &binding, b"v").to_base64();
        for (i, key) in keys.iter().enumerate() {
            let ring: KeyRing = [PrivateKey::from_bytes(&seeds[i])].into_iter().collect();
            let result = format::open(&sealed, &at, &ring);
            if i == committed && i == encrypted {
                let opened = result.unwrap();
                prop_assert_eq!(opened.as_slice(), b"v");
            } else {
                let err = result.unwrap_err();
                prop_assert_eq!(err.reason(), "Tampered", "recipient {} ({})", i, key.id());
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(12))]

    /// X25519 and X-Wing recipients in one value: every recipient opens it alone, to the same
    /// value, and a flipped bit anywhere makes it fail for a holder of every key.
    #[test]
    fn mixed_recipient_types_open_for_each_and_detect_any_flip(
        specs in prop::collection::vec((any::<bool>(), any::<[u8; 32]>()), 1..=3),
        len in 0..64usize,
        seed in any::<u64>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let key_of = |(pq, bytes): &(bool, [u8; 32])| {
            let key_type = if *pq { KeyType::XWing } else { KeyType::X25519 };
            PrivateKey::from_seed(key_type, bytes)
        };
        let publics: Vec<PublicKey> = specs.iter().map(|s| key_of(s).public().clone()).collect();
        let value = bytes_from_seed(seed, len);
        let at = Location::new("production", "db-creds", "password");
        let binding = Binding::new(Scope::Strict, &at).unwrap();
        let sealed = format::seal(&value, &binding, &publics).unwrap();
        let envelope = Envelope::from_base64(&sealed).unwrap();
        let mut unique: Vec<&PublicKey> = Vec::new();
        for key in &publics {
            if !unique.contains(&key) {
                unique.push(key);
            }
        }
        let types: Vec<KeyType> = envelope.stanzas.iter().map(|s| s.share.key_type()).collect();
        prop_assert_eq!(types, unique.iter().map(|k| k.key_type()).collect::<Vec<_>>());
        for spec in &specs {
            let ring: KeyRing = [key_of(spec)].into_iter().collect();
            let opened = format::open(&sealed, &at, &ring).unwrap();
            prop_assert_eq!(opened.as_slice(), value.as_slice());
        }
        let ring: KeyRing = specs.iter().map(key_of).collect();
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(format::open(&STANDARD.encode(&bytes), &at, &ring).is_err(), "bit {}", bit);
    }
}

#[test]
fn a_one_mib_value_round_trips() {
    // The largest size the round-trip property reaches, checked every run rather than by chance.
    let value = bytes_from_seed(7, MIB);
    let key = PrivateKey::from_bytes(&[9; 32]);
    let at = Location::new("production", "big", "blob.bin");
    let sealed = format::seal(
        &value,
        &Binding::new(Scope::Strict, &at).unwrap(),
        &[key.public().clone()],
    )
    .unwrap();
    let ring: KeyRing = [key].into_iter().collect();
    assert_eq!(
        format::open(&sealed, &at, &ring).unwrap().as_slice(),
        value.as_slice()
    );
}
