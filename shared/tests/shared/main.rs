//! `sealant-core`'s integration tests: one test binary, one module per area (issue 21: each file
//! used to be a binary of its own). Run one area with `cargo test -p sealant-core --test shared AREA::`.

mod envelope_props;
mod vectors;
