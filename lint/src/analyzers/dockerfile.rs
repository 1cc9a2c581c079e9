//! Dockerfiles: `ENV`/`ARG` with credential-like names, `RUN` command lines.

use crate::analyzers::FileScan;
use crate::codes::Code;

impl FileScan<'_> {
    /// Dockerfiles: `ENV`/`ARG` with credential-like names and literal values (SL008, baked
    /// into every image layer), and `RUN` command lines (SL006).
    pub(crate) fn scan_dockerfile(&mut self) {
        let source = self.source;
        // `ENV A=1 \` continues on the next line: which instruction continues, if any.
        let mut continues: Option<&'static str> = None;
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let trimmed = line.trim_start();
            let at = self.locate_line(n) + (line.len() - trimmed.len());
            let upper: String = trimmed
                .chars()
                .take(4)
                .collect::<String>()
                .to_ascii_uppercase();
            let (word, rest, rest_at) = if let Some(word) = continues.take() {
                if trimmed.starts_with('#') {
                    continues = Some(word);
                    continue;
                }
                (word, trimmed, at)
            } else if upper.starts_with("ENV ") || upper.starts_with("ARG ") {
                let word = if upper.starts_with("ENV") {
                    "ENV"
                } else {
                    "ARG"
                };
                (word, &trimmed[4..], at + 4)
            } else {
                if upper.starts_with("RUN ") {
                    self.command_text(trimmed, at, "Dockerfile `RUN`", "Dockerfile/RUN");
                }
                continue;
            };
            let rest = rest.trim_end();
            let rest = match rest.strip_suffix('\\') {
                Some(r) => {
                    continues = Some(word);
                    r
                }
                None => rest,
            };
            {
                let pairs: Vec<(&str, &str, usize)> = if rest.contains('=') {
                    rest.split_whitespace()
                        .filter_map(|kv| {
                            let (k, v) = kv.split_once('=')?;
                            let off = rest.find(kv)? + k.len() + 1;
                            Some((
                                k,
                                v.trim_matches(['"', '\'']),
                                off + usize::from(v.starts_with(['"', '\''])),
                            ))
                        })
                        .collect()
                } else {
                    let mut parts = rest.trim_start().splitn(2, char::is_whitespace);
                    match (parts.next(), parts.next()) {
                        (Some(k), Some(v)) => {
                            let off = rest.find(v.trim()).unwrap_or(0);
                            vec![(k, v.trim().trim_matches(['"', '\'']), off)]
                        }
                        _ => Vec::new(),
                    }
                };
                for (k, v, off) in pairs {
                    if let Some(m) = self.name_match(k)
                        && self.settings.values.is_credential_value(k, v, m)
                    {
                        let message =
                            format!("Dockerfile `{word}` sets `{k}` to a literal credential");
                        self.report(
                            Code::SL008,
                            rest_at + off,
                            v,
                            format!("Dockerfile/{k}"),
                            message,
                            Self::confidence(m),
                        );
                    }
                }
            }
        }
    }
}
