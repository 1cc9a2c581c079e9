//! SL011 `annotation-credential`: Credential in an object's annotations.

use crate::analyzers::FileKind;
use crate::analyzers::FileScan;
use crate::analyzers::IGNORE_ANNOTATION;
use crate::codes::Confidence;
use crate::codes::{Code, Rule, Severity};
use crate::values::Class;
use crate::yaml::{Node, Source};

pub const RULE: Rule = Rule {
    code: Code::SL011,
    id: "SL011",
    name: "annotation-credential",
    summary: "Credential in an object's annotations",
    severity: Severity::High,
    doc: r#"## What it does
Checks `metadata.annotations` for credential-like annotation keys with literal values, and for a
`kubectl.kubernetes.io/last-applied-configuration` that carries a Secret's `data` or `stringData`,
or any credential the other rules find in the applied copy of another object (a Pod's env, a
ConfigMap's config file).

## Why is this bad
`kubectl apply` copies the whole object, data included, into the last-applied annotation; the
Secret's values then leak wherever the object's metadata is shown, and a sealed copy in git does
not help.

## Example
```yaml
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","kind":"Secret","data":{"password":"c3VwZXJzZWNyZXQ="}}
```

## Use instead
Strip `last-applied-configuration` from exported manifests, apply Secrets with server-side apply
(`kubectl apply --server-side`), and keep credentials out of annotations.
"#,
};

impl FileScan<'_> {
    pub(crate) fn annotations(&mut self, annotations: &Node, obj_path: &str) {
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
                    self.last_applied_object(v, value, &path);
                    continue;
                }
                let keys: Vec<String> = ["data", "stringData"]
                    .iter()
                    .filter_map(|s| applied.get(*s).and_then(|d| d.as_object()))
                    .flat_map(|m| m.iter())
                    .filter(|(_, v)| {
                        v.as_str().is_some_and(|s| {
                            self.settings.values.classify_data(s).class == Class::Credential
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
}

impl FileScan<'_> {
    /// The last-applied copy of any other object (a Pod, a Deployment, a ConfigMap) is the object
    /// as applied, credentials included: it is analysed as one, and each credential in it is
    /// reported at the annotation, under this rule, with the inner finding's message.
    fn last_applied_object(&mut self, node: &Node, value: &str, path: &str) {
        if !self.settings.is_enabled(Code::SL011) {
            return;
        }
        let source = Source::new(value);
        let mut inner = FileScan::new(&source, self.path, self.settings);
        inner.test_data = self.test_data;
        inner.test_reason = self.test_reason;
        inner.template = self.template;
        inner.decode_budget = self.decode_budget.min(8);
        inner.yaml_file(FileKind::Yaml);
        let start = self.value_offset(node, value);
        let end = node
            .end
            .max(start + value.len())
            .min(self.source.text.len())
            .max(start + 1);
        for f in inner.findings {
            // The inner offsets are into the annotation's text; in the file they are near the
            // same distance from its start (exact for block scalars), never past its end.
            let at = (start + f.span.0).min(end - 1);
            let (line, column) = self.source.position(at);
            let severity = if self.test_data {
                Severity::Low
            } else {
                RULE.severity.min(f.severity.max(Severity::Medium))
            };
            self.findings.push(crate::finding::Finding {
                rule: Code::SL011,
                line,
                column,
                message: format!(
                    "annotation `kubectl.kubernetes.io/last-applied-configuration` repeats it: {}",
                    f.message
                ),
                severity,
                fixture: self.test_data || f.fixture,
                key_path: format!("{path}/{}", f.key_path),
                span: (at, (start + f.span.1).min(end).max(at + 1)),
                ..f
            });
        }
    }
}

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
