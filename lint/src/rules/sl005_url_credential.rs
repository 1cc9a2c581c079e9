//! SL005 `url-credential`: Credential in a URL or connection string.

use crate::codes::{Code, Rule, Severity};

pub const RULE: Rule = Rule {
    code: Code::SL005,
    id: "SL005",
    name: "url-credential",
    summary: "Credential in a URL or connection string",
    severity: Severity::High,
    doc: r#"## What it does
Finds URLs with a password in their user info (`postgres://app:s3cret@db:5432/app`) and connection
strings with `Password=...;` in any text file. Placeholders (`${DB_PASSWORD}`, `password`) and
example hosts are skipped.

## Why is this bad
Connection URLs are logged, shown in dashboards and copied around; the password travels with them.

## Example
```yaml
DATABASE_URL: postgres://app:s3cretPassw0rd@db:5432/app
```

## Use instead
Keep the URL without the password and pass the password separately from a sealed Secret, or keep
the whole URL in a sealed Secret and reference it with `secretKeyRef`.
"#,
};
