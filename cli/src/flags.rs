//! Flags that mean the same thing in every subcommand, following kubectl where a kubectl user
//! would expect it:
//!
//! | flag | meaning |
//! | --- | --- |
//! | `-f, --filename FILE` | an input file (repeatable; `-` is stdin) |
//! | `-o, --output FORMAT` | the output *format* (`yaml`, `json`, ...), never a file |
//! | `-w, --write FILE` | write the result to FILE (atomically) instead of standard output |
//! | `-n, --namespace NS` | the namespace for objects whose manifest has none |
//!
//! Subcommands flatten [`OutputFile`] and [`InputFiles`] so the spelling and help text stay one.
//! Old spellings that meant something else keep working for a while through [`deprecated`].

use std::path::{Path, PathBuf};

use crate::error::{CliError, CliResult};
use crate::io;

/// `-w, --write FILE`: where a command writes its result instead of standard output.
#[derive(clap::Args, Clone, Default)]
pub struct OutputFile {
    /// Write the output to FILE (atomically: a temporary file, synced, renamed, directory synced)
    /// instead of standard output.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
}

impl OutputFile {
    /// The file, if one was given.
    pub fn path(&self) -> Option<&Path> {
        self.write.as_deref()
    }

    /// Writes `text` to the file (keeping an existing file's mode; new files 0644), or stdout.
    pub fn emit(&self, text: &str) -> CliResult<()> {
        io::emit(self.path(), text)
    }

    /// Writes secret `text` to the file with mode 0600, or to stdout.
    pub fn emit_private(&self, text: &str) -> CliResult<()> {
        match self.path() {
            Some(path) => io::write_atomic(path, text.as_bytes(), true, true),
            None => io::emit(None, text),
        }
    }
}

/// Input files, kubectl style (`-f FILE`, repeatable) or as plain arguments.
#[derive(clap::Args, Clone, Default)]
pub struct InputFiles {
    /// SealedSecret files (also accepted as `-f FILE`).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A SealedSecret file, as kubectl's -f; repeatable.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    filenames: Vec<PathBuf>,
}

impl InputFiles {
    /// Every file given, `-f` ones first; an error when there is none.
    pub fn paths(&self) -> CliResult<Vec<PathBuf>> {
        let all: Vec<PathBuf> = self.filenames.iter().chain(&self.files).cloned().collect();
        if all.is_empty() {
            return Err(CliError::input("no input files").hint("pass -f FILE (or FILE...)"));
        }
        Ok(all)
    }
}

/// Notes on stderr that an old spelling still works but will go.
pub fn deprecated(old: &str, new: &str) {
    eprintln!("sealant: warning: {old} is deprecated and will be removed; use {new}");
}
