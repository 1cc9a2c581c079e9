//! The end-to-end suite: one test binary, one module per area (issue 21: each file used to be a
//! binary of its own). Run one area with `cargo test -p sealant-e2e --test e2e AREA::`.
//!
//! The areas share one process: `real_cluster` keeps one shared control plane for its tests
//! (`ControlPlane::shared`), `slow_api` and `cluster` start planes of their own; none of them sets
//! environment variables or the working directory.

mod cluster;
mod offline;
mod real_cluster;
mod slow_api;
