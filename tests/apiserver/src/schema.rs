//! Custom resources against their CRD's structural schema, as the apiserver does on every write:
//! unknown fields are pruned (unless `x-kubernetes-preserve-unknown-fields`), then types,
//! `required` and `enum` are checked and the first violation is a 422 naming the field.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Prunes `object` in place and validates it against `schema` (the version's
/// `openAPIV3Schema`). `apiVersion`, `kind` and `metadata` at the root are never pruned.
pub(crate) fn prune_and_validate(
    schema: &Value,
    object: &mut Value,
    kind: &str,
    group: &str,
) -> Result<(), ApiError> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(root) = object.as_object_mut() else {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    };
    let mut violation = None;
    walk_object(schema, root, "", true, &mut violation);
    match violation {
        Some((field, message)) => Err(ApiError::invalid(kind, group, &name, &field, &message)),
        None => Ok(()),
    }
}

type Violation = Option<(String, String)>;

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool) == Some(true)
}

fn walk_object(
    schema: &Value,
    map: &mut Map<String, Value>,
    path: &str,
    root: bool,
    violation: &mut Violation,
) {
    let keeps_meta = root || flag(schema, "x-kubernetes-embedded-resource");
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(key) && violation.is_none() {
                *violation = Some((join(path, key), "Required value".into()));
            }
        }
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        if keeps_meta && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let child_path = join(path, &key);
        let child_schema = properties.and_then(|p| p.get(&key)).or(match additional {
            Some(s) if s.is_object() => Some(s),
            _ => None,
        });
        match child_schema {
            Some(s) => {
                if let Some(value) = map.get_mut(&key) {
                    walk(s, value, &child_path, violation);
                }
            }
            None if preserve || additional == Some(&Value::Bool(true)) => {}
            None => {
                map.remove(&key);
            }
        }
    }
}

fn walk(schema: &Value, value: &mut Value, path: &str, violation: &mut Violation) {
    if violation.is_some() {
        return;
    }
    if value.is_null() && flag(schema, "nullable") {
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(value.is_i64() || value.is_u64() || value.is_string()) {
            *violation = Some((
                path.to_string(),
                type_message(path, value, "integer or string"),
            ));
        }
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let ok = match expected {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            *violation = Some((path.to_string(), type_message(path, value, expected)));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        *violation = Some((
            path.to_string(),
            format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            ),
        ));
        return;
    }
    match value {
        Value::Object(map) => walk_object(schema, map, path, false, violation),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item_schema, item, &format!("{path}[{i}]"), violation);
                }
            }
        }
        _ => {}
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_message(path: &str, value: &Value, expected: &str) -> String {
    let actual = type_name(value);
    format!("Invalid value: \"{actual}\": {path} in body must be of type {expected}: \"{actual}\"")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer"},
                        "mode": {"type": "string", "enum": ["fast", "safe"]},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}}}}
                    }
                },
                "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}}
            }
        })
    }

    #[test]
    fn unknown_fields_are_pruned_known_and_preserved_ones_kept() {
        let mut obj = json!({
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": 1, "bogus": 2, "labels": {"a": "b"}, "free": {"anything": [1]}, "items": [{"n": "x", "drop": 1}]},
            "status": {"ok": true, "extra": 1},
            "top": 1
        });
        prune_and_validate(&schema(), &mut obj, "Widget", "example.com").unwrap();
        assert_eq!(
            obj["spec"],
            json!({"size": 1, "labels": {"a": "b"}, "free": {"anything": [1]}, "items": [{"n": "x"}]})
        );
        assert_eq!(obj["status"], json!({"ok": true}));
        assert!(obj.get("top").is_none());
        assert_eq!(obj["metadata"]["name"], "w");
    }

    #[test]
    fn wrong_types_missing_required_and_bad_enum_are_422_naming_the_field() {
        let mut wrong = json!({"metadata": {"name": "w"}, "spec": {"size": "big"}});
        let err = prune_and_validate(&schema(), &mut wrong, "Widget", "example.com").unwrap_err();
        assert_eq!(err.code, 422);
        assert!(
            err.message.contains("spec.size") && err.message.contains("must be of type integer"),
            "{}",
            err.message
        );
        let mut missing = json!({"metadata": {"name": "w"}, "spec": {}});
        let err = prune_and_validate(&schema(), &mut missing, "Widget", "example.com").unwrap_err();
        assert!(
            err.message.contains("spec.size: Required value"),
            "{}",
            err.message
        );
        let mut bad_enum = json!({"metadata": {"name": "w"}, "spec": {"size": 1, "mode": "yolo"}});
        let err =
            prune_and_validate(&schema(), &mut bad_enum, "Widget", "example.com").unwrap_err();
        assert!(err.message.contains("Unsupported value"), "{}", err.message);
    }
}
