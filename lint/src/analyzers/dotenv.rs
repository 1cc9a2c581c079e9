//! `.env` files and line-based configuration (`.properties`, `.ini`, `.toml`, `.npmrc`, ...).

use crate::analyzers::{FileScan, is_self_reference};
use crate::rules::Code;
use crate::text::parse_assignment;

impl FileScan<'_> {
    pub(crate) fn scan_lines(&mut self, rule: Code, what: &str) {
        let source = self.source;
        for n in 1..=source.line_count() {
            let full = source.line(n);
            // `.npmrc`: `//registry.npmjs.org/:_authToken=...` scopes the key with a URL.
            let skip = match full.find(":_") {
                Some(i) if full.trim_start().starts_with("//") => i + 2,
                _ => 0,
            };
            let line = &full[skip..];
            let Some(mut a) = parse_assignment(line) else {
                continue;
            };
            a.value_at += skip;
            let Some(m) = self.name_match(a.key) else {
                continue;
            };
            if is_self_reference(a.key, a.value) {
                continue;
            }
            if !self.settings.values.is_credential_value(a.key, a.value, m) {
                continue;
            }
            let at = self.locate_line(n) + a.value_at;
            let message = format!("{what} `{}` to a literal credential", a.key);
            self.report(
                rule,
                at,
                a.value,
                a.key.to_string(),
                message,
                Self::confidence(m),
            );
        }
    }
}
