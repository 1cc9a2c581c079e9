//! The raw-text search every file gets: known token formats (SL004) and URL credentials (SL005).

use crate::analyzers::FileScan;
use crate::rules::Code;
use crate::text::parse_assignment;
use crate::tokens::{find_tokens, find_url_credentials};
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
}
