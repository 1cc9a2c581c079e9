//! SL002 `committed-secret`: Kubernetes Secret committed with data or stringData.

use crate::analyzers::{Decoded, FileScan, decode_base64};
use crate::codes::Confidence;
use crate::codes::{Code, Rule, Severity};
use crate::tokens::{find_tokens, find_url_credentials};
use crate::values::{Class, is_public_certificate, looks_random};
use crate::yaml::Node;

pub const RULE: Rule = Rule {
    code: Code::SL002,
    id: "SL002",
    name: "committed-secret",
    summary: "Kubernetes Secret committed with data or stringData",
    severity: Severity::High,
    doc: r#"## What it does
Reports each key of a `kind: Secret` whose value looks like a credential, at that key's line
(the first such finding also names all the Secret's keys), and, when no key looks like one, the
Secret once at its `kind:` line with the number and names of its keys (not for chart templates,
which are rendered from values). A key looks like a credential when it holds key material, a
known token format, registry auth, a literal under a credential-like key name, or a
generated-looking value. Usernames, hosts and ports are counted, not reported alone. Public certificates (`tls.crt`, `ca.crt`), placeholders and service-account-token
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

/// A name as written in a chart template: masked actions (`${xxxx}`) shown as `{{ ... }}`.
fn unmask_template(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find("${x") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').map_or(after.len(), |e| e + 1);
        out.push_str("{{ ... }}");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// One non-empty, non-placeholder key of a committed Secret.
pub(crate) struct SecretEntry<'v> {
    pub key: &'v str,
    /// The value as written (base64 for `data`).
    pub raw: &'v str,
    /// The plaintext (decoded `data`; empty when it is binary).
    pub plain: String,
    /// Byte offset of the value in the file.
    pub at: usize,
}

impl FileScan<'_> {
    pub(crate) fn secret(&mut self, obj: &Node, name: &str, obj_path: &str) {
        let mut entries = Vec::new();
        for section in ["data", "stringData"] {
            let Some(data) = obj.get(section) else {
                continue;
            };
            for (k, v) in data.entries() {
                let (Some(key), Some(raw)) = (k.str(), v.str()) else {
                    continue;
                };
                let decode = section == "data";
                if let Some(plain) = self.secret_plaintext(key, raw, decode) {
                    let at = self.value_offset(v, raw);
                    entries.push(SecretEntry {
                        key,
                        raw,
                        plain,
                        at,
                    });
                }
            }
        }
        let kind_at = obj.get("kind").map_or(obj.start, |k| k.start);
        self.committed_secret(name, obj_path, kind_at, &entries);
    }

    /// The plaintext of a Secret value worth reporting, or `None` for empty values, SOPS
    /// ciphertext, placeholders, template expressions and public certificates.
    pub(crate) fn secret_plaintext(&self, key: &str, raw: &str, decode: bool) -> Option<String> {
        let raw_trim = raw.trim();
        if raw_trim.is_empty() || raw_trim.starts_with("ENC[") {
            return None;
        }
        let decoded = if decode {
            decode_base64(raw_trim)
        } else {
            None
        };
        let plain: &str = match &decoded {
            Some(Decoded::Text(t)) => t,
            Some(Decoded::Binary) => "",
            None => raw_trim,
        };
        // A template expression is a reference to a value kept elsewhere, never one.
        let values = &self.settings.values;
        if values.classify_data(raw_trim).class != Class::Credential
            || (!plain.is_empty()
                && (values.classify_data(plain).class != Class::Credential
                    || is_public_certificate(plain)
                    || values.is_configured_placeholder(plain)))
        {
            return None;
        }
        if matches!(key, "ca.crt" | "tls.crt" | "namespace") && !plain.contains("PRIVATE KEY") {
            return None;
        }
        Some(plain.to_string())
    }

    /// Whether a Secret key's plaintext looks like a credential on its own: key material, a known
    /// token format, registry auth, a credential-like key name with a literal value, or a
    /// generated-looking value. Usernames, hosts, ports and database names do not.
    fn secret_key_is_credential(&self, key: &str, plain: &str) -> bool {
        if plain.is_empty() {
            // Binary data (a keystore): counted in the Secret's finding, not judged alone.
            return false;
        }
        if plain.contains("PRIVATE KEY")
            || matches!(key, ".dockerconfigjson" | ".dockercfg")
            || !find_tokens(plain).is_empty()
            || !find_url_credentials(plain).is_empty()
        {
            return true;
        }
        if let Some(m) = self.name_match(key) {
            return self.settings.values.is_credential_value(key, plain, m);
        }
        self.settings.values.is_literal_secret(plain) && looks_random(plain.trim())
    }

    /// A committed Secret is one finding per key whose value looks like a credential, at that
    /// key's line; or, when no key does, one finding at its `kind:` line with the number of keys.
    pub(crate) fn committed_secret(
        &mut self,
        name: &str,
        obj_path: &str,
        kind_at: usize,
        entries: &[SecretEntry<'_>],
    ) {
        if entries.is_empty() || !self.settings.is_enabled(Code::SL002) {
            return;
        }
        let name = &unmask_template(name);
        let keys: Vec<&str> = entries.iter().map(|e| e.key).collect();
        let all: String = entries.iter().map(|e| e.raw).collect::<Vec<_>>().join("\0");
        let count = entries.len();
        let message = format!(
            "Secret `{name}` commits {count} key{} in plain text ({}); seal it with `sealant seal`",
            if count == 1 { "" } else { "s" },
            keys.join(", ")
        );
        let credentials: Vec<&SecretEntry<'_>> = entries
            .iter()
            .filter(|e| self.secret_key_is_credential(e.key, &e.plain))
            .collect();
        // A chart template's Secret is rendered at install time from values (checked there);
        // only keys that hold a literal credential in the template itself are reported. The
        // summary stands at the `kind:` line only when no key is reported on its own line: users
        // look for a finding where the value is.
        if !self.template && credentials.is_empty() {
            self.report_redacted(
                Code::SL002,
                (kind_at, kind_at + "Secret".len()),
                &all,
                format!("{count} keys"),
                obj_path.to_string(),
                message,
                Confidence::High,
            );
        }
        for (i, e) in credentials.into_iter().enumerate() {
            let mut message = format!(
                "Secret `{name}` commits credential `{}` in plain text; seal it with `sealant seal`",
                e.key
            );
            if i == 0 && !self.template && count > 1 {
                message.push_str(&format!(
                    " ({count} keys in plain text: {})",
                    keys.join(", ")
                ));
            }
            let path = format!("{obj_path}/{}", e.key);
            self.report(Code::SL002, e.at, e.raw, path, message, Confidence::High);
        }
    }
}
