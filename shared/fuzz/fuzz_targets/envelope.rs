//! Envelope parsing: `read` accepts only the canonical encoding, so whatever it accepts must
//! write back to exactly the same bytes; the same holds for the base64 text form. Opening
//! arbitrary input must return an error, never panic.
//!
//! The opener holds the test keys the known-answer vectors are sealed to (X25519 key 1 and the
//! first X-Wing key), and opens at their location, so inputs mutated from the vectors (the seed
//! corpus) reach unwrapping, X-Wing decapsulation, the key commitment and decryption, not only
//! parsing. Seed with the `sealed` lines of `shared/testdata/*.txt`, as text
//! and decoded.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

use sealant_core::format::{self, Envelope, KeyRing, Location};
use sealant_core::keys::PrivateKey;

/// Test keys of `shared/testdata/` (not secrets: they are published with the vectors): X25519
/// key 1 and X-Wing key 101.
const VECTOR_KEYS: [&str; 2] = [
    "SEALANT-PRIVATE-KEY-V1:cYlC-EQRaD-U7txpCIjUKeOgUQA_nI40er50YUipe-fwxwD2",
    "SEALANT-PRIVATE-KEY-PQ1:m4ZXwuZ8ZmJqBcMLeyGTG74K6zsrg7xIV431Wk-bF_mjHfsL",
];

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        VECTOR_KEYS
            .iter()
            .filter_map(|k| PrivateKey::from_file_text(k).ok())
            .collect()
    })
}

/// Where the vectors are opened.
fn location() -> Location {
    Location::new("production", "db-creds", "password")
}

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::read(data) {
        assert_eq!(
            envelope.write(),
            data,
            "read accepted a non-canonical envelope"
        );
        let text = envelope.to_base64();
        assert_eq!(Envelope::from_base64(&text).as_ref(), Ok(&envelope));
        let _ = format::open_envelope(envelope, &location(), ring());
    }

    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(envelope) = Envelope::from_base64(text) {
            assert_eq!(
                envelope.to_base64(),
                text,
                "from_base64 accepted non-canonical base64"
            );
        }
        // Opening mutated text fails unless the mutation kept a vector intact; it must not panic.
        let _ = format::open(text, &location(), ring());
    }
});
