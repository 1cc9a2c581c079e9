//! The attack suite: each test plays someone who controls a request body, or who may create
//! SealedSecrets in one namespace, tries to make the controller leak a plaintext, trust their key
//! or do their work, and fails if the attack succeeds. The rules under test live in
//! `controller/src/policy.rs`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};

use sealant_controller::keys::key_secret;
use sealant_core::format::{Envelope, KeyRing, Location, Scope, open};
use sealant_core::key_secret::{
    KEY_CREATED_ANNOTATION, PRIVATE_KEY_DATA, PUBLIC_KEY_DATA, SEALING_KEY_LABEL,
};
use sealant_core::keys::PrivateKey;
use sealant_core::resource::{
    MANAGED_BY_LABEL, PUBLIC_KEYS_CONFIGMAP, SealedSecret, TemplateMetadata,
};
use sealant_test_apiserver::FaultMatch;

use crate::common::*;

fn json_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON answer, got {body}"))
}

/// Attack 1: take a committed SealedSecret, put your own key into `spec.recipients` and ask the
/// controller to rotate it. If that worked, the answer would be sealed to the attacker's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_is_not_a_decryption_oracle() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let cluster = published_key(&client).await;
    let attacker = PrivateKey::generate().unwrap();
    let committed = sealed(
        "db",
        "prod",
        &cluster,
        &[("password", "hunter2")],
        Scope::Strict,
    );

    let mut replaced = committed.clone();
    replaced.spec.recipients = vec![attacker.public().to_string()];
    let mut appended = committed.clone();
    appended.spec.recipients.push(attacker.public().to_string());
    for (what, request) in [("replaced", &replaced), ("appended", &appended)] {
        for content_type in ["application/json", "application/yaml"] {
            let body = if content_type.ends_with("json") {
                serde_json::to_vec(request).unwrap()
            } else {
                serde_yaml::to_string(request).unwrap().into_bytes()
            };
            let (status, _, answer) =
                http(running.addr, "POST", "/v1/rotate", content_type, &body).await;
            assert_eq!(status, 422, "{what}: {answer}");
            let problem = json_of(&answer);
            assert_eq!(problem["reason"], "UnexpectedRecipient", "{what}");
            assert!(!answer.contains("hunter2"));
            // Nothing sealed to the attacker came back.
            assert!(!answer.contains("encryptedData"), "{what}: {answer}");
        }
    }

    // The legitimate request still works, and the answer opens only for the cluster.
    let (status, _, answer) = http(
        running.addr,
        "POST",
        "/v1/rotate",
        "application/json",
        &serde_json::to_vec(&committed).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let rotated: SealedSecret = serde_json::from_str(&answer).unwrap();
    let value = &rotated.spec.encrypted_data["password"];
    assert_eq!(
        Envelope::from_base64(value).unwrap().key_ids(),
        vec![cluster.id()]
    );
    let attackers: KeyRing = [attacker].into_iter().collect();
    assert!(open(value, &Location::new("prod", "db", "password"), &attackers).is_err());

    // A value sealed to a key the controller does not have is never opened nor re-sealed.
    let stranger = PrivateKey::generate().unwrap();
    let foreign = sealed(
        "db",
        "prod",
        stranger.public(),
        &[("x", "y")],
        Scope::Strict,
    );
    let (status, _, answer) = http(
        running.addr,
        "POST",
        "/v1/rotate",
        "application/json",
        &serde_json::to_vec(&foreign).unwrap(),
    )
    .await;
    assert!(status == 409 || status == 422, "{status} {answer}");
    running.stop().await;
}

