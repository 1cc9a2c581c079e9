//! Reading inputs (files or stdin, multi-document YAML or JSON, `kind: List`), loading keys,
//! and writing outputs atomically.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sealant_core::input;
use sealant_core::key_secret::{self, PRIVATE_KEY_DATA};
use sealant_core::keys::is_key_line;
use sealant_core::{PrivateKey, PublicKey};
use serde::Deserialize;
use serde_yaml::Value;
use zeroize::Zeroizing;

use crate::error::{CliError, CliResult};

/// The name used for standard input in messages.
pub const STDIN: &str = "<stdin>";

/// One input: a file's path (or `<stdin>`) and its text.
pub struct Source {
    pub name: String,
    pub text: String,
}

/// One document of an input, with where it came from for messages.
pub struct Doc {
    /// `file: document 2` or `file: document 1, item 3`.
    pub place: String,
    pub value: Value,
}

impl Doc {
    /// The document's `kind`, or `""`.
    pub fn kind(&self) -> &str {
        self.value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The place and kind, as errors name them: `file: document 2 (kind ConfigMap)`.
    pub fn context(&self) -> String {
        match self.kind() {
            "" => format!("{} (no kind)", self.place),
            kind => format!("{} (kind {kind})", self.place),
        }
    }
}

/// Reads the given files, or standard input when there are none (`-` also means stdin).
pub fn read_sources(files: &[PathBuf]) -> CliResult<Vec<Source>> {
    if files.is_empty() {
        return Ok(vec![read_stdin()?]);
    }
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                read_stdin()
            } else {
                read_file(path)
            }
        })
        .collect()
}

fn read_stdin() -> CliResult<Source> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::input(format!("{STDIN}: cannot read: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::input(format!("{STDIN}: not valid UTF-8 text")))?;
    Ok(Source {
        name: STDIN.to_string(),
        text,
    })
}

/// Reads a UTF-8 text file, naming it in errors.
pub fn read_file(path: &Path) -> CliResult<Source> {
    let name = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| CliError::input(format!("{name}: cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        CliError::input(format!(
            "{name}: not valid UTF-8 text (is it a binary file?)"
        ))
    })?;
    Ok(Source { name, text })
}

/// Every document of a YAML (or JSON) stream, empty ones as `Null`, read through the bounded
/// reader of `sealant_core::input`: a file nested too deeply, with aliases that expand too far or
/// too large is refused in one line naming the file, the document and the bound, before any
/// parser spends time on it.
pub fn yaml_values(source: &Source) -> CliResult<Vec<Value>> {
    input::yaml_documents(&source.name, &source.text).map_err(|e| CliError::input(e.to_string()))
}

/// Splits a source into documents: YAML (or JSON) streams, with `kind: List` expanded into its
/// items. Empty documents are skipped.
pub fn documents(source: &Source) -> CliResult<Vec<Doc>> {
    let mut docs = Vec::new();
    for (i, value) in yaml_values(source)?.into_iter().enumerate() {
        let place = format!("{}: document {}", source.name, i + 1);
        if value.is_null() {
            continue;
        }
        if !value.is_mapping() {
            return Err(CliError::input(format!(
                "{place}: expected a Kubernetes object (a mapping)"
            )));
        }
        let is_list = value
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k == "List" || k.ends_with("List"));
        if is_list {
            let items = match value.get("items") {
                Some(Value::Sequence(items)) => items.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(_) => {
                    return Err(CliError::input(format!(
                        "{place} (kind List): items: expected a list"
                    )));
                }
            };
            for (j, item) in items.into_iter().enumerate() {
                docs.push(Doc {
                    place: format!("{place}, item {}", j + 1),
                    value: item,
                });
            }
        } else {
            docs.push(Doc { place, value });
        }
    }
    Ok(docs)
}

/// Reads every document of every source.
pub fn read_documents(files: &[PathBuf]) -> CliResult<Vec<Doc>> {
    let mut docs = Vec::new();
    for source in read_sources(files)? {
        docs.extend(documents(&source)?);
    }
    Ok(docs)
}

/// Loads a public key given as the `sealant-pub-v1:`/`sealant-pub-pq1:` line itself, as a file
/// holding it, or as an `https://` URL serving it.
pub fn load_public_key(arg: &str) -> CliResult<PublicKey> {
    // ASCII whitespace only, as key files are read (docs/FORMAT.md §3.3): a no-break space or a
    // line separator around a key line is not whitespace, so such an argument is no key line.
    let trimmed = arg.trim_ascii();
    if trimmed.starts_with("https://") || trimmed.starts_with("http://") {
        return crate::fetch::public_key_from_url(trimmed);
    }
    if is_key_line(trimmed) {
        return trimmed
            .parse()
            .map_err(|e| CliError::input(format!("--public-key: {e}")));
    }
    let source = read_file(Path::new(arg)).map_err(|e| e.context("--public-key"))?;
    PublicKey::from_file_text(&source.text)
        .map_err(|e| CliError::input(format!("--public-key {}: {e}", source.name)))
}

