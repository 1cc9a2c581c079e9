//! `sealant lint`: finds plaintext credentials in a repository of Kubernetes manifests, Helm
//! charts, Kustomize bases, docker-compose files, `.env` files and any other text.
//!
//! Reading order: [`rules`] (the registry and each rule's documentation), [`scan`] (the walk and
//! per-file orchestration), `analyzers` (one per kind of file), `names` and
//! `values` (what counts as a credential-like name and a literal value), `tokens` (known token
//! formats and URL credentials), [`report`] (text, JSON, SARIF) and [`baseline`].
//!
//! ```no_run
//! use sealant_lint::{ScanOptions, Settings, scan};
//! let options = ScanOptions { paths: vec![".".into()], root: ".".into() };
//! let report = scan(&options, &Settings::default()).expect("paths exist");
//! for f in &report.findings {
//!     println!("{}:{}:{} {} {}", f.path, f.line, f.column, f.rule, f.message);
//! }
//! ```

mod analyzers;
pub mod baseline;
pub mod codes;
pub mod config;
mod finding;
mod history;
mod names;
pub mod report;
pub mod rules;
pub mod scan;
mod shapes;
mod text;
mod tokens;
mod values;
mod yaml;

pub use baseline::{Baseline, BaselineError};
pub use config::{CONFIG_FILE, ConfigError, Settings};
pub use finding::{Confidence, Diagnostic, Finding, ObjectRef, Redaction, Severity};
pub use history::{GitScope, scan_git};
pub use report::{Counts, Format, render};
pub use rules::{Code, DOC_SECTIONS, RULES, Rule};
pub use scan::{IGNORE_FILE, Report, ScanError, ScanOptions, Unit, scan, scan_text};
