//! Values: one classifier that says what a value *is*, and how to show values redacted.
//!
//! [`ValueFilter::classify`] is the single place that decides, for a value and its context (the
//! key that holds it, how that key matched as a credential-like name, whether the file is test
//! data or a comment), whether the value is a [`Class::Credential`] or something else: a
//! placeholder (`changeme`, `<password>`, `User Password here...`), a reference (`${X}`, `$X`,
//! `!Ref X`, `ENV["X"]`, `var.x`, `ref+vault://`, a file path), a template expression
//! (`{{ .Values.x }}`, `${{ secrets.X }}`), code (`$(cat file)`, `os.environ.get("X")`), a hash
//! (`sha256:...`, bcrypt), the name of a key (`passwordKey: password`) or a non-secret word (`true`,
//! `compat`, `hmac-sha256`, `^1.2.0`), each with a reason. Every rule asks it; no rule keeps a
//! word list of its own.

use regex::Regex;

use super::names::{NameMatch, Strength, split_words};

/// What a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A literal that works as a credential where it is.
    Credential,
    /// Text to be replaced before use (`changeme`, `<password>`, `xxx`, fixture spellings).
    Placeholder,
    /// Names where the credential lives (`${X}`, `$X`, `!Ref X`, `var.x`, a path, a secret store).
    Reference,
    /// A template expression rendered later (`{{ .Values.x }}`, `${{ secrets.X }}`, `<%= %>`).
    Template,
    /// Code or a command that computes the value (`$(cat f)`, `os.environ.get("X")`).
    Code,
    /// A digest or a password hash (`sha256:...`, `$2y$10$...`), not usable as the credential.
    Hash,
    /// The name of a key that holds the credential (`passwordKey: password`, `jiraToken`).
    KeyName,
    /// Anything else that is not a secret: booleans, numbers, words, algorithms, addresses.
    Word,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::Credential,
        Class::Placeholder,
        Class::Reference,
        Class::Template,
        Class::Code,
        Class::Hash,
        Class::KeyName,
        Class::Word,
    ];

    /// The label used in test data and docs (`credential`, `key-name`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Class::Credential => "credential",
            Class::Placeholder => "placeholder",
            Class::Reference => "reference",
            Class::Template => "template",
            Class::Code => "code",
            Class::Hash => "hash",
            Class::KeyName => "key-name",
            Class::Word => "word",
        }
    }

    pub fn from_label(s: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.label() == s)
    }
}

/// A class and the reason for it, for messages and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub class: Class,
    pub reason: &'static str,
}

const fn verdict(class: Class, reason: &'static str) -> Verdict {
    Verdict { class, reason }
}

/// Where a value was found.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The key or setting that holds the value (`auth.password`, `DB_PASSWORD`); empty if none.
    pub key: &'a str,
    /// How `key` matched as a credential-like name; `None` when it did not match (then only a
    /// random-looking value is a credential).
    pub name: Option<NameMatch>,
    /// Test data of a chart or project (`ci/*-values.yaml`, `tests/`): fixture spellings
    /// (`testpassword`, `custom_pass`) are placeholders there.
    pub fixture: bool,
    /// The value is on a commented-out line: documentation examples are placeholders more often,
    /// so only values that do not read as words count.
    pub comment: bool,
}

impl<'a> Context<'a> {
    /// A value under `key`, which matched as `name`.
    pub fn named(key: &'a str, name: NameMatch) -> Self {
        Context {
            key,
            name: Some(name),
            ..Context::default()
        }
    }