/// Attack 2: a SealedSecret whose template claims the sealing-key label, a future creation date
/// and the attacker's key pair, in the controller's namespace (the key watcher's namespace) and
/// elsewhere. If it worked, the attacker's key would be published for sealing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_secret_cannot_plant_a_sealing_key() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let cluster = published_key(&client).await;
    let attacker = PrivateKey::generate().unwrap();
    let attacker_file = attacker.to_file_text();
    let attacker_public = format!("{}\n", attacker.public());
    let planted_values = [
        (PRIVATE_KEY_DATA, attacker_file.as_str()),
        (PUBLIC_KEY_DATA, attacker_public.as_str()),
    ];
    for namespace in [CONTROLLER_NS, "team-a"] {
        let mut planted = sealed(
            "sealant-key-planted",
            namespace,
            &cluster,
            &planted_values,
            Scope::Strict,
        );
        planted.spec.template.as_mut().unwrap().metadata = Some(TemplateMetadata {
            labels: Some(BTreeMap::from([(
                SEALING_KEY_LABEL.to_string(),
                "active".to_string(),
            )])),
            annotations: Some(BTreeMap::from([(
                KEY_CREATED_ANNOTATION.to_string(),
                "2099-01-01T00:00:00Z".to_string(),
            )])),
        });
        create_sealed(&client, &planted).await;
    }
    let (_, in_controller_ns) = wait_condition(
        &client,
        CONTROLLER_NS,
        "sealant-key-planted",
        "ControllerNamespace",
    )
    .await;
    assert_eq!(in_controller_ns.status, "False");
    let (_, elsewhere) =
        wait_condition(&client, "team-a", "sealant-key-planted", "ReservedMetadata").await;
    assert!(
        elsewhere.message.contains("sealant.dev/"),
        "{}",
        elsewhere.message
    );
    let events = wait_events(&client, "team-a", "sealant-key-planted", |events| {
        !events.is_empty()
    })
    .await;
    assert!(
        events
            .iter()
            .any(|(t, _, note)| t == "Warning" && note.contains("remove it from the template")),
        "{events:?}"
    );

    // No Secret was written in either namespace, and the published key is still the cluster's.
    for namespace in [CONTROLLER_NS, "team-a"] {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        assert!(
            secrets
                .get_opt("sealant-key-planted")
                .await
                .unwrap()
                .is_none(),
            "{namespace}"
        );
    }
    // The planted key is never taken up: the served key stays the cluster's while the
    // controller has had time to see the planted Secret (nothing says when it has looked).
    holds_for(
        "the served public key stays the cluster's",
        Duration::from_millis(500),
        || async {
            let (_, _, served) =
                http(running.addr, "GET", "/v1/public-key", "text/plain", b"").await;
            served.trim() == cluster.to_string()
        },
    )
    .await;
    let (_, _, served) = http(running.addr, "GET", "/v1/public-key", "text/plain", b"").await;
    assert_eq!(served.trim(), cluster.to_string());
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let published = configmaps.get(PUBLIC_KEYS_CONFIGMAP).await.unwrap();
    let data = published.data.unwrap();
    assert_eq!(data["public-key"].trim(), cluster.to_string());
    assert!(!data["public-keys.json"].contains(&attacker.id().to_string()));
    running.stop().await;
}

/// Attack 2b: even if the operator opts in to the controller's namespace, the template labels
/// stay refused; and a Secret written for a SealedSecret (owned, labeled managed-by) is never a
/// key, even if someone with Secret access labels it by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_real_key_secrets_are_keys() {
    let server = server().await;
    let client = server.client();
    let mut cfg = config("a");
    cfg.policy.reconcile_controller_namespace = true;
    let running = start(client.clone(), cfg).await;
    let cluster = published_key(&client).await;

    let mut planted = sealed(
        "plant",
        CONTROLLER_NS,
        &cluster,
        &[("private-key", "x")],
        Scope::Strict,
    );
    planted.spec.template.as_mut().unwrap().metadata = Some(TemplateMetadata {
        labels: Some(BTreeMap::from([(
            "keys.sealant.dev/anything".to_string(),
            "x".to_string(),
        )])),
        annotations: None,
    });
    create_sealed(&client, &planted).await;
    wait_condition(&client, CONTROLLER_NS, "plant", "ReservedMetadata").await;

    // Key Secrets that something owns, or that the controller wrote for a SealedSecret.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let owned_key = PrivateKey::generate().unwrap();
    let mut owned = key_secret(&owned_key, jiff::Timestamp::now());
    owned.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "sealant.dev/v1alpha1".into(),
        kind: "SealedSecret".into(),
        name: "plant".into(),
        uid: "whatever".into(),
        ..OwnerReference::default()
    }]);
    secrets
        .create(&PostParams::default(), &owned)
        .await
        .unwrap();
    let managed_key = PrivateKey::generate().unwrap();
    let mut managed = key_secret(&managed_key, jiff::Timestamp::now());
    managed
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert(MANAGED_BY_LABEL.into(), "sealant-controller".into());
    secrets
        .create(&PostParams::default(), &managed)
        .await
        .unwrap();
    // A real key added by hand afterwards, to know the watch has seen the two before it.
    let real = PrivateKey::generate().unwrap();
    secrets
        .create(
            &PostParams::default(),
            &key_secret(&real, jiff::Timestamp::now()),
        )
        .await
        .unwrap();
    wait_for("the key added by hand to be served", || async {
        let (_, _, body) = http(running.addr, "GET", "/v1/public-key", "text/plain", b"").await;
        (body.trim() == real.public().to_string()).then_some(())
    })
    .await;
    let (_, _, list) = http(running.addr, "GET", "/v1/public-keys", "text/plain", b"").await;
    assert!(!list.contains(&owned_key.id().to_string()), "{list}");
    assert!(!list.contains(&managed_key.id().to_string()), "{list}");
    running.stop().await;
}

