//! Credential-like names: `DB_PASSWORD`, `dbPassword`, `db-password`, `apiKey`, `client_secret`.
//!
//! A name is split into lower-case words (on `_`, `-`, `.`, spaces and camelCase humps), then the
//! words are searched for a credential term (the curated list below). A term followed by a word
//! that turns the name into metadata about the credential (`PASSWORD_FILE`, `TOKEN_URL`,
//! `SECRET_NAME`, `PASSWORD_MIN_LENGTH`, `AUTH_ENABLED`) or preceded by a word that does the same
//! (`MIN_PASSWORD_LENGTH`, `existingSecret`, `ENABLE_AUTH`) is not a credential.

/// How sure a name alone makes us that its value is a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// The name is ambiguous (`auth`, `REDIS_AUTH`): flag only values that look random.
    Weak,
    /// The name says credential (`password`, `token`, `api_key`, `client_secret`).
    Strong,
}

/// Curated credential terms, as word sequences, longest first so that `secret key` wins over
/// `secret`. Documented in `docs/lint.md`.
const TERMS: &[(&[&str], Strength)] = &[
    (&["connection", "string"], Strength::Strong),
    // ASP.NET's `ConnectionStrings__CatalogDb`.
    (&["connection", "strings"], Strength::Strong),
    (&["conn", "string"], Strength::Strong),
    (&["conn", "str"], Strength::Strong),
    (&["client", "secret"], Strength::Strong),
    (&["api", "key"], Strength::Strong),
    (&["api", "token"], Strength::Strong),
    (&["access", "key"], Strength::Strong),
    (&["access", "token"], Strength::Strong),
    (&["secret", "key"], Strength::Strong),
    (&["private", "key"], Strength::Strong),
    (&["signing", "key"], Strength::Strong),
    (&["encryption", "key"], Strength::Strong),
    (&["master", "key"], Strength::Strong),
    (&["license", "key"], Strength::Strong),
    (&["hmac", "key"], Strength::Strong),
    (&["jwt", "key"], Strength::Strong),
    (&["session", "key"], Strength::Strong),
    (&["app", "key"], Strength::Strong),
    (&["shared", "key"], Strength::Strong),
    (&["account", "key"], Strength::Strong),
    (&["storage", "key"], Strength::Strong),
    (&["subscription", "key"], Strength::Strong),
    (&["auth", "key"], Strength::Strong),
    // kubeconfig `client-key-data`: a base64 private key.
    (&["client", "key"], Strength::Strong),
    (&["auth", "token"], Strength::Strong),
    // The answer to a security question resets the account like a password; answers that are
    // facts (`Johnny`) are not generated, so the name is weak: only random-looking values count.
    (&["security", "answer"], Strength::Weak),
    (&["question", "answer"], Strength::Weak),
    (&["secret", "answer"], Strength::Weak),
    // RabbitMQ and other Erlang clusters: the cookie lets any node join and run code.
    (&["erlang", "cookie"], Strength::Strong),
    (&["erlangcookie"], Strength::Strong),
    (&["password"], Strength::Strong),
    (&["passwords"], Strength::Strong),
    (&["passwd"], Strength::Strong),
    (&["pwd"], Strength::Strong),
    (&["passphrase"], Strength::Strong),
    (&["pass"], Strength::Strong),
    (&["secret"], Strength::Strong),
    (&["secrets"], Strength::Strong),
    (&["token"], Strength::Strong),
    (&["apikey"], Strength::Strong),
    (&["apitoken"], Strength::Strong),
    (&["accesskey"], Strength::Strong),
    (&["secretkey"], Strength::Strong),
    (&["privatekey"], Strength::Strong),
    (&["credential"], Strength::Strong),
    (&["credentials"], Strength::Strong),
    (&["creds"], Strength::Strong),
    (&["bearer"], Strength::Strong),
    (&["connstr"], Strength::Strong),
    // Server settings that are passwords without saying so (Redis `requirepass`, `masterauth`).
    (&["requirepass"], Strength::Strong),
    (&["masterauth"], Strength::Strong),
    (&["auth"], Strength::Weak),
    (&["authorization"], Strength::Weak),
];

