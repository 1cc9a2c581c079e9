//! Shell scripts: assignments of credential-like variables and command lines.

use crate::analyzers::FileScan;
use crate::rules::Code;
use crate::text::parse_assignment;

impl FileScan<'_> {
    /// Shell scripts: `export DB_PASSWORD=x` assignments (SL008) and command lines (SL006).
    pub(crate) fn scan_script(&mut self) {
        let source = self.source;
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let at = self.locate_line(n);
            if let Some(a) = parse_assignment(line)
                && !a.key.contains('.')
                && !line[..a.value_at].contains(':')
                && !a.value.contains(char::is_whitespace)
            {
                if let Some(m) = self.name_match(a.key)
                    && self.settings.values.is_credential_value(a.key, a.value, m)
                {
                    let message = format!("script sets `{}` to a literal credential", a.key);
                    self.report(
                        Code::SL008,
                        at + a.value_at,
                        a.value,
                        a.key.to_string(),
                        message,
                        Self::confidence(m),
                    );
                }
                continue;
            }
            self.command_text(line, at, "script", "script");
        }
    }
}