/// Attack 3: a key Secret dated far in the future (a planted or mistaken `created-at`) would
/// stay the newest key and never be renewed. It counts as created now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_dated_in_the_future_counts_as_created_now() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    published_key(&client).await;
    let future = PrivateKey::generate().unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    secrets
        .create(
            &PostParams::default(),
            &key_secret(&future, "2099-01-01T00:00:00Z".parse().unwrap()),
        )
        .await
        .unwrap();
    let entry = wait_for("the future-dated key to load", || async {
        let (_, _, body) = http(running.addr, "GET", "/v1/public-keys", "text/plain", b"").await;
        let list: serde_json::Value = serde_json::from_str(&body).ok()?;
        list.as_array()?
            .iter()
            .find(|k| k["keyId"] == future.id().to_string())
            .cloned()
    })
    .await;
    let created: jiff::Timestamp = entry["createdAt"].as_str().unwrap().parse().unwrap();
    assert!(
        created <= jiff::Timestamp::now(),
        "created-at was taken at its word: {created}"
    );
    running.stop().await;
}

/// Attack 4: Secret types that make the cluster mint credentials. A developer who may create
/// SealedSecrets but not Secrets would otherwise get a token of any ServiceAccount in their
/// namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_minting_secret_types_need_the_operators_consent() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let cluster = published_key(&client).await;
    for (name, type_) in [
        ("sa-token", "kubernetes.io/service-account-token"),
        ("bootstrap", "bootstrap.kubernetes.io/token"),
    ] {
        let mut minting = sealed(name, "team-a", &cluster, &[("token", "x")], Scope::Strict);
        let template = minting.spec.template.as_mut().unwrap();
        template.type_ = Some(type_.into());
        template.metadata = Some(TemplateMetadata {
            labels: None,
            annotations: Some(BTreeMap::from([(
                "kubernetes.io/service-account.name".to_string(),
                "admin".to_string(),
            )])),
        });
        create_sealed(&client, &minting).await;
        let (_, condition) = wait_condition(&client, "team-a", name, "ForbiddenSecretType").await;
        assert!(
            condition.message.contains("--allow-secret-types"),
            "{}",
            condition.message
        );
        let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-a");
        assert!(secrets.get_opt(name).await.unwrap().is_none());
    }
    running.stop().await;

    // With the operator's consent the same object is unsealed.
    let mut cfg = config("b");
    cfg.policy
        .allowed_secret_types
        .insert("kubernetes.io/service-account-token".into());
    let running = start(client.clone(), cfg).await;
    wait_condition(&client, "team-a", "sa-token", "Unsealed").await;
    wait_condition(&client, "team-a", "bootstrap", "ForbiddenSecretType").await;
    running.stop().await;
}

