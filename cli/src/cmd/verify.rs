//! `sealant verify`: checks SealedSecrets without opening them (offline), or asks the controller.

use sealant_core::format::{Location, check_location};
use sealant_core::keys::{KeyId, KeyType};
use sealant_core::{Envelope, PublicKey, SealedSecret};
use serde::Serialize;

use super::Namespaces;
use crate::cluster::{self, ControllerArgs, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::flags::InputFiles;
use crate::io;
use crate::manifest::parse_sealed_secret;
use crate::trust::{Found, Origin, Rules, TrustedSet};

pub const AFTER_HELP: &str = "\
Examples:
  $ sealant verify --public-key prod.pub sealed/*.yaml
  $ sealant verify --public-key prod.pub --public-key dr.pub db-creds.sealed.yaml
  $ sealant verify --public-key prod.pub --exact-recipients -o json sealed/*.yaml
  $ sealant verify --online db-creds.sealed.yaml

  $ sealant verify --require-keys clusters/*/*.sealed.yaml   # CI: each file needs a rule or key

Offline, each value must parse and be sealed for where its SealedSecret sits (namespace, name and
key, as its scope requires). The trusted keys are the --public-key keys, else the file's recipient
rule in .sealant.toml (docs/recipient-rules.md): each value must be sealed to exactly those keys
and spec.recipients must list exactly them; an extra or missing key fails, named by fingerprint,
with the rule. --allow-other-recipients only requires the trusted keys (for a file meant for
clusters whose keys you do not hold). With no trusted key only the structure is checked, and the
output says so; --require-keys makes that a failure. -o json prints one report with, per value,
its key, recipient key ids and types, scope and result. Documents of other kinds are skipped.
Exit 1 when any value fails, 2 when an input cannot be read.";

/// Report formats of `verify`.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// One line per value (for people).
    Text,
    /// One JSON document with a result per value (for CI).
    Json,
    /// The same report as YAML.
    Yaml,
}

/// Arguments of `sealant verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    files: InputFiles,
    /// A key every value must be sealed to (file or `sealant-pub-v1:`/`sealant-pub-pq1:` line);
    /// repeatable.
    #[arg(
        long = "public-key",
        value_name = "FILE_OR_KEY",
        env = "SEALANT_PUBLIC_KEY"
    )]
    public_keys: Vec<String>,
    /// Every value must be sealed to exactly the trusted keys and spec.recipients must list
    /// exactly them (the default whenever --public-key or a recipient rule gives the keys).
    #[arg(long, conflicts_with = "allow_other_recipients")]
    exact_recipients: bool,
    /// Require only that each value is sealed to the trusted keys, allowing other recipients
    /// (for files also meant for clusters whose keys you do not hold).
    #[arg(long)]
    allow_other_recipients: bool,
    /// Fail every file for which no key is known (no --public-key, no matching recipient rule)
    /// instead of checking its structure only: for CI.
    #[arg(long, env = "SEALANT_REQUIRE_KEYS")]
    require_keys: bool,
    /// Every recipient of every value must be post-quantum (xwing); a value with an x25519
    /// stanza fails (a rule's require-post-quantum does the same for its files).
    #[arg(long, conflicts_with = "online")]
    require_post_quantum: bool,
    /// Namespace for SealedSecrets whose manifest has none (default: the kubeconfig context's).
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    /// Report format: text (default), json or yaml (one result per value, for CI).
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    output: ReportFormat,
    /// Ask the controller (POST /v1/verify) whether it can open each SealedSecret.
    #[arg(long, conflicts_with = "public_keys")]
    online: bool,
    #[command(flatten)]
    controller: ControllerArgs,
}

/// The machine-readable report (`-o json`): stable field names, one entry per checked value.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    /// Whether every check passed (the exit code is 0 exactly then).
    passed: bool,
    checked: usize,
    failed: usize,
    /// `offline`, `offline-exact`, `structure-only` (no key known) or `online`.
    mode: &'static str,
    /// The keys given with --public-key (rules' keys are named in each result's message).
    expected_keys: Vec<KeyInfo>,
    results: Vec<ValueResult>,
}

/// A recipient key: its id and type.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct KeyInfo {
    key_id: String,
    #[serde(rename = "type")]
    key_type: &'static str,
}

