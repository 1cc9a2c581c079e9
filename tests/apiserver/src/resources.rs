//! The resource types the server serves: the built-in ones, and those that CustomResourceDefinitions
//! add while it runs.
//!
//! A *served resource* ([`ApiResource`]) is one group/version/plural as clients address it. Several
//! of them may share one *storage* ([`StorageKey`]): every version of a CRD stores into the same
//! table, and `events.k8s.io/v1` events are the core `v1` events seen through a field conversion,
//! as in a real kube-apiserver.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::ApiError;

/// Where the objects of a resource live: one table per group and plural.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct StorageKey {
    pub(crate) group: String,
    pub(crate) plural: String,
}

/// How objects are converted between what the client sees and what is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// Stored as served (only `apiVersion` is rewritten for other CRD versions).
    None,
    /// `events.k8s.io/v1` Event over a stored core `v1` Event.
    EventsV1,
}

/// One group/version/resource as clients address it.
#[derive(Clone, Debug)]
pub(crate) struct ApiResource {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) kind: String,
    pub(crate) list_kind: String,
    pub(crate) namespaced: bool,
    pub(crate) status_subresource: bool,
    /// `metadata.generation` is maintained (custom resources, CRDs).
    pub(crate) has_generation: bool,
    pub(crate) short_names: Vec<String>,
    pub(crate) categories: Vec<String>,
    pub(crate) storage: StorageKey,
    pub(crate) conversion: Conversion,
    /// Printer columns for table output (`additionalPrinterColumns` of a CRD).
    pub(crate) printer_columns: Vec<PrinterColumn>,
    /// The preferred (storage) version of its group.
    pub(crate) preferred: bool,
    /// Compiled in (not from a CRD): strategic merge patch is accepted.
    pub(crate) builtin: bool,
    /// The version's `openAPIV3Schema` (custom resources): pruning and validation.
    pub(crate) schema: Option<Arc<Value>>,
}

/// A column of `kubectl get` output, read with a simple JSON path.
#[derive(Clone, Debug)]
pub(crate) struct PrinterColumn {
    pub(crate) name: String,
    pub(crate) type_: String,
    pub(crate) json_path: String,
}

impl ApiResource {
    /// `apiVersion` as written in objects: `v1` or `group/version`.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    status: bool,
    generation: bool,
    short: &'static [&'static str],
    storage_group: &'static str,
    conversion: Conversion,
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        status: true,
        generation: false,
        short: &["ns"],
        storage_group: "",
        conversion: Conversion::None,
    },
    Builtin {
        group: "",
        version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        status: false,
        generation: false,
        short: &[],
        storage_group: "",
        conversion: Conversion::None,
    },
    Builtin {
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        status: false,
        generation: false,
        short: &["cm"],
        storage_group: "",
        conversion: Conversion::None,
    },
    Builtin {
        group: "",
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        status: true,
        generation: false,
        short: &["svc"],
        storage_group: "",
        conversion: Conversion::None,
    },
    Builtin {
        group: "",
        version: "v1",
        plural: "endpoints",
        singular: "endpoints",
        kind: "Endpoints",
        namespaced: true,
        status: false,
        generation: false,
        short: &["ep"],
        storage_group: "",
        conversion: Conversion::None,
    },
    Builtin {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        status: false,
        generation: false,
        short: &["ev"],
        storage_group: "",
        conversion: Conversion::None,
    },
    Builtin {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        status: false,
        generation: false,
        short: &["ev"],
        storage_group: "",
        conversion: Conversion::EventsV1,
    },
    Builtin {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        namespaced: true,
        status: false,
        generation: false,
        short: &[],
        storage_group: "coordination.k8s.io",
        conversion: Conversion::None,
    },
    Builtin {
        group: "apiextensions.k8s.io",
        version: "v1",
        plural: "customresourcedefinitions",
        singular: "customresourcedefinition",
        kind: "CustomResourceDefinition",
        namespaced: false,
        status: true,
        generation: true,
        short: &["crd", "crds"],
        storage_group: "apiextensions.k8s.io",
        conversion: Conversion::None,
    },
    Builtin {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        namespaced: true,
        status: false,
        generation: false,
        short: &["sa"],
        storage_group: "",
        conversion: Conversion::None,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "roles",
        singular: "role",
        kind: "Role",
        namespaced: true,
        status: false,
        generation: false,
        short: &[],
        storage_group: "rbac.authorization.k8s.io",
        conversion: Conversion::None,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "rolebindings",
        singular: "rolebinding",
        kind: "RoleBinding",
        namespaced: true,
        status: false,
        generation: false,
        short: &[],
        storage_group: "rbac.authorization.k8s.io",
        conversion: Conversion::None,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterroles",
        singular: "clusterrole",
        kind: "ClusterRole",
        namespaced: false,
        status: false,
        generation: false,
        short: &[],
        storage_group: "rbac.authorization.k8s.io",
        conversion: Conversion::None,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        kind: "ClusterRoleBinding",
        namespaced: false,
        status: false,
        generation: false,
        short: &[],
        storage_group: "rbac.authorization.k8s.io",
        conversion: Conversion::None,
    },
    Builtin {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        status: true,
        generation: true,
        short: &["deploy"],
        storage_group: "apps",
        conversion: Conversion::None,
    },
    Builtin {
        group: "policy",
        version: "v1",
        plural: "poddisruptionbudgets",
        singular: "poddisruptionbudget",
        kind: "PodDisruptionBudget",
        namespaced: true,
        status: true,
        generation: true,
        short: &["pdb"],
        storage_group: "policy",
        conversion: Conversion::None,
    },
    Builtin {
        group: "networking.k8s.io",
        version: "v1",
        plural: "networkpolicies",
        singular: "networkpolicy",
        kind: "NetworkPolicy",
        namespaced: true,
        status: false,
        generation: true,
        short: &["netpol"],
        storage_group: "networking.k8s.io",
        conversion: Conversion::None,
    },
];

