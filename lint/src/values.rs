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
    "not_used",
    "not-used",
    "notused",
    "unused",
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
    "value",
    "values",
    "string",
    "text",
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
    if is_terraform_attribute(v) {
        return true;
    }
    ["var.", "local.", "module.", "data."].iter().any(|p| {
        v.strip_prefix(p).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-[]\"".contains(c))
        })
    })
}

/// Terraform resource attributes (`random_password.db.result`,
/// `google_secret_manager_secret.s.id`): a resource type (`provider_kind`), a name, attributes.
fn is_terraform_attribute(v: &str) -> bool {
    let mut parts = v.split('.');
    let Some(kind) = parts.next() else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    kind.contains('_')
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && rest.len() >= 2
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-[]\"*".contains(c))
        })
}

/// Names of algorithms (`hmac-sha256`, `RS256`, `aes-256-gcm`, `scram-sha-512`, `bcrypt`):
/// settings that choose how a credential is used, never credentials.
fn is_algorithm_name(lower: &str) -> bool {
    const WHOLE: &[&str] = &[
        "bcrypt",
        "scrypt",
        "argon2",
        "argon2i",
        "argon2d",
        "argon2id",
        "pbkdf2",
        "eddsa",
        "ed25519",
        "ed448",
        "x25519",
        "plain",
        "plaintext",
        "md5",
        "crypt",
        "sha",
        "des",
        "3des",
        "blowfish",
        "chacha20",
        "chacha20-poly1305",
        "xchacha20-poly1305",
        "gssapi",
        "oauthbearer",
        "digest",
        "ntlm",
        "kerberos",
    ];
    if WHOLE.contains(&lower) {
        return true;
    }
    // JOSE names: HS256, RS384, ES512, PS256.
    let b = lower.as_bytes();
    if b.len() == 5
        && matches!(&lower[..2], "hs" | "rs" | "es" | "ps")
        && matches!(&lower[2..], "256" | "384" | "512")
    {
        return true;
    }
    // Families with a size: hmac-sha256, hmac-sha1, sha-512, aes-256-gcm, scram-sha-256,
    // pbkdf2-sha256, rsa-oaep-256, rsa2048.
    let family = [
        "hmac", "sha", "md", "aes", "scram", "pbkdf2", "rsa", "ecdsa", "blake2",
    ];
    let words: Vec<&str> = lower.split(['-', '_', '.', '+']).collect();
    words
        .iter()
        .any(|w| family.iter().any(|f| w.starts_with(f)))
        && words.iter().all(|w| {
            family.iter().any(|f| w.starts_with(f))
                || w.chars().all(|c| c.is_ascii_digit())
                || matches!(
                    *w,
                    "gcm"
                        | "cbc"
                        | "ctr"
                        | "cfb"
                        | "ofb"
                        | "oaep"
                        | "pss"
                        | "p256"
                        | "p384"
                        | "with"
                        | "b"
                )
        })
        && words
            .iter()
            .all(|w| w.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// `redis-cart:6379`, `db:5432,db2:5432`: addresses, not secrets.
fn is_host_port_list(lower: &str) -> bool {
    lower.split(',').all(|part| {
        let Some((host, port)) = part.trim().rsplit_once(':') else {
            return false;
        };
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && host.starts_with(|c: char| c.is_ascii_alphabetic())
            && !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
    })
}

/// Code that computes the value (`get_secret_value("db")`, `os.environ["DB_PASSWORD"]`,
/// `lookup('env', 'TOKEN')`): a function call or an indexed lookup.
fn is_code_expression(v: &str) -> bool {
    let Some(open) = v.find(['(', '[']) else {
        return false;
    };
    let callee = &v[..open];
    let close = if v.as_bytes()[open] == b'(' { ')' } else { ']' };
    !callee.is_empty()
        && callee
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && callee.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && callee.chars().any(|c| c.is_ascii_lowercase())
        && v.trim_end_matches([';', ',']).ends_with(close)
}

/// A build mount or secret specification (`id=npm,env=NPM_TOKEN`, `id=x,src=./token.txt`):
/// names where a secret comes from.
fn is_mount_spec(lower: &str) -> bool {
    const KEYS: &[&str] = &[
        "id",
        "env",
        "src",
        "source",
        "target",
        "dst",
        "destination",
        "type",
        "required",
        "mode",
        "uid",
        "gid",
    ];
    lower.contains('=')
        && lower.split(',').all(|kv| {
            kv.split_once('=')
                .is_some_and(|(k, v)| KEYS.contains(&k.trim()) && !v.trim().is_empty())
        })
        && lower.split(',').any(|kv| {
            kv.starts_with("id=")
                || kv.starts_with("src=")
                || kv.starts_with("source=")
                || kv.starts_with("env=")
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
        // `${DB_PASSWORD:-hunter2}`, `${DB_PASSWORD:hunter2}`: the default is committed.
        if let Some(default) = expansion_default(v) {
            return self.is_literal_secret(default);
        }
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
        // Settings that name an algorithm or an address, and code that computes the value.
        if is_algorithm_name(&lower)
            || is_host_port_list(&lower)
            || is_code_expression(v)
            || is_mount_spec(&lower)
        {
            return false;
        }
        if is_timestamp(v) {
            return false;
        }
        // `password: jiraToken`, `secret: dbPassword`: a camelCase identifier naming a credential
        // is a variable or a key, not the credential.
        if is_credential_identifier(v) {
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
        if name.id_prone && looks_like_object_name(v) && is_wordy(v) {
            return false;
        }
        match name.strength {
            Strength::Strong => true,
            Strength::Weak => looks_random(v),
        }
    }
}

/// `jiraToken`, `dbPassword`, `myApiKey`: a lower camelCase identifier of letters whose last word
/// is a credential term.
fn is_credential_identifier(v: &str) -> bool {
    if !v.starts_with(|c: char| c.is_ascii_lowercase())
        || !v.chars().all(|c| c.is_ascii_alphabetic())
        || !v.chars().any(|c| c.is_ascii_uppercase())
    {
        return false;
    }
    let words = super::names::split_words(v);
    words.last().is_some_and(|w| {
        matches!(
            w.as_str(),
            "token" | "password" | "passwd" | "secret" | "key" | "pass" | "credentials"
        )
    })
}

/// `2006-01-02T15:04:05Z`, `2024-05-01`: a date, not a secret.
fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
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

/// The literal default of a whole-value shell, compose or Spring expansion: `${X:-d}`, `${X-d}`,
/// `${X:=d}`, `${X:d}`. `None` when the value is not one expansion or has no default.
pub fn expansion_default(v: &str) -> Option<&str> {
    let inner = v.strip_prefix("${")?.strip_suffix('}')?;
    if inner.contains(['{', '}', '$']) {
        return None;
    }
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(inner.len());
    if name_len == 0 {
        return None;
    }
    let rest = &inner[name_len..];
    let default = rest
        .strip_prefix(":-")
        .or_else(|| rest.strip_prefix(":="))
        .or_else(|| rest.strip_prefix('-'))
        .or_else(|| rest.strip_prefix(':'))?;
    let default = default.trim_matches(['"', '\'']);
    (!default.is_empty()).then_some(default)
}

/// Template and variable syntax, placeholder words, and runs of masking characters.
pub fn is_placeholder(v: &str, lower: &str) -> bool {
    if v.contains("${") || v.contains("$(") || v.contains("{{") || v.contains("#{") {
        return true;
    }
    if v.contains("%{") || (v.contains("%(") && v.contains(")s")) {
        return true;
    }
    // `$DB_PASS`, `$HOME/.ssh/id_rsa`, `$work/keys/x.key`: a shell or compose expansion
    // (`\$DB_PASS` inside a string that a shell expands later).
    if let Some(rest) = v.strip_prefix('$').or_else(|| v.strip_prefix("\\$")) {
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
    if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) || lower.starts_with("your") {
        return true;
    }
    // `DB_PASSWORD`, `PASSWORD_VAL`: the name of a variable to fill in, not its value.
    let upper_ident = v.contains('_')
        && v.starts_with(|c: char| c.is_ascii_uppercase())
        && v.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    // `if_you_see_this_change_it`: a sentence written as one word.
    let phrase = {
        let words: Vec<&str> = v.split('_').collect();
        words.len() >= 4
            && words
                .iter()
                .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
    };
    if upper_ident || phrase || has_sequential_run(v) || is_generic_words(lower) {
        return true;
    }
    // `xxx`, `***`, `....`, `XXXX-XXXX`, `####`, `000000`, `aaaaaaaa`.
    let masking = v
        .chars()
        .all(|c| matches!(c, 'x' | 'X' | '*' | '.' | '#' | '-' | '_' | '•'));
    // `0000`, `00000000-0000-0000-0000-000000000000`: one character, separators aside.
    let mut significant = v.chars().filter(|c| !matches!(c, '-' | '_' | ':' | '.'));
    let first = significant.next();
    let one_char = significant.all(|c| Some(c) == first);
    masking || one_char
}

/// `some-password`, `my_secret_pw`, `test-password`, `another_pw`: made only of the generic words
/// documentation uses for a credential, so an example, not a credential.
fn is_generic_words(lower: &str) -> bool {
    let words: Vec<&str> = lower.split(['-', '_', '.']).collect();
    words.len() >= 2 && words.iter().all(|w| GENERIC.contains(w))
}

const GENERIC: &[&str] = &[
    "some", "my", "another", "other", "the", "a", "test", "testing", "default", "demo", "secret",
    "secrets", "password", "passwd", "pass", "pw", "pwd", "token", "key", "api", "user",
    "username", "admin", "value", "here", "new", "foo", "bar", "baz", "db", "database", "app",
    "private", "access", "auth",
];

/// In a chart's test data (`ci/*-values.yaml`, `tests/`), the fixture spellings of a credential
/// too: the generic words run together (`testpassword`), with the words fixtures add (`custom_pass`,
/// `my_authentication_password`), or a bare `test`. Elsewhere such a value is the password a
/// compose project or manifest really uses (`POSTGRES_PASSWORD=mysecretpassword`) and is reported.
pub fn is_fixture_value(lower: &str) -> bool {
    const FIXTURE: &[&str] = &[
        "custom",
        "authentication",
        "sample",
        "mock",
        "fake",
        "first",
        "second",
    ];
    if matches!(lower, "test" | "testing" | "sample" | "mock" | "fake") {
        return true;
    }
    let words: Vec<&str> = lower.split(['-', '_', '.']).collect();
    let generic = |w: &str| GENERIC.contains(&w) || FIXTURE.contains(&w);
    if words.len() >= 2 && words.iter().all(|w| generic(w)) {
        return true;
    }
    words.len() == 1
        && lower.len() <= 24
        && lower.bytes().all(|b| b.is_ascii_lowercase())
        && generic_split(lower, &[GENERIC, FIXTURE]) >= 2
}

/// The fewest generic words `text` splits into exactly, or 0 when it does not.
fn generic_split(text: &str, vocabularies: &[&[&str]]) -> usize {
    // best[i]: fewest words covering text[..i] (0 = not coverable), best[0] = start.
    let n = text.len();
    let mut best = vec![usize::MAX; n + 1];
    best[0] = 0;
    for i in 0..n {
        if best[i] == usize::MAX {
            continue;
        }
        for w in vocabularies.iter().flat_map(|v| v.iter()) {
            if text[i..].starts_with(w) {
                let j = i + w.len();
                best[j] = best[j].min(best[i] + 1);
            }
        }
    }
    if best[n] == usize::MAX { 0 } else { best[n] }
}

/// Fake ids (`T123456789`, `U12345678`): a short value (up to 16 characters) holding eight or
/// more consecutive ascending digits or letters. Longer values stay suspects.
fn has_sequential_run(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() > 16 {
        return false;
    }
    let mut run = 1;
    for i in 1..b.len() {
        let ascending = b[i] == b[i - 1].wrapping_add(1)
            && (b[i].is_ascii_digit() || b[i].is_ascii_alphabetic())
            && (b[i - 1].is_ascii_digit() || b[i - 1].is_ascii_alphabetic());
        run = if ascending { run + 1 } else { 1 };
        if run >= 8 {
            return true;
        }
    }
    false
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

/// `etcd-cluster-k8s`, `my-app-token`: segments that are words, numbers or short tags, not
/// generated material (`tok-9f8e7d6c5b4a`).
pub(crate) fn is_wordy(v: &str) -> bool {
    v.split(['-', '.']).all(|seg| {
        seg.len() <= 3
            || seg.chars().all(|c| c.is_ascii_alphabetic())
            || seg.chars().all(|c| c.is_ascii_digit())
    })
}

/// For ambiguous names: only values that look generated (mixed classes, long enough).
pub fn looks_random(v: &str) -> bool {
    if v.len() < 8 || v.contains(char::is_whitespace) {
        return false;
    }
    let digit = v.chars().any(|c| c.is_ascii_digit());
    let upper = v.chars().any(|c| c.is_ascii_uppercase());
    let classes = character_classes(v);
    classes >= 3 || (classes >= 2 && v.len() >= 16 && (digit || upper))
}

/// How many of lower case, upper case, digits and other characters `v` holds.
pub fn character_classes(v: &str) -> usize {
    let lower = v.chars().any(|c| c.is_ascii_lowercase());
    let upper = v.chars().any(|c| c.is_ascii_uppercase());
    let digit = v.chars().any(|c| c.is_ascii_digit());
    let symbol = v.chars().any(|c| !c.is_ascii_alphanumeric());
    [lower, upper, digit, symbol].iter().filter(|b| **b).count()
}

/// What every redacted value shows in place of its characters.
pub const MASK: &str = "********";

/// The shortest value whose first two characters a redacted finding shows.
pub const REDACT_SHOW_FROM: usize = 24;

/// Shows a value redacted, the one rule for every output (text, JSON, SARIF, audit): nothing of
/// values shorter than [`REDACT_SHOW_FROM`] characters (a password or a short key loses too much
/// of its strength with any character given away), the first two characters of longer ones
/// (`gh********`, `AK********`: enough to tell token kinds apart, a tenth of a long token at
/// most).
pub fn redact(value: &str) -> String {
    let v = value.trim();
    if v.chars().count() < REDACT_SHOW_FROM {
        return MASK.to_string();
    }
    let head: String = v.chars().take(2).collect();
    format!("{head}{MASK}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong() -> NameMatch {
        NameMatch {
            strength: Strength::Strong,
            ref_prone: false,
            id_prone: false,
        }
    }

    /// Chart test fixtures name their credentials with the generic words themselves, run
    /// together or not; real defaults (`bitnami`, `guest`, `harbor_registry_password`) stay
    /// credentials, and outside test data a run-together value is what a project really uses.
    #[test]
    fn fixture_spellings_are_examples_only_in_test_data() {
        for v in [
            "testpassword",
            "mypassword",
            "my_authentication_password",
            "custom_pass",
            "test",
            "firstpass",
            "adminpass",
        ] {
            assert!(is_fixture_value(v), "{v}");
        }
        for v in [
            "bitnami",
            "guest",
            "harbor_registry_password",
            "not-secure-database-password",
            "chainlooppwd",
            "supersecret123",
            "hunter2",
            "postgres",
            "password",
            "testpassword1",
        ] {
            assert!(!is_fixture_value(&v.to_ascii_lowercase()), "{v}");
        }
        // Outside test data the run-together spelling is reported.
        assert!(!is_placeholder("mysecretpassword", "mysecretpassword"));
        assert!(is_placeholder("my-secret-password", "my-secret-password"));

        let text = "config:\n  datasource:\n    password: testpassword\n  admin:\n    password: Xk9-real-Looking-7\n";
        let settings = crate::Settings::default();
        let (in_ci, _) =
            crate::scan_text("charts/exporter/ci/default-values.yaml", text, &settings);
        assert_eq!(in_ci.len(), 1, "{in_ci:?}");
        assert_eq!(in_ci[0].line, 5);
        let (elsewhere, _) = crate::scan_text("charts/exporter/values.yaml", text, &settings);
        assert_eq!(elsewhere.len(), 2, "{elsewhere:?}");
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
            "${DB_PASSWORD:-hunter2xyz}",
            "${spring.datasource.password:Spr1ngPw}",
            "${REDIS_PASSWORD-r3d1sPw}",
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
            // algorithms, addresses, code, build secret mounts, Terraform attributes
            "hmac-sha256",
            "RS256",
            "aes-256-gcm",
            "scram-sha-512",
            "redis-cart:6379",
            "db-0.db:5432,db-1.db:5432",
            "get_secret_value(\"hub.db.password\")",
            "os.environ[\"DB_PASSWORD\"]",
            "id=npm,env=NPM_TOKEN",
            "random_password.db.result",
            "google_secret_manager_secret.s.id",
            // placeholders
            "PASSWORD_VAL",
            "YourPingdomApiToken",
            "if_you_see_this_please_change_it",
            "00000000-0000-0000-0000-000000000000",
            "T123456789",
            "${DB_PASSWORD:-changeme}",
            "${DB_PASSWORD:-}",
            "\\$REDIS_PASSWORD",
            "value_not_used",
            "2006-01-02T15:04:05Z",
            "jiraToken",
            "dbPassword",
            "value",
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
            id_prone: false,
        };
        assert!(!f.is_credential_value("basic", weak));
        assert!(f.is_credential_value("aZ3kL9pQ2xW7", weak));
        let refp = NameMatch {
            strength: Strength::Strong,
            ref_prone: true,
            id_prone: false,
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
        assert_eq!(redact("supersecret123"), "********");
        assert_eq!(redact("hunter2"), "********");
        assert_eq!(
            redact("ghp_R8dK2mN5qW7xY1zA3bC4dE6fG8hJ9kL0pQ2s"),
            "gh********"
        );
        assert_eq!(redact("fifteen-chars-x"), "********");
        // Short tokens (a 13-character SendGrid-like value) and mid-length passwords show nothing.
        assert_eq!(redact("SG.abcdefghij"), "********");
        assert_eq!(redact("sixteen-chars-xy"), "********");
        assert_eq!(redact("twenty-three-chars-xyz1"), "********");
        assert_eq!(redact("twenty-four-characters-1"), "tw********");
        assert_eq!(
            redact("\u{e9}t\u{e9}-twenty-four-characters"),
            "\u{e9}t********"
        );
    }
}
