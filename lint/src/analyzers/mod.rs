//! Analysis of one file, one analyzer per kind of file: [`kubernetes`] objects (and the generic
//! YAML walker), [`helm`] templates, [`kustomize`], [`compose`], [`dotenv`] and other line-based
//! configuration, [`dockerfile`], [`shell`] scripts, and the [`raw_text`] token and URL search that
//! runs over every file. The checks that belong to one rule only live in that rule's module
//! (`rules::sl002_committed_secret`, ...).

use std::sync::OnceLock;

use base64::Engine;

use super::config::Settings;
use super::finding::{Confidence, Finding, Severity, hash_value};
use super::names::{NameMatch, Strength, classify_name};
use super::values::{Class, redact};
use super::yaml::{Kind, Node, Source, Style};
use crate::codes::Code;

pub mod ci;
pub mod comments;
pub mod compose;
pub mod dockerfile;
pub mod dotenv;
pub mod helm;
pub mod kubernetes;
pub mod kustomize;
pub mod markdown;
pub mod prefilter;
pub mod raw_text;
pub mod shell;
pub mod value_shapes;

pub use prefilter::needs_parse;

/// What a file is, decided from its name and place (see `scan::classify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Kubernetes manifests or other YAML/JSON.
    Yaml,
    HelmValues,
    HelmTemplate,
    Kustomization,
    Compose,
    DotEnv,
    /// `.properties`, `.ini`, `.toml`, `.conf`, Terraform variables.
    Config,
    /// CI pipelines: GitHub Actions workflows, GitLab CI.
    CiWorkflow,
    /// Shell scripts (`.sh`, `.bash`, `.envrc`).
    Script,
    /// `Dockerfile`, `*.dockerfile`, `Containerfile`.
    Dockerfile,
    /// Helm chart `templates/NOTES.txt`: template text shown after install.
    HelmNotes,
    /// SQL scripts (`.sql`): statements that set a password (`PASSWORD 'x'`, `IDENTIFIED BY 'x'`).
    Sql,
    /// Anything else: only token formats and URL credentials.
    Text,
}

/// The annotation that suppresses rules on one object.
pub const IGNORE_ANNOTATION: &str = "sealant.dev/lint-ignore";

/// The findings, suppression scopes and diagnostics of one file.
pub struct FileScan<'a> {
    pub source: &'a Source<'a>,
    pub path: &'a str,
    pub settings: &'a Settings,
    pub findings: Vec<Finding>,
    /// Byte ranges whose raw text is ciphertext (SealedSecret, SOPS metadata).
    pub(crate) skip: Vec<(usize, usize)>,
    /// Object-level suppressions: byte range and rules (empty: all rules).
    pub ignores: Vec<(usize, usize, Vec<Code>)>,
    pub diagnostics: Vec<String>,
    /// Env files read by a Kustomize secretGenerator: (path relative to this file's dir, name).
    pub generator_env_files: Vec<(String, String, kustomize::GeneratorFile)>,
    /// Files that docker-compose `secrets:` read (`file: ./db_password.txt`): (path relative to
    /// this file's dir, secret name).
    pub compose_secret_files: Vec<(String, String)>,
    /// Test data of a chart (`ci/*-values.yaml`, `tests/*_test.yaml`): findings are reported at
    /// low severity and confidence, so that `--fail-on` can skip them.
    pub test_data: bool,
    /// Why the file is test data, shown after each finding's message.
    pub test_reason: &'static str,
    /// A Helm chart template (under `templates/`, or `.tpl`): what it renders comes from values
    /// at install time.
    pub template: bool,
    /// How many more base64 values may be decoded and searched for tokens in this file.
    pub(crate) decode_budget: usize,
    /// YAML that the prefilter let skip the parser.
    pub(crate) unparsed_yaml: bool,
}

