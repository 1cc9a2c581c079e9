//! Sealing and opening one value: a fresh data key wrapped for every recipient, committed to in
//! the header, and the value encrypted under a key derived from it with the header as associated
//! data. Opening checks the binding first (so a value in the wrong place is named, not just
//! refused), picks the stanza by key id, and checks the commitment before decrypting.

use ring::rand::SystemRandom;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::keys::PublicKey;
use crate::primitives::{self, CryptoError, Entropy, KEY_LEN, TAG_LEN};

use super::binding::{Binding, Location};
use super::envelope::{Envelope, Stanza, key_commitment, payload_key};
use super::error::{FormatError, OpenError, SealError};
use super::keyring::KeyRing;
use super::recipient::{self, MAX_RECIPIENTS};
use super::scope::Scope;

/// Seals `plaintext` for `binding` to every key in `recipients` (duplicates removed), with the
/// system's randomness, and returns the text form.
pub fn seal(
    plaintext: &[u8],
    binding: &Binding,
    recipients: &[PublicKey],
) -> Result<String, SealError> {
    Ok(seal_envelope(&SystemRandom::new(), plaintext, binding, recipients)?.to_base64())
}

/// Seals with the given entropy: a 32-byte data key first, then what each recipient's type
/// draws (32 bytes for X25519, 64 for X-Wing), in order. Known-answer vectors use this with fixed bytes; everything else uses [`seal`].
pub fn seal_envelope(
    entropy: &dyn Entropy,
    plaintext: &[u8],
    binding: &Binding,
    recipients: &[PublicKey],
) -> Result<Envelope, SealError> {
    binding.check()?;
    // Recipients are compared as keys: the same key given twice is sealed once, but two
    // different keys that share a key id are refused, since an opener picks its stanza by id.
    let mut unique: Vec<&PublicKey> = Vec::with_capacity(recipients.len());
    for key in recipients {
        match unique.iter().find(|k| k.id() == key.id()) {
            None => unique.push(key),
            Some(same) if *same == key => {}
            Some(_) => return Err(SealError::KeyIdCollision(key.id())),
        }
    }
    if unique.is_empty() {
        return Err(SealError::NoRecipients);
    }
    if unique.len() > MAX_RECIPIENTS {
        return Err(SealError::TooManyRecipients(unique.len()));
    }
    if plaintext.len() > u32::MAX as usize - TAG_LEN {
        return Err(SealError::TooLarge(binding.key().to_string()));
    }

    let data_key = primitives::random_key(entropy)?;
    let mut stanzas = Vec::with_capacity(unique.len());
    for recipient in unique {
        let (share, wrap_key) =
            recipient::wrap_key(recipient, entropy).map_err(|error| match error {
                CryptoError::Randomness => SealError::Crypto(error),
                _ => SealError::InvalidRecipient(recipient.id()),
            })?;
        let mut wrapped_key = [0u8; KEY_LEN + TAG_LEN];
        wrapped_key[..KEY_LEN].copy_from_slice(data_key.as_ref());
        let tag = primitives::aead_seal(&wrap_key, &[], &mut wrapped_key[..KEY_LEN]);
        wrapped_key[KEY_LEN..].copy_from_slice(&tag);
        stanzas.push(Stanza {
            key_id: recipient.id(),
            share,
            wrapped_key,
        });
    }

    let mut envelope = Envelope {
        binding: binding.clone(),
        stanzas,
        commitment: key_commitment(&data_key),
        payload: Vec::new(),
    };
    let header = envelope.header();
    let mut payload = Vec::with_capacity(plaintext.len() + TAG_LEN);
    payload.extend_from_slice(plaintext);
    let tag = primitives::aead_seal(&payload_key(&data_key), &header, &mut payload);
    payload.extend_from_slice(&tag);
    envelope.payload = payload;
    Ok(envelope)
}

/// Opens the text form of a sealed value found at `at`, with one of `keys`.
pub fn open(sealed: &str, at: &Location, keys: &KeyRing) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let envelope = Envelope::from_base64(sealed).map_err(|source| OpenError::Malformed {
        key: at.key.clone(),
        source,
    })?;
    open_envelope(envelope, at, keys)
}

