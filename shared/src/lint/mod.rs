//! The lint engine: rules, scanner and reports (see `docs/lint.md`).