/// The set of served resources, keyed by (group, version, plural).
#[derive(Default)]
pub(crate) struct Registry {
    served: BTreeMap<(String, String, String), Arc<ApiResource>>,
}

impl Registry {
    pub(crate) fn with_builtins() -> Self {
        let mut registry = Registry::default();
        for b in BUILTINS {
            let resource = ApiResource {
                group: b.group.to_string(),
                version: b.version.to_string(),
                plural: b.plural.to_string(),
                singular: b.singular.to_string(),
                kind: b.kind.to_string(),
                list_kind: format!("{}List", b.kind),
                namespaced: b.namespaced,
                status_subresource: b.status,
                has_generation: b.generation,
                short_names: b.short.iter().map(|s| s.to_string()).collect(),
                categories: Vec::new(),
                storage: StorageKey {
                    group: b.storage_group.to_string(),
                    plural: b.plural.to_string(),
                },
                conversion: b.conversion,
                printer_columns: Vec::new(),
                schema: None,
                preferred: true,
                builtin: true,
            };
            registry.insert(resource);
        }
        registry
    }

    fn insert(&mut self, resource: ApiResource) {
        let key = (
            resource.group.clone(),
            resource.version.clone(),
            resource.plural.clone(),
        );
        self.served.insert(key, Arc::new(resource));
    }

