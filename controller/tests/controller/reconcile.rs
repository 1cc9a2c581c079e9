//! The reconciler against the test API server: Secrets written, updated, restored; failures
//! reported without writing; unowned Secrets left alone; adoption; faults.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use sealant_core::format::Scope;
use sealant_core::keys::PrivateKey;
use sealant_core::resource::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, SealedSecret};
use sealant_test_apiserver::FaultMatch;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_secret_becomes_an_owned_secret_that_follows_updates_and_is_restored() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;

    let created = create_sealed(
        &client,
        &sealed(
            "db",
            "prod",
            &key,
            &[("username", "admin"), ("password", "s3cret")],
            Scope::Strict,
        ),
    )
    .await;
    let secret = wait_secret(&client, "prod", "db", |_| true).await;
    assert_eq!(
        data_of(&secret),
        BTreeMap::from([
            ("password".into(), "s3cret".into()),
            ("username".into(), "admin".into())
        ])
    );
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    let labels = secret.metadata.labels.clone().unwrap();
    assert_eq!(labels.get("app").map(String::as_str), Some("db"));
    assert_eq!(
        labels.get(MANAGED_BY_LABEL).map(String::as_str),
        Some(MANAGED_BY_VALUE)
    );
    assert_eq!(
        secret
            .metadata
            .annotations
            .clone()
            .unwrap()
            .get("team")
            .map(String::as_str),
        Some("data")
    );
    let owners = secret.metadata.owner_references.clone().unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].uid, created.metadata.uid.clone().unwrap());
    assert_eq!(
        (owners[0].kind.as_str(), owners[0].controller),
        ("SealedSecret", Some(true))
    );

    let (object, condition) = wait_condition(&client, "prod", "db", "Unsealed").await;
    assert_eq!(condition.status, "True");
    assert_eq!(
        object.status.as_ref().unwrap().observed_generation,
        object.metadata.generation
    );
    let first_transition = condition.last_transition_time.clone();
    let (_, _, text) = http(running.addr, "GET", "/metrics", "text/plain", b"").await;
    // One SealedSecret of two values: objects and values are counted apart.
    assert_eq!(metric_value(&text, "sealant_unseal_total"), 1.0, "{text}");
    assert_eq!(
        metric_value(&text, "sealant_unsealed_values_total"),
        2.0,
        "{text}"
    );
    // Aggregate only: /metrics is open to every Pod, so it names no SealedSecret.
    assert!(
        text.contains("sealant_sealedsecrets{status=\"True\",reason=\"Unsealed\"} 1"),
        "{text}"
    );
    assert!(!text.contains("name=\"db\""), "{text}");

    // Update: one value changed, one removed, one added.
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), "prod");
    let mut update = sealed(
        "db",
        "prod",
        &key,
        &[("password", "n3w"), ("token", "t")],
        Scope::Strict,
    );
    update.metadata.resource_version = object.metadata.resource_version.clone();
    api.replace("db", &PostParams::default(), &update)
        .await
        .unwrap();
    let secret = wait_secret(&client, "prod", "db", |s| {
        data_of(s).get("password").map(String::as_str) == Some("n3w")
    })
    .await;
    assert_eq!(
        data_of(&secret),
        BTreeMap::from([
            ("password".into(), "n3w".into()),
            ("token".into(), "t".into())
        ])
    );
    let (object, condition) = wait_condition(&client, "prod", "db", "Unsealed").await;
    wait_for("observedGeneration to follow the update", || {
        let api = api.clone();
        async move {
            let o = api.get("db").await.ok()?;
            (o.status?.observed_generation == o.metadata.generation).then_some(())
        }
    })
    .await;
    assert_eq!(
        condition.last_transition_time, first_transition,
        "no transition, same time"
    );
    assert!(object.metadata.generation >= Some(2));

    // Edited Secret: restored.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "prod");
    let edit = serde_json::json!({"data": {"password": "aGFja2Vk"}});
    secrets
        .patch("db", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    wait_secret(&client, "prod", "db", |s| {
        data_of(s).get("password").map(String::as_str) == Some("n3w")
    })
    .await;

    // Deleted Secret: restored.
    secrets
        .delete("db", &DeleteParams::default())
        .await
        .unwrap();
    let restored = wait_secret(&client, "prod", "db", |_| true).await;
    assert_eq!(data_of(&restored)["password"], "n3w");

    // Exactly one Normal Unsealed event: events only on transitions.
    let events = wait_events(&client, "prod", "db", |events| {
        events.iter().any(|(_, reason, _)| reason == "Unsealed")
    })
    .await;
    let unsealed: Vec<_> = events
        .iter()
        .filter(|(_, reason, _)| reason == "Unsealed")
        .collect();
    assert_eq!(unsealed.len(), 1, "{events:?}");
    assert_eq!(unsealed[0].0, "Normal");

    // Deleting the SealedSecret lets GC collect the Secret.
    api.delete("db", &DeleteParams::default()).await.unwrap();
    wait_for("the Secret to be garbage-collected", || {
        let secrets = secrets.clone();
        async move { secrets.get_opt("db").await.ok()?.is_none().then_some(()) }
    })
    .await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_do_not_open_are_reported_and_no_secret_is_written() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;

    // Sealed for another namespace, then placed in prod.
    let mut moved = sealed(
        "moved",
        "staging",
        &key,
        &[("password", "x")],
        Scope::Strict,
    );
    moved.metadata.namespace = Some("prod".into());
    create_sealed(&client, &moved).await;
    // Sealed to a key this cluster does not have.
    let stranger = PrivateKey::generate().unwrap();
    create_sealed(
        &client,
        &sealed(
            "unknown",
            "prod",
            stranger.public(),
            &[("password", "x")],
            Scope::Strict,
        ),
    )
    .await;
    // A value whose ciphertext was changed.
    let mut tampered = sealed(
        "tampered",
        "prod",
        &key,
        &[("password", "x")],
        Scope::Strict,
    );
    let value = tampered.spec.encrypted_data.get_mut("password").unwrap();
    let mut bytes = base64_decode(value);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    *value = base64_encode(&bytes);
    create_sealed(&client, &tampered).await;

    let (_, c) = wait_condition(&client, "prod", "moved", "WrongScope").await;
    assert_eq!(c.status, "False");
    assert!(
        c.message.contains("staging/moved") && c.message.contains("prod/moved"),
        "{}",
        c.message
    );
    let (_, c) = wait_condition(&client, "prod", "unknown", "UnknownKey").await;
    assert!(c.message.contains(&stranger.id().short()), "{}", c.message);
    let (_, c) = wait_condition(&client, "prod", "tampered", "Tampered").await;
    assert!(
        c.message.contains("tampered or corrupt value 'password'"),
        "{}",
        c.message
    );

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "prod");
    for name in ["moved", "unknown", "tampered"] {
        assert!(
            secrets.get_opt(name).await.unwrap().is_none(),
            "{name}: no Secret written"
        );
        let events = wait_events(&client, "prod", name, |events| !events.is_empty()).await;
        assert_eq!(events.len(), 1, "{name}: one event, {events:?}");
        assert_eq!(
            (events[0].0.as_str(), events[0].1.as_str()),
            ("Warning", "UnsealFailed")
        );
    }
    assert!(
        events_about(&client, "prod", "moved").await[0]
            .2
            .starts_with("WrongScope: ")
    );

    // Metrics count the failures by reason.
    let (status, _, text) = http(running.addr, "GET", "/metrics", "text/plain", b"").await;
    assert_eq!(status, 200);
    for reason in ["WrongScope", "UnknownKey", "Tampered"] {
        assert!(
            text.contains(&format!(
                "sealant_unseal_errors_total{{reason=\"{reason}\"}}"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "sealant_sealedsecrets{{status=\"False\",reason=\"{reason}\"}} 1"
            )),
            "{text}"
        );
    }

    // No spinning: after a while there is still one event each and few reconciles. (A loop has
    // no event to wait for: the count is watched over two seconds.)
    holds_for(
        "one Event about a permanent failure",
        Duration::from_secs(2),
        || async { events_about(&client, "prod", "moved").await.len() == 1 },
    )
    .await;
    assert_eq!(events_about(&client, "prod", "moved").await.len(), 1);
    let (_, _, text) = http(running.addr, "GET", "/metrics", "text/plain", b"").await;
    let reconciles: f64 = metric_value(&text, "sealant_reconciles_total");
    assert!(
        reconciles < 20.0,
        "permanent failures must not spin: {reconciles} reconciles"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_is_not_ours_is_left_alone_unless_annotated_for_adoption() {
    let server = server().await;
    let client = server.client();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "prod");
    let theirs = Secret {
        metadata: ObjectMeta {
            name: Some("db".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "password".to_string(),
            ByteString(b"theirs".to_vec()),
        )])),
        // The same type as the SealedSecret's template: a Secret's type is immutable on a real
        // API server (and on the test one), so a Secret of another type cannot be adopted.
        type_: Some("kubernetes.io/basic-auth".into()),
        ..Secret::default()
    };
    secrets
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;
    create_sealed(
        &client,
        &sealed("db", "prod", &key, &[("password", "ours")], Scope::Strict),
    )
    .await;

    let (_, condition) = wait_condition(&client, "prod", "db", "SecretNotOwned").await;
    assert!(
        condition.message.contains("sealant.dev/managed"),
        "{}",
        condition.message
    );
    let untouched = secrets.get("db").await.unwrap();
    assert_eq!(data_of(&untouched)["password"], "theirs");
    assert!(untouched.metadata.owner_references.is_none());
    assert!(untouched.metadata.labels.is_none());

    // Annotating it lets the controller adopt it. Unlabeled Secrets are not watched (memory), so
    // the annotation alone waits for the slow requeue; touching the SealedSecret retriggers now.
    let annotate =
        serde_json::json!({"metadata": {"annotations": {"sealant.dev/managed": "true"}}});
    secrets
        .patch("db", &PatchParams::default(), &Patch::Merge(&annotate))
        .await
        .unwrap();
    let sealed_api: Api<SealedSecret> = Api::namespaced(client.clone(), "prod");
    let touch = serde_json::json!({"metadata": {"annotations": {"touched": "1"}}});
    sealed_api
        .patch("db", &PatchParams::default(), &Patch::Merge(&touch))
        .await
        .unwrap();
    let adopted = wait_secret(&client, "prod", "db", |s| {
        data_of(s).get("password").map(String::as_str) == Some("ours")
    })
    .await;
    assert_eq!(
        adopted.metadata.owner_references.unwrap()[0].controller,
        Some(true)
    );
    wait_condition(&client, "prod", "db", "Unsealed").await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_conflicts_errors_and_dropped_watches_still_converge() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;

    // New Secrets are created (one request each); the first three creates fail.
    server.fail_next(FaultMatch::new("create", "secrets"), 500, 3);
    server.fail_next(FaultMatch::new("patch", "sealedsecrets/status"), 409, 2);
    for i in 0..5 {
        create_sealed(
            &client,
            &sealed(
                &format!("s{i}"),
                "prod",
                &key,
                &[("v", &format!("value-{i}"))],
                Scope::Strict,
            ),
        )
        .await;
    }
    server.drop_watches();
    for i in 0..5 {
        let secret = wait_secret(&client, "prod", &format!("s{i}"), |_| true).await;
        assert_eq!(data_of(&secret)["v"], format!("value-{i}"));
        wait_condition(&client, "prod", &format!("s{i}"), "Unsealed").await;
    }

    // After the watches drop again, a deleted Secret is still noticed and restored.
    server.drop_watches();
    server.compact();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "prod");
    secrets
        .delete("s0", &DeleteParams::default())
        .await
        .unwrap();
    wait_secret(&client, "prod", "s0", |_| true).await;

    let (_, _, text) = http(running.addr, "GET", "/metrics", "text/plain", b"").await;
    assert!(
        text.contains("sealant_reconcile_failures_total{error=\"ApplySecret\"}"),
        "{text}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_watched_namespaces_are_reconciled() {
    let server = server().await;
    let client = server.client();
    let mut cfg = config("a");
    cfg.watch_namespaces = vec!["team-a".into(), "team-b".into()];
    let running = start(client.clone(), cfg).await;
    let key = published_key(&client).await;
    for ns in ["team-a", "team-b", "team-c"] {
        create_sealed(
            &client,
            &sealed("db", ns, &key, &[("v", ns)], Scope::Strict),
        )
        .await;
    }
    wait_secret(&client, "team-a", "db", |_| true).await;
    wait_secret(&client, "team-b", "db", |_| true).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-c");
    holds_for(
        "a Secret in a namespace that is not watched",
        Duration::from_millis(500),
        || async { secrets.get_opt("db").await.unwrap().is_none() },
    )
    .await;
    assert!(secrets.get_opt("db").await.unwrap().is_none());
    running.stop().await;
}

