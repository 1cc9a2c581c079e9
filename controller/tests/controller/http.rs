//! The HTTP endpoints of a running controller: health, readiness, metrics, public keys, verify
//! and rotate, and the limits (body size, garbage, rate).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use sealant_controller::keys::key_secret;
use sealant_core::format::{Envelope, KeyRing, Location, Scope, open};
use sealant_core::keys::PrivateKey;
use sealant_core::resource::SealedSecret;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_public_keys() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let (status, _, body) = http(running.addr, "GET", "/healthz", "text/plain", b"").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let key = published_key(&client).await;
    wait_for("readiness", || async {
        (http(running.addr, "GET", "/readyz", "text/plain", b"")
            .await
            .0
            == 200)
            .then_some(())
    })
    .await;

    let (status, content_type, body) =
        http(running.addr, "GET", "/v1/public-keys", "text/plain", b"").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["keyId"], key.id().to_string());
    assert_eq!(list[0]["publicKey"], key.to_string());
    assert_eq!(list[0]["state"], "active");
    assert!(list[0]["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(!body.contains("PRIVATE"));

    let (status, content_type, text) =
        http(running.addr, "GET", "/metrics", "text/plain", b"").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/openmetrics-text"));
    for metric in [
        "sealant_keys 1",
        "sealant_newest_key_age_seconds ",
        "sealant_build_info{version=",
        "# EOF",
    ] {
        assert!(text.contains(metric), "{metric} in {text}");
    }
    let (status, _, _) = http(running.addr, "GET", "/nothing-here", "text/plain", b"").await;
    assert_eq!(status, 404);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_lists_key_ids_and_scopes_or_says_why_not() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;

    let good = sealed(
        "db",
        "prod",
        &key,
        &[("password", "hunter2"), ("user", "admin")],
        Scope::NamespaceWide,
    );
    let json = serde_json::to_vec(&good).unwrap();
    let (status, _, body) = http(
        running.addr,
        "POST",
        "/v1/verify",
        "application/json",
        &json,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let values = answer["values"].as_array().unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0]["key"], "password");
    assert_eq!(values[0]["keyId"], key.id().to_string());
    assert_eq!(values[0]["scope"], "namespace-wide");
    assert!(!body.contains("hunter2") && !body.contains("admin"));

    // YAML without a content type works too.
    let yaml = serde_yaml::to_string(&good).unwrap();
    let (status, _, _) = http(running.addr, "POST", "/v1/verify", "", yaml.as_bytes()).await;
    assert_eq!(status, 200);

    // The object moved to another namespace: 409 with the reason and what was expected.
    let mut moved = good.clone();
    moved.metadata.namespace = Some("staging".into());
    let (status, _, body) = http(
        running.addr,
        "POST",
        "/v1/verify",
        "application/json",
        &serde_json::to_vec(&moved).unwrap(),
    )
    .await;
    assert_eq!(status, 409);
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["reason"], "WrongScope");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("namespace prod"),
        "{body}"
    );

    // Sealed to an unknown key.
    let stranger = PrivateKey::generate().unwrap();
    let unknown = sealed(
        "db",
        "prod",
        stranger.public(),
        &[("password", "x")],
        Scope::Strict,
    );
    let (status, _, body) = http(
        running.addr,
        "POST",
        "/v1/verify",
        "application/json",
        &serde_json::to_vec(&unknown).unwrap(),
    )
    .await;
    assert_eq!(
        (
            status,
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["reason"].as_str()
        ),
        (409, Some("UnknownKey"))
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_reseals_to_the_newest_key_in_the_same_format_without_plaintext() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let old = published_key(&client).await;
    let other_cluster = PrivateKey::generate().unwrap();
    // Sealed for this cluster and another one: rotation keeps the other cluster's recipient.
    let original = sealant_core::resource::seal_secret(
        &plain_secret("db", &[("password", "hunter2")]),
        "prod",
        Scope::Strict,
        &[old.clone(), other_cluster.public().clone()],
    )
    .unwrap();
    assert_eq!(original.spec.recipients.len(), 2);

    // A newer key arrives (added by hand, created now, so it becomes the newest).
    let newer = PrivateKey::generate().unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    secrets
        .create(
            &PostParams::default(),
            &key_secret(&newer, jiff::Timestamp::now()),
        )
        .await
        .unwrap();
    wait_for("the newer key to be served", || async {
        let (_, _, body) = http(running.addr, "GET", "/v1/public-key", "text/plain", b"").await;
        (body.trim() == newer.public().to_string()).then_some(())
    })
    .await;

    let yaml = serde_yaml::to_string(&original).unwrap();
    let (status, content_type, body) = http(
        running.addr,
        "POST",
        "/v1/rotate",
        "application/yaml",
        yaml.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("application/yaml"));
    assert!(!body.contains("hunter2"));
    let rotated: SealedSecret = serde_yaml::from_str(&body).unwrap();
    let envelope = Envelope::from_base64(&rotated.spec.encrypted_data["password"]).unwrap();
    assert_eq!(
        envelope.key_ids(),
        vec![newer.id(), other_cluster.id()],
        "newest key first, the other cluster's recipient (already in the header) kept"
    );
    assert_eq!(
        rotated.spec.recipients,
        vec![
            newer.public().to_string(),
            other_cluster.public().to_string()
        ]
    );
    let ring: KeyRing = [newer].into_iter().collect();
    let value = open(
        &rotated.spec.encrypted_data["password"],
        &Location::new("prod", "db", "password"),
        &ring,
    )
    .unwrap();
    assert_eq!(value.as_slice(), b"hunter2");

    // JSON in, JSON out.
    let (status, content_type, body) = http(
        running.addr,
        "POST",
        "/v1/rotate",
        "application/json",
        &serde_json::to_vec(&original).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    assert!(serde_json::from_str::<SealedSecret>(&body).is_ok());

    // A value that does not open is refused, never re-sealed.
    let mut moved = original.clone();
    moved.metadata.name = Some("other".into());
    let (status, _, _) = http(
        running.addr,
        "POST",
        "/v1/rotate",
        "application/json",
        &serde_json::to_vec(&moved).unwrap(),
    )
    .await;
    assert_eq!(status, 409);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_oversized_bodies_and_floods_are_refused() {
    let server = server().await;
    let client = server.client();
    let mut cfg = config("a");
    cfg.http.rate_per_second = 1;
    cfg.http.burst = 8;
    let running = start(client.clone(), cfg).await;
    published_key(&client).await;

    for (content_type, body) in [
        ("application/json", b"{not json".to_vec()),
        ("application/yaml", b"- just\n- a list\n".to_vec()),
        (
            "application/json",
            br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#.to_vec(),
        ),
        ("", vec![0xff, 0xfe, 0x00]),
    ] {
        let (status, _, body) = http(running.addr, "POST", "/v1/verify", content_type, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["reason"],
            "InvalidBody"
        );
    }
    let big = vec![b' '; 1024 * 1024 + 1];
    let (status, _, _) = http(running.addr, "POST", "/v1/verify", "application/json", &big).await;
    assert_eq!(status, 413);

    // The burst is spent (5 requests above plus these); then 429.
    let mut statuses = BTreeMap::new();
    for _ in 0..8 {
        let (status, _, _) = http(
            running.addr,
            "POST",
            "/v1/rotate",
            "application/json",
            b"{}",
        )
        .await;
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert!(
        statuses.get(&429).copied().unwrap_or(0) >= 2,
        "{statuses:?}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sealing_page_is_served_at_ui_only_when_enabled() {
    let server = server().await;
    let client = server.client();
    let off = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;
    for path in ["/ui", "/ui/", "/ui/keys", "/ui/app.js"] {
        let (status, _, _) = http(off.addr, "GET", path, "text/plain", b"").await;
        assert_eq!(status, 404, "{path} without web_ui");
    }
    off.stop().await;

    let mut enabled = config("b");
    enabled.web_ui = true;
    let on = start(client.clone(), enabled).await;
    let keys = wait_for("/ui/keys", || async {
        let (status, _, body) = http(on.addr, "GET", "/ui/keys", "text/plain", b"").await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(
        keys,
        format!("{key}\n"),
        "the newest public key, nothing else"
    );
    for (path, content_type, marker) in [
        ("/ui/", "text/html", "id=\"seal\""),
        ("/ui/style.css", "text/css", "#output"),
        ("/ui/app.js", "text/javascript", "export function sealValue"),
        ("/ui/vendor/noble.js", "text/javascript", "chacha20poly1305"),
    ] {
        let (status, got_type, body) = http(on.addr, "GET", path, "text/plain", b"").await;
        assert_eq!(status, 200, "{path}");
        assert!(got_type.starts_with(content_type), "{path}: {got_type}");
        assert!(body.contains(marker), "{path}");
    }
    let (status, _, _) = http(on.addr, "GET", "/ui", "text/plain", b"").await;
    assert_eq!(
        status, 308,
        "/ui redirects to /ui/ (the page's links are relative)"
    );
    for path in ["/ui/vendor/entry.js", "/ui/package.json", "/ui/assets.rs"] {
        let (status, _, _) = http(on.addr, "GET", path, "text/plain", b"").await;
        assert_eq!(status, 404, "{path} is not one of the page's files");
    }
    // The other endpoints are unchanged.
    let (status, _, body) = http(on.addr, "GET", "/v1/public-key", "text/plain", b"").await;
    assert_eq!((status, body), (200, format!("{key}\n")));
    on.stop().await;
}

/// Issue 18, point 2: bodies built to make a YAML parser spin (1 MiB of nested flow sequences or
/// maps, on one line or over lines, deep block indentation, `- - - -`, expanding aliases) get a
/// 4xx naming the bound at once, from verify and rotate alike, as YAML and with no content type.
/// Before the bounds, 80 KB of `[` lines took libyaml 14 s; the issue saw a 320 KB body hold a
/// worker for 402 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_yaml_bodies_are_refused_at_once() {
    let server = server().await;
    let client = server.client();
    let mut cfg = config("a");
    cfg.http.rate_per_second = 1000;
    cfg.http.burst = 1000;
    let running = start(client.clone(), cfg).await;
    published_key(&client).await;

    let mut slowest = Duration::ZERO;
    for (shape, body) in sealant_core::input::hostile_samples(1024 * 1024 - 1024) {
        for (path, content_type) in [
            ("/v1/verify", "application/yaml"),
            ("/v1/rotate", ""),
            ("/v1/verify", "application/json"),
        ] {
            let started = Instant::now();
            let (status, _, answer) =
                http(running.addr, "POST", path, content_type, body.as_bytes()).await;
            let took = started.elapsed();
            slowest = slowest.max(took);
            println!("{shape} to {path} ({content_type}): {status} in {took:?}");
            assert!(
                (400..500).contains(&status),
                "{shape} {path}: {status} {answer}"
            );
            assert!(took < Duration::from_secs(1), "{shape} {path}: {took:?}");
            if content_type != "application/json" {
                let problem: serde_json::Value = serde_json::from_str(&answer).unwrap();
                assert_eq!(problem["reason"], "InputLimit", "{shape}: {answer}");
                assert!(
                    problem["message"]
                        .as_str()
                        .unwrap()
                        .starts_with("request body: document 1: "),
                    "{answer}"
                );
            }
        }
    }
    println!("slowest hostile body: {slowest:?}");
    running.stop().await;
}

/// Issue 18, point 2: while 20 clients keep hostile bodies in flight, another client's
/// `/v1/public-key` and `/healthz` answer at once: they never queue behind verify/rotate work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_key_answers_while_hostile_bodies_are_in_flight() {
    let server = server().await;
    let client = server.client();
    let mut cfg = config("a");
    cfg.http.rate_per_second = 1000;
    cfg.http.burst = 1000;
    let running = start(client.clone(), cfg).await;
    let key = published_key(&client).await;

    let samples = sealant_core::input::hostile_samples(1024 * 1024 - 1024);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut attackers = Vec::new();
    for i in 0..20u8 {
        let body = samples[usize::from(i) % samples.len()].1.clone();
        let (stop, answered, addr) = (Arc::clone(&stop), Arc::clone(&answered), running.addr);
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + i));
        let path = if i % 2 == 0 {
            "/v1/verify"
        } else {
            "/v1/rotate"
        };
        attackers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, _, body) =
                    http_from(Some(source), addr, "POST", path, "", body.as_bytes()).await;
                assert!(
                    (400..500).contains(&status),
                    "attacker got {status}: {body}"
                );
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    wait_for("the attackers to be answered", || async {
        (answered.load(Ordering::Relaxed) >= 20).then_some(())
    })
    .await;
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 2, 1));
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        for path in ["/v1/public-key", "/healthz"] {
            let asked = Instant::now();
            let (status, _, body) =
                http_from(Some(other), running.addr, "GET", path, "text/plain", b"").await;
            let took = asked.elapsed();
            slowest = slowest.max(took);
            assert_eq!(status, 200, "{path}: {body}");
            if path == "/v1/public-key" {
                assert_eq!(body.trim(), key.to_string());
            }
            assert!(took < Duration::from_secs(1), "{path} took {took:?}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in attackers {
        task.await.unwrap();
    }
    println!(
        "public key and healthz: slowest {slowest:?} while {} hostile bodies were answered",
        answered.load(Ordering::Relaxed)
    );
    running.stop().await;
}
