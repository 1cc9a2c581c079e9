//! Field ownership (`metadata.managedFields`), server-side apply, and the JSON merge used by
//! merge and strategic-merge patches.
//!
//! Fields are tracked as leaf paths through JSON objects; a list is one leaf (an atomic list),
//! which is what a real apiserver does for lists without merge keys. Ownership is recorded in the
//! real `FieldsV1` form (`{"f:data":{"f:key":{}}}`), so clients that read `managedFields` see the
//! familiar shape.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// A path of object keys from the root to an owned field.
pub(crate) type FieldPath = Vec<String>;
pub(crate) type FieldSet = BTreeSet<FieldPath>;

/// Fields nobody owns: identity and server-maintained metadata.
const UNTRACKED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ManagerEntry {
    pub(crate) manager: String,
    pub(crate) operation: String,
    pub(crate) api_version: String,
    pub(crate) time: String,
    pub(crate) subresource: Option<String>,
    pub(crate) fields: FieldSet,
}

/// Which part of the object a write may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// The whole object (resources without a status subresource).
    Whole,
    /// Everything but `.status` (main resource when status is a subresource).
    MainOnly,
    /// Only `.status` (the `/status` subresource).
    StatusOnly,
}

impl Part {
    fn subresource(self) -> Option<String> {
        (self == Part::StatusOnly).then(|| "status".to_string())
    }
}

/// All leaf paths of `value` that can be owned.
pub(crate) fn leaf_paths(value: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    if let Some(map) = value.as_object() {
        for (key, child) in map {
            if key == "apiVersion" || key == "kind" {
                continue;
            }
            if key == "metadata" {
                if let Some(meta) = child.as_object() {
                    for (mkey, mchild) in meta {
                        if UNTRACKED_METADATA.contains(&mkey.as_str()) {
                            continue;
                        }
                        collect(mchild, vec!["metadata".into(), mkey.clone()], &mut out);
                    }
                }
                continue;
            }
            collect(child, vec![key.clone()], &mut out);
        }
    }
    out
}

fn collect(value: &Value, path: FieldPath, out: &mut FieldSet) {
    match value.as_object() {
        Some(map) if !map.is_empty() => {
            for (key, child) in map {
                let mut p = path.clone();
                p.push(key.clone());
                collect(child, p, out);
            }
        }
        _ => {
            out.insert(path);
        }
    }
}

pub(crate) fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, key| v.as_object()?.get(key))
}

fn remove_at(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cursor = value;
    for key in parents {
        match cursor.as_object_mut().and_then(|m| m.get_mut(key)) {
            Some(next) => cursor = next,
            None => return,
        }
    }
    if let Some(map) = cursor.as_object_mut() {
        map.remove(last);
    }
}

/// `.data.key`, the way conflicts name fields.
pub(crate) fn display_path(path: &[String]) -> String {
    path.iter().map(|p| format!(".{p}")).collect()
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The `FieldsV1` form of a set of paths.
pub(crate) fn to_fields_v1(fields: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut cursor = &mut root;
        for key in path {
            let entry = cursor
                .entry(format!("f:{key}"))
                .or_insert_with(|| json!({}));
            match entry.as_object_mut() {
                Some(map) => cursor = map,
                None => break,
            }
        }
    }
    Value::Object(root)
}

/// Reads a `FieldsV1` value back into paths (the inverse of [`to_fields_v1`]).
pub(crate) fn from_fields_v1(value: &Value) -> FieldSet {
    fn walk(value: &Value, path: FieldPath, out: &mut FieldSet) {
        let children: Vec<(&String, &Value)> = value
            .as_object()
            .map(|m| m.iter().filter(|(k, _)| k.starts_with("f:")).collect())
            .unwrap_or_default();
        if children.is_empty() {
            if !path.is_empty() {
                out.insert(path);
            }
            return;
        }
        for (key, child) in children {
            let mut p = path.clone();
            p.push(key[2..].to_string());
            walk(child, p, out);
        }
    }
    let mut out = FieldSet::new();
    walk(value, Vec::new(), &mut out);
    out
}

pub(crate) fn read_managers(object: &Value) -> Vec<ManagerEntry> {
    let Some(entries) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .map(|e| ManagerEntry {
            manager: e["manager"].as_str().unwrap_or_default().to_string(),
            operation: e["operation"].as_str().unwrap_or("Update").to_string(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().to_string(),
            time: e["time"].as_str().unwrap_or_default().to_string(),
            subresource: e["subresource"].as_str().map(str::to_string),
            fields: from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

pub(crate) fn write_managers(object: &mut Value, entries: &[ManagerEntry]) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let rendered: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if let Some(sub) = &e.subresource {
                v["subresource"] = json!(sub);
            }
            v
        })
        .collect();
    if rendered.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(rendered));
    }
}

