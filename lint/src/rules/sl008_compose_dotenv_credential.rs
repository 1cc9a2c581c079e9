//! SL008 `compose-dotenv-credential`: Credential in docker-compose environment, a .env file, a script or a Dockerfile.

use crate::codes::{Code, Rule, Severity};

pub const RULE: Rule = Rule {
    code: Code::SL008,
    id: "SL008",
    name: "compose-dotenv-credential",
    summary: "Credential in docker-compose environment, a .env file, a script or a Dockerfile",
    severity: Severity::High,
    doc: r#"## What it does
Checks docker-compose `environment` (map and list forms), `.env` files (`.env`, `.env.*`,
`*.env`), variables set in shell scripts and Dockerfile `ENV`/`ARG` for credential-like variables
with literal values.

## Why is this bad
Compose files and `.env` files are committed and shared; their values end up in every clone.

## Example
```yaml
services:
  db:
    environment:
      POSTGRES_PASSWORD: supersecret123
```

## Use instead
```yaml
services:
  db:
    environment:
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
```
with the value kept out of git (a git-ignored `.env`, or compose `secrets:`).
"#,
};
