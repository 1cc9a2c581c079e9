//! The raw-text search every file gets: known token formats (SL004) and URL credentials (SL005).

use crate::analyzers::FileScan;
use crate::analyzers::{Decoded, decode_base64};
use crate::codes::Code;
use crate::text::parse_assignment;
use crate::tokens::{find_tokens, find_url_credentials};
use crate::yaml::Node;
use crate::yaml::{self};

impl FileScan<'_> {
    pub(crate) fn raw_search(&mut self) {
        let text = self.source.text;
        let mut raw = Vec::new();
        if self.settings.is_enabled(Code::SL004) {
            raw.extend(find_tokens(text).into_iter().map(|m| (Code::SL004, m)));
        }
        if self.settings.is_enabled(Code::SL005) {
            raw.extend(
                find_url_credentials(text)
                    .into_iter()
                    .map(|m| (Code::SL005, m)),
            );
        }
        if !raw.is_empty()
            && self.unparsed_yaml
            && (text.contains("SealedSecret") || text.contains("sops"))
        {
            // No credential names, but maybe ciphertext: parse only to mask it from the
            // token search.
            self.unparsed_yaml = false;
            if let Ok(docs) = yaml::parse(self.source) {
                for doc in &docs {
                    self.mask_ciphertext(&doc.root, doc.start, doc.end);
                }
            }
        }
        for (rule, m) in raw {
            if self.skip.iter().any(|&(s, e)| m.start >= s && m.start < e) {
                continue;
            }
            let (line, _) = self.source.position(m.start);
            if self.source.line(line).contains("ENC[") {
                continue;
            }
            let value = &text[m.start..m.end];
            let message = match rule {
                Code::SL004 => format!(
                    "{} in plain text; revoke it and keep it in a sealed Secret",
                    m.label
                ),
                _ => format!(
                    "{} carries a literal password; keep the password in a sealed Secret",
                    m.label
                ),
            };
            let key_path = format!("{}:{}", m.label, self.enclosing_key(line));
            self.report(rule, m.start, value, key_path, message, m.confidence);
        }
    }

    /// The key of the line a raw match is on (`GITHUB_TOKEN` in `GITHUB_TOKEN: ghp_...`), so that
    /// fingerprints of raw matches survive line moves.
    pub(crate) fn enclosing_key(&self, line: usize) -> String {
        parse_assignment(self.source.line(line))
            .map(|a| a.key.to_string())
            .unwrap_or_default()
    }

    /// A base64 value (`GOOGLE_CREDENTIALS: ewogICJ0eXBlIjog...`): decoded once, bounded in size
    /// and in count per file, and searched for token formats and private keys.
    pub(crate) fn decoded_rescan(&mut self, node: &Node, key_path: &str) {
        let Some(raw) = node.str() else { return };
        let v = raw.trim();
        if v.len() < 32 || v.len() > 64 * 1024 || self.decode_budget == 0 {
            return;
        }
        let alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
        if !v.bytes().all(|b| alphabet(b) || b.is_ascii_whitespace()) {
            return;
        }
        self.decode_budget -= 1;
        let Some(Decoded::Text(text)) = decode_base64(v) else {
            return;
        };
        let Some(found) = find_tokens(&text).into_iter().next() else {
            return;
        };
        let at = self.value_offset(node, raw);
        let message = format!(
            "base64-encoded {} in plain text; revoke it and keep it in a sealed Secret",
            found.label
        );
        self.report(
            Code::SL004,
            at,
            v,
            format!("base64:{key_path}"),
            message,
            found.confidence,
        );
    }
}
