//! The `sealant` binary's integration tests: one test binary, one module per area (issue 21: each
//! integration-test file used to be a binary of its own, and linking them was most of the suite's
//! time). Run one area with `cargo test -p sealant --test cli AREA::`.

mod cli;
mod flags;
mod in_place;
mod key_backup;
mod key_files;
mod lint;
mod migrate;
mod namespace;
mod public_key_url;
mod reencrypt;
mod seal_stream;
mod verify;
