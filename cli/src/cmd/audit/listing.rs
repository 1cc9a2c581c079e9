//! What is in the cluster: every kind the audit reads, listed page by page (only listed: no get
//! of single objects, no watch, no write), and what is left out and why, decided in one place,
//! [`exemption`]. SealedSecrets are listed too, to name those sealed cluster-wide.

use std::collections::{BTreeMap, HashSet};

use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client};
use sealant_core::format::{Envelope, Scope};
use sealant_core::key_secret::SEALING_KEY_LABEL;
use sealant_core::resource::{GROUP, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use sealant_lint::Diagnostic;
use serde_json::Value;

use crate::cluster::{KubeArgs, api_message};
use crate::error::{CliError, CliResult};

/// One kind the audit lists.
pub(super) struct Kind {
    group: &'static str,
    version: &'static str,
    pub(super) kind: &'static str,
    plural: &'static str,
}

/// Every kind the audit reads, owners before what they own (the order findings are reported
/// in). `deploy/optional/audit-rbac.yaml` grants `list` on exactly these.
pub(super) const KINDS: [Kind; 10] = [
    kind("apps", "v1", "Deployment", "deployments"),
    kind("apps", "v1", "StatefulSet", "statefulsets"),
    kind("apps", "v1", "DaemonSet", "daemonsets"),
    kind("batch", "v1", "CronJob", "cronjobs"),
    kind("batch", "v1", "Job", "jobs"),
    kind("apps", "v1", "ReplicaSet", "replicasets"),
    kind("", "v1", "ReplicationController", "replicationcontrollers"),
    kind("", "v1", "Pod", "pods"),
    kind("", "v1", "ConfigMap", "configmaps"),
    kind("", "v1", "Secret", "secrets"),
];

const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> Kind {
    Kind {
        group,
        version,
        kind,
        plural,
    }
}

impl Kind {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, self.version, self.kind),
            self.plural,
        )
    }
}

/// A listed object, as JSON with `apiVersion` and `kind` set (list items lack them).
pub(super) struct Live {
    pub(super) kind: &'static Kind,
    pub(super) value: Value,
}

impl Live {
    fn meta(&self, field: &str) -> Option<&Value> {
        self.value.get("metadata")?.get(field)
    }

    pub(super) fn meta_str(&self, field: &str) -> &str {
        self.meta(field).and_then(Value::as_str).unwrap_or_default()
    }

    fn label(&self, name: &str) -> Option<&str> {
        self.meta("labels")?.get(name)?.as_str()
    }

    /// The owner marked `controller: true`, as (kind, name, uid).
    fn controller_owner(&self) -> Option<(&str, &str, &str)> {
        let owners = self.meta("ownerReferences")?.as_array()?;
        owners
            .iter()
            .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
            .map(|o| {
                let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default();
                (s("kind"), s("name"), s("uid"))
            })
    }
}

/// What the listing hands on, in the order it finds it.
pub(super) enum Listed {
    /// An object to audit (one that is exempt is counted, not handed on).
    Object(Live),
    /// A kind that could not be listed, or a SealedSecret sealed cluster-wide.
    Note(Diagnostic),
}

/// What was left out: `Kind reason` and how many.
pub(super) type Skipped = BTreeMap<String, usize>;

/// What the listing has seen so far. Objects are judged page by page as they arrive (owners are
/// listed before what they own), so memory holds one page and the uids, not the cluster.
#[derive(Default)]
struct Seen {
    /// Every uid listed so far: an object whose controlling owner is here is reported there.
    listed: HashSet<String>,
    skipped: Skipped,
}

impl Seen {
    /// The object, unless it is exempt (then it is counted under `skipped`).
    fn take(&mut self, object: Live) -> Option<Live> {
        self.listed.insert(object.meta_str("uid").to_string());
        if let Some(reason) = exemption(&object, &self.listed) {
            *self
                .skipped
                .entry(format!("{} {reason}", object.kind.kind))
                .or_default() += 1;
            return None;
        }
        Some(object)
    }
}

/// Why an object is not audited, or `None` when it is. The one place that decides it.
fn exemption(object: &Live, listed: &HashSet<String>) -> Option<String> {
    let secret = object.kind.kind == "Secret";
    if secret && object.label(MANAGED_BY_LABEL) == Some(MANAGED_BY_VALUE) {
        return Some("written by sealant from a SealedSecret".to_string());
    }
    if secret && object.label(SEALING_KEY_LABEL).is_some() {
        return Some("a sealant sealing key".to_string());
    }
    if let Some((kind, name, uid)) = object.controller_owner() {
        if listed.contains(uid) {
            return Some(format!("reported at its owner {kind}"));
        }
        if secret {
            // Generated by a controller (cert-manager's, an operator's): not hand-made.
            return Some(format!("generated by its owner {kind}/{name}"));
        }
    }
    if !secret {
        return None;
    }
    let type_ = object
        .value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match type_ {
        "kubernetes.io/service-account-token" => Some("a service account token".to_string()),
        "bootstrap.kubernetes.io/token" => Some("a bootstrap token".to_string()),
        "helm.sh/release.v1" => Some("a Helm release record".to_string()),
        _ => None,
    }
}