/// The SealedSecrets in the controller's cache, as `/metrics` counts them by status.
fn cached_sealed_secrets(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("sealant_sealedsecrets{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `sealant.dev/keep-secret: "true"` on a SealedSecret (bitnami's skip-set-owner-references): its
/// Secret has no ownerReference, is still kept in sync while the SealedSecret exists, and
/// survives its deletion, after which nothing manages it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_secret_survives_its_sealed_secret() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;
    let mut kept = sealed("kept", "team-b", &key, &[("v", "one")], Scope::Strict);
    kept.metadata.annotations = Some(BTreeMap::from([(
        "sealant.dev/keep-secret".to_string(),
        "true".to_string(),
    )]));
    create_sealed(&client, &kept).await;
    let secret = wait_secret(&client, "team-b", "kept", |_| true).await;
    assert!(
        secret
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty(),
        "a kept Secret has no owner"
    );
    // Still kept in sync: a value edited by hand is put back.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-b");
    secrets
        .patch(
            "kept",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"v": "ZWRpdGVk"}})),
        )
        .await
        .unwrap();
    wait_secret(&client, "team-b", "kept", |s| data_of(s)["v"] == "one").await;

    // The SealedSecret goes; the Secret stays, and is no longer managed.
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), "team-b");
    api.delete("kept", &Default::default()).await.unwrap();
    // The controller has seen the deletion once its cache (which /metrics counts) is empty.
    wait_for("the controller to forget the SealedSecret", || async {
        let (_, _, text) = http(running.addr, "GET", "/metrics", "text/plain", b"").await;
        (cached_sealed_secrets(&text) == 0.0).then_some(())
    })
    .await;
    secrets
        .patch(
            "kept",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"v": "ZWRpdGVk"}})),
        )
        .await
        .unwrap();
    // What must not happen has no event to wait for: the edit stays for two seconds.
    holds_for(
        "the kept Secret is left alone",
        Duration::from_secs(2),
        || async { data_of(&secrets.get("kept").await.unwrap())["v"] == "edited" },
    )
    .await;
    let left = secrets.get("kept").await.unwrap();
    assert_eq!(
        data_of(&left)["v"],
        "edited",
        "the kept Secret is left alone"
    );
    running.stop().await;
}

