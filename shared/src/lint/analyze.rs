//! Analysis of one file: Kubernetes objects, docker-compose, Kustomize, Helm values and templates,
//! `.env` and configuration files, and the raw-text token and URL search over everything.

use std::sync::OnceLock;

use base64::Engine;
use regex::Regex;

use super::config::Settings;
use super::finding::{Confidence, Finding, Severity, hash_value};
use super::names::{NameMatch, Strength, classify_name};
use super::rules::Code;
use super::text::{mask_template, parse_assignment};
use super::tokens::{find_tokens, find_url_credentials};
use super::values::{is_placeholder, is_public_certificate, redact};
use super::yaml::{self, Kind, Node, Source, Style};

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
    /// Shell scripts (`.sh`, `.bash`, `.envrc`).
    Script,
    /// `Dockerfile`, `*.dockerfile`, `Containerfile`.
    Dockerfile,
    /// Anything else: only token formats and URL credentials.
    Text,
}

/// Kinds whose fields name secrets kept elsewhere (External Secrets, Vault, CSI, 1Password).
const REFERENCE_KINDS: &[&str] = &[
    "ExternalSecret",
    "ClusterExternalSecret",
    "SecretStore",
    "ClusterSecretStore",
    "PushSecret",
    "VaultStaticSecret",
    "VaultDynamicSecret",
    "VaultAuth",
    "SecretProviderClass",
    "OnePasswordItem",
    "InfisicalSecret",
    "DopplerSecret",
    "SealedSecret",
];

/// Annotations that name secrets kept elsewhere (Vault agent injector, CSI, reloaders).
const REFERENCE_ANNOTATION_PREFIXES: &[&str] = &[
    "sealant.dev/",
    "vault.hashicorp.com/",
    "secrets-store.csi",
    "external-secrets.io/",
    "reloader.stakater.com/",
    "secret.reloader.stakater.com/",
    "configmap.reloader.stakater.com/",
    "sealedsecrets.bitnami.com/",
    "replicator.v1.mittwald.de/",
    "reflector.v1.k8s.emberstack.com/",
];

/// The annotation that suppresses rules on one object.
pub const IGNORE_ANNOTATION: &str = "sealant.dev/lint-ignore";

/// The findings, suppression scopes and diagnostics of one file.
pub struct FileScan<'a> {
    pub source: &'a Source<'a>,
    pub path: &'a str,
    pub settings: &'a Settings,
    pub findings: Vec<Finding>,
    /// Byte ranges whose raw text is ciphertext (SealedSecret, SOPS metadata).
    skip: Vec<(usize, usize)>,
    /// Object-level suppressions: byte range and rules (empty: all rules).
    pub ignores: Vec<(usize, usize, Vec<Code>)>,
    pub diagnostics: Vec<String>,
    /// Env files read by a Kustomize secretGenerator: (path relative to this file's dir, name).
    pub generator_env_files: Vec<(String, String)>,
    /// YAML that the prefilter let skip the parser.
    unparsed_yaml: bool,
}

/// Where the walker is, for choosing rules and building key paths.
#[derive(Clone, Copy)]
struct Walk<'o> {
    /// Rule for credential-like keys outside containers.
    rule: Code,
    /// Inside a Kubernetes object (command/args and env lists are container fields).
    k8s: bool,
    /// Inside a container (env lists are SL001, command/args SL006).
    container: Option<&'o str>,
}

impl<'a> FileScan<'a> {
    pub fn new(source: &'a Source<'a>, path: &'a str, settings: &'a Settings) -> Self {
        FileScan {
            source,
            path,
            settings,
            findings: Vec::new(),
            skip: Vec::new(),
            ignores: Vec::new(),
            diagnostics: Vec::new(),
            generator_env_files: Vec::new(),
            unparsed_yaml: false,
        }
    }

    /// Runs every analysis that applies to `kind`.
    pub fn run(&mut self, kind: FileKind) {
        let text = self.source.text;
        match kind {
            FileKind::DotEnv => self.scan_lines(Code::SL008, "`.env` file sets"),
            FileKind::Script => self.scan_script(),
            FileKind::Dockerfile => self.scan_dockerfile(),
            FileKind::Config => self.scan_lines(Code::SL010, "configuration sets"),
            FileKind::Text => {}
            FileKind::HelmTemplate => {
                let masked = mask_template(text);
                let masked_source = Source::new(&masked);
                match yaml::parse(&masked_source) {
                    Ok(docs) => {
                        for doc in &docs {
                            self.document(&doc.root, FileKind::HelmTemplate, doc.start, doc.end);
                        }
                    }
                    Err(_) => self.scan_template_lines(),
                }
            }
            _ => {
                if needs_parse(text, self.settings) {
                    match yaml::parse(self.source) {
                        Ok(docs) => {
                            for doc in &docs {
                                self.document(&doc.root, kind, doc.start, doc.end);
                            }
                        }
                        Err(e) => self.diagnostics.push(format!("not valid YAML/JSON: {e}")),
                    }
                } else {
                    self.unparsed_yaml = true;
                }
            }
        }
        self.raw_search();
    }

    // ----- reporting -----