/// Attack 5: flood verify and rotate with maximal requests from one client. Probes, metrics,
/// other clients and reconciles must keep working; the flooding client is rate limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_maximal_requests_starves_nothing() {
    let server = server().await;
    let client = server.client();
    let mut cfg = config("a");
    // Let the flood reach the crypto workers (a per-client limit would stop it at once).
    cfg.http.rate_per_second = 1000;
    cfg.http.burst = 1000;
    cfg.http.crypto_workers = 1;
    let running = start(client.clone(), cfg).await;
    let cluster = published_key(&client).await;

    let values: Vec<(String, String)> = (0..sealant_controller::policy::MAX_VALUES_PER_REQUEST)
        .map(|i| (format!("k{i}"), "v".repeat(512)))
        .collect();
    let pairs: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let maximal =
        serde_json::to_vec(&sealed("big", "prod", &cluster, &pairs, Scope::Strict)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    let flooder = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    for i in 0..16 {
        let (stop, answered, body, addr) = (
            Arc::clone(&stop),
            Arc::clone(&answered),
            maximal.clone(),
            running.addr,
        );
        let path = if i % 2 == 0 {
            "/v1/verify"
        } else {
            "/v1/rotate"
        };
        flood.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, _, _) =
                    http_from(Some(flooder), addr, "POST", path, "application/json", &body).await;
                assert!([200, 503, 408, 429].contains(&status), "flood got {status}");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // The flood is under way: its requests are being answered (200, or a refusal).
    wait_for("every flooder to have had an answer", || async {
        (answered.load(Ordering::Relaxed) >= 16).then_some(())
    })
    .await;

    // While it runs: probes answer fast, a new SealedSecret is reconciled.
    let started = Instant::now();
    create_sealed(
        &client,
        &sealed(
            "during-flood",
            "prod",
            &cluster,
            &[("a", "b")],
            Scope::Strict,
        ),
    )
    .await;
    for _ in 0..10 {
        let asked = Instant::now();
        let (status, _, _) = http(running.addr, "GET", "/healthz", "text/plain", b"").await;
        assert_eq!(status, 200);
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "healthz took {:?} under the flood",
            asked.elapsed()
        );
        let (status, _, _) = http(running.addr, "GET", "/metrics", "text/plain", b"").await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_secret(&client, "prod", "during-flood", |_| true).await;
    let reconciled_in = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        task.await.unwrap();
    }
    assert!(answered.load(Ordering::Relaxed) > 0);
    assert!(
        reconciled_in < Duration::from_secs(10),
        "reconcile took {reconciled_in:?} under the flood"
    );
    running.stop().await;

    // Per-client limits: one client that spent its budget does not lock out another.
    let mut cfg = config("b");
    cfg.http.rate_per_second = 1;
    cfg.http.burst = 3;
    let running = start(client.clone(), cfg).await;
    published_key(&client).await;
    let small =
        serde_json::to_vec(&sealed("s", "prod", &cluster, &[("a", "b")], Scope::Strict)).unwrap();
    let mut limited = 0;
    for _ in 0..10 {
        let (status, _, _) = http_from(
            Some(flooder),
            running.addr,
            "POST",
            "/v1/verify",
            "application/json",
            &small,
        )
        .await;
        limited += usize::from(status == 429);
    }
    assert!(limited >= 5, "the flooding client was not limited");
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let (status, _, body) = http_from(
        Some(other),
        running.addr,
        "POST",
        "/v1/verify",
        "application/json",
        &small,
    )
    .await;
    assert_eq!(status, 200, "another client was locked out: {body}");
    running.stop().await;
}

/// Attack 6: more values than a request may hold are refused before any crypto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_too_many_values_are_refused() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let cluster = published_key(&client).await;
    let mut object = sealed("db", "prod", &cluster, &[("a", "b")], Scope::Strict);
    let value = object.spec.encrypted_data["a"].clone();
    for i in 0..=sealant_controller::policy::MAX_VALUES_PER_REQUEST {
        object
            .spec
            .encrypted_data
            .insert(format!("k{i}"), value.clone());
    }
    let (status, _, body) = http(
        running.addr,
        "POST",
        "/v1/verify",
        "application/json",
        &serde_json::to_vec(&object).unwrap(),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(json_of(&body)["reason"], "TooManyValues");
    running.stop().await;
}

/// Attack 7: a Secret the API server refuses (422) must become a clear condition with the
/// server's words, and must not be retried until something changes (no retry storm).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_secret_is_reported_once_and_not_retried_until_something_changes() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let cluster = published_key(&client).await;
    server.fail_next(FaultMatch::new("create", "secrets"), 422, 1_000);
    server.fail_next(FaultMatch::new("patch", "secrets"), 422, 1_000);
    create_sealed(
        &client,
        &sealed("refused", "prod", &cluster, &[("a", "b")], Scope::Strict),
    )
    .await;
    let (_, condition) = wait_condition(&client, "prod", "refused", "SecretRejected").await;
    assert!(condition.message.contains("422"), "{}", condition.message);
    // Once the fault is gone nothing retries on its own: the rejection is permanent. (What
    // must not happen has no event to wait for: the Secret stays absent over the windows.)
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "prod");
    let absent = || async { secrets.get_opt("refused").await.unwrap().is_none() };
    holds_for(
        "the rejected Secret was retried without a change",
        Duration::from_secs(1),
        absent,
    )
    .await;
    server.clear_faults();
    holds_for(
        "the rejected Secret was retried without a change",
        Duration::from_secs(3),
        absent,
    )
    .await;
    assert!(
        secrets.get_opt("refused").await.unwrap().is_none(),
        "the rejected Secret was retried without a change"
    );
    // A change to the SealedSecret retries it.
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), "prod");
    api.patch(
        "refused",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"labels": {"fixed": "yes"}}})),
    )
    .await
    .unwrap();
    wait_condition(&client, "prod", "refused", "Unsealed").await;
    running.stop().await;
}