    /// A value judged without a key (a Secret's data, an annotation, a URL's password): any
    /// literal that is not something else counts.
    pub fn literal() -> Self {
        Context {
            name: Some(NameMatch {
                strength: Strength::Strong,
                ref_prone: false,
                id_prone: false,
            }),
            ..Context::default()
        }
    }
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

/// Configured and built-in knowledge about values, shared by every rule.
#[derive(Debug, Default)]
pub struct ValueFilter {
    /// Extra placeholder patterns from `.sealant.toml` (`placeholders = ["^dev-only-"]`).
    pub extra_placeholders: Vec<Regex>,
}

impl ValueFilter {
    /// What `value` is where it was found. The checks run from the most certain syntax
    /// (templates, expansions) to the least (words, randomness), and the first that fits decides.
    pub fn classify(&self, value: &str, cx: &Context) -> Verdict {
        let v = unquote(value.trim());
        // `${DB_PASSWORD:-hunter2}`, `${DB_PASSWORD:hunter2}`: the default is committed.
        if let Some(default) = expansion_default(v) {
            let inner = self.classify(default, cx);
            return if inner.class == Class::Credential {
                verdict(
                    Class::Credential,
                    "the default of an expansion is a literal",
                )
            } else {
                verdict(
                    Class::Reference,
                    "an expansion whose default is not a credential",
                )
            };
        }
        if v.chars().count() < 3 {
            return verdict(Class::Word, "too short to be a credential");
        }
        if v.len() > 16 * 1024 {
            return verdict(Class::Word, "too long to be one credential");
        }
        let lower = v.to_ascii_lowercase();
        if NULL_WORDS.contains(&lower.as_str()) {
            return verdict(Class::Word, "a word meaning no value");
        }
        if is_boolean(&lower) || is_small_number(v) {
            return verdict(Class::Word, "a boolean, number, duration or size");
        }
        if let Some(found) = syntax_class(v, &lower) {
            return found;
        }
        // `Authorization: Basic dXNlcjpwYXNz`, `Bearer eyJ...`: a header value carries the
        // credential after its scheme.
        if let Some((scheme, rest)) = v.split_once(' ')
            && matches!(
                scheme.to_ascii_lowercase().as_str(),
                "basic" | "bearer" | "token"
            )
            && rest.len() >= 12
            && !rest.contains(char::is_whitespace)
            && looks_random(rest)
        {
            return verdict(Class::Credential, "an Authorization header value");
        }
        if let Some(found) = object_reference(v, cx.key) {
            return found;
        }
        if is_person(v) {
            return verdict(Class::Word, "a name and an e-mail address");
        }
        if let Some(found) = list_class(v) {
            return found;
        }
        if is_hash(v, &lower, cx.key) {
            return verdict(Class::Hash, "a digest or password hash");
        }
        if self.extra_placeholders.iter().any(|r| r.is_match(v)) {
            return verdict(
                Class::Placeholder,
                "matches a configured placeholder pattern",
            );
        }
        if is_self_reference(cx.key, v) {
            return verdict(Class::Reference, "a variable named like the setting");
        }
        if let Some(found) = key_name_class(v, &lower, cx.key) {
            return found;
        }
        if has_placeholder_word(&lower) {
            return verdict(Class::Placeholder, "a placeholder word");
        }
        if is_upper_identifier(v) {
            return verdict(Class::Reference, "the name of a variable");
        }
        if is_setting_path(v) {
            return verdict(Class::Reference, "the path of another setting");
        }
        if is_placeholder(v, &lower) || is_masked_run(v) {
            return verdict(Class::Placeholder, "a placeholder, mask or example word");
        }
        if let Some(found) = prose_class(v, &lower, cx) {
            return found;
        }
        if cx.fixture && is_fixture_value(&lower) {
            return verdict(Class::Placeholder, "a fixture spelling in test data");
        }
        if is_algorithm_name(&lower) || is_mount_spec(&lower) {
            return verdict(Class::Word, "names an algorithm or a build secret mount");
        }
        if is_host_port_list(&lower) || is_plain_url(&lower) || is_ip_or_cidr(v) {
            return verdict(Class::Word, "an address without a password");
        }
        if is_timestamp(v) || is_version(v) {
            return verdict(Class::Word, "a date or a version");
        }
        if is_setting_word(&lower, cx.key) || is_selector(v) {
            return verdict(Class::Word, "a setting word, not a credential");
        }
        if looks_like_path(v, &lower) {
            return verdict(Class::Reference, "a file or store path");
        }
        if is_public_certificate(v) {
            return verdict(Class::Word, "public key material");
        }
        // `authenticator: AllowAllAuthenticator`: a class name, unless the setting is a password.
        if is_pascal_words(v)
            && !split_words(cx.key).iter().any(|w| {
                matches!(
                    w.as_str(),
                    "password" | "passwd" | "pass" | "pwd" | "secret" | "token"
                )
            })
        {
            return verdict(Class::Word, "a type or class name");
        }
        // `ConnectionString: basket.data`, `Server=db;Database=app;Trusted_Connection=True`: a
        // connection string is a credential by what it carries, not by its name.
        if is_connection_string_name(cx.key) && !carries_secret(v, &lower) {
            return verdict(Class::Word, "a connection string without a password or key");
        }
        let Some(name) = cx.name else {
            return if looks_random(v) && v.len() >= 16 {
                verdict(Class::Credential, "a random-looking literal")
            } else {
                verdict(Class::Word, "not under a credential-like name")
            };
        };
        if name.ref_prone && looks_like_object_name(v) {
            return verdict(Class::Reference, "names a Kubernetes object");
        }
        if name.id_prone && looks_like_object_name(v) && is_wordy(v) {
            return verdict(Class::Reference, "an identifier made of words");
        }
        // A commented-out setting is documentation more often than a live one: its value must
        // look like a credential someone used, not an example or the name of a key.
        if cx.comment && (!credential_shaped(v, name.strength) || name.ref_prone && is_wordy(v)) {
            return verdict(
                Class::Placeholder,
                "an example or a key's name in a commented-out setting",
            );
        }
        match name.strength {
            Strength::Strong => verdict(Class::Credential, "a literal under a credential name"),
            Strength::Weak if is_pascal_words(v) => {
                verdict(Class::Word, "a type or class name under an ambiguous name")
            }
            Strength::Weak if looks_like_object_name(v) => {
                verdict(Class::Reference, "names an object")
            }
            // A security-question answer is a fact (`Stop'n'Drop`, `West-2082`) unless generated.
            Strength::Weak
                if split_words(cx.key).iter().any(|w| w == "answer") && !looks_generated(v) =>
            {
                verdict(Class::Word, "an answer that reads as a fact, not generated")
            }
            Strength::Weak if looks_random(v) => verdict(
                Class::Credential,
                "a random-looking literal under an ambiguous name",
            ),
            Strength::Weak => verdict(Class::Word, "not random enough for an ambiguous name"),
        }
    }

    /// What a value of a Secret's data (or of a Secret carried in an annotation) is, judged
    /// without a key: everything in a Secret is secret except stand-ins written as such
    /// (placeholders, template expressions, variable references, masks).
    pub fn classify_data(&self, value: &str) -> Verdict {
        let v = value.trim();
        if v.is_empty() {
            return verdict(Class::Word, "empty");
        }
        if is_placeholder(v, &v.to_ascii_lowercase()) {
            return verdict(Class::Placeholder, "a placeholder, template or reference");
        }
        verdict(Class::Credential, "data of a Secret")
    }

    /// Whether `value` matches a placeholder pattern configured in `.sealant.toml`.
    pub fn is_configured_placeholder(&self, value: &str) -> bool {
        self.extra_placeholders.iter().any(|r| r.is_match(value))
    }

    /// True when `value` is a literal that could be a credential (before considering the name).
    pub fn is_literal_secret(&self, value: &str) -> bool {
        self.classify(value, &Context::literal()).class == Class::Credential
    }

