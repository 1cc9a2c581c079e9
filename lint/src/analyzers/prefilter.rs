//! The prefilter: whether a YAML file needs parsing at all.

use std::sync::OnceLock;

use memchr::memmem;

use crate::analyzers::needles;
use crate::config::Settings;
use crate::names::classify_name;

/// Cheap check before parsing YAML: could any structural rule report something in `text`?
///
/// Conservative: parse when the file holds a `kind: Secret`, a Kustomize generator, or a
/// credential-like name anywhere except (a) as the value of an ordinary key (`key: db_password`
/// in a `secretKeyRef`, `secretName: db-secret`) or (b) as an env `name:` whose entry takes its
/// value from `valueFrom`. Everything else (keys, `KEY=value` strings, flags, embedded
/// configuration) makes the file parse. Most manifests of a repository that already keeps its
/// secrets out of git skip the parser this way.
pub fn needs_parse(text: &str, settings: &Settings) -> bool {
    if !settings.extra_names.is_empty() {
        return true;
    }
    let Some(needles) = needles() else {
        return true;
    };
    // A Secret (every key is data) or a Kustomize generator (every literal is): always parse.
    // Only SealedSecrets: never (their ciphertext is masked lazily if the token search hits it).
    match kinds(text.as_bytes()) {
        Kinds::Secret => return true,
        Kinds::OnlySealedSecrets => return false,
        Kinds::Other => {}
    }
    let bytes = text.as_bytes();
    if memmem::find(bytes, b"secretGenerator").is_some()
        || memmem::find(bytes, b"configMapGenerator").is_some()
    {
        return true;
    }
    // Words already found not credential-like (`secretKeyRef` repeats in every env entry).
    let mut rejected: Vec<&str> = Vec::new();
    // Words already found credential-like (`DB_PASSWORD` in every env entry's `name:`): their
    // context still decides, but they are not classified again.
    let mut accepted: Vec<&str> = Vec::new();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.';
    let mut last_end = 0;
    for m in needles.find_iter(bytes) {
        if m.start() < last_end {
            continue;
        }
        let mut start = m.start();
        while start > 0 && ident(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = m.end();
        while end < bytes.len() && ident(bytes[end]) {
            end += 1;
        }
        last_end = end;
        let word = &text[start..end];
        let name = word.trim_start_matches('-');
        if rejected.contains(&name) {
            continue;
        }
        // SQL that sets a password (`IDENTIFIED BY 'x'`) in embedded text.
        if name.eq_ignore_ascii_case("identified") {
            return true;
        }
        if accepted.contains(&name) {
            // Known credential-like: go on to the context checks below.
        } else if classify_name(name, &[], &settings.ignored_names).is_none() {
            if rejected.len() < 64 {
                rejected.push(name);
            }
            continue;
        } else if accepted.len() < 64 {
            accepted.push(name);
        }
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
        let before = &text[line_start..start];
        let after = &text[end..line_end];
        // The word is a value if a `key:` directly precedes it (not a `{`, `,` or `-`).
        let lead = before.trim_end_matches([' ', '"', '\'', '\t']);
        if !lead.ends_with(':') {
            return true;
        }
        let colon = lead.len() - 1;
        if word.starts_with('-') || after.starts_with('=') {
            return true;
        }
        let key = before[..colon]
            .trim_end_matches(['"', '\''])
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .next()
            .unwrap_or("");
        if key != "name" {
            continue;
        }
        // The name of a referenced object (`secretKeyRef: {name: db-credentials}`).
        let prev_line = text[..line_start]
            .trim_end()
            .rsplit('\n')
            .next()
            .unwrap_or("");
        if before.contains("Ref") || prev_line.trim_end().ends_with("Ref:") {
            continue;
        }
        // A `name:` matters only as an env-style entry with a literal `value` on the same line
        // or one of the next lines (not `valueFrom`, not a metadata name).
        let has_value = |l: &str| {
            let t = l.trim_start().trim_start_matches(['"', '\'']);
            t.starts_with("value\"") || t.starts_with("value'") || t.starts_with("value:")
        };
        let same_line = after.contains("value") && !after.contains("valueFrom");
        let next = text[line_end..].lines().skip(1).take(3).any(has_value);
        if same_line || next {
            return true;
        }
    }
    false
}

/// What the `kind` fields of a file say, in one SIMD pass over the occurrences of `kind`.
enum Kinds {
    /// `kind: Secret` (also `"kind": "Secret"`: one to four non-word characters between).
    Secret,
    /// Every `kind:` is `kind: SealedSecret`, and there is at least one.
    OnlySealedSecrets,
    Other,
}

fn kinds(bytes: &[u8]) -> Kinds {
    static FINDER: OnceLock<memmem::Finder<'static>> = OnceLock::new();
    let finder = FINDER.get_or_init(|| memmem::Finder::new(b"kind"));
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let (mut fields, mut sealed) = (0usize, 0usize);
    for at in finder.find_iter(bytes) {
        let rest = &bytes[at + 4..];
        let gap = rest.iter().take(4).take_while(|b| !word(b)).count();
        if gap > 0 {
            let after = &rest[gap..];
            if after.starts_with(b"Secret") && after.get(6).is_none_or(|b| !word(b)) {
                return Kinds::Secret;
            }
        }
        if rest.starts_with(b":") {
            fields += 1;
            if rest.starts_with(b": SealedSecret") {
                sealed += 1;
            }
        }
    }
    if fields > 0 && fields == sealed {
        Kinds::OnlySealedSecrets
    } else {
        Kinds::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_needed(text: &str) -> bool {
        needs_parse(text, &Settings::default())
    }

    #[test]
    fn kind_fields_are_read_as_the_regex_did() {
        for (text, secret) in [
            ("kind: Secret\n", true),
            ("\"kind\": \"Secret\"", true),
            ("kind:    Secret", false), // five characters between: never a kind field
            ("kind: SecretStore\n", false),
            ("kind: SealedSecret\n", false),
            ("kinds: Secret\n", false),
            ("kind: Secret", true),
        ] {
            assert_eq!(
                matches!(kinds(text.as_bytes()), Kinds::Secret),
                secret,
                "{text:?}"
            );
        }
        assert!(matches!(
            kinds(b"kind: SealedSecret\n---\nkind: SealedSecret\n"),
            Kinds::OnlySealedSecrets
        ));
        assert!(matches!(
            kinds(b"kind: SealedSecret\n---\nkind: ConfigMap\n"),
            Kinds::Other
        ));
        assert!(matches!(kinds(b"no kinds here"), Kinds::Other));
    }

    #[test]
    fn prefilter_skips_sealed_secrets() {
        let sealed = "apiVersion: sealant.dev/v1alpha1\nkind: SealedSecret\nspec:\n  encryptedData:\n    password: AQ==\n";
        assert!(!parse_needed(sealed));
        let mixed = format!("{sealed}---\nkind: ConfigMap\ndata:\n  password: x\n");
        assert!(parse_needed(&mixed));
    }

    #[test]
    fn prefilter_skips_only_references() {
        let by_ref = "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\n";
        assert!(!parse_needed(by_ref));
        assert!(!parse_needed(
            "spec:\n  tls:\n    - secretName: web-secret\n"
        ));
        for leaky in [
            "env:\n  - name: DB_PASSWORD\n    value: x\n",
            "password: x\n",
            "{\"spec\": {\"apiKey\": \"x\"}}",
            "args: [\"--password=x\"]\n",
            "environment:\n  - API_KEY=x\n",
            "data:\n  app.properties: |\n    db.password=x\n",
            "kind: Secret\ndata:\n  a: b\n",
            "secretGenerator:\n- name: a\n",
            "[{\"name\": \"TOKEN\", \"value\": \"x\"}]",
        ] {
            assert!(parse_needed(leaky), "{leaky:?} must be parsed");
        }
    }
}