/// Attack 8: Events for a SealedSecret whose name is close to the 253-character limit (an Event
/// named after it would be too long) and a failure message longer than the 1 KiB the API server
/// accepts in a note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_long_names_and_long_messages() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let cluster = published_key(&client).await;
    let name = format!("{}.end", "n".repeat(245));
    assert_eq!(name.len(), 249);
    // Sealed for another (long) name: WrongScope, whose message quotes both names.
    let mut moved = sealed(
        &format!("{}.other", "m".repeat(240)),
        "prod",
        &cluster,
        &[("a", "b")],
        Scope::Strict,
    );
    moved.metadata.name = Some(name.clone());
    create_sealed(&client, &moved).await;
    wait_condition(&client, "prod", &name, "WrongScope").await;
    let events = wait_events(&client, "prod", &name, |events| !events.is_empty()).await;
    assert!(events.iter().all(|(_, _, note)| note.len() <= 1024));
    running.stop().await;
}

/// Attack 9: the template's labels and annotations cannot put the adoption annotation on the
/// Secret either, and the Secret's own data stays the only content (no stray keys from labels).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsealed_secrets_carry_only_allowed_template_metadata() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let cluster = published_key(&client).await;
    create_sealed(
        &client,
        &sealed("fine", "team-b", &cluster, &[("a", "b")], Scope::Strict),
    )
    .await;
    let secret = wait_secret(&client, "team-b", "fine", |_| true).await;
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("app").map(String::as_str), Some("db"));
    assert_eq!(
        labels.get(MANAGED_BY_LABEL).map(String::as_str),
        Some("sealant-controller")
    );
    assert!(!labels.contains_key(SEALING_KEY_LABEL));
    assert_eq!(
        secret.data.unwrap(),
        BTreeMap::from([("a".to_string(), ByteString(b"b".to_vec()))])
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let keys = secrets
        .list(&ListParams::default().labels(SEALING_KEY_LABEL))
        .await
        .unwrap();
    assert_eq!(keys.items.len(), 1, "exactly the one generated key");
    running.stop().await;
}

/// Issue 18, point 4: no byte of a value reaches a status, an Event, a log line or a metric, on
/// any error path. Every value below is made of bytes that appear nowhere else (`~` and a
/// canary word): a `.dockerconfigjson` and a `.dockercfg` that are not JSON (the API server's
/// refusal quotes the first byte), a value sealed for another namespace, a sealed value that is
/// not base64, a TLS Secret without its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_byte_of_a_value_reaches_a_status_an_event_a_log_or_a_metric() {
    const CANARY: &str = "~Kw9canaryZ~";
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;
    let mut cases: Vec<(&str, SealedSecret, &str)> = Vec::new();
    for (name, type_, data_key) in [
        (
            "docker-json",
            "kubernetes.io/dockerconfigjson",
            ".dockerconfigjson",
        ),
        ("docker-cfg", "kubernetes.io/dockercfg", ".dockercfg"),
    ] {
        let mut object = sealed(name, "team-a", &key, &[(data_key, CANARY)], Scope::Strict);
        object.spec.template.as_mut().unwrap().type_ = Some(type_.into());
        cases.push((name, object, "SecretRejected"));
    }
    let mut tls = sealed("tls", "team-a", &key, &[("tls.crt", CANARY)], Scope::Strict);
    tls.spec.template.as_mut().unwrap().type_ = Some("kubernetes.io/tls".into());
    cases.push(("tls", tls, "SecretRejected"));
    let mut moved = sealed(
        "moved",
        "team-b",
        &key,
        &[("password", CANARY)],
        Scope::Strict,
    );
    moved.metadata.namespace = Some("team-a".into());
    cases.push(("moved", moved, "WrongScope"));
    let mut garbage = sealed(
        "garbage",
        "team-a",
        &key,
        &[("password", "x")],
        Scope::Strict,
    );
    garbage
        .spec
        .encrypted_data
        .insert("password".into(), CANARY.into());
    cases.push(("garbage", garbage, "InvalidSealedValue"));
    for (name, object, _) in &cases {
        assert!(!name.contains('~'));
        create_sealed(&client, object).await;
    }
    let (_, _, metrics) = http(running.addr, "GET", "/metrics", "text/plain", b"").await;
    for (name, _, reason) in &cases {
        let (_, condition) = wait_condition(&client, "team-a", name, reason).await;
        let events = wait_events(&client, "team-a", name, |e| !e.is_empty()).await;
        for text in std::iter::once(condition.message.clone())
            .chain(events.into_iter().map(|(_, _, note)| note))
        {
            assert!(
                !text.contains('~') && !text.contains("canary"),
                "{name}: a byte of the value in {text:?}"
            );
        }
    }
    let (_, _, metrics_after) = http(running.addr, "GET", "/metrics", "text/plain", b"").await;
    for text in [metrics, metrics_after, logs()] {
        assert!(
            !text.contains('~') && !text.contains("canary"),
            "a byte of a value in:\n{text}"
        );
    }
    running.stop().await;
}

