//! CI pipelines (GitHub Actions workflows, GitLab CI): `env`/`variables` and step inputs with
//! literal credentials (SL008), and credentials on the command lines of `run`/`script` (SL006).
//! `${{ ... }}` expressions are references; `permissions` (`id-token: write`) and
//! `secrets: inherit` are settings, never credentials.

use crate::analyzers::FileScan;
use crate::codes::Code;
use crate::yaml::{self, Kind, Node};

/// Keys whose text is shell run by the pipeline.
const SCRIPT_KEYS: &[&str] = &["run", "script", "before_script", "after_script", "command"];

impl FileScan<'_> {
    pub(crate) fn ci_workflow(&mut self) {
        match yaml::parse(self.source) {
            Ok(docs) => {
                for doc in &docs {
                    self.ci_node(&doc.root, "");
                }
            }
            Err(e) => self.diagnostics.push(format!("not valid YAML: {e}")),
        }
    }

    fn ci_node(&mut self, node: &Node, path: &str) {
        match &node.kind {
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let Some(key) = k.str() else { continue };
                    let child = if path.is_empty() {
                        key.to_string()
                    } else {
                        format!("{path}/{key}")
                    };
                    match (key, &v.kind) {
                        // `permissions: {id-token: write}`: access scopes, not credentials.
                        ("permissions", _) => {}
                        // `secrets: inherit` passes the caller's secrets on by name.
                        ("secrets", Kind::Scalar(..)) => {}
                        (k, Kind::Scalar(text, _)) if SCRIPT_KEYS.contains(&k) => {
                            let at = self.value_offset(v, text);
                            self.ci_script(text, at, &child);
                        }
                        (k, Kind::Seq(items)) if SCRIPT_KEYS.contains(&k) => {
                            for item in items {
                                if let Some(text) = item.str() {
                                    let at = self.value_offset(item, text);
                                    self.ci_script(text, at, &child);
                                }
                            }
                        }
                        (_, Kind::Scalar(..)) => {
                            self.check_pair(Code::SL008, key, v, child, "CI pipeline sets");
                        }
                        _ => self.ci_node(v, &child),
                    }
                }
            }
            Kind::Seq(items) => {
                for item in items {
                    self.ci_node(item, path);
                }
            }
            Kind::Scalar(..) | Kind::Alias => {}
        }
    }

    /// Each line of a `run`/`script` block as a command line.
    fn ci_script(&mut self, text: &str, at: usize, path: &str) {
        let mut from = at;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let line_at = self.locate(from, trimmed);
            from = line_at;
            self.command_text(trimmed, line_at, "CI step", path);
        }
    }
}