/// The outcome for one value (or, online and for spec.recipients, one SealedSecret).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValueResult {
    file: String,
    /// `file: document 1` or `file: document 1, item 2`.
    document: String,
    namespace: String,
    name: String,
    /// The data key, `spec.recipients` for the recipients list check, or null online.
    key: Option<String>,
    /// The value's scope (strict, namespace-wide, cluster-wide), when it parsed.
    scope: Option<&'static str>,
    /// The recipients the value is sealed to, in stanza order.
    recipients: Vec<KeyInfo>,
    /// `ok` or `failed`.
    result: &'static str,
    /// Why it failed, or what the controller said.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// Whether the recipients were checked against trusted keys (false: structure only).
    keyed: bool,
}

/// A value's check result before it is placed in the report.
struct Checked {
    scope: Option<&'static str>,
    recipients: Vec<KeyInfo>,
    error: Option<String>,
    /// Whether a trusted key was checked (false: structure only).
    keyed: bool,
}

/// Checks every value of every SealedSecret and reports one result per value.
pub fn verify(kube: &KubeArgs, args: VerifyArgs) -> CliResult<()> {
    let flag_set = if args.public_keys.is_empty() {
        None
    } else {
        Some(TrustedSet::from_flags(&args.public_keys)?)
    };
    let mut rules = Rules::default();
    let exact = !args.allow_other_recipients;
    let mut structure_only = 0usize;
    let mut rule_files = 0usize;
    let mut accept_hint: Option<String> = None;
    let namespaces = Namespaces::new(args.namespace.clone(), kube);
    let text = args.output == ReportFormat::Text;
    let mut results = Vec::new();
    for file in &args.files.paths()? {
        let source = io::read_file(file)?;
        let trusted = match (&flag_set, args.online) {
            (_, true) => None,
            (Some(set), _) => Some(set.clone()),
            (None, _) => rules.trusted_for(Some(file), &[])?,
        };
        if let Some(TrustedSet {
            origin: Origin::Rule(_),
            ..
        }) = &trusted
        {
            rule_files += 1;
        }
        if args.exact_recipients && trusted.is_none() && !args.online {
            return Err(CliError::input(format!(
                "{}: --exact-recipients: no trusted keys for this file",
                file.display()
            ))
            .hint("pass --public-key, or add a recipient rule for it to .sealant.toml"));
        }
        let require_pq =
            args.require_post_quantum || trusted.as_ref().is_some_and(|t| t.require_post_quantum);
        for doc in io::documents(&source)? {
            if doc.kind() != "SealedSecret" {
                eprintln!("{}: skipped (not a SealedSecret)", doc.context());
                continue;
            }
            let mut sealed = parse_sealed_secret(&doc)?;
            let namespace =
                namespaces.resolve(sealed.metadata.namespace.as_deref(), &doc.context())?;
            sealed.metadata.namespace = Some(namespace.clone());
            let name = sealed.metadata.name.clone().unwrap_or_default();
            let entry = |key: Option<String>, checked: Checked| ValueResult {
                file: source.name.clone(),
                document: doc.place.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                key,
                scope: checked.scope,
                recipients: checked.recipients,
                result: if checked.error.is_none() {
                    "ok"
                } else {
                    "failed"
                },
                message: checked.error,
                keyed: checked.keyed,
            };
            if args.online {
                let error = verify_online(kube, &args.controller, &sealed)?.err();
                let result = entry(
                    None,
                    Checked {
                        scope: None,
                        recipients: Vec::new(),
                        error,
                        keyed: true,
                    },
                );
                if text {
                    print_online(&result);
                }
                results.push(result);
                continue;
            }
            if let Some(set) = &trusted
                && exact
            {
                let checked = check_recipients_list(&sealed.spec.recipients, set);
                if checked.error.is_some() {
                    accept_hint.get_or_insert_with(|| set.accept_hint());
                }
                let result = entry(Some("spec.recipients".to_string()), checked);
                if text {
                    print_value(&result);
                }
                results.push(result);
            }
            for (key, value) in &sealed.spec.encrypted_data {
                let at = Location::new(namespace.as_str(), name.as_str(), key.as_str());
                let mut checked = check_value(value, &at, trusted.as_ref(), exact, require_pq);
                if trusted.is_none() && checked.error.is_none() {
                    structure_only += 1;
                    if args.require_keys {
                        checked.error = Some(
                            "no trusted key for this file (no --public-key and no recipient rule matches it), and --require-keys is set".to_string(),
                        );
                    }
                } else if checked.error.is_some()
                    && let Some(set) = &trusted
                {
                    accept_hint.get_or_insert_with(|| set.accept_hint());
                }
                let result = entry(Some(key.clone()), checked);
                if text {
                    print_value(&result);
                }
                results.push(result);
            }
        }
    }
    let checked = results.len();
    let failed = results.iter().filter(|r| r.result != "ok").count();
    if checked == 0 {
        return Err(CliError::input(
            "no SealedSecret values found in the given files",
        ));
    }
    if !text {
        let report = Report {
            passed: failed == 0,
            checked,
            failed,
            mode: match (args.online, flag_set.is_some() || rule_files > 0, exact) {
                (true, _, _) => "online",
                (false, false, _) => "structure-only",
                (false, true, true) => "offline-exact",
                (false, true, false) => "offline",
            },
            expected_keys: flag_set
                .iter()
                .flat_map(|s| &s.keys)
                .filter_map(|k| k.key.as_ref())
                .map(|k| key_info(k.id(), k.key_type()))
                .collect(),
            results,
        };
        let mut out = match args.output {
            ReportFormat::Yaml => serde_yaml::to_string(&report)
                .map_err(|e| CliError::input(format!("cannot encode the report: {e}")))?,
            _ => serde_json::to_string_pretty(&report)
                .map_err(|e| CliError::input(format!("cannot encode the report: {e}")))?,
        };
        if !out.ends_with('\n') {
            out.push('\n');
        }
        io::emit(None, &out)?;
    }
    if structure_only > 0 && !args.require_keys {
        eprintln!(
            "{structure_only} value(s) checked for structure only: no key given (pass --public-key or add a recipient rule to .sealant.toml; --require-keys makes this a failure)"
        );
    }
    if failed > 0 {
        let error = CliError::failed(format!("{failed} of {} failed", plural(checked, "check")));
        return Err(match (accept_hint, structure_only > 0 && args.require_keys) {
            (Some(hint), _) => error.hint(hint),
            (None, true) => error.hint(
                "pass --public-key, or add a rule for these files to .sealant.toml (docs/recipient-rules.md)",
            ),
            (None, false) => error,
        });
    }
    eprintln!("{} passed", plural(checked, "check"));
    Ok(())
}

