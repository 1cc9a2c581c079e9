//! Known token formats (SL004) and credentials in URLs and connection strings (SL005), found in
//! the raw text of any file.
//!
//! Formats follow the providers' documented prefixes (the same ones gitleaks and GitHub secret
//! scanning use): AWS `AKIA...`, GitHub `ghp_`/`github_pat_`, GitLab `glpat-`, Slack `xox?-`,
//! Stripe `sk_live_`, Google `AIza`, SendGrid `SG.`, npm `npm_`, PEM private keys and JWTs.

use std::sync::OnceLock;

use regex::{Regex, RegexSet};

use super::finding::Confidence;
use super::values::is_placeholder;

/// One token format.
pub struct TokenKind {
    /// Shown in the message: "GitHub personal access token".
    pub label: &'static str,
    /// Group 1 (or the whole match) is the secret.
    pattern: &'static str,
    pub confidence: Confidence,
}

const TOKEN_KINDS: &[TokenKind] = &[
    TokenKind {
        label: "AWS access key id",
        pattern: r"(?-u:\b)((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})(?-u:\b)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "AWS secret access key",
        pattern: r#"(?i)aws_?(?:secret_?(?:access_?)?key|secret)["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)"#,
        confidence: Confidence::High,
    },
    TokenKind {
        label: "GitHub token",
        pattern: r"(?-u:\b)(gh[pousr]_[A-Za-z0-9]{36,255})(?-u:\b)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "GitHub fine-grained token",
        pattern: r"(?-u:\b)(github_pat_[A-Za-z0-9_]{60,255})(?-u:\b)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "GitLab token",
        pattern: r"(?-u:\b)(gl(?:pat|dt|ptt|rt|cbt|oas|ft)-[A-Za-z0-9_\-]{20,})",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "Slack token",
        pattern: r"(?-u:\b)(xox[baprse]-[0-9A-Za-z]{6,}-[0-9A-Za-z-]{6,})",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "Slack webhook URL",
        pattern: r"(https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/]{30,})",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "Stripe key",
        pattern: r"(?-u:\b)((?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{20,99})(?-u:\b)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "Google API key",
        pattern: r"(?-u:\b)(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "SendGrid API key",
        pattern: r"(?-u:\b)(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?-u:\b)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "npm access token",
        pattern: r"(?-u:\b)(npm_[A-Za-z0-9]{36})(?-u:\b)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "PyPI upload token",
        pattern: r"(?-u:\b)(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "Docker Hub personal access token",
        pattern: r"(?-u:\b)(dckr_pat_[A-Za-z0-9_\-]{27,})",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "HashiCorp Vault token",
        pattern: r"(?-u:\b)(hv[sb]\.[A-Za-z0-9_\-]{90,})",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "OpenAI API key",
        pattern: r"(?-u:\b)(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,})",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "Anthropic API key",
        pattern: r"(?-u:\b)(sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{80,})",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "Shopify access token",
        pattern: r"(?-u:\b)(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})(?-u:\b)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "age secret key",
        pattern: r"(?-u:\b)(AGE-SECRET-KEY-1[0-9A-Z]{58})(?-u:\b)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "sealant private key",
        pattern: r"(?-u:\b)(SEALANT-PRIVATE-KEY-(?:V1|PQ1):[A-Za-z0-9_\-]{48})(?:[^A-Za-z0-9_\-]|$)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "Azure storage account key",
        pattern: r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "private key",
        pattern: r"(-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----)",
        confidence: Confidence::High,
    },
    TokenKind {
        label: "JSON Web Token",
        pattern: r"(?-u:\b)(eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,})",
        confidence: Confidence::Medium,
    },
    TokenKind {
        label: "bearer token",
        pattern: r"(?i)(?-u:\b)bearer\s+([A-Za-z0-9_\-.~+/]{20,}=*)",
        confidence: Confidence::Medium,
    },
    TokenKind {
        label: "registry auth",
        pattern: r#""auth"\s*:\s*"([A-Za-z0-9+/]{12,}={0,2})""#,
        confidence: Confidence::Medium,
    },
];

