//! Line-aware scanning for text that is not (valid) YAML: `.env` files, `.properties`, `.ini`,
//! `.toml`, configuration embedded in ConfigMaps, and Helm templates that do not parse even after
//! their `{{ ... }}` actions are masked.

use std::sync::OnceLock;

use regex::Regex;

/// One `key = value` / `key: value` / `export KEY=value` line.
#[derive(Debug, PartialEq, Eq)]
pub struct Assignment<'a> {
    pub key: &'a str,
    /// The value without quotes, trailing comments or separators.
    pub value: &'a str,
    /// Byte offset of `value` in the line.
    pub value_at: usize,
}

fn assignment_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Invariant: a constant pattern, exercised by the tests below.
    #[allow(clippy::expect_used)]
    RE.get_or_init(|| {
        Regex::new(
            r#"^\s*(?:export\s+|-\s+|set\s+)?["']?([A-Za-z_][A-Za-z0-9_.\-\[\]]*(?:\[['"][A-Za-z0-9_.\-]+['"]\])*)["']?\s*(?:=|:(?:\s|$))\s*(.*)$"#,
        )
        .expect("assignment pattern compiles")
    })
}

/// Parses one line as an assignment; comments, section headers and blank lines give `None`.
pub fn parse_assignment(line: &str) -> Option<Assignment<'_>> {
    let trimmed = line.trim_start();
    if trimmed.is_empty()
        || trimmed.starts_with('#')
        || trimmed.starts_with("//")
        || trimmed.starts_with(';')
        || trimmed.starts_with('[')
        || trimmed.starts_with("<!--")
    {
        return None;
    }
    let caps = assignment_re().captures(line)?;
    let key = caps.get(1)?.as_str();
    let raw = caps.get(2)?;
    let (value, offset) = unquote(raw.as_str());
    Some(Assignment {
        key,
        value,
        value_at: raw.start() + offset,
    })
}

/// Strips matching quotes, or for unquoted values a trailing ` # comment` and `,`/`;`.
fn unquote(raw: &str) -> (&str, usize) {
    let raw = raw.trim_end();
    // `password=\"$X\"` inside a quoted shell string: an escaped quote opens the value.
    if let Some(q) = ["\\\"", "\\'"].iter().find(|q| raw.starts_with(**q)) {
        let inner = &raw[q.len()..];
        let end = inner.find(*q).unwrap_or(inner.len());
        return (&inner[..end], q.len());
    }
    let mut chars = raw.chars();
    if let Some(q @ ('"' | '\'' | '`')) = chars.next() {
        let inner = &raw[1..];
        let end = inner.find(q).unwrap_or(inner.len());
        return (&inner[..end], 1);
    }
    let cut = raw.find(" #").unwrap_or(raw.len());
    let value = raw[..cut].trim_end().trim_end_matches([',', ';']);
    (value, 0)
}

/// Masks Helm/Go template actions so that a chart template can be parsed as YAML with the same
/// byte offsets: `{{ .Values.x }}` becomes `${xxxxxxxxxxx}` (a placeholder, never flagged), and
/// lines holding only actions (`{{- if .Values.enabled }}`) become blank.
pub fn mask_template(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    while let Some(open) = find(bytes, b"{{", i) {
        let Some(close) = find(bytes, b"}}", open + 2) else {
            break;
        };
        let end = close + 2;
        let multiline = bytes[open..end].contains(&b'\n');
        for (j, b) in out[open..end].iter_mut().enumerate() {
            if *b == b'\n' {
                continue;
            }
            *b = if multiline {
                b' '
            } else if j == 0 {
                b'$'
            } else if j == 1 {
                b'{'
            } else if j == end - open - 1 {
                b'}'
            } else {
                b'x'
            };
        }
        i = end;
    }
    // Lines that held only actions: blank them (keeping their length).
    let mut start = 0;
    while start < out.len() {
        let end = out[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(out.len(), |p| start + p);
        let line = &out[start..end];
        if is_action_only(line) {
            for b in &mut out[start..end] {
                *b = b' ';
            }
        }
        start = end + 1;
    }
    // Masking replaced whole template spans (UTF-8 boundaries included) with ASCII, so the
    // result is valid UTF-8; fall back to the original text if it somehow is not.
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn is_action_only(line: &[u8]) -> bool {
    let s = String::from_utf8_lossy(line);
    let t = s.trim();
    if !t.starts_with("${") {
        return false;
    }
    let rest = t.replace(['$', '{', '}', 'x', ' '], "");
    rest.is_empty()
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_assignments() {
        let a = parse_assignment("DB_PASSWORD=hunter2").map(|a| (a.key, a.value, a.value_at));
        assert_eq!(a, Some(("DB_PASSWORD", "hunter2", 12)));
        let a = parse_assignment("export API_KEY=\"abc def\" # c").map(|a| (a.key, a.value));
        assert_eq!(a, Some(("API_KEY", "abc def")));
        let a = parse_assignment("  password: s3cret # note").map(|a| (a.key, a.value));
        assert_eq!(a, Some(("password", "s3cret")));
        let a = parse_assignment(r#"  "token": "abc123","#).map(|a| (a.key, a.value));
        assert_eq!(a, Some(("token", "abc123")));
        assert_eq!(parse_assignment("# PASSWORD=x"), None);
        assert_eq!(parse_assignment("[section]"), None);
        assert_eq!(
            parse_assignment("url: https://x").map(|a| a.value),
            Some("https://x")
        );
    }

    #[test]
    fn masks_templates_keeping_offsets() {
        let t = "{{- if .Values.on }}\nkey: {{ .Values.x }}\n{{- end }}\n";
        let m = mask_template(t);
        assert_eq!(m.len(), t.len());
        assert_eq!(m.lines().nth(1), Some("key: ${xxxxxxxxxxxx}"));
        assert!(m.lines().next().is_some_and(|l| l.trim().is_empty()));
    }
}