/// `sealant.dev/managed: "patch"` on an existing Secret (bitnami's `patch`): the SealedSecret's
/// keys are merged in, the others, the type and the ownership stay with whoever has them (also
/// against another field manager), a hand edit of one of ours is put back, one of theirs is not
/// touched, and deleting the SealedSecret leaves the Secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_opted_in_to_patching_keeps_what_is_not_ours() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-c");
    let existing = Secret {
        metadata: ObjectMeta {
            name: Some("shared".into()),
            annotations: Some(BTreeMap::from([(
                "sealant.dev/managed".to_string(),
                "patch".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/basic-auth".into()),
        data: Some(BTreeMap::from([
            ("username".to_string(), ByteString(b"theirs".to_vec())),
            ("password".to_string(), ByteString(b"old".to_vec())),
        ])),
        ..Secret::default()
    };
    secrets
        .create(
            &PostParams {
                field_manager: Some("platform-team".into()),
                ..PostParams::default()
            },
            &existing,
        )
        .await
        .unwrap();
    create_sealed(
        &client,
        &sealed(
            "shared",
            "team-c",
            &key,
            &[("password", "new"), ("extra", "e")],
            Scope::Strict,
        ),
    )
    .await;
    let secret = wait_secret(&client, "team-c", "shared", |s| {
        data_of(s).get("password").map(String::as_str) == Some("new")
    })
    .await;
    let data = data_of(&secret);
    assert_eq!(data["username"], "theirs", "another manager's key is kept");
    assert_eq!(data["extra"], "e");
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert!(
        secret
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
    wait_condition(&client, "team-c", "shared", "Unsealed").await;

    // Their key edited by them: left alone. Ours edited by hand: put back.
    secrets
        .patch(
            "shared",
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"data": {"username": "Ym9i", "password": "aGFja2Vk"}}),
            ),
        )
        .await
        .unwrap();
    let secret = wait_secret(&client, "team-c", "shared", |s| {
        data_of(s)["password"] == "new"
    })
    .await;
    assert_eq!(data_of(&secret)["username"], "bob");

    // The SealedSecret goes; the Secret stays.
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), "team-c");
    api.delete("shared", &DeleteParams::default())
        .await
        .unwrap();
    // What must not happen (the Secret deleted with it) has no event to wait for.
    holds_for(
        "the adopted Secret stays",
        Duration::from_secs(2),
        || async { secrets.get_opt("shared").await.unwrap().is_some() },
    )
    .await;
    assert!(secrets.get_opt("shared").await.unwrap().is_some());
    running.stop().await;
}