/// Restricts a config or an object to the part a write may touch.
fn restrict(value: &Value, part: Part) -> Value {
    let mut out = value.clone();
    if let Some(map) = out.as_object_mut() {
        match part {
            Part::Whole => {}
            Part::MainOnly => {
                map.remove("status");
            }
            Part::StatusOnly => map.retain(|k, _| k == "status"),
        }
    }
    out
}

/// Records an update-style write (create, replace, patch) by `manager`: it takes ownership of
/// every field it changed, other managers lose those fields, and removed fields are forgotten.
pub(crate) fn track_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    part: Part,
    now: &str,
) {
    let mut entries = old.map(read_managers).unwrap_or_default();
    let empty = json!({});
    let old_value = old.unwrap_or(&empty);
    let old_leaves = leaf_paths(old_value);
    let new_leaves = leaf_paths(new);
    let changed: FieldSet = new_leaves
        .iter()
        .filter(|p| value_at(old_value, p) != value_at(new, p))
        .cloned()
        .collect();
    let removed: FieldSet = old_leaves.difference(&new_leaves).cloned().collect();
    for entry in &mut entries {
        entry.fields.retain(|p| {
            !changed.iter().any(|c| overlaps(c, p))
                && !removed.contains(p)
                && value_at(new, p).is_some()
        });
    }
    if !changed.is_empty() {
        let subresource = part.subresource();
        let position = entries.iter().position(|e| {
            e.manager == manager && e.operation == "Update" && e.subresource == subresource
        });
        let entry = match position {
            Some(i) => &mut entries[i],
            None => {
                entries.push(ManagerEntry {
                    manager: manager.to_string(),
                    operation: "Update".into(),
                    api_version: api_version.to_string(),
                    time: String::new(),
                    subresource,
                    fields: FieldSet::new(),
                });
                let last = entries.len() - 1;
                &mut entries[last]
            }
        };
        entry.fields.extend(changed);
        entry.time = now.to_string();
        entry.api_version = api_version.to_string();
    }
    write_managers(new, &entries);
}

/// The request of one server-side apply.
pub(crate) struct Apply<'a> {
    pub(crate) config: &'a Value,
    pub(crate) manager: &'a str,
    pub(crate) force: bool,
    pub(crate) api_version: &'a str,
    pub(crate) part: Part,
    pub(crate) now: &'a str,
}

/// Server-side apply of `config` onto `current` (or onto `skeleton` when the object does not
/// exist yet). Returns the new object, or the (manager, field) conflicts when not forced.
pub(crate) fn apply(
    current: Option<&Value>,
    skeleton: Value,
    req: &Apply<'_>,
) -> Result<Value, Vec<(String, String)>> {
    let config = restrict(req.config, req.part);
    let config_metadata = if req.part == Part::StatusOnly {
        None
    } else {
        req.config.get("metadata")
    };
    let mut config = config;
    if let (Some(meta), Some(map)) = (config_metadata, config.as_object_mut()) {
        map.insert("metadata".into(), meta.clone());
    }
    let mut target = current.cloned().unwrap_or(skeleton);
    let mut entries = current.map(read_managers).unwrap_or_default();
    let subresource = req.part.subresource();
    let is_mine = |e: &ManagerEntry| {
        e.manager == req.manager && e.operation == "Apply" && e.subresource == subresource
    };
    let new_fields = leaf_paths(&config);
    let previous: FieldSet = entries
        .iter()
        .filter(|e| is_mine(e))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();

    // Conflicts: another manager owns a field this config sets to a different value.
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for entry in entries.iter_mut().filter(|e| !is_mine(e)) {
        let mut lost = Vec::new();
        for owned in &entry.fields {
            // The same field, or a field inside one the other manager owns atomically (a list,
            // a scalar). A config's map containing the other's fields merges, so no conflict.
            for wanted in new_fields.iter().filter(|w| w.starts_with(owned)) {
                if value_at(&target, wanted) != value_at(&config, wanted)
                    && value_at(&target, wanted).is_some()
                {
                    let item = (entry.manager.clone(), display_path(wanted));
                    if !conflicts.contains(&item) {
                        conflicts.push(item);
                    }
                    lost.push(owned.clone());
                }
            }
        }
        if req.force {
            entry.fields.retain(|p| !lost.contains(p));
        }
    }
    if !conflicts.is_empty() && !req.force {
        return Err(conflicts);
    }

    // Fields this manager applied before but no longer does, and nobody else owns, go away.
    for gone in previous.difference(&new_fields) {
        let co_owned = entries
            .iter()
            .filter(|e| !is_mine(e))
            .any(|e| e.fields.iter().any(|p| overlaps(p, gone)));
        if !co_owned {
            remove_at(&mut target, gone);
        }
    }
    merge_into(&mut target, &config);

    entries.retain(|e| !is_mine(e));
    entries.push(ManagerEntry {
        manager: req.manager.to_string(),
        operation: "Apply".into(),
        api_version: req.api_version.to_string(),
        time: req.now.to_string(),
        subresource,
        fields: new_fields,
    });
    // Keep the order a real server does: existing managers first, the applier where it was.
    write_managers(&mut target, &entries);
    Ok(target)
}