    #[allow(clippy::too_many_arguments)]
    fn report(
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
        let (line, column) = self.source.position(at);
        let mut severity = rule.rule().severity;
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
            key_path,
            value_hash: hash_value(value),
            span: (at, at + value.len().max(1)),
        });
    }

    /// Byte offset of `needle` at or after `from` (a scalar's start), or `from` itself.
    fn locate(&self, from: usize, needle: &str) -> usize {
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

    fn name_match(&self, name: &str) -> Option<NameMatch> {
        classify_name(
            name,
            &self.settings.extra_names,
            &self.settings.ignored_names,
        )
    }

    fn confidence(m: NameMatch) -> Confidence {
        match m.strength {
            Strength::Strong => Confidence::High,
            Strength::Weak => Confidence::Medium,
        }
    }

    /// Reports `value` under `name` if the name is credential-like and the value a literal.
    fn check_pair(&mut self, rule: Code, name: &str, value: &Node, key_path: String, what: &str) {
        let Some(v) = value.str() else { return };
        let Some(m) = self.name_match(name) else {
            return;
        };
        if !self.settings.values.is_credential_value(v, m) {
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
    fn value_offset(&self, node: &Node, value: &str) -> usize {
        match node_style(node) {
            Some(Style::Block) => {
                let first = value.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                self.locate(node.start, first.trim())
            }
            _ => node.start,
        }
    }

    // ----- documents -----

    fn document(&mut self, root: &Node, kind: FileKind, start: usize, end: usize) {
        if let Some(sops) = root.get("sops").filter(|s| s.is_map()) {
            self.skip.push((sops.start, sops.end.max(end)));
        }
        let is_object = root.get_str("kind").is_some()
            && (root.get("apiVersion").is_some() || root.get_str("kind") == Some("List"));
        match kind {
            FileKind::Kustomization => self.kustomization(root),
            FileKind::Compose => self.walk(
                root,
                Walk {
                    rule: Code::SL008,
                    k8s: false,
                    container: None,
                },
                "",
            ),
            FileKind::HelmValues if !is_object => self.walk(
                root,
                Walk {
                    rule: Code::SL009,
                    k8s: false,
                    container: None,
                },
                "",
            ),
            _ if is_object => self.object(root, start, end),
            FileKind::HelmTemplate => self.walk(
                root,
                Walk {
                    rule: Code::SL009,
                    k8s: true,
                    container: None,
                },
                "",
            ),
            _ if looks_like_compose(root) => self.walk(
                root,
                Walk {
                    rule: Code::SL008,
                    k8s: false,
                    container: None,
                },
                "",
            ),
            _ if root.get("secretGenerator").is_some() => self.kustomization(root),
            _ => self.walk(
                root,
                Walk {
                    rule: Code::SL010,
                    k8s: false,
                    container: None,
                },
                "",
            ),
        }
    }

    /// Records SealedSecret and SOPS ranges so the raw token search skips their ciphertext.
    fn mask_ciphertext(&mut self, root: &Node, start: usize, end: usize) {
        if root.get_str("kind") == Some("List") {
            for item in root.get("items").map(Node::items).unwrap_or_default() {
                self.mask_ciphertext(item, item.start, item.end);
            }
        } else if root.get_str("kind") == Some("SealedSecret") {
            self.skip.push((start, end.max(root.end)));
        }
        if let Some(sops) = root.get("sops").filter(|s| s.is_map()) {
            self.skip.push((sops.start, end.max(sops.end)));
        }
    }

    fn object(&mut self, obj: &Node, start: usize, end: usize) {
        let kind = obj.get_str("kind").unwrap_or("");
        let api = obj.get_str("apiVersion").unwrap_or("");
        let meta = obj.get("metadata");
        let name = meta.and_then(|m| m.get_str("name")).unwrap_or("");
        let namespace = meta.and_then(|m| m.get_str("namespace")).unwrap_or("");
        let end = end.max(obj.end);

        if let Some(codes) = meta
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get_str(IGNORE_ANNOTATION))
        {
            self.ignores
                .push((obj.start.min(start), end, parse_codes(codes)));
        }
        if kind == "List" {
            for item in obj.get("items").map(Node::items).unwrap_or_default() {
                if item.is_map() {
                    self.object(item, item.start, item.end);
                }
            }
            return;
        }
        if kind == "SealedSecret"
            && (api.starts_with("bitnami.com/")
                || api.starts_with("sealant.dev/")
                || api.is_empty()
                || api.contains('/'))
        {
            self.skip.push((start.min(obj.start), end));
            return;
        }
        let obj_path = if namespace.is_empty() {
            format!("{kind}/{name}")
        } else {
            format!("{kind}/{namespace}/{name}")
        };
        if let Some(annotations) = meta.and_then(|m| m.get("annotations")) {
            self.annotations(annotations, &obj_path);
        }
        match kind {
            "Secret" if api == "v1" || api.is_empty() => self.secret(obj, name, &obj_path),
            "ConfigMap" => self.config_map(obj, name, &obj_path),
            // Secret-store operators: every field is a reference to a secret, never one.
            k if REFERENCE_KINDS.contains(&k) => {}
            _ => {
                for (k, v) in obj.entries() {
                    let key = k.str().unwrap_or("");
                    if matches!(key, "metadata" | "apiVersion" | "kind" | "status") {
                        continue;
                    }
                    let path = format!("{obj_path}/{key}");
                    self.walk(
                        v,
                        Walk {
                            rule: Code::SL010,
                            k8s: true,
                            container: None,
                        },
                        &path,
                    );
                    if key == "data" || key == "stringData" {
                        // Unknown kinds with data maps are walked as configuration above.
                    }
                }
            }
        }
    }

    fn annotations(&mut self, annotations: &Node, obj_path: &str) {
        for (k, v) in annotations.entries() {
            let Some(key) = k.str() else { continue };
            let Some(value) = v.str() else { continue };
            if key == IGNORE_ANNOTATION
                || REFERENCE_ANNOTATION_PREFIXES
                    .iter()
                    .any(|p| key.starts_with(p))
            {
                continue;
            }
            let path = format!("{obj_path}/annotations/{key}");
            if key == "kubectl.kubernetes.io/last-applied-configuration" {
                let Ok(applied) = serde_json::from_str::<serde_json::Value>(value) else {
                    continue;
                };
                if applied.get("kind").and_then(|k| k.as_str()) != Some("Secret") {
                    continue;
                }
                let keys: Vec<String> = ["data", "stringData"]
                    .iter()
                    .filter_map(|s| applied.get(*s).and_then(|d| d.as_object()))
                    .flat_map(|m| m.iter())
                    .filter(|(_, v)| {
                        v.as_str().is_some_and(|s| {
                            !s.trim().is_empty() && !is_placeholder(s, &s.to_ascii_lowercase())
                        })
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                if !keys.is_empty() {
                    let at = self.value_offset(v, value);
                    let message = format!(
                        "annotation `{key}` carries the Secret's data ({}) in plain text",
                        keys.join(", ")
                    );
                    self.report(Code::SL011, at, value, path, message, Confidence::High);
                }
                continue;
            }
            let short = key.rsplit('/').next().unwrap_or(key);
            self.check_pair(Code::SL011, short, v, path, "annotation sets");
        }
    }

    fn secret(&mut self, obj: &Node, name: &str, obj_path: &str) {
        for section in ["data", "stringData"] {
            let Some(data) = obj.get(section) else {
                continue;
            };
            for (k, v) in data.entries() {
                let (Some(key), Some(raw)) = (k.str(), v.str()) else {
                    continue;
                };
                let raw_trim = raw.trim();
                if raw_trim.is_empty() || raw_trim.starts_with("ENC[") {
                    continue;
                }
                let decoded = if section == "data" {
                    decode_base64(raw_trim)
                } else {
                    None
                };
                let plain: &str = match &decoded {
                    Some(Decoded::Text(t)) => t,
                    Some(Decoded::Binary) => "",
                    None => raw_trim,
                };
                let lower = plain.to_ascii_lowercase();
                if !plain.is_empty()
                    && (plain.trim().is_empty()
                        || is_placeholder(plain.trim(), &lower)
                        || is_public_certificate(plain)
                        || self
                            .settings
                            .values
                            .extra_placeholders
                            .iter()
                            .any(|r| r.is_match(plain)))
                {
                    continue;
                }
                if matches!(key, "ca.crt" | "tls.crt" | "namespace")
                    && !plain.contains("PRIVATE KEY")
                {
                    continue;
                }
                let at = self.value_offset(v, raw);
                let message = format!(
                    "Secret `{name}` commits key `{key}` in plain text ({}); seal it with `sealant seal`",
                    if section == "data" {
                        "base64 is not encryption"
                    } else {
                        "stringData"
                    }
                );
                let path = format!("{obj_path}/{section}/{key}");
                self.report(Code::SL002, at, raw, path, message, Confidence::High);
            }
        }
    }

    fn config_map(&mut self, obj: &Node, name: &str, obj_path: &str) {
        let Some(data) = obj.get("data") else { return };
        for (k, v) in data.entries() {
            let (Some(key), Some(value)) = (k.str(), v.str()) else {
                continue;
            };
            let path = format!("{obj_path}/data/{key}");
            if value.contains('\n') || (self.name_match(key).is_none() && value.contains('=')) {
                self.embedded(
                    Code::SL003,
                    v,
                    value,
                    &path,
                    &format!("ConfigMap `{name}` file `{key}` sets"),
                );
            } else {
                let what = format!("ConfigMap `{name}` sets");
                self.check_pair(Code::SL003, key, v, path, &what);
            }
        }
    }

    /// Configuration embedded in a string (a ConfigMap file, a Helm `values: |` block).
    fn embedded(&mut self, rule: Code, node: &Node, value: &str, path: &str, what: &str) {
        let mut from = node.start;
        for line in value.lines() {
            if !has_needle(line.as_bytes()) && self.settings.extra_names.is_empty() {
                continue;
            }
            let Some(a) = parse_assignment(line) else {
                continue;
            };
            let Some(m) = self.name_match(a.key) else {
                continue;
            };
            if !self.settings.values.is_credential_value(a.value, m) {
                continue;
            }
            let line_at = self.locate(from, line.trim());
            from = line_at;
            let trimmed_lead = line.len() - line.trim_start().len();
            let at = line_at + a.value_at.saturating_sub(trimmed_lead);
            let message = format!("{what} `{}` to a literal credential", a.key);
            self.report(
                rule,
                at,
                a.value,
                format!("{path}/{}", a.key),
                message,
                Self::confidence(m),
            );
        }
    }

    // ----- the generic walker -----

    fn walk(&mut self, node: &Node, w: Walk<'_>, path: &str) {
        match &node.kind {
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let Some(key) = k.str() else { continue };
                    let child = if path.is_empty() {
                        key.to_string()
                    } else {
                        format!("{path}/{key}")
                    };
                    match &v.kind {
                        Kind::Scalar(..) => {
                            let (rule, what) = match w.container {
                                Some(_) => (Code::SL001, "container field sets"),
                                None => (w.rule, rule_verb(w.rule)),
                            };
                            // A bare `key:` takes its meaning from its parent
                            // (`encryption: {key: ...}` is an encryption key).
                            let parent = path.rsplit('/').next().unwrap_or("");
                            if matches!(key, "key" | "value" | "pass")
                                && !parent.is_empty()
                                && self.name_match(key).is_none()
                            {
                                let joined = format!("{parent}_{key}");
                                self.check_pair(rule, &joined, v, child, what);
                            } else if node_style(v) == Some(Style::Block)
                                && w.container.is_none()
                                && self.name_match(key).is_none()
                            {
                                // Configuration embedded as text (`helm: {values: |...}` of an
                                // Argo CD Application, `config.yaml: |`).
                                let text = v.str().unwrap_or("");
                                self.embedded(rule, v, text, &child, &format!("`{key}` text sets"));
                            } else {
                                self.check_pair(rule, key, v, child, what);
                            }
                        }
                        Kind::Seq(items)
                            if w.k8s
                                && matches!(
                                    key,
                                    "containers" | "initContainers" | "ephemeralContainers"
                                ) =>
                        {
                            for c in items {
                                let cname = c.get_str("name").unwrap_or("?");
                                let cpath = format!("{child}[{cname}]");
                                self.walk(
                                    c,
                                    Walk {
                                        container: Some(cname),
                                        ..w
                                    },
                                    &cpath,
                                );
                            }
                        }
                        Kind::Seq(items)
                            if w.container.is_some() && matches!(key, "command" | "args") =>
                        {
                            self.args(items, w.container.unwrap_or("?"), &child);
                        }
                        _ => self.walk(v, w, &child),
                    }
                }
            }
            Kind::Seq(items) => {
                for item in items {
                    match &item.kind {
                        Kind::Map(_) => {
                            if let (Some(name), Some(value)) =
                                (item.get_str("name"), item.get("value"))
                                && value.str().is_some()
                            {
                                let (rule, what) = match w.container {
                                    Some(c) => (Code::SL001, format!("container `{c}` sets")),
                                    None => (w.rule, rule_verb(w.rule).to_string()),
                                };
                                let p = format!("{path}/{name}");
                                self.check_pair(rule, name, value, p, &what);
                                continue;
                            }
                            self.walk(item, w, path);
                        }
                        Kind::Scalar(s, _) => self.list_assignment(item, s, w, path),
                        _ => self.walk(item, w, path),
                    }
                }
            }
            Kind::Scalar(..) | Kind::Alias => {}
        }
    }

    /// `KEY=value` and `--flag=value` list items (compose `environment:` lists, `extraArgs`).
    fn list_assignment(&mut self, item: &Node, s: &str, w: Walk<'_>, path: &str) {
        let trimmed = s.trim_start_matches('-');
        let Some((key, value)) = trimmed.split_once('=') else {
            return;
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return;
        }
        let Some(m) = self.name_match(key) else {
            return;
        };
        if !self.settings.values.is_credential_value(value, m) {
            return;
        }
        let at = item.start + (s.len() - value.len());
        let rule = if w.container.is_some() {
            Code::SL006
        } else {
            w.rule
        };
        let message = format!("{} `{key}` to a literal credential", rule_verb(rule));
        self.report(
            rule,
            at,
            value,
            format!("{path}/{key}"),
            message,
            Self::confidence(m),
        );
    }

    /// Container `command`/`args`: `--password=x`, `--password x`, `DB_PASSWORD=x ./run`,
    /// `mysql -psecret`.
    fn args(&mut self, items: &[Node], container: &str, path: &str) {
        let re = arg_regexes();
        for (i, item) in items.iter().enumerate() {
            let Some(s) = item.str() else { continue };
            if let Some(caps) = re.flag.captures(s) {
                let Some(flag) = caps.get(1) else { continue };
                // `--from-literal=password=x`, `--set db.password=x`: the name is inside.
                if let Some(v) = caps.get(2)
                    && self.name_match(flag.as_str()).is_none()
                    && let Some((inner, inner_value)) = v.as_str().split_once('=')
                    && let Some(m) = self.name_match(inner)
                {
                    if self.settings.values.is_credential_value(inner_value, m) {
                        let at = item.start + v.start() + inner.len() + 1;
                        let message = format!(
                            "container `{container}` passes `{inner}` a literal credential on its command line"
                        );
                        let key_path = format!("{path}/{inner}");
                        self.report(
                            Code::SL006,
                            at,
                            inner_value,
                            key_path,
                            message,
                            Self::confidence(m),
                        );
                    }
                    continue;
                }
                let Some(m) = self.name_match(flag.as_str()) else {
                    continue;
                };
                let (value, at) = match caps.get(2) {
                    Some(v) => (v.as_str(), item.start + v.start()),
                    None => match items.get(i + 1).and_then(|n| n.str().map(|s| (s, n.start))) {
                        Some((next, at)) if !next.starts_with('-') => (next, at),
                        _ => continue,
                    },
                };
                if self.settings.values.is_credential_value(value, m) {
                    let message = format!(
                        "container `{container}` passes `{}` a literal credential on its command line",
                        flag.as_str()
                    );
                    self.report(
                        Code::SL006,
                        at,
                        value,
                        format!("{path}/{}", flag.as_str()),
                        message,
                        Self::confidence(m),
                    );
                }
                continue;
            }
            let who = format!("container `{container}`");
            self.command_text(s, item.start, &who, path);
        }
    }

    /// Credentials in a free-form command line (a shell string in `args`, a script line, a
    /// Dockerfile `RUN`): `--password x`, `--set db.password=x`, `--from-literal=token=x`,
    /// `DB_PASSWORD=x ./run`, `mysql -pX`. `from` is where the text starts in the file.
    fn command_text(&mut self, s: &str, from: usize, who: &str, path: &str) {
        let re = arg_regexes();
        let mut found: Vec<(String, String, NameMatch)> = Vec::new();
        // Shell strings nest quotes (`sh -c 'mysql -p... && X=y'`): search them unquoted.
        let unquoted = s.replace(['\'', '"'], " ");
        for caps in re.inline.captures_iter(&unquoted) {
            let Some(name) = caps.get(1).or_else(|| caps.get(2)) else {
                continue;
            };
            let Some(value) = caps.get(3) else { continue };
            let v = value.as_str();
            match self.name_match(name.as_str()) {
                Some(m) => found.push((name.as_str().to_string(), v.to_string(), m)),
                None => {
                    if let Some((inner, inner_value)) = v.split_once('=')
                        && let Some(m) = self.name_match(inner)
                    {
                        found.push((inner.to_string(), inner_value.to_string(), m));
                    }
                }
            }
        }
        if s.contains("mysql") {
            for caps in re.mysql.captures_iter(s) {
                if let Some(v) = caps.get(1) {
                    let m = NameMatch {
                        strength: Strength::Strong,
                        ref_prone: false,
                    };
                    found.push(("-p".to_string(), v.as_str().to_string(), m));
                }
            }
        }
        for (name, value, m) in found {
            if !self.settings.values.is_credential_value(&value, m) {
                continue;
            }
            let at = self.locate(from, &value);
            let message = format!("{who} passes `{name}` a literal credential on its command line");
            let key_path = format!("{path}/{name}");
            self.report(
                Code::SL006,
                at,
                &value,
                key_path,
                message,
                Self::confidence(m),
            );
        }
    }

    /// Shell scripts: `export DB_PASSWORD=x` assignments (SL008) and command lines (SL006).
    fn scan_script(&mut self) {
        let source = self.source;
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let at = self.locate_line(n);
            if let Some(a) = parse_assignment(line)
                && !a.key.contains('.')
                && !line[..a.value_at].contains(':')
                && !a.value.contains(char::is_whitespace)
            {
                if let Some(m) = self.name_match(a.key)
                    && self.settings.values.is_credential_value(a.value, m)
                {
                    let message = format!("script sets `{}` to a literal credential", a.key);
                    self.report(
                        Code::SL008,
                        at + a.value_at,
                        a.value,
                        a.key.to_string(),
                        message,
                        Self::confidence(m),
                    );
                }
                continue;
            }
            self.command_text(line, at, "script", "script");
        }
    }

    /// Dockerfiles: `ENV`/`ARG` with credential-like names and literal values (SL008, baked
    /// into every image layer), and `RUN` command lines (SL006).
    fn scan_dockerfile(&mut self) {
        let source = self.source;
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let trimmed = line.trim_start();
            let at = self.locate_line(n) + (line.len() - trimmed.len());
            let upper: String = trimmed
                .chars()
                .take(4)
                .collect::<String>()
                .to_ascii_uppercase();
            if upper.starts_with("ENV ") || upper.starts_with("ARG ") {
                let rest = &trimmed[4..];
                let rest_at = at + 4;
                let pairs: Vec<(&str, &str, usize)> = if rest.contains('=') {
                    rest.split_whitespace()
                        .filter_map(|kv| {
                            let (k, v) = kv.split_once('=')?;
                            let off = rest.find(kv)? + k.len() + 1;
                            Some((
                                k,
                                v.trim_matches(['"', '\'']),
                                off + usize::from(v.starts_with(['"', '\''])),
                            ))
                        })
                        .collect()
                } else {
                    let mut parts = rest.trim_start().splitn(2, char::is_whitespace);
                    match (parts.next(), parts.next()) {
                        (Some(k), Some(v)) => {
                            let off = rest.find(v.trim()).unwrap_or(0);
                            vec![(k, v.trim().trim_matches(['"', '\'']), off)]
                        }
                        _ => Vec::new(),
                    }
                };
                for (k, v, off) in pairs {
                    if let Some(m) = self.name_match(k)
                        && self.settings.values.is_credential_value(v, m)
                    {
                        let message = format!(
                            "Dockerfile `{}` sets `{k}` to a literal credential",
                            &upper[..3]
                        );
                        self.report(
                            Code::SL008,
                            rest_at + off,
                            v,
                            format!("Dockerfile/{k}"),
                            message,
                            Self::confidence(m),
                        );
                    }
                }
            } else if upper.starts_with("RUN ") {
                self.command_text(trimmed, at, "Dockerfile `RUN`", "Dockerfile/RUN");
            }
        }
    }

    // ----- Kustomize -----

    fn kustomization(&mut self, root: &Node) {
        for generator in root
            .get("secretGenerator")
            .map(Node::items)
            .unwrap_or_default()
        {
            let gname = generator.get_str("name").unwrap_or("?");
            for literal in generator
                .get("literals")
                .map(Node::items)
                .unwrap_or_default()
            {
                let Some(s) = literal.str() else { continue };
                let Some((key, value)) = s.split_once('=') else {
                    continue;
                };
                if !self.settings.values.is_literal_secret(value) && !self.strict_literal(value) {
                    continue;
                }
                let confidence = match self.name_match(key) {
                    Some(_) => Confidence::High,
                    None => Confidence::Medium,
                };
                let at = literal.start + key.len() + 1;
                let message =
                    format!("secretGenerator `{gname}` commits literal `{key}` in plain text");
                let path = format!("secretGenerator/{gname}/{key}");
                self.report(Code::SL007, at, value, path, message, confidence);
            }
            for field in ["envs", "env"] {
                let files: Vec<&Node> = match generator.get(field) {
                    Some(n) if n.str().is_some() => vec![n],
                    Some(n) => n.items().iter().collect(),
                    None => Vec::new(),
                };
                for f in files {
                    if let Some(p) = f.str() {
                        self.generator_env_files
                            .push((p.to_string(), gname.to_string()));
                    }
                }
            }
        }
        for generator in root
            .get("configMapGenerator")
            .map(Node::items)
            .unwrap_or_default()
        {
            let gname = generator.get_str("name").unwrap_or("?");
            for literal in generator
                .get("literals")
                .map(Node::items)
                .unwrap_or_default()
            {
                let Some(s) = literal.str() else { continue };
                let Some((key, value)) = s.split_once('=') else {
                    continue;
                };
                let Some(m) = self.name_match(key) else {
                    continue;
                };
                if self.settings.values.is_credential_value(value, m) {
                    let at = literal.start + key.len() + 1;
                    let message = format!(
                        "configMapGenerator `{gname}` sets `{key}` to a literal credential"
                    );
                    let path = format!("configMapGenerator/{gname}/{key}");
                    self.report(Code::SL003, at, value, path, message, Self::confidence(m));
                }
            }
        }
        for (k, v) in root.entries() {
            let key = k.str().unwrap_or("");
            if !matches!(
                key,
                "secretGenerator" | "configMapGenerator" | "resources" | "patches"
            ) {
                self.walk(
                    v,
                    Walk {
                        rule: Code::SL010,
                        k8s: true,
                        container: None,
                    },
                    key,
                );
            }
        }
    }

    /// Secret data is secret whatever it looks like, except placeholders and emptiness.
    fn strict_literal(&self, value: &str) -> bool {
        let v = value.trim();
        !v.is_empty() && !is_placeholder(v, &v.to_ascii_lowercase())
    }

    /// A Kustomize secretGenerator env file: every value is Secret data.
    pub fn generator_env_file(&mut self, generator: &str) {
        let source = self.source;
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let Some(a) = parse_assignment(line) else {
                continue;
            };
            if !self.strict_literal(a.value) || a.value.starts_with("ENC[") {
                continue;
            }
            let line_start = self.locate_line(n);
            let message = format!(
                "secretGenerator `{generator}` reads `{}` from this file in plain text",
                a.key
            );
            let path = format!("secretGenerator/{generator}/{}", a.key);
            self.report(
                Code::SL007,
                line_start + a.value_at,
                a.value,
                path,
                message,
                Confidence::High,
            );
        }
    }

    fn locate_line(&self, n: usize) -> usize {
        let line = self.source.line(n);
        let base = line.as_ptr() as usize - self.source.text.as_ptr() as usize;
        base.min(self.source.text.len())
    }

    // ----- line scans -----

    fn scan_lines(&mut self, rule: Code, what: &str) {
        let source = self.source;
        for n in 1..=source.line_count() {
            let full = source.line(n);
            // `.npmrc`: `//registry.npmjs.org/:_authToken=...` scopes the key with a URL.
            let skip = match full.find(":_") {
                Some(i) if full.trim_start().starts_with("//") => i + 2,
                _ => 0,
            };
            let line = &full[skip..];
            let Some(mut a) = parse_assignment(line) else {
                continue;
            };
            a.value_at += skip;
            let Some(m) = self.name_match(a.key) else {
                continue;
            };
            if !self.settings.values.is_credential_value(a.value, m) {
                continue;
            }
            let at = self.locate_line(n) + a.value_at;
            let message = format!("{what} `{}` to a literal credential", a.key);
            self.report(
                rule,
                at,
                a.value,
                a.key.to_string(),
                message,
                Self::confidence(m),
            );
        }
    }

    /// Helm templates that are not YAML even when masked: env pairs (`- name: X` then
    /// `value: Y`) and `key: value` lines.
    fn scan_template_lines(&mut self) {
        let source = self.source;
        let mut pending_env: Option<(String, usize)> = None;
        let (mut secret, mut secret_data) = (false, false);
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let indent = line.len() - line.trim_start().len();
            if line.starts_with("---") {
                (secret, secret_data) = (false, false);
            }
            let Some(a) = parse_assignment(line) else {
                continue;
            };
            if indent == 0 {
                secret |= a.key == "kind" && a.value == "Secret";
                secret_data = secret && matches!(a.key, "data" | "stringData");
                continue;
            }
            if secret_data && !line.trim_start().starts_with('-') {
                if self.strict_literal(a.value) && !a.value.starts_with("ENC[") {
                    let at = self.locate_line(n) + a.value_at;
                    let message = format!(
                        "Secret template commits key `{}` in plain text; seal it with `sealant seal`",
                        a.key
                    );
                    self.report(
                        Code::SL002,
                        at,
                        a.value,
                        format!("Secret/{}", a.key),
                        message,
                        Confidence::High,
                    );
                }
                continue;
            }
            if line.trim_start().starts_with("- ") && a.key == "name" {
                pending_env = Some((a.value.to_string(), indent + 2));
                continue;
            }
            let at = self.locate_line(n) + a.value_at;
            if a.key == "value" {
                if let Some((name, env_indent)) = pending_env.take()
                    && env_indent == indent
                    && let Some(m) = self.name_match(&name)
                    && self.settings.values.is_credential_value(a.value, m)
                {
                    let message = format!("container sets `{name}` to a literal credential");
                    self.report(
                        Code::SL001,
                        at,
                        a.value,
                        format!("env/{name}"),
                        message,
                        Self::confidence(m),
                    );
                }
                continue;
            }
            let Some(m) = self.name_match(a.key) else {
                continue;
            };
            if self.settings.values.is_credential_value(a.value, m) {
                let message = format!("chart template sets `{}` to a literal credential", a.key);
                self.report(
                    Code::SL009,
                    at,
                    a.value,
                    a.key.to_string(),
                    message,
                    Self::confidence(m),
                );
            }
        }
    }

    // ----- raw text -----

    fn raw_search(&mut self) {
        let text = self.source.text;
        let mut raw = Vec::new();
        if self.settings.is_enabled(Code::SL004) {
            raw.extend(find_tokens(text).into_iter().map(|m| (Code::SL004, m)));
        }
        if self.settings.is_enabled(Code::SL005) {
            raw.extend(
                find_url_credentials(text)
                    .into_iter()
                    .map(|m| (Code::SL005, m)),
            );
        }
        if !raw.is_empty()
            && self.unparsed_yaml
            && (text.contains("SealedSecret") || text.contains("sops"))
        {
            // No credential names, but maybe ciphertext: parse only to mask it from the
            // token search.
            self.unparsed_yaml = false;
            if let Ok(docs) = yaml::parse(self.source) {
                for doc in &docs {
                    self.mask_ciphertext(&doc.root, doc.start, doc.end);
                }
            }
        }
        for (rule, m) in raw {
            if self.skip.iter().any(|&(s, e)| m.start >= s && m.start < e) {
                continue;
            }
            let (line, _) = self.source.position(m.start);
            if self.source.line(line).contains("ENC[") {
                continue;
            }
            let value = &text[m.start..m.end];
            let message = match rule {
                Code::SL004 => format!(
                    "{} in plain text; revoke it and keep it in a sealed Secret",
                    m.label
                ),
                _ => format!(
                    "{} carries a literal password; keep the password in a sealed Secret",
                    m.label
                ),
            };
            let key_path = format!("{}:{}", m.label, self.enclosing_key(line));
            self.report(rule, m.start, value, key_path, message, m.confidence);
        }
    }

    /// The key of the line a raw match is on (`GITHUB_TOKEN` in `GITHUB_TOKEN: ghp_...`), so that
    /// fingerprints of raw matches survive line moves.
    fn enclosing_key(&self, line: usize) -> String {
        parse_assignment(self.source.line(line))
            .map(|a| a.key.to_string())
            .unwrap_or_default()
    }
}

