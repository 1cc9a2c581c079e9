//! sealant's core library: the sealed-value format, cluster key pairs, the `SealedSecret`
//! resource and its conversion to and from Secrets. (The lint engine is the `sealant-lint` crate.)
//!
//! The crypto lives in `primitives` (small documented functions over X25519, X-Wing,
//! HKDF-SHA256 and ChaCha20-Poly1305, private to the crate but for the format's labels and the
//! entropy hook) and [`format`] (the envelope, the scope binding, the recipient types and the key
//! ring; `read` and `write` mirror each other). [`keys`] holds key pairs and their text forms,
//! [`resource`] the Kubernetes-facing `SealedSecret`, and [`key_secret`] the layout of the
//! controller's key Secrets and of a key backup. The normative description of every byte is
//! `docs/FORMAT.md`.

pub mod format;
pub mod input;
pub mod key_secret;
pub mod keys;
pub mod primitives;
pub mod resource;

pub use format::{Binding, Envelope, FormatError, KeyRing, Location, OpenError, Scope, SealError};
pub use keys::{KeyError, KeyId, PrivateKey, PublicKey};
pub use resource::{SealedSecret, SealedSecretSpec, SealedSecretStatus, SecretTemplate};