/// Deep merge used by apply: objects merge key by key, `null` removes, everything else replaces.
fn merge_into(target: &mut Value, config: &Value) {
    match (target.as_object_mut(), config.as_object()) {
        (Some(t), Some(c)) => {
            for (key, value) in c {
                if value.is_null() {
                    t.remove(key);
                } else if value.is_object() && t.get(key).is_some_and(Value::is_object) {
                    if let Some(slot) = t.get_mut(key) {
                        merge_into(slot, value);
                    }
                } else {
                    t.insert(key.clone(), value.clone());
                }
            }
        }
        _ => *target = config.clone(),
    }
}

/// RFC 7386 JSON merge patch; strategic-merge directives (`$patch`, `$retainKeys`,
/// `$setElementOrder/...`) are dropped, which is what a strategic merge amounts to for objects
/// without merge-keyed lists (Secrets, ConfigMaps, custom resources).
pub(crate) fn merge_patch(target: &mut Value, patch: &Value, strategic: bool) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Some(t) = target.as_object_mut() else {
        return;
    };
    for (key, value) in p {
        if strategic && key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            t.remove(key);
        } else if value.is_object() {
            let slot = t.entry(key.clone()).or_insert_with(|| json!({}));
            merge_patch(slot, value, strategic);
        } else {
            t.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn req<'a>(config: &'a Value, manager: &'a str, force: bool) -> Apply<'a> {
        Apply {
            config,
            manager,
            force,
            api_version: "v1",
            part: Part::Whole,
            now: NOW,
        }
    }

    #[test]
    fn fields_v1_round_trips() {
        let obj = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "data": {"k": "dg==", "j": "dg=="}});
        let fields = leaf_paths(&obj);
        assert_eq!(
            to_fields_v1(&fields),
            json!({"f:data": {"f:j": {}, "f:k": {}}, "f:metadata": {"f:labels": {"f:a": {}}}})
        );
        assert_eq!(from_fields_v1(&to_fields_v1(&fields)), fields);
    }

    #[test]
    fn second_manager_conflicts_unless_forced() {
        let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let obj = apply(None, json!({}), &req(&first, "alice", false)).unwrap();
        let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
        let conflicts = apply(Some(&obj), json!({}), &req(&second, "bob", false)).unwrap_err();
        assert_eq!(
            conflicts,
            vec![("alice".to_string(), ".data.a".to_string())]
        );
        let forced = apply(Some(&obj), json!({}), &req(&second, "bob", true)).unwrap();
        assert_eq!(forced["data"]["a"], "2");
        let managers = read_managers(&forced);
        assert_eq!(managers.len(), 1, "alice lost her only field: {managers:?}");
        assert_eq!(managers[0].manager, "bob");
    }

    #[test]
    fn same_value_is_shared_not_a_conflict_and_dropping_a_field_removes_it() {
        let a = json!({"data": {"a": "1", "b": "2"}});
        let obj = apply(None, json!({}), &req(&a, "alice", false)).unwrap();
        let b = json!({"data": {"a": "1"}});
        let obj = apply(Some(&obj), json!({}), &req(&b, "bob", false)).unwrap();
        // alice stops applying both fields: b goes, a stays because bob co-owns it.
        let a2 = json!({"data": {}});
        let obj = apply(Some(&obj), json!({}), &req(&a2, "alice", false)).unwrap();
        assert_eq!(obj["data"], json!({"a": "1"}));
    }

    #[test]
    fn update_takes_changed_fields_from_appliers() {
        let a = json!({"data": {"a": "1", "b": "2"}});
        let old = apply(None, json!({}), &req(&a, "alice", false)).unwrap();
        let mut new = old.clone();
        new["data"]["a"] = json!("9");
        track_update(Some(&old), &mut new, "editor", "v1", Part::Whole, NOW);
        let managers = read_managers(&new);
        let alice = managers.iter().find(|m| m.manager == "alice").unwrap();
        assert!(
            !alice
                .fields
                .contains(&vec!["data".to_string(), "a".to_string()])
        );
        let editor = managers.iter().find(|m| m.manager == "editor").unwrap();
        assert_eq!(editor.operation, "Update");
        assert!(
            editor
                .fields
                .contains(&vec!["data".to_string(), "a".to_string()])
        );
    }

    #[test]
    fn merge_patch_removes_nulls_and_skips_directives() {
        let mut target = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge_patch(
            &mut target,
            &json!({"a": {"b": null}, "d": [2], "$retainKeys": ["a"]}),
            true,
        );
        assert_eq!(target, json!({"a": {"c": 2}, "d": [2]}));
    }
}