    /// True when `value`, found under `key` which matched as `name`, should be reported.
    pub fn is_credential_value(&self, key: &str, value: &str, name: NameMatch) -> bool {
        self.classify(value, &Context::named(key, name)).class == Class::Credential
    }
}

/// Templates, expansions, references and code, recognised by their syntax alone.
fn syntax_class(v: &str, lower: &str) -> Option<Verdict> {
    const TEMPLATE: &[&str] = &["{{", "{%", "<%", "${{", "#{", "%{", "[[ "];
    if TEMPLATE.iter().any(|t| v.contains(t)) || (v.contains("%(") && v.contains(")s")) {
        return Some(verdict(Class::Template, "a template expression"));
    }
    // `$(cat file)`, `$(< $FILE)`, `$(kubectl get secret ...)`: a command computes it.
    if let Some(i) = v.find("$(") {
        let inner = &v[i + 2..];
        let name_only = inner.split_once(')').is_some_and(|(n, _)| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        });
        return Some(if name_only {
            verdict(Class::Reference, "a Kubernetes or shell variable reference")
        } else {
            verdict(Class::Code, "a command substitution")
        });
    }
    if v.contains("${") || v.starts_with("\\$") || v.starts_with("\\${") {
        return Some(verdict(Class::Reference, "a variable expansion"));
    }
    // CloudFormation and friends: `!Ref DbPassword`, `!GetAtt Db.Password`, `!Sub ...`.
    if ["!ref ", "!getatt ", "!sub ", "!importvalue ", "!secret "]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return Some(verdict(
            Class::Reference,
            "a CloudFormation-style reference",
        ));
    }
    // `ENV["DB_PASSWORD"]`, `ENV.fetch(...)`, `env("X")`, `os.environ["X"]`, `process.env.X`,
    // `System.getenv("X")`, `os.Getenv("X")`.
    const ENV_LOOKUPS: &[&str] = &[
        "env[",
        "env.fetch(",
        "env(",
        "os.environ",
        "process.env.",
        "system.getenv(",
        "os.getenv(",
        "getenv(",
        "environment.getenvironmentvariable(",
    ];
    if ENV_LOOKUPS.iter().any(|p| lower.starts_with(p)) {
        return Some(verdict(Class::Reference, "an environment lookup in code"));
    }
    if let Some(rest) = v.strip_prefix('$').or_else(|| v.strip_prefix("\\$")) {
        let ident = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_')
                .len();
        if ident > 0 && rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return Some(verdict(Class::Reference, "a shell or compose variable"));
        }
    }
    if v.len() > 2 && v.starts_with('%') && v.ends_with('%') {
        return Some(verdict(Class::Reference, "a Windows or batch variable"));
    }
    if REFERENCE_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return Some(verdict(
            Class::Reference,
            "a secret store reference or ciphertext",
        ));
    }
    if is_code_reference(v) {
        return Some(verdict(Class::Reference, "a Terraform reference"));
    }
    if is_code_expression(v) {
        return Some(verdict(Class::Code, "a function call or an indexed lookup"));
    }
    None
}

/// `passwordKey: password`, `existingSecretUserKey: user`, `key: data_source_password`,
/// `secret: dbPassword`: the value names a key of a Secret or a variable. A value that repeats
/// the credential's own name (`password: password`, `POSTGRES_PASSWORD: postgres_password`,
/// `password: sonarPass`) is a guessable credential instead.
fn key_name_class(v: &str, lower: &str, key: &str) -> Option<Verdict> {
    let key_words = split_words(key);
    // `passwordKey`, `existingSecretUserKey`, `secretKey`, `topologyKey`, a bare `key`: the
    // setting names a key (of a Secret, a ConfigMap or a label), unless the words before say
    // what kind of key material it is (`apiKey`, `privateKey`).
    let n = key_words.len();
    let holds_key_name = key.eq_ignore_ascii_case("key")
        || n >= 2
            && matches!(
                key_words[n - 1].as_str(),
                "key" | "keyname" | "field" | "ref" | "item" | "property"
            )
            && (KEY_OWNERS.contains(&key_words[n - 2].as_str())
                || key_words.iter().any(|w| w == "existing"));
    let label_key = key.eq_ignore_ascii_case("key")
        || n >= 2
            && key_words[n - 1] == "key"
            && matches!(key_words[n - 2].as_str(), "topology" | "label" | "taint");
    let identifier = v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c) || (label_key && c == '/'))
        && v.starts_with(|c: char| c.is_ascii_alphabetic());
    if label_key && identifier && (!looks_random(v) || is_wordy(v) || v.contains('/')) {
        return Some(verdict(
            Class::KeyName,
            "the setting holds the name of a key",
        ));
    }
    let value_words = split_words(v);
    let names_credential = value_words
        .last()
        .is_some_and(|w| CREDENTIAL_WORDS.contains(&w.as_str()))
        || value_words
            .iter()
            .any(|w| CREDENTIAL_WORDS.contains(&w.as_str()))
            && value_words.len() >= 2
            && is_wordy(v);
    if holds_key_name && identifier && (names_credential || is_wordy(v) && !looks_random(v)) {
        return Some(verdict(
            Class::KeyName,
            "the setting holds the name of a key",
        ));
    }
    if !identifier || !names_credential {
        return None;
    }
    let family = |w: &str| match w {
        "password" | "passwd" | "pass" | "pwd" | "pw" => "password",
        "token" => "token",
        "secret" => "secret",
        "key" | "apikey" => "key",
        "credentials" | "creds" => "credentials",
        _ => "",
    };
    let key_family = key_words.last().map_or("", |w| family(w));
    // `password: password`, `password: sonarPass`, `password: test-password-123`: a guessable
    // credential, still a credential.
    if !key_family.is_empty()
        && value_words.iter().any(|w| family(w) == key_family)
        && !lower.contains("key")
    {
        return None;
    }
    // `MYSQL_PASSWORD=secret`: an environment variable holds the value a program reads, so a
    // bare word there is the (weak) password itself, not the name of a key.
    let env_name = key.len() > 1
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && key.chars().any(|c| c.is_ascii_uppercase());
    if env_name && !v.contains(['-', '_', '.']) && KEY_NAME_VALUES.contains(&lower) {
        return None;
    }
    let shaped = KEY_NAME_VALUES.contains(&lower)
        || is_credential_identifier(v)
        || (v.contains(['_', '-', '.'])
            && v.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
            && is_wordy(v));
    shaped.then_some(verdict(
        Class::KeyName,
        "names a key or a variable, not a value",
    ))
}

