//! sealant's core library: the sealed-value format, cluster key pairs, the `SealedSecret`
//! resource and its conversion to and from Secrets. (The lint engine is the `sealant-lint` crate.)
//!
//! The crypto lives in [`primitives`] (small documented functions over X25519, HKDF-SHA256 and
//! ChaCha20-Poly1305) and [`format`] (the envelope: `read` and `write` mirror each other). The
//! normative description of every byte is `docs/FORMAT.md`.

pub mod format;
pub mod input;
pub mod keys;
pub mod primitives;
pub mod resource;

pub use format::{Binding, Envelope, FormatError, KeyRing, Location, OpenError, Scope, SealError};
pub use keys::{KeyError, KeyId, PrivateKey, PublicKey};
pub use resource::{SealedSecret, SealedSecretSpec, SealedSecretStatus, SecretTemplate};
