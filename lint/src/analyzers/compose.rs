//! docker-compose files: `services.*.environment` (map and list) through the generic walker.

use crate::analyzers::FileScan;
use crate::codes::Code;
use crate::codes::Confidence;
use crate::values::is_public_certificate;
use crate::yaml::Node;

/// `services:` whose entries look like compose services.
pub(crate) fn looks_like_compose(root: &Node) -> bool {
    root.get("services").is_some_and(|s| {
        s.entries().any(|(_, svc)| {
            svc.get("image").is_some()
                || svc.get("build").is_some()
                || svc.get("environment").is_some()
        })
    })
}

impl FileScan<'_> {
    /// Top-level `secrets:` read from files (`db_password: {file: ./db_password.txt}`): the files
    /// are checked after the walk, if they are part of the scan.
    pub(crate) fn compose_secrets(&mut self, root: &Node) {
        for (k, def) in root.get("secrets").map(Node::entries).into_iter().flatten() {
            if let (Some(name), Some(file)) = (k.str(), def.get_str("file")) {
                self.compose_secret_files
                    .push((file.to_string(), name.to_string()));
            }
        }
    }

    /// A file that a compose secret reads: its whole content is the secret.
    pub fn compose_secret_file(&mut self, name: &str) {
        let text = self.source.text;
        let value = text.trim();
        if !self.strict_literal(value) || is_public_certificate(value) {
            return;
        }
        let at = text.len() - text.trim_start().len();
        let message = format!(
            "docker-compose secret `{name}` is read from this file, committed in plain text"
        );
        self.report(
            Code::SL008,
            at,
            value,
            format!("compose-secret/{name}"),
            message,
            Confidence::High,
        );
    }
}