/// The last words of names of keys and variables that hold credentials.
/// Words before `Key` in a setting that holds a key's name (`passwordKey`, `userKey`).
const KEY_OWNERS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "secret",
    "token",
    "user",
    "username",
    "truststore",
    "keystore",
    "cert",
    "tls",
    "ca",
    "admin",
    "root",
    "topology",
    "label",
    "taint",
    "credentials",
    "creds",
    "data",
];

const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "apikey",
    "credentials",
    "creds",
    "username",
    "user",
    "passphrase",
];

/// Descriptions and prose placeholders: `User Password here...`, `the password of the admin`,
/// `8 bytes`.
fn prose_class(v: &str, lower: &str, cx: &Context) -> Option<Verdict> {
    let words = v.split_whitespace().count();
    if words >= 4 {
        // `password: 'i am an awesome accountant'`: under a name that says credential, a few
        // plain words with nothing that describes a value are a passphrase.
        let strong = cx.name.is_some_and(|n| n.strength == Strength::Strong);
        if strong && !cx.comment && is_passphrase(v, lower) {
            return None;
        }
        return Some(verdict(Class::Word, "prose, not a credential"));
    }
    if words >= 2 {
        let trailing = v.ends_with("...") || v.ends_with('\u{2026}');
        let hinted = lower.split_whitespace().any(|w| {
            matches!(
                w.trim_matches(|c: char| !c.is_alphanumeric()),
                "here" | "your" | "enter" | "insert" | "see" | "bytes" | "chars" | "characters"
            )
        });
        if trailing || hinted {
            return Some(verdict(
                Class::Placeholder,
                "a description written where the value goes",
            ));
        }
    }
    None
}

/// `i am an awesome accountant`, `monkey summer birthday are all bad passwords but work just fine
/// in a long passphrase`: four to sixteen words of letters and digits, no sentence punctuation,
/// no word that tells the reader what to do (`enter`, `set`, `leave`, `see`, `your`, ...) and no
/// credential word used as a description (`the password of the admin`, `password for db`).
fn is_passphrase(v: &str, lower: &str) -> bool {
    const INSTRUCTING: &[&str] = &[
        "here",
        "your",
        "you",
        "enter",
        "insert",
        "see",
        "set",
        "use",
        "used",
        "must",
        "should",
        "will",
        "default",
        "required",
        "optional",
        "generated",
        "generate",
        "random",
        "randomly",
        "leave",
        "empty",
        "blank",
        "change",
        "replace",
        "please",
        "e.g",
        "eg",
        "value",
        "string",
        "todo",
        "tbd",
        "none",
        "null",
    ];
    const DESCRIBED: &[&str] = &[
        "password",
        "passwords",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "key",
        "credential",
        "credentials",
    ];
    let words: Vec<&str> = lower
        .split_whitespace()
        .map(|w| w.trim_end_matches(['!', '?']))
        .collect();
    if !(4..=16).contains(&words.len()) || v.len() > 128 {
        return false;
    }
    let plain = words.iter().all(|w| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_alphanumeric() || c == '\'' || c == '-')
            && !INSTRUCTING.contains(w)
    });
    // `the password of ...`, `a token for ...`, `admin password`: a description.
    let describes = words.iter().enumerate().any(|(i, w)| {
        DESCRIBED.contains(w)
            && (i > 0
                && matches!(
                    words[i - 1],
                    "the"
                        | "a"
                        | "an"
                        | "this"
                        | "that"
                        | "user"
                        | "admin"
                        | "root"
                        | "db"
                        | "database"
                        | "account"
                        | "api"
                        | "access"
                )
                || words
                    .get(i + 1)
                    .is_some_and(|n| matches!(*n, "for" | "of" | "to" | "used" | "is")))
    });
    plain && !describes
}

/// The password of a URL (`scheme://user:password@host`) or of a connection string
/// (`Password=...;`): documentation spells it as a word (`user:password@`, `pass`, `...`), a
/// variable (`$PW`, `%PW%`, `{pw}`) or a placeholder, or points it at an example host.
pub fn classify_url_password(password: &str, host: &str) -> Verdict {
    let lower = password.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "password" | "pass" | "passwd" | "pwd" | "pw" | "secret" | "p" | "x" | "token" | "..."
    ) {
        return verdict(Class::Placeholder, "the word for a password");
    }
    if lower.starts_with(['$', '%', '{']) {
        return verdict(Class::Reference, "a variable");
    }
    if is_placeholder(password, &lower) {
        return verdict(Class::Placeholder, "a placeholder");
    }
    if host.contains("example.") || host.starts_with(['$', '{', '<']) {
        return verdict(Class::Placeholder, "a URL of an example or templated host");
    }
    verdict(Class::Credential, "the password of a URL")
}

