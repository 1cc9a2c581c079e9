//! The test API server driven through the real kube-rs client: typed and dynamic APIs,
//! watches and the runtime watcher/controller, apply, patches, CRDs, GC and faults.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::discovery::{ApiResource, Discovery};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use serde_json::json;

use sealant_test_apiserver::{FaultMatch, TestApiServer};

fn code(err: kube::Error) -> u16 {
    match err {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn reason(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(status) => (status.code, status.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some(name.into());
    s.data = Some(
        data.iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect(),
    );
    s
}

fn labeled_cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    cm
}

#[tokio::test]
async fn secret_crud_with_kubernetes_errors() {
    let server = TestApiServer::start().await;
    let api: Api<Secret> = Api::default_namespaced(server.client());
    let created = api
        .create(
            &PostParams::default(),
            &secret("db", &[("password", "hunter2")]),
        )
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(created.type_.as_deref(), Some("Opaque"));

    let again = api
        .create(&PostParams::default(), &secret("db", &[]))
        .await
        .unwrap_err();
    assert_eq!(reason(again), (409, "AlreadyExists".to_string()));
    assert_eq!(
        reason(api.get("missing").await.unwrap_err()),
        (404, "NotFound".to_string())
    );

    // Replace with the current resourceVersion works; with the old one it is a 409 Conflict.
    let mut fresh = created.clone();
    fresh.data = Some(BTreeMap::from([(
        "password".to_string(),
        ByteString(b"new".to_vec()),
    )]));
    let replaced = api
        .replace("db", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let rv_old: u64 = created.metadata.resource_version.unwrap().parse().unwrap();
    let rv_new: u64 = replaced
        .metadata
        .resource_version
        .clone()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv_new > rv_old);
    let stale = api
        .replace("db", &PostParams::default(), &fresh)
        .await
        .unwrap_err();
    assert_eq!(reason(stale), (409, "Conflict".to_string()));

    // Deleting without finalizers removes it and answers with a Success status.
    let deleted = api.delete("db", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_right());
    assert_eq!(code(api.get("db").await.unwrap_err()), 404);
    assert_eq!(
        code(
            api.delete("db", &DeleteParams::default())
                .await
                .unwrap_err()
        ),
        404
    );
}

#[tokio::test]
async fn secrets_merge_string_data_validate_base64_and_honour_immutable() {
    let server = TestApiServer::start().await;
    let client = server.client();
    let api: Api<Secret> = Api::default_namespaced(client.clone());
    let mut s = secret("s", &[("a", "x")]);
    s.string_data = Some(BTreeMap::from([("b".to_string(), "plain".to_string())]));
    let created = api.create(&PostParams::default(), &s).await.unwrap();
    let data = created.data.unwrap();
    assert_eq!(data["b"].0, b"plain");
    assert!(created.string_data.is_none(), "stringData is write-only");

    // Raw JSON with bad base64 is rejected like the real apiserver does (400, not stored).
    let dynamic: Api<DynamicObject> =
        Api::default_namespaced_with(client, &ApiResource::erase::<Secret>(&()));
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"}, "data": {"k": "!!!notbase64"}
    }))
    .unwrap();
    assert_eq!(
        code(
            dynamic
                .create(&PostParams::default(), &bad)
                .await
                .unwrap_err()
        ),
        400
    );
    assert_eq!(code(api.get("bad").await.unwrap_err()), 404);

    let mut frozen = secret("frozen", &[("k", "v")]);
    frozen.immutable = Some(true);
    api.create(&PostParams::default(), &frozen).await.unwrap();
    let patch = Patch::Merge(json!({"data": {"k": "dzI="}}));
    let err = api
        .patch("frozen", &PatchParams::default(), &patch)
        .await
        .unwrap_err();
    assert_eq!(reason(err), (422, "Invalid".to_string()));
    // Metadata stays writable on an immutable Secret.
    let labels = Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}}));
    api.patch("frozen", &PatchParams::default(), &labels)
        .await
        .unwrap();
}

#[tokio::test]
async fn list_selectors_and_pagination() {
    let server = TestApiServer::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client());
    for i in 0..25 {
        let tier = if i % 2 == 0 { "front" } else { "back" };
        let cm = labeled_cm(&format!("cm-{i:02}"), &[("tier", tier), ("app", "shop")]);
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    api.create(
        &PostParams::default(),
        &labeled_cm("other", &[("app", "blog")]),
    )
    .await
    .unwrap();

    let front = api
        .list(&ListParams::default().labels("tier=front"))
        .await
        .unwrap();
    assert_eq!(front.items.len(), 13);
    let set = api
        .list(&ListParams::default().labels("tier in (front,back),app!=blog"))
        .await
        .unwrap();
    assert_eq!(set.items.len(), 25);
    let no_tier = api
        .list(&ListParams::default().labels("!tier"))
        .await
        .unwrap();
    assert_eq!(no_tier.items.len(), 1);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=cm-07"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);

    // Pages of 10 add up to every object, in name order, with one list resourceVersion.
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(10);
    let mut pages = 0;
    loop {
        let page = api.list(&params).await.unwrap();
        pages += 1;
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 26);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let err = api
        .list(&ListParams::default().labels("tier in front"))
        .await
        .unwrap_err();
    assert_eq!(code(err), 400);
    // Objects in another namespace are not listed; all-namespaces lists see them.
    let nss: Api<Namespace> = Api::all(server.client());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("team-b".into());
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let other: Api<ConfigMap> = Api::namespaced(server.client(), "team-b");
    other
        .create(&PostParams::default(), &labeled_cm("x", &[]))
        .await
        .unwrap();
    assert_eq!(
        api.list(&ListParams::default()).await.unwrap().items.len(),
        26
    );
    let all: Api<ConfigMap> = Api::all(server.client());
    assert_eq!(
        all.list(&ListParams::default()).await.unwrap().items.len(),
        27
    );
    // Creating in a namespace that does not exist is a 404 on the namespace.
    let nowhere: Api<ConfigMap> = Api::namespaced(server.client(), "nowhere");
    let err = nowhere
        .create(&PostParams::default(), &labeled_cm("x", &[]))
        .await
        .unwrap_err();
    assert_eq!(code(err), 404);
}

