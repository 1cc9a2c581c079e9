//! Values: which literal values could be credentials, and how to show them redacted.
//!
//! A value under a credential-like name is flagged unless it is clearly not a secret: empty,
//! a boolean or small number, a placeholder (`${X}`, `$(X)`, `{{ .Values.x }}`, `<password>`,
//! `changeme`, `REPLACE_ME`, `xxx`, `***`), a reference to a secret store (`ref+vault://`,
//! `arn:aws:secretsmanager:...`), SOPS ciphertext (`ENC[AES256_GCM,...]`), a file path or a URL
//! without a password.

use regex::Regex;

use super::names::{NameMatch, Strength};

/// Configured and built-in knowledge about values, shared by every rule.
#[derive(Debug, Default)]
pub struct ValueFilter {
    /// Extra placeholder patterns from `.sealant.toml` (`placeholders = ["^dev-only-"]`).
    pub extra_placeholders: Vec<Regex>,
}

/// Placeholder words: a value containing one of these (case-insensitive) is not a secret.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "changethis",
    "change_this",
    "replace_me",
    "replaceme",
    "replace-me",
    "replace_with",
    "example",
    "dummy",
    "placeholder",
    "your_",
    "your-",
    "yourpassword",
    "yoursecret",
    "yourtoken",
    "redacted",
    "todo",
    "fixme",
    "tbd",
    "fill_in",
    "fillme",
    "fill-me",
    "set_me",
    "setme",
    "set-me",
    "notset",
    "not_set",
    "not-set",
    "sample",
    "fake",
    "insert_",
    "insert-",
    "put_your",
    "enter_",
    "<",
    "secret_here",
    "password_here",
    "token_here",
    "key_here",
];

/// Whole values that mean "nothing here".
const NULL_WORDS: &[&str] = &[
    "null",
    "nil",
    "none",
    "~",
    "-",
    "n/a",
    "na",
    "undefined",
    "''",
    "\"\"",
];

/// Prefixes of references to a secret store rather than secrets.
const REFERENCE_PREFIXES: &[&str] = &[
    "ref+",
    "vault:",
    "arn:aws:",
    "arn:aws-",
    "op://",
    "sm://",
    "akv://",
    "secret://",
    "secrets://",
    "awssm:",
    "gcpsm:",
    "azkv:",
    "projects/",
    "keyvault:",
    "k8s://",
    "file://",
    "env:",
    "secretref:",
    "enc[",
    "enc(",
    "$ansible_vault",
    "{cipher}",
    "$__file{",
    "$__env{",
    "$__vault{",
    "@microsoft.keyvault",
    "awskms:",
    "gcpkms:",
    "azurekeyvault:",
];

/// Values that are names of keys in a Secret rather than secrets.
const KEY_NAME_VALUES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api-key",
    "api_key",
    "credentials",
    "username",
    "user",
    "client-secret",
    "client_secret",
    "access-key",
    "secret-key",
    "tls.key",
];

/// Terraform/HCL references (`var.db_password`, `local.token`, `module.db.password`).
fn is_code_reference(v: &str) -> bool {
    ["var.", "local.", "module.", "data."].iter().any(|p| {
        v.strip_prefix(p).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-[]\"".contains(c))
        })
    })
}

/// File extensions that make a short value a file name.
const FILE_EXTENSIONS: &[&str] = &[
    ".pem",
    ".key",
    ".crt",
    ".cer",
    ".der",
    ".json",
    ".txt",
    ".yaml",
    ".yml",
    ".env",
    ".p12",
    ".pfx",
    ".jks",
    ".keystore",
    ".gpg",
    ".asc",
    ".ini",
    ".conf",
    ".properties",
    ".toml",
    ".pub",
    ".csr",
    ".xml",
    ".cfg",
];

