//! SL010 `config-file-credential`: Credential-like key with a literal value in a configuration file or custom resource.

use crate::codes::{Code, Rule, Severity};

pub const RULE: Rule = Rule {
    code: Code::SL010,
    id: "SL010",
    name: "config-file-credential",
    summary: "Credential-like key with a literal value in a configuration file or custom resource",
    severity: Severity::Medium,
    doc: r#"## What it does
Checks other structured configuration (application YAML and JSON, `.properties`, `.ini`, `.toml`,
`.conf`, Terraform variables, fields of custom resources) for credential-like keys with literal
values.

## Why is this bad
Configuration files are committed, copied into images and mounted into Pods; the credential leaks
with them.

## Example
```properties
spring.datasource.password=supersecret123
```

## Use instead
Read the value from the environment or a mounted file that comes from a sealed Secret:
```properties
spring.datasource.password=${DB_PASSWORD}
```
"#,
};