#[tokio::test]
async fn watch_streams_changes_replays_and_reports_gone() {
    let server = TestApiServer::builder()
        .bookmark_interval(Duration::from_millis(50))
        .start()
        .await;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client());
    let created = api
        .create(&PostParams::default(), &labeled_cm("w", &[("a", "1")]))
        .await
        .unwrap();
    let from = created.metadata.resource_version.clone().unwrap();

    let patch = Patch::Merge(json!({"data": {"k": "v"}}));
    api.patch("w", &PatchParams::default(), &patch)
        .await
        .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();

    // Replay from the creation's resourceVersion: MODIFIED then DELETED, then bookmarks.
    let wp = WatchParams {
        bookmarks: true,
        ..WatchParams::default()
    }
    .timeout(5);
    let mut stream = api.watch(&wp, &from).await.unwrap().boxed();
    let mut kinds = Vec::new();
    while let Some(event) = stream.try_next().await.unwrap() {
        let kind = match event {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(e) => panic!("unexpected error event {e:?}"),
        };
        kinds.push(kind);
        if kind == "BOOKMARK" {
            break;
        }
    }
    assert_eq!(kinds, vec!["MODIFIED", "DELETED", "BOOKMARK"]);

    // After compaction the old resourceVersion is gone: an ERROR event with 410 Expired.
    server.compact();
    let mut stream = api
        .watch(&WatchParams::default(), &from)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test]
async fn label_selector_watch_turns_relabels_into_added_and_deleted() {
    let server = TestApiServer::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client());
    let rv = server.resource_version().to_string();
    api.create(&PostParams::default(), &labeled_cm("c", &[("sel", "no")]))
        .await
        .unwrap();
    let relabel = |v: &str| Patch::Merge(json!({"metadata": {"labels": {"sel": v}}}));
    api.patch("c", &PatchParams::default(), &relabel("yes"))
        .await
        .unwrap();
    api.patch("c", &PatchParams::default(), &relabel("no"))
        .await
        .unwrap();
    let wp = WatchParams::default().labels("sel=yes").timeout(1);
    let events: Vec<_> = api
        .watch(&wp, &rv)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| !matches!(e, WatchEvent::Bookmark(_)))
        .map(|e| match e {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Modified(_) => "MODIFIED",
            _ => "OTHER",
        })
        .collect();
    assert_eq!(kinds, vec!["ADDED", "DELETED"]);
}

#[tokio::test]
async fn runtime_watcher_sees_state_and_survives_dropped_watches() {
    let server = TestApiServer::start().await;
    let api: Api<Secret> = Api::default_namespaced(server.client());
    for i in 0..3 {
        api.create(&PostParams::default(), &secret(&format!("pre-{i}"), &[]))
            .await
            .unwrap();
    }
    let (store, writer) = kube::runtime::reflector::store();
    let stream = kube::runtime::reflector(
        writer,
        watcher(api.clone(), watcher::Config::default().page_size(2)),
    );
    let handle = tokio::spawn(stream.for_each(|_| async {}));
    store.wait_until_ready().await.unwrap();
    assert_eq!(store.state().len(), 3);

    server.drop_watches();
    api.create(&PostParams::default(), &secret("after-drop", &[]))
        .await
        .unwrap();
    api.delete("pre-0", &DeleteParams::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let names: Vec<String> = store
            .state()
            .iter()
            .map(|s| s.metadata.name.clone().unwrap())
            .collect();
        if names.contains(&"after-drop".to_string()) && !names.contains(&"pre-0".to_string()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "watcher never caught up: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.abort();
}

#[tokio::test]
async fn finalizers_delay_deletion_until_removed() {
    let server = TestApiServer::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client());
    let mut cm = labeled_cm("f", &[]);
    cm.metadata.finalizers = Some(vec!["example.com/cleanup".into()]);
    api.create(&PostParams::default(), &cm).await.unwrap();
    let pending = api.delete("f", &DeleteParams::default()).await.unwrap();
    let pending = pending
        .left()
        .expect("object still present while a finalizer remains");
    assert!(pending.metadata.deletion_timestamp.is_some());
    // New finalizers cannot be added once deletion started.
    let add = Patch::Merge(json!({"metadata": {"finalizers": ["example.com/cleanup", "other/x"]}}));
    assert_eq!(
        code(
            api.patch("f", &PatchParams::default(), &add)
                .await
                .unwrap_err()
        ),
        422
    );
    let clear = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    api.patch("f", &PatchParams::default(), &clear)
        .await
        .unwrap();
    assert_eq!(code(api.get("f").await.unwrap_err()), 404);
}

#[tokio::test]
async fn patches_merge_json_and_failed_test_is_422() {
    let server = TestApiServer::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client());
    api.create(&PostParams::default(), &labeled_cm("p", &[]))
        .await
        .unwrap();
    let merge = Patch::Merge(json!({"data": {"a": "1", "b": "2"}}));
    api.patch("p", &PatchParams::default(), &merge)
        .await
        .unwrap();
    let remove = Patch::Merge(json!({"data": {"b": null}}));
    let cm = api
        .patch("p", &PatchParams::default(), &remove)
        .await
        .unwrap();
    assert_eq!(
        cm.data.unwrap(),
        BTreeMap::from([("a".to_string(), "1".to_string())])
    );

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "2"}
    ]))
    .unwrap();
    let cm = api
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(cm.data.unwrap()["a"], "2");
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/a", "value": "1"}])).unwrap();
    let err = api
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(failing))
        .await
        .unwrap_err();
    assert_eq!(code(err), 422);
    assert_eq!(
        code(
            api.patch("nope", &PatchParams::default(), &merge)
                .await
                .unwrap_err()
        ),
        404
    );
    // A merge patch that carries a stale resourceVersion is a conflict.
    let stale = Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "data": {"a": "3"}}));
    assert_eq!(
        code(
            api.patch("p", &PatchParams::default(), &stale)
                .await
                .unwrap_err()
        ),
        409
    );
}

