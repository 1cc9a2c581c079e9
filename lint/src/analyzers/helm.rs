//! Helm chart templates that do not parse as YAML even with their actions masked.

use crate::analyzers::{FileKind, FileScan};
use crate::finding::Confidence;
use crate::rules::Code;
use crate::text::{mask_template, parse_assignment};
use crate::yaml::{self, Source};

impl FileScan<'_> {
    /// A chart template: parsed as YAML with its `{{ ... }}` actions masked, else line by line.
    pub(crate) fn helm_template(&mut self) {
        let masked = mask_template(self.source.text);
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

    /// Helm templates that are not YAML even when masked: env pairs (`- name: X` then
    /// `value: Y`) and `key: value` lines.
    pub(crate) fn scan_template_lines(&mut self) {
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
}
