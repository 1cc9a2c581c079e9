//! Throughput and latency figures for the test API server, printed as a table.
//!
//! `cargo bench -p sealant-test-apiserver --bench apiserver` (add `-- --secrets N` to change the
//! 100,000 default). Targets: 100,000 Secrets held with list and watch working, a list of
//! 10,000 objects under 200 ms, at least 5,000 writes/s from one client.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{reflector, watcher};

use sealant_test_apiserver::TestApiServer;

const LIST_NAMESPACE: &str = "bench-list";
const LIST_SIZE: usize = 10_000;

fn secret(name: String) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some(name);
    s.metadata.labels = Some([("app".to_string(), "bench".to_string())].into());
    s.data = Some(
        [(
            "password".to_string(),
            ByteString(b"correct horse battery staple".to_vec()),
        )]
        .into(),
    );
    s
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(what: &str, figure: String) {
    println!("{what:<58} {figure}");
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let nss: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.into());
    nss.create(&PostParams::default(), &ns).await.unwrap();
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let total: usize = std::env::args()
        .skip_while(|a| a != "--secrets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let server = TestApiServer::start().await;
    let client = server.client();
    create_namespace(&client, LIST_NAMESPACE).await;
    create_namespace(&client, "bench-bulk").await;

    // A watch over all Secrets, started before the writes, counts every ADDED event.
    let all: Api<Secret> = Api::all(client.clone());
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    let start_rv = server.resource_version().to_string();
    let watch = all
        .watch(&WatchParams::default().timeout(290), &start_rv)
        .await
        .unwrap();
    let watch_task = tokio::spawn(async move {
        let mut stream = watch.boxed();
        while let Ok(Some(event)) = stream.try_next().await {
            if matches!(event, WatchEvent::Added(_)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    // Sequential writes: one request at a time from one client.
    let listed: Api<Secret> = Api::namespaced(client.clone(), LIST_NAMESPACE);
    let started = Instant::now();
    for i in 0..LIST_SIZE / 2 {
        listed
            .create(&PostParams::default(), &secret(format!("seq-{i:06}")))
            .await
            .unwrap();
    }
    let seq = started.elapsed();
    report(
        &format!(
            "sequential creates ({} Secrets, 1 in flight)",
            LIST_SIZE / 2
        ),
        format!(
            "{:>8.0} writes/s",
            (LIST_SIZE / 2) as f64 / seq.as_secs_f64()
        ),
    );

    // Concurrent writes from the same client (one kube::Client, 32 requests in flight).
    let started = Instant::now();
    futures::stream::iter(LIST_SIZE / 2..LIST_SIZE)
        .map(|i| {
            let api = listed.clone();
            async move {
                api.create(&PostParams::default(), &secret(format!("par-{i:06}")))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(32)
        .for_each(|_| async {})
        .await;
    let par = started.elapsed();
    report(
        &format!(
            "concurrent creates ({} Secrets, 32 in flight)",
            LIST_SIZE / 2
        ),
        format!(
            "{:>8.0} writes/s",
            (LIST_SIZE / 2) as f64 / par.as_secs_f64()
        ),
    );

    // Fill up to `total` Secrets in another namespace.
    let bulk: Api<Secret> = Api::namespaced(client.clone(), "bench-bulk");
    let rest = total.saturating_sub(LIST_SIZE);
    let started = Instant::now();
    futures::stream::iter(0..rest)
        .map(|i| {
            let api = bulk.clone();
            async move {
                api.create(&PostParams::default(), &secret(format!("bulk-{i:06}")))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(32)
        .for_each(|_| async {})
        .await;
    let fill = started.elapsed();
    report(
        &format!("bulk creates ({rest} Secrets, 32 in flight)"),
        format!(
            "{:>8.0} writes/s",
            rest as f64 / fill.as_secs_f64().max(1e-9)
        ),
    );
    report(
        "Secrets stored",
        format!("{:>8}", server.object_count("", "secrets")),
    );

    // Lists of the 10,000-Secret namespace: raw bytes (server cost) and typed (client too).
    let mut raw = Vec::new();
    let mut typed = Vec::new();
    for _ in 0..7 {
        let request = http::Request::get(format!("/api/v1/namespaces/{LIST_NAMESPACE}/secrets"))
            .body(Vec::new())
            .unwrap();
        let t = Instant::now();
        let body = client.request_text(request).await.unwrap();
        raw.push(t.elapsed());
        assert!(body.len() > LIST_SIZE * 100);
        let t = Instant::now();
        let list = listed.list(&ListParams::default()).await.unwrap();
        typed.push(t.elapsed());
        assert_eq!(list.items.len(), LIST_SIZE);
    }
    report(
        "list 10,000 Secrets, HTTP response received (median of 7)",
        format!("{:>8.1} ms", median(raw).as_secs_f64() * 1e3),
    );
    report(
        "list 10,000 Secrets, decoded into Vec<Secret> (median of 7)",
        format!("{:>8.1} ms", median(typed).as_secs_f64() * 1e3),
    );
    let t = Instant::now();
    let selected = all
        .list(
            &ListParams::default()
                .labels("app=bench")
                .fields("metadata.namespace=bench-list"),
        )
        .await
        .unwrap();
    report(
        &format!("list with label+field selector over {total} Secrets"),
        format!("{:>8.1} ms", t.elapsed().as_secs_f64() * 1e3),
    );
    assert_eq!(selected.items.len(), LIST_SIZE);

    // The watch opened before the writes saw every one of them.
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.load(Ordering::Relaxed) < total as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    report(
        "ADDED events received by a watch opened before the writes",
        format!("{:>8}", seen.load(Ordering::Relaxed)),
    );
    watch_task.abort();

    // kube's watcher (paged list of 500 + watch) over every Secret: time to a ready cache.
    let (store, writer) = reflector::store();
    let t = Instant::now();
    let reflect = tokio::spawn(
        reflector(writer, watcher(all.clone(), watcher::Config::default())).for_each(|_| async {}),
    );
    store.wait_until_ready().await.unwrap();
    report(
        &format!("kube watcher initial sync of {total} Secrets"),
        format!("{:>8.0} ms", t.elapsed().as_secs_f64() * 1e3),
    );
    assert_eq!(store.state().len(), total);
    // A paged list of everything (pages of 500) while another task keeps writing: continued
    // pages are rebuilt at the first page's resourceVersion from the change log.
    let writer_api = listed.clone();
    let writes = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&writes);
    let writer = tokio::spawn(async move {
        for i in 0.. {
            let patch = kube::api::Patch::Merge(
                serde_json::json!({"metadata": {"labels": {"round": i.to_string()}}}),
            );
            let name = format!("seq-{:06}", i % (LIST_SIZE / 2));
            if writer_api
                .patch(&name, &kube::api::PatchParams::default(), &patch)
                .await
                .is_ok()
            {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let t = Instant::now();
    let mut params = ListParams::default().limit(500);
    let mut listed_total = 0;
    let mut first_rv = None;
    loop {
        let page = all.list(&params).await.unwrap();
        listed_total += page.items.len();
        first_rv.get_or_insert(page.metadata.resource_version.clone());
        assert_eq!(Some(&page.metadata.resource_version), first_rv.as_ref());
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    let paged = t.elapsed();
    writer.abort();
    report(
        &format!(
            "paged list of {listed_total} Secrets during {} concurrent writes",
            writes.load(Ordering::Relaxed)
        ),
        format!("{:>8.0} ms", paged.as_secs_f64() * 1e3),
    );
    assert_eq!(listed_total, total);

    // And a write after that reaches the cache.
    let t = Instant::now();
    listed
        .create(&PostParams::default(), &secret("late".into()))
        .await
        .unwrap();
    while store.state().len() < total + 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    report(
        "write-to-watcher-cache latency with the cache full",
        format!("{:>8.1} ms", t.elapsed().as_secs_f64() * 1e3),
    );
    reflect.abort();
    server.shutdown().await;
}
