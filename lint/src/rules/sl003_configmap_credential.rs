//! SL003 `configmap-credential`: Credential in a ConfigMap.

use crate::codes::{Code, Rule, Severity};

pub const RULE: Rule = Rule {
    code: Code::SL003,
    id: "SL003",
    name: "configmap-credential",
    summary: "Credential in a ConfigMap",
    severity: Severity::High,
    doc: r#"## What it does
Checks `data` of every ConfigMap (and Kustomize `configMapGenerator` literals) for credential-like
keys with literal values, including inside embedded configuration files
(`application.properties: |`, `config.yaml: |`).

## Why is this bad
ConfigMaps are not meant for confidential data: they are readable with broader RBAC than Secrets,
are not encrypted at rest and are often printed in logs and dashboards.

## Example
```yaml
kind: ConfigMap
data:
  DB_PASSWORD: supersecret123
```

## Use instead
Move the value into a Secret, seal it with `sealant seal`, and reference it with `secretKeyRef` or
mount it as a file.
"#,
};
