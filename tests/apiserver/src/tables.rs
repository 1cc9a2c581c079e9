//! `meta.k8s.io/v1` Table output, which `kubectl get` asks for (`Accept: ...;as=Table`).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::resources::ApiResource;

/// A table of `objects` with the columns kubectl shows for this resource.
pub(crate) fn table(
    res: &ApiResource,
    objects: &[Arc<Value>],
    resource_version: Option<&str>,
    continue_token: Option<&str>,
) -> Value {
    let columns = columns(res);
    let definitions: Vec<Value> = columns
        .iter()
        .map(|c| {
            let format = if c.name == "Name" { "name" } else { "" };
            json!({"name": c.name, "type": c.type_, "format": format, "description": c.name, "priority": 0})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = columns.iter().map(|c| cell(o, c)).collect();
            let metadata = o.get("metadata").cloned().unwrap_or_else(|| json!({}));
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}})
        })
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = json!(rv);
    }
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": definitions, "rows": rows})
}

struct Column {
    name: String,
    type_: String,
    source: Source,
}

enum Source {
    Name,
    Age,
    Path(String),
    CountOf(&'static str),
}

fn column(name: &str, type_: &str, source: Source) -> Column {
    Column {
        name: name.to_string(),
        type_: type_.to_string(),
        source,
    }
}

fn columns(res: &ApiResource) -> Vec<Column> {
    let mut out = vec![column("Name", "string", Source::Name)];
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "secrets") => {
            out.push(column("Type", "string", Source::Path(".type".into())));
            out.push(column("Data", "string", Source::CountOf("data")));
        }
        ("", "configmaps") => out.push(column("Data", "string", Source::CountOf("data"))),
        ("", "namespaces") => out.push(column(
            "Status",
            "string",
            Source::Path(".status.phase".into()),
        )),
        ("coordination.k8s.io", "leases") => out.push(column(
            "Holder",
            "string",
            Source::Path(".spec.holderIdentity".into()),
        )),
        _ => {
            for c in &res.printer_columns {
                let type_ = if c.type_ == "date" {
                    "string"
                } else {
                    c.type_.as_str()
                };
                let source = if c.type_ == "date" && c.json_path == ".metadata.creationTimestamp" {
                    Source::Age
                } else {
                    Source::Path(c.json_path.clone())
                };
                out.push(column(&c.name, type_, source));
            }
        }
    }
    if !out.iter().any(|c| matches!(c.source, Source::Age)) {
        out.push(column("Age", "string", Source::Age));
    }
    out
}

fn cell(object: &Value, column: &Column) -> Value {
    match &column.source {
        Source::Name => object
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null),
        Source::Age => json!(age(object
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str))),
        Source::CountOf(field) => json!(
            object
                .get(*field)
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
        ),
        Source::Path(path) => match json_path(object, path) {
            Some(Value::String(s)) => json!(s),
            Some(Value::Null) | None => json!("<none>"),
            Some(v) => v,
        },
    }
}

/// `5s`, `3m`, `2h`, `4d`, the way kubectl shows ages.
fn age(created: Option<&str>) -> String {
    let Some(created) = created.and_then(|c| c.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let seconds = jiff::Timestamp::now()
        .as_second()
        .saturating_sub(created.as_second())
        .max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The subset of JSONPath that printer columns use: `.a.b`, `[0]`, `[?(@.type=="Ready")]`.
pub(crate) fn json_path(object: &Value, path: &str) -> Option<Value> {
    let mut current = object.clone();
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if !key.is_empty() {
                current = current.get(key)?.clone();
            }
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = &after[..end];
            rest = &after[end + 1..];
            if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (field, value) = filter.split_once("==")?;
                let value = value.trim().trim_matches('"').trim_matches('\'');
                current = current
                    .as_array()?
                    .iter()
                    .find(|item| item.get(field.trim()).and_then(Value::as_str) == Some(value))?
                    .clone();
            } else {
                let index: usize = inner.parse().ok()?;
                current = current.get(index)?.clone();
            }
        } else {
            return None;
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_reads_conditions_by_type() {
        let obj = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Synced", "status": "True"}]}});
        assert_eq!(
            json_path(&obj, ".status.conditions[?(@.type==\"Synced\")].status"),
            Some(json!("True"))
        );
        assert_eq!(
            json_path(&obj, ".status.conditions[0].type"),
            Some(json!("Ready"))
        );
        assert_eq!(json_path(&obj, ".spec.missing"), None);
    }

    #[test]
    fn ages_are_short_like_kubectl() {
        assert_eq!(age(Some("not a time")), "<unknown>");
        let long_ago = "2000-01-01T00:00:00Z";
        assert!(age(Some(long_ago)).ends_with('d'));
    }
}
