//! The rules: one [`Rule`] per stable id, documented in fixed sections (What it does, Why is this
//! bad, Example, Use instead), registered in the one table [`RULES`].

use std::fmt;
use std::str::FromStr;

use super::finding::Severity;

/// A rule's stable id. Ids are never reused or renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    SL001,
    SL002,
    SL003,
    SL004,
    SL005,
    SL006,
    SL007,
    SL008,
    SL009,
    SL010,
    SL011,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        self.rule().id
    }

    /// The rule registered for this id.
    pub fn rule(self) -> &'static Rule {
        // Invariant: RULES lists every Code in declaration order (checked by a test).
        &RULES[self as usize]
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Code {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_uppercase();
        RULES
            .iter()
            .find(|r| r.id == wanted)
            .map(|r| r.code)
            .ok_or_else(|| {
                format!(
                    "unknown rule `{}` (see `sealant lint --list-rules`)",
                    s.trim()
                )
            })
    }
}

/// A lint rule: stable id, short name, default severity and its documentation.
#[derive(Debug)]
pub struct Rule {
    pub code: Code,
    pub id: &'static str,
    /// kebab-case name, also SARIF `name`.
    pub name: &'static str,
    /// One line, shown by `--list-rules` and as SARIF `shortDescription`.
    pub summary: &'static str,
    pub severity: Severity,
    /// Markdown with the sections `## What it does`, `## Why is this bad`, `## Example`,
    /// `## Use instead`.
    pub doc: &'static str,
}

/// Every rule, in id order.
pub static RULES: [Rule; 11] = [
    Rule {
        code: Code::SL001,
        id: "SL001",
        name: "plaintext-env-credential",
        summary: "Plaintext credential in a container's env",
        severity: Severity::High,
        doc: r#"## What it does
Checks the `env` of every container, init container and ephemeral container of every workload
(Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob's
jobTemplate, PodTemplate, and any custom resource with a pod template) for variables whose name is
credential-like (`DB_PASSWORD`, `apiKey`, `client-secret`) and whose `value` is a literal.

## Why is this bad
The value is readable by anyone who can read the repository, the manifest in the cluster
(`kubectl get pod -o yaml`), or the audit log. It cannot be rotated without a commit and it stays
in git history after it is removed.

## Example
```yaml
env:
  - name: DB_PASSWORD
    value: "supersecret123"
```

## Use instead
```yaml
env:
  - name: DB_PASSWORD
    valueFrom:
      secretKeyRef:
        name: db-credentials
        key: password
```
and commit the Secret sealed: `sealant seal < db-credentials.yaml > db-credentials.sealed.yaml`.
"#,
    },
    Rule {
        code: Code::SL002,
        id: "SL002",
        name: "committed-secret",
        summary: "Kubernetes Secret committed with data or stringData",
        severity: Severity::High,
        doc: r#"## What it does
Reports every non-empty key of `data` and `stringData` of a `kind: Secret` (one finding per key, at
the key's line). Public certificates (`tls.crt`, `ca.crt`), placeholders and service-account-token
Secrets without data are not reported. SealedSecrets and SOPS-encrypted Secrets are never reported.

## Why is this bad
`data` is base64, not encryption: anyone who can read the repository can decode it.

## Example
```yaml
apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
data:
  password: c3VwZXJzZWNyZXQxMjM=
```

## Use instead
Seal the Secret and commit the SealedSecret:
```console
$ sealant seal < db-credentials.yaml > db-credentials.sealed.yaml
```
"#,
    },
    Rule {
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
    },
    Rule {
        code: Code::SL004,
        id: "SL004",
        name: "known-token-format",
        summary: "Known token format (cloud key, API token, private key, JWT)",
        severity: Severity::High,
        doc: r#"## What it does
Searches every text file for credentials with a recognisable format: AWS access key ids and secret
keys, GitHub, GitLab, Slack, Stripe, Google API, SendGrid, npm, PyPI, Docker Hub, Vault, OpenAI and
Anthropic tokens, Slack webhooks, PEM private keys (PKCS#1, PKCS#8, OpenSSH, EC, encrypted) and
JSON Web Tokens. Documentation placeholders (`AKIAIOSFODNN7EXAMPLE`, `ghp_xxxx...`) are skipped, as
are SealedSecret and SOPS ciphertext.

## Why is this bad
These formats are what attackers' scanners search public and leaked repositories for; a leaked
token is usually abused within minutes.

## Example
```yaml
GITHUB_TOKEN: ghp_R8dK2mN5qW7xY1zA3bC4dE6fG8hJ9kL0pQ2s
```

## Use instead
Revoke the token, then keep the new one in a sealed Secret (`sealant seal`) and inject it with
`secretKeyRef`.
"#,
    },
    Rule {
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
    },
    Rule {
        code: Code::SL006,
        id: "SL006",
        name: "command-line-credential",
        summary: "Credential on a command line (container command/args, scripts, Dockerfile RUN)",
        severity: Severity::High,
        doc: r#"## What it does
Checks container `command` and `args`, shell scripts and Dockerfile `RUN` lines for credential
flags with literal values (`--password=x`, `--api-key x`, `--set db.password=x`,
`--from-literal=token=x`, `mysql -pX`) and inline assignments (`DB_PASSWORD=x ./run`).

## Why is this bad
Command lines are visible in `ps`, in `/proc`, in the Pod spec and in crash reports.

## Example
```yaml
args: ["--db-password=supersecret123"]
```

## Use instead
```yaml
args: ["--db-password=$(DB_PASSWORD)"]
env:
  - name: DB_PASSWORD
    valueFrom: {secretKeyRef: {name: db-credentials, key: password}}
```
"#,
    },
    Rule {
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
    },
    Rule {
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
    },
    Rule {
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
    },
    Rule {
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
    },
    Rule {
        code: Code::SL011,
        id: "SL011",
        name: "annotation-credential",
        summary: "Credential in an object's annotations",
        severity: Severity::High,
        doc: r#"## What it does
Checks `metadata.annotations` for credential-like annotation keys with literal values, and for a
`kubectl.kubernetes.io/last-applied-configuration` that carries a Secret's `data` or `stringData`.

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
    },
];

/// The four documentation sections every rule must have, in order.
pub const DOC_SECTIONS: [&str; 4] = [
    "## What it does",
    "## Why is this bad",
    "## Example",
    "## Use instead",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_in_code_order_and_documented() {
        for (i, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.code as usize, i, "{} is out of order", rule.id);
            assert_eq!(format!("{:?}", rule.code), rule.id);
            let mut at = 0;
            for section in DOC_SECTIONS {
                let found = rule.doc[at..].find(section);
                assert!(found.is_some(), "{} lacks `{section}` (in order)", rule.id);
                at += found.unwrap_or(0) + section.len();
            }
            assert!(
                rule.doc.contains("```"),
                "{} doc has no example block",
                rule.id
            );
        }
    }

    #[test]
    fn codes_parse_case_insensitively() {
        assert_eq!("sl004".parse::<Code>(), Ok(Code::SL004));
        assert!("SL999".parse::<Code>().is_err());
    }
}