/// Opens a parsed envelope found at `at`: checks the binding, picks the stanza whose key id is
/// held (no trial decryption), unwraps the data key and decrypts the payload.
pub fn open_envelope(
    envelope: Envelope,
    at: &Location,
    keys: &KeyRing,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    check_location(&envelope, at)?;
    let Some((stanza, private)) = envelope
        .stanzas
        .iter()
        .find_map(|s| keys.get(&s.key_id).map(|k| (s, k)))
    else {
        return Err(OpenError::UnknownKey {
            key: at.key.clone(),
            wanted: envelope.key_ids(),
            available: keys.ids(),
        });
    };

    let tampered = || OpenError::Tampered {
        key: at.key.clone(),
    };
    let wrap_key = recipient::unwrap_key(private, &stanza.share).map_err(|_| tampered())?;
    let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
    data_key.copy_from_slice(&stanza.wrapped_key[..KEY_LEN]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&stanza.wrapped_key[KEY_LEN..]);
    primitives::aead_open(&wrap_key, &[], data_key.as_mut(), &tag).map_err(|_| tampered())?;
    // The data key must be the one the header commits to, or another recipient could open the
    // same value to a different plaintext (ChaCha20-Poly1305 does not commit to its key).
    let committed: bool = key_commitment(&data_key).ct_eq(&envelope.commitment).into();
    if !committed {
        return Err(tampered());
    }

    let header = envelope.header();
    let mut payload = Zeroizing::new(envelope.payload);
    // `read` guarantees the tag is there, but an `Envelope` can also be built by hand.
    let Some(body_len) = payload.len().checked_sub(TAG_LEN) else {
        return Err(OpenError::Malformed {
            key: at.key.clone(),
            source: FormatError::PayloadTooShort,
        });
    };
    tag.copy_from_slice(&payload[body_len..]);
    primitives::aead_open(
        &payload_key(&data_key),
        &header,
        &mut payload[..body_len],
        &tag,
    )
    .map_err(|_| tampered())?;
    payload.truncate(body_len);
    Ok(payload)
}

