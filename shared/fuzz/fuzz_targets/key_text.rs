//! Key text parsing: public key lines and private key files of both types (X25519 and X-Wing),
//! and key ids. Whatever parses must print back to its canonical form, and nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

use sealant_core::keys::{KeyId, PrivateKey, PublicKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(public) = text.parse::<PublicKey>() {
        // Only surrounding ASCII whitespace is ignored; the line itself is canonical.
        assert_eq!(public.to_string(), text.trim_ascii());
    }
    if let Ok(public) = PublicKey::from_file_text(text) {
        assert_eq!(
            public.to_string().parse::<PublicKey>().as_ref(),
            Ok(&public)
        );
    }
    if let Ok(private) = PrivateKey::from_file_text(text) {
        let again = PrivateKey::from_file_text(&private.to_file_text());
        assert_eq!(again.ok().map(|k| k.id()), Some(private.id()));
        // The public key of either type prints to a line that reads back as the same type.
        let public = private.public().to_string().parse::<PublicKey>();
        assert_eq!(public.ok().map(|p| p.key_type()), Some(private.key_type()));
    }
    if let Ok(id) = text.parse::<KeyId>() {
        assert_eq!(id.to_string(), text);
    }
});
