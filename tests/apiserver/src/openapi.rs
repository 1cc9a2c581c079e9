//! A minimal OpenAPI v3 surface: enough for kubectl to learn that every resource accepts
//! `fieldValidation` (so it validates server-side instead of downloading schemas) and which
//! patch types each resource takes.
//!
//! The PATCH operations list no `application/strategic-merge-patch+json` body, so
//! `kubectl apply` computes strategic merge patches from its compiled-in types for built-in
//! kinds and JSON merge patches for custom resources, as it does against aggregated APIs.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value, json};

use crate::resources::Registry;

/// `GET /openapi/v2`: a document with no definitions. kubectl falls back to v2 to validate a
/// `kind: List` (as `kubectl get -o yaml` prints backups); with no definitions it validates the
/// List's shape and skips its items, which the server then validates on create. client-go asks
/// for the protobuf form; the bytes below are the gnostic `Document {swagger: "2.0", info: {title:
/// "test-apiserver", version: "v1"}}` (fields 1 and 2; Info fields 1 and 2).
pub(crate) fn v2_document(accept: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    if accept.contains("protobuf") {
        let mut bytes = vec![0x0a, 3];
        bytes.extend_from_slice(b"2.0");
        let mut info = vec![0x0a, 14];
        info.extend_from_slice(b"test-apiserver");
        info.extend_from_slice(&[0x12, 2]);
        info.extend_from_slice(b"v1");
        bytes.push(0x12);
        bytes.push(info.len() as u8);
        bytes.extend_from_slice(&info);
        return (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            )],
            bytes,
        )
            .into_response();
    }
    let doc = json!({
        "swagger": "2.0",
        "info": {"title": "test-apiserver", "version": "v1"},
        "paths": {},
        "definitions": {},
    });
    axum::Json(doc).into_response()
}

/// `api/v1`, `apis/coordination.k8s.io/v1`, ... for each served group/version.
fn group_versions(registry: &Registry) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for r in registry.all() {
        let path = if r.group.is_empty() {
            format!("api/{}", r.version)
        } else {
            format!("apis/{}/{}", r.group, r.version)
        };
        if !out.iter().any(|(p, _, _)| *p == path) {
            out.push((path, r.group.clone(), r.version.clone()));
        }
    }
    out
}

/// The `/openapi/v3` index.
pub(crate) fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (path, group, version) in group_versions(registry) {
        let doc = group_version_doc(registry, &group, &version).to_string();
        let mut hasher = DefaultHasher::new();
        doc.hash(&mut hasher);
        let url = format!("/openapi/v3/{path}?hash={:016X}", hasher.finish());
        paths.insert(path, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// The document for `/openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION`.
pub(crate) fn document(registry: &Registry, rest: &[&str]) -> Option<Value> {
    let (group, version) = match rest {
        ["api", version] => ("", *version),
        ["apis", group, version] => (*group, *version),
        _ => return None,
    };
    registry
        .serves_version(group, version)
        .then(|| group_version_doc(registry, group, version))
}

fn group_version_doc(registry: &Registry, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for r in registry
        .all()
        .filter(|r| r.group == group && r.version == version)
    {
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let item = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        let gvk = json!({"group": group, "version": version, "kind": r.kind});
        let query = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        let patch = json!({
            "operationId": format!("patch{}", r.kind),
            "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation"), query("force")],
            "requestBody": {"content": {
                "application/json-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}},
                "application/apply-patch+yaml": {"schema": {"type": "object"}},
            }},
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
        });
        let put = json!({
            "operationId": format!("replace{}", r.kind),
            "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation")],
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "put",
            "x-kubernetes-group-version-kind": gvk,
        });
        paths.insert(item, json!({"patch": patch, "put": put}));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_patch_operation_advertises_field_validation_for_its_kind() {
        let registry = Registry::with_builtins();
        let doc = document(&registry, &["api", "v1"]).unwrap();
        let secret = &doc["paths"]["/api/v1/namespaces/{namespace}/secrets/{name}"]["patch"];
        assert_eq!(secret["x-kubernetes-group-version-kind"]["kind"], "Secret");
        assert!(
            secret["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(document(&registry, &["apis", "nope.io", "v1"]).is_none());
        assert!(
            index(&registry)["paths"]["apis/coordination.k8s.io/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .contains("hash=")
        );
    }
}