/// A match of a token format or a URL credential in a file's text.
#[derive(Debug)]
pub struct RawMatch {
    /// Byte range of the secret in the text.
    pub start: usize,
    pub end: usize,
    pub label: &'static str,
    pub confidence: Confidence,
}

/// Literal fragments that every token format contains: files without any skip the token
/// regexes (one SIMD literal search instead of a DFA pass over the whole text).
const TOKEN_HINTS: &str = r#"AKIA|ASIA|ABIA|ACCA|A3T|gh[pousr]_|github_pat_|gl(?:pat|dt|ptt|rt|cbt|oas|ft)-|xox|hooks\.slack\.com|sk_|rk_|AIza|SG\.|npm_|pypi-|dckr_pat_|hv[sb]\.|sk-|shp|AGE-SECRET-KEY|SEALANT-PRIVATE-KEY|-----BEGIN|eyJ|"auth"|(?i:aws|bearer|accountkey)"#;

struct Compiled {
    hints: Regex,
    set: RegexSet,
    each: Vec<Regex>,
    url: Regex,
    conn: Regex,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let patterns: Vec<&str> = TOKEN_KINDS.iter().map(|k| k.pattern).collect();
        // Invariant: the patterns are constants covered by the tests below.
        #[allow(clippy::expect_used)]
        Compiled {
            hints: Regex::new(TOKEN_HINTS).expect("token hints compile"),
            set: RegexSet::new(&patterns).expect("token patterns compile"),
            each: patterns.iter().map(|p| Regex::new(p).expect("token pattern compiles")).collect(),
            url: Regex::new(
                r#"(?-u:\b)([a-zA-Z][a-zA-Z0-9+.\-]{1,20})://([^\s:@/'"<>{}]{0,100}):([^\s@/'"<>]{1,200})@([^\s/'"?#@<>]+)"#,
            )
            .expect("url pattern compiles"),
            conn: Regex::new(
                r#"(?i)(?:^|[;"'\s])(?:password|pwd)\s*=\s*([^;"'\s]{3,200})\s*;"#,
            )
            .expect("connection string pattern compiles"),
        }
    })
}

/// Every known token in `text`, skipping placeholders (`ghp_xxxx...`, `AKIAIOSFODNN7EXAMPLE`)
/// and PEM headers with no key body (documentation that names the format).
pub fn find_tokens(text: &str) -> Vec<RawMatch> {
    let c = compiled();
    let mut out = Vec::new();
    if !c.hints.is_match(text) {
        return out;
    }
    for index in c.set.matches(text).iter() {
        let kind = &TOKEN_KINDS[index];
        for caps in c.each[index].captures_iter(text) {
            let Some(m) = caps.get(1).or_else(|| caps.get(0)) else {
                continue;
            };
            let value = m.as_str();
            if token_is_placeholder(value) {
                continue;
            }
            if kind.label == "private key"
                && (!has_key_body(&text[m.end()..]) || is_truncated_pem(&text[m.end()..]))
            {
                continue;
            }
            out.push(RawMatch {
                start: m.start(),
                end: m.end(),
                label: kind.label,
                confidence: kind.confidence,
            });
        }
    }
    out
}

/// `scheme://user:password@host` and `Password=...;` connection strings whose password is a
/// literal.
pub fn find_url_credentials(text: &str) -> Vec<RawMatch> {
    let c = compiled();
    let mut out = Vec::new();
    if text.contains("://") {
        for caps in c.url.captures_iter(text) {
            let (Some(whole), Some(password), Some(host)) = (caps.get(0), caps.get(3), caps.get(4))
            else {
                continue;
            };
            if url_password_is_placeholder(password.as_str(), host.as_str()) {
                continue;
            }
            out.push(RawMatch {
                start: whole.start(),
                end: whole.end(),
                label: "URL",
                confidence: Confidence::High,
            });
        }
    }
    // `Password=...;` needs a `;` and an `=` right after the word: check cheaply first.
    let maybe_conn = text.contains(';')
        && [
            "assword=",
            "ASSWORD=",
            "wd=",
            "WD=",
            "assword =",
            "ASSWORD =",
        ]
        .iter()
        .any(|p| text.contains(p));
    if maybe_conn {
        for caps in c.conn.captures_iter(text) {
            let Some(password) = caps.get(1) else {
                continue;
            };
            if url_password_is_placeholder(password.as_str(), "") {
                continue;
            }
            out.push(RawMatch {
                start: password.start(),
                end: password.end(),
                label: "connection string",
                confidence: Confidence::Medium,
            });
        }
    }
    out
}

