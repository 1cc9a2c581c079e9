//! How `sealant lint` and `sealant audit` report findings: the `-o` format, `--redact` and
//! `--fail-on`, and whether a report fails. Both subcommands use it; it uses neither.

use clap::ValueEnum;
use sealant_lint::{Format, Redaction, Report, Settings, Severity};

/// `-o FORMAT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `path:line:col: SL001 [high] message (value: ********)`.
    Text,
    /// One JSON document with findings, diagnostics and a summary.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other dashboards.
    Sarif,
}

/// `--redact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RedactMode {
    /// `********`, or `gh********` for values of 24 characters or more.
    Partial,
    /// `********` for every value.
    Full,
}

/// `--fail-on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
}

impl OutputFormat {
    /// The lint crate's renderer for this format.
    pub fn format(self) -> Format {
        match self {
            OutputFormat::Text => Format::Text,
            OutputFormat::Json => Format::Json,
            OutputFormat::Sarif => Format::Sarif,
        }
    }
}

impl RedactMode {
    pub fn redaction(self) -> Redaction {
        match self {
            RedactMode::Partial => Redaction::Partial,
            RedactMode::Full => Redaction::Full,
        }
    }
}

/// Whether any finding is at or above `--fail-on`, else the configuration's `fail-on`, else low.
pub fn failing(report: &Report, flag: Option<FailOn>, settings: &Settings) -> bool {
    let fail_on = match flag {
        Some(FailOn::Low) => Severity::Low,
        Some(FailOn::Medium) => Severity::Medium,
        Some(FailOn::High) => Severity::High,
        None => settings.fail_on.unwrap_or(Severity::Low),
    };
    report.findings.iter().any(|f| f.severity >= fail_on)
}