/// A match of a token format: `ghp_xxxxxxxx...`, `AKIAIOSFODNN7EXAMPLE`, `sk_live_0000...` are
/// documentation; a body of at most three distinct characters (`sk_test_aaaaaaaa`) too.
pub fn classify_token(value: &str) -> Verdict {
    let lower = value.to_ascii_lowercase();
    if lower.contains("example") || lower.contains("xxxxxx") || lower.contains("000000") {
        return verdict(Class::Placeholder, "an example token");
    }
    let tail = value.rsplit(['_', '-', '.']).next().unwrap_or(value);
    let mut distinct: Vec<char> = tail.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if tail.len() >= 8 && distinct.len() <= 3 {
        return verdict(
            Class::Placeholder,
            "a token body of one or two repeated characters",
        );
    }
    verdict(Class::Credential, "a token of a known format")
}

/// Words that make a commented value the name of a credential or an example of one:
/// `myCassandraPasswordKey`, `jaeger-password`, `password1`, `test123`.
const EXAMPLE_WORDS: &[&str] = &[
    "password", "passwd", "pwd", "pass", "secret", "token", "key", "apikey", "test", "example",
    "demo", "default", "admin", "user",
];

/// Stricter than a live value: a comment's value must look like a credential someone used, not a
/// word in a sentence (`# password: secretpassword` is documentation; `s3cr3tP4ssw0rd!` is not),
/// nor the name of a key (`myCassandraPasswordKey`) or a numbered example (`password1`).
fn credential_shaped(v: &str, strength: Strength) -> bool {
    if strength == Strength::Weak {
        return looks_random(v);
    }
    let words = split_words(v);
    let letters: Vec<&String> = words
        .iter()
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    if letters
        .last()
        .is_some_and(|w| EXAMPLE_WORDS.contains(&w.as_str()))
        || (letters.len() == 1 && EXAMPLE_WORDS.contains(&letters[0].as_str()))
    {
        return false;
    }
    v.chars().count() >= 6 && character_classes(v) >= 2
}

/// `ConnectionString`, `ConnectionStrings__CatalogDb`, `DB_CONN_STR`: names of connection strings.
fn is_connection_string_name(key: &str) -> bool {
    let words = split_words(key);
    words.iter().any(|w| {
        matches!(
            w.as_str(),
            "connstr" | "connectionstring" | "connectionstrings"
        )
    }) || words.windows(2).any(|p| {
        matches!(p[0].as_str(), "connection" | "conn")
            && matches!(p[1].as_str(), "string" | "strings" | "str")
    })
}

/// Whether a connection string carries a secret: a password, key or token setting
/// (`Password=x;`, `AccountKey=...`, `SharedAccessKey=...`), a URL with a password, or a value
/// that is itself random-looking (a key on its own).
fn carries_secret(v: &str, lower: &str) -> bool {
    const PARTS: &[&str] = &[
        "password=",
        "pwd=",
        "passwd=",
        "accountkey=",
        "sharedaccesskey=",
        "sharedaccesssignature=",
        "sig=",
        "token=",
        "secret=",
        "apikey=",
        "key=",
    ];
    PARTS.iter().any(|p| lower.contains(p))
        || lower.split_once("://").is_some_and(|(_, rest)| {
            rest.split(['/', '?', '#'])
                .next()
                .is_some_and(|auth| auth.contains('@') && auth.contains(':'))
        })
        || !v.contains(['=', ';', '.', ':', '/']) && looks_random(v)
}

/// `sha256:...`, `$2y$10$...` (bcrypt), `$6$...` (crypt), `{SSHA}...`, `user:$2y$...`
/// (htpasswd), or hexadecimal under a key that names a digest.
fn is_hash(v: &str, lower: &str, key: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    for p in ["sha256:", "sha512:", "sha1:", "md5:", "sha384:"] {
        if let Some(rest) = lower.strip_prefix(p) {
            return hex(rest) && rest.len() >= 32;
        }
    }
    let crypt = |s: &str| {
        [
            "$2a$", "$2b$", "$2y$", "$argon2", "$6$", "$5$", "$1$", "$apr1$", "$pbkdf2", "$scrypt$",
        ]
        .iter()
        .any(|p| s.starts_with(p))
            || s.starts_with("{ssha}")
            || s.starts_with("{sha}")
            || s.starts_with("{bcrypt}")
            || s.starts_with("{ssha512}")
    };
    if crypt(lower)
        || lower
            .split_once(':')
            .is_some_and(|(u, h)| !u.is_empty() && !u.contains('/') && crypt(h))
    {
        return true;
    }
    let key_words = split_words(key);
    let digest_key = key_words.iter().any(|w| {
        matches!(
            w.as_str(),
            "hash"
                | "digest"
                | "checksum"
                | "sha"
                | "sha1"
                | "sha256"
                | "sha512"
                | "md5"
                | "commit"
                | "revision"
                | "etag"
                | "fingerprint"
                | "integrity"
                | "sum"
                | "shasum"
        )
    });
    digest_key && (hex(v) && v.len() >= 7 || lower.starts_with("sha") && lower.contains('-'))
}

/// `passwd: compat`, `id-token: write`, `secretsmanager: Get*`: words that configure how a
/// credential is looked up or used.
fn is_setting_word(lower: &str, key: &str) -> bool {
    // nsswitch.conf sources.
    const NSS: &[&str] = &[
        "compat",
        "files",
        "sss",
        "db",
        "nis",
        "nisplus",
        "ldap",
        "systemd",
        "dns",
        "winbind",
        "mymachines",
        "myhostname",
        "resolve",
        "hesiod",
        "[notfound=return]",
        "[success=merge]",
        "altfiles",
        "cache",
        "extrausers",
    ];
    let k = key.to_ascii_lowercase();
    if matches!(
        k.as_str(),
        "passwd" | "shadow" | "group" | "gshadow" | "netgroup" | "publickey"
    ) && lower.split_whitespace().all(|w| NSS.contains(&w))
    {
        return true;
    }
    // Permission levels (`id-token: write`) and IAM action patterns (`Get*`, `List*`). Not
    // `admin` or `readonly`: those are common passwords (`LDAP_ADMIN_PASSWORD: admin`).
    if matches!(lower, "read" | "write" | "read-all" | "write-all") {
        return true;
    }
    lower.ends_with('*')
        && lower[..lower.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphabetic())
}

