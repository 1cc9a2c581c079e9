//! `kustomization.yaml`: secretGenerator literals and env files, configMapGenerator literals.

use crate::analyzers::{FileScan, Walk};
use crate::codes::Code;
use crate::codes::Confidence;
use crate::text::parse_assignment;
use crate::yaml::Node;

/// How a Kustomize generator reads a file it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratorFile {
    /// secretGenerator `envs:`: every `KEY=value` line is Secret data.
    SecretEnv,
    /// secretGenerator `files:`: the file's content is one value of the Secret.
    SecretFile,
    /// configMapGenerator `envs:` or `files:` (`env.startup.txt`, `app.properties`): settings,
    /// of which those under credential-like names are credentials in a ConfigMap.
    ConfigFile,
}

/// `key=path` or `path` in a generator's `files:` list: the path.
fn generator_path(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(_, p)| p).trim()
}

impl FileScan<'_> {
    pub(crate) fn kustomization(&mut self, root: &Node) {
        for generator in root
            .get("secretGenerator")
            .map(Node::items)
            .unwrap_or_default()
        {
            let gname = generator.get_str("name").unwrap_or("?");
            for literal in generator
                .get("literals")
                .map(Node::items)
                .unwrap_or_default()
            {
                let Some(s) = literal.str() else { continue };
                let Some((key, value)) = s.split_once('=') else {
                    continue;
                };
                if !self.settings.values.is_literal_secret(value) && !self.strict_literal(value) {
                    continue;
                }
                let confidence = match self.name_match(key) {
                    Some(_) => Confidence::High,
                    None => Confidence::Medium,
                };
                let at = literal.start + key.len() + 1;
                let message =
                    format!("secretGenerator `{gname}` commits literal `{key}` in plain text");
                let path = format!("secretGenerator/{gname}/{key}");
                self.report(Code::SL007, at, value, path, message, confidence);
            }
            for field in ["envs", "env"] {
                let files: Vec<&Node> = match generator.get(field) {
                    Some(n) if n.str().is_some() => vec![n],
                    Some(n) => n.items().iter().collect(),
                    None => Vec::new(),
                };
                for f in files {
                    if let Some(p) = f.str() {
                        self.generator_env_files.push((
                            p.to_string(),
                            gname.to_string(),
                            GeneratorFile::SecretEnv,
                        ));
                    }
                }
            }
            for f in generator.get("files").map(Node::items).unwrap_or_default() {
                if let Some(p) = f.str() {
                    self.generator_env_files.push((
                        generator_path(p).to_string(),
                        gname.to_string(),
                        GeneratorFile::SecretFile,
                    ));
                }
            }
        }
        for generator in root
            .get("configMapGenerator")
            .map(Node::items)
            .unwrap_or_default()
        {
            let gname = generator.get_str("name").unwrap_or("?");
            for field in ["envs", "env", "files"] {
                let files: Vec<&Node> = match generator.get(field) {
                    Some(n) if n.str().is_some() => vec![n],
                    Some(n) => n.items().iter().collect(),
                    None => Vec::new(),
                };
                for f in files.iter().filter_map(|f| f.str()) {
                    self.generator_env_files.push((
                        generator_path(f).to_string(),
                        gname.to_string(),
                        GeneratorFile::ConfigFile,
                    ));
                }
            }
            for literal in generator
                .get("literals")
                .map(Node::items)
                .unwrap_or_default()
            {
                let Some(s) = literal.str() else { continue };
                let Some((key, value)) = s.split_once('=') else {
                    continue;
                };
                let Some(m) = self.name_match(key) else {
                    continue;
                };
                if self.settings.values.is_credential_value(key, value, m) {
                    let at = literal.start + key.len() + 1;
                    let message = format!(
                        "configMapGenerator `{gname}` sets `{key}` to a literal credential"
                    );
                    let path = format!("configMapGenerator/{gname}/{key}");
                    self.report(Code::SL003, at, value, path, message, Self::confidence(m));
                }
            }
        }
        // Inline patches (`patches: [{patch: |...}]`, `patchesStrategicMerge: [|...]`,
        // `patchesJson6902: [{patch: |...}]`): strategic merge or JSON 6902, YAML or JSON.
        for field in ["patches", "patchesStrategicMerge", "patchesJson6902"] {
            for item in root.get(field).map(Node::items).unwrap_or_default() {
                let patch = match item.get("patch") {
                    Some(p) => p,
                    None => item,
                };
                if let Some(text) = patch.str() {
                    self.embedded_manifest(patch, text);
                }
            }
        }
        for (k, v) in root.entries() {
            let key = k.str().unwrap_or("");
            if !matches!(
                key,
                "secretGenerator"
                    | "configMapGenerator"
                    | "resources"
                    | "patches"
                    | "patchesStrategicMerge"
                    | "patchesJson6902"
            ) {
                self.walk(
                    v,
                    Walk {
                        rule: Code::SL010,
                        k8s: true,
                        container: None,
                    },
                    key,
                );
            }
        }
    }

    /// A file that a Kustomize configMapGenerator reads, when nothing else scans it (a `.txt`):
    /// `KEY=value` and `KEY: value` lines under credential-like names.
    pub(crate) fn generator_config_file(&mut self, generator: &str) {
        let what = format!("configMapGenerator `{generator}` reads a file that sets");
        self.scan_lines(Code::SL003, &what);
    }

    /// A Kustomize secretGenerator `files:` entry: the file's content is one Secret value.
    pub(crate) fn generator_secret_file(&mut self, generator: &str) {
        let text = self.source.text;
        let value = text.trim();
        if !self.strict_literal(value) || crate::values::is_public_certificate(value) {
            return;
        }
        let at = text.len() - text.trim_start().len();
        let message = format!("secretGenerator `{generator}` reads this file in plain text");
        self.report(
            Code::SL007,
            at,
            value,
            format!("secretGenerator/{generator}/file"),
            message,
            Confidence::High,
        );
    }

    /// A Kustomize secretGenerator env file: every value is Secret data.
    pub(crate) fn generator_env_file(&mut self, generator: &str) {
        let source = self.source;
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let Some(a) = parse_assignment(line) else {
                continue;
            };
            if !self.strict_literal(a.value) || a.value.starts_with("ENC[") {
                continue;
            }
            let line_start = self.locate_line(n);
            let message = format!(
                "secretGenerator `{generator}` reads `{}` from this file in plain text",
                a.key
            );
            let path = format!("secretGenerator/{generator}/{}", a.key);
            self.report(
                Code::SL007,
                line_start + a.value_at,
                a.value,
                path,
                message,
                Confidence::High,
            );
        }
    }
}
