//! Documents inside documents: the fenced code blocks of a Markdown file (a Secret example in a
//! README, a `.env` listing, a shell session) are scanned by the analyzer of their own language,
//! and their findings point at the line and column of the Markdown file.
//!
//! Each language gets one copy of the file in which every byte outside its blocks is a space
//! (newlines kept), so byte offsets, lines and columns are those of the original; YAML fences
//! become `---` so that each block is its own document.

use crate::analyzers::{FileKind, FileScan, has_needle};
use crate::yaml::Source;

/// The analyzer for a fence's info string (`yaml`, `sh`, `env`, ...).
fn language(info: &str) -> Option<FileKind> {
    let word = info
        .trim()
        .trim_start_matches('{')
        .trim_start_matches('.')
        .split([' ', ',', '}'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    Some(match word.as_str() {
        "yaml" | "yml" | "json" | "jsonc" => FileKind::Yaml,
        "sh" | "bash" | "shell" | "console" | "zsh" | "shell-session" | "shellsession" => {
            FileKind::Script
        }
        "env" | "dotenv" => FileKind::DotEnv,
        "ini" | "properties" | "toml" | "conf" | "cfg" | "hcl" | "terraform" | "tf" => {
            FileKind::Config
        }
        "dockerfile" | "docker" => FileKind::Dockerfile,
        "sql" | "mysql" | "postgresql" | "postgres" | "psql" | "plsql" | "tsql" => FileKind::Sql,
        _ => return None,
    })
}

/// The text with blockquote markers (`>` after at most three spaces, nested ones too) replaced
/// by spaces, so that a block quoted as output is a block; byte offsets are unchanged. `None`
/// when no line is quoted.
fn dequote(text: &str) -> Option<String> {
    let quoted = |line: &str| line.trim_start_matches(' ').starts_with('>');
    if !text.split_inclusive('\n').any(quoted) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent > 3 || !quoted(line) {
            out.push_str(line);
            continue;
        }
        // Each `>` marker and the one space after it become spaces, as many levels as there are.
        let mut rest = line;
        loop {
            let lead = rest.len() - rest.trim_start_matches(' ').len();
            let after = &rest[lead..];
            let Some(tail) = after.strip_prefix('>') else {
                break;
            };
            out.push_str(&rest[..lead]);
            out.push(' ');
            rest = tail;
            if let Some(tail) = rest.strip_prefix(' ') {
                out.push(' ');
                rest = tail;
            }
        }
        out.push_str(rest);
    }
    Some(out)
}

/// One fenced block: the language, the fence line's byte range, the content's byte range.
struct Block {
    kind: FileKind,
    fence: (usize, usize),
    body: (usize, usize),
    /// Console output: lines starting with a `$ ` prompt are commands, not part of the document.
    skip_prompts: bool,
}

/// What an unlabelled or mislabelled block holds, from its lines: a manifest (`apiVersion:`,
/// `kind:`), shell commands (`$ `, `export `, `cat <<`, `kubectl `), or `key=value` settings.
fn sniff(body: &str) -> Option<FileKind> {
    let lines = || {
        body.lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
    };
    // Blocks quoted as output are indented by their markers' width.
    let min_indent = lines()
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    if lines().any(|l| {
        let l = l.get(min_indent..).unwrap_or(l);
        l.starts_with("apiVersion:") || l.starts_with("kind: ")
    }) {
        return Some(FileKind::Yaml);
    }
    const COMMANDS: &[&str] = &[
        "$ ", "export ", "cat <<", "kubectl ", "helm ", "docker ", "curl ",
    ];
    if lines().any(|l| COMMANDS.iter().any(|c| l.trim_start().starts_with(c))) {
        return Some(FileKind::Script);
    }
    if lines().all(|l| l.starts_with('#') || is_setting_line(l)) && lines().any(is_setting_line) {
        return Some(FileKind::Config);
    }
    None
}

/// `password=S!B*d$zDsb=`, `db.user = app`: a properties or `.env` line.
fn is_setting_line(l: &str) -> bool {
    l.split_once('=').is_some_and(|(k, _)| {
        let k = k.trim();
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    })
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    // An open fence: its label's language (if any), the fence line, its character and length.
    type Open = (Option<FileKind>, (usize, usize), char, usize);
    let mut open: Option<Open> = None;
    let mut skipping: Option<(char, usize)> = None;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let trimmed = line.trim_start_matches(' ');
        let fence_char = trimmed.chars().next().filter(|c| matches!(c, '`' | '~'));
        let run = fence_char.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        if let Some((kind, fence, c, n)) = open {
            if fence_char == Some(c) && run >= n && trimmed[run..].trim().is_empty() {
                let body = (fence.1, start);
                let text_of = &text[body.0..body.1];
                let sniffed = sniff(text_of);
                // A `yaml` block of `key=value` lines is properties; a shell session that prints
                // a manifest holds a YAML document too.
                let kind = match (kind, sniffed) {
                    (None, Some(k)) => k,
                    (Some(FileKind::Yaml), Some(FileKind::Config)) => FileKind::Config,
                    (Some(k), _) => k,
                    (None, None) => {
                        open = None;
                        continue;
                    }
                };
                out.push(Block {
                    kind,
                    fence,
                    body,
                    skip_prompts: false,
                });
                if kind == FileKind::Script && sniffed == Some(FileKind::Yaml) {
                    out.push(Block {
                        kind: FileKind::Yaml,
                        fence,
                        body,
                        skip_prompts: true,
                    });
                }
                open = None;
            }
            continue;
        }
        if let Some((c, n)) = skipping {
            if fence_char == Some(c) && run >= n && trimmed[run..].trim().is_empty() {
                skipping = None;
            }
            continue;
        }
        if let Some(c) = fence_char
            && run >= 3
        {
            let end_of_line = start + line.trim_end_matches(['\n', '\r']).len();
            let info = trimmed[run..].trim();
            match language(info) {
                Some(kind) => open = Some((Some(kind), (start, end_of_line), c, run)),
                // Unlabelled blocks are judged by their content when they close.
                None if info.is_empty() => open = Some((None, (start, end_of_line), c, run)),
                None => skipping = Some((c, run)),
            }
        }
    }
    out
}

