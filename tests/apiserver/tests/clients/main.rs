//! The test API server spoken to by real clients (kube-rs, kubectl): one test binary, one module
//! per client (issue 21: each file used to be a binary of its own). Run one with
//! `cargo test -p sealant-test-apiserver --test clients kubectl::`.

mod kube_client;
mod kubectl;