/// `"x"`, `'x'`, `\"x\"` (a value quoted inside a string): the value inside.
fn unquote(v: &str) -> &str {
    for q in ["\\\"", "\"", "'"] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q))
            && !inner.is_empty()
        {
            return inner.trim();
        }
    }
    v
}

/// `secretName: db-creds`, `existingSecret: my-data-source`, `secret_id: wrongsecret-1`,
/// `secretProviderClass: vault-db`: the setting names a Kubernetes object or a stored secret.
fn object_reference(v: &str, key: &str) -> Option<Verdict> {
    let words = split_words(key);
    let last = words.last().map_or("", String::as_str);
    let object_ish = !v.is_empty()
        && v.len() <= 253
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && v.starts_with(|c: char| c.is_ascii_alphanumeric());
    let names = matches!(last, "name" | "class" | "ref" | "configmap" | "namespace")
        || words.iter().any(|w| w == "existing")
        || (last == "id" && v.contains('-'))
        || (matches!(last, "secret" | "secrets")
            && words.len() >= 2
            && is_wordy(v)
            && v.contains(['-', '.']));
    let holds_key = matches!(last, "key" | "keyname" | "field");
    (object_ish && names && !holds_key && !words.iter().any(|w| w == "client")).then_some(verdict(
        Class::Reference,
        "names an object or a stored secret",
    ))
}

/// `Jane Doe <jane@example.com>`: an author, not a placeholder.
fn is_person(v: &str) -> bool {
    v.contains('<') && v.contains('@') && v.trim_matches(['[', ']', '"']).ends_with('>')
}

/// `["redis.googleapis.com"]`: a list of words; `['CREDS']`: a list of variable names.
fn list_class(v: &str) -> Option<Verdict> {
    let inner = v.strip_prefix('[')?.strip_suffix(']')?;
    let items: Vec<&str> = inner
        .split(',')
        .map(|i| i.trim().trim_matches(['"', '\'']))
        .collect();
    if !(inner.trim_start().starts_with(['"', '\'']) || inner.contains(',')) {
        return None;
    }
    Some(
        if items
            .iter()
            .all(|i| is_upper_identifier(i) || i.chars().all(|c| c.is_ascii_uppercase()))
        {
            verdict(Class::Reference, "a list of variable names")
        } else {
            verdict(Class::Word, "a list of words")
        },
    )
}

/// `DB_PASSWORD`, `RABBITMQ_PASSWORD`: the name of a variable, not its value.
fn is_upper_identifier(v: &str) -> bool {
    v.contains('_')
        && v.starts_with(|c: char| c.is_ascii_uppercase())
        && v.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn has_placeholder_word(lower: &str) -> bool {
    PLACEHOLDER_WORDS
        .iter()
        .any(|w| *w != "<" && lower.contains(w))
        || matches!(
            lower,
            "foo" | "bar" | "baz" | "qux" | "foobar" | "foobarbaz"
        )
}

/// `podSecurityPolicy.create`, `auth.existingSecret`: a dotted path of camelCase settings.
fn is_setting_path(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| p.len() >= 3 && p.chars().all(|c| c.is_ascii_alphabetic()))
        && parts[0].starts_with(|c: char| c.is_ascii_lowercase())
        && parts
            .iter()
            .any(|p| p.chars().any(|c| c.is_ascii_uppercase()))
}

/// `AQBQyyyyyyyyyyyyyyyyyyyyyyyyyyy==`: an example whose middle is one repeated character.
fn is_masked_run(v: &str) -> bool {
    let b = v.as_bytes();
    let mut run = 1;
    for i in 1..b.len() {
        run = if b[i] == b[i - 1] { run + 1 } else { 1 };
        if run >= 10 && b[i].is_ascii_alphanumeric() {
            return true;
        }
    }
    false
}

/// `172.16.3.0/24`, `10.0.0.1`: an address or a network.
fn is_ip_or_cidr(v: &str) -> bool {
    let addr = v.split_once('/').map_or(v, |(a, m)| {
        if m.chars().all(|c| c.is_ascii_digit()) {
            a
        } else {
            ""
        }
    });
    addr.parse::<std::net::IpAddr>().is_ok()
}

/// `type!=kubernetes.io/dockercfg,type!=helm.sh/release.v1`, `app=web,tier!=db`: a selector.
fn is_selector(v: &str) -> bool {
    v.contains("!=")
        && v.split(',').all(|p| {
            p.split_once("!=")
                .or_else(|| p.split_once('='))
                .is_some_and(|(k, _)| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
                })
        })
}

/// `AllowAllAuthenticator`, `PasswordAuthenticator`: a class name made of capitalised words.
fn is_pascal_words(v: &str) -> bool {
    v.len() <= 48
        && v.starts_with(|c: char| c.is_ascii_uppercase())
        && v.chars().all(|c| c.is_ascii_alphabetic())
        && v.chars().filter(char::is_ascii_uppercase).count() >= 2
        && v.chars().any(|c| c.is_ascii_lowercase())
        && v.split(|c: char| c.is_ascii_uppercase())
            .filter(|w| !w.is_empty())
            .all(|w| w.len() >= 2)
}

/// `^1.4.4`, `~2.0.1`, `=1.72.0`, `1.x`, `v1.2.3`: a version or version range.
fn is_version(v: &str) -> bool {
    let core = v.trim_start_matches(['^', '~', '=', '>', '<', 'v']);
    core.len() < v.len() + 1
        && core.starts_with(|c: char| c.is_ascii_digit())
        && core.contains('.')
        && core
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == 'x' || c == '*')
}

