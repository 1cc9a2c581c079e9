//! Which keys the user trusts: the one place where the CLI decides what it seals to and what a
//! sealed file's recipients must be. Trusted keys come from `--public-key`, from the repository's
//! recipient rules (the `[seal]` table of the nearest `.sealant.toml`), or from the controller the
//! user configured. Never from a sealed file: its `spec.recipients` and stanzas are written by
//! whoever opened the pull request, so they are only ever *compared* with the trusted set.
//!
//! ```toml
//! [seal]
//! controller-namespace = "sealant-system"      # where discovery looks (and only there)
//! controller-fingerprints = ["3f2a9c0d4e5b6a71"] # the key ids discovery accepts
//!
//! [[seal.rules]]
//! path = "clusters/prod/**"                    # glob, relative to this file's folder
//! recipients = ["keys/prod.pub", "https://keys.example.com/dr.pub", "9d8c7b6a5f4e3d2c"]
//! scope = "strict"                             # default scope for `seal`
//! require-post-quantum = true                  # every recipient must be X-Wing
//! ```

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use globset::{GlobBuilder, GlobMatcher};
use sealant_core::PublicKey;
use sealant_core::format::Scope;
use sealant_core::keys::{KeyId, KeyType};
use serde::Deserialize;

use crate::error::{CliError, CliResult};
use crate::io;