/// Issue 18, point 1: one tenant's oversized SealedSecrets are refused with a fixed reason,
/// without the controller keeping (or reading again) what they hold, and do not hold up another
/// namespace. A mid-sized one (over what the cache keeps whole) is still read and unsealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_sealed_secrets_are_refused_and_do_not_delay_another_namespace() {
    let server = server().await;
    let client = server.client();
    let mut cfg = config("a");
    cfg.concurrency = 2;
    let running = start(client.clone(), cfg).await;
    let key = published_key(&client).await;
    let garbage = "A".repeat(600 * 1024);
    for i in 0..20 {
        let mut object = sealed(
            &format!("big{i}"),
            "team-a",
            &key,
            &[("v", "x")],
            Scope::Strict,
        );
        object
            .spec
            .encrypted_data
            .insert("v".into(), garbage.clone());
        create_sealed(&client, &object).await;
    }
    // 24 KiB of plaintext: more than the cache keeps whole, less than the limit.
    let mid_value = "m".repeat(24 * 1024);
    create_sealed(
        &client,
        &sealed("mid", "team-a", &key, &[("v", &mid_value)], Scope::Strict),
    )
    .await;
    create_sealed(
        &client,
        &sealed("quiet", "team-b", &key, &[("v", "q")], Scope::Strict),
    )
    .await;
    wait_secret(&client, "team-b", "quiet", |_| true).await;
    let (_, condition) = wait_condition(&client, "team-a", "big7", "TooLarge").await;
    assert_eq!(condition.status, "False");
    assert!(
        condition.message.contains("at most 524288 bytes"),
        "{}",
        condition.message
    );
    for i in 0..20 {
        wait_condition(&client, "team-a", &format!("big{i}"), "TooLarge").await;
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-a");
    assert!(secrets.get_opt("big0").await.unwrap().is_none());
    let secret = wait_secret(&client, "team-a", "mid", |_| true).await;
    assert_eq!(secret.data.unwrap()["v"].0.len(), 24 * 1024);
    running.stop().await;
}

/// Issue 18, point 8: a cluster-wide value opens in every namespace, so whoever can copy it
/// (from git, or from any namespace) can have it unsealed wherever they may create a
/// SealedSecret. An operator who limits cluster-wide values to selected namespaces
/// (`--cluster-wide-namespaces`) has the copy elsewhere refused, while values sealed for a
/// namespace are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_wide_values_are_unsealed_only_where_the_operator_allows() {
    let server = server().await;
    let client = server.client();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"tier": "shared"}}})),
        )
        .await
        .unwrap();
    let mut cfg = config("a");
    cfg.policy.cluster_wide_namespaces = Some("tier=shared".parse().unwrap());
    let running = start(client.clone(), cfg).await;
    let key = published_key(&client).await;
    let wide = sealed(
        "shared-creds",
        "team-a",
        &key,
        &[("token", "t")],
        Scope::ClusterWide,
    );
    create_sealed(&client, &wide).await;
    let mut copied = wide.clone();
    copied.metadata.namespace = Some("team-b".into());
    create_sealed(&client, &copied).await;
    create_sealed(
        &client,
        &sealed("own", "team-b", &key, &[("token", "o")], Scope::Strict),
    )
    .await;

    wait_condition(&client, "team-a", "shared-creds", "Unsealed").await;
    wait_condition(&client, "team-b", "own", "Unsealed").await;
    let (_, condition) =
        wait_condition(&client, "team-b", "shared-creds", "ClusterWideNotAllowed").await;
    assert!(
        condition.message.contains("tier=shared"),
        "{}",
        condition.message
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-b");
    assert!(secrets.get_opt("shared-creds").await.unwrap().is_none());
    running.stop().await;
}
