//! SL007 `kustomize-secret-literal`: Plaintext value in a Kustomize secretGenerator.

use crate::codes::{Code, Rule, Severity};

pub const RULE: Rule = Rule {
    code: Code::SL007,
    id: "SL007",
    name: "kustomize-secret-literal",
    summary: "Plaintext value in a Kustomize secretGenerator",
    severity: Severity::High,
    doc: r#"## What it does
Reports every `literals` entry of a Kustomize `secretGenerator` and every value of the env files it
reads (`envs:`), when those files are part of the scan (not ignored by git).

## Why is this bad
A secretGenerator only base64-encodes: the plaintext is committed next to the kustomization.

## Example
```yaml
secretGenerator:
  - name: db
    literals:
      - password=supersecret123
```

## Use instead
Generate the Secret outside git, seal it (`sealant seal`) and list the SealedSecret under
`resources:`.
"#,
};