#[tokio::test]
async fn server_side_apply_creates_tracks_managers_and_conflicts() {
    let server = TestApiServer::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client());
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1", "b": "2"}});
    let alice = PatchParams::apply("alice");
    let created = api
        .patch("ssa", &alice, &Patch::Apply(&config))
        .await
        .unwrap();
    let managers = created.metadata.managed_fields.clone().unwrap();
    assert_eq!(managers.len(), 1);
    assert_eq!(managers[0].manager.as_deref(), Some("alice"));
    assert_eq!(managers[0].operation.as_deref(), Some("Apply"));

    // Re-applying the same config is a no-op: no new resourceVersion.
    let again = api
        .patch("ssa", &alice, &Patch::Apply(&config))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        created.metadata.resource_version
    );

    let bob_config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "changed"}});
    let err = api
        .patch(
            "ssa",
            &PatchParams::apply("bob"),
            &Patch::Apply(&bob_config),
        )
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 409);
            assert!(
                status.message.contains("conflict with \"alice\""),
                "{}",
                status.message
            );
            assert!(status.message.contains(".data.a"), "{}", status.message);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let forced = api
        .patch(
            "ssa",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(&bob_config),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.as_ref().unwrap()["a"], "changed");

    // alice drops b from her config: b goes away, a (now bob's) stays.
    let alice_less =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {}});
    let after = api
        .patch("ssa", &alice, &Patch::Apply(&alice_less))
        .await
        .unwrap();
    assert_eq!(
        after.data.unwrap(),
        BTreeMap::from([("a".to_string(), "changed".to_string())])
    );

    // fieldManager is required for apply.
    let no_manager = PatchParams::default();
    assert_eq!(
        code(
            api.patch("ssa", &no_manager, &Patch::Apply(&config))
                .await
                .unwrap_err()
        ),
        400
    );
}

const WIDGET_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.example.com"},
  "spec": {
    "group": "example.com",
    "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "subresources": {"status": {}},
      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
    }]
  }
}"#;

#[tokio::test]
async fn crds_serve_custom_resources_with_status_subresource_and_generation() {
    let server = TestApiServer::start().await;
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_str(WIDGET_CRD).unwrap();
    let created = crds.create(&PostParams::default(), &crd).await.unwrap();
    let conditions = created.status.unwrap().conditions.unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );

    let discovery = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .unwrap();
    let (resource, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
        .unwrap();
    assert_eq!(resource.plural, "widgets");
    assert!(
        caps.subresources
            .iter()
            .any(|(r, _)| r.plural.ends_with("status") || r.plural == "status")
    );

    let widgets: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &resource);
    let w: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 1}, "status": {"ignored": true}
    }))
    .unwrap();
    let w = widgets.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(w.metadata.generation, Some(1));
    assert!(
        w.data.get("status").is_none(),
        "status is dropped on create when it is a subresource"
    );

    let status = Patch::Merge(json!({"status": {"ready": true}, "spec": {"size": 99}}));
    let after_status = widgets
        .patch_status("w", &PatchParams::default(), &status)
        .await
        .unwrap();
    assert_eq!(after_status.data["status"]["ready"], true);
    assert_eq!(
        after_status.data["spec"]["size"], 1,
        "/status writes only status"
    );
    assert_eq!(after_status.metadata.generation, Some(1));

    let spec = Patch::Merge(json!({"spec": {"size": 2}, "status": {"ready": false}}));
    let after_spec = widgets
        .patch("w", &PatchParams::default(), &spec)
        .await
        .unwrap();
    assert_eq!(after_spec.metadata.generation, Some(2));
    assert_eq!(
        after_spec.data["status"]["ready"], true,
        "main writes ignore status"
    );
    let labels = Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}));
    let after_labels = widgets
        .patch("w", &PatchParams::default(), &labels)
        .await
        .unwrap();
    assert_eq!(
        after_labels.metadata.generation,
        Some(2),
        "metadata changes do not bump generation"
    );

    // Deleting the CRD stops serving the resource and removes its objects.
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(code(widgets.get("w").await.unwrap_err()), 404);
    assert_eq!(server.object_count("example.com", "widgets"), 0);
}