/// Terms that also match at the end of a run-together word (`dbpassword`, `adminpassword`,
/// `slacktoken`). Short or common terms (`pass`, `auth`) are left out: `bypass`, `oauth`.
const SUFFIX_TERMS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credentials",
];

/// Words after a term that make the name describe the credential rather than hold it.
const EXCLUDED_AFTER: &[&str] = &[
    "file",
    "files",
    "path",
    "paths",
    "dir",
    "directory",
    "folder",
    "url",
    "uri",
    "urls",
    "endpoint",
    "host",
    "hostname",
    "port",
    "name",
    "names",
    "id",
    "ids",
    "enabled",
    "enable",
    "disabled",
    "disable",
    "required",
    "require",
    "flag",
    "length",
    "len",
    "size",
    "min",
    "max",
    "minimum",
    "maximum",
    "type",
    "types",
    "mode",
    "method",
    "methods",
    "kind",
    "version",
    "ttl",
    "timeout",
    "expiry",
    "expires",
    "expiration",
    "expire",
    "lifetime",
    "duration",
    "age",
    "interval",
    "period",
    "days",
    "hours",
    "minutes",
    "seconds",
    "count",
    "header",
    "headers",
    "policy",
    "policies",
    "ref",
    "refs",
    "reference",
    "location",
    "format",
    "algorithm",
    "alg",
    "algo",
    "algo",
    "field",
    "prefix",
    "suffix",
    "env",
    "var",
    "variable",
    "mount",
    "mountpath",
    "selector",
    "label",
    "annotation",
    "provider",
    "providers",
    "source",
    "store",
    "manager",
    "backend",
    "template",
    "regex",
    "pattern",
    "rotation",
    "strategy",
    "hint",
    "description",
    "desc",
    "text",
    "message",
    "status",
    "user",
    "username",
    "email",
    "login",
    "checksum",
    "digest",
    "complexity",
    "reset",
    "cache",
    "schema",
    "config",
    "configuration",
    "settings",
    "option",
    "options",
    "namespace",
    "key",
    "keys",
    "class",
    "generator",
    "volume",
    "mounts",
    "enforced",
    "rules",
    "rule",
    "requirements",
    "history",
    "change",
    "changed",
    "updated",
    "created",
    "at",
    "issuer",
    "audience",
    "lookup",
    "vault",
    "arn",
    "location",
    "index",
    "bytes",
    "bits",
    "chars",
    "characters",
    "symbols",
    "digits",
    "uppercase",
    "lowercase",
    "number",
    "numbers",
    "retries",
    "attempts",
    "validation",
    "validator",
    "sync",
    "refresh",
    "scope",
    "scopes",
    "claim",
    "claims",
    "mtime",
    "timestamp",
    "date",
];

/// Words before a term that make the name describe the credential rather than hold it.
const EXCLUDED_BEFORE: &[&str] = &[
    "enable", "enabled", "disable", "disabled", "use", "is", "has", "allow", "require", "requires",
    "required", "skip", "no", "show", "num", "max", "min", "minimum", "maximum", "reset", "forgot",
    "existing", "generate", "auto", "validate", "rotate", "without", "with", "create", "external",
    "expose", "mount", "hide", "mask", "sealed", "ignore", "checksum",
];

/// What a credential-like name says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameMatch {
    /// How sure the name alone makes us.
    pub strength: Strength,
    /// The term (`secret`, `credentials`) is often used for the *name of* a Secret
    /// (`dbSecret: db-credentials`): values that look like Kubernetes object names are references.
    pub ref_prone: bool,
    /// The name ends in `token`: a value made of words (`etcd-cluster-k8s`) is an identifier.
    pub id_prone: bool,
}

