//! `.env` files and line-based configuration (`.properties`, `.ini`, `.toml`, `.npmrc`, ...).

use crate::analyzers::{FileScan, is_self_reference};
use crate::rules::Code;
use crate::text::parse_assignment;

impl FileScan<'_> {
    pub(crate) fn scan_lines(&mut self, rule: Code, what: &str) {
        let source = self.source;
        for n in 1..=source.line_count() {
            let full = source.line(n);
            // `.npmrc`: `//registry.npmjs.org/:_authToken=...` scopes the key with a URL.
            let skip = match full.find(":_") {
                Some(i) if full.trim_start().starts_with("//") => i + 2,
                _ => 0,
            };
            let line = &full[skip..];
            let Some(mut a) = parse_assignment(line) else {
                continue;
            };
            a.value_at += skip;
            let Some(m) = self.name_match(a.key) else {
                continue;
            };
            if is_self_reference(a.key, a.value) {
                continue;
            }
            if !self.settings.values.is_credential_value(a.key, a.value, m) {
                continue;
            }
            let at = self.locate_line(n) + a.value_at;
            let message = format!("{what} `{}` to a literal credential", a.key);
            self.report(
                rule,
                at,
                a.value,
                a.key.to_string(),
                message,
                Self::confidence(m),
            );
        }
    }

    /// SQL scripts: the literal of each statement that sets a password (SL010).
    pub(crate) fn scan_sql(&mut self) {
        let source = self.source;
        let text = source.text;
        if !text.contains(['\'', '"']) {
            return;
        }
        for n in 1..=source.line_count() {
            let line = source.line(n);
            let Some((value, value_at)) = super::kubernetes::sql_password(line) else {
                continue;
            };
            let Some(m) = self.name_match("password") else {
                continue;
            };
            if !self.settings.values.is_credential_value("password", value, m) {
                continue;
            }
            let at = self.locate_line(n) + value_at;
            self.report(
                Code::SL010,
                at,
                value,
                format!("sql/{n}"),
                "SQL statement sets a password to a literal credential".to_string(),
                Self::confidence(m),
            );
        }
    }
}

#[cfg(test)]
mod sql {
    use crate::Settings;

    /// PostgreSQL (`CREATE ROLE ... PASSWORD 'x'`, as in hashicorp/vault-helm's
    /// test/acceptance/injector-test/pg-deployment.yaml) and MySQL (`IDENTIFIED BY 'x'`) in a
    /// ConfigMap's embedded init script, a `.sql` file and a Markdown `sql` block; comments,
    /// `PASSWORD NULL` and placeholders are not credentials.
    #[test]
    fn sql_that_sets_passwords() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pg-init\ndata:\n  setup.sql: |\n    CREATE DATABASE app;\n    ALTER ROLE vault WITH SUPERUSER LOGIN PASSWORD 'vault';\n    -- ALTER ROLE x PASSWORD 'commented-Out-9';\n";
        let (findings, _) = crate::scan_text("k8s/pg.yaml", cm, &Settings::default());
        let at: Vec<(usize, usize, &str)> = findings
            .iter()
            .map(|f| (f.line, f.column, f.rule.as_str()))
            .collect();
        assert_eq!(at, [(8, 53, "SL003")], "{findings:?}");

        let sql = "CREATE USER 'app'@'%' IDENTIFIED BY 'Tr0ub4dor&3';\nCREATE USER 'ro'@'%' IDENTIFIED WITH mysql_native_password BY \"r3adOnly-pw\";\nALTER USER u PASSWORD NULL;\nCREATE ROLE web LOGIN PASSWORD '<password>';\n# PASSWORD 'in-a-comment-1'\n";
        let (findings, _) = crate::scan_text("db/init.sql", sql, &Settings::default());
        let at: Vec<(usize, usize)> = findings.iter().map(|f| (f.line, f.column)).collect();
        assert_eq!(at, [(1, 38), (2, 64)], "{findings:?}");

        let md = "Create the user:\n\n```sql\nCREATE USER app IDENTIFIED BY 'Tr0ub4dor&3';\n```\n";
        let (findings, _) = crate::scan_text("README.md", md, &Settings::default());
        let at: Vec<(usize, usize)> = findings.iter().map(|f| (f.line, f.column)).collect();
        assert_eq!(at, [(4, 32)], "{findings:?}");
    }
}