/// The start of a message for a credential-like key found by the generic walker.
fn rule_verb(rule: Code) -> &'static str {
    match rule {
        Code::SL008 => "docker-compose environment sets",
        Code::SL009 => "Helm value sets",
        Code::SL006 => "command line sets",
        _ => "configuration sets",
    }
}

fn node_style(node: &Node) -> Option<Style> {
    match &node.kind {
        Kind::Scalar(_, style) => Some(*style),
        _ => None,
    }
}

/// `services:` whose entries look like compose services.
fn looks_like_compose(root: &Node) -> bool {
    root.get("services").is_some_and(|s| {
        s.entries().any(|(_, svc)| {
            svc.get("image").is_some()
                || svc.get("build").is_some()
                || svc.get("environment").is_some()
        })
    })
}

/// `"SL001,SL003"`, `"all"`; unknown ids are ignored. Empty means every rule.
pub fn parse_codes(s: &str) -> Vec<Code> {
    s.split([',', ' '])
        .filter(|p| !p.trim().is_empty())
        .filter_map(|p| p.parse::<Code>().ok())
        .collect()
}

enum Decoded {
    Text(String),
    Binary,
}

fn decode_base64(raw: &str) -> Option<Decoded> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    Some(match String::from_utf8(bytes) {
        Ok(s) => Decoded::Text(s),
        Err(_) => Decoded::Binary,
    })
}