/// Lists every kind (pages of 250), in every namespace or in one, handing each object worth
/// auditing to `each`, and returns what was left out. A kind the user may not list (403) or the server does not serve (404) becomes a
/// diagnostic; any other error stops the audit, and so does being allowed to list nothing.
pub(super) async fn list_all(
    kube: &KubeArgs,
    namespace: Option<&str>,
    each: &mut dyn FnMut(Listed),
) -> CliResult<Skipped> {
    let client = kube.client().await?;
    let mut seen = Seen::default();
    let mut listed_any = false;
    for kind in &KINDS {
        match list_kind(&client, kind, namespace, &mut seen, each).await {
            Ok(()) => listed_any = true,
            Err(kube::Error::Api(status)) if status.code == 403 || status.code == 404 => {
                let scope = namespace.map_or("in any namespace".to_string(), |ns| {
                    format!("in namespace {ns}")
                });
                each(Listed::Note(Diagnostic {
                    path: kind.plural.to_string(),
                    message: format!(
                        "cannot list {} {scope} ({} {}); not audited",
                        kind.plural, status.code, status.reason
                    ),
                }));
            }
            Err(error) => {
                return Err(CliError::input(format!(
                    "cannot list {}: {}",
                    kind.plural,
                    api_message(&error)
                ))
                .hint("check --kubeconfig/--context and that the API server is reachable"));
            }
        }
    }
    list_cluster_wide(&client, namespace, each).await?;
    if !listed_any {
        let error = CliError::input(match namespace {
            Some(ns) => format!(
                "the cluster allowed listing none of the kinds the audit reads in namespace {ns}"
            ),
            None => {
                "the cluster allowed listing none of the kinds the audit reads in all namespaces"
                    .to_string()
            }
        });
        return Err(match namespace {
            Some(_) => error.hint(
                "bind the sealant-audit ClusterRole (deploy/optional/audit-rbac.yaml) to your user",
            ),
            None => error.hint(
                "with a RoleBinding in one namespace, pass -n NAMESPACE; or bind the sealant-audit ClusterRole (deploy/optional/audit-rbac.yaml) cluster-wide",
            ),
        });
    }
    Ok(seen.skipped)
}