#[tokio::test]
async fn runtime_controller_reconciles_objects() {
    let server = TestApiServer::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client());
    for i in 0..5 {
        api.create(&PostParams::default(), &labeled_cm(&format!("r{i}"), &[]))
            .await
            .unwrap();
    }
    let reconciled = Arc::new(AtomicUsize::new(0));
    let ctx = Arc::new((api.clone(), Arc::clone(&reconciled)));
    let controller = Controller::new(api.clone(), watcher::Config::default())
        .run(
            |cm: Arc<ConfigMap>, ctx: Arc<(Api<ConfigMap>, Arc<AtomicUsize>)>| async move {
                let name = cm.metadata.name.clone().unwrap();
                let patch = Patch::Apply(
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"seen": "yes"}}),
                );
                ctx.0
                    .patch(&name, &PatchParams::apply("reconciler"), &patch)
                    .await?;
                ctx.1.fetch_add(1, Ordering::SeqCst);
                Ok::<_, kube::Error>(Action::await_change())
            },
            |_, _, _| Action::requeue(Duration::from_millis(100)),
            ctx,
        )
        .for_each(|_| async {});
    let handle = tokio::spawn(controller);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let done = list
            .items
            .iter()
            .filter(|c| c.data.as_ref().is_some_and(|d| d.contains_key("seen")))
            .count();
        if done == 5 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of 5 reconciled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.abort();
    assert!(reconciled.load(Ordering::SeqCst) >= 5);
}

#[tokio::test]
async fn garbage_collection_deletes_dependents_of_deleted_owners() {
    let server = TestApiServer::builder()
        .gc(true)
        .gc_interval(Duration::from_millis(20))
        .start()
        .await;
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let secrets: Api<Secret> = Api::default_namespaced(server.client());
    let owner = cms
        .create(&PostParams::default(), &labeled_cm("owner", &[]))
        .await
        .unwrap();
    let mut dependent = secret("dependent", &[]);
    dependent.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.clone().unwrap(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    secrets
        .create(&PostParams::default(), &dependent)
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &secret("unowned", &[]))
        .await
        .unwrap();
    // Ten collector passes (every 20 ms) leave it alone while its owner exists.
    throughout(
        "the dependent stays while its owner exists",
        Duration::from_millis(200),
        async || secrets.get("dependent").await.is_ok(),
    )
    .await;
    assert!(secrets.get("dependent").await.is_ok(), "owner still exists");

    cms.delete("owner", &DeleteParams::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while secrets.get_opt("dependent").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "dependent was never collected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(secrets.get("unowned").await.is_ok());
}

#[tokio::test]
async fn without_gc_dependents_stay() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let secrets: Api<Secret> = Api::default_namespaced(server.client());
    let owner = cms
        .create(&PostParams::default(), &labeled_cm("owner", &[]))
        .await
        .unwrap();
    let mut dependent = secret("dependent", &[]);
    dependent.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.unwrap(),
        controller: Some(true),
        block_owner_deletion: None,
    }]);
    secrets
        .create(&PostParams::default(), &dependent)
        .await
        .unwrap();
    // Without a collector nothing would ever clear foregroundDeletion, so it is not added.
    cms.delete("owner", &DeleteParams::foreground())
        .await
        .unwrap();
    assert_eq!(code(cms.get("owner").await.unwrap_err()), 404);
    throughout(
        "the dependent stays without a collector",
        Duration::from_millis(300),
        async || secrets.get("dependent").await.is_ok(),
    )
    .await;
    assert!(secrets.get("dependent").await.is_ok());
}

#[tokio::test]
async fn injected_faults_fail_exactly_the_matching_requests() {
    let server = TestApiServer::start().await;
    let api: Api<Secret> = Api::default_namespaced(server.client());
    server.fail_next(FaultMatch::new("create", "secrets"), 500, 2);
    assert_eq!(
        code(
            api.create(&PostParams::default(), &secret("a", &[]))
                .await
                .unwrap_err()
        ),
        500
    );
    assert_eq!(
        code(
            api.create(&PostParams::default(), &secret("a", &[]))
                .await
                .unwrap_err()
        ),
        500
    );
    api.create(&PostParams::default(), &secret("a", &[]))
        .await
        .unwrap();
    // kube's default client retries 429 by itself: an injected 429 is invisible to its caller...
    server.fail_next(FaultMatch::new("get", "secrets"), 429, 2);
    api.get("a").await.unwrap();
    // ...and surfaces to a client without the retry layer.
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.default_retry = false;
    let no_retry: Api<Secret> = Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
    server.fail_next(FaultMatch::new("get", "secrets"), 429, 1);
    assert_eq!(
        reason(no_retry.get("a").await.unwrap_err()),
        (429, "TooManyRequests".to_string())
    );
    no_retry.get("a").await.unwrap();

    server.fail_next(FaultMatch::new("patch", "*"), 409, 1);
    let patch = Patch::Merge(json!({"metadata": {"labels": {"x": "1"}}}));
    assert_eq!(
        code(
            api.patch("a", &PatchParams::default(), &patch)
                .await
                .unwrap_err()
        ),
        409
    );
    server.fail_next(FaultMatch::new("*", "*"), 500, 5);
    server.clear_faults();
    api.patch("a", &PatchParams::default(), &patch)
        .await
        .unwrap();

    server.set_latency(Duration::from_millis(150));
    let started = std::time::Instant::now();
    api.get("a").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    server.set_latency(Duration::ZERO);
}