/// `1 check`, `2 checks`.
fn plural(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

fn key_info(id: KeyId, key_type: KeyType) -> KeyInfo {
    KeyInfo {
        key_id: id.to_string(),
        key_type: key_type.as_str(),
    }
}

fn print_value(result: &ValueResult) {
    let place = format!("{}: {}/{}", result.file, result.namespace, result.name);
    let key = result.key.as_deref().unwrap_or_default();
    match &result.message {
        None if result.key.as_deref() == Some("spec.recipients") => {
            println!("{place}: {key}: ok (exactly the trusted keys)");
        }
        None if !result.keyed => println!(
            "{place}: {key}: ok, structure only: no key given ({}, key{} {})",
            result.scope.unwrap_or_default(),
            if result.recipients.len() == 1 {
                ""
            } else {
                "s"
            },
            ids_text(&result.recipients)
        ),
        None => println!(
            "{place}: {key}: ok ({}, key{} {})",
            result.scope.unwrap_or_default(),
            if result.recipients.len() == 1 {
                ""
            } else {
                "s"
            },
            ids_text(&result.recipients)
        ),
        Some(message) => println!("{place}: {key}: FAILED: {message}"),
    }
}

fn print_online(result: &ValueResult) {
    let place = format!("{}: {}/{}", result.file, result.namespace, result.name);
    match &result.message {
        None => println!("{place}: ok (the controller can open every value)"),
        Some(message) => println!("{place}: FAILED: {message}"),
    }
}

fn ids_text(keys: &[KeyInfo]) -> String {
    keys.iter()
        .map(|k| k.key_id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks one value offline: it parses, fits where it sits, is sealed to every trusted key and,
/// with `exact`, to no other; with `require_pq`, every stanza is X-Wing.
fn check_value(
    text: &str,
    at: &Location,
    trusted: Option<&TrustedSet>,
    exact: bool,
    require_pq: bool,
) -> Checked {
    let envelope = match Envelope::from_base64(text) {
        Ok(envelope) => envelope,
        Err(e) => {
            return Checked {
                scope: None,
                recipients: Vec::new(),
                error: Some(format!("not a valid sealed value: {e}")),
                keyed: trusted.is_some(),
            };
        }
    };
    let recipients: Vec<KeyInfo> = envelope
        .stanzas
        .iter()
        .map(|s| key_info(s.key_id, s.share.key_type()))
        .collect();
    let error = value_error(&envelope, at, trusted, exact, require_pq).err();
    Checked {
        scope: Some(envelope.binding.scope().as_str()),
        recipients,
        error,
        keyed: trusted.is_some(),
    }
}

fn value_error(
    envelope: &Envelope,
    at: &Location,
    trusted: Option<&TrustedSet>,
    exact: bool,
    require_pq: bool,
) -> Result<(), String> {
    check_location(envelope, at).map_err(|e| e.to_string())?;
    if require_pq {
        let classic: Vec<String> = envelope
            .stanzas
            .iter()
            .filter(|s| s.share.key_type() != KeyType::XWing)
            .map(|s| format!("{} ({})", s.key_id, s.share.key_type()))
            .collect();
        if !classic.is_empty() {
            return Err(format!(
                "post-quantum recipients are required, but it is also sealed to {}",
                classic.join(", ")
            ));
        }
    }
    let Some(set) = trusted else {
        return Ok(());
    };
    set.compare(&envelope.key_ids(), !exact, Found::Stanzas)
        .map_err(|problem| with_rule(problem, set))?;
    for trusted_key in &set.keys {
        let (Some(key), Some(stanza)) = (
            &trusted_key.key,
            envelope.stanzas.iter().find(|s| s.key_id == trusted_key.id),
        ) else {
            continue;
        };
        if stanza.share.key_type() != key.key_type() {
            return Err(format!(
                "the stanza for key {} is of type {}, but the key ({}) is {}",
                key.id(),
                stanza.share.key_type(),
                trusted_key.from,
                key.key_type()
            ));
        }
    }
    Ok(())
}

/// A failure message, naming the recipient rule when the trusted keys came from one.
fn with_rule(problem: String, set: &TrustedSet) -> String {
    match &set.origin {
        Origin::Rule(rule) => format!("{problem} (rule: {rule})"),
        _ => problem,
    }
}

/// spec.recipients lists exactly the trusted keys, each once.
fn check_recipients_list(lines: &[String], set: &TrustedSet) -> Checked {
    let mut listed = Vec::with_capacity(lines.len());
    let mut problems = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match line.parse::<PublicKey>() {
            Ok(key) => listed.push(key),
            Err(e) => problems.push(format!("spec.recipients[{i}]: {e}")),
        }
    }
    let recipients: Vec<KeyInfo> = listed
        .iter()
        .map(|k| key_info(k.id(), k.key_type()))
        .collect();
    if problems.is_empty() {
        let ids: Vec<KeyId> = listed.iter().map(PublicKey::id).collect();
        if let Err(problem) = set.compare(&ids, false, Found::Listed) {
            problems.push(with_rule(problem, set));
        }
        for key in &listed {
            if let Some(trusted) = set.keys.iter().find(|t| t.id == key.id())
                && let Some(expected) = &trusted.key
                && expected != key
            {
                problems.push(format!(
                    "lists a key with fingerprint {} that is not the trusted key ({})",
                    key.id(),
                    trusted.from
                ));
            }
        }
    }
    Checked {
        scope: None,
        recipients,
        error: (!problems.is_empty()).then(|| problems.join("; ")),
        keyed: true,
    }
}

/// Asks the controller; `Ok(Err(message))` is a verification failure.
fn verify_online(
    kube: &KubeArgs,
    controller: &ControllerArgs,
    sealed: &SealedSecret,
) -> CliResult<Result<(), String>> {
    let body = serde_json::to_vec(sealed)
        .map_err(|e| CliError::input(format!("cannot encode the request: {e}")))?;
    let (code, text) = cluster::block_on(cluster::controller_post(
        kube,
        controller,
        "/v1/verify",
        body,
    ))??;
    Ok(if code == 200 { Ok(()) } else { Err(text) })
}