/// Loads private keys from a key file written by `sealant keygen`, or from the YAML of key
/// Secrets that `kubectl get secret -l sealant.dev/sealing-key -o yaml` prints (one Secret or a
/// List).
pub fn load_private_keys(path: &Path) -> CliResult<Vec<PrivateKey>> {
    let source = read_file(path).map_err(|e| e.context("--private-key"))?;
    let text = Zeroizing::new(source.text);
    let name = &source.name;
    if text.lines().any(is_key_line) {
        let key = PrivateKey::from_file_text(&text)
            .map_err(|e| CliError::input(format!("--private-key {name}: {e}")))?;
        return Ok(vec![key]);
    }
    // A file that is neither a key file nor YAML holding a mapping (`hello`, a key line with a
    // lower-case prefix, a byte-order mark, CR-only line ends) gets the key file reader's error
    // below, as docs/FORMAT.md §3.4 states it, not a YAML one.
    let yaml_objects = serde_yaml::Deserializer::from_str(&text)
        .any(|de| Value::deserialize(de).is_ok_and(|v| v.is_mapping()));
    let docs = if yaml_objects {
        documents(&Source {
            name: name.clone(),
            text: text.to_string(),
        })
        .map_err(|e| e.context("--private-key"))?
    } else {
        Vec::new()
    };
    let mut keys = Vec::new();
    for doc in &docs {
        let ctx = doc.context();
        if doc.kind() != "Secret" {
            return Err(CliError::input(format!(
                "--private-key {ctx}: expected a sealant key file or key Secrets, found kind '{}'",
                doc.kind()
            )));
        }
        let encoded = doc
            .value
            .get("data")
            .and_then(|d| d.get(PRIVATE_KEY_DATA))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                CliError::input(format!(
                    "--private-key {ctx}: data.{PRIVATE_KEY_DATA}: missing"
                ))
            })?;
        let decoded = Zeroizing::new(base64_decode(encoded).map_err(|_| {
            CliError::input(format!(
                "--private-key {ctx}: data.{PRIVATE_KEY_DATA}: invalid base64"
            ))
        })?);
        let key = key_secret::private_key_of(&decoded)
            .map_err(|e| CliError::input(format!("--private-key {ctx}: {e}")))?;
        keys.push(key);
    }
    if keys.is_empty() {
        // No key line and no YAML document (blank or comments only): the key file reader's
        // error, as docs/FORMAT.md §3.4 states it.
        let err = PrivateKey::from_file_text(&text)
            .err()
            .map_or_else(|| "no key found".to_string(), |e| e.to_string());
        return Err(CliError::input(format!("--private-key {name}: {err}")));
    }
    Ok(keys)
}

/// Decodes standard padded base64, as Kubernetes writes `data` values.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text)
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, flushed and
/// synced, then renamed over the target, then the directory synced so the rename itself survives
/// a crash. Readers see the old file or the new one, never half. Every file the CLI writes goes
/// through here.
pub fn write_atomic(path: &Path, contents: &[u8], private: bool, overwrite: bool) -> CliResult<()> {
    write_atomic_with(path, private, overwrite, |out| {
        out.write_all(contents)
            .map_err(|e| CliError::input(format!("{}: cannot write: {e}", path.display())))
    })
}

/// [`write_atomic`] for output produced piece by piece: `fill` writes into the (buffered)
/// temporary file; the target is replaced only if it succeeds.
pub fn write_atomic_with(
    path: &Path,
    private: bool,
    overwrite: bool,
    fill: impl FnOnce(&mut dyn Write) -> CliResult<()>,
) -> CliResult<()> {
    let name = path.display().to_string();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let io_err = |e: std::io::Error| CliError::input(format!("{name}: cannot write: {e}"));
    // A device, FIFO or socket (`-w /dev/null`, `-w /dev/stdout`) is written to, never replaced:
    // renaming a file over /dev/null would turn it into a regular file for every program.
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err)?;
        let mut buffered = std::io::BufWriter::new(file);
        fill(&mut buffered)?;
        return buffered.flush().map_err(io_err);
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(".sealant-");
    #[cfg(unix)]
    {
        // An existing file keeps its mode; new files get 0600 (keys) or 0644.
        let mode = std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions())
            .filter(|_| !private);
        builder.permissions(mode.unwrap_or_else(|| file_permissions(private)));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io_err)?;
    {
        let mut buffered = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut buffered)?;
        buffered.flush().map_err(io_err)?;
    }
    tmp.as_file().sync_all().map_err(io_err)?;
    if overwrite {
        tmp.persist(path).map_err(|e| io_err(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                CliError::input(format!("{name}: already exists"))
                    .hint("pass --force to overwrite it")
            } else {
                io_err(e.error)
            }
        })?;
    }
    sync_dir(dir).map_err(|e| {
        CliError::input(format!(
            "{name}: written, but syncing its directory failed: {e}"
        ))
    })
}

/// Makes a rename in `dir` durable (a no-op where directories cannot be opened, as on Windows).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
    Ok(())
}

#[cfg(unix)]
fn file_permissions(private: bool) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(if private { 0o600 } else { 0o644 })
}

/// Writes to `-w FILE` atomically, or to stdout.
pub fn emit(output: Option<&Path>, text: &str) -> CliResult<()> {
    match output {
        Some(path) => write_atomic(path, text.as_bytes(), false, true),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| CliError::input(format!("cannot write to standard output: {e}")))
        }
    }
}