#[tokio::test]
async fn events_are_shared_between_core_and_events_k8s_io() {
    let server = TestApiServer::start().await;
    let client = server.client();
    let new_events: Api<k8s_openapi::api::events::v1::Event> =
        Api::default_namespaced(client.clone());
    let event: k8s_openapi::api::events::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "e1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "sealant.dev/controller",
        "reportingInstance": "pod-1",
        "action": "Unseal",
        "reason": "Unsealed",
        "note": "unsealed 3 keys",
        "type": "Normal",
        "regarding": {"kind": "SealedSecret", "name": "db", "namespace": "default"}
    }))
    .unwrap();
    new_events
        .create(&PostParams::default(), &event)
        .await
        .unwrap();
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::default_namespaced(client);
    let seen = core.get("e1").await.unwrap();
    assert_eq!(seen.message.as_deref(), Some("unsealed 3 keys"));
    assert_eq!(seen.involved_object.name.as_deref(), Some("db"));
    let back = new_events.get("e1").await.unwrap();
    assert_eq!(back.note.as_deref(), Some("unsealed 3 keys"));
}

#[tokio::test]
async fn leases_support_optimistic_leader_election() {
    let server = TestApiServer::start().await;
    let leases: Api<Lease> = Api::default_namespaced(server.client());
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "leader"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}
    }))
    .unwrap();
    let mine = leases.create(&PostParams::default(), &lease).await.unwrap();
    let mut take = mine.clone();
    take.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases
        .replace("leader", &PostParams::default(), &take)
        .await
        .unwrap();
    // The other candidate used the same (now stale) resourceVersion: it loses.
    let mut late = mine.clone();
    late.spec.as_mut().unwrap().holder_identity = Some("c".into());
    assert_eq!(
        code(
            leases
                .replace("leader", &PostParams::default(), &late)
                .await
                .unwrap_err()
        ),
        409
    );
    assert_eq!(
        leases
            .get("leader")
            .await
            .unwrap()
            .spec
            .unwrap()
            .holder_identity
            .as_deref(),
        Some("b")
    );
}

#[tokio::test]
async fn metadata_only_lists_and_generate_name() {
    let server = TestApiServer::start().await;
    let api: Api<Secret> = Api::default_namespaced(server.client());
    let mut s = secret("", &[("k", "v")]);
    s.metadata.name = None;
    s.metadata.generate_name = Some("gen-".into());
    let created = api.create(&PostParams::default(), &s).await.unwrap();
    let name = created.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.name.as_deref(), Some(name.as_str()));
    let mut nameless = secret("", &[]);
    nameless.metadata.name = None;
    assert_eq!(
        code(
            api.create(&PostParams::default(), &nameless)
                .await
                .unwrap_err()
        ),
        422
    );
}

#[tokio::test]
async fn custom_resources_are_pruned_and_validated_against_the_crd_schema() {
    let server = TestApiServer::start().await;
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut crd: serde_json::Value = serde_json::from_str(WIDGET_CRD).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "required": ["size"], "properties": {"size": {"type": "integer"}}},
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
        }
    });
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(crd).unwrap(),
    )
    .await
    .unwrap();
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::default_namespaced_with(client, &resource);
    let w: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 1, "unknown": "dropped"}
    }))
    .unwrap();
    let created = widgets.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(
        created.data["spec"],
        json!({"size": 1}),
        "unknown fields are pruned"
    );
    let status = Patch::Merge(json!({"status": {"ready": true, "extra": 1}}));
    let after = widgets
        .patch_status("w", &PatchParams::default(), &status)
        .await
        .unwrap();
    assert_eq!(after.data["status"], json!({"ready": true}));

    let wrong = Patch::Merge(json!({"spec": {"size": "big"}}));
    let err = widgets
        .patch("w", &PatchParams::default(), &wrong)
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
            assert!(status.message.contains("spec.size"), "{}", status.message);
        }
        other => panic!("expected 422, got {other:?}"),
    }
}

#[tokio::test]
async fn kube_finalizer_helper_adds_and_removes_its_finalizer() {
    use kube::runtime::finalizer::{Event as Finalizer, finalizer};
    let server = TestApiServer::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client());
    api.create(&PostParams::default(), &labeled_cm("fin", &[]))
        .await
        .unwrap();
    let run = |cm: ConfigMap| {
        let api = api.clone();
        async move {
            finalizer(
                &api,
                "example.com/cleanup",
                Arc::new(cm),
                |event| async move {
                    match event {
                        Finalizer::Apply(_) | Finalizer::Cleanup(_) => {
                            Ok::<_, kube::Error>(Action::await_change())
                        }
                    }
                },
            )
            .await
        }
    };
    // First pass adds the finalizer (JSON patch: test null on a missing path, then add).
    run(api.get("fin").await.unwrap()).await.unwrap();
    let cm = api.get("fin").await.unwrap();
    assert_eq!(
        cm.metadata.finalizers,
        Some(vec!["example.com/cleanup".to_string()])
    );
    // Deletion waits for the finalizer; the cleanup pass removes it and the object goes.
    api.delete("fin", &DeleteParams::default()).await.unwrap();
    run(api.get("fin").await.unwrap()).await.unwrap();
    assert_eq!(code(api.get("fin").await.unwrap_err()), 404);
}

