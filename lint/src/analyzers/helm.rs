//! Helm chart templates that do not parse as YAML even with their actions masked.

use crate::analyzers::{FileKind, FileScan, is_self_reference};
use crate::codes::Code;
use crate::rules::sl002_committed_secret::SecretEntry;
use crate::text::{mask_template, parse_assignment};
use crate::yaml::{self, Source};

impl FileScan<'_> {
    /// A chart template: parsed as YAML with its `{{ ... }}` actions masked, else line by line.
    pub(crate) fn helm_template(&mut self) {
        self.template_literals();
        let masked = mask_template(self.source.text);
        let masked_source = Source::new(&masked);
        match yaml::parse(&masked_source) {
            Ok(docs) => {
                for doc in &docs {
                    self.document(&doc.root, FileKind::HelmTemplate, doc.start, doc.end);
                }
            }
            Err(yaml::ParseError::Refused(refusal)) => self.diagnostics.push(format!(
                "skipped as YAML: {refusal}; searched as plain text only"
            )),
            Err(yaml::ParseError::Invalid(_)) => {
                self.scan_template_lines(Code::SL009, "chart template sets");
            }
        }
    }

    /// A chart's `templates/NOTES.txt`: template text printed after install. Its `{{ ... }}`
    /// actions are masked (rendered values are checked where they are written); what is left is
    /// read as the commands it shows (SL006, SL008) and its `Key: value` lines (SL009), one token
    /// as value and no sentence.
    pub(crate) fn helm_notes(&mut self) {
        let masked = mask_template(self.source.text);
        let source = Source::new(&masked);
        let mut inner = FileScan::new(&source, self.path, self.settings);
        inner.test_data = self.test_data;
        inner.test_reason = self.test_reason;
        inner.scan_script();
        for n in 1..=source.line_count() {
            let line = source.line(n);
            // `  Admin Password: x`: a label of up to four words, `: `, one token.
            let t = line.trim_start();
            let Some(colon) = t.find(": ") else {
                continue;
            };
            let key = t[..colon].trim();
            let raw = &t[colon + 2..];
            let value = raw.trim().trim_matches(['"', '\'']);
            if key.is_empty()
                || key.split_whitespace().count() > 4
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " _-.".contains(c))
                || value.is_empty()
                || value.contains(char::is_whitespace)
                || value.starts_with('(')
                || value.ends_with(['.', ':', ',', ')'])
                || is_self_reference(key, value)
            {
                continue;
            }
            let Some(m) = inner.name_match(key) else {
                continue;
            };
            if !inner.settings.values.is_credential_value(key, value, m) {
                continue;
            }
            let value_at = (line.len() - t.len()) + colon + 2 + raw.find(value).unwrap_or(0);
            let at = inner.locate_line(n) + value_at;
            let message = format!("chart NOTES.txt shows `{key}` as a literal credential");
            inner.report(
                Code::SL009,
                at,
                value,
                format!("NOTES.txt/{key}"),
                message,
                Self::confidence(m),
            );
        }
        self.findings.extend(inner.findings);
    }

    /// Helm templates that are not YAML even when masked: env pairs (`- name: X` then
    /// `value: Y`) and `key: value` lines.
    pub(crate) fn scan_template_lines(&mut self, rule: Code, what: &str) {
        let source = self.source;
        let mut pending_env: Option<(String, usize)> = None;
        // The Secret being read: its `kind:` offset, name, and whether we are in its data.
        let mut secret: Option<(usize, String)> = None;
        let mut data_indent: Option<usize> = None;
        let mut in_data = false;
        let mut entries: Vec<SecretEntry<'_>> = Vec::new();
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let indent = line.len() - line.trim_start().len();
            if line.starts_with("---") {
                self.flush_template_secret(&mut secret, &mut entries);
                (in_data, data_indent) = (false, None);
            }
            let Some(a) = parse_assignment(line) else {
                continue;
            };
            if indent == 0 {
                if a.key == "kind" {
                    self.flush_template_secret(&mut secret, &mut entries);
                    if a.value == "Secret" {
                        secret = Some((self.locate_line(n) + a.value_at, String::new()));
                    }
                }
                in_data = secret.is_some() && matches!(a.key, "data" | "stringData");
                data_indent = None;
                continue;
            }
            if let Some((_, name)) = secret.as_mut()
                && a.key == "name"
                && name.is_empty()
                && indent == 2
            {
                *name = a.value.to_string();
            }
            if in_data {
                // Only the data's own keys: lines of an embedded block (`config.ini: |` and its
                // `role = "pod"` lines) are the content of one key, not keys.
                let child = *data_indent.get_or_insert(indent);
                if indent == child
                    && !line.trim_start().starts_with('-')
                    && let Some(plain) = self.secret_plaintext(a.key, a.value, false)
                {
                    entries.push(SecretEntry {
                        key: a.key,
                        raw: a.value,
                        plain,
                        at: self.locate_line(n) + a.value_at,
                    });
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
                    && self.settings.values.is_credential_value(&name, a.value, m)
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
            if is_self_reference(a.key, a.value) {
                continue;
            }
            if self.settings.values.is_credential_value(a.key, a.value, m) {
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
        self.flush_template_secret(&mut secret, &mut entries);
    }

    fn flush_template_secret(
        &mut self,
        secret: &mut Option<(usize, String)>,
        entries: &mut Vec<SecretEntry<'_>>,
    ) {
        if let Some((kind_at, name)) = secret.take() {
            let name = if name.is_empty() {
                "?".to_string()
            } else {
                name
            };
            let path = format!("Secret/{name}");
            self.committed_secret(&name, &path, kind_at, entries);
        }
        entries.clear();
    }

    /// Literals hidden inside template actions: `{{ .Values.db.password | default "hunter2" }}`
    /// and `{{ "hunter2" | b64enc }}` render a committed value when nothing overrides them.
    fn template_literals(&mut self) {
        let source = self.source;
        for n in 1..=source.line_count() {
            let line = source.line(n);
            if !line.contains("{{") || !(line.contains("default") || line.contains("b64enc")) {
                continue;
            }
            let Some(a) = parse_assignment(line) else {
                continue;
            };
            let Some(m) = self.name_match(a.key) else {
                continue;
            };
            for (value, offset) in action_literals(line) {
                if !self.settings.values.is_credential_value(a.key, value, m) {
                    continue;
                }
                let at = self.locate_line(n) + offset;
                let message = format!(
                    "chart template sets `{}` to a literal credential inside a template action",
                    a.key
                );
                self.report(
                    Code::SL009,
                    at,
                    value,
                    format!("{}/template-literal", a.key),
                    message,
                    Self::confidence(m),
                );
            }
        }
    }
}

/// Quoted literals of a line's template actions that a rendering can produce: the argument of
/// `default`, and a literal piped into `b64enc` (or `quote`, `trim` on the way). With offsets.
fn action_literals(line: &str) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let mut search = 0;
    while let Some(open) = line[search..].find("{{").map(|p| p + search) {
        let Some(close) = line[open..].find("}}").map(|p| p + open) else {
            break;
        };
        let action = &line[open + 2..close];
        let base = open + 2;
        let mut i = 0;
        while let Some(q) = action[i..].find(['"', '\'']).map(|p| p + i) {
            let quote = &action[q..=q];
            let Some(len) = action[q + 1..].find(quote) else {
                break;
            };
            let literal = &action[q + 1..q + 1 + len];
            let before = action[..q].trim_end();
            let after = action[q + 2 + len..].trim_start();
            let defaulted = before.ends_with("default");
            let encoded = after.starts_with('|') && after.contains("b64enc");
            if (defaulted || encoded) && !literal.is_empty() {
                out.push((literal, base + q + 1));
            }
            i = q + 2 + len;
        }
        search = close + 2;
    }
    out
}

#[cfg(test)]
mod notes_and_jsonnet {
    use crate::Settings;

    fn lines(path: &str, text: &str) -> Vec<(usize, String)> {
        let (findings, _) = crate::scan_text(path, text, &Settings::default());
        findings
            .iter()
            .map(|f| (f.line, f.rule.as_str().to_string()))
            .collect()
    }

    /// A chart's NOTES.txt: literals it prints and commands it shows are reported; rendered
    /// values (`{{ .Values.x }}`), commands that read a Secret, and sentences are not.
    #[test]
    fn helm_notes_are_template_text() {
        let text = "1. Get the application URL by running:\n  export POD_NAME=$(kubectl get pods -l app={{ .Release.Name }} -o name)\n{{- if .Values.auth.enabled }}\n  Username: {{ .Values.auth.username }}\n  Password: {{ .Values.auth.password }}\n{{- end }}\n  echo Password: $(kubectl get secret {{ .Release.Name }} -o jsonpath=\"{.data.password}\" | base64 -d)\n  Password: will be generated.\n  Default Password: S3cr3t-Notes-77\n  export ADMIN_PASSWORD=Adm1n-N0tes-55\n";
        let got = lines("charts/app/templates/NOTES.txt", text);
        assert_eq!(
            got,
            [(9, "SL009".to_string()), (10, "SL008".to_string())],
            "{got:?}"
        );
        // The same text outside a chart's templates is plain text.
        assert!(lines("docs/NOTES.txt", text).is_empty());
    }

    /// jsonnet string fields (`password: 'x'`), not `std.extVar` lookups or hidden fields that
    /// name a key.
    #[test]
    fn jsonnet_string_fields() {
        let text = "{\n  db: {\n    user: 'app',\n    password: 'Xk9-real-Looking-7',\n    token: std.extVar('TOKEN'),\n    passwordKey: 'password',\n  },\n}\n";
        assert_eq!(lines("env/prod.jsonnet", text), [(4, "SL010".to_string())]);
        assert_eq!(lines("lib/db.libsonnet", text), [(4, "SL010".to_string())]);
    }
}