/// Terms whose values are often names of Secrets rather than secrets.
const REF_PRONE: &[&str] = &["secret", "secrets", "credential", "credentials", "creds"];

/// What `name` says about its value: `None` when it is not credential-like.
pub fn classify_name(name: &str, extra: &[String], ignored: &[String]) -> Option<NameMatch> {
    if extra.is_empty() && !has_term_fragment(name) {
        return None;
    }
    let words = split_words(name);
    let strength = classify_words(name, &words, extra, ignored)?;
    let ref_prone = words
        .last()
        .is_some_and(|w| REF_PRONE.contains(&w.as_str()))
        && !name.to_ascii_lowercase().contains("client");
    let id_prone = words.last().is_some_and(|w| w == "token");
    Some(NameMatch {
        strength,
        ref_prone,
        id_prone,
    })
}

/// The strength with which `name` marks its value as a credential, or `None`.
///
/// `extra` holds configured names that count as strong credential terms (lower case, as words or
/// whole names); `ignored` holds configured names (lower case) never to treat as credentials.
#[cfg(test)]
pub fn classify(name: &str, extra: &[String], ignored: &[String]) -> Option<Strength> {
    if name.len() > 200 {
        return None;
    }
    // Fast path: most keys (`image`, `ports`, `name`) hold no credential word at all.
    if extra.is_empty() && !has_term_fragment(name) {
        return None;
    }
    classify_words(name, &split_words(name), extra, ignored)
}

/// [`classify`] with the name already split into words.
fn classify_words(
    name: &str,
    words: &[String],
    extra: &[String],
    ignored: &[String],
) -> Option<Strength> {
    if name.len() > 200 {
        return None;
    }
    if !ignored.is_empty() && ignored.iter().any(|i| i.eq_ignore_ascii_case(name)) {
        return None;
    }
    if words.is_empty() {
        return None;
    }
    if extra
        .iter()
        .any(|e| e.eq_ignore_ascii_case(name) || words.iter().any(|w| w == e))
    {
        return Some(Strength::Strong);
    }
    // Find every term; the name is a credential unless it *describes* one: a word after the last
    // term (`PASSWORD_FILE`, `TOKEN_URL`, `ACCESS_KEY_ID`) or before the first term
    // (`MIN_PASSWORD_LENGTH`, `existingSecret`) marks metadata about the credential.
    let mut matches: Vec<(usize, usize, Strength)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let matched = TERMS.iter().find(|(term, _)| {
            words.len() - i >= term.len() && term.iter().zip(&words[i..]).all(|(t, w)| t == w)
        });
        let found = match matched {
            Some((term, strength)) => Some((term.len(), *strength)),
            None => SUFFIX_TERMS
                .iter()
                .any(|t| words[i].len() > t.len() + 1 && words[i].ends_with(*t))
                .then_some((1, Strength::Strong)),
        };
        match found {
            Some((len, strength)) => {
                // `pass` and the weak terms (`auth`) are credentials only as the last word
                // (`DB_PASS`, `REDIS_AUTH`), not in `PASS_THROUGH` or `auth.gateway.timeout`.
                let last = words[i + len..]
                    .iter()
                    .all(|w| w.chars().all(|c| c.is_ascii_digit()));
                if last || (words[i] != "pass" && strength == Strength::Strong) {
                    matches.push((i, len, strength));
                }
                i += len;
            }
            None => i += 1,
        }
    }
    let (&(first, _, _), &(last, last_len, _)) = (matches.first()?, matches.last()?);
    let after = &words[last + last_len..];
    let before = &words[..first];
    // `keyPasswordSecretKey`, `tokenSecretKey`: which key of a Secret holds the earlier
    // credential, i.e. a key name, not a credential.
    if matches.len() >= 2 && last_len == 2 && words[last] == "secret" && words[last + 1] == "key" {
        return None;
    }
    if after.iter().any(|w| EXCLUDED_AFTER.contains(&w.as_str()))
        || before.iter().any(|w| EXCLUDED_BEFORE.contains(&w.as_str()))
    {
        return None;
    }
    matches.iter().map(|m| m.2).max()
}

