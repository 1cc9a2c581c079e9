//! Envelope parsing: `read` accepts only the canonical encoding, so whatever it accepts must
//! write back to exactly the same bytes; the same holds for the base64 text form. Opening
//! arbitrary input must return an error, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

use sealant_core::format::{self, Envelope, KeyRing, Location};
use sealant_core::keys::PrivateKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::read(data) {
        assert_eq!(
            envelope.write(),
            data,
            "read accepted a non-canonical envelope"
        );
        let text = envelope.to_base64();
        assert_eq!(Envelope::from_base64(&text).as_ref(), Ok(&envelope));
    }

    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(envelope) = Envelope::from_base64(text) {
            assert_eq!(
                envelope.to_base64(),
                text,
                "from_base64 accepted non-canonical base64"
            );
        }
        let ring: KeyRing = [PrivateKey::from_bytes(&[1; 32])].into_iter().collect();
        let at = Location::new("production", "db-creds", "password");
        // Opening arbitrary text can only fail (or, with astronomically small probability,
        // succeed); it must not panic.
        let _ = format::open(text, &at, &ring);
    }
});