/// Where the walker is, for choosing rules and building key paths.
#[derive(Clone, Copy)]
pub(crate) struct Walk<'o> {
    /// Rule for credential-like keys outside containers.
    pub(crate) rule: Code,
    /// Inside a Kubernetes object (command/args and env lists are container fields).
    pub(crate) k8s: bool,
    /// Inside a container (env lists are SL001, command/args SL006).
    pub(crate) container: Option<&'o str>,
}
impl<'a> FileScan<'a> {
    pub(crate) fn new(source: &'a Source<'a>, path: &'a str, settings: &'a Settings) -> Self {
        FileScan {
            source,
            path,
            settings,
            findings: Vec::new(),
            skip: Vec::new(),
            ignores: Vec::new(),
            diagnostics: Vec::new(),
            generator_env_files: Vec::new(),
            compose_secret_files: Vec::new(),
            unparsed_yaml: false,
            test_data: false,
            test_reason: "chart test values",
            template: false,
            decode_budget: 64,
        }
    }

    /// Runs every analysis that applies to `kind`.
    pub(crate) fn run(&mut self, kind: FileKind) {
        self.run_structured(kind);
        if kind == FileKind::Text
            && (self.path.ends_with(".md") || self.path.ends_with(".markdown"))
        {
            self.markdown_blocks();
        }
        self.raw_search();
    }

    /// The analyses of `kind`'s structure, without the raw token search (which the file that
    /// holds an embedded document runs once over all of it).
    pub(crate) fn run_structured(&mut self, kind: FileKind) {
        match kind {
            FileKind::DotEnv => {
                self.scan_lines(Code::SL008, "`.env` file sets");
                self.commented_settings(Code::SL008, "`.env` file sets");
            }
            FileKind::Script => self.scan_script(),
            FileKind::CiWorkflow => self.ci_workflow(),
            FileKind::Dockerfile => self.scan_dockerfile(),
            FileKind::Config => {
                self.scan_lines(Code::SL010, "configuration sets");
                self.commented_settings(Code::SL010, "configuration sets");
            }
            FileKind::Text => {}
            FileKind::Sql => self.scan_sql(),
            FileKind::HelmNotes => self.helm_notes(),
            FileKind::HelmTemplate => self.helm_template(),
            FileKind::Yaml | FileKind::Kustomization => self.yaml_file(kind),
            FileKind::HelmValues => {
                self.yaml_file(kind);
                self.commented_settings(Code::SL009, "Helm value sets");
            }
            FileKind::Compose => {
                self.yaml_file(kind);
                self.commented_settings(Code::SL008, "docker-compose file sets");
            }
        }
        if matches!(
            kind,
            FileKind::Yaml
                | FileKind::HelmValues
                | FileKind::HelmTemplate
                | FileKind::Compose
                | FileKind::DotEnv
                | FileKind::Config
        ) {
            self.value_shapes(kind);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn report(
        &mut self,
        rule: Code,
        at: usize,
        value: &str,
        key_path: String,
        message: String,
        confidence: Confidence,
    ) {
        if !self.settings.is_enabled(rule) {
            return;
        }
        if self.test_data && super::values::is_fixture_value(&value.trim().to_ascii_lowercase()) {
            return;
        }
        let (confidence, message) = if self.test_data {
            (Confidence::Low, format!("{message} ({})", self.test_reason))
        } else {
            (confidence, message)
        };
        let (line, column) = self.source.position(at);
        let mut severity = rule.rule().severity;
        if self.test_data {
            severity = Severity::Low;
        }
        if confidence == Confidence::Low && severity > Severity::Low {
            severity = if severity == Severity::High {
                Severity::Medium
            } else {
                Severity::Low
            };
        }
        self.findings.push(Finding {
            rule,
            path: self.path.to_string(),
            line,
            column,
            message,
            severity,
            confidence,
            redacted: redact(value),
            shows_value: true,
            fixture: self.test_data,
            commit: None,
            object: None,
            key_path,
            value_hash: hash_value(value),
            span: (at, at + value.len().max(1)),
        });
    }

    /// Reports a finding whose shown value is `redacted` (a summary such as `3 keys`) and whose
    /// location is `span`; `value` only feeds the baseline hash.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn report_redacted(
        &mut self,
        rule: Code,
        span: (usize, usize),
        value: &str,
        redacted: String,
        key_path: String,
        message: String,
        confidence: Confidence,
    ) {
        let before = self.findings.len();
        self.report(rule, span.0, value, key_path, message, confidence);
        if let Some(f) = self.findings.get_mut(before) {
            f.redacted = redacted;
            f.shows_value = false;
            f.span = span;
        }
    }

    /// Byte offset of `needle` at or after `from` (a scalar's start), or `from` itself.
    pub(crate) fn locate(&self, from: usize, needle: &str) -> usize {
        let text = self.source.text;
        if needle.is_empty() || from >= text.len() {
            return from;
        }
        let end = (from + 256 * 1024).min(text.len());
        let end = (end..=text.len())
            .find(|&e| text.is_char_boundary(e))
            .unwrap_or(text.len());
        text[from..end].find(needle).map_or(from, |i| from + i)
    }

    pub(crate) fn name_match(&self, name: &str) -> Option<NameMatch> {
        classify_name(
            name,
            &self.settings.extra_names,
            &self.settings.ignored_names,
        )
    }

    pub(crate) fn confidence(m: NameMatch) -> Confidence {
        match m.strength {
            Strength::Strong => Confidence::High,
            Strength::Weak => Confidence::Medium,
        }
    }

    /// Reports `value` under `name` if the name is credential-like and the value a literal.
    pub(crate) fn check_pair(
        &mut self,
        rule: Code,
        name: &str,
        value: &Node,
        key_path: String,
        what: &str,
    ) {
        let Some(v) = value.str() else { return };
        if is_self_reference(name, v) {
            return;
        }
        let Some(m) = self.name_match(name) else {
            return;
        };
        if !self.settings.values.is_credential_value(name, v, m) {
            return;
        }
        let at = self.value_offset(value, v);
        self.report(
            rule,
            at,
            v,
            key_path,
            format!("{what} `{name}` to a literal credential"),
            Self::confidence(m),
        );
    }

    /// Where a scalar's value starts in the file (for block scalars, its first non-blank text).
    pub(crate) fn value_offset(&self, node: &Node, value: &str) -> usize {
        match node_style(node) {
            Some(Style::Block) => {
                let first = value.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                self.locate(node.start, first.trim())
            }
            _ => node.start,
        }
    }

    /// Secret data is secret whatever it looks like, except placeholders and emptiness.
    pub(crate) fn strict_literal(&self, value: &str) -> bool {
        self.settings.values.classify_data(value).class == Class::Credential
    }

    pub(crate) fn locate_line(&self, n: usize) -> usize {
        let line = self.source.line(n);
        let base = line.as_ptr() as usize - self.source.text.as_ptr() as usize;
        base.min(self.source.text.len())
    }
}

pub(crate) use super::values::is_self_reference;

/// The start of a message for a credential-like key found by the generic walker.
pub(crate) fn rule_verb(rule: Code) -> &'static str {
    match rule {
        Code::SL008 => "docker-compose environment sets",
        Code::SL009 => "Helm value sets",
        Code::SL006 => "command line sets",
        _ => "configuration sets",
    }
}