impl ValueFilter {
    /// True when `value` is a literal that could be a credential (before considering the name).
    pub fn is_literal_secret(&self, value: &str) -> bool {
        let v = value.trim();
        if v.chars().count() < 3 || v.len() > 16 * 1024 {
            return false;
        }
        let lower = v.to_ascii_lowercase();
        if NULL_WORDS.contains(&lower.as_str()) || is_boolean(&lower) || is_small_number(v) {
            return false;
        }
        if is_placeholder(v, &lower) || self.extra_placeholders.iter().any(|r| r.is_match(v)) {
            return false;
        }
        if REFERENCE_PREFIXES.iter().any(|p| lower.starts_with(p)) || is_code_reference(v) {
            return false;
        }
        // `secretKey: password`, `passwordKey: token`: the name of a key, not a value.
        if KEY_NAME_VALUES.contains(&lower.as_str()) {
            return false;
        }
        if looks_like_path(v, &lower) || is_plain_url(&lower) {
            return false;
        }
        // Sentences are descriptions, not secrets ("the password of the admin user").
        if v.split_whitespace().count() >= 4 {
            return false;
        }
        !is_public_certificate(v)
    }

    /// True when `value`, found under a name that matched as `name`, should be reported.
    pub fn is_credential_value(&self, value: &str, name: NameMatch) -> bool {
        if !self.is_literal_secret(value) {
            return false;
        }
        let v = value.trim();
        if name.ref_prone && looks_like_object_name(v) {
            return false;
        }
        match name.strength {
            Strength::Strong => true,
            Strength::Weak => looks_random(v),
        }
    }
}

fn is_boolean(lower: &str) -> bool {
    matches!(
        lower,
        "true" | "false" | "yes" | "no" | "on" | "off" | "enabled" | "disabled"
    )
}

/// Ports, lengths, counts, durations (`30s`, `24h`) and sizes (`10Mi`): never credentials.
fn is_small_number(v: &str) -> bool {
    let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &v[digits.len()..];
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return false;
    }
    if unit.is_empty() {
        return digits.len() < 6 || digits.contains('.');
    }
    matches!(
        unit,
        "ms" | "s" | "m" | "h" | "d" | "w" | "y" | "Ki" | "Mi" | "Gi" | "K" | "M" | "G"
    )
}

/// Template and variable syntax, placeholder words, and runs of masking characters.
pub fn is_placeholder(v: &str, lower: &str) -> bool {
    if v.contains("${") || v.contains("$(") || v.contains("{{") || v.contains("#{") {
        return true;
    }
    if v.contains("%{") || (v.contains("%(") && v.contains(")s")) {
        return true;
    }
    // `$DB_PASS`, `$HOME/.ssh/id_rsa`, `$work/keys/x.key`: a shell or compose expansion.
    if let Some(rest) = v.strip_prefix('$') {
        let ident = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_')
                .len();
        let next = rest[ident..].chars().next();
        if ident > 0
            && rest
                .as_bytes()
                .first()
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && matches!(next, None | Some('/' | '.' | ':' | '-' | '@'))
        {
            return true;
        }
    }
    if v.len() > 2 && v.starts_with('%') && v.ends_with('%') {
        return true;
    }
    if v.starts_with('[') && v.ends_with(']') && !v.contains(',') {
        return true;
    }
    // Redacted or masked values (`su********23`, `****1234`), sealant's own output included.
    if v.contains("****") {
        return true;
    }
    if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    // `xxx`, `***`, `....`, `XXXX-XXXX`, `####`, `000000`, `aaaaaaaa`.
    let masking = v
        .chars()
        .all(|c| matches!(c, 'x' | 'X' | '*' | '.' | '#' | '-' | '_' | '•'));
    let first = v.chars().next();
    let one_char = v.chars().all(|c| Some(c) == first);
    masking || one_char
}

fn looks_like_path(v: &str, lower: &str) -> bool {
    if v.contains(char::is_whitespace) {
        return false;
    }
    let rooted = v.starts_with("./")
        || v.starts_with("../")
        || v.starts_with("~/")
        || (v.len() > 2 && v.as_bytes()[1] == b':' && v.as_bytes()[2] == b'\\');
    let absolute = v.starts_with('/')
        && v[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-@".contains(c))
        && (v[1..].contains('/') || v[1..].contains('.') || v.len() < 24);
    let file_name = FILE_EXTENSIONS.iter().any(|e| lower.ends_with(e))
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
    // `database/creds/db-app`, `secret/data/prod/db`: lower-case path segments are store
    // paths and keys, not base64 (which has upper case).
    let store_path = v.contains('/')
        && !v.starts_with('/')
        && v.split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        });
    rooted || absolute || file_name || store_path
}

