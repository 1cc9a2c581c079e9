//! Validation the real kube-apiserver applies to every write and that sealant's behaviour
//! depends on: label syntax, the built-in Secret type rules, Secret `type` immutability and the
//! `events.k8s.io/v1` note length. Messages and causes are worded as Kubernetes 1.24 words them
//! (checked against a real kube-apiserver, see tests/envtest).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// One field error: a `details.causes` entry of a 422.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cause {
    pub(crate) reason: &'static str,
    pub(crate) field: String,
    pub(crate) message: String,
}

impl Cause {
    fn required(field: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: "Required value".into(),
        }
    }

    fn invalid(field: impl Into<String>, value: &str, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {value:?}: {detail}"),
        }
    }
}

const QUALIFIED_NAME: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must \
    start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', \
    regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric \
    characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. \
    'MyValue',  or 'my_value',  or '12345', regex used for validation is \
    '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const DNS_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
    (e.g. 'example.com', regex used for validation is \
    '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_part(s: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    edge(s.chars().next())
        && edge(s.chars().last())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A lowercase RFC 1123 subdomain.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            let edge =
                |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            edge(label.chars().next())
                && edge(label.chars().last())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// The errors of a label key (a qualified name: `[prefix/]name`), as detail texts.
fn label_key_errors(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let (prefix, name) = match parts.as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => {
            return vec![format!(
                "a qualified name {QUALIFIED_NAME} with an optional DNS subdomain prefix and '/' \
                 (e.g. 'example.com/MyName')"
            )];
        }
    };
    let mut errors = Vec::new();
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            errors.push("prefix part must be non-empty".to_string());
        } else {
            if prefix.len() > 253 {
                errors.push("prefix part must be no more than 253 characters".to_string());
            }
            if !is_dns_subdomain(prefix) {
                errors.push(format!("prefix part {DNS_SUBDOMAIN}"));
            }
        }
    }
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else {
        if name.len() > 63 {
            errors.push("name part must be no more than 63 characters".to_string());
        }
        if !is_qualified_name_part(name) {
            errors.push(format!("name part {QUALIFIED_NAME}"));
        }
    }
    errors
}

/// `metadata.labels`: every key a qualified name, every value empty or a 63-character name.
pub(crate) fn labels(obj: &Value) -> Vec<Cause> {
    let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    for (key, value) in labels {
        for detail in label_key_errors(key) {
            causes.push(Cause::invalid("metadata.labels", key, &detail));
        }
        let value = value.as_str().unwrap_or_default();
        if value.len() > 63 {
            causes.push(Cause::invalid(
                "metadata.labels",
                value,
                "must be no more than 63 characters",
            ));
        }
        if !value.is_empty() && !is_qualified_name_part(value) {
            causes.push(Cause::invalid("metadata.labels", value, LABEL_VALUE));
        }
    }
    causes
}

/// The built-in Secret types' required keys, and `type` immutable on update. `obj` is the
/// normalized Secret (`stringData` merged, `type` defaulted).
pub(crate) fn secret(old: Option<&Value>, obj: &Value) -> Vec<Cause> {
    let type_ = obj["type"].as_str().unwrap_or("Opaque");
    let has = |key: &str| obj["data"].get(key).is_some();
    let mut causes = Vec::new();
    let mut require = |key: &str| {
        if !has(key) {
            causes.push(Cause::required(format!("data[{key}]")));
        }
    };
    match type_ {
        "kubernetes.io/tls" => {
            require("tls.crt");
            require("tls.key");
        }
        "kubernetes.io/ssh-auth" => require("ssh-privatekey"),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            require("username");
            require("password");
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let key = if type_ == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match obj["data"].get(key).and_then(Value::as_str) {
                None => require(key),
                Some(encoded) => {
                    let decoded = STANDARD.decode(encoded).unwrap_or_default();
                    if let Err(e) = serde_json::from_slice::<Value>(&decoded) {
                        // Kubernetes redacts the value but appends Go's JSON error, which quotes
                        // the first byte that is not JSON (`invalid character 'h' ...`).
                        let start = decoded.iter().find(|b| !b.is_ascii_whitespace());
                        let message = match start {
                            Some(&b) if !b"{[\"tfn-0123456789".contains(&b) => format!(
                                "invalid character {:?} looking for beginning of value",
                                char::from(b)
                            ),
                            _ => e.to_string(),
                        };
                        causes.push(Cause::invalid(
                            format!("data[{key}]"),
                            "<secret contents redacted>",
                            &message,
                        ));
                    }
                }
            }
        }
        "kubernetes.io/service-account-token" => {
            let annotation = "kubernetes.io/service-account.name";
            if obj["metadata"]["annotations"].get(annotation).is_none() {
                causes.push(Cause::required(format!(
                    "metadata.annotations[{annotation}]"
                )));
            }
        }
        _ => {}
    }
    if let Some(old) = old {
        let old_type = old["type"].as_str().unwrap_or("Opaque");
        if old_type != type_ {
            causes.push(Cause::invalid("type", type_, "field is immutable"));
        }
    }
    causes
}

/// The longest `note` an `events.k8s.io/v1` Event may carry. The core `v1` API does not check
/// it, as in Kubernetes.
pub(crate) const NOTE_LIMIT: usize = 1024;

/// `events.k8s.io/v1`: the note (stored as `message`) at most 1024 characters.
pub(crate) fn event_note(obj: &Value) -> Vec<Cause> {
    let note = obj["note"]
        .as_str()
        .or_else(|| obj["message"].as_str())
        .unwrap_or_default();
    if note.len() > NOTE_LIMIT {
        // Kubernetes 1.24 reports the internal field name and an empty value.
        vec![Cause::invalid(
            "message",
            "",
            &format!("can have at most {NOTE_LIMIT} characters"),
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_keys_and_values_follow_the_qualified_name_rules() {
        let obj = json!({"metadata": {"labels": {
            "app.kubernetes.io/name": "sealant", "ok": "", "x": "a.b_c-d",
        }}});
        assert_eq!(labels(&obj), vec![]);
        let bad = json!({"metadata": {"labels": {
            "-bad": "v", "a/b/c": "v", "Upper.Case/x": "v", "k": "bad value!", "long": "a".repeat(64),
        }}});
        let fields: Vec<String> = labels(&bad).iter().map(|c| c.message.clone()).collect();
        assert_eq!(fields.len(), 5, "{fields:#?}");
        assert!(fields[0].starts_with("Invalid value: \"-bad\": name part must consist"));
        assert!(
            fields
                .iter()
                .any(|m| m.contains("prefix part a lowercase RFC 1123"))
        );
        assert!(
            fields
                .iter()
                .any(|m| m.contains("with an optional DNS subdomain prefix"))
        );
        assert!(
            fields
                .iter()
                .any(|m| m.contains("a valid label must be an empty string"))
        );
        assert!(
            fields
                .iter()
                .any(|m| m.ends_with("must be no more than 63 characters"))
        );
    }

    #[test]
    fn built_in_secret_types_require_their_keys() {
        let tls = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        assert_eq!(secret(None, &tls), vec![Cause::required("data[tls.key]")]);
        let basic = json!({"type": "kubernetes.io/basic-auth", "data": {"password": "eA=="}});
        assert_eq!(secret(None, &basic), vec![]);
        let docker = json!({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "eA=="}});
        assert_eq!(secret(None, &docker)[0].field, "data[.dockerconfigjson]");
        let changed = json!({"type": "Other", "data": {}});
        assert_eq!(
            secret(Some(&json!({"type": "Opaque"})), &changed),
            vec![Cause::invalid("type", "Other", "field is immutable")]
        );
    }
}
