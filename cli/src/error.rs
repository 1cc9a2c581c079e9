//! The CLI's error: one line saying what went wrong and where, an optional line saying what to
//! do next, and the exit code (documented in `--help` and README).

use std::fmt;

/// Exit code when a check failed (verify found a mismatch, lint found credentials).
pub const EXIT_FAILED: u8 = 1;
/// Exit code for usage and input errors (bad flags, unreadable or invalid files, cluster errors).
pub const EXIT_ERROR: u8 = 2;

/// An error the `sealant` command reports to its user.
#[derive(Debug)]
pub struct CliError {
    message: String,
    hint: Option<String>,
    code: u8,
}

impl CliError {
    /// A usage or input error (exit 2).
    pub fn input(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            hint: None,
            code: EXIT_ERROR,
        }
    }

    /// A failed check (exit 1).
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            hint: None,
            code: EXIT_FAILED,
        }
    }

    /// Adds the line that says what to do next.
    pub fn hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with where it happened (`file: document 2 (kind Secret)`).
    pub fn context(mut self, context: &str) -> CliError {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The process exit code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The hint line, if any.
    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// The result type of every command.
pub type CliResult<T> = Result<T, CliError>;
