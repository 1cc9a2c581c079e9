//! The key ring: the private keys a value may be opened with, looked up by key id (an opener
//! picks its stanza by id, never by trying every key).

use std::collections::HashMap;
use std::fmt;

use crate::keys::{KeyId, PrivateKey};

/// The private keys a value may be opened with, looked up by key id.
#[derive(Default)]
pub struct KeyRing {
    keys: HashMap<KeyId, PrivateKey>,
}

impl KeyRing {
    /// An empty key ring.
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// Adds a key; a key with the same id replaces the old one (they are the same key).
    pub fn insert(&mut self, key: PrivateKey) {
        self.keys.insert(key.id(), key);
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key with this id, if present.
    pub fn get(&self, id: &KeyId) -> Option<&PrivateKey> {
        self.keys.get(id)
    }

    /// The ids of the keys held, sorted.
    pub fn ids(&self) -> Vec<KeyId> {
        let mut ids: Vec<KeyId> = self.keys.keys().copied().collect();
        ids.sort();
        ids
    }
}

impl FromIterator<PrivateKey> for KeyRing {
    fn from_iter<I: IntoIterator<Item = PrivateKey>>(iter: I) -> Self {
        let mut ring = KeyRing::new();
        for key in iter {
            ring.insert(key);
        }
        ring
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing").field("ids", &self.ids()).finish()
    }
}