    pub(crate) fn lookup(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ApiResource>> {
        self.served
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Whether any resource is served under this group and version.
    pub(crate) fn serves_version(&self, group: &str, version: &str) -> bool {
        self.served
            .keys()
            .any(|(g, v, _)| g == group && v == version)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<ApiResource>> {
        self.served.values()
    }

    /// The served resources whose objects live in `storage`.
    pub(crate) fn views_of(&self, storage: &StorageKey) -> Vec<Arc<ApiResource>> {
        self.served
            .values()
            .filter(|r| &r.storage == storage)
            .cloned()
            .collect()
    }

    /// Serves (or re-serves, after an update) the resource a CRD object defines.
    pub(crate) fn register_crd(&mut self, crd: &Value) -> Result<(), ApiError> {
        let defined = resources_of_crd(crd)?;
        if let Some(first) = defined.first() {
            let storage = first.storage.clone();
            self.served.retain(|_, r| r.storage != storage);
        }
        for resource in defined {
            self.insert(resource);
        }
        Ok(())
    }

    pub(crate) fn unregister(&mut self, storage: &StorageKey) {
        self.served.retain(|_, r| &r.storage != storage);
    }
}

/// Reads the served resources out of a CRD object, checking what a real apiserver checks first.
pub(crate) fn resources_of_crd(crd: &Value) -> Result<Vec<ApiResource>, ApiError> {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let invalid = |field: &str, message: &str| {
        ApiError::invalid(
            "CustomResourceDefinition",
            "apiextensions.k8s.io",
            name,
            field,
            message,
        )
    };
    let str_at = |path: &str| {
        crd.pointer(path)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let group = str_at("/spec/group");
    let plural = str_at("/spec/names/plural");
    let kind = str_at("/spec/names/kind");
    if group.is_empty() {
        return Err(invalid("spec.group", "Required value"));
    }
    if plural.is_empty() {
        return Err(invalid("spec.names.plural", "Required value"));
    }
    if kind.is_empty() {
        return Err(invalid("spec.names.kind", "Required value"));
    }
    if name != format!("{plural}.{group}") {
        return Err(invalid(
            "metadata.name",
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    let scope = str_at("/spec/scope");
    let namespaced = match scope.as_str() {
        "Namespaced" => true,
        "Cluster" => false,
        _ => {
            return Err(invalid(
                "spec.scope",
                "Unsupported value: must be \"Cluster\" or \"Namespaced\"",
            ));
        }
    };
    let singular = match str_at("/spec/names/singular") {
        s if s.is_empty() => kind.to_lowercase(),
        s => s,
    };
    let list_kind = match str_at("/spec/names/listKind") {
        s if s.is_empty() => format!("{kind}List"),
        s => s,
    };
    let strings = |path: &str| -> Vec<String> {
        crd.pointer(path)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let short_names = strings("/spec/names/shortNames");
    let categories = strings("/spec/names/categories");
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        return Err(invalid(
            "spec.versions",
            "Required value: must have exactly one version marked as storage version",
        ));
    }
    let storage_versions = versions
        .iter()
        .filter(|v| v["storage"] == json!(true))
        .count();
    if storage_versions != 1 {
        return Err(invalid(
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    let mut out = Vec::new();
    for v in &versions {
        let Some(version) = v["name"].as_str() else {
            return Err(invalid("spec.versions[].name", "Required value"));
        };
        if v["served"] != json!(true) {
            continue;
        }
        let printer_columns = v["additionalPrinterColumns"]
            .as_array()
            .map(|cols| {
                cols.iter()
                    .filter_map(|c| {
                        Some(PrinterColumn {
                            name: c["name"].as_str()?.to_string(),
                            type_: c["type"].as_str().unwrap_or("string").to_string(),
                            json_path: c["jsonPath"].as_str()?.to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(ApiResource {
            group: group.clone(),
            version: version.to_string(),
            plural: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            namespaced,
            status_subresource: v.pointer("/subresources/status").is_some(),
            has_generation: true,
            short_names: short_names.clone(),
            categories: categories.clone(),
            storage: StorageKey {
                group: group.clone(),
                plural: plural.clone(),
            },
            conversion: Conversion::None,
            printer_columns,
            schema: v.pointer("/schema/openAPIV3Schema").cloned().map(Arc::new),
            preferred: v["storage"] == json!(true),
            builtin: false,
        });
    }
    Ok(out)
}

/// Field renames between a core `v1` Event (stored) and an `events.k8s.io/v1` Event (served).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// Converts a stored object into what `resource` serves.
pub(crate) fn present(resource: &ApiResource, stored: &Arc<Value>) -> Arc<Value> {
    match resource.conversion {
        Conversion::EventsV1 => {
            let mut out = (**stored).clone();
            if let Some(map) = out.as_object_mut() {
                for (core, events) in EVENT_FIELDS {
                    if let Some(v) = map.remove(*core) {
                        map.insert(events.to_string(), v);
                    }
                }
                map.insert("apiVersion".into(), json!("events.k8s.io/v1"));
            }
            Arc::new(out)
        }
        Conversion::None => {
            let api_version = resource.api_version();
            if stored["apiVersion"].as_str() == Some(api_version.as_str()) {
                Arc::clone(stored)
            } else {
                let mut out = (**stored).clone();
                out["apiVersion"] = json!(api_version);
                Arc::new(out)
            }
        }
    }
}

/// Converts what a client sent through `resource` into the stored form.
pub(crate) fn ingest(resource: &ApiResource, mut served: Value) -> Value {
    if resource.conversion == Conversion::EventsV1
        && let Some(map) = served.as_object_mut()
    {
        for (core, events) in EVENT_FIELDS {
            if let Some(v) = map.remove(*events) {
                map.insert(core.to_string(), v);
            }
        }
        map.insert("apiVersion".into(), json!("v1"));
    }
    served
}
