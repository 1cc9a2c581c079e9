//! The lint's vocabulary: rule ids ([`Code`]), severities and confidences, and what a rule is
//! ([`Rule`]). A leaf: rules, findings, configuration and analyzers all use it, and it imports
//! none of them (the registry of rules is [`crate::rules::RULES`]).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

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
    /// Every id, in order.
    pub const ALL: [Code; 11] = [
        Code::SL001,
        Code::SL002,
        Code::SL003,
        Code::SL004,
        Code::SL005,
        Code::SL006,
        Code::SL007,
        Code::SL008,
        Code::SL009,
        Code::SL010,
        Code::SL011,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::SL001 => "SL001",
            Code::SL002 => "SL002",
            Code::SL003 => "SL003",
            Code::SL004 => "SL004",
            Code::SL005 => "SL005",
            Code::SL006 => "SL006",
            Code::SL007 => "SL007",
            Code::SL008 => "SL008",
            Code::SL009 => "SL009",
            Code::SL010 => "SL010",
            Code::SL011 => "SL011",
        }
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
        Code::ALL
            .into_iter()
            .find(|c| c.as_str() == wanted)
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

/// How bad a leak of this kind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// How sure the rule is that the value is a real credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        })
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        })
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" | "any" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            other => Err(format!(
                "unknown severity `{other}` (expected low, medium or high)"
            )),
        }
    }
}
