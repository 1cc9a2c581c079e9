//! Typed views of input documents: a Secret read field by field so that every error names the
//! field (`data.password: invalid base64`), and SealedSecrets.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sealant_core::SealedSecret;
use serde_yaml::Value;

use crate::error::{CliError, CliResult};
use crate::io::{Doc, base64_decode};

/// Reads a `v1` Secret as the API server would accept it.
pub fn parse_secret(doc: &Doc) -> CliResult<Secret> {
    let ctx = doc.context();
    let err = |field: &str, msg: &str| CliError::input(format!("{ctx}: {field}: {msg}"));
    if doc.kind() != "Secret" {
        return Err(CliError::input(format!("{ctx}: expected kind Secret")));
    }
    match doc.value.get("apiVersion").and_then(Value::as_str) {
        Some("v1") => {}
        Some(other) => return Err(err("apiVersion", &format!("expected v1, found {other}"))),
        None => return Err(err("apiVersion", "missing (expected v1)")),
    }
    let metadata = doc
        .value
        .get("metadata")
        .ok_or_else(|| err("metadata", "missing"))?;
    let name = optional_string(metadata, "name", "metadata.name", &ctx)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| err("metadata.name", "missing"))?;
    let namespace = optional_string(metadata, "namespace", "metadata.namespace", &ctx)?
        .filter(|n| !n.is_empty());

    let mut data = BTreeMap::new();
    for (key, value) in string_map(doc.value.get("data"), "data", &ctx)? {
        let bytes =
            base64_decode(&value).map_err(|_| err(&format!("data.{key}"), "invalid base64"))?;
        data.insert(key, ByteString(bytes));
    }
    let string_data = string_map(doc.value.get("stringData"), "stringData", &ctx)?;
    let immutable = match doc.value.get("immutable") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(err("immutable", "expected true or false")),
    };
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace,
            labels: non_empty(string_map(metadata.get("labels"), "metadata.labels", &ctx)?),
            annotations: non_empty(string_map(
                metadata.get("annotations"),
                "metadata.annotations",
                &ctx,
            )?),
            ..ObjectMeta::default()
        },
        data: non_empty(data),
        string_data: non_empty(string_data),
        type_: optional_string(&doc.value, "type", "type", &ctx)?,
        immutable,
    })
}

/// Reads a SealedSecret (`sealant.dev/v1alpha1`).
pub fn parse_sealed_secret(doc: &Doc) -> CliResult<SealedSecret> {
    let ctx = doc.context();
    if doc.kind() != "SealedSecret" {
        return Err(CliError::input(format!(
            "{ctx}: expected kind SealedSecret"
        )));
    }
    match doc.value.get("apiVersion").and_then(Value::as_str) {
        Some("sealant.dev/v1alpha1") => {}
        Some(other) if other.starts_with("bitnami.com/") => {
            return Err(CliError::input(format!("{ctx}: apiVersion: {other} is a bitnami sealed-secrets object"))
                .hint("recover it with kubeseal and seal the Secret with `sealant seal` (see docs/migrating-from-sealed-secrets.md)"));
        }
        Some(other) => {
            return Err(CliError::input(format!(
                "{ctx}: apiVersion: expected sealant.dev/v1alpha1, found {other}"
            )));
        }
        None => {
            return Err(CliError::input(format!(
                "{ctx}: apiVersion: missing (expected sealant.dev/v1alpha1)"
            )));
        }
    }
    let sealed: SealedSecret = serde_yaml::from_value(doc.value.clone())
        .map_err(|e| CliError::input(format!("{ctx}: {e}")))?;
    if sealed
        .metadata
        .name
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        return Err(CliError::input(format!("{ctx}: metadata.name: missing")));
    }
    Ok(sealed)
}

fn optional_string(map: &Value, key: &str, field: &str, ctx: &str) -> CliResult<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CliError::input(format!(
            "{ctx}: {field}: expected a string"
        ))),
    }
}

pub(crate) fn string_map(
    value: Option<&Value>,
    field: &str,
    ctx: &str,
) -> CliResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let map = match value {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Mapping(map)) => map,
        Some(_) => {
            return Err(CliError::input(format!(
                "{ctx}: {field}: expected a mapping"
            )));
        }
    };
    for (k, v) in map {
        let key = k
            .as_str()
            .ok_or_else(|| CliError::input(format!("{ctx}: {field}: keys must be strings")))?;
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            _ => {
                return Err(CliError::input(format!(
                    "{ctx}: {field}.{key}: expected a string (quote numbers and booleans)"
                )));
            }
        };
        out.insert(key.to_string(), text);
    }
    Ok(out)
}

pub(crate) fn non_empty<K, V>(map: BTreeMap<K, V>) -> Option<BTreeMap<K, V>> {
    (!map.is_empty()).then_some(map)
}

/// The YAML of one object, as a document of a stream.
pub fn to_yaml<T: serde::Serialize>(object: &T) -> CliResult<String> {
    serde_yaml::to_string(object).map_err(|e| CliError::input(format!("cannot write YAML: {e}")))
}

/// Objects as a YAML stream (`---` between documents).
pub fn yaml_stream<T: serde::Serialize>(objects: &[T]) -> CliResult<String> {
    let mut out = String::new();
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(object)?);
    }
    Ok(out)
}

/// Objects as JSON: the object itself when there is one, a `v1` List otherwise.
pub fn json_output<T: serde::Serialize>(objects: &[T]) -> CliResult<String> {
    let value = match objects {
        [one] => serde_json::to_value(one),
        many => serde_json::to_value(many).map(|items| {
            serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items})
        }),
    }
    .map_err(|e| CliError::input(format!("cannot write JSON: {e}")))?;
    let mut text = serde_json::to_string_pretty(&value)
        .map_err(|e| CliError::input(format!("cannot write JSON: {e}")))?;
    text.push('\n');
    Ok(text)
}
