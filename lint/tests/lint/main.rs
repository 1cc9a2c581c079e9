//! `sealant-lint`'s integration tests: one test binary, one module per area (issue 21: each file
//! used to be a binary of its own). Run one area with `cargo test -p sealant-lint --test lint AREA::`.

mod corpus;
mod history;
mod output;
mod precision;
mod recall;
mod robustness;
mod rules;
