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

pub const AFTER_HELP: &str = "\
Examples:
  $ sealant verify --public-key prod.pub sealed/*.yaml
  $ sealant verify --public-key prod.pub --public-key dr.pub db-creds.sealed.yaml
  $ sealant verify --public-key prod.pub --exact-recipients -o json sealed/*.yaml
  $ sealant verify --online db-creds.sealed.yaml

Offline, each value must parse, be sealed for where its SealedSecret sits (namespace, name and
key, as its scope requires) and, for each --public-key, be sealed to that key. With
--exact-recipients it must be sealed to those keys and no other (a value also sealed to an unknown
key fails), and spec.recipients must list exactly them. -o json prints one report with, per value,
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
    /// Every value must be sealed to exactly the --public-key keys (no other recipient), and
    /// spec.recipients must list exactly those keys.
    #[arg(long, requires = "public_keys")]
    exact_recipients: bool,
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
    /// `offline`, `offline-exact` or `online`.
    mode: &'static str,
    /// The keys given with --public-key.
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
}

/// A value's check result before it is placed in the report.
struct Checked {
    scope: Option<&'static str>,
    recipients: Vec<KeyInfo>,
    error: Option<String>,
}

/// Checks every value of every SealedSecret and reports one result per value.
pub fn verify(kube: &KubeArgs, args: VerifyArgs) -> CliResult<()> {
    let keys: Vec<(String, PublicKey)> = args
        .public_keys
        .iter()
        .map(|arg| io::load_public_key(arg).map(|k| (arg.clone(), k)))
        .collect::<CliResult<_>>()?;
    let namespaces = Namespaces::new(args.namespace.clone(), kube);
    let text = args.output == ReportFormat::Text;
    let mut results = Vec::new();
    for file in &args.files.paths()? {
        let source = io::read_file(file)?;
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
            };
            if args.online {
                let error = verify_online(kube, &args.controller, &sealed)?.err();
                let result = entry(
                    None,
                    Checked {
                        scope: None,
                        recipients: Vec::new(),
                        error,
                    },
                );
                if text {
                    print_online(&result);
                }
                results.push(result);
                continue;
            }
            if args.exact_recipients {
                let checked = check_recipients_list(&sealed.spec.recipients, &keys);
                let result = entry(Some("spec.recipients".to_string()), checked);
                if text {
                    print_value(&result);
                }
                results.push(result);
            }
            for (key, value) in &sealed.spec.encrypted_data {
                let at = Location::new(namespace.as_str(), name.as_str(), key.as_str());
                let checked = check_value(value, &at, &keys, args.exact_recipients);
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
            mode: match (args.online, args.exact_recipients) {
                (true, _) => "online",
                (false, true) => "offline-exact",
                (false, false) => "offline",
            },
            expected_keys: keys
                .iter()
                .map(|(_, k)| key_info(k.id(), k.key_type()))
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
    if failed > 0 {
        return Err(CliError::failed(format!(
            "{failed} of {} failed",
            plural(checked, "check")
        )));
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
            println!("{place}: {key}: ok (exactly the given keys)");
        }
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

/// Checks one value offline: it parses, fits where it sits, is sealed to every given key and,
/// with `exact`, to no other.
fn check_value(text: &str, at: &Location, keys: &[(String, PublicKey)], exact: bool) -> Checked {
    let envelope = match Envelope::from_base64(text) {
        Ok(envelope) => envelope,
        Err(e) => {
            return Checked {
                scope: None,
                recipients: Vec::new(),
                error: Some(format!("not a valid sealed value: {e}")),
            };
        }
    };
    let recipients: Vec<KeyInfo> = envelope
        .stanzas
        .iter()
        .map(|s| key_info(s.key_id, s.share.key_type()))
        .collect();
    let error = value_error(&envelope, at, keys, exact, &recipients).err();
    Checked {
        scope: Some(envelope.binding.scope().as_str()),
        recipients,
        error,
    }
}

fn value_error(
    envelope: &Envelope,
    at: &Location,
    keys: &[(String, PublicKey)],
    exact: bool,
    recipients: &[KeyInfo],
) -> Result<(), String> {
    check_location(envelope, at).map_err(|e| e.to_string())?;
    for (arg, key) in keys {
        match envelope.stanzas.iter().find(|s| s.key_id == key.id()) {
            None => {
                return Err(format!(
                    "not sealed for key {} ({arg}); sealed for {}",
                    key.id(),
                    ids_text(recipients)
                ));
            }
            Some(stanza) if stanza.share.key_type() != key.key_type() => {
                return Err(format!(
                    "the stanza for key {} is of type {}, but the key ({arg}) is {}",
                    key.id(),
                    stanza.share.key_type(),
                    key.key_type()
                ));
            }
            Some(_) => {}
        }
    }
    if exact {
        let extra: Vec<String> = envelope
            .stanzas
            .iter()
            .filter(|s| !keys.iter().any(|(_, k)| k.id() == s.key_id))
            .map(|s| format!("{} ({})", s.key_id, s.share.key_type()))
            .collect();
        if !extra.is_empty() {
            return Err(format!(
                "also sealed to key{} not given with --public-key: {}",
                if extra.len() == 1 { "" } else { "s" },
                extra.join(", ")
            ));
        }
        if envelope.stanzas.len() != keys.len() {
            return Err(format!(
                "sealed {} times for {} given key(s): a recipient appears twice",
                envelope.stanzas.len(),
                keys.len()
            ));
        }
    }
    Ok(())
}

/// With --exact-recipients: spec.recipients lists exactly the given keys, each once.
fn check_recipients_list(lines: &[String], keys: &[(String, PublicKey)]) -> Checked {
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
        let extra: Vec<String> = listed
            .iter()
            .filter(|l| !keys.iter().any(|(_, k)| k == *l))
            .map(|l| l.id().to_string())
            .collect();
        let missing: Vec<String> = keys
            .iter()
            .filter(|(_, k)| !listed.contains(k))
            .map(|(arg, k)| format!("{} ({arg})", k.id()))
            .collect();
        if !extra.is_empty() {
            problems.push(format!(
                "lists keys not given with --public-key: {}",
                extra.join(", ")
            ));
        }
        if !missing.is_empty() {
            problems.push(format!("does not list {}", missing.join(", ")));
        }
        if problems.is_empty() && listed.len() != keys.len() {
            problems.push("lists a key twice".to_string());
        }
    }
    Checked {
        scope: None,
        recipients,
        error: (!problems.is_empty()).then(|| problems.join("; ")),
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