/// Whether `name` contains (case-insensitively) a fragment every credential term contains;
/// allocation-free, since it runs on every key of every parsed file.
fn has_term_fragment(name: &str) -> bool {
    let bytes = name.as_bytes();
    (0..bytes.len()).any(|i| {
        let first = bytes[i].to_ascii_lowercase();
        // Only the first letters of the needles start a comparison.
        matches!(
            first,
            b'p' | b's' | b't' | b'k' | b'a' | b'c' | b'b' | b'l' | b'i'
        ) && PREFILTER_NEEDLES.iter().any(|n| {
            let n = n.as_bytes();
            n[0] == first
                && bytes.len() - i >= n.len()
                && bytes[i..i + n.len()].eq_ignore_ascii_case(n)
        })
    })
}

/// Splits `DB_PASSWORD`, `dbPassword`, `db-password`, `DBPassword` into lower-case words.
pub fn split_words(name: &str) -> Vec<String> {
    if name.is_ascii() {
        return split_ascii_words(name.as_bytes());
    }
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        let next = chars.get(i + 1).copied();
        let boundary = match prev {
            Some(p) if c.is_uppercase() && p.is_lowercase() => true,
            // `DBPassword`: the `P` starts a word because a lower-case letter follows it.
            Some(p) if c.is_uppercase() && p.is_uppercase() => {
                next.is_some_and(|n| n.is_lowercase())
            }
            Some(p) if c.is_alphabetic() && p.is_ascii_digit() => true,
            Some(p) if c.is_ascii_digit() && p.is_alphabetic() => true,
            _ => false,
        };
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// [`split_words`] for ASCII names (nearly all), without collecting the characters first: it runs
/// for every credential-like key of every file.
fn split_ascii_words(b: &[u8]) -> Vec<String> {
    let mut words = Vec::with_capacity(4);
    let mut start: Option<usize> = None;
    let push = |words: &mut Vec<String>, from: usize, to: usize| {
        words.push(
            b[from..to]
                .iter()
                .map(|c| c.to_ascii_lowercase() as char)
                .collect(),
        );
    };
    for i in 0..b.len() {
        let c = b[i];
        if !c.is_ascii_alphanumeric() {
            if let Some(s) = start.take() {
                push(&mut words, s, i);
            }
            continue;
        }
        let boundary = i > 0 && {
            let p = b[i - 1];
            (c.is_ascii_uppercase() && p.is_ascii_lowercase())
                || (c.is_ascii_uppercase()
                    && p.is_ascii_uppercase()
                    && b.get(i + 1).is_some_and(|n| n.is_ascii_lowercase()))
                || (c.is_ascii_alphabetic() && p.is_ascii_digit())
                || (c.is_ascii_digit() && p.is_ascii_alphabetic())
        };
        match start {
            Some(s) if boundary => {
                push(&mut words, s, i);
                start = Some(i);
            }
            Some(_) => {}
            None => start = Some(i),
        }
    }
    if let Some(s) = start {
        push(&mut words, s, b.len());
    }
    words
}

/// The lower-case substrings that a file must contain for any name in it to be credential-like:
/// the cheap prefilter that lets most files skip the YAML parser.
pub const PREFILTER_NEEDLES: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "cred",
    "bearer",
    "conn",
    "literals",
    "cookie",
    "answer",
    "identified",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII fast path splits exactly as the general one.
    #[test]
    fn ascii_split_matches_the_general_split() {
        fn general(name: &str) -> Vec<String> {
            // The general path, forced by a non-ASCII suffix that is itself a separator.
            let mut words = split_words(&format!("{name}\u{2028}"));
            words.retain(|w| !w.is_empty());
            words
        }
        for name in [
            "DB_PASSWORD",
            "dbPassword",
            "db-password",
            "DBPassword",
            "apiKey2",
            "x2Token",
            "AWS_SECRET_ACCESS_KEY",
            "ABC",
            "a",
            "",
            "__",
            "key.name",
            "TLSCert9B",
            "HTTPSProxy",
            "password123abc",
            "9lives",
        ] {
            assert_eq!(split_ascii_words(name.as_bytes()), general(name), "{name}");
        }
    }

    #[test]
    fn term_fragments_are_found_anywhere_in_any_case() {
        for n in PREFILTER_NEEDLES {
            let upper = n.to_ascii_uppercase();
            assert!(has_term_fragment(&format!("x_{upper}_y")), "{n}");
        }
        assert!(!has_term_fragment("image_pull_policy"));
    }

    fn is_cred(name: &str) -> bool {
        classify(name, &[], &[]).is_some()
    }

    #[test]
    fn splits_all_spellings() {
        assert_eq!(split_words("DB_PASSWORD"), ["db", "password"]);
        assert_eq!(split_words("dbPassword"), ["db", "password"]);
        assert_eq!(split_words("db-password"), ["db", "password"]);
        assert_eq!(split_words("DBPassword"), ["db", "password"]);
        assert_eq!(split_words("apiKeyV2"), ["api", "key", "v", "2"]);
    }

    #[test]
    fn credential_names() {
        for name in [
            "DB_PASSWORD",
            "dbPassword",
            "db-password",
            "PASSWORD",
            "api_key",
            "apiKey",
            "API-KEY",
            "client_secret",
            "clientSecret",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASS",
            "adminpassword",
            "rootPassword",
            "STRIPE_SECRET_KEY",
            "privateKey",
            "credentials",
            "DATABASE_CONNECTION_STRING",
            "passphrase",
            "SLACK_BOT_TOKEN",
            "x-api-key",
        ] {
            assert!(is_cred(name), "{name} should be credential-like");
        }
    }

    #[test]
    fn excluded_names() {
        for name in [
            "PASSWORD_FILE",
            "TOKEN_URL",
            "SECRET_NAME",
            "KEY_PATH",
            "PASSWORD_MIN_LENGTH",
            "AUTH_ENABLED",
            "secretName",
            "existingSecret",
            "MIN_PASSWORD_LENGTH",
            "username",
            "TOKEN_TTL",
            "passwordKey",
            "ACCESS_KEY_ID",
            "bypass",
            "compass",
            "PASS_THROUGH",
            "secretKeyRef",
            "keyName",
            "monkey",
            "tokenizer",
            "oauth_enabled",
            "AUTH_TYPE",
            "PRIVATE_KEY_PATH",
            "ENABLE_AUTH",
            "secretRef",
            "SECRETS_DIR",
            "checksum/secret",
            "image",
            "name",
        ] {
            assert!(!is_cred(name), "{name} should not be credential-like");
        }
    }

    #[test]
    fn auth_is_weak_and_configured_names_count() {
        assert_eq!(classify("REDIS_AUTH", &[], &[]), Some(Strength::Weak));
        assert_eq!(classify("auth.gateway.setting5", &[], &[]), None);
        assert_eq!(
            classify("PIN_CODE", &["pin".into()], &[]),
            Some(Strength::Strong)
        );
        assert_eq!(classify("DB_PASSWORD", &[], &["db_password".into()]), None);
    }

    /// Security-question answers (juice-shop's `securityQuestion: {answer: ...}`, joined with
    /// their parent by the walkers) are weak: only generated answers count.
    #[test]
    fn security_answers_are_weak() {
        for name in ["securityQuestion_answer", "SECURITY_ANSWER", "secretAnswer"] {
            assert_eq!(classify(name, &[], &[]), Some(Strength::Weak), "{name}");
        }
        assert_eq!(classify("answer", &[], &[]), None);
        assert_eq!(classify("securityAnswerLength", &[], &[]), None);
    }
}