pub(crate) fn node_style(node: &Node) -> Option<Style> {
    match &node.kind {
        Kind::Scalar(_, style) => Some(*style),
        _ => None,
    }
}

/// `"SL001,SL003"`, `"all"`; unknown ids are ignored. Empty means every rule.
pub fn parse_codes(s: &str) -> Vec<Code> {
    s.split([',', ' '])
        .filter(|p| !p.trim().is_empty())
        .filter_map(|p| p.parse::<Code>().ok())
        .collect()
}

pub(crate) enum Decoded {
    Text(String),
    Binary,
}

pub(crate) fn decode_base64(raw: &str) -> Option<Decoded> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    Some(match String::from_utf8(bytes) {
        Ok(s) => Decoded::Text(s),
        Err(_) => Decoded::Binary,
    })
}

pub(crate) fn needles() -> Option<&'static aho_corasick::AhoCorasick> {
    static NEEDLES: OnceLock<Option<aho_corasick::AhoCorasick>> = OnceLock::new();
    NEEDLES
        .get_or_init(|| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(super::names::PREFILTER_NEEDLES)
                .ok()
        })
        .as_ref()
}

/// Whether `text` contains a credential-like word at all (case-insensitive).
pub(crate) fn has_needle(text: &[u8]) -> bool {
    // Without the compiled needles (impossible for constant patterns) assume yes.
    needles().is_none_or(|ac| ac.is_match(text))
}