fn url_password_is_placeholder(password: &str, host: &str) -> bool {
    let lower = password.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "password" | "pass" | "passwd" | "pwd" | "pw" | "secret" | "p" | "x" | "token" | "..."
    ) || lower.starts_with('$')
        || lower.starts_with('%')
        || lower.starts_with('{')
        || is_placeholder(password, &lower)
        || host.contains("example.")
        || host.starts_with('$')
        || host.starts_with('{')
        || host.starts_with('<')
}

/// `ghp_xxxxxxxx...`, `AKIAIOSFODNN7EXAMPLE`, `sk_live_0000...`: documentation, not tokens.
fn token_is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if lower.contains("example") || lower.contains("xxxxxx") || lower.contains("000000") {
        return true;
    }
    let tail = value.rsplit(['_', '-', '.']).next().unwrap_or(value);
    let mut distinct: Vec<char> = tail.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    tail.len() >= 8 && distinct.len() <= 3
}

/// A PEM block whose body is cut short with `...` (documentation showing the shape of a key:
/// `-----BEGIN RSA PRIVATE KEY-----`, a line or two, `...`, the last line, the END line).
fn is_truncated_pem(after: &str) -> bool {
    let window = &after[..floor_char_boundary(after, 16 * 1024)];
    let body = window.split("-----END").next().unwrap_or(window);
    body.replace("\\n", "\n").lines().any(|l| {
        let t = l.trim().trim_matches(['"', '\'', ',']);
        t.starts_with("...") || t.ends_with("...") || t == "\u{2026}"
    })
}

