//! A leader frozen with SIGSTOP, then woken while another replica holds the Lease, writes
//! nothing: the attack measured on a real API server (a woken stale leader sent Secret and status
//! patches after another replica held the Lease), tried with the controller binary: the leader
//! is frozen in the middle of a reconcile and woken after another replica took the Lease over.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use sealant_core::format::Scope;
use sealant_core::resource::SealedSecret;

use crate::common::*;

/// A controller process, killed when dropped.
struct Process(Child);

impl Process {
    fn start(kubeconfig: &Path, identity: &str, watch_namespace: &str) -> Process {
        let child = Command::new(env!("CARGO_BIN_EXE_sealant-controller"))
            .args(["--namespace", CONTROLLER_NS, "--listen-addr", "127.0.0.1:0"])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--lease-duration", "3s", "--lease-renew-deadline", "2s"])
            .args(["--lease-retry-period", "1s", "--log-level", "warn"])
            .args(["--watch-namespaces", watch_namespace])
            .env("POD_NAME", identity)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Process(child)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

fn kubeconfig_path(server: &sealant_test_apiserver::TestApiServer) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "sealant-leader-process-{}-{}.kubeconfig",
        std::process::id(),
        server.addr().port()
    ));
    server.write_kubeconfig(&path).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_woken_from_sigstop_writes_nothing_while_another_holds_the_lease() {
    let server = server().await;
    let client = server.client();
    let kubeconfig = kubeconfig_path(&server);
    // replica-a reconciles `prod`, replica-b only `staging`: whatever is written in `prod` after
    // replica-b took over was written by replica-a.
    let a = Process::start(&kubeconfig, "replica-a", "prod");
    wait_for("replica-a to lead", || async {
        (holder(&client).await.as_deref() == Some("replica-a")).then_some(())
    })
    .await;
    let key = published_key(&client).await;
    create_sealed(
        &client,
        &sealed("before", "prod", &key, &[("v", "1")], Scope::Strict),
    )
    .await;
    wait_secret(&client, "prod", "before", |_| true).await;
    let reads = lease_reads(&server);
    let b = Process::start(&kubeconfig, "replica-b", "staging");
    // replica-b runs and follows: it has read the Lease (the leader renews with writes only).
    lease_reads_after(&server, reads, 1).await;

    // A reconcile is under way when the leader is frozen: its first request is a read that takes
    // 300 ms (a SealedSecret over the cache's 16 KiB is read from the API server; a new Secret is
    // then created, so the write comes after the read).
    let large = "x".repeat(20 * 1024);
    server.set_latency(Duration::from_millis(300));
    create_sealed(
        &client,
        &sealed(
            "probe",
            "prod",
            &key,
            &[("v", large.as_str())],
            Scope::Strict,
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.signal("-STOP");
    server.clear_faults();
    wait_for("replica-b to take over", || async {
        (holder(&client).await.as_deref() == Some("replica-b")).then_some(())
    })
    .await;

    // The old leader wakes up with the answer to its read waiting: the write that follows, and
    // the status and Event after it, must not reach the API server.
    a.signal("-CONT");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "prod");
    // What must not happen has no event to wait for: nothing is written for two seconds.
    holds_for(
        "the woken stale leader wrote the Secret",
        Duration::from_millis(2000),
        || async { secrets.get_opt("probe").await.unwrap().is_none() },
    )
    .await;
    assert_eq!(holder(&client).await.as_deref(), Some("replica-b"));
    assert!(
        secrets.get_opt("probe").await.unwrap().is_none(),
        "the woken stale leader wrote the Secret"
    );
    let sealed_secrets: Api<SealedSecret> = Api::namespaced(client.clone(), "prod");
    let probe = sealed_secrets.get("probe").await.unwrap();
    assert!(
        probe.status.is_none(),
        "the woken stale leader wrote a status: {:?}",
        probe.status
    );
    assert_eq!(events_about(&client, "prod", "probe").await, vec![]);
    drop(a);
    drop(b);
    let _ = std::fs::remove_file(kubeconfig);
}
