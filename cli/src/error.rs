//! The CLI's error: one line saying what went wrong and where, an optional line saying what to
//! do next, and the exit code (documented in `--help` and README).

use std::fmt;

use std::process::ExitCode;

/// How a `sealant` command ended: the one exit-code type of every subcommand (the lint's
/// findings are [`Exit::Failed`]). Documented in `--help` and README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success,
    /// 1: a check failed (verify found a mismatch, lint found credentials).
    Failed,
    /// 2: a usage or input error (bad flags, unreadable or invalid files, cluster errors).
    Error,
}

impl Exit {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Error => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// An error the `sealant` command reports to its user.
#[derive(Debug)]
pub struct CliError {
    message: String,
    hint: Option<String>,
    exit: Exit,
}

impl CliError {
    /// A usage or input error (exit 2).
    pub fn input(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            hint: None,
            exit: Exit::Error,
        }
    }

    /// A failed check (exit 1).
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            hint: None,
            exit: Exit::Failed,
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

    /// How the process ends: [`Exit::Failed`] or [`Exit::Error`], never success.
    pub fn exit(&self) -> Exit {
        self.exit
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