/// The largest char boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A PEM header followed directly by base64 key material (raw lines or `\n` escapes, after
/// optional `Proc-Type`/`DEK-Info` headers), not a header quoted in documentation.
fn has_key_body(after: &str) -> bool {
    let window: String = after.chars().take(600).collect();
    let unescaped = window.replace("\\n", "\n");
    let mut lines = unescaped
        .lines()
        .map(|l| l.trim().trim_matches('"'))
        .filter(|l| !l.is_empty());
    // The header line's own rest (usually empty) comes first.
    for line in lines.by_ref().take(5) {
        if line.contains(':') {
            continue;
        }
        let run = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "+/=".contains(*c))
            .count();
        return run >= 32 && run == line.chars().count();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(text: &str) -> Vec<&'static str> {
        find_tokens(text).into_iter().map(|m| m.label).collect()
    }

    #[test]
    fn finds_sealant_private_keys_but_not_public_keys() {
        let key = sealant_core::keys::PrivateKey::from_bytes(&[7; 32]);
        let file = key.to_file_text();
        assert_eq!(labels(&file), vec!["sealant private key"]);
        assert!(labels(&key.public().to_string()).is_empty());
        // The post-quantum hybrid (X-Wing) key files too.
        let hybrid =
            sealant_core::keys::PrivateKey::generate_with(sealant_core::keys::KeyType::XWing)
                .unwrap();
        assert_eq!(labels(&hybrid.to_file_text()), vec!["sealant private key"]);
        assert!(labels(&hybrid.public().to_string()).is_empty());
    }

    #[test]
    fn finds_each_format() {
        let cases = [
            ("key: AKIAZ7VRSQ4TKLMN3P2Q", "AWS access key id"),
            (
                "aws_secret_access_key = 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",
                "AWS secret access key",
            ),
            (
                "token: ghp_R8dK2mN5qW7xY1zA3bC4dE6fG8hJ9kL0pQ2s",
                "GitHub token",
            ),
            ("glpat-Zx8Kq2Lm9Np4Rt6Vw1Ys", "GitLab token"),
            (
                "xoxb-2048913467-3198237465123-aBcD8eFgH9iJkL0mNoPqRsTu",
                "Slack token",
            ),
            ("sk_live_51Hq8ZkLmN4pQr7StUv9WxYz2A", "Stripe key"),
            ("AIzaSyD8kL2mN9pQ4rS7tU1vW3xY5zA6bC0dE2f", "Google API key"),
            (
                "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",
                "SendGrid API key",
            ),
            (
                "npm_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
                "npm access token",
            ),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r",
                "JSON Web Token",
            ),
        ];
        for (text, label) in cases {
            assert_eq!(labels(text), [label], "{text}");
        }
    }

    /// A Unicode `\b` makes the regex crate's lazy DFA give up at the first non-ASCII byte and
    /// fall back to a far slower engine: one `’` in a 400 KB README made its scan 14 times
    /// slower. Every word boundary must be the ASCII one.
    #[test]
    fn word_boundaries_are_ascii() {
        let c = compiled();
        let all: Vec<&str> = TOKEN_KINDS
            .iter()
            .map(|k| k.pattern)
            .chain([c.url.as_str(), c.conn.as_str()])
            .collect();
        for p in all {
            assert_eq!(
                p.matches("\\b").count(),
                p.matches("(?-u:\\b)").count(),
                "Unicode word boundary in {p}"
            );
        }
        let text = format!(
            "{}\u{2019} token ghp_Zq7Wx2Cv9Bn4Mk6Lp1Jh3Gf5Ds8Ae0Rt2Yu4I",
            "a".repeat(10)
        );
        assert_eq!(labels(&text), ["GitHub token"]);
    }

    #[test]
    fn truncated_pem_in_documentation_is_not_a_key() {
        let doc = "-----BEGIN RSA PRIVATE KEY-----\nMIIEogIBAAKCAQEAvLYcyu8f3skuRyUgeeNpeDvYBCDcgq+LsWap6zbX5f8oLqp4\n...\nwrj2wDbCDCFmfqnSJ+dKI3vFLlEz44sAV8jX/kd4Y6ZTQhlLbYc=\n-----END RSA PRIVATE KEY-----\n";
        assert!(labels(doc).is_empty());
        let whole = doc.replace("...\n", "");
        assert_eq!(labels(&whole), ["private key"]);
    }

    #[test]
    fn pem_needs_a_body() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1x2y3z4a5b6c7d8e9f0g1h2i3j4k5l6m7n8o9p\n-----END";
        assert_eq!(labels(key), ["private key"]);
        let json = r#"{"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"}"#;
        assert_eq!(labels(json), ["private key"]);
        assert!(labels("Store keys as `-----BEGIN OPENSSH PRIVATE KEY-----` blocks.").is_empty());
    }

    #[test]
    fn placeholders_are_not_tokens() {
        assert!(labels("AKIAIOSFODNN7EXAMPLE").is_empty());
        assert!(labels("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").is_empty());
    }

    #[test]
    fn url_credentials() {
        let found = find_url_credentials("DATABASE_URL=postgres://app:Xk9pQ2mL@db:5432/app");
        assert_eq!(found.len(), 1);
        for text in [
            "postgres://app:${DB_PASSWORD}@db/app",
            "postgres://user:password@localhost/db",
            "https://user:s3cret@example.com/x",
            "https://github.com/org/repo",
            "redis://:{{ .Values.redis.password }}@redis:6379",
        ] {
            assert!(find_url_credentials(text).is_empty(), "{text}");
        }
        let conn = find_url_credentials("Server=db;User Id=sa;Password=Str0ng!Pass;");
        assert_eq!(conn.len(), 1);
    }
}
