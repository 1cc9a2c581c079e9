//! `.sealant.toml`: which rules run, extra credential names, extra placeholders, excluded paths.
//!
//! ```toml
//! [lint]
//! disable = ["SL010"]              # or: enable = ["SL001", "SL002"] to run only these
//! extra-names = ["pin", "otp"]     # more credential-like words (matched as words)
//! ignore-names = ["SESSION_TOKEN_NAME"]
//! placeholders = ["^dev-only-"]    # regexes: matching values are never reported
//! exclude = ["vendor/", "**/testdata/**"]  # gitignore-style patterns
//! fail-on = "medium"
//! ```

use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use super::finding::Severity;
use super::values::ValueFilter;
use crate::codes::Code;

/// The file name looked up in the scan root.
pub const CONFIG_FILE: &str = ".sealant.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    lint: LintSection,
    /// The CLI's recipient rules (`[seal]`, `[[seal.rules]]`): read and checked by `sealant`
    /// itself (cli/src/trust.rs); the lint only accepts the table so one file serves both.
    #[serde(default)]
    #[allow(dead_code)]
    seal: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct LintSection {
    #[serde(default)]
    enable: Vec<String>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    extra_names: Vec<String>,
    #[serde(default)]
    ignore_names: Vec<String>,
    #[serde(default)]
    placeholders: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    fail_on: Option<String>,
    max_file_size: Option<u64>,
}

/// Everything configurable about a scan, after validation.
#[derive(Debug)]
pub struct Settings {
    enabled: [bool; Code::ALL.len()],
    /// Lower-case extra credential words.
    pub extra_names: Vec<String>,
    /// Lower-case names never treated as credentials.
    pub ignored_names: Vec<String>,
    pub values: ValueFilter,
    /// gitignore-style patterns of paths not to scan.
    pub exclude: Vec<String>,
    pub fail_on: Option<Severity>,
    /// Files larger than this are skipped with a diagnostic.
    pub max_file_size: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: [true; Code::ALL.len()],
            extra_names: Vec::new(),
            ignored_names: Vec::new(),
            values: ValueFilter::default(),
            exclude: Vec::new(),
            fail_on: None,
            max_file_size: 2 * 1024 * 1024,
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

impl Settings {
    pub fn is_enabled(&self, code: Code) -> bool {
        self.enabled[code as usize]
    }

    /// Turns rules off (`--disable`-style, after the config file).
    pub fn disable(&mut self, code: Code) {
        self.enabled[code as usize] = false;
    }

    /// Reads `path`, or returns defaults when `path` does not exist and `required` is false.
    pub fn load(path: &Path, required: bool) -> Result<Settings, ConfigError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Settings::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: shown,
                    source,
                });
            }
        };
        Settings::parse(&text).map_err(|message| ConfigError::Invalid {
            path: shown,
            message,
        })
    }

    /// Parses the TOML text of a configuration file.
    pub fn parse(text: &str) -> Result<Settings, String> {
        let file: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let lint = file.lint;
        let mut settings = Settings::default();
        let codes = |list: &[String]| -> Result<Vec<Code>, String> {
            list.iter().map(|s| s.parse::<Code>()).collect()
        };
        let enable = codes(&lint.enable)?;
        if !enable.is_empty() {
            settings.enabled = [false; Code::ALL.len()];
            for c in enable {
                settings.enabled[c as usize] = true;
            }
        }
        for c in codes(&lint.disable)? {
            settings.enabled[c as usize] = false;
        }
        settings.extra_names = lint
            .extra_names
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        settings.ignored_names = lint
            .ignore_names
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        settings.values.extra_placeholders = lint
            .placeholders
            .iter()
            .map(|p| Regex::new(p).map_err(|e| format!("placeholder pattern `{p}`: {e}")))
            .collect::<Result<_, _>>()?;
        settings.exclude = lint.exclude;
        settings.fail_on = lint.fail_on.map(|s| s.parse()).transpose()?;
        if let Some(size) = lint.max_file_size {
            settings.max_file_size = size;
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_recipient_rules_table() {
        let s = Settings::parse(
            "[lint]\ndisable=[\"SL010\"]\n[seal]\ncontroller-namespace=\"ops\"\n[[seal.rules]]\npath=\"prod/**\"\nrecipients=[\"keys/prod.pub\"]\n",
        )
        .unwrap();
        assert!(!s.is_enabled(Code::SL010));
        assert!(
            Settings::parse("[sael]\nx=1\n").is_err(),
            "other tables stay typos"
        );
    }

    #[test]
    fn parses_every_field() {
        let s = Settings::parse(
            "[lint]\ndisable=[\"SL010\"]\nextra-names=[\"PIN\"]\nplaceholders=[\"^dev-\"]\nexclude=[\"vendor/\"]\nfail-on=\"medium\"\n",
        );
        let s = match s {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert!(!s.is_enabled(Code::SL010));
        assert!(s.is_enabled(Code::SL001));
        assert_eq!(s.extra_names, ["pin"]);
        assert_eq!(s.fail_on, Some(Severity::Medium));
        assert!(!s.values.is_literal_secret("dev-123456"));
    }

    #[test]
    fn rejects_unknown_rules_and_fields() {
        assert!(Settings::parse("[lint]\ndisable=[\"SL999\"]\n").is_err());
        assert!(Settings::parse("[lint]\nfoo=1\n").is_err());
        assert!(Settings::parse("[lint]\nplaceholders=[\"(\"]\n").is_err());
        let only =
            Settings::parse("[lint]\nenable=[\"SL002\"]\n").map(|s| s.is_enabled(Code::SL001));
        assert_eq!(only, Ok(false));
    }
}
