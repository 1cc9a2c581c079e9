//! SL009 `helm-values-credential`: Credential-like key with a literal value in Helm values.

use crate::codes::{Code, Rule, Severity};

pub const RULE: Rule = Rule {
    code: Code::SL009,
    id: "SL009",
    name: "helm-values-credential",
    summary: "Credential-like key with a literal value in Helm values",
    severity: Severity::Medium,
    doc: r#"## What it does
Checks Helm `values*.yaml` files (of a chart, or named `values*.yaml`) and literal values in chart
templates for credential-like keys (`password`, `auth.rootPassword`, `apiKey`) with literal values.
Keys such as `existingSecret`, `passwordKey` and `secretName` are references and are skipped.

## Why is this bad
Default values are rendered into every release and published with the chart.

## Example
```yaml
postgresql:
  auth:
    postgresPassword: supersecret123
```

## Use instead
```yaml
postgresql:
  auth:
    existingSecret: postgres-credentials   # a SealedSecret in the same namespace
```
"#,
};
