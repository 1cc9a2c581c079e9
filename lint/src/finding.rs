//! What the lint reports: findings (a leaked value at a position) and diagnostics (a file that
//! could not be read or parsed, reported as a warning while the scan goes on).

use std::fmt;

use ring::digest;
use serde::Serialize;

use crate::codes::Code;
pub use crate::codes::{Confidence, Severity};

/// One leaked value. Holds no plaintext: only a redacted form and a hash of the value.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: Code,
    /// Path relative to the scan root, with `/` separators.
    pub path: String,
    /// 1-based line and column of the value itself.
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub severity: Severity,
    pub confidence: Confidence,
    /// The value redacted (`********`, or `gh********` for values of 24 characters or more), or
    /// for a finding that summarises several values, what it covers (`3 keys`).
    pub redacted: String,
    /// The commit the file was read from (`--history`; `staged` for `--staged`), else `None`.
    pub commit: Option<String>,
    /// For a live object read from a cluster (`sealant audit`): which object and field, else
    /// `None`. `line` and `column` then mean nothing to a reader and are not shown.
    pub object: Option<ObjectRef>,
    /// Found in test data or an example file (chart `ci/` values, `test`/`tests`/`testdata`
    /// folders, `*.example`): reported at low severity with the reason in the message, and
    /// hidden by `sealant lint` unless `--include-fixtures` is given.
    pub fixture: bool,
    /// Whether `redacted` shows part of a value (false for summaries such as `3 keys`).
    pub(crate) shows_value: bool,
    /// Where the value lives, independent of line numbers (`Pod/app/containers[app]/env/DB_PASSWORD`),
    /// so fingerprints survive edits that move lines.
    pub key_path: String,
    /// SHA-256 of the value under a fixed label; never shown, only fed into baseline fingerprints.
    pub(crate) value_hash: [u8; 32],
    /// Byte range of the value in the file, to keep one finding per leaked value.
    pub(crate) span: (usize, usize),
}

/// Label that separates value hashes from any other SHA-256 use.
const VALUE_HASH_LABEL: &[u8] = b"sealant-lint-value-v1\0";

/// Hashes a value for fingerprints.
pub(crate) fn hash_value(value: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(VALUE_HASH_LABEL);
    ctx.update(value.trim().as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl Finding {
    /// A stable id of *where* the finding is (rule, file, key path), holding nothing of the value:
    /// safe to print in JSON and SARIF (`partialFingerprints`).
    pub fn location_fingerprint(&self) -> String {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for part in [self.rule.as_str(), &self.path, &self.key_path] {
            ctx.update(part.as_bytes());
            ctx.update(b"\0");
        }
        hex::encode(&ctx.finish().as_ref()[..16])
    }

    /// The baseline fingerprint: SHA-256 over a per-baseline random salt, the rule, the file, the
    /// key path and the value's hash. It changes when the secret changes, not when lines move,
    /// and cannot be reversed without the salt and a guess of the value.
    pub fn baseline_fingerprint(&self, salt: &[u8]) -> String {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(salt);
        for part in [self.rule.as_str(), &self.path, &self.key_path] {
            ctx.update(part.as_bytes());
            ctx.update(b"\0");
        }
        ctx.update(&self.value_hash);
        hex::encode(ctx.finish().as_ref())
    }
}

/// How much of a value reports show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Redaction {
    /// Nothing of values shorter than 24 characters, the first two characters of longer ones.
    #[default]
    Partial,
    /// Nothing of any value.
    Full,
}

impl Finding {
    /// Applies `redaction` to the shown value.
    pub fn redact(&mut self, redaction: Redaction) {
        if redaction == Redaction::Full && self.shows_value {
            self.redacted = super::values::MASK.to_string();
        }
    }
}

/// A live Kubernetes object and the field of it a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub kind: String,
    pub name: String,
    /// `spec.containers[name=app].env[name=DB_PASSWORD].value`; empty for the object as a whole.
    pub field: String,
}

impl fmt::Display for ObjectRef {
    /// `namespace/Kind/name`, or `Kind/name` for a cluster-scoped object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// A problem with one file (unreadable, unparsable) that did not stop the scan.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub path: String,
    pub message: String,
}