/// Lists SealedSecrets and notes each one holding a cluster-wide value (a warning, in every output
/// format). A cluster without the CRD has none; one the user may not list them in says so.
async fn list_cluster_wide(
    client: &Client,
    namespace: Option<&str>,
    each: &mut dyn FnMut(Listed),
) -> CliResult<()> {
    let gvk = GroupVersionKind::gvk(GROUP, "v1alpha1", "SealedSecret");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "sealedsecrets");
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let mut params = ListParams::default().limit(250);
    loop {
        let page = match api.list(&params).await {
            Ok(page) => page,
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 403 => {
                each(Listed::Note(Diagnostic {
                    path: "sealedsecrets".to_string(),
                    message: format!(
                        "cannot list sealedsecrets ({} {}); cluster-wide ones not listed",
                        status.code, status.reason
                    ),
                }));
                return Ok(());
            }
            Err(error) => {
                return Err(CliError::input(format!(
                    "cannot list sealedsecrets: {}",
                    api_message(&error)
                )));
            }
        };
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        for item in &page.items {
            let value = serde_json::to_value(item).unwrap_or(Value::Null);
            if let Some(note) = cluster_wide_note(&value) {
                each(Listed::Note(note));
            }
        }
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// The note for a SealedSecret with values sealed cluster-wide (by their clear headers), if any.
fn cluster_wide_note(object: &Value) -> Option<Diagnostic> {
    let keys: Vec<&str> = object["spec"]["encryptedData"]
        .as_object()?
        .iter()
        .filter(|(_, text)| {
            text.as_str()
                .and_then(|t| Envelope::from_base64(t).ok())
                .is_some_and(|e| e.binding.scope() == Scope::ClusterWide)
        })
        .map(|(key, _)| key.as_str())
        .collect();
    if keys.is_empty() {
        return None;
    }
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    Some(Diagnostic {
        path: format!("{namespace}/SealedSecret/{name}"),
        message: format!(
            "sealed cluster-wide ({}): these values open in every namespace, for anyone who may \
             create a SealedSecret there (the controller's --cluster-wide-namespaces limits where)",
            keys.join(", ")
        ),
    })
}

async fn list_kind(
    client: &Client,
    kind: &'static Kind,
    namespace: Option<&str>,
    seen: &mut Seen,
    each: &mut dyn FnMut(Listed),
) -> Result<(), kube::Error> {
    let resource = kind.resource();
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let mut params = ListParams::default().limit(250);
    loop {
        let page = api.list(&params).await?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        for item in page.items {
            let mut value = serde_json::to_value(&item).map_err(kube::Error::SerdeError)?;
            if let Some(map) = value.as_object_mut() {
                map.insert("apiVersion".into(), Value::String(kind.api_version()));
                map.insert("kind".into(), Value::String(kind.kind.to_string()));
            }
            if let Some(object) = seen.take(Live { kind, value }) {
                each(Listed::Object(object));
            }
        }
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::json;

    /// A Pod with a credential in its env, for the tests of the audit's parts.
    pub(in crate::cmd::audit) fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "vulnerable-app", "namespace": "default",
                         "annotations": {"note": "line one\nline two\n"}},
            "spec": {"containers": [{
                "name": "app",
                "image": "myapp:latest",
                "env": [
                    {"name": "MODE", "value": "production"},
                    {"name": "DB_PASSWORD", "value": "supersecret123"}
                ],
                "args": ["--port", "8080"]
            }], "volumes": []}
        })
    }

    #[test]
    fn cluster_wide_sealed_secrets_are_named_and_others_are_not() {
        use sealant_core::format::{Binding, Location, seal};
        use sealant_core::keys::PrivateKey;
        let key = PrivateKey::from_bytes(&[7; 32]);
        let sealed_as = |scope| {
            let binding = Binding::new(scope, &Location::new("team-a", "db", "token")).unwrap();
            seal(b"v", &binding, &[key.public().clone()]).unwrap()
        };
        let object = |values: Value| {
            serde_json::json!({
                "metadata": {"namespace": "team-a", "name": "db"},
                "spec": {"encryptedData": values},
            })
        };
        let wide = object(serde_json::json!({
            "token": sealed_as(Scope::ClusterWide),
            "other": sealed_as(Scope::Strict),
        }));
        let note = cluster_wide_note(&wide).unwrap();
        assert_eq!(note.path, "team-a/SealedSecret/db");
        assert!(
            note.message.starts_with("sealed cluster-wide (token):"),
            "{}",
            note.message
        );
        let strict = object(serde_json::json!({"token": sealed_as(Scope::Strict)}));
        assert!(cluster_wide_note(&strict).is_none());
        assert!(cluster_wide_note(&object(serde_json::json!({"x": "garbage"}))).is_none());
    }

    #[test]
    fn only_hand_made_secrets_are_audited() {
        let secret = |labels: Value, type_: &str, owners: Value| Live {
            kind: &KINDS[9],
            value: json!({"apiVersion": "v1", "kind": "Secret", "type": type_,
                "metadata": {"name": "s", "namespace": "n", "uid": "u1", "labels": labels,
                             "ownerReferences": owners},
                "data": {"password": "aHVudGVyMg=="}}),
        };
        let none = HashSet::new();
        assert_eq!(
            exemption(&secret(json!({}), "Opaque", json!([])), &none),
            None
        );
        for (labels, type_, owners) in [
            (
                json!({MANAGED_BY_LABEL: MANAGED_BY_VALUE}),
                "Opaque",
                json!([]),
            ),
            (json!({SEALING_KEY_LABEL: "active"}), "Opaque", json!([])),
            (json!({}), "kubernetes.io/service-account-token", json!([])),
            (json!({}), "helm.sh/release.v1", json!([])),
            (
                json!({}),
                "kubernetes.io/tls",
                json!([{"kind": "Certificate", "name": "c", "uid": "x", "controller": true}]),
            ),
        ] {
            assert!(exemption(&secret(labels, type_, owners), &none).is_some());
        }
        // A label that merely claims to be sealant's with another value is still audited.
        assert_eq!(
            exemption(
                &secret(json!({MANAGED_BY_LABEL: "someone"}), "Opaque", json!([])),
                &none
            ),
            None
        );
    }

    #[test]
    fn a_pod_is_reported_at_its_listed_owner_only() {
        let mut value = pod();
        value["metadata"]["ownerReferences"] =
            json!([{"kind": "ReplicaSet", "name": "web-1", "uid": "rs-uid", "controller": true}]);
        let live = Live {
            kind: &KINDS[7],
            value,
        };
        assert!(exemption(&live, &HashSet::from(["rs-uid".to_string()])).is_some());
        assert_eq!(exemption(&live, &HashSet::new()), None);
    }
}