#[tokio::test]
async fn namespace_deletion_waits_for_finalizers_of_its_contents() {
    let server = TestApiServer::start().await;
    let client = server.client();
    let nss: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("doomed".into());
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let mut held = labeled_cm("held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();
    cms.create(&PostParams::default(), &labeled_cm("plain", &[]))
        .await
        .unwrap();

    nss.delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let terminating = nss.get("doomed").await.unwrap();
    assert_eq!(
        terminating.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );
    assert_eq!(
        code(cms.get("plain").await.unwrap_err()),
        404,
        "contents without finalizers go at once"
    );
    assert!(
        cms.get("held")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    let err = cms
        .create(&PostParams::default(), &labeled_cm("new", &[]))
        .await
        .unwrap_err();
    assert_eq!(code(err), 403, "no new objects in a terminating namespace");

    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    cms.patch("held", &PatchParams::default(), &release)
        .await
        .unwrap();
    assert_eq!(code(cms.get("held").await.unwrap_err()), 404);
    assert_eq!(
        code(nss.get("doomed").await.unwrap_err()),
        404,
        "the namespace goes with its last object"
    );
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_and_the_end_bookmark() {
    let server = TestApiServer::start().await;
    let api: Api<Secret> = Api::default_namespaced(server.client());
    for i in 0..4 {
        api.create(&PostParams::default(), &secret(&format!("s{i}"), &[]))
            .await
            .unwrap();
    }
    let (store, writer) = kube::runtime::reflector::store();
    let config = watcher::Config::default().streaming_lists();
    let handle = tokio::spawn(
        kube::runtime::reflector(writer, watcher(api.clone(), config)).for_each(|_| async {}),
    );
    tokio::time::timeout(Duration::from_secs(10), store.wait_until_ready())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.state().len(), 4);
    handle.abort();
}

fn owned_by(name: &str, owner: &ConfigMap) -> Secret {
    let mut dependent = secret(name, &[]);
    dependent.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.metadata.name.clone().unwrap(),
        uid: owner.metadata.uid.clone().unwrap(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    dependent
}

/// Asserts that `check` holds at every look (every 20 ms) for `window`: for what must not happen,
/// where nothing says the collector has had its chance but the passes that `window` spans.
async fn throughout(what: &str, window: Duration, mut check: impl AsyncFnMut() -> bool) {
    let end = tokio::time::Instant::now() + window;
    loop {
        assert!(check().await, "{what}");
        if tokio::time::Instant::now() >= end {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn foreground_deletion_removes_dependents_before_the_owner() {
    let server = TestApiServer::builder()
        .gc(true)
        .gc_interval(Duration::from_millis(20))
        .start()
        .await;
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let secrets: Api<Secret> = Api::default_namespaced(server.client());
    let owner = cms
        .create(&PostParams::default(), &labeled_cm("owner", &[]))
        .await
        .unwrap();
    let mut held = owned_by("held", &owner);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    secrets.create(&PostParams::default(), &held).await.unwrap();

    let pending = cms
        .delete("owner", &DeleteParams::foreground())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(
        pending
            .metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_string())
    );
    eventually("the dependent is marked for deletion", async || {
        secrets
            .get("held")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        cms.get("owner").await.is_ok(),
        "the owner waits for its dependent"
    );
    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    secrets
        .patch("held", &PatchParams::default(), &release)
        .await
        .unwrap();
    eventually("the owner goes once the dependent is gone", async || {
        cms.get_opt("owner").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_and_drops_their_owner_reference() {
    let server = TestApiServer::builder()
        .gc(true)
        .gc_interval(Duration::from_millis(20))
        .start()
        .await;
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let secrets: Api<Secret> = Api::default_namespaced(server.client());
    let owner = cms
        .create(&PostParams::default(), &labeled_cm("owner", &[]))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &owned_by("kept", &owner))
        .await
        .unwrap();
    cms.delete("owner", &DeleteParams::orphan()).await.unwrap();
    eventually("the owner is gone", async || {
        cms.get_opt("owner").await.unwrap().is_none()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let kept = secrets.get("kept").await.unwrap();
    assert!(
        kept.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn malformed_requests_get_status_errors() {
    let server = TestApiServer::start().await;
    let client = server.client();
    let send = |method: &str, path: &str, content_type: &str, body: Vec<u8>| {
        let client = client.clone();
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(body)
            .unwrap();
        async move {
            reason(
                client
                    .request::<serde_json::Value>(request)
                    .await
                    .unwrap_err(),
            )
        }
    };
    let cms = "/api/v1/namespaces/default/configmaps";
    assert_eq!(
        send("POST", cms, "application/json", b"{not json".to_vec())
            .await
            .0,
        400
    );
    assert_eq!(
        send("POST", cms, "application/json", b"[1]".to_vec())
            .await
            .0,
        400
    );
    let huge = vec![b'a'; 4 * 1024 * 1024];
    assert_eq!(
        send("POST", cms, "application/json", huge).await,
        (413, "RequestEntityTooLarge".into())
    );
    assert_eq!(
        send("GET", "/api/v1/nodes", "application/json", Vec::new())
            .await
            .0,
        404
    );
    assert_eq!(
        send("PUT", cms, "application/json", b"{}".to_vec()).await.0,
        405
    );
    let patch = format!("{cms}/x");
    assert_eq!(
        send("PATCH", &patch, "text/plain", b"x".to_vec()).await.0,
        415
    );
    let protobuf = send(
        "POST",
        cms,
        "application/vnd.kubernetes.protobuf",
        b"k8s\0\xff".to_vec(),
    )
    .await;
    assert_eq!(protobuf.0, 400);
}

#[tokio::test]
async fn service_proxy_reaches_the_endpoint_behind_a_service() {
    use k8s_openapi::api::core::v1::{Endpoints, Service};
    // A stand-in for the controller's HTTP server.
    let backend = axum::Router::new()
        .route(
            "/v1/verify",
            axum::routing::post(|body: String| async move { format!("verified:{body}") }),
        )
        .route(
            "/v1/rotate",
            axum::routing::post(|| async {
                (
                    axum::http::StatusCode::CONFLICT,
                    "{\"reason\":\"NotLeader\",\"message\":\"ask the leader\"}",
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, backend).await.unwrap() });

    let server = TestApiServer::start().await;
    let client = server.client();
    let services: Api<Service> = Api::default_namespaced(client.clone());
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "ctl"},
        "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    let path = "/api/v1/namespaces/default/services/http:ctl:http/proxy/v1/verify";
    let post = |path: &str| {
        http::Request::post(path)
            .header("content-type", "application/json")
            .body(b"{\"x\":1}".to_vec())
            .unwrap()
    };

    // No Endpoints yet: 503, as a real apiserver says (kube would retry a 503 for minutes, so
    // this asks without its retry layer).
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.default_retry = false;
    let no_retry = kube::Client::try_from(config).unwrap();
    let err = no_retry.request_text(post(path)).await.unwrap_err();
    assert_eq!(reason(err).0, 503);

    let endpoints: Api<Endpoints> = Api::default_namespaced(client.clone());
    let ep: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "ctl"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": port}]}]
    }))
    .unwrap();
    endpoints.create(&PostParams::default(), &ep).await.unwrap();
    assert_eq!(
        client.request_text(post(path)).await.unwrap(),
        "verified:{\"x\":1}"
    );
    // The service's error status comes back to the caller.
    let rotate = "/api/v1/namespaces/default/services/http:ctl:http/proxy/v1/rotate";
    let err = client.request_text(post(rotate)).await.unwrap_err();
    match err {
        kube::Error::Api(status) => assert!(
            status.message.contains("ask the leader") || status.code == 409,
            "{status:?}"
        ),
        other => panic!("expected the service's 409, got {other:?}"),
    }
    let missing = "/api/v1/namespaces/default/services/http:nope:http/proxy/v1/verify";
    assert_eq!(
        code(client.request_text(post(missing)).await.unwrap_err()),
        404
    );
}

#[tokio::test]
async fn written_kubeconfig_works_for_kube_clients() {
    let server = TestApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(config.default_namespace, "default");
    let client = kube::Client::try_from(config).unwrap();
    let namespaces: Api<Namespace> = Api::all(client);
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.metadata.name.unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["default", "kube-node-lease", "kube-public", "kube-system"]
    );
}

#[tokio::test]
async fn kube_event_recorder_creates_then_patches_a_series() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let server = TestApiServer::start().await;
    let client = server.client();
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let cm = cms
        .create(&PostParams::default(), &labeled_cm("subject", &[]))
        .await
        .unwrap();
    let reporter = Reporter {
        controller: "sealant-controller".into(),
        instance: Some("pod-0".into()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let reference = kube::Resource::object_ref(&cm, &());
    let event = Event {
        type_: EventType::Normal,
        reason: "Unsealed".into(),
        note: Some("unsealed 2 keys".into()),
        action: "Unseal".into(),
        secondary: None,
    };
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(client);
    let list = events.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        list.items.len(),
        1,
        "the second publish patches the first event"
    );
    let only = &list.items[0];
    assert_eq!(only.series.as_ref().map(|s| s.count), Some(2));
    assert_eq!(
        only.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("subject")
    );
}

#[tokio::test]
async fn service_proxy_forwards_only_to_loopback_endpoints() {
    use k8s_openapi::api::core::v1::{Endpoints, Service};
    let server = TestApiServer::start().await;
    let client = server.client();
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "far"},
        "spec": {"ports": [{"name": "http", "port": 8080}]}
    }))
    .unwrap();
    Api::<Service>::default_namespaced(client.clone())
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    // A documentation address (TEST-NET-3): never contacted.
    let ep: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "far"},
        "subsets": [{"addresses": [{"ip": "203.0.113.7"}], "ports": [{"name": "http", "port": 8080}]}]
    }))
    .unwrap();
    Api::<Endpoints>::default_namespaced(client.clone())
        .create(&PostParams::default(), &ep)
        .await
        .unwrap();
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.default_retry = false;
    let no_retry = kube::Client::try_from(config).unwrap();
    let request = http::Request::get("/api/v1/namespaces/default/services/http:far:http/proxy/x")
        .body(Vec::new())
        .unwrap();
    match no_retry.request_text(request).await.unwrap_err() {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 503);
            assert!(status.message.contains("only to loopback"), "{status:?}");
        }
        other => panic!("expected a 503, got {other:?}"),
    }
}