impl FileScan<'_> {
    /// Scans the fenced code blocks of a Markdown file with their own languages' analyzers.
    pub(crate) fn markdown_blocks(&mut self) {
        let original = self.source.text;
        if !has_needle(original.as_bytes()) {
            return;
        }
        // Blocks quoted as output (`> ```` ... `> ````): read without their `>` markers.
        let dequoted = dequote(original);
        let text = dequoted.as_deref().unwrap_or(original);
        let found = blocks(text);
        let mut kinds: Vec<FileKind> = found.iter().map(|b| b.kind).collect();
        kinds.dedup();
        kinds.sort_by_key(|k| *k as u8);
        kinds.dedup();
        for kind in kinds {
            // Offsets after the language's last block are never looked at: the copy ends there.
            let end = found
                .iter()
                .filter(|b| b.kind == kind)
                .map(|b| b.body.1)
                .max()
                .unwrap_or(0);
            let mut copy: Vec<u8> = text.as_bytes()[..end]
                .iter()
                .map(|&b| if b == b'\n' { b } else { b' ' })
                .collect();
            let mut any = false;
            for b in found.iter().filter(|b| b.kind == kind) {
                let body = &text.as_bytes()[b.body.0..b.body.1];
                if !has_needle(body) {
                    continue;
                }
                any = true;
                copy[b.body.0..b.body.1].copy_from_slice(body);
                if b.skip_prompts {
                    let mut at = b.body.0;
                    for line in text[b.body.0..b.body.1].split_inclusive('\n') {
                        if line.starts_with("$ ") {
                            let end = at + line.trim_end_matches('\n').len();
                            copy[at..end].fill(b' ');
                        }
                        at += line.len();
                    }
                }
                if kind == FileKind::Yaml && b.fence.1 - b.fence.0 >= 3 {
                    copy[b.fence.0..b.fence.0 + 3].copy_from_slice(b"---");
                }
            }
            if !any {
                continue;
            }
            // Only whole lines of the original (valid UTF-8) and ASCII spaces were copied.
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
                    .any(|g| g.line == f.line && g.rule == f.rule && g.column == f.column);
                if !duplicate {
                    self.findings.push(f);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Settings;

    /// A README's examples: a Secret manifest, a `.env` listing and a shell session hold
    /// credentials; placeholders, prose and an unlabelled block do not count; findings point at
    /// the README's own lines.
    #[test]
    fn fenced_blocks_are_scanned_in_their_language_at_the_outer_line() {
        let text = "# Déploiement — guide\n\nÉtape 1 :\n\n```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  DB_PASSWORD: s3cr3t-Pr0d-v4lue\n  API_TOKEN: <your-token>\n```\n\n```env\nREDIS_PASSWORD=r3d1s-Pa55w0rd\nSMTP_PASSWORD=changeme\n```\n\n```bash\nexport ADMIN_PASSWORD=Adm1n-S3cret-77\n```\n\n```\npassword: not-a-language-block-9\n```\n\nThe password: is set in prose here.\n";
        let settings = Settings::default();
        let (findings, _) = crate::scan_text("docs/README.md", text, &settings);
        let lines: Vec<(usize, usize)> = findings.iter().map(|f| (f.line, f.column)).collect();
        assert_eq!(lines, [(11, 16), (16, 16), (21, 23)], "{findings:?}");
    }

    /// What documentation writes without the right label: a shell session that prints a Secret
    /// (`kubectl get secret -o yaml`), an unlabelled heredoc that writes an env file, and
    /// properties in a block labelled `yaml`.
    #[test]
    fn blocks_are_judged_by_their_content_when_the_label_does_not_say() {
        let text = "```bash\n$ kubectl get secret db -o yaml\napiVersion: v1\ndata:\n  DB_PASSWORD: ZFltTmZXVjR1RXZUem9GdQ==\nkind: Secret\nmetadata:\n  name: db\n```\n\n```\ncat <<'EOF' >$DEMO_HOME/foo.env\nDB_PASSWORD=iloveyou\nEOF\n```\n\n```yaml\n# credentials.txt\nusername=admin\npassword=Sb7dzDsb4q\n```\n\n```\nsome output: password=not-scanned-9\n```\n";
        let (findings, _) = crate::scan_text("docs/secrets.md", text, &Settings::default());
        let lines: Vec<usize> = findings.iter().map(|f| f.line).collect();
        assert_eq!(lines, [5, 13, 20], "{findings:?}");
    }

    /// kustomize's examples/secretGeneratorPlugin.md quotes `kustomize build` output as a
    /// blockquote (`> ```` ... `> ````): the Secret inside is read, at the Markdown file's line
    /// and column; quoted prose is not.
    #[test]
    fn blocks_quoted_as_output_are_blocks() {
        let text = "This emits something like\n\n> ```\n> apiVersion: v1\n> kind: Secret\n> metadata:\n>   name: mysecrets-hfb5df789h\n> type: Opaque\n> data:\n>   ROUTER_PASSWORD: YWRtaW4=\n>   DB_PASSWORD: aWxvdmV5b3U=\n> ```\n\n> > ```env\n> > API_TOKEN=Zk8Lm2Qp9Rt4Vw7Xy1Bc\n> > ```\n\n> password: in a quote, prose\n";
        let (findings, _) = crate::scan_text("docs/plugin.md", text, &Settings::default());
        let at: Vec<(usize, usize)> = findings.iter().map(|f| (f.line, f.column)).collect();
        assert_eq!(at, [(10, 22), (11, 18), (15, 15)], "{findings:?}");
    }

    #[test]
    fn unterminated_and_nested_fences_do_not_panic() {
        let settings = Settings::default();
        for text in [
            "```yaml\npassword: Xk9-real-Looking-7\n",
            "````md\n```yaml\npassword: Xk9-real-Looking-7\n```\n````\n",
            "~~~\n```yaml\n~~~\n",
            "```yaml\n```",
            "```yaml\u{e9}\npassword: \u{e9}\u{e9}\u{e9}\n```\n",
            "> ```yaml\n>\n> > >\n>password: Xk9-real-Looking-7\n",
            ">\u{e9}```\n> \u{e9}\n",
        ] {
            let _ = crate::scan_text("README.md", text, &settings);
        }
    }
}

#[cfg(test)]
mod erlang_cookie {
    use crate::Settings;

    /// RabbitMQ's documented settings (rabbitmq.com/docs/clustering): the cookie is a shared
    /// secret; a reference to a Secret is not.
    #[test]
    fn erlang_cookies_are_credentials() {
        let text = "services:\n  rabbit:\n    image: rabbitmq:3\n    environment:\n      RABBITMQ_ERLANG_COOKIE: SWQOKODSQALRPCLNMEQG\n  other:\n    environment:\n      RABBITMQ_ERLANG_COOKIE: ${ERLANG_COOKIE}\n";
        let (findings, _) = crate::scan_text("docker-compose.yml", text, &Settings::default());
        let lines: Vec<usize> = findings.iter().map(|f| f.line).collect();
        assert_eq!(lines, [5], "{findings:?}");
        let values =
            "auth:\n  erlangCookie: c2VjcmV0Y29va2ll0x9\n  existingErlangSecret: rabbit-cookie\n";
        let (findings, _) =
            crate::scan_text("charts/rabbitmq/values.yaml", values, &Settings::default());
        let lines: Vec<usize> = findings.iter().map(|f| f.line).collect();
        assert_eq!(lines, [2], "{findings:?}");
    }
}

#[cfg(test)]
mod token_formats {
    use crate::Settings;

    /// Formats that were missed: a Stellar secret seed under a name that says nothing (Stellar
    /// docs), a hex Ethereum private key under a key name (web3.js docs), a Vault dev-server
    /// root token (Vault docs, "Root Token: hvs.6j4cuewowBGit65rheNoceI7"); and their public
    /// look-alikes, which must stay quiet.
    #[test]
    fn seeds_hex_keys_and_vault_tokens() {
        let env = "ISSUER=SCZANGBA5YHTNYVVV4C3U252E2B6P6F5T3U6MM63WBSBZATAQI3EBTQ4\nACCOUNT=GCFXHS4GXL6BVUCXBWXGTITROWLVYXQKQLF4YH5O5JT3YZXCYPAFBJZB\nPRIVATE_KEY=0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318\nTX_HASH=0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318\nVAULT_ADDR=http://127.0.0.1:8200\nBOOTSTRAP=hvs.6j4cuewowBGit65rheNoceI7\n";
        let (findings, _) = crate::scan_text(".env", env, &Settings::default());
        let lines: Vec<(usize, &str)> =
            findings.iter().map(|f| (f.line, f.rule.as_str())).collect();
        assert_eq!(
            lines,
            [(1, "SL008"), (3, "SL008"), (6, "SL004")],
            "{findings:?}"
        );
    }
}
