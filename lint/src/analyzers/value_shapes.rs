//! Secrets found by the shape of their value where the setting's name says nothing
//! (`UPSTREAM: 9xQk2LmP7vR4tW8zY1bC3dF6`): in container env values, ConfigMap data, Helm values,
//! docker-compose files, `.env` files and line-based configuration. Reported at low confidence
//! (the rule's severity one step lower), since only the value speaks for it.
//!
//! Line-based and independent of the YAML parser, so that the prefilter that lets most manifests
//! skip parsing still applies: one pass over the bytes finds the candidates (runs of token
//! characters with three character classes), and only those are put in context.

use crate::analyzers::{FileKind, FileScan};
use crate::codes::Code;
use crate::names::split_words;
use crate::shapes::{candidates, secret_shape};
use crate::text::parse_assignment;
use crate::tokens::{find_tokens, find_url_credentials};

/// Kinds whose fields are references, public material or ciphertext, never settings.
const SKIPPED_KINDS: &[&str] = &[
    "Secret",
    "SealedSecret",
    "CustomResourceDefinition",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "CertificateSigningRequest",
    "ExternalSecret",
    "ClusterExternalSecret",
    "SecretStore",
    "ClusterSecretStore",
    "SecretProviderClass",
];

/// Words of a setting's name that make its value public or an identifier.
const PUBLIC_WORDS: &[&str] = &[
    "checksum",
    "hash",
    "digest",
    "sha",
    "sha1",
    "sha256",
    "sha512",
    "md5",
    "etag",
    "fingerprint",
    "integrity",
    "signature",
    "cabundle",
    "certificate",
    "cert",
    "crt",
    "ca",
    "public",
    "pub",
    "example",
    "sample",
];

/// Last words of a setting's name that make its value a name, an id or an address.
const ID_WORDS: &[&str] = &[
    "id",
    "ids",
    "uid",
    "uuid",
    "guid",
    "version",
    "tag",
    "image",
    "commit",
    "revision",
    "sha",
    "name",
    "namespace",
    "host",
    "hostname",
    "url",
    "uri",
    "path",
    "file",
    "class",
    "type",
    "kind",
    "label",
    "pattern",
    "regex",
    "format",
    "ref",
];

/// One YAML document of the file: its byte range and, for Kubernetes objects, its kind.
struct Document<'a> {
    start: usize,
    end: usize,
    kind: Option<&'a str>,
}

