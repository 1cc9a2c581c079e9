//! SL004 `known-token-format`: Known token format (cloud key, API token, private key, JWT).

use crate::codes::{Code, Rule, Severity};

pub const RULE: Rule = Rule {
    code: Code::SL004,
    id: "SL004",
    name: "known-token-format",
    summary: "Known token format (cloud key, API token, private key, JWT)",
    severity: Severity::High,
    doc: r#"## What it does
Searches every text file for credentials with a recognisable format: AWS access key ids and secret
keys, GitHub, GitLab, Slack, Stripe, Google API, SendGrid, npm, PyPI, Docker Hub, Vault, OpenAI and
Anthropic tokens, Slack webhooks, PEM private keys (PKCS#1, PKCS#8, OpenSSH, EC, encrypted) and
JSON Web Tokens, and about 50 more formats of cloud providers (Azure AD, Alibaba, DigitalOcean,
Fly.io, Heroku, Databricks, OpenShift), CI/CD and registries (Atlassian, SonarQube, Buildkite,
CircleCI, Octopus, Harness, Artifactory, RubyGems, Clojars), secret managers and infrastructure as
code (Terraform Cloud, Pulumi, Doppler, 1Password, Tailscale), observability (Grafana, New Relic,
Dynatrace, Sentry) and messaging and payment APIs (Teams webhooks, Telegram, Twilio, Mailchimp,
Brevo, Square, Stripe webhook secrets); `docs/lint.md` lists them. Documentation placeholders (`AKIAIOSFODNN7EXAMPLE`, `ghp_xxxx...`) are skipped, as
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
};
