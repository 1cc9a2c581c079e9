//! Shell scripts: assignments of credential-like variables, command lines, and the files their
//! heredocs write (`cat <<EOF > app.env`), each scanned by the analyzer of its own kind.

use crate::analyzers::{FileKind, FileScan};
use crate::codes::Code;
use crate::text::parse_assignment;
use crate::yaml::Source;

/// A heredoc: the kind of file its body is, the byte offset of its opening line, and its body's
/// byte range (whole lines, the terminator excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Heredoc {
    pub kind: FileKind,
    pub opener: usize,
    pub body: (usize, usize),
}

/// The kind of file a heredoc writes, from the name it is redirected to (`> app.env`,
/// `| tee config.yaml`), else from its lines (a manifest piped to `kubectl apply -f -`).
fn target_kind(target: Option<&str>, body: &str) -> Option<FileKind> {
    if let Some(t) = target {
        let name = t
            .trim_matches(['"', '\''])
            .rsplit('/')
            .next()
            .unwrap_or(t)
            .to_ascii_lowercase();
        let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
        if name == ".env" || name.starts_with(".env.") || ext == "env" {
            return Some(FileKind::DotEnv);
        }
        match ext {
            "yaml" | "yml" | "json" => return Some(FileKind::Yaml),
            "properties" | "ini" | "cfg" | "conf" | "cnf" | "toml" | "tfvars" | "hcl" | "tf" => {
                return Some(FileKind::Config);
            }
            "sh" | "bash" => return Some(FileKind::Script),
            "sql" => return Some(FileKind::Sql),
            _ => {}
        }
        if name == "dockerfile" {
            return Some(FileKind::Dockerfile);
        }
    }
    let lines = || body.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines().any(|l| l.starts_with("apiVersion:") || l.starts_with("kind: ")) {
        return Some(FileKind::Yaml);
    }
    // `KEY=value` lines only: an env file whatever its name (`> $DEMO_HOME/foo`).
    let setting = |l: &str| {
        l.starts_with('#')
            || l.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            })
    };
    (target.is_some() && lines().all(setting) && lines().any(|l| !l.starts_with('#')))
        .then_some(FileKind::DotEnv)
}

/// The heredocs of a script whose bodies are files of a kind the lint reads.
pub(crate) fn heredocs(text: &str) -> Vec<Heredoc> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let start = at;
        at += line.len();
        let Some(i) = line.find("<<") else {
            continue;
        };
        if line.trim_start().starts_with('#') || line[i..].starts_with("<<<") {
            continue;
        }
        let rest = &line[i + 2..];
        let strip_tabs = rest.starts_with('-');
        let rest = rest.trim_start_matches('-').trim_start();
        let quote = rest.chars().next().filter(|c| matches!(c, '\'' | '"'));
        let rest = rest.trim_start_matches(['\'', '"']);
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            continue;
        }
        let delimiter = &rest[..len];
        let after = &rest[len..];
        let after = quote.map_or(after, |q| after.strip_prefix(q).unwrap_or(after));
        // `cat <<EOF > file`, `cat > file <<EOF`, `| tee file`, `| tee -a file`.
        let target = redirect_target(after).or_else(|| redirect_target(&line[..i]));
        let body_start = at;
        let mut body_end = at;
        let mut closed = false;
        while let Some(next) = lines.peek() {
            let content = next.trim_end_matches(['\n', '\r']);
            let content = if strip_tabs {
                content.trim_start_matches('\t')
            } else {
                content
            };
            if content == delimiter {
                at += next.len();
                lines.next();
                closed = true;
                break;
            }
            at += next.len();
            body_end = at;
            lines.next();
        }
        if !closed || body_end == body_start {
            continue;
        }
        if let Some(kind) = target_kind(target, &text[body_start..body_end]) {
            out.push(Heredoc {
                kind,
                opener: start,
                body: (body_start, body_end),
            });
        }
    }
    out
}

/// The file after `>`, `>>` or `tee [-a]` in a piece of a command line.
fn first_word(r: &str) -> Option<&str> {
    let r = r.trim_start();
    let end = r
        .find(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | '&' | ')'))
        .unwrap_or(r.len());
    (end > 0).then(|| &r[..end])
}

fn redirect_target(s: &str) -> Option<&str> {
    let word = first_word;
    if let Some(i) = s.find("tee ") {
        let r = s[i + 4..].trim_start();
        let r = r.strip_prefix("-a ").unwrap_or(r);
        return word(r);
    }
    let i = s.rfind('>')?;
    if s[..i].ends_with(['2', '&']) && word(&s[i + 1..]).is_some_and(|w| w.starts_with('&')) {
        return None;
    }
    word(&s[i + 1..]).filter(|w| !w.starts_with('&') && *w != "/dev/null")
}

