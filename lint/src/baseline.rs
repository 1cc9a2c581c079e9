//! Baselines: accept today's findings so that only new leaks fail the build.
//!
//! A baseline file holds a random salt and, per finding, a fingerprint: SHA-256 over the salt, the
//! rule id, the file, the key path (not the line, so moving lines keeps the match) and a hash of
//! the value (so rotating the secret to another plaintext makes a new finding). It holds no
//! secret and no value.

use std::collections::HashSet;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use super::finding::Finding;

const FORMAT_VERSION: u32 = 1;

/// The on-disk form.
#[derive(Debug, Serialize, Deserialize)]
pub struct Baseline {
    version: u32,
    /// Hex salt, random per baseline.
    salt: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    rule: String,
    path: String,
    fingerprint: String,
}

/// A baseline that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read baseline {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("baseline {path} is not a sealant baseline: {message}")]
    Invalid { path: String, message: String },
    #[error("cannot write baseline {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no randomness for the baseline salt")]
    Random,
}

impl Baseline {
    /// A new baseline accepting `findings`, with a fresh random salt.
    pub fn from_findings(findings: &[Finding]) -> Result<Baseline, BaselineError> {
        let mut salt = [0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| BaselineError::Random)?;
        let entries = findings
            .iter()
            .map(|f| Entry {
                rule: f.rule.to_string(),
                path: f.path.clone(),
                fingerprint: f.baseline_fingerprint(&salt),
            })
            .collect();
        Ok(Baseline {
            version: FORMAT_VERSION,
            salt: hex::encode(salt),
            entries,
        })
    }

    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: shown.clone(),
            source,
        })?;
        let baseline: Baseline =
            serde_json::from_str(&text).map_err(|e| BaselineError::Invalid {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        if baseline.version != FORMAT_VERSION || hex::decode(&baseline.salt).is_err() {
            return Err(BaselineError::Invalid {
                path: shown,
                message: format!("unsupported version {} or bad salt", baseline.version),
            });
        }
        Ok(baseline)
    }

    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        let text = self.to_text()?;
        std::fs::write(path, text).map_err(|source| BaselineError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// The baseline file's text (pretty JSON and a newline), for callers that write it
    /// themselves (the CLI writes it atomically).
    pub fn to_text(&self) -> Result<String, BaselineError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| BaselineError::Invalid {
            path: String::new(),
            message: e.to_string(),
        })?;
        text.push('\n');
        Ok(text)
    }

    /// Splits `findings` into those not in the baseline and the number that were.
    pub fn filter(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize) {
        let salt = hex::decode(&self.salt).unwrap_or_default();
        let known: HashSet<&str> = self
            .entries
            .iter()
            .map(|e| e.fingerprint.as_str())
            .collect();
        let before = findings.len();
        let kept: Vec<Finding> = findings
            .into_iter()
            .filter(|f| !known.contains(f.baseline_fingerprint(&salt).as_str()))
            .collect();
        let accepted = before - kept.len();
        (kept, accepted)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