/// Issue 18, point 7: a key added by hand to a managed Secret is removed (server-side apply
/// alone would leave it, as another manager's field), with an Event naming the key and never its
/// value; a SealedSecret annotated `sealant.dev/allow-extra-keys: "true"` keeps such keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_added_to_a_managed_secret_by_hand_are_removed_unless_allowed() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-c");
    create_sealed(
        &client,
        &sealed("strict", "team-c", &key, &[("a", "b")], Scope::Strict),
    )
    .await;
    let mut allowing = sealed("lenient", "team-c", &key, &[("a", "b")], Scope::Strict);
    allowing.metadata.annotations = Some(BTreeMap::from([(
        "sealant.dev/allow-extra-keys".to_string(),
        "true".to_string(),
    )]));
    create_sealed(&client, &allowing).await;
    for name in ["strict", "lenient"] {
        wait_condition(&client, "team-c", name, "Unsealed").await;
        // "aW5qZWN0ZWQ=" is "injected".
        secrets
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"data": {"planted": "aW5qZWN0ZWQ="}})),
            )
            .await
            .unwrap();
    }
    let secret = wait_secret(&client, "team-c", "strict", |s| {
        !data_of(s).contains_key("planted")
    })
    .await;
    assert_eq!(
        data_of(&secret),
        BTreeMap::from([("a".to_string(), "b".to_string())])
    );
    let events = wait_events(&client, "team-c", "strict", |e| {
        e.iter().any(|(_, reason, _)| reason == "ExtraKeysRemoved")
    })
    .await;
    let (type_, _, note) = events
        .iter()
        .find(|(_, reason, _)| reason == "ExtraKeysRemoved")
        .unwrap();
    assert_eq!(type_, "Warning");
    assert!(note.contains("\"planted\""), "{note}");
    assert!(!note.contains("injected"), "{note}");

    // Allowed: the planted key stays, while a value of ours edited by hand is still put back
    // (the reconcile that repairs it has seen the planted key).
    secrets
        .patch(
            "lenient",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"a": "aGFja2Vk"}})),
        )
        .await
        .unwrap();
    let secret = wait_secret(&client, "team-c", "lenient", |s| data_of(s)["a"] == "b").await;
    assert_eq!(data_of(&secret)["planted"], "injected");
    running.stop().await;
}
