//! SL006 `command-line-credential`: Credential on a command line (container command/args, scripts, Dockerfile RUN).

use std::sync::OnceLock;

use regex::Regex;

use crate::analyzers::FileScan;
use crate::codes::{Code, Rule, Severity};
use crate::names::{NameMatch, Strength};
use crate::yaml::Node;

pub const RULE: Rule = Rule {
    code: Code::SL006,
    id: "SL006",
    name: "command-line-credential",
    summary: "Credential on a command line (container command/args, scripts, Dockerfile RUN)",
    severity: Severity::High,
    doc: r#"## What it does
Checks container `command` and `args`, shell scripts and Dockerfile `RUN` lines for credential
flags with literal values (`--password=x`, `--api-key x`, `--set db.password=x`,
`--from-literal=token=x`, `mysql -pX`) and inline assignments (`DB_PASSWORD=x ./run`).

## Why is this bad
Command lines are visible in `ps`, in `/proc`, in the Pod spec and in crash reports.

## Example
```yaml
args: ["--db-password=supersecret123"]
```

## Use instead
```yaml
args: ["--db-password=$(DB_PASSWORD)"]
env:
  - name: DB_PASSWORD
    valueFrom: {secretKeyRef: {name: db-credentials, key: password}}
```
"#,
};

impl FileScan<'_> {
    /// Container `command`/`args`: `--password=x`, `--password x`, `DB_PASSWORD=x ./run`,
    /// `mysql -psecret`.
    pub(crate) fn args(&mut self, items: &[Node], container: &str, path: &str) {
        let re = arg_regexes();
        for (i, item) in items.iter().enumerate() {
            let Some(s) = item.str() else { continue };
            if let Some(caps) = re.flag.captures(s) {
                let Some(flag) = caps.get(1) else { continue };
                // `--from-literal=password=x`, `--set db.password=x`: the name is inside.
                if let Some(v) = caps.get(2)
                    && self.name_match(flag.as_str()).is_none()
                    && let Some((inner, inner_value)) = v.as_str().split_once('=')
                    && let Some(m) = self.name_match(inner)
                {
                    if self
                        .settings
                        .values
                        .is_credential_value(inner, inner_value, m)
                    {
                        let at = item.start + v.start() + inner.len() + 1;
                        let message = format!(
                            "container `{container}` passes `{inner}` a literal credential on its command line"
                        );
                        let key_path = format!("{path}/{inner}");
                        self.report(
                            Code::SL006,
                            at,
                            inner_value,
                            key_path,
                            message,
                            Self::confidence(m),
                        );
                    }
                    continue;
                }
                if is_switch(flag.as_str()) {
                    continue;
                }
                let Some(m) = self.name_match(flag.as_str()) else {
                    continue;
                };
                let (value, at) = match caps.get(2) {
                    Some(v) => (v.as_str(), item.start + v.start()),
                    None => match items.get(i + 1).and_then(|n| n.str().map(|s| (s, n.start))) {
                        Some((next, at)) if !next.starts_with('-') => (next, at),
                        _ => continue,
                    },
                };
                if self
                    .settings
                    .values
                    .is_credential_value(flag.as_str(), value, m)
                {
                    let message = format!(
                        "container `{container}` passes `{}` a literal credential on its command line",
                        flag.as_str()
                    );
                    self.report(
                        Code::SL006,
                        at,
                        value,
                        format!("{path}/{}", flag.as_str()),
                        message,
                        Self::confidence(m),
                    );
                }
                continue;
            }
            let who = format!("container `{container}`");
            self.command_text(s, item.start, &who, path);
        }
    }

    /// Credentials in a free-form command line (a shell string in `args`, a script line, a
    /// Dockerfile `RUN`): `--password x`, `--set db.password=x`, `--from-literal=token=x`,
    /// `DB_PASSWORD=x ./run`, `mysql -pX`. `from` is where the text starts in the file.
    pub(crate) fn command_text(&mut self, s: &str, from: usize, who: &str, path: &str) {
        let re = arg_regexes();
        let mut found: Vec<(String, String, NameMatch)> = Vec::new();
        // Shell strings nest quotes (`sh -c 'mysql -p... && X=y'`): search them unquoted.
        let unquoted = s.replace(['\'', '"'], " ");
        for caps in re.inline.captures_iter(&unquoted) {
            let Some(name) = caps.get(1).or_else(|| caps.get(2)) else {
                continue;
            };
            let Some(value) = caps.get(3) else { continue };
            if is_switch(name.as_str()) {
                continue;
            }
            let v = value.as_str();
            match self.name_match(name.as_str()) {
                Some(m) => found.push((name.as_str().to_string(), v.to_string(), m)),
                None => {
                    if let Some((inner, inner_value)) = v.split_once('=')
                        && let Some(m) = self.name_match(inner)
                    {
                        found.push((inner.to_string(), inner_value.to_string(), m));
                    }
                }
            }
        }
        if s.contains("mysql") || s.contains("mariadb") {
            for caps in re.mysql.captures_iter(s) {
                if let Some(v) = caps.get(1)
                    && !is_long_p_option(v.as_str())
                {
                    let m = NameMatch {
                        strength: Strength::Strong,
                        ref_prone: false,
                        id_prone: false,
                    };
                    found.push(("-p".to_string(), v.as_str().to_string(), m));
                }
            }
        }
        for (name, value, m) in found {
            if !self.settings.values.is_credential_value(&name, &value, m) {
                continue;
            }
            let at = self.locate(from, &value);
            let message = format!("{who} passes `{name}` a literal credential on its command line");
            let key_path = format!("{path}/{name}");
            self.report(
                Code::SL006,
                at,
                &value,
                key_path,
                message,
                Self::confidence(m),
            );
        }
    }
}

