//! Changes made while the controller's watch is down, found by the re-list after the watch
//! expired (410 Gone) with more SealedSecrets than one list page holds: every new object gets
//! its Secret and every edit its new data, without waiting for a resync.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use sealant_core::format::Scope;
use sealant_core::resource::SealedSecret;
use sealant_test_apiserver::FaultMatch;

use crate::common::*;

/// More than the watcher's list page (500), so the re-list is paginated.
const EXISTING: usize = 520;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relist_after_the_watch_expired_loses_no_change() {
    let server = server().await;
    let client = server.client();
    let running = start(client.clone(), config("a")).await;
    let key = published_key(&client).await;
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), "team-c");
    for i in 0..EXISTING {
        create_sealed(
            &client,
            &sealed(
                &format!("s{i}"),
                "team-c",
                &key,
                &[("v", "old")],
                Scope::Strict,
            ),
        )
        .await;
    }
    wait_secret(&client, "team-c", &format!("s{}", EXISTING - 1), |_| true).await;
    for i in 0..EXISTING {
        wait_secret(&client, "team-c", &format!("s{i}"), |_| true).await;
    }

    // The watch goes down and stays down while changes happen.
    let watches = || server.request_count(&FaultMatch::new("watch", "sealedsecrets"));
    let lists = || server.request_count(&FaultMatch::new("list", "sealedsecrets"));
    server.fail_next(FaultMatch::new("watch", "sealedsecrets"), 500, 1_000_000);
    server.fail_next(FaultMatch::new("list", "sealedsecrets"), 500, 1_000_000);
    let asked = watches() + lists();
    server.drop_watches();
    wait_for("the controller to find its watch refused", || async {
        (watches() + lists() > asked).then_some(())
    })
    .await;
    for i in 0..10 {
        let edited = sealed(
            &format!("s{i}"),
            "team-c",
            &key,
            &[("v", "new")],
            Scope::Strict,
        );
        api.patch(
            &format!("s{i}"),
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": edited.spec})),
        )
        .await
        .unwrap();
        create_sealed(
            &client,
            &sealed(
                &format!("new{i}"),
                "team-c",
                &key,
                &[("v", "fresh")],
                Scope::Strict,
            ),
        )
        .await;
    }
    // Its history is gone (etcd compaction): the watch must re-list, in pages.
    server.compact();
    server.clear_faults();
    let listed = lists();
    // A real API server takes its time over a large list; reconciles queued while the second page
    // is on its way must not read the cache as it was before the outage.
    server.set_latency(Duration::from_millis(400));
    wait_for("the re-list's second page to be asked for", || async {
        (lists() >= listed + 2).then_some(())
    })
    .await;
    server.set_latency(Duration::ZERO);

    for i in 0..10 {
        wait_secret(&client, "team-c", &format!("new{i}"), |s| {
            data_of(s)["v"] == "fresh"
        })
        .await;
        wait_secret(&client, "team-c", &format!("s{i}"), |s| {
            data_of(s)["v"] == "new"
        })
        .await;
        wait_condition(&client, "team-c", &format!("new{i}"), "Unsealed").await;
    }
    running.stop().await;
}