impl FileScan<'_> {
    /// Shell scripts: `export DB_PASSWORD=x` assignments (SL008), command lines (SL006), and
    /// heredoc bodies read as the files they write.
    pub(crate) fn scan_script(&mut self) {
        let source = self.source;
        let docs = heredocs(source.text);
        let mut body = docs.iter().map(|h| h.body).peekable();
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let at = self.locate_line(n);
            while body.peek().is_some_and(|b| b.1 <= at) {
                body.next();
            }
            if body.peek().is_some_and(|b| b.0 <= at && at < b.1) {
                continue;
            }
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
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
        if !docs.is_empty() {
            self.scan_heredocs(&docs);
        }
    }

    /// Each heredoc body scanned with the analyzer of the file it writes, on a copy of the
    /// script in which everything else is blank (so lines and columns are the script's).
    fn scan_heredocs(&mut self, docs: &[Heredoc]) {
        let text = self.source.text;
        let mut kinds: Vec<FileKind> = docs.iter().map(|h| h.kind).collect();
        kinds.sort_by_key(|k| *k as u8);
        kinds.dedup();
        for kind in kinds {
            let end = docs
                .iter()
                .filter(|h| h.kind == kind)
                .map(|h| h.body.1)
                .max()
                .unwrap_or(0);
            let mut copy: Vec<u8> = text.as_bytes()[..end]
                .iter()
                .map(|&b| if b == b'\n' { b } else { b' ' })
                .collect();
            for h in docs.iter().filter(|h| h.kind == kind) {
                copy[h.body.0..h.body.1].copy_from_slice(&text.as_bytes()[h.body.0..h.body.1]);
                // Each YAML body is a document of its own.
                if kind == FileKind::Yaml && h.body.0 - h.opener >= 4 {
                    copy[h.opener..h.opener + 3].copy_from_slice(b"---");
                }
            }
            // Whole lines of the original (valid UTF-8) and ASCII spaces were copied.
            let Ok(copy) = String::from_utf8(copy) else {
                continue;
            };
            let source = Source::new(&copy);
            let mut inner = FileScan::new(&source, self.path, self.settings);
            inner.test_data = self.test_data;
            inner.test_reason = self.test_reason;
            inner.run_structured(kind);
            for f in inner.findings {
                let duplicate = self
                    .findings
                    .iter()
                    .any(|g| g.line == f.line && g.column == f.column);
                if !duplicate {
                    self.findings.push(f);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    #[test]
    fn heredoc_targets_and_kinds() {
        let text = "#!/bin/sh\ncat <<EOF > app.env\nDB_PASSWORD=x\nEOF\ncat > cfg.yaml <<'YAML'\na: 1\nYAML\nkubectl apply -f - <<EOF\napiVersion: v1\nkind: Secret\nEOF\ncat <<-EOF | tee -a /etc/app.properties\n\tdb.password=x\n\tEOF\ncat <<EOF\nhello\nEOF\ngrep x <<< \"$y\"\n";
        let kinds: Vec<FileKind> = heredocs(text).iter().map(|h| h.kind).collect();
        assert_eq!(
            kinds,
            [
                FileKind::DotEnv,
                FileKind::Yaml,
                FileKind::Yaml,
                FileKind::Config
            ]
        );
    }

    /// A setup script writes an env file, a Secret and a properties file through heredocs: each
    /// body is read as that file, at the script's own lines; the script's other lines as a
    /// script; an unterminated heredoc does not panic.
    #[test]
    fn heredoc_bodies_are_files_of_their_own() {
        let text = "#!/bin/bash\nset -e\ncat <<EOF > \"$DIR/app.env\"\nDB_PASSWORD=Xk9-real-Looking-7\nAPI_URL=https://api\nEOF\nkubectl apply -f - <<'EOF'\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: s3cr3t-Pr0d-v4lue\nEOF\ncat <<-EOF | tee /etc/app/app.properties\n\tspring.datasource.password=Sp1ng-Pw-8812\n\tEOF\nexport ADMIN_TOKEN=Zk8Lm2Qp9Rt4Vw7Xy1Bc\ncat <<EOF > notes.txt\npassword: not-read-9\nEOF\n";
        let (findings, _) = crate::scan_text("setup.sh", text, &Settings::default());
        let mut at: Vec<(usize, &str)> =
            findings.iter().map(|f| (f.line, f.rule.as_str())).collect();
        at.sort();
        assert_eq!(
            at,
            [(4, "SL008"), (13, "SL002"), (16, "SL010"), (18, "SL008")],
            "{findings:?}"
        );
        let _ = crate::scan_text(
            "x.sh",
            "cat <<EOF > a.env\nDB_PASSWORD=Xk9\n",
            &Settings::default(),
        );
    }
}
