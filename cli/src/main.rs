//! The `sealant` command line (work in progress: subcommands are wired as they land).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod lint_cmd;

#[derive(Parser)]
#[command(name = "sealant", version, about = "Seal Kubernetes Secrets and lint repositories")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan files for plaintext credentials.
    Lint(lint_cmd::LintArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lint(args) => ExitCode::from(lint_cmd::run(args)),
    }
}
