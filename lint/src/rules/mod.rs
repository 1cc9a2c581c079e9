//! The rules: one [`Rule`] per stable id, documented in fixed sections (What it does, Why is this
//! bad, Example, Use instead), registered in the one table [`RULES`].

use std::fmt;
use std::str::FromStr;

use crate::finding::Severity;

mod sl001_plaintext_env_credential;
pub(crate) mod sl002_committed_secret;
mod sl003_configmap_credential;
mod sl004_known_token_format;
mod sl005_url_credential;
mod sl006_command_line_credential;
mod sl007_kustomize_secret_literal;
mod sl008_compose_dotenv_credential;
mod sl009_helm_values_credential;
mod sl010_config_file_credential;
mod sl011_annotation_credential;

/// A rule's stable id. Ids are never reused or renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    SL001,
    SL002,
    SL003,
    SL004,
    SL005,
    SL006,
    SL007,
    SL008,
    SL009,
    SL010,
    SL011,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        self.rule().id
    }

    /// The rule registered for this id.
    pub fn rule(self) -> &'static Rule {
        // Invariant: RULES lists every Code in declaration order (checked by a test).
        &RULES[self as usize]
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Code {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_uppercase();
        RULES
            .iter()
            .find(|r| r.id == wanted)
            .map(|r| r.code)
            .ok_or_else(|| {
                format!(
                    "unknown rule `{}` (see `sealant lint --list-rules`)",
                    s.trim()
                )
            })
    }
}

/// A lint rule: stable id, short name, default severity and its documentation.
#[derive(Debug)]
pub struct Rule {
    pub code: Code,
    pub id: &'static str,
    /// kebab-case name, also SARIF `name`.
    pub name: &'static str,
    /// One line, shown by `--list-rules` and as SARIF `shortDescription`.
    pub summary: &'static str,
    pub severity: Severity,
    /// Markdown with the sections `## What it does`, `## Why is this bad`, `## Example`,
    /// `## Use instead`.
    pub doc: &'static str,
}

/// Every rule, in id order: each rule lives in its own module, with its documentation.
pub static RULES: [Rule; 11] = [
    sl001_plaintext_env_credential::RULE,
    sl002_committed_secret::RULE,
    sl003_configmap_credential::RULE,
    sl004_known_token_format::RULE,
    sl005_url_credential::RULE,
    sl006_command_line_credential::RULE,
    sl007_kustomize_secret_literal::RULE,
    sl008_compose_dotenv_credential::RULE,
    sl009_helm_values_credential::RULE,
    sl010_config_file_credential::RULE,
    sl011_annotation_credential::RULE,
];

/// The four documentation sections every rule must have, in order.
pub const DOC_SECTIONS: [&str; 4] = [
    "## What it does",
    "## Why is this bad",
    "## Example",
    "## Use instead",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_in_code_order_and_documented() {
        for (i, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.code as usize, i, "{} is out of order", rule.id);
            assert_eq!(format!("{:?}", rule.code), rule.id);
            let mut at = 0;
            for section in DOC_SECTIONS {
                let found = rule.doc[at..].find(section);
                assert!(found.is_some(), "{} lacks `{section}` (in order)", rule.id);
                at += found.unwrap_or(0) + section.len();
            }
            assert!(
                rule.doc.contains("```"),
                "{} doc has no example block",
                rule.id
            );
        }
    }

    #[test]
    fn codes_parse_case_insensitively() {
        assert_eq!("sl004".parse::<Code>(), Ok(Code::SL004));
        assert!("SL999".parse::<Code>().is_err());
    }
}
