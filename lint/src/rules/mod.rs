//! The rules: one [`Rule`] per stable id, documented in fixed sections (What it does, Why is this
//! bad, Example, Use instead), registered in the one table [`RULES`].

pub use crate::codes::{Code, Rule};

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

impl Code {
    /// The rule registered for this id.
    pub fn rule(self) -> &'static Rule {
        // Invariant: RULES lists every Code in declaration order (checked by a test).
        &RULES[self as usize]
    }
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
        assert_eq!(RULES.len(), Code::ALL.len(), "every id has its rule");
        for (i, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.code as usize, i, "{} is out of order", rule.id);
            assert_eq!(format!("{:?}", rule.code), rule.id);
            assert_eq!(rule.code.as_str(), rule.id);
            assert_eq!(Code::ALL[i], rule.code);
            assert_eq!(rule.id.parse::<Code>(), Ok(rule.code));
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
