//! `sealant keygen`: make a key pair offline.

use std::path::{Path, PathBuf};

use sealant_core::PrivateKey;
use sealant_core::keys::KeyType;

use crate::error::{CliError, CliResult};
use crate::io;

pub const KEYGEN_AFTER_HELP: &str = "\
Examples:
  $ sealant keygen --out-dir keys
  $ sealant keygen --out-dir keys --name staging --force
  $ sealant keygen --out-dir keys --name prod-pq --pq

Writes DIR/NAME.key (the private key, mode 0600: keep it secret, back it up offline, and keep it
out of every git repository: keygen warns when DIR is inside one) and
DIR/NAME.pub (the public key line to seal with), and prints the key id. With --pq the pair is a
post-quantum hybrid (X-Wing: ML-KEM-768 + X25519), so values sealed to it stay secret even if
X25519 is broken later; its public key line (sealant-pub-pq1:) is 1643 characters, and each value
sealed to it is about 1.5 KB longer than with an X25519 key.";

/// Arguments of `sealant keygen`.
#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Directory to write NAME.key and NAME.pub into (created if missing).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Base name of the two files.
    #[arg(long, default_value = "sealant")]
    name: String,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
    /// Make a post-quantum hybrid key pair (X-Wing: ML-KEM-768 + X25519) instead of X25519.
    #[arg(long)]
    pq: bool,
}

/// Generates a key pair and writes it.
pub fn keygen(args: KeygenArgs) -> CliResult<()> {
    if args.name.is_empty() || args.name.contains(['/', '\\']) || args.name.starts_with('.') {
        return Err(CliError::input(format!(
            "--name '{}': expected a plain file name",
            args.name
        )));
    }
    std::fs::create_dir_all(&args.out_dir).map_err(|e| {
        CliError::input(format!(
            "{}: cannot create directory: {e}",
            args.out_dir.display()
        ))
    })?;
    let key_path = args.out_dir.join(format!("{}.key", args.name));
    let pub_path = args.out_dir.join(format!("{}.pub", args.name));
    if !args.force {
        for path in [&key_path, &pub_path] {
            if path.exists() {
                return Err(
                    CliError::input(format!("{}: already exists", path.display()))
                        .hint("pass --force to overwrite it, or choose another --name"),
                );
            }
        }
    }
    let key_type = if args.pq {
        KeyType::XWing
    } else {
        KeyType::X25519
    };
    let key = PrivateKey::generate_with(key_type)
        .map_err(|e| CliError::input(format!("cannot generate a key: {e}")))?;
    io::write_atomic(&key_path, key.to_file_text().as_bytes(), true, args.force)?;
    io::write_atomic(
        &pub_path,
        format!("{}\n", key.public()).as_bytes(),
        false,
        args.force,
    )?;
    println!("key id: {}", key.id());
    println!("public key: {}", key.public());
    println!(
        "wrote {} (private, mode 0600: keep it secret, outside any git repository) and {}",
        key_path.display(),
        pub_path.display()
    );
    if let Some(repository) = enclosing_repository(&args.out_dir) {
        eprintln!(
            "sealant: warning: the private key {} is inside the git repository {}: never commit \
             it (sealant lint reports it); move it out, e.g. to ~/.sealant, or add it to .gitignore",
            key_path.display(),
            repository.display()
        );
    }
    Ok(())
}

/// The git work tree that holds `dir`, if any (a `.git` folder or file in it or a parent).
fn enclosing_repository(dir: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}
