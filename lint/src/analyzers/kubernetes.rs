//! Kubernetes objects (any kind, `kind: List`, multi-document files, JSON) and the generic YAML
//! walker that every structured file goes through.

use crate::analyzers::compose::looks_like_compose;
use crate::analyzers::{
    FileKind, FileScan, Walk, has_needle, is_self_reference, needs_parse, node_style, rule_verb,
};
use crate::analyzers::{IGNORE_ANNOTATION, parse_codes};
use crate::codes::Code;
use crate::text::parse_assignment;
use crate::values::looks_random;
use crate::yaml::{self, Kind, Node, Source, Style};

impl FileScan<'_> {
    /// Manifests and other YAML/JSON: parsed when the prefilter says a rule could report
    /// something, else left to the raw-text search.
    pub(crate) fn yaml_file(&mut self, kind: FileKind) {
        if !needs_parse(self.source.text, self.settings) {
            self.unparsed_yaml = true;
            return;
        }
        match yaml::parse(self.source) {
            Ok(docs) => {
                for doc in &docs {
                    self.document(&doc.root, kind, doc.start, doc.end);
                }
            }
            Err(yaml::ParseError::Refused(refusal)) => {
                // Built to make parsers spin (issue 18): not read as YAML at all; the token
                // search over its text still runs, and the rest of the repository is scanned.
                self.diagnostics.push(format!(
                    "skipped as YAML: {refusal}; searched as plain text only"
                ));
            }
            Err(yaml::ParseError::Invalid(e)) => {
                // Valid YAML the parser rejects (a multi-line flow sequence) and broken files
                // alike: read line by line rather than skip the structure entirely.
                self.diagnostics.push(format!(
                    "not valid YAML/JSON: {e}; scanned line by line instead"
                ));
                let (rule, what) = match kind {
                    FileKind::HelmValues => (Code::SL009, "Helm value sets"),
                    FileKind::Compose => (Code::SL008, "docker-compose file sets"),
                    _ => (Code::SL010, "configuration sets"),
                };
                self.scan_template_lines(rule, what);
            }
        }
    }

    pub(crate) fn document(&mut self, root: &Node, kind: FileKind, start: usize, end: usize) {
        if let Some(sops) = root.get("sops").filter(|s| s.is_map()) {
            self.skip.push((sops.start, sops.end.max(end)));
        }
        let is_object = root.get_str("kind").is_some()
            && (root.get("apiVersion").is_some() || root.get_str("kind") == Some("List"));
        match kind {
            FileKind::Kustomization => self.kustomization(root),
            FileKind::Compose => {
                self.compose_secrets(root);
                self.walk(
                    root,
                    Walk {
                        rule: Code::SL008,
                        k8s: false,
                        container: None,
                    },
                    "",
                );
            }
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
            _ if looks_like_compose(root) => {
                self.compose_secrets(root);
                self.walk(
                    root,
                    Walk {
                        rule: Code::SL008,
                        k8s: false,
                        container: None,
                    },
                    "",
                );
            }
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
    pub(crate) fn mask_ciphertext(&mut self, root: &Node, start: usize, end: usize) {
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

    pub(crate) fn object(&mut self, obj: &Node, start: usize, end: usize) {
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

    pub(crate) fn config_map(&mut self, obj: &Node, name: &str, obj_path: &str) {
        let Some(data) = obj.get("data") else { return };
        for (k, v) in data.entries() {
            let (Some(key), Some(value)) = (k.str(), v.str()) else {
                continue;
            };
            let path = format!("{obj_path}/data/{key}");
            self.decoded_rescan(v, &path);
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
    pub(crate) fn embedded(
        &mut self,
        rule: Code,
        node: &Node,
        value: &str,
        path: &str,
        what: &str,
    ) {
        let mut from = node.start;
        for line in value.lines() {
            if !has_needle(line.as_bytes()) && self.settings.extra_names.is_empty() {
                continue;
            }
            let pairs = embedded_pairs(line);
            if pairs.is_empty() {
                continue;
            }
            // In a chart template the node holds the masked text (`${xxxx}` for each action) and
            // the file the original: search for a part of the line that masking left alone.
            let trimmed = line.trim();
            let (probe, probe_at) = unmasked_probe(trimmed);
            let line_at = self.locate(from, probe).saturating_sub(probe_at);
            from = line_at;
            let trimmed_lead = line.len() - line.trim_start().len();
            for (key, val, value_at) in pairs {
                let Some(m) = self.name_match(key) else {
                    continue;
                };
                if is_self_reference(key, val)
                    || !self.settings.values.is_credential_value(key, val, m)
                {
                    continue;
                }
                let at = line_at + value_at.saturating_sub(trimmed_lead);
                let message = format!("{what} `{key}` to a literal credential");
                self.report(
                    rule,
                    at,
                    val,
                    format!("{path}/{key}"),
                    message,
                    Self::confidence(m),
                );
            }
        }
    }

    pub(crate) fn walk(&mut self, node: &Node, w: Walk<'_>, path: &str) {
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
                        // `command: mysqld --password=x`: a command line written as one string.
                        Kind::Scalar(text, _) if COMMAND_KEYS.contains(&key) => {
                            let who = match w.container {
                                Some(c) => format!("container `{c}`"),
                                None => format!("`{}`", path.rsplit('/').next().unwrap_or(key)),
                            };
                            let at = self.value_offset(v, text);
                            self.command_text(text, at, &who, &child);
                        }
                        Kind::Scalar(..) => {
                            self.decoded_rescan(v, &child);
                            let (rule, what) = match w.container {
                                Some(_) => (Code::SL001, "container field sets"),
                                None => (w.rule, rule_verb(w.rule)),
                            };
                            // A bare `key:` takes its meaning from its parent
                            // (`encryption: {key: ...}` is an encryption key, `securityQuestion:
                            // {answer: ...}` a security answer).
                            let parent = path.rsplit('/').next().unwrap_or("");
                            if matches!(key, "key" | "value" | "pass" | "answer")
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
                                // Argo CD Application, `config.yaml: |`), or whole manifests
                                // (`extraDeploy: |` with a Secret in it).
                                let text = v.str().unwrap_or("");
                                if !self.embedded_manifest(v, text) {
                                    let what = format!("`{key}` text sets");
                                    self.embedded(rule, v, text, &child, &what);
                                }
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
                        // Container `command`/`args`, compose `command`/`entrypoint`, and the same
                        // lists in Helm values (sidecars, init containers, extra args).
                        Kind::Seq(items) if COMMAND_KEYS.contains(&key) => {
                            let owner = w
                                .container
                                .unwrap_or_else(|| path.rsplit('/').next().unwrap_or("?"));
                            self.args(items, owner, &child);
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
    pub(crate) fn list_assignment(&mut self, item: &Node, s: &str, w: Walk<'_>, path: &str) {
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
        if !self.settings.values.is_credential_value(key, value, m) {
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
}

/// The longest part of `line` outside `${...}` spans, and its offset in `line`.
fn unmasked_probe(line: &str) -> (&str, usize) {
    let mut best = (line, 0);
    if !line.contains("${") {
        return best;
    }
    best = ("", 0);
    let mut start = 0;
    while start <= line.len() {
        let open = line[start..].find("${").map_or(line.len(), |p| p + start);
        if open - start > best.0.len() {
            best = (&line[start..open], start);
        }
        if open >= line.len() {
            break;
        }
        start = line[open..].find('}').map_or(line.len(), |p| p + open + 1);
    }
    best
}

/// The settings of one line of an embedded configuration file, as (key, value, value offset in
/// the line): `key = value` and `key: value` (properties, YAML, TOML, INI), `key value` (Redis,
/// and other space-separated formats: `requirepass s3cret`), and `key="value"` pairs inside a
/// line (JAAS: `...LoginModule required username="u" password="p";`).
fn embedded_pairs(line: &str) -> Vec<(&str, &str, usize)> {
    let mut out = Vec::new();
    if let Some((val, at)) = sql_password(line) {
        out.push(("password", val, at));
        return out;
    }
    if let Some(a) = parse_assignment(line) {
        // A JAAS line parses as one assignment whose value holds more `k="v"` pairs.
        let rest = line.get(a.value_at..).unwrap_or("");
        if !rest.contains("=\"") && !rest.contains("='") {
            out.push((a.key, a.value, a.value_at));
            return out;
        }
    }
    let trimmed = line.trim_start();
    if trimmed.starts_with(['#', ';', '/']) {
        return out;
    }
    // `key="value"` / `key='value'` pairs anywhere in the line.
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(eq) = line[i..].find('=').map(|p| p + i) {
        let quote = bytes.get(eq + 1).copied();
        if matches!(quote, Some(b'"' | b'\'')) {
            let key_start = line[..eq]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)))
                .map_or(0, |p| p + 1);
            let q = quote.map_or('"', char::from);
            if let Some(len) = line[eq + 2..].find(q) {
                let key = &line[key_start..eq];
                if !key.is_empty() {
                    out.push((key, &line[eq + 2..eq + 2 + len], eq + 2));
                }
                i = eq + 2 + len + 1;
                continue;
            }
        }
        i = eq + 1;
    }
    if !out.is_empty() {
        return out;
    }
    // `requirepass s3cret`: a bare name and one value.
    // Only values that look generated: wrapped prose (`password fields.`) is not a setting.
    let mut parts = trimmed.split_whitespace();
    if let (Some(key), Some(val), None) = (parts.next(), parts.next(), parts.next())
        && looks_random(val.trim_matches(['"', '\'']))
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && key.starts_with(|c: char| c.is_ascii_alphabetic())
        && let Some(offset) = line.rfind(val)
    {
        let val_trim = val.trim_matches(['"', '\'']);
        let shift = usize::from(val.starts_with(['"', '\'']));
        out.push((key, val_trim, offset + shift));
    }
    out
}

/// SQL that sets a password: `CREATE ROLE app LOGIN PASSWORD 'x'`, `ALTER USER u WITH ENCRYPTED
/// PASSWORD 'x'` (PostgreSQL), `CREATE USER 'u'@'%' IDENTIFIED BY 'x'`, `IDENTIFIED WITH
/// mysql_native_password BY 'x'` (MySQL), `ALTER USER u IDENTIFIED BY "x"` (Oracle): the quoted
/// literal and its byte offset in the line. Comment lines (`--`) are documentation.
pub(crate) fn sql_password(line: &str) -> Option<(&str, usize)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with("--") || trimmed.starts_with('#') {
        return None;
    }
    let upper = line.to_ascii_uppercase();
    let after = if let Some(i) = upper.find(" PASSWORD ") {
        // `PASSWORD 'x'` but not `PASSWORD = PASSWORD('x')` or `PASSWORD NULL`.
        i + " PASSWORD ".len()
    } else {
        let i = upper.find("IDENTIFIED ")?;
        let rest = &upper[i..];
        let by = rest.find(" BY ")?;
        // `IDENTIFIED BY`, `IDENTIFIED WITH plugin BY`: at most one word between.
        if rest[..by].split_whitespace().count() > 3 {
            return None;
        }
        i + by + " BY ".len()
    };
    let rest = &line[after..];
    let lead = rest.len() - rest.trim_start().len();
    let quote = rest[lead..]
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '"'))?;
    let start = after + lead + 1;
    let len = line[start..].find(quote)?;
    Some((&line[start..start + len], start))
}

/// Keys whose value is a command line (a list of arguments or one string).
const COMMAND_KEYS: &[&str] = &["command", "args", "entrypoint", "extraArgs"];

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

impl FileScan<'_> {
    /// Kubernetes manifests or Kustomize patches written as a block of text inside YAML (a
    /// Secret in a values string, an inline `patch: |`): parsed and analysed as a file of their
    /// own, findings moved to where the block sits. Returns false when the text is not YAML
    /// holding an object or patch operations, so that the caller reads it line by line.
    pub(crate) fn embedded_manifest(&mut self, node: &Node, text: &str) -> bool {
        if node_style(node) != Some(Style::Block)
            || !(text.contains("kind:") || text.contains("op:"))
            || text.len() > 1024 * 1024
        {
            return false;
        }
        let sub_source = Source::new(text);
        let Ok(docs) = yaml::parse(&sub_source) else {
            return false;
        };
        let is_object = |d: &yaml::Document| d.root.get_str("kind").is_some();
        let is_ops = |d: &yaml::Document| {
            !d.root.items().is_empty() && d.root.items().iter().all(|i| i.get("op").is_some())
        };
        if !docs.iter().any(|d| is_object(d) || is_ops(d)) {
            return false;
        }
        let mut sub = FileScan::new(&sub_source, self.path, self.settings);
        sub.template = self.template;
        sub.test_data = self.test_data;
        sub.test_reason = self.test_reason;
        for doc in &docs {
            if is_ops(doc) {
                sub.patch_operations(&doc.root);
            } else {
                sub.document(&doc.root, FileKind::Yaml, doc.start, doc.end);
            }
        }
        // The block's first content line in this file, and its indentation.
        let first = self.value_offset(node, text);
        let (first_line, first_col) = self.source.position(first);
        let text_first_line = text
            .lines()
            .position(|l| !l.trim().is_empty())
            .map_or(1, |i| i + 1);
        for mut f in sub.findings {
            f.line = first_line + f.line.saturating_sub(text_first_line);
            f.column += first_col.saturating_sub(1);
            let at = self.locate_line(f.line) + f.column.saturating_sub(1);
            f.span = (at, at + (f.span.1 - f.span.0));
            self.findings.push(f);
        }
        true
    }

    /// RFC 6902 operations of a Kustomize patch: a literal `value` under a credential-like last
    /// path segment (`/data/password`, `.../env/0/value` with a name), or objects walked whole.
    fn patch_operations(&mut self, ops: &Node) {
        for op in ops.items() {
            let Some(value) = op.get("value") else {
                continue;
            };
            let path = op.get_str("path").unwrap_or("");
            let last = path.rsplit('/').next().unwrap_or("");
            let key_path = format!("patch{path}");
            match &value.kind {
                Kind::Scalar(..) => {
                    self.check_pair(Code::SL010, last, value, key_path, "Kustomize patch sets");
                }
                _ => {
                    let w = Walk {
                        rule: Code::SL010,
                        k8s: true,
                        container: path.contains("containers").then_some("patched"),
                    };
                    self.walk(value, w, &key_path);
                }
            }
        }
    }
}