impl FileScan<'_> {
    /// Values shaped like secrets under names that are not credential-like.
    pub(crate) fn value_shapes(&mut self, kind: FileKind) {
        let text = self.source.text;
        let found = candidates(text);
        if found.is_empty() {
            return;
        }
        let yaml = matches!(
            kind,
            FileKind::Yaml | FileKind::HelmValues | FileKind::HelmTemplate | FileKind::Compose
        );
        let Some(documents) = (if yaml {
            documents(text)
        } else {
            Some(Vec::new())
        }) else {
            // SOPS-encrypted: ciphertext and its metadata.
            return;
        };
        // Files of SealedSecrets only (and other skipped kinds): nothing to judge.
        if !documents.is_empty()
            && documents
                .iter()
                .all(|d| d.kind.is_some_and(|k| SKIPPED_KINDS.contains(&k)))
        {
            return;
        }
        let mut last_line = 0;
        for (run_start, run_end) in found {
            let (n, _) = self.source.position(run_start);
            if n == last_line {
                continue;
            }
            let line = self.source.line(n);
            let Some(a) = parse_assignment(line) else {
                continue;
            };
            // The candidate run must be (or hold) the value of the line's setting: runs include
            // `=`, `.` and `_`, so `SESSION_SEED=9xQk...` is one run.
            let start = self.locate_line(n) + a.value_at;
            let end = start + a.value.len();
            if run_start >= end || start >= run_end {
                continue;
            }
            last_line = n;
            // The shape first: it is the cheapest check and rejects most candidates.
            let Some(shape) = secret_shape(a.value) else {
                continue;
            };
            if self.skip.iter().any(|&(s, e)| start >= s && start < e) {
                continue;
            }
            let doc = documents.iter().find(|d| start >= d.start && start < d.end);
            let (rule, what, name) = match (kind, doc.and_then(|d| d.kind)) {
                (_, Some(k)) if SKIPPED_KINDS.contains(&k) => continue,
                (FileKind::Yaml, Some("ConfigMap")) => {
                    if self.top_level_key(n) != Some("data") {
                        continue;
                    }
                    (Code::SL003, "ConfigMap sets", a.key)
                }
                (FileKind::Yaml | FileKind::HelmValues | FileKind::HelmTemplate, Some(_)) => {
                    // In other objects only container env values: `- name: X` then `value:`.
                    let Some(env) = self.env_name(n, line, a.key) else {
                        continue;
                    };
                    (Code::SL001, "container sets", env)
                }
                (FileKind::Yaml, None) => (Code::SL010, "configuration sets", a.key),
                (FileKind::HelmValues, None) => (Code::SL009, "Helm value sets", a.key),
                // A chart file with template actions but no object at its top level: values
                // with manifests embedded as text (`extraManifests: - |`), helpers.
                (FileKind::HelmTemplate, None) => (Code::SL009, "chart file sets", a.key),
                (FileKind::Compose, _) => (Code::SL008, "docker-compose file sets", a.key),
                (FileKind::DotEnv, _) => (Code::SL008, "`.env` file sets", a.key),
                (FileKind::Config, _) => (Code::SL010, "configuration sets", a.key),
                _ => continue,
            };
            // Credential-like names are judged by the name-based rules.
            if self.name_match(name).is_some() || is_public_name(name) {
                continue;
            }
            let value = a.value;
            if !self.settings.values.is_literal_secret(value)
                || !find_tokens(value).is_empty()
                || !find_url_credentials(value).is_empty()
            {
                continue;
            }
            let message = format!(
                "{what} `{name}` to a {}: a secret by its shape, though its name does not say so",
                shape.label
            );
            self.report(
                rule,
                start,
                value,
                format!("shape/{name}"),
                message,
                shape.confidence,
            );
        }
    }

    /// The key at column 0 that line `n` is under (`data` for a ConfigMap's data).
    fn top_level_key(&self, n: usize) -> Option<&str> {
        (1..=n).rev().find_map(|i| {
            let l = self.source.line(i);
            if l.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return Some(l.split(':').next().unwrap_or("").trim());
            }
            l.starts_with("---").then_some("")
        })
    }

    /// The env entry a `value:` line belongs to: `- name: X` on the lines just above, two columns
    /// to the left of `value:`.
    fn env_name(&self, n: usize, line: &str, key: &str) -> Option<&str> {
        if key != "value" {
            return None;
        }
        let indent = line.len() - line.trim_start().len();
        (n.saturating_sub(3)..n)
            .rev()
            .filter(|&i| i >= 1)
            .find_map(|i| {
                let l = self.source.line(i);
                let t = l.trim_start();
                let at = l.len() - t.len();
                let name = t.strip_prefix("- name:")?.trim().trim_matches(['"', '\'']);
                (at + 2 == indent && !name.is_empty()).then_some(name)
            })
    }
}

/// A name whose value is public or an identifier (`checksum/config`, `imageDigest`, `CLIENT_ID`).
pub(crate) fn is_public_name(name: &str) -> bool {
    let words = split_words(name);
    words.iter().any(|w| PUBLIC_WORDS.contains(&w.as_str()))
        || words.last().is_some_and(|w| ID_WORDS.contains(&w.as_str()))
}

/// The YAML documents of `text` (split at `---` lines) with their Kubernetes kind, if any; `None`
/// for a SOPS-encrypted file (a top-level `sops:` key).
fn documents(text: &str) -> Option<Vec<Document<'_>>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    let mut kind = None;
    let mut api = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with("---") && at > start {
            out.push(Document {
                start,
                end: at,
                kind: kind.filter(|_| api),
            });
            (start, kind, api) = (at, None, false);
        }
        if let Some(k) = line.strip_prefix("kind:") {
            kind = Some(k.trim().trim_matches(['"', '\'']));
        }
        api |= line.starts_with("apiVersion:");
        if line.starts_with("sops:") {
            return None;
        }
        at += line.len();
    }
    out.push(Document {
        start,
        end: text.len().max(start + 1),
        kind: kind.filter(|_| api),
    });
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_names() {
        for n in [
            "checksum/config",
            "imageDigest",
            "CLIENT_ID",
            "caBundle",
            "sha256",
            "resourceVersion",
        ] {
            assert!(is_public_name(n), "{n}");
        }
        for n in ["UPSTREAM", "signingSalt", "COOKIE_SEED", "value"] {
            assert!(!is_public_name(n), "{n}");
        }
    }

    #[test]
    fn documents_and_kinds() {
        let text =
            "apiVersion: v1\nkind: ConfigMap\n---\nfoo: bar\n---\nkind: Secret\napiVersion: v1\n";
        let docs = documents(text).unwrap_or_default();
        let kinds: Vec<Option<&str>> = docs.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [Some("ConfigMap"), None, Some("Secret")]);
        assert_eq!(docs[0].start, 0);
        assert_eq!(docs[1].start, docs[0].end);
        assert!(documents("a: b\nsops:\n  mac: x\n").is_none());
    }
}