/// `--password-stdin`, `--token-stdin`, `--password-prompt`, `--ask-pass`: a switch that says
/// where the credential comes from and takes no value; the word after it is something else
/// (`helm registry login --password-stdin registry-1.docker.io`).
fn is_switch(flag: &str) -> bool {
    let lower = flag.to_ascii_lowercase();
    lower.ends_with("stdin")
        || lower.ends_with("prompt")
        || lower.starts_with("ask-")
        || lower.starts_with("ask_")
        || lower.starts_with("no-")
}

/// `-port 3306`, `-protocol tcp`, `-password=x` written with one dash: an option whose name
/// starts with `p`, not `-p` followed by a password.
fn is_long_p_option(after_p: &str) -> bool {
    const OPTIONS: &[&str] = &[
        "port", "protocol", "pipe", "plugin", "print", "prompt", "password", "path", "pid",
        "profile", "proxy", "parallel",
    ];
    let word = format!("p{after_p}");
    OPTIONS.iter().any(|o| {
        word.strip_prefix(o)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['=', '-', '_']))
    })
}

struct ArgRegexes {
    flag: Regex,
    inline: Regex,
    mysql: Regex,
}

fn arg_regexes() -> &'static ArgRegexes {
    static RE: OnceLock<ArgRegexes> = OnceLock::new();
    // Invariant: constant patterns, exercised by the SL006 fixture.
    #[allow(clippy::expect_used)]
    RE.get_or_init(|| ArgRegexes {
        flag: Regex::new(r"^--?([A-Za-z][A-Za-z0-9_.\-]*)(?:=(.*))?$").expect("flag pattern"),
        inline: Regex::new(
            r#"(?:^|[\s;&|(])(?:--?([A-Za-z][A-Za-z0-9_.\-]*)(?:=|\s+)|([A-Za-z_][A-Za-z0-9_]*)=)("[^"]*"|'[^']*'|[^\s;&|)"']+)"#,
        )
        .expect("inline pattern"),
        mysql: Regex::new(r"\s-p([^\s'\x22;&|]{3,})").expect("mysql pattern"),
    })
}