fn needles() -> Option<&'static regex::bytes::Regex> {
    static NEEDLES: OnceLock<Option<regex::bytes::Regex>> = OnceLock::new();
    NEEDLES
        .get_or_init(|| {
            let alternation = super::names::PREFILTER_NEEDLES.join("|");
            regex::bytes::Regex::new(&format!("(?i-u){alternation}")).ok()
        })
        .as_ref()
}

/// Whether `text` contains a credential-like word at all (case-insensitive).
fn has_needle(text: &[u8]) -> bool {
    // Without the compiled needles (impossible for constant patterns) assume yes.
    needles().is_none_or(|re| re.is_match(text))
}

/// Cheap check before parsing YAML: could any structural rule report something in `text`?
///
/// Conservative: parse when the file holds a `kind: Secret`, a Kustomize generator, or a
/// credential-like name anywhere except (a) as the value of an ordinary key (`key: db_password`
/// in a `secretKeyRef`, `secretName: db-secret`) or (b) as an env `name:` whose entry takes its
/// value from `valueFrom`. Everything else (keys, `KEY=value` strings, flags, embedded
/// configuration) makes the file parse. Most manifests of a repository that already keeps its
/// secrets out of git skip the parser this way.
pub fn needs_parse(text: &str, settings: &Settings) -> bool {
    static ALWAYS: OnceLock<Option<Regex>> = OnceLock::new();
    if !settings.extra_names.is_empty() {
        return true;
    }
    let Some(needles) = needles() else {
        return true;
    };
    // A Secret (every key is data) or a Kustomize generator (every literal is): always parse.
    let always = ALWAYS
        .get_or_init(|| Regex::new(r"kind\W{1,4}Secret\b|secretGenerator|configMapGenerator").ok());
    if always.as_ref().is_none_or(|re| re.is_match(text)) {
        return true;
    }
    // Only SealedSecrets (their ciphertext is masked lazily if the token search hits it).
    let kinds = text.matches("kind:").count();
    if kinds > 0 && kinds == text.matches("kind: SealedSecret").count() {
        return false;
    }
    // Words already found not credential-like (`secretKeyRef` repeats in every env entry).
    let mut rejected: Vec<&str> = Vec::new();
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.';
    let mut last_end = 0;
    for m in needles.find_iter(bytes) {
        if m.start() < last_end {
            continue;
        }
        let mut start = m.start();
        while start > 0 && ident(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = m.end();
        while end < bytes.len() && ident(bytes[end]) {
            end += 1;
        }
        last_end = end;
        let word = &text[start..end];
        let name = word.trim_start_matches('-');
        if rejected.contains(&name) {
            continue;
        }
        if classify_name(name, &[], &settings.ignored_names).is_none() {
            if rejected.len() < 64 {
                rejected.push(name);
            }
            continue;
        }
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
        let before = &text[line_start..start];
        let after = &text[end..line_end];
        // The word is a value if a `key:` directly precedes it (not a `{`, `,` or `-`).
        let lead = before.trim_end_matches([' ', '"', '\'', '\t']);
        if !lead.ends_with(':') {
            return true;
        }
        let colon = lead.len() - 1;
        if word.starts_with('-') || after.starts_with('=') {
            return true;
        }
        let key = before[..colon]
            .trim_end_matches(['"', '\''])
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .next()
            .unwrap_or("");
        if key != "name" {
            continue;
        }
        // The name of a referenced object (`secretKeyRef: {name: db-credentials}`).
        let prev_line = text[..line_start]
            .trim_end()
            .rsplit('\n')
            .next()
            .unwrap_or("");
        if before.contains("Ref") || prev_line.trim_end().ends_with("Ref:") {
            continue;
        }
        // A `name:` matters only as an env-style entry with a literal `value` on the same line
        // or one of the next lines (not `valueFrom`, not a metadata name).
        let has_value = |l: &str| {
            let t = l.trim_start().trim_start_matches(['"', '\'']);
            t.starts_with("value\"") || t.starts_with("value'") || t.starts_with("value:")
        };
        let same_line = after.contains("value") && !after.contains("valueFrom");
        let next = text[line_end..].lines().skip(1).take(3).any(has_value);
        if same_line || next {
            return true;
        }
    }
    false
}

struct ArgRegexes {
    flag: Regex,
    inline: Regex,
    mysql: Regex,
}

fn arg_regexes() -> &'static ArgRegexes {
    static RE: OnceLock<ArgRegexes> = OnceLock::new();
    // Invariant: constant patterns, exercised by the SL006 fixture.
    #[allow(clippy::expect_used)]
    RE.get_or_init(|| ArgRegexes {
        flag: Regex::new(r"^--?([A-Za-z][A-Za-z0-9_.\-]*)(?:=(.*))?$").expect("flag pattern"),
        inline: Regex::new(
            r#"(?:^|[\s;&|(])(?:--?([A-Za-z][A-Za-z0-9_.\-]*)(?:=|\s+)|([A-Za-z_][A-Za-z0-9_]*)=)("[^"]*"|'[^']*'|[^\s;&|)"']+)"#,
        )
        .expect("inline pattern"),
        mysql: Regex::new(r"\s-p([^\s'\x22;&|]{3,})").expect("mysql pattern"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_needed(text: &str) -> bool {
        needs_parse(text, &Settings::default())
    }

    #[test]
    fn prefilter_skips_sealed_secrets() {
        let sealed = "apiVersion: sealant.dev/v1alpha1\nkind: SealedSecret\nspec:\n  encryptedData:\n    password: AQ==\n";
        assert!(!parse_needed(sealed));
        let mixed = format!("{sealed}---\nkind: ConfigMap\ndata:\n  password: x\n");
        assert!(parse_needed(&mixed));
    }

    #[test]
    fn prefilter_skips_only_references() {
        let by_ref = "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\n";
        assert!(!parse_needed(by_ref));
        assert!(!parse_needed(
            "spec:\n  tls:\n    - secretName: web-secret\n"
        ));
        for leaky in [
            "env:\n  - name: DB_PASSWORD\n    value: x\n",
            "password: x\n",
            "{\"spec\": {\"apiKey\": \"x\"}}",
            "args: [\"--password=x\"]\n",
            "environment:\n  - API_KEY=x\n",
            "data:\n  app.properties: |\n    db.password=x\n",
            "kind: Secret\ndata:\n  a: b\n",
            "secretGenerator:\n- name: a\n",
            "[{\"name\": \"TOKEN\", \"value\": \"x\"}]",
        ] {
            assert!(parse_needed(leaky), "{leaky:?} must be parsed");
        }
    }
}
