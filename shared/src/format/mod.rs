//! The sealed-value format: one Secret value sealed to one or more cluster keys, by concern.
//!
//! - `envelope.rs`: the binary form (header, stanzas, key commitment, payload), read and written
//!   byte for byte;
//! - `scope.rs` and `binding.rs`: the scope, and the names a value is bound to under it (the
//!   scope binding) with their validation;
//! - `recipient/`: one module per recipient type (X25519, X-Wing) behind one trait, wrapping and
//!   unwrapping the data key;
//! - `keyring.rs`: the private keys an opener holds, by key id;
//! - `seal.rs`: sealing and opening, which put these together;
//! - `error.rs`: what can go wrong, said without secrets.
//!
//! The key commitment is derived from the data key and checked (in constant time) by every
//! opener before the payload is decrypted, so all recipients that open a value get the same
//! plaintext: ChaCha20-Poly1305 alone does not commit to its key.
//!
//! The header travels in the clear so errors can say what a value was sealed for, and it is the
//! associated data of the payload's AEAD, so nothing in it can change without the value failing
//! to open. `docs/FORMAT.md` is the normative description. Nothing here knows Kubernetes: the
//! `SealedSecret` resource and Secrets are `resource.rs`'s.

mod binding;
mod envelope;
mod error;
mod keyring;
mod recipient;
mod scope;
mod seal;

pub use binding::{
    Binding, Location, MAX_NAME_LEN, MAX_NAMESPACE_LEN, validate_key_name, validate_namespace,
    validate_object_name,
};
pub use envelope::{COMMITMENT_LEN, Envelope, Stanza, VERSION};
pub use error::{FormatError, OpenError, SealError, quote};
pub use keyring::KeyRing;
pub use recipient::{
    MAX_RECIPIENTS, STANZA_LEN, STANZA_X25519, STANZA_XWING, Share, XWING_STANZA_LEN,
};
pub use scope::Scope;
pub use seal::{check_location, open, open_envelope, seal, seal_envelope};
