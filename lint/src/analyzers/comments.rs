//! Settings disabled by commenting them out (`# password: s3cr3tP4ssw0rd!`,
//! `#  apiKey: "AKIA..."`) in values files: Helm values, docker-compose, `.env` and line-based
//! configuration. The value is still in the repository, and the next person to uncomment the line
//! ships it. Only comments shaped like a setting count (`key: value` with one token as value), not
//! prose, placeholders or references, and they are reported one confidence step lower than a live
//! setting.

use crate::analyzers::value_shapes::is_public_name;
use crate::analyzers::{FileScan, has_needle, is_self_reference};
use crate::codes::Code;
use crate::codes::Confidence;
use crate::names::Strength;
use crate::shapes::{candidates, secret_shape};
use crate::text::{Assignment, parse_assignment};
use crate::tokens::find_tokens;
use crate::values::{Class, Context};

impl FileScan<'_> {
    /// Commented-out settings of this file, reported under `rule` with `what` ("Helm value
    /// sets") as the start of the message.
    pub(crate) fn commented_settings(&mut self, rule: Code, what: &str) {
        let source = self.source;
        if !source.text.contains('#') && !source.text.contains(';') {
            return;
        }
        // `# - name: DB_PASSWORD` then `#   value: x`: the env entry's name, and its indentation.
        let mut pending_env: Option<(&str, usize)> = None;
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let Some((body, body_at)) = comment_body(line) else {
                pending_env = None;
                continue;
            };
            if !has_needle(body.as_bytes()) && pending_env.is_none() && candidates(body).is_empty()
            {
                continue;
            }
            let Some(a) = parse_assignment(body) else {
                continue;
            };
            let indent = body.len() - body.trim_start().len();
            if body.trim_start().starts_with("- ") && a.key == "name" {
                pending_env = Some((a.value, indent + 2));
                continue;
            }
            let name = match pending_env.take() {
                Some((name, at)) if a.key == "value" && at == indent => name,
                _ => a.key,
            };
            if !is_disabled_setting(body, a.value_at, a.value) || is_self_reference(name, a.value) {
                continue;
            }
            let Some(m) = self.name_match(name) else {
                // No credential word in the name: a commented value that is a secret by its
                // shape (`## gossipKey: "DVoLa/k99h..."`), at low confidence.
                self.commented_shape(n, body_at, &a, name, rule, what);
                continue;
            };
            let cx = Context {
                key: name,
                name: Some(m),
                comment: true,
                ..Context::default()
            };
            if self.settings.values.classify(a.value, &cx).class != Class::Credential {
                continue;
            }
            let confidence = match m.strength {
                Strength::Strong => Confidence::Medium,
                Strength::Weak => Confidence::Low,
            };
            let at = self.locate_line(n) + body_at + a.value_at;
            let message =
                format!("{what} `{name}` to a literal credential in a commented-out line");
            self.report(
                rule,
                at,
                a.value,
                format!("comment/{name}"),
                message,
                confidence,
            );
        }
    }
}

impl FileScan<'_> {
    fn commented_shape(
        &mut self,
        n: usize,
        body_at: usize,
        a: &Assignment<'_>,
        name: &str,
        rule: Code,
        what: &str,
    ) {
        if is_public_name(name) {
            return;
        }
        let Some(shape) = secret_shape(a.value) else {
            return;
        };
        if !self.settings.values.is_literal_secret(a.value) || !find_tokens(a.value).is_empty() {
            return;
        }
        let at = self.locate_line(n) + body_at + a.value_at;
        let message = format!(
            "{what} `{name}` to a {} in a commented-out line: a secret by its shape, though its name does not say so",
            shape.label
        );
        self.report(
            rule,
            at,
            a.value,
            format!("comment/shape/{name}"),
            message,
            Confidence::Low,
        );
    }
}

/// The text of a comment line after its markers (`#`, `##`, `;`), and its offset in the line.
fn comment_body(line: &str) -> Option<(&str, usize)> {
    let trimmed = line.trim_start();
    if !trimmed.starts_with(['#', ';']) {
        return None;
    }
    let body = trimmed.trim_start_matches(['#', ';']);
    // `#!/bin/sh`, `#{...}`: not comments holding settings.
    if body.starts_with(['!', '{']) {
        return None;
    }
    Some((body, line.len() - body.len()))
}

/// A disabled setting, not prose: the value is one token (or quoted), and nothing but a comment
/// follows it on the line.
fn is_disabled_setting(body: &str, value_at: usize, value: &str) -> bool {
    let raw = body.get(value_at.saturating_sub(1)..).unwrap_or("");
    let quoted = raw.starts_with(['"', '\'']);
    if !quoted && value.split_whitespace().count() > 1 {
        return false;
    }
    // `# password: required.`, `# token: see below:`: sentences end with punctuation.
    quoted || !value.ends_with(['.', ':', ',', '?', ')'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_bodies() {
        assert_eq!(
            comment_body("  # password: x").map(|b| b.0),
            Some(" password: x")
        );
        assert_eq!(comment_body("## k: v").map(|b| b.1), Some(2));
        assert_eq!(comment_body("password: x"), None);
        assert_eq!(comment_body("#!/bin/sh"), None);
    }

    #[test]
    fn settings_not_prose() {
        assert!(is_disabled_setting(" password: s3cr3t!", 11, "s3cr3t!"));
        assert!(!is_disabled_setting(
            " password: the one of the admin",
            11,
            "the one of the admin"
        ));
        assert!(!is_disabled_setting(" token: required.", 8, "required."));
        assert!(is_disabled_setting(" token: \"a b\"", 9, "a b"));
    }

    /// The comment rules (moved into the classifier): stricter than a live value.
    #[test]
    fn shapes_of_commented_credentials() {
        use crate::names::NameMatch;
        let f = crate::values::ValueFilter::default();
        let judge = |v: &str, strength: Strength| {
            let cx = Context {
                key: if strength == Strength::Weak {
                    "auth"
                } else {
                    "password"
                },
                name: Some(NameMatch {
                    strength,
                    ref_prone: false,
                    id_prone: false,
                }),
                comment: true,
                ..Context::default()
            };
            f.classify(v, &cx).class == Class::Credential
        };
        assert!(judge("s3cr3tP4ssw0rd!", Strength::Strong));
        assert!(!judge("secretpassword", Strength::Strong));
        assert!(!judge("abc1", Strength::Strong));
        assert!(!judge("Basic1", Strength::Weak));
        assert!(judge("aZ3kL9pQ2xW7", Strength::Weak));
        for example in [
            "myCassandraPasswordKey",
            "jaeger-password",
            "password1",
            "test123",
            "my_authentication_password",
        ] {
            assert!(!judge(example, Strength::Strong), "{example}");
        }
    }
}
