//! The controller's integration tests: one test binary, one module per area, sharing `common`
//! (issue 21: each file used to be a binary of its own, and linking them was most of the suite's
//! time). Run one area with `cargo test -p sealant-controller --test controller AREA::`.
//!
//! The tests of all areas now share one process: one tracing subscriber (`common::LOGS` holds the
//! log lines of every test, and the tests that search it look for values only they use), and no
//! test sets environment variables or the working directory.

mod common;

mod attacks;
mod cli;
mod crd;
mod http;
mod keys;
mod leader;
mod leader_process;
mod reconcile;
mod relist;
mod requests;