/// Checks that a value with this envelope's binding may be opened at `at`, and says what it was
/// sealed for when not. Needs no key: `verify` uses it offline.
pub fn check_location(envelope: &Envelope, at: &Location) -> Result<(), OpenError> {
    let binding = &envelope.binding;
    if binding.allows(at) {
        return Ok(());
    }
    let place = binding.describe_place();
    let sealed_for = if binding.key() == at.key {
        place
    } else {
        format!("key '{}' of {place}", binding.key())
    };
    let opened_as = match binding.scope() {
        Scope::Strict => format!("{}/{}", at.namespace, at.name),
        Scope::NamespaceWide => format!("namespace {}", at.namespace),
        Scope::ClusterWide => format!("key '{}'", at.key),
    };
    Err(OpenError::WrongScope {
        key: at.key.clone(),
        sealed_for,
        opened_as,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{FormatError, quote};
    use crate::keys::PrivateKey;

    fn key(n: u8) -> PrivateKey {
        PrivateKey::from_bytes(&[n; 32])
    }

    fn at(ns: &str, name: &str, key: &str) -> Location {
        Location::new(ns, name, key)
    }

    #[test]
    fn seal_open_round_trip_for_every_scope() {
        let k = key(1);
        let ring: KeyRing = [key(1)].into_iter().collect();
        for scope in Scope::ALL {
            let loc = at("production", "db-creds", "password");
            let binding = Binding::new(scope, &loc).unwrap();
            let sealed = seal(b"s3cr3t", &binding, &[k.public().clone()]).unwrap();
            assert_eq!(&*open(&sealed, &loc, &ring).unwrap(), b"s3cr3t");
        }
    }

    #[test]
    fn wrong_scope_names_what_was_expected() {
        let k = key(1);
        let ring: KeyRing = [key(1)].into_iter().collect();
        let binding =
            Binding::new(Scope::Strict, &at("production", "db-creds", "password")).unwrap();
        let sealed = seal(b"x", &binding, &[k.public().clone()]).unwrap();
        let err = open(&sealed, &at("staging", "db-creds", "password"), &ring).unwrap_err();
        assert_eq!(
            err.to_string(),
            "value 'password' was sealed for production/db-creds (strict) but is being opened as staging/db-creds"
        );
        assert_eq!(err.reason(), "WrongScope");
    }

    #[test]
    fn namespace_wide_allows_renaming_but_not_moving() {
        let k = key(1);
        let ring: KeyRing = [key(1)].into_iter().collect();
        let binding = Binding::new(Scope::NamespaceWide, &at("prod", "a", "k")).unwrap();
        assert_eq!(binding.name(), "");
        let sealed = seal(b"v", &binding, &[k.public().clone()]).unwrap();
        assert!(open(&sealed, &at("prod", "renamed", "k"), &ring).is_ok());
        let err = open(&sealed, &at("dev", "a", "k"), &ring).unwrap_err();
        assert_eq!(
            err.to_string(),
            "value 'k' was sealed for namespace prod (namespace-wide) but is being opened as namespace dev"
        );
    }

    #[test]
    fn unknown_key_lists_the_keys_on_both_sides() {
        let sealed_to = key(1);
        let binding = Binding::new(Scope::ClusterWide, &at("", "", "token")).unwrap();
        let sealed = seal(b"v", &binding, &[sealed_to.public().clone()]).unwrap();
        let ring: KeyRing = [key(2), key(3)].into_iter().collect();
        let err = open(&sealed, &at("any", "thing", "token"), &ring).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "value 'token' was sealed for key {} which is not among the 2 keys provided (",
                sealed_to.id().short()
            )),
            "{msg}"
        );
        assert_eq!(err.reason(), "UnknownKey");
    }

    #[test]
    fn multi_recipient_values_open_with_any_one_key() {
        let keys = [key(1), key(2), key(3)];
        let publics: Vec<PublicKey> = keys.iter().map(|k| k.public().clone()).collect();
        let loc = at("ns", "n", "k");
        let sealed = seal(
            b"multi",
            &Binding::new(Scope::Strict, &loc).unwrap(),
            &publics,
        )
        .unwrap();
        for n in 1..=3 {
            let ring: KeyRing = [key(n)].into_iter().collect();
            assert_eq!(&*open(&sealed, &loc, &ring).unwrap(), b"multi");
        }
    }

    #[test]
    fn duplicate_recipients_are_sealed_once_and_too_many_refused() {
        let k = key(1);
        let loc = at("ns", "n", "k");
        let binding = Binding::new(Scope::Strict, &loc).unwrap();
        let sealed = seal(b"v", &binding, &[k.public().clone(), k.public().clone()]).unwrap();
        assert_eq!(Envelope::from_base64(&sealed).unwrap().stanzas.len(), 1);
        let many: Vec<PublicKey> = (0..33u8).map(|n| key(n).public().clone()).collect();
        assert!(matches!(
            seal(b"v", &binding, &many),
            Err(SealError::TooManyRecipients(33))
        ));
        assert!(matches!(
            seal(b"v", &binding, &[]),
            Err(SealError::NoRecipients)
        ));
    }

    #[test]
    fn names_in_errors_are_quoted_on_one_printable_line() {
        assert_eq!(quote("Production"), r#""Production""#);
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("x\ny\u{e9}\u{fffd}"), r#""x\u{a}y\u{e9}\u{fffd}""#);
        let err = Envelope::read(&[1, 1, 2, b'a', 0xff, 1, b'n', 1, b'k']).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid namespace "a\u{fffd}": names are ASCII"#
        );
    }

    #[test]
    fn distinct_keys_with_one_key_id_are_refused() {
        let real = key(1).public().clone();
        let forged = PublicKey::with_forged_id(*key(2).public().x25519().unwrap(), real.id());
        assert_ne!(real, forged);
        let binding = Binding::new(Scope::Strict, &at("ns", "n", "k")).unwrap();
        let err = seal(b"v", &binding, &[real.clone(), forged]).unwrap_err();
        assert!(
            matches!(err, SealError::KeyIdCollision(id) if id == real.id()),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(&format!(
                "two different public keys have the same key id {}",
                real.id()
            )),
            "{err}"
        );
    }

    #[test]
    fn read_write_mirror_each_other() {
        let binding = Binding::new(Scope::Strict, &at("ns", "n", "k")).unwrap();
        let env = seal_envelope(
            &SystemRandom::new(),
            b"abc",
            &binding,
            &[key(1).public().clone()],
        )
        .unwrap();
        let bytes = env.write();
        assert_eq!(Envelope::read(&bytes).unwrap(), env);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Envelope::read(&longer), Err(FormatError::TrailingBytes(1)));
        assert_eq!(
            Envelope::read(&bytes[..bytes.len() - 1]),
            Err(FormatError::Truncated("payload"))
        );
    }

    #[test]
    fn a_hand_built_envelope_without_a_tag_is_an_error_not_a_panic() {
        let loc = at("ns", "n", "k");
        let mut env = seal_envelope(
            &SystemRandom::new(),
            b"",
            &Binding::new(Scope::Strict, &loc).unwrap(),
            &[key(1).public().clone()],
        )
        .unwrap();
        env.payload.truncate(5);
        let ring: KeyRing = [key(1)].into_iter().collect();
        let err = open_envelope(env, &loc, &ring).unwrap_err();
        assert!(
            matches!(
                err,
                OpenError::Malformed {
                    source: FormatError::PayloadTooShort,
                    ..
                }
            ),
            "{err}"
        );
    }
}