/// A URL that carries no password (`https://auth.example.com/token`): SL005 handles the others.
fn is_plain_url(lower: &str) -> bool {
    let Some((scheme, rest)) = lower.split_once("://") else {
        return false;
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    !authority.contains('@') && !lower.contains("password=")
}

/// `BEGIN CERTIFICATE` without a private key: public material.
pub fn is_public_certificate(v: &str) -> bool {
    (v.contains("BEGIN CERTIFICATE") || v.contains("BEGIN PUBLIC KEY") || v.starts_with("ssh-"))
        && !v.contains("PRIVATE KEY")
}

/// `db-credentials`, `app.tls`: the shape of a Kubernetes object name, so a reference.
fn looks_like_object_name(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && (v.contains('-') || v.contains('.'))
        && !v.starts_with('-')
}

/// For ambiguous names: only values that look generated (mixed classes, long enough).
pub fn looks_random(v: &str) -> bool {
    if v.len() < 8 || v.contains(char::is_whitespace) {
        return false;
    }
    let lower = v.chars().any(|c| c.is_ascii_lowercase());
    let upper = v.chars().any(|c| c.is_ascii_uppercase());
    let digit = v.chars().any(|c| c.is_ascii_digit());
    let symbol = v.chars().any(|c| !c.is_ascii_alphanumeric());
    let classes = [lower, upper, digit, symbol].iter().filter(|b| **b).count();
    classes >= 3 || (classes >= 2 && v.len() >= 16 && (digit || upper))
}

/// Shows a value as its first and last two characters around a fixed mask (`su********23`), or
/// only the mask when the value is too short for that to hide it.
pub fn redact(value: &str) -> String {
    let v = value.trim();
    let chars: Vec<char> = v.chars().collect();
    if chars.len() < 10 {
        return "********".to_string();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}********{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong() -> NameMatch {
        NameMatch {
            strength: Strength::Strong,
            ref_prone: false,
        }
    }

    #[test]
    fn literals_are_secrets() {
        let f = ValueFilter::default();
        for v in [
            "supersecret123",
            "hunter2",
            "p@ssw0rd!",
            "Pa$sw0rd",
            "postgres",
            "s3cr3t-v4lue",
            "1234567",
        ] {
            assert!(f.is_credential_value(v, strong()), "{v} should be flagged");
        }
    }

    #[test]
    fn non_secrets_are_not() {
        let f = ValueFilter::default();
        for v in [
            "",
            "  ",
            "true",
            "no",
            "8",
            "3600",
            "30s",
            "${DB_PASSWORD}",
            "$(DB_PASSWORD)",
            "{{ .Values.db.password }}",
            "<password>",
            "changeme",
            "REPLACE_ME",
            "xxx",
            "***",
            "example-password",
            "dummy",
            "/run/secrets/db",
            "./secrets/token.txt",
            "tls.key",
            "https://auth.corp.io/oauth/token",
            "ref+vault://secret/db#password",
            "$DB_PASS",
            "ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]",
            "null",
            "%DB_PASSWORD%",
            "arn:aws:secretsmanager:eu-west-1:123:secret:db",
            "$work/keys/sealant.key",
            "the password of the admin",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        ] {
            assert!(
                !f.is_credential_value(v, strong()),
                "{v:?} should not be flagged"
            );
        }
    }

    #[test]
    fn weak_and_ref_prone_names_need_more() {
        let f = ValueFilter::default();
        let weak = NameMatch {
            strength: Strength::Weak,
            ref_prone: false,
        };
        assert!(!f.is_credential_value("basic", weak));
        assert!(f.is_credential_value("aZ3kL9pQ2xW7", weak));
        let refp = NameMatch {
            strength: Strength::Strong,
            ref_prone: true,
        };
        assert!(!f.is_credential_value("db-credentials", refp));
        assert!(f.is_credential_value("Xk9#mP2qL", refp));
    }

    #[test]
    fn configured_placeholders() {
        let f = ValueFilter {
            extra_placeholders: Regex::new("^dev-only-").into_iter().collect(),
        };
        assert!(!f.is_literal_secret("dev-only-123"));
        assert!(f.is_literal_secret("prod-123456"));
    }

    #[test]
    fn redaction_hides_the_middle() {
        assert_eq!(redact("supersecret123"), "su********23");
        assert_eq!(redact("short"), "********");
        assert!(!redact("supersecret123").contains("persecret"));
    }
}
