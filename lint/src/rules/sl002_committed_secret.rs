//! SL002 `committed-secret`: Kubernetes Secret committed with data or stringData.

use super::{Code, Rule};
use crate::analyzers::{Decoded, FileScan, decode_base64};
use crate::finding::Confidence;
use crate::finding::Severity;
use crate::values::{is_placeholder, is_public_certificate};
use crate::yaml::Node;

pub const RULE: Rule = Rule {
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
};

impl FileScan<'_> {
    pub(crate) fn secret(&mut self, obj: &Node, name: &str, obj_path: &str) {
        for section in ["data", "stringData"] {
            let Some(data) = obj.get(section) else {
                continue;
            };
            for (k, v) in data.entries() {
                let (Some(key), Some(raw)) = (k.str(), v.str()) else {
                    continue;
                };
                let raw_trim = raw.trim();
                if raw_trim.is_empty() || raw_trim.starts_with("ENC[") {
                    continue;
                }
                let decoded = if section == "data" {
                    decode_base64(raw_trim)
                } else {
                    None
                };
                let plain: &str = match &decoded {
                    Some(Decoded::Text(t)) => t,
                    Some(Decoded::Binary) => "",
                    None => raw_trim,
                };
                let lower = plain.to_ascii_lowercase();
                if !plain.is_empty()
                    && (plain.trim().is_empty()
                        || is_placeholder(plain.trim(), &lower)
                        || is_public_certificate(plain)
                        || self
                            .settings
                            .values
                            .extra_placeholders
                            .iter()
                            .any(|r| r.is_match(plain)))
                {
                    continue;
                }
                if matches!(key, "ca.crt" | "tls.crt" | "namespace")
                    && !plain.contains("PRIVATE KEY")
                {
                    continue;
                }
                let at = self.value_offset(v, raw);
                let message = format!(
                    "Secret `{name}` commits key `{key}` in plain text ({}); seal it with `sealant seal`",
                    if section == "data" {
                        "base64 is not encryption"
                    } else {
                        "stringData"
                    }
                );
                let path = format!("{obj_path}/{section}/{key}");
                self.report(Code::SL002, at, raw, path, message, Confidence::High);
            }
        }
    }
}