/// The file the rules live in (shared with the lint's `[lint]` table).
pub const CONFIG_FILE: &str = ".sealant.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    /// The lint's table: read by sealant-lint, accepted here.
    #[serde(default)]
    #[allow(dead_code)]
    lint: Option<toml::Table>,
    seal: Option<SealToml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct SealToml {
    controller_namespace: Option<String>,
    #[serde(default)]
    controller_fingerprints: Vec<String>,
    #[serde(default)]
    rules: Vec<RuleToml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RuleToml {
    path: String,
    recipients: Vec<String>,
    scope: Option<Scope>,
    controller_namespace: Option<String>,
    #[serde(default)]
    require_post_quantum: bool,
}

/// The `[seal]` table of one `.sealant.toml`.
pub struct Config {
    /// The `.sealant.toml` file, as messages name it.
    pub file: PathBuf,
    /// Its folder: rule paths and key files are relative to it.
    dir: PathBuf,
    pub controller_namespace: Option<String>,
    pub controller_fingerprints: Vec<KeyId>,
    rules: Vec<Rule>,
}

/// One `[[seal.rules]]` entry.
pub struct Rule {
    /// `.sealant.toml rule 2 (path "clusters/prod/**")`, as messages name it.
    pub name: String,
    matcher: GlobMatcher,
    recipients: Vec<Recipient>,
    pub scope: Option<Scope>,
    pub controller_namespace: Option<String>,
    pub require_post_quantum: bool,
    /// The recipients, loaded once (a URL is fetched once per run).
    loaded: OnceCell<Vec<TrustedKey>>,
}

/// A recipient as a rule names it.
enum Recipient {
    /// A key id only: the key itself comes from the controller (or `--public-key`) and must
    /// have this id.
    Fingerprint(KeyId),
    /// A key file (relative to the config's folder), a key line or an `https://` URL.
    Key(String),
}

/// A key the user trusts: its id always, the key itself unless a rule pins only a fingerprint.
#[derive(Clone)]
pub struct TrustedKey {
    pub id: KeyId,
    pub key: Option<PublicKey>,
    /// Where it came from (`--public-key prod.pub`, `keys/prod.pub`, `fingerprint`).
    pub from: String,
}

/// Where a trusted set came from.
#[derive(Clone)]
pub enum Origin {
    /// `--public-key`.
    Flags,
    /// A recipient rule (its name).
    Rule(String),
    /// The controller's key, found by discovery.
    Controller(String),
}

/// The keys a file's values must be sealed to, and where that set came from.
#[derive(Clone)]
pub struct TrustedSet {
    pub keys: Vec<TrustedKey>,
    pub origin: Origin,
    /// The rule (or `--require-post-quantum`) demands X-Wing recipients only.
    pub require_post_quantum: bool,
    /// The rule's default scope.
    pub scope: Option<Scope>,
    /// The controller namespace the rule or its file names.
    pub controller_namespace: Option<String>,
    pub controller_fingerprints: Vec<KeyId>,
}

impl TrustedSet {
    /// The trusted set of `--public-key` arguments.
    pub fn from_flags(args: &[String]) -> CliResult<TrustedSet> {
        let keys = args
            .iter()
            .map(|arg| {
                io::load_public_key(arg).map(|key| TrustedKey {
                    id: key.id(),
                    key: Some(key),
                    from: format!("--public-key {}", arg.trim_ascii()),
                })
            })
            .collect::<CliResult<_>>()?;
        Ok(TrustedSet {
            keys,
            origin: Origin::Flags,
            require_post_quantum: false,
            scope: None,
            controller_namespace: None,
            controller_fingerprints: Vec::new(),
        })
    }

    /// The set holding only the controller's key.
    pub fn from_controller(namespace: &str, key: PublicKey) -> TrustedSet {
        TrustedSet {
            keys: vec![TrustedKey {
                id: key.id(),
                key: Some(key),
                from: format!("the controller in namespace {namespace}"),
            }],
            origin: Origin::Controller(namespace.to_string()),
            require_post_quantum: false,
            scope: None,
            controller_namespace: Some(namespace.to_string()),
            controller_fingerprints: Vec::new(),
        }
    }

    /// `--public-key`, `.sealant.toml rule 1 (path "prod/**")` or `the controller's key`.
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::Flags => "--public-key".to_string(),
            Origin::Rule(name) => name.clone(),
            Origin::Controller(ns) => format!("the controller's key (namespace {ns})"),
        }
    }

    /// What to do when a file's recipients differ from this set on purpose.
    pub fn accept_hint(&self) -> String {
        match &self.origin {
            Origin::Flags => "if the change is intended, pass every key the file is meant for with --public-key; to remove a key from the file, re-seal it: sealant reencrypt --drop-other-recipients".to_string(),
            Origin::Rule(name) => format!(
                "if the change is intended, edit the recipients of {name} (reviewed like any code change), then re-seal the file: sealant reencrypt --private-key BACKUP FILE"
            ),
            Origin::Controller(_) => "if the file is meant for other clusters too, pass every key with --public-key or add a recipient rule to .sealant.toml (docs/recipient-rules.md)".to_string(),
        }
    }

    /// Compares recipients found in a file with the trusted set: `Err` names every extra and
    /// missing key by fingerprint (and a key listed twice). `what` is how the found keys are
    /// held: [`Found::Stanzas`] of a value or [`Found::Listed`] in `spec.recipients`.
    pub fn compare(&self, found: &[KeyId], allow_others: bool, what: Found) -> Result<(), String> {
        let mut problems = Vec::new();
        let extra: Vec<String> = found
            .iter()
            .filter(|id| !self.keys.iter().any(|k| k.id == **id))
            .map(ToString::to_string)
            .collect();
        let missing: Vec<String> = self
            .keys
            .iter()
            .filter(|k| !found.contains(&k.id))
            .map(|k| format!("{} ({})", k.id, k.from))
            .collect();
        let (missing_text, extra_text) = match what {
            Found::Stanzas => ("not sealed for trusted key", "also sealed to"),
            Found::Listed => ("does not list trusted key", "lists"),
        };
        if !missing.is_empty() {
            problems.push(format!("{missing_text} {}", missing.join(", ")));
        }
        if !allow_others && !extra.is_empty() {
            problems.push(format!(
                "{extra_text} key{} {}, not trusted by {}",
                if extra.len() == 1 { "" } else { "s" },
                extra.join(", "),
                self.describe(),
            ));
        }
        if problems.is_empty() {
            let mut sorted = found.to_vec();
            sorted.sort();
            sorted.dedup();
            if sorted.len() != found.len() {
                problems.push("a recipient appears twice".to_string());
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Whether every trusted key is post-quantum, when the set demands it.
    pub fn check_post_quantum(&self) -> CliResult<()> {
        if !self.require_post_quantum {
            return Ok(());
        }
        for key in &self.keys {
            if let Some(k) = &key.key
                && k.key_type() != KeyType::XWing
            {
                return Err(CliError::input(format!(
                    "{}: key {} ({}) is {}, but post-quantum (xwing) recipients are required",
                    self.describe(),
                    key.id,
                    key.from,
                    k.key_type()
                )));
            }
        }
        Ok(())
    }

    /// The keys to seal to. A key the rule names only by fingerprint is taken from `fetched`
    /// (the controller's key, fetched by the caller when needed) if its id matches.
    pub fn sealing_keys(&self, fetched: Option<&PublicKey>) -> CliResult<Vec<PublicKey>> {
        self.keys
            .iter()
            .map(|k| match (&k.key, fetched) {
                (Some(key), _) => Ok(key.clone()),
                (None, Some(key)) if key.id() == k.id => Ok(key.clone()),
                (None, Some(key)) => Err(CliError::failed(format!(
                    "{}: pins key {}, but the controller's key is {}: the cluster's key changed or this is another cluster",
                    self.describe(),
                    k.id,
                    key.id()
                ))
                .hint("if the controller rotated its key on purpose, update the fingerprint in .sealant.toml (a reviewed change); otherwise check --context")),
                (None, None) => Err(CliError::input(format!(
                    "{}: key {} is given by fingerprint only, so there is nothing to seal to",
                    self.describe(),
                    k.id
                ))
                .hint("make the controller reachable (its key must have that fingerprint), or list the key file in the rule")),
            })
            .collect()
    }

    /// Whether sealing needs the controller's key (a rule names a key by fingerprint only).
    pub fn needs_controller(&self) -> bool {
        self.keys.iter().any(|k| k.key.is_none())
    }
}

/// How recipients found in a file are held, for [`TrustedSet::compare`]'s wording.
#[derive(Clone, Copy)]
pub enum Found {
    /// The stanzas of a sealed value.
    Stanzas,
    /// The lines of `spec.recipients`.
    Listed,
}

/// The recipient rules of every `.sealant.toml` met so far, by folder.
#[derive(Default)]
pub struct Rules {
    /// For each folder looked at: the config that applies there (or none).
    by_dir: HashMap<PathBuf, Option<Rc<Config>>>,
}

impl Rules {
    /// The trusted set for `file`: `--public-key` if given, else the first rule of the nearest
    /// `.sealant.toml` (with a `[seal]` table) whose path matches. `None` when neither applies.
    pub fn trusted_for(
        &mut self,
        file: Option<&Path>,
        flags: &[String],
    ) -> CliResult<Option<TrustedSet>> {
        let config = match file {
            Some(file) => self.config_for(file)?,
            None => self.config_for(Path::new(CONFIG_FILE))?,
        };
        if !flags.is_empty() {
            let mut set = TrustedSet::from_flags(flags)?;
            if let Some(config) = &config {
                set.controller_namespace = config.controller_namespace.clone();
                set.controller_fingerprints = config.controller_fingerprints.clone();
            }
            return Ok(Some(set));
        }
        let (Some(config), Some(file)) = (config, file) else {
            return Ok(None);
        };
        let absolute = std::path::absolute(file)
            .map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
        let Ok(relative) = absolute.strip_prefix(&config.dir) else {
            return Ok(None);
        };
        let Some(rule) = config.rules.iter().find(|r| r.matcher.is_match(relative)) else {
            return Ok(None);
        };
        let keys = match rule.loaded.get() {
            Some(keys) => keys.clone(),
            None => {
                let keys = load_rule(rule, &config.dir)?;
                rule.loaded.get_or_init(|| keys).clone()
            }
        };
        Ok(Some(TrustedSet {
            keys,
            origin: Origin::Rule(rule.name.clone()),
            require_post_quantum: rule.require_post_quantum,
            scope: rule.scope,
            controller_namespace: rule
                .controller_namespace
                .clone()
                .or_else(|| config.controller_namespace.clone()),
            controller_fingerprints: config.controller_fingerprints.clone(),
        }))
    }

    /// The `[seal]` settings that apply in the current folder (controller namespace and pinned
    /// fingerprints for discovery), if any.
    pub fn here(&mut self) -> CliResult<Option<Rc<Config>>> {
        self.config_for(Path::new(CONFIG_FILE))
    }

    /// The nearest `.sealant.toml` with a `[seal]` table, walking up from `file`'s folder and
    /// stopping at the repository root (a folder holding `.git`) or the filesystem root.
    fn config_for(&mut self, file: &Path) -> CliResult<Option<Rc<Config>>> {
        let absolute = std::path::absolute(file)
            .map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
        let mut visited = Vec::new();
        let mut dir = absolute.parent().map(Path::to_path_buf);
        let mut found = None;
        while let Some(d) = dir {
            if let Some(known) = self.by_dir.get(&d) {
                found = known.clone();
                break;
            }
            visited.push(d.clone());
            let candidate = d.join(CONFIG_FILE);
            if candidate.is_file()
                && let Some(config) = load_config(&candidate, &d)?
            {
                found = Some(Rc::new(config));
                break;
            }
            if d.join(".git").exists() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        for d in visited {
            self.by_dir.insert(d, found.clone());
        }
        Ok(found)
    }
}

/// Reads one `.sealant.toml`; `None` when it has no `[seal]` table (a lint-only file).
fn load_config(path: &Path, dir: &Path) -> CliResult<Option<Config>> {
    // Named relative to the working folder when it lies below it, as users type paths.
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::input(format!("{shown}: cannot read: {e}")))?;
    let file: FileToml = toml::from_str(&text).map_err(|e| {
        CliError::input(format!("{shown}: {}", e.message().trim_end()))
            .hint("the recipient rules are described in docs/recipient-rules.md")
    })?;
    let Some(seal) = file.seal else {
        return Ok(None);
    };
    let fingerprint = |ctx: &str, text: &str| {
        text.parse::<KeyId>().map_err(|_| {
            CliError::input(format!(
                "{shown}: {ctx}: '{text}' is not a key fingerprint (16 lower-case hex digits, as `sealant fetch-key` prints)"
            ))
        })
    };
    let controller_fingerprints = seal
        .controller_fingerprints
        .iter()
        .map(|f| fingerprint("seal.controller-fingerprints", f))
        .collect::<CliResult<_>>()?;
    let mut rules = Vec::with_capacity(seal.rules.len());
    for (i, rule) in seal.rules.into_iter().enumerate() {
        let ctx = format!("seal.rules[{i}]");
        let matcher = GlobBuilder::new(&rule.path)
            .literal_separator(true)
            .build()
            .map_err(|e| CliError::input(format!("{shown}: {ctx}.path: {e}")))?
            .compile_matcher();
        if rule.recipients.is_empty() {
            return Err(CliError::input(format!(
                "{shown}: {ctx}.recipients: empty; a rule must name at least one key"
            )));
        }
        let recipients = rule
            .recipients
            .iter()
            .map(|r| {
                let r = r.trim_ascii();
                if r.len() == 2 * sealant_core::keys::KEY_ID_LEN
                    && r.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    fingerprint(&format!("{ctx}.recipients"), r).map(Recipient::Fingerprint)
                } else {
                    Ok(Recipient::Key(r.to_string()))
                }
            })
            .collect::<CliResult<_>>()?;
        rules.push(Rule {
            name: format!("{shown} rule {} (path \"{}\")", i + 1, rule.path),
            matcher,
            recipients,
            scope: rule.scope,
            controller_namespace: rule.controller_namespace,
            require_post_quantum: rule.require_post_quantum,
            loaded: OnceCell::new(),
        });
    }
    Ok(Some(Config {
        file: PathBuf::from(&shown),
        dir: dir.to_path_buf(),
        controller_namespace: seal.controller_namespace,
        controller_fingerprints,
        rules,
    }))
}

/// Loads a rule's keys: key files relative to the config's folder, key lines, URLs.
fn load_rule(rule: &Rule, dir: &Path) -> CliResult<Vec<TrustedKey>> {
    let mut keys: Vec<TrustedKey> = Vec::with_capacity(rule.recipients.len());
    for recipient in &rule.recipients {
        let key = match recipient {
            Recipient::Fingerprint(id) => TrustedKey {
                id: *id,
                key: None,
                from: "fingerprint".to_string(),
            },
            Recipient::Key(text) => {
                let is_file = !text.starts_with("https://")
                    && !text.starts_with("http://")
                    && !sealant_core::keys::is_key_line(text);
                let arg = if is_file {
                    dir.join(text).display().to_string()
                } else {
                    text.clone()
                };
                let key = io::load_public_key(&arg).map_err(|e| e.context(&rule.name))?;
                TrustedKey {
                    id: key.id(),
                    key: Some(key),
                    from: if sealant_core::keys::is_key_line(text) {
                        "key line".to_string()
                    } else {
                        text.clone()
                    },
                }
            }
        };
        if keys.iter().any(|k| k.id == key.id) {
            return Err(CliError::input(format!(
                "{}: key {} is listed twice",
                rule.name, key.id
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// A warning line when values are sealed to both X-Wing and X25519 keys: the X25519 stanza is
/// then the weakest link (a future quantum attacker opens the value through it).
pub fn mixed_types_warning(keys: &[PublicKey]) -> Option<String> {
    let pq = keys.iter().any(|k| k.key_type() == KeyType::XWing);
    let classic: Vec<String> = keys
        .iter()
        .filter(|k| k.key_type() == KeyType::X25519)
        .map(|k| k.id().to_string())
        .collect();
    (pq && !classic.is_empty()).then(|| {
        format!(
            "sealant: warning: the values are sealed to post-quantum (xwing) and x25519 keys; the x25519 key{} {} can open them without post-quantum protection",
            if classic.len() == 1 { "" } else { "s" },
            classic.join(", ")
        )
    })
}
