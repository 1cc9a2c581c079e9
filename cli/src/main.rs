//! `sealant`: seal Kubernetes Secrets with a cluster's public key into SealedSecrets that are
//! safe to commit, check and re-seal them offline, recover them from backed-up keys, and lint
//! repositories for plaintext credentials.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cluster;
mod cmd;
mod error;
mod fetch;
mod flags;
mod io;
mod manifest;
#[cfg(feature = "migrate")]
mod migrate;
mod report;
mod runtime;
mod secret_input;
mod trust;
mod yaml_edit;

use crate::error::CliError;

const AFTER_HELP: &str = "\
Examples:
  $ sealant keygen --out-dir keys
  $ kubectl create secret generic db-creds --from-literal=password=s3cr3t --dry-run=client -o yaml \\
      | sealant seal --public-key keys/sealant.pub > db-creds.sealed.yaml
  $ sealant verify --public-key keys/sealant.pub db-creds.sealed.yaml
  $ sealant recover --private-key keys/sealant.key db-creds.sealed.yaml
  $ sealant lint .

Exit codes:
  0  success
  1  a check failed (verify found a mismatch, lint found credentials)
  2  usage or input error (bad flags, unreadable or invalid input, cluster unreachable)";

/// Seal Kubernetes Secrets into SealedSecrets that are safe to commit.
#[derive(Parser)]
#[command(name = "sealant", version, about, after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    kube: cluster::KubeArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Seal Secrets (YAML or JSON, files or stdin) into SealedSecrets.
    #[command(after_help = cmd::seal::AFTER_HELP)]
    Seal(cmd::seal::SealArgs),
    /// Seal the keys of a Secret into an existing SealedSecret file, in place.
    #[command(after_help = cmd::merge_into::MERGE_AFTER_HELP)]
    MergeInto(cmd::merge_into::MergeArgs),
    /// Check SealedSecrets offline: every value parses, fits where it sits, and is sealed for the given keys.
    #[command(after_help = cmd::verify::AFTER_HELP)]
    Verify(cmd::verify::VerifyArgs),
    /// Re-seal SealedSecrets to new public keys, in place.
    #[command(after_help = cmd::reencrypt::REENCRYPT_AFTER_HELP)]
    Reencrypt(cmd::reencrypt::ReencryptArgs),
    /// Open SealedSecrets with backed-up private keys and print the Secrets (disaster recovery).
    #[command(after_help = cmd::recover::RECOVER_AFTER_HELP)]
    Recover(cmd::recover::RecoverArgs),
    /// Generate a key pair offline (for tests, offline use, or bringing your own key).
    #[command(after_help = cmd::keygen::KEYGEN_AFTER_HELP)]
    Keygen(cmd::keygen::KeygenArgs),
    /// Fetch the controller's current public key from the cluster.
    #[command(after_help = cmd::fetch_key::FETCH_AFTER_HELP)]
    FetchKey(cmd::fetch_key::FetchKeyArgs),
    /// Back up and restore the controller's private keys (without plaintext copies).
    Keys(cmd::keys::KeysArgs),
    /// Move bitnami SealedSecrets to sealant, offline, with the bitnami key backup.
    #[cfg(feature = "migrate")]
    #[command(after_help = cmd::migrate::AFTER_HELP)]
    Migrate(cmd::migrate::MigrateArgs),
    /// Serve a local page that seals Secrets in the browser, with these public keys.
    #[command(after_help = cmd::web::AFTER_HELP)]
    Web(cmd::web::WebArgs),
    /// Scan files for plaintext credentials.
    Lint(cmd::lint::LintArgs),
    /// Scan the cluster's live workloads, ConfigMaps and Secrets for plaintext credentials.
    Audit(cmd::audit::AuditArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        alias = "completions",
        after_help = "Examples:\n  $ sealant completion bash > /etc/bash_completion.d/sealant\n  $ sealant completion zsh > \"${fpath[1]}/_sealant\"\n  $ sealant completion fish > ~/.config/fish/completions/sealant.fish"
    )]
    Completion {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Seal(args) => cmd::seal::seal(&cli.kube, args),
        Command::MergeInto(args) => cmd::merge_into::merge_into(&cli.kube, args),
        Command::Verify(args) => cmd::verify::verify(&cli.kube, args),
        Command::Reencrypt(args) => cmd::reencrypt::reencrypt(&cli.kube, args),
        Command::Recover(args) => cmd::recover::recover(&cli.kube, args),
        Command::Keygen(args) => cmd::keygen::keygen(args),
        Command::FetchKey(args) => cmd::fetch_key::fetch_key(&cli.kube, args),
        Command::Keys(args) => cmd::keys::keys(&cli.kube, args),
        Command::Web(args) => cmd::web::web(&cli.kube, args),
        #[cfg(feature = "migrate")]
        Command::Migrate(args) => cmd::migrate::migrate(args),
        Command::Lint(args) if args.cluster => match cmd::lint::as_audit(&args) {
            Ok(audit) => return audit_exit(&cli.kube, audit),
            Err(error) => Err(error),
        },
        Command::Lint(args) => return ExitCode::from(cmd::lint::run(args)),
        Command::Audit(args) => return audit_exit(&cli.kube, args),
        Command::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "sealant",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

/// `sealant audit`'s exit code: 0 clean, 1 findings, 2 (or the error's own code) on errors.
fn audit_exit(kube: &cluster::KubeArgs, args: cmd::audit::AuditArgs) -> ExitCode {
    match cmd::audit::audit(kube, args) {
        Ok(code) => ExitCode::from(code),
        Err(error) => report(&error),
    }
}

/// Prints an error once, with its hint, and returns its exit code.
fn report(error: &CliError) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "sealant: error: {error}");
    if let Some(hint) = error.hint_text() {
        let _ = writeln!(stderr, "  hint: {hint}");
    }
    ExitCode::from(error.exit())
}
