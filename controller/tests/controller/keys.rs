//! Keys and leader election against the test API server: generation, publication, restart,
//! renewal, cutoff, keys added by hand, backup and restore, one leader and failover.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};

use sealant_controller::keys::key_secret;
use sealant_core::format::Scope;
use sealant_core::key_secret::SEALING_KEY_LABEL;
use sealant_core::keys::{KeyType, PrivateKey};
use sealant_core::resource::PUBLIC_KEYS_CONFIGMAP;

use crate::common::*;

async fn key_secrets(client: &kube::Client) -> Vec<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    api.list(&ListParams::default().labels(SEALING_KEY_LABEL))
        .await
        .unwrap()
        .items
}

async fn published_ids(client: &kube::Client) -> BTreeSet<String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let Some(cm) = api.get_opt(PUBLIC_KEYS_CONFIGMAP).await.unwrap() else {
        return BTreeSet::new();
    };
    let list: serde_json::Value =
        serde_json::from_str(&cm.data.unwrap()["public-keys.json"]).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|k| k["keyId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_generated_once_published_and_kept_across_restarts() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;
    let stored = key_secrets(&client).await;
    assert_eq!(stored.len(), 1);
    let secret = &stored[0];
    assert_eq!(
        secret.metadata.labels.as_ref().unwrap()[SEALING_KEY_LABEL],
        "active"
    );
    assert!(
        secret
            .metadata
            .annotations
            .as_ref()
            .unwrap()
            .contains_key("sealant.dev/created-at")
    );
    let data = secret.data.as_ref().unwrap();
    assert_eq!(
        String::from_utf8(data["public-key"].0.clone())
            .unwrap()
            .trim(),
        key.to_string()
    );
    assert_eq!(
        PrivateKey::from_file_text(std::str::from_utf8(&data["private-key"].0).unwrap())
            .unwrap()
            .id(),
        key.id()
    );
    assert_eq!(
        published_ids(&client).await,
        BTreeSet::from([key.id().to_string()])
    );

    // The HTTP endpoint publishes the same key.
    let (status, content_type, body) =
        http(running.addr, "GET", "/v1/public-key", "text/plain", b"").await;
    assert_eq!((status, body.trim()), (200, key.to_string().as_str()));
    assert!(content_type.starts_with("text/plain"));
    create_sealed(
        &client,
        &sealed("db", "prod", &key, &[("v", "1")], Scope::Strict),
    )
    .await;
    wait_secret(&client, "prod", "db", |_| true).await;
    running.stop().await;

    // Restart: same key, no new one.
    let running = start(client.clone(), config("b")).await;
    wait_for("readiness after restart", || async {
        (http(running.addr, "GET", "/readyz", "text/plain", b"")
            .await
            .0
            == 200)
            .then_some(())
    })
    .await;
    holds_for(
        "the restarted controller made no new key",
        Duration::from_millis(500),
        || async { key_secrets(&client).await.len() == 1 },
    )
    .await;
    assert_eq!(key_secrets(&client).await.len(), 1);
    assert_eq!(published_key(&client).await, key);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_publishes_a_new_key_and_old_values_still_open() {
    let server = server().await;
    let client = server.client();
    let mut cfg = config("a");
    cfg.key_renew_period = Some(Duration::from_secs(2));
    let running = start(client.clone(), cfg).await;
    let first = published_key(&client).await;
    let newer = wait_for("a renewed key", || {
        let client = client.clone();
        let first = first.clone();
        async move {
            let key = published_key(&client).await;
            (key != first).then_some(key)
        }
    })
    .await;
    assert!(key_secrets(&client).await.len() >= 2);
    assert!(
        published_ids(&client)
            .await
            .contains(&first.id().to_string()),
        "old key still listed"
    );

    // Values sealed to the old key and to the new one both open.
    create_sealed(
        &client,
        &sealed("old", "prod", &first, &[("v", "old")], Scope::Strict),
    )
    .await;
    create_sealed(
        &client,
        &sealed("new", "prod", &newer, &[("v", "new")], Scope::Strict),
    )
    .await;
    assert_eq!(
        data_of(&wait_secret(&client, "prod", "old", |_| true).await)["v"],
        "old"
    );
    assert_eq!(
        data_of(&wait_secret(&client, "prod", "new", |_| true).await)["v"],
        "new"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutoff_later_than_the_newest_key_forces_a_new_key_at_start() {
    let server = server().await;
    let client = server.client();
    let old = PrivateKey::generate().unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    secrets
        .create(
            &PostParams::default(),
            &key_secret(&old, "2025-01-01T00:00:00Z".parse().unwrap()),
        )
        .await
        .unwrap();
    let mut cfg = config("a");
    cfg.key_cutoff = Some("2026-01-01T00:00:00Z".parse().unwrap());
    let running = start(client.clone(), cfg).await;
    let key = wait_for("a key newer than the cutoff", || {
        let client = client.clone();
        let old = old.public().clone();
        async move {
            let key = published_key(&client).await;
            (key != old).then_some(key)
        }
    })
    .await;
    assert_ne!(key, *old.public());
    assert_eq!(key_secrets(&client).await.len(), 2);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_opens_old_sealed_secrets_in_a_fresh_cluster() {
    // Cluster one: a key is generated and something sealed to it; back up the key Secrets.
    let first = server().await;
    let running = start(first.client(), config("a")).await;
    let key = published_key(&first.client()).await;
    let sealed_object = sealed(
        "db",
        "prod",
        &key,
        &[("password", "from-backup")],
        Scope::Strict,
    );
    let backup = key_secrets(&first.client()).await;
    running.stop().await;
    drop(first);

    // Cluster two: restore the key Secrets (as `kubectl get -o yaml` then `apply` would).
    let second = server().await;
    let client = second.client();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    for mut secret in backup {
        secret.metadata = ObjectMeta {
            name: secret.metadata.name.clone(),
            labels: secret.metadata.labels.clone(),
            annotations: secret.metadata.annotations.clone(),
            ..ObjectMeta::default()
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let running = start(client.clone(), config("b")).await;
    create_sealed(&client, &sealed_object).await;
    let secret = wait_secret(&client, "prod", "db", |_| true).await;
    assert_eq!(data_of(&secret)["password"], "from-backup");
    assert_eq!(
        published_key(&client).await,
        key,
        "the restored key is used, no new key"
    );
    assert_eq!(key_secrets(&client).await.len(), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_added_by_hand_is_picked_up_by_every_replica_and_retries_waiting_objects() {
    let server = server().await;
    let client = server.client();
    let mut a = config("a");
    a.leader_election = true;
    let mut b = config("b");
    b.leader_election = true;
    let first = start(client.clone(), a).await;
    let second = start(client.clone(), b).await;
    published_key(&client).await;

    // A SealedSecret sealed to a key the cluster does not have yet waits as UnknownKey.
    let byok = PrivateKey::generate().unwrap();
    create_sealed(
        &client,
        &sealed(
            "byok",
            "prod",
            byok.public(),
            &[("v", "mine")],
            Scope::Strict,
        ),
    )
    .await;
    wait_condition(&client, "prod", "byok", "UnknownKey").await;

    let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    secrets
        .create(
            &PostParams::default(),
            &key_secret(&byok, "2020-01-01T00:00:00Z".parse().unwrap()),
        )
        .await
        .unwrap();
    for running in [&first, &second] {
        wait_for("both replicas to list the new key", || async {
            let (_, _, body) =
                http(running.addr, "GET", "/v1/public-keys", "text/plain", b"").await;
            body.contains(&byok.id().to_string()).then_some(())
        })
        .await;
    }
    // The waiting object is retried at once (not after the slow requeue).
    let secret = wait_secret(&client, "prod", "byok", |_| true).await;
    assert_eq!(data_of(&secret)["v"], "mine");
    wait_condition(&client, "prod", "byok", "Unsealed").await;
    first.stop().await;
    second.stop().await;
}

async fn holder(client: &kube::Client) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), CONTROLLER_NS);
    leases
        .get_opt("sealant-controller")
        .await
        .ok()??
        .spec?
        .holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_elect_one_leader_and_fail_over_when_it_dies() {
    let server = server().await;
    let client = server.client();
    let mut a = config("replica-a");
    a.leader_election = true;
    let mut b = config("replica-b");
    b.leader_election = true;
    let first = start(client.clone(), a).await;
    let leader = wait_for("a leader", || holder(&client)).await;
    let second = start(client.clone(), b).await;
    assert_eq!(leader, "replica-a");
    let key = published_key(&client).await;
    // Both replicas serve HTTP; only one generated a key.
    for running in [&first, &second] {
        wait_for("readiness", || async {
            (http(running.addr, "GET", "/readyz", "text/plain", b"")
                .await
                .0
                == 200)
                .then_some(())
        })
        .await;
    }
    // The follower has tried to take the Lease a few times (it reads the Lease on each try).
    lease_reads_after(&server, lease_reads(&server), 3).await;
    assert_eq!(
        holder(&client).await.as_deref(),
        Some("replica-a"),
        "the leader keeps the lease"
    );
    assert_eq!(key_secrets(&client).await.len(), 1);

    // The leader dies without releasing the lease: the other takes over after the lease expires
    // and reconciles.
    first.kill();
    wait_for("replica-b to take over", || async {
        (holder(&client).await.as_deref() == Some("replica-b")).then_some(())
    })
    .await;
    create_sealed(
        &client,
        &sealed("after", "prod", &key, &[("v", "1")], Scope::Strict),
    )
    .await;
    wait_secret(&client, "prod", "after", |_| true).await;

    // A graceful stop releases the lease; a new replica takes it over.
    let mut c = config("replica-c");
    c.leader_election = true;
    let third = start(client.clone(), c).await;
    second.stop().await;
    wait_for("replica-c to take over", || async {
        (holder(&client).await.as_deref() == Some("replica-c")).then_some(())
    })
    .await;
    third.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_the_lease_stops_reconciling_at_once() {
    let server = server().await;
    let client = server.client();
    let mut a = config("replica-a");
    a.leader_election = true;
    let running = start(client.clone(), a).await;
    wait_for("a leader", || holder(&client)).await;
    let key = published_key(&client).await;

    // Another holder takes the lease (as after a partition): the replica must stop at once.
    let leases: Api<Lease> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let mut lease = leases.get("sealant-controller").await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(3);
    spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        jiff::Timestamp::now(),
    ));
    let reads = lease_reads(&server);
    leases
        .replace("sealant-controller", &PostParams::default(), &lease)
        .await
        .unwrap();
    // Its next renewal is refused (409) and it steps down; it reads the Lease only once it
    // holds none.
    lease_reads_after(&server, reads, 1).await;
    create_sealed(
        &client,
        &sealed("while-away", "prod", &key, &[("v", "1")], Scope::Strict),
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "prod");
    // What must not happen has no event to wait for: the Secret stays absent for a second (the
    // intruder's Lease lasts three).
    holds_for(
        "a replica without the lease reconciled",
        Duration::from_secs(1),
        || async { secrets.get_opt("while-away").await.unwrap().is_none() },
    )
    .await;
    assert!(
        secrets.get_opt("while-away").await.unwrap().is_none(),
        "a replica without the lease reconciled"
    );

    // The intruder never renews: the replica takes the lease back and catches up.
    wait_for("the lease to come back", || async {
        (holder(&client).await.as_deref() == Some("replica-a")).then_some(())
    })
    .await;
    wait_secret(&client, "prod", "while-away", |_| true).await;
    running.stop().await;
}

/// `--key-type xwing`: the controller generates and publishes a post-quantum hybrid key, and
/// values sealed to it, alone or next to another cluster's X25519 key, are unsealed, verified and
/// rotated through the controller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_keys_seal_open_verify_and_rotate_through_the_controller() {
    let server = server().await;
    let client = server.client();
    let mut cfg = config("a");
    cfg.key_type = sealant_core::keys::KeyType::XWing;
    let running = start(client.clone(), cfg).await;
    let key = published_key(&client).await;
    assert!(key.to_string().starts_with("sealant-pub-pq1:"), "{key}");
    let other_cluster = PrivateKey::generate().unwrap();
    let mixed = sealant_core::resource::seal_secret(
        &plain_secret("mixed", &[("password", "pq-secret")]),
        "prod",
        Scope::Strict,
        &[key.clone(), other_cluster.public().clone()],
    )
    .unwrap();
    create_sealed(&client, &mixed).await;
    let secret = wait_secret(&client, "prod", "mixed", |_| true).await;
    assert_eq!(data_of(&secret)["password"], "pq-secret");

    let body = serde_json::to_vec(&mixed).unwrap();
    let (status, _, answer) = http(
        running.addr,
        "POST",
        "/v1/verify",
        "application/json",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(&key.id().to_string()));
    let (status, _, answer) = http(
        running.addr,
        "POST",
        "/v1/rotate",
        "application/json",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let rotated: sealant_core::resource::SealedSecret = serde_json::from_str(&answer).unwrap();
    let envelope =
        sealant_core::format::Envelope::from_base64(&rotated.spec.encrypted_data["password"])
            .unwrap();
    assert_eq!(envelope.key_ids(), vec![key.id(), other_cluster.id()]);
    running.stop().await;
}

/// Point 5 of issue 19: a controller restarted with a key cutoff and the default key type
/// (x25519) after X-Wing keys must not make an x25519 key the newest: the new key keeps the
/// post-quantum type unless --allow-key-type-downgrade is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutoff_after_x_wing_keys_never_downgrades_the_new_key_to_x25519() {
    for (allow, expected) in [(false, KeyType::XWing), (true, KeyType::X25519)] {
        let server = server().await;
        let client = server.client();
        let old = PrivateKey::generate_with(KeyType::XWing).unwrap();
        let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
        secrets
            .create(
                &PostParams::default(),
                &key_secret(&old, "2025-01-01T00:00:00Z".parse().unwrap()),
            )
            .await
            .unwrap();
        let mut cfg = config("a");
        cfg.key_cutoff = Some("2026-01-01T00:00:00Z".parse().unwrap());
        cfg.allow_key_type_downgrade = allow;
        assert_eq!(cfg.key_type, KeyType::X25519, "the default type");
        let running = start(client.clone(), cfg).await;
        let key = wait_for("a key newer than the cutoff", || {
            let client = client.clone();
            let old = old.public().clone();
            async move {
                let key = published_key(&client).await;
                (key != old).then_some(key)
            }
        })
        .await;
        assert_eq!(
            key.key_type(),
            expected,
            "allow_key_type_downgrade = {allow}"
        );
        running.stop().await;
    }
}