/// `image_pull_secrets = image_pull_secrets`, `password: password_var`-style code: the value is the
/// name of a variable that shares the setting's name, not a literal.
pub fn is_self_reference(name: &str, value: &str) -> bool {
    let last = name.rsplit(['.', '/']).next().unwrap_or(name);
    let v = value.trim();
    !v.is_empty()
        && v.len() >= 3
        && v.eq_ignore_ascii_case(last)
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && v.contains('_')
}

/// `jiraToken`, `dbPassword`, `myApiKey`: a lower camelCase identifier of letters whose last word
/// is a credential term.
fn is_credential_identifier(v: &str) -> bool {
    if !v.starts_with(|c: char| c.is_ascii_lowercase())
        || v.chars().filter(char::is_ascii_uppercase).count() > 2
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

/// Template and variable syntax, placeholder words, and runs of masking characters. Private:
/// rules ask [`ValueFilter::classify`], [`ValueFilter::classify_data`], [`classify_url_password`]
/// or [`classify_token`].
fn is_placeholder(v: &str, lower: &str) -> bool {
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
    // Examples cut short in the middle (`LS0tLS1CRUd...0tLQo=`, `TG9yZW0gaXBz...`): documentation.
    if let Some(i) = v.find("...")
        && i > 0
        && v[i..]
            .trim_start_matches('.')
            .starts_with(|c: char| c.is_ascii_alphanumeric())
        && !v.contains(char::is_whitespace)
    {
        return true;
    }
    // `TG9yZW0gaXBz... (elided)`, `abc... (truncated)`: cut short, with a note saying so.
    if let Some(i) = v.find("...")
        && i > 0
        && !v[..i].contains(char::is_whitespace)
    {
        let note = v[i..].trim_start_matches('.').trim();
        if note.len() > 2 && note.starts_with('(') && note.ends_with(')') {
            return true;
        }
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
                .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric()))
            && words
                .iter()
                .filter(|w| w.chars().all(|c| c.is_ascii_lowercase()))
                .count()
                >= 3
            && words[0].chars().all(|c| c.is_ascii_lowercase())
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
    // `jdbc:postgresql://db:5432/app`: a JDBC URL's scheme has two parts.
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-:".contains(c))
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

/// Stricter than [`looks_random`], for names that hold facts as often as secrets: ten characters
/// or more of three classes, and no run of four letters shaped like a word (`Stop`, `WEST`,
/// `drop`): `@xI98PxDO+06!`, `NZMJLjEinU7TFElDIYW8`, not `Stop'n'Drop` or `West-2082`.
pub fn looks_generated(v: &str) -> bool {
    if v.chars().count() < 10 || character_classes(v) < 3 || v.contains(char::is_whitespace) {
        return false;
    }
    let letters: Vec<char> = v.chars().collect();
    letters
        .split(|c| !c.is_alphabetic())
        .filter(|run| run.len() >= 4)
        .all(|run| {
            let tail_lower = run[1..].iter().all(|c| c.is_lowercase());
            let all_upper = run.iter().all(|c| c.is_uppercase());
            !(tail_lower || all_upper)
        })
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
            assert!(
                f.is_credential_value("password", v, strong()),
                "{v} should be flagged"
            );
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
            "value",
        ] {
            assert!(
                !f.is_credential_value("password", v, strong()),
                "{v:?} should not be flagged"
            );
        }
    }

    fn weak() -> NameMatch {
        NameMatch {
            strength: Strength::Weak,
            ref_prone: false,
            id_prone: false,
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
        assert!(!f.is_credential_value("auth", "basic", weak));
        assert!(f.is_credential_value("auth", "aZ3kL9pQ2xW7", weak));
        let refp = NameMatch {
            strength: Strength::Strong,
            ref_prone: true,
            id_prone: false,
        };
        assert!(!f.is_credential_value("dbSecret", "db-credentials", refp));
        assert!(f.is_credential_value("dbSecret", "Xk9#mP2qL", refp));
    }

    /// juice-shop's data/static/users.yml: passwords written as several words are passwords;
    /// sentences that describe a value, instructions and commented examples are not.
    #[test]
    fn passphrases_under_credential_names() {
        let f = ValueFilter::default();
        for v in [
            "i am an awesome accountant",
            "monkey summer birthday are all bad passwords but work just fine in a long passphrase",
            "correct horse battery staple",
        ] {
            assert!(f.is_credential_value("password", v, strong()), "{v}");
            let mut cx = Context::named("password", strong());
            cx.comment = true;
            assert_ne!(
                f.classify(v, &cx).class,
                Class::Credential,
                "{v} in a comment"
            );
            assert!(!f.is_credential_value("description", v, weak()), "{v}");
        }
        for v in [
            "the password of the admin",
            "User Password here...",
            "set this to a random value",
            "leave empty to generate one",
            "Password for the database user.",
            "see the chart README for details",
        ] {
            assert!(!f.is_credential_value("password", v, strong()), "{v}");
        }
    }

    /// juice-shop's security answers (securityQuestion.answer): generated ones reset an account
    /// like a password; answers that are facts (`Stop'n'Drop`, `West-2082`, `5N0wb41L`) are not.
    #[test]
    fn generated_security_answers() {
        let f = ValueFilter::default();
        for v in [
            "@xI98PxDO+06!",
            "Brd?j8sEMziOvvBf\u{a7}Be?jFZ77H?hgm",
            "azjTLprq2im6p86RbFrA41L",
            "NZMJLjEinU7TFElDIYW8",
        ] {
            assert!(
                f.is_credential_value("securityQuestion_answer", v, weak()),
                "{v}"
            );
        }
        for v in [
            "Stop'n'Drop",
            "West-2082",
            "5N0wb41L",
            "Samuel",
            "SC OLEA SRL",
            "Dr. Dr. Dr. Dr. Zoidberg",
            "greenwood",
        ] {
            assert!(
                !f.is_credential_value("securityQuestion_answer", v, weak()),
                "{v}"
            );
        }
    }

    /// The entry points that SL002, SL011, the Kustomize literals, SL004 and SL005 ask instead
    /// of keeping word lists of their own (the lists they had moved here unchanged).
    #[test]
    fn one_classifier_for_data_tokens_and_url_passwords() {
        let f = ValueFilter::default();
        for (v, class) in [
            ("hunter2", Class::Credential),
            ("  ", Class::Word),
            ("{{ .Values.password }}", Class::Placeholder),
            ("${DB_PASSWORD}", Class::Placeholder),
            ("changeme", Class::Placeholder),
            ("su********23", Class::Placeholder),
        ] {
            assert_eq!(f.classify_data(v).class, class, "{v}");
        }
        for (password, host, class) in [
            ("s3cr3t-Pw", "db.internal", Class::Credential),
            ("password", "db", Class::Placeholder),
            ("$PGPASSWORD", "db", Class::Reference),
            ("<password>", "db", Class::Placeholder),
            ("s3cr3t-Pw", "db.example.com", Class::Placeholder),
        ] {
            assert_eq!(
                classify_url_password(password, host).class,
                class,
                "{password}"
            );
        }
        for (token, class) in [
            (
                "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                Class::Placeholder,
            ),
            ("AKIAIOSFODNN7EXAMPLE", Class::Placeholder),
            ("sk_live_aaaaaaaaaaaaaaaaaaaaaaaa", Class::Placeholder),
            (
                "ghp_R4nd0mT0k3nV4lu3Xy1Bc2Dq9Lm3Pz8Wk7Jh",
                Class::Credential,
            ),
        ] {
            assert_eq!(classify_token(token).class, class, "{token}");
        }
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

    /// The classifier against values labelled by hand, each from a public repository
    /// (`resources/test/classifier/values.tsv` names the repository and path of each).
    #[test]
    fn labelled_values() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/resources/test/classifier/values.tsv"
        );
        let text = std::fs::read_to_string(path).expect("the labelled values are in the crate");
        let f = ValueFilter::default();
        let (mut rows, mut agree, mut misses) = (0, 0, 0);
        let mut per_class = [0usize; Class::ALL.len()];
        let mut wrong = Vec::new();
        let mut fixed = Vec::new();
        let mut repositories = std::collections::BTreeSet::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 6, "six columns: {line}");
            let (label, status, key, value, repo, file) =
                (cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]);
            let Some(expected) = Class::from_label(label) else {
                panic!("unknown label {label}: {line}");
            };
            assert!(!repo.is_empty() && !file.is_empty(), "cited: {line}");
            repositories.insert(repo);
            let cx = Context {
                key,
                name: crate::names::classify_name(key, &[], &[]),
                fixture: file.contains("/ci/") || file.contains("/tests/"),
                comment: false,
            };
            let got = f.classify(value, &cx);
            rows += 1;
            per_class[Class::ALL.iter().position(|c| *c == expected).unwrap_or(0)] += 1;
            match (got.class == expected, status) {
                (true, "ok") => agree += 1,
                (false, "miss") => misses += 1,
                (true, _) => fixed.push(format!("{key}: {value} ({repo} {file})")),
                (false, _) => wrong.push(format!(
                    "{key}: {value} is {label}, classified {} ({}) [{repo} {file}]",
                    got.class.label(),
                    got.reason
                )),
            }
        }
        assert!(rows >= 300, "at least 300 labelled values, found {rows}");
        assert!(repositories.len() >= 8, "{repositories:?}");
        assert!(
            per_class.iter().all(|n| *n >= 5),
            "every class labelled: {per_class:?}"
        );
        assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
        assert!(
            fixed.is_empty(),
            "now right, mark `ok`:\n{}",
            fixed.join("\n")
        );
        // Known misses stay a small minority.
        assert!(misses * 50 <= rows, "{misses} known misses of {rows}");
        assert_eq!(agree + misses, rows);
    }

    /// Reasons travel with classes: a reference names where the value comes from.
    #[test]
    fn verdicts_carry_reasons() {
        let f = ValueFilter::default();
        let cx = Context::named("db_password", strong());
        for (v, class) in [
            ("!Ref DbPassword", Class::Reference),
            ("ENV[\"DB_PASSWORD\"]", Class::Reference),
            ("env(\"DB_PASSWORD\")", Class::Reference),
            ("$db_password", Class::Reference),
            ("${{ secrets.DB }}", Class::Template),
            ("$(cat /run/secrets/db)", Class::Code),
            (
                "$2y$10$9L4Tc0DJbFFMB6RdSCunrOpTHdwhid4ktBJmLD00bYgqkkGOvll3m",
                Class::Hash,
            ),
            ("User Password here...", Class::Placeholder),
            ("password", Class::Credential),
            ("sonarPass", Class::Credential),
            ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", Class::Credential),
            ("admin", Class::Credential),
            ("readonly", Class::Credential),
            ("LS0tLS1CRUd...0tLQo=", Class::Placeholder),
            ("K1f.....................", Class::Credential),
        ] {
            let got = f.classify(v, &cx);
            assert_eq!(got.class, class, "{v}: {}", got.reason);
            assert!(!got.reason.is_empty());
        }
        let nss = Context::named("passwd", strong());
        assert_eq!(f.classify("compat", &nss).class, Class::Word);
        assert_eq!(f.classify("files sss", &nss).class, Class::Word);
        let secret = Context::named("secret", strong());
        assert_eq!(f.classify("dbPassword", &secret).class, Class::KeyName);
        let key = Context::named("passwordKey", strong());
        assert_eq!(f.classify("password", &key).class, Class::KeyName);
    }
}