fn invalid(err: kube::Error) -> (u16, String, Vec<String>) {
    match err {
        kube::Error::Api(status) => {
            let fields = status
                .details
                .map(|d| d.causes.into_iter().map(|c| c.field).collect())
                .unwrap_or_default();
            (status.code, status.message, fields)
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn secrets_follow_the_real_servers_type_rules() {
    let server = TestApiServer::start().await;
    let secrets: Api<Secret> = Api::default_namespaced(server.client());
    let pp = PostParams::default();

    // kubernetes.io/tls needs tls.crt and tls.key (issue 11: ours stored it, the real one 422s).
    let mut tls = secret("tls", &[("tls.crt", "x")]);
    tls.type_ = Some("kubernetes.io/tls".into());
    let (code, message, fields) = invalid(secrets.create(&pp, &tls).await.unwrap_err());
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "Secret \"tls\" is invalid: data[tls.key]: Required value"
    );
    assert_eq!(fields, ["data[tls.key]"]);
    tls.data
        .as_mut()
        .unwrap()
        .insert("tls.key".into(), ByteString(b"k".to_vec()));
    secrets.create(&pp, &tls).await.unwrap();

    let mut ssh = secret("ssh", &[]);
    ssh.type_ = Some("kubernetes.io/ssh-auth".into());
    let (_, _, fields) = invalid(secrets.create(&pp, &ssh).await.unwrap_err());
    assert_eq!(fields, ["data[ssh-privatekey]"]);

    let mut basic = secret("basic", &[]);
    basic.type_ = Some("kubernetes.io/basic-auth".into());
    let (_, message, fields) = invalid(secrets.create(&pp, &basic).await.unwrap_err());
    assert_eq!(fields, ["data[username]", "data[password]"]);
    assert!(
        message.starts_with("Secret \"basic\" is invalid: ["),
        "{message}"
    );

    let mut docker = secret("docker", &[(".dockerconfigjson", "not json")]);
    docker.type_ = Some("kubernetes.io/dockerconfigjson".into());
    let (_, _, fields) = invalid(secrets.create(&pp, &docker).await.unwrap_err());
    assert_eq!(fields, ["data[.dockerconfigjson]"]);

    // type is immutable.
    secrets
        .create(&pp, &secret("plain", &[("a", "b")]))
        .await
        .unwrap();
    let patch =
        Patch::Merge(json!({"type": "kubernetes.io/basic-auth", "data": {"username": "eA=="}}));
    let (code, message, _) = invalid(
        secrets
            .patch("plain", &PatchParams::default(), &patch)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "Secret \"plain\" is invalid: type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"
    );
}

#[tokio::test]
async fn label_syntax_is_validated_on_every_object() {
    let server = TestApiServer::start().await;
    let pp = PostParams::default();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let (code, message, fields) = invalid(
        cms.create(&pp, &labeled_cm("bad", &[("app", "bad value!")]))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert_eq!(fields, ["metadata.labels"]);
    assert!(
        message.contains("Invalid value: \"bad value!\": a valid label must be an empty string"),
        "{message}"
    );
    let (_, _, fields) = invalid(
        cms.create(&pp, &labeled_cm("bad", &[("a/b/c", "v"), ("-x", "v")]))
            .await
            .unwrap_err(),
    );
    assert_eq!(fields.len(), 2);
    cms.create(
        &pp,
        &labeled_cm(
            "good",
            &[("app.kubernetes.io/name", "sealant"), ("empty", "")],
        ),
    )
    .await
    .unwrap();
    // Also on update.
    let patch = Patch::Merge(json!({"metadata": {"labels": {"x": "-nope"}}}));
    let (code, _, _) = invalid(
        cms.patch("good", &PatchParams::default(), &patch)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
}

#[tokio::test]
async fn events_v1_notes_over_1024_characters_are_refused_as_by_the_real_server() {
    let server = TestApiServer::start().await;
    let client = server.client();
    let long = "x".repeat(1025);
    let gvk = GroupVersionKind::gvk("events.k8s.io", "v1", "Event");
    let events: Api<DynamicObject> =
        Api::default_namespaced_with(client.clone(), &ApiResource::from_gvk(&gvk));
    let event = |name: &str, note: &str| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": name},
            "eventTime": "2026-11-26T15:00:00.000000Z",
            "reportingController": "sealant.dev/controller", "reportingInstance": "r",
            "action": "Unseal", "reason": "UnsealFailed", "type": "Warning",
            "regarding": {"kind": "Secret", "name": "s", "namespace": "default"},
            "note": note,
        }))
        .unwrap()
    };
    let (code, message, fields) = invalid(
        events
            .create(&PostParams::default(), &event("long", &long))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert_eq!(fields, ["message"]);
    assert!(
        message.ends_with("can have at most 1024 characters"),
        "{message}"
    );
    events
        .create(&PostParams::default(), &event("short", &"x".repeat(1024)))
        .await
        .unwrap();
    // The core v1 API does not check the length (as in Kubernetes 1.24).
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::default_namespaced(client);
    let legacy: k8s_openapi::api::core::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "legacy"},
        "involvedObject": {"kind": "Secret", "name": "s", "namespace": "default"},
        "reason": "R", "type": "Normal", "message": long,
    }))
    .unwrap();
    core.create(&PostParams::default(), &legacy).await.unwrap();
}
