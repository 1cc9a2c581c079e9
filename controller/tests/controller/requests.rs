//! What the controller costs the API server: one Secret create, one status patch and one Event
//! per SealedSecret on first sync (three requests, no read), and no request at all for an
//! unchanged one after a restart.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use sealant_core::format::Scope;
use sealant_test_apiserver::{FaultMatch, TestApiServer};

use crate::common::*;

const COUNT: usize = 20;

fn counts(server: &TestApiServer) -> [u64; 6] {
    [
        server.request_count(&FaultMatch::new("create", "secrets")),
        server.request_count(&FaultMatch::new("patch", "secrets")),
        server.request_count(&FaultMatch::new("get", "secrets")),
        server.request_count(&FaultMatch::new("patch", "sealedsecrets/status")),
        server.request_count(&FaultMatch::new("create", "events")),
        server.request_count(&FaultMatch::new("get", "sealedsecrets")),
    ]
}

async fn reconciles(running: &Running) -> f64 {
    let (_, _, text) = http(running.addr, "GET", "/metrics", "text/plain", b"").await;
    text.lines()
        .find_map(|l| l.strip_prefix("sealant_reconciles_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_write_each_on_first_sync_and_none_after_a_restart() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;
    // (The controller's own key Secret is created before: count from here.)
    let before_sync = counts(&server);
    for i in 0..COUNT {
        create_sealed(
            &client,
            &sealed(
                &format!("s{i}"),
                "team-c",
                &key,
                &[("a", "b"), ("c", "d")],
                Scope::Strict,
            ),
        )
        .await;
    }
    for i in 0..COUNT {
        wait_condition(&client, "team-c", &format!("s{i}"), "Unsealed").await;
    }
    // Let the echoes of its own writes (the Secret and status watch events) come back: they
    // come within milliseconds, and a write they caused would too; counted once the controller's
    // requests have stopped for half a second.
    settled(
        "the controller's requests",
        Duration::from_millis(500),
        || counts(&server),
    )
    .await;
    // (The test's own waits read the SealedSecrets; the controller reads them from its cache.)
    let mut after_sync = counts(&server);
    for (count, before) in after_sync.iter_mut().zip(before_sync) {
        *count -= before;
    }
    let [creates, applies, gets, statuses, events, _] = after_sync;
    let n = COUNT as u64;
    assert_eq!(creates, n, "one Secret create per SealedSecret");
    assert_eq!(applies, 0, "no apply for a new Secret");
    assert_eq!(gets, 0, "no Secret read for a new Secret");
    assert_eq!(statuses, n, "one status patch per SealedSecret");
    assert_eq!(events, n, "one Event per SealedSecret");
    running.stop().await;

    // A restart of the converged controller: it looks at every object and writes nothing.
    let before = counts(&server);
    let running = start(client.clone(), config("b")).await;
    wait_for(
        "the restarted controller to look at every SealedSecret",
        || async { (reconciles(&running).await >= COUNT as f64).then_some(()) },
    )
    .await;
    settled(
        "the restarted controller's requests",
        Duration::from_millis(500),
        || counts(&server),
    )
    .await;
    assert_eq!(counts(&server), before, "requests after a restart");

    // Drift is still noticed: a value edited by hand (someone else owns it now) is put back,
    // with one more apply.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-c");
    secrets
        .patch(
            "s0",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"a": "aGFja2Vk"}})),
        )
        .await
        .unwrap();
    wait_secret(&client, "team-c", "s0", |s| data_of(s)["a"] == "b").await;
    // So is a removed key (the controller's fields no longer cover every key).
    secrets
        .patch(
            "s1",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"c": null}})),
        )
        .await
        .unwrap();
    wait_secret(&client, "team-c", "s1", |s| {
        data_of(s).get("c").map(String::as_str) == Some("d")
    })
    .await;
    running.stop().await;
}
