//! `.env` files and line-based configuration (`.properties`, `.ini`, `.toml`, `.npmrc`, ...).

use crate::analyzers::{FileScan, is_self_reference};
use crate::codes::Code;
use crate::text::parse_assignment;

impl FileScan<'_> {
    pub(crate) fn scan_lines(&mut self, rule: Code, what: &str) {
        let source = self.source;
        // Terraform and HCL blocks that name a setting and give its value on separate lines
        // (`key = "TOKEN"` / `value = "..."` of a CI variable, `set { name = "auth.password"
        // value = "..." }` of a helm_release): the name of the current block, if any.
        let mut named: Option<&str> = None;
        for n in 1..=source.line_count() {
            let full = source.line(n);
            if full.contains(['{', '}']) {
                named = None;
            }
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
            if matches!(a.key, "name" | "key") {
                named = Some(a.value);
            }
            if a.key == "value"
                && let Some(name) = named.take()
            {
                a.key = name;
            }
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
            if !self
                .settings
                .values
                .is_credential_value("password", value, m)
            {
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

#[cfg(test)]
mod second_labelled_round {
    use crate::Settings;

    fn lines(path: &str, text: &str) -> Vec<usize> {
        let (findings, _) = crate::scan_text(path, text, &Settings::default());
        findings.iter().map(|f| f.line).collect()
    }

    /// instana/robot-shop mysql/Dockerfile: `ENV` continued over lines; a bare word under an
    /// environment variable's password name is the password.
    #[test]
    fn dockerfile_env_continuation_lines() {
        let text = "FROM mysql:5.7\nENV MYSQL_ALLOW_EMPTY_PASSWORD=yes \\\n    MYSQL_DATABASE=cities \\\n    # a comment inside\n    MYSQL_PASSWORD=secret\nRUN echo done\nENV NEXT=1\n";
        assert_eq!(lines("mysql/Dockerfile", text), [5]);
    }

    /// cider-security-research/cicd-goat gitlab/gitlab.tf: a CI variable whose name and value
    /// are separate lines of one block; Terraform's helm_release `set` blocks alike. A block
    /// whose name says nothing is not reported.
    #[test]
    fn hcl_blocks_that_name_their_value() {
        let text = "resource \"gitlab_group_variable\" \"t\" {\n  group = 1\n  key     = \"TOKEN\"\n  masked  = true\n  value   = \"04b6bdf425dbd720a34705a398500937\"\n}\nresource \"gitlab_project_variable\" \"f\" {\n  key   = \"FLAG11\"\n  value = \"7ED44218-C9CC-4824-BC85-C9841305A642\"\n}\nresource \"helm_release\" \"db\" {\n  set {\n    name  = \"auth.password\"\n    value = \"Xk9-real-Looking-7\"\n  }\n  set {\n    name  = \"image.tag\"\n    value = \"16.2.0\"\n  }\n}\n";
        assert_eq!(lines("gitlab/gitlab.tf", text), [5, 14]);
    }

    /// cicd-goat docker-compose.yaml: GitLab omnibus settings (`gitlab_rails['x'] = "v"`) in a
    /// compose environment block.
    #[test]
    fn ruby_hash_settings_in_embedded_config() {
        let text = "services:\n  gitlab:\n    environment:\n      GITLAB_OMNIBUS_CONFIG: |\n        external_url 'http://gitlab'\n        letsencrypt['enable'] = false\n        gitlab_rails['initial_shared_runners_registration_token'] = \"GR1348hansd87fyzDiqyZeuHuxe\"\n";
        assert_eq!(lines("docker-compose.yaml", text), [7]);
    }

    /// dotnet-architecture/eShopOnContainers: a connection string is a credential when it carries
    /// a password (`Password=Pass@word`), not when it names a host; a JDBC URL without a password
    /// in a Secret (GoogleCloudPlatform/bank-of-anthos) is not a credential either.
    #[test]
    fn connection_strings_by_what_they_carry() {
        let compose = "services:\n  basket:\n    environment:\n      - ConnectionString=${ESHOP_AZURE_REDIS_BASKET_DB:-basket.data}\n      - ConnectionStrings__CatalogDb=${DB:-Server=sqldata;Database=Catalog;User Id=sa;Password=Pass@word}\n      - ConnectionStrings__Bus=Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=Zk8Lm2Qp9Rt4Vw7Xy1BcQp9Rt4Vw7Xy1Bc=\n      - ConnectionStrings__Local=Server=db;Database=app;Trusted_Connection=True\n";
        assert_eq!(lines("docker-compose.prod.yml", compose), [5, 6]);
        let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ledger\nstringData:\n  POSTGRES_PASSWORD: accounts-pwd\n  SPRING_DATASOURCE_URL: jdbc:postgresql://accounts-db-pgpool:5432/accounts-db\n";
        assert_eq!(lines("config.yaml", secret), [6]);
    }
}
