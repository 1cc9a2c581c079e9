//! The scope: which names a value is bound to, and so where it may be opened.
//!
//! `strict` binds the namespace, the SealedSecret's name and the value's key name;
//! `namespace-wide` the namespace and the key name; `cluster-wide` the key name only
//! (docs/FORMAT.md §4). The names themselves and their checks are `binding.rs`'s.

use std::fmt;
use std::str::FromStr;

/// Which names a value is bound to, and so where it may be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Bound to the namespace, the SealedSecret's name and the key name.
    Strict,
    /// Bound to the namespace and the key name: the SealedSecret may be renamed.
    NamespaceWide,
    /// Bound to the key name only: the SealedSecret may move to any namespace.
    ClusterWide,
}

impl Scope {
    /// Every scope, for help texts and tests.
    pub const ALL: [Scope; 3] = [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide];

    /// The byte that encodes the scope in the header.
    pub fn code(self) -> u8 {
        match self {
            Scope::Strict => 1,
            Scope::NamespaceWide => 2,
            Scope::ClusterWide => 3,
        }
    }

    /// The scope of a header's scope byte, if it is a known one.
    pub(super) fn from_code(code: u8) -> Option<Scope> {
        match code {
            1 => Some(Scope::Strict),
            2 => Some(Scope::NamespaceWide),
            3 => Some(Scope::ClusterWide),
            _ => None,
        }
    }

    /// The scope's name as users write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }

    /// Whether the namespace is bound.
    pub(super) fn binds_namespace(self) -> bool {
        self != Scope::ClusterWide
    }

    /// Whether the SealedSecret's name is bound.
    pub(super) fn binds_name(self) -> bool {
        self == Scope::Strict
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                format!("unknown scope '{s}' (expected strict, namespace-wide or cluster-wide)")
            })
    }
}
