//! Walking the paths to scan and running the analysis on each file in parallel.
//!
//! The walk honours `.gitignore`, `.sealantignore` and the configured excludes, does not follow
//! symbolic links (so nothing outside the tree is read), skips binary files (a NUL byte in the
//! first 8 KiB), lock files and files over the size limit (with a diagnostic).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ignore::WalkBuilder;
use ignore::overrides::{Override, OverrideBuilder};
use rayon::prelude::*;
use regex::Regex;

use super::analyzers::kustomize::GeneratorFile;
use super::analyzers::{FileKind, FileScan, parse_codes};
use super::config::Settings;
use super::finding::{Diagnostic, Finding, Redaction};
use super::yaml::Source;
use crate::codes::Code;

/// The custom ignore file, in gitignore syntax.
pub const IGNORE_FILE: &str = ".sealantignore";

/// What to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Files and directories.
    pub paths: Vec<PathBuf>,
    /// Paths in findings are shown relative to this directory.
    pub root: PathBuf,
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct Report {
    /// Sorted by path, line, column.
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
    pub files_scanned: usize,
    pub bytes_scanned: u64,
    /// Findings hidden by inline comments and object annotations.
    pub suppressed: usize,
    /// The directory paths are relative to (SARIF `%SRCROOT%`).
    pub root: PathBuf,
    /// What `files_scanned` counts.
    pub unit: Unit,
}

/// What a report's scanned count counts: files (`sealant lint`) or live objects (`sealant audit`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    #[default]
    Files,
    Objects,
}

impl Report {
    /// Applies `redaction` to every finding's shown value.
    pub fn redact(&mut self, redaction: Redaction) {
        for f in &mut self.findings {
            f.redact(redaction);
        }
    }
}

/// A scan that could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}: no such file or directory")]
    MissingPath(String),
    #[error("{path}: not a usable git repository: {message}")]
    Git { path: String, message: String },
    #[error("invalid exclude pattern `{pattern}`: {message}")]
    Exclude { pattern: String, message: String },
}

/// Lock files: integrity hashes, never configuration.
const LOCK_FILES: &[&str] = &[
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "cargo.lock",
    "go.sum",
    "poetry.lock",
    "composer.lock",
    "gemfile.lock",
    "pipfile.lock",
    "npm-shrinkwrap.json",
    "flake.lock",
];

/// Marks a SARIF log written by `sealant lint`.
const SARIF_MARKER: &str = "\"informationUri\": \"https://sealant.dev/docs/lint\"";

/// Extensions of files that are never text.
const BINARY_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "ico", "webp", "pdf", "zip", "gz", "tgz", "bz2", "xz", "zst",
    "jar", "war", "class", "so", "dylib", "dll", "exe", "o", "a", "woff", "woff2", "ttf", "otf",
    "mp3", "mp4", "mov", "wasm", "pyc",
];

/// Scans `options.paths` with `settings`.
pub fn scan(options: &ScanOptions, settings: &Settings) -> Result<Report, ScanError> {
    let overrides = excludes(&options.root, &settings.exclude)?;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut report = Report {
        root: options.root.clone(),
        ..Report::default()
    };
    for path in &options.paths {
        if !path.exists() {
            return Err(ScanError::MissingPath(path.display().to_string()));
        }
        if path.is_file() {
            if !overrides.matched(path, false).is_ignore() {
                files.push(path.clone());
            }
            continue;
        }
        let walker = WalkBuilder::new(path)
            .hidden(false)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .follow_links(false)
            .add_custom_ignore_filename(IGNORE_FILE)
            .overrides(overrides.clone())
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walker {
            match entry {
                Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => files.push(e.into_path()),
                Ok(_) => {}
                Err(err) => report.diagnostics.push(Diagnostic {
                    path: path.display().to_string(),
                    message: format!("cannot walk: {err}"),
                }),
            }
        }
    }
    files.sort();
    files.dedup();
    // Files named on the command line are scanned whatever their size: the user asked for them.
    let named: HashSet<PathBuf> = options
        .paths
        .iter()
        .filter(|p| p.is_file())
        .cloned()
        .collect();
    let walked: HashSet<PathBuf> = files.iter().map(|p| normalize(p)).collect();

    let results: Vec<FileResult> = files
        .par_iter()
        .map(|p| {
            let named = named.contains(p);
            scan_file(p, &display(&options.root, p), settings, named)
        })
        .collect();

    let mut generator_envs: Vec<(PathBuf, String, GeneratorFile)> = Vec::new();
    let mut compose_secrets: Vec<(PathBuf, String)> = Vec::new();
    for r in results {
        report.files_scanned += usize::from(r.scanned);
        report.bytes_scanned += r.bytes;
        report.suppressed += r.suppressed;
        report.findings.extend(r.findings);
        report.diagnostics.extend(r.diagnostics);
        generator_envs.extend(r.generator_envs);
        compose_secrets.extend(r.compose_secrets);
    }
    // Env files read by a Kustomize secretGenerator: all their values are Secret data, if the
    // files are part of the scan (not git-ignored).
    for (env_path, generator, how) in generator_envs {
        if !walked.contains(&normalize(&env_path)) {
            continue;
        }
        let shown = display(&options.root, &env_path);
        let Ok(text) = std::fs::read_to_string(&env_path) else {
            continue;
        };
        let source = Source::new(&text);
        let mut fs = FileScan::new(&source, &shown, settings);
        match how {
            GeneratorFile::SecretEnv => fs.generator_env_file(&generator),
            GeneratorFile::SecretFile => fs.generator_secret_file(&generator),
            // Files that are configuration by their name were scanned as such already.
            GeneratorFile::ConfigFile => {
                let name = env_path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_default();
                let ext = env_path
                    .extension()
                    .map(|e| e.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_default();
                if classify(&env_path, &name, &ext, &text) == FileKind::Text {
                    fs.generator_config_file(&generator);
                }
            }
        }
        let (kept, suppressed) = apply_inline_suppressions(fs.findings, &source, &[]);
        report.suppressed += suppressed;
        report.findings.extend(kept);
    }
    // Files read by docker-compose `secrets:`: each file's content is one secret.
    for (file, name) in compose_secrets {
        if !walked.contains(&normalize(&file)) {
            continue;
        }
        let shown = display(&options.root, &file);
        let Ok(Ok(bytes)) = read_limited(&file, settings.max_file_size) else {
            continue;
        };
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let source = Source::new(&text);
        let mut fs = FileScan::new(&source, &shown, settings);
        fs.compose_secret_file(&name);
        report.findings.extend(fs.findings);
    }
    report.findings = dedupe(std::mem::take(&mut report.findings));
    report
        .findings
        .sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    report.diagnostics.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

/// Lints one file's text as if it were at `path` (relative, `/`-separated; its name decides how
/// the text is analysed), with every in-file suppression applied. For editors, tests, and
/// callers that already hold the text.
pub fn scan_text(path: &str, text: &str, settings: &Settings) -> (Vec<Finding>, Vec<Diagnostic>) {
    let as_path = Path::new(path);
    let name = as_path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_string())
        .unwrap_or_default();
    let source = Source::new(text);
    let mut fs = FileScan::new(&source, path, settings);
    (fs.test_data, fs.test_reason) = test_data(as_path, as_path, &name);
    fs.template = is_chart_template(as_path, &ext);
    fs.run(classify(as_path, &name, &ext, text));
    let diagnostics = fs
        .diagnostics
        .iter()
        .map(|m| Diagnostic {
            path: path.to_string(),
            message: m.clone(),
        })
        .collect();
    let (kept, _) =
        apply_inline_suppressions(std::mem::take(&mut fs.findings), &source, &fs.ignores);
    let mut findings = dedupe(kept);
    findings.sort_by_key(|a| (a.line, a.column));
    (findings, diagnostics)
}

#[derive(Default)]
struct FileResult {
    scanned: bool,
    bytes: u64,
    findings: Vec<Finding>,
    diagnostics: Vec<Diagnostic>,
    suppressed: usize,
    generator_envs: Vec<(PathBuf, String, GeneratorFile)>,
    compose_secrets: Vec<(PathBuf, String)>,
}

fn scan_file(path: &Path, shown: &str, settings: &Settings, named: bool) -> FileResult {
    let mut result = FileResult::default();
    let diag = |message: String| Diagnostic {
        path: shown.to_string(),
        message,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_string())
        .unwrap_or_default();
    if LOCK_FILES.contains(&name.as_str()) || BINARY_EXTENSIONS.contains(&ext.as_str()) {
        return result;
    }
    // One open and one fstat per file: the size check and the read share the descriptor.
    let limit = if named {
        u64::MAX
    } else {
        settings.max_file_size
    };
    let bytes = match read_limited(path, limit) {
        Ok(Ok(b)) => b,
        Ok(Err(size)) => {
            result.diagnostics.push(diag(format!(
                "skipped: {size} bytes is over the {} byte limit",
                settings.max_file_size
            )));
            return result;
        }
        Err(e) => {
            result.diagnostics.push(diag(format!("cannot read: {e}")));
            return result;
        }
    };
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return result;
    }
    result.scanned = true;
    result.bytes = bytes.len() as u64;
    if result.bytes > settings.max_file_size {
        result.diagnostics.push(diag(format!(
            "{} bytes is over the {} byte limit; scanned because it was named on the command line",
            result.bytes, settings.max_file_size
        )));
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    // sealant's own SARIF report quotes the rules' documentation, examples included.
    if text.contains(SARIF_MARKER) {
        return result;
    }
    let kind = classify(path, &name, &ext, &text);
    let source = Source::new(&text);
    let mut fs = FileScan::new(&source, shown, settings);
    (fs.test_data, fs.test_reason) = test_data(path, Path::new(shown), &name);
    fs.template = is_chart_template(path, &ext);
    fs.run(kind);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    result.compose_secrets = fs
        .compose_secret_files
        .iter()
        .map(|(p, n)| (dir.join(p), n.clone()))
        .collect();
    result.generator_envs = fs
        .generator_env_files
        .iter()
        .map(|(p, g, how)| (dir.join(p), g.clone(), *how))
        .collect();
    result
        .diagnostics
        .extend(fs.diagnostics.iter().map(|m| diag(m.clone())));
    let (kept, suppressed) = apply_inline_suppressions(fs.findings, &source, &fs.ignores);
    result.findings = kept;
    result.suppressed = suppressed;
    result
}

/// The file's bytes, or `Err(size)` when it is larger than `limit`.
fn read_limited(path: &Path, limit: u64) -> std::io::Result<Result<Vec<u8>, u64>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Ok(Err(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    file.read_to_end(&mut bytes)?;
    Ok(Ok(bytes))
}

/// Test inputs of a chart: `ci/*values.yaml` (chart-testing) and `tests/*_test.yaml`
/// (helm-unittest). Their values are made up for the tests, but may still be real.
/// Whether a file is test data or an example, and the reason shown with its findings: chart CI
/// values, files under `test`/`tests`/`testdata`/`fixtures` folders, `*.example` files. Their
/// findings are reported at low severity and confidence (so `--fail-on` can skip them), and
/// fixture spellings of a credential (`testpassword`) are not reported at all.
/// Folders are judged on `shown`, the path relative to the scanned root, so that a repository
/// checked out under a `test` folder is not all test data.
fn test_data(path: &Path, shown: &Path, name: &str) -> (bool, &'static str) {
    if is_chart_test_data(path, name) {
        return (true, "chart test values");
    }
    if name.ends_with(".example") || name.contains(".example.") {
        return (true, "example file");
    }
    let in_tests = shown.parent().is_some_and(|p| {
        p.components().any(|c| {
            let c = c.as_os_str().to_string_lossy().to_ascii_lowercase();
            matches!(
                c.as_str(),
                "test" | "tests" | "testdata" | "__tests__" | "fixtures"
            )
        })
    });
    if in_tests {
        return (true, "test data");
    }
    (false, "")
}

fn is_chart_test_data(path: &Path, name: &str) -> bool {
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
    yaml && ((parent == "ci" && name.contains("values"))
        || (parent == "tests" && (name.ends_with("_test.yaml") || name.ends_with("_test.yml"))))
}

/// A chart template: a `.tpl` file or a file under a `templates/` directory.
fn is_chart_template(path: &Path, ext: &str) -> bool {
    ext == "tpl" || path.components().any(|c| c.as_os_str() == "templates")
}

/// GitHub Actions workflows and GitLab CI files.
fn is_ci_workflow(path: &Path, name: &str, yaml: bool) -> bool {
    if name == ".gitlab-ci.yml" || name == ".gitlab-ci.yaml" {
        return true;
    }
    let dirs: Vec<String> = path
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let n = dirs.len();
    yaml && n >= 2
        && ((dirs[n - 2] == ".github" && dirs[n - 1] == "workflows")
            || (dirs[n - 2] == ".gitlab" && dirs[n - 1] == "ci"))
}

/// Decides how a file is analysed, from its name, place and (for templates) content.
fn classify(path: &Path, name: &str, ext: &str, text: &str) -> FileKind {
    if name == ".env" || name.starts_with(".env.") || ext == "env" {
        return FileKind::DotEnv;
    }
    if name.eq_ignore_ascii_case("notes.txt")
        && path.components().any(|c| c.as_os_str() == "templates")
    {
        return FileKind::HelmNotes;
    }
    if matches!(ext, "jsonnet" | "libsonnet") {
        return FileKind::Config;
    }
    if matches!(ext, "sh" | "bash" | "zsh" | "ksh") || name == ".envrc" {
        return FileKind::Script;
    }
    if name == "dockerfile"
        || name == "containerfile"
        || name.starts_with("dockerfile.")
        || ext == "dockerfile"
    {
        return FileKind::Dockerfile;
    }
    if matches!(
        name,
        "kustomization.yaml" | "kustomization.yml" | "kustomization"
    ) {
        return FileKind::Kustomization;
    }
    // kubeconfig files: `~/.kube/config`, `kubeconfig`, `*.kubeconfig`.
    let kubeconfig = name == "kubeconfig"
        || ext == "kubeconfig"
        || (name == "config" && text.contains("kind: Config"));
    let yaml = matches!(ext, "yaml" | "yml") || kubeconfig;
    if is_ci_workflow(path, name, yaml) {
        return FileKind::CiWorkflow;
    }
    if yaml && (name.starts_with("docker-compose") || name.starts_with("compose")) {
        return FileKind::Compose;
    }
    let in_templates = path.components().any(|c| c.as_os_str() == "templates");
    if (ext == "tpl" || (yaml && in_templates)) && text.contains("{{") {
        return FileKind::HelmTemplate;
    }
    if yaml && name.starts_with("values") {
        return FileKind::HelmValues;
    }
    if yaml || ext == "json" {
        if ext != "json" && text.contains("{{") {
            return FileKind::HelmTemplate;
        }
        return FileKind::Yaml;
    }
    if matches!(
        ext,
        "properties" | "ini" | "cfg" | "conf" | "cnf" | "toml" | "tfvars" | "hcl" | "tf" | "config"
    ) || matches!(
        name,
        ".pypirc" | ".npmrc" | ".yarnrc" | ".s3cfg" | ".boto" | "credentials"
    ) {
        return FileKind::Config;
    }
    if ext == "sql" {
        return FileKind::Sql;
    }
    if looks_like_manifest(ext, text) {
        return FileKind::Yaml;
    }
    FileKind::Text
}

/// A file whose name says nothing but whose content is a Kubernetes manifest (`kind: List` of
/// Secrets saved as `secrets.key`, `backup.txt`): its first line of content is `apiVersion:`,
/// `kind:` or a `---` document marker followed by one.
fn looks_like_manifest(ext: &str, text: &str) -> bool {
    if matches!(ext, "md" | "markdown" | "rst" | "adoc" | "html" | "htm") {
        return false;
    }
    let mut cut = text.len().min(4096);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let first = head
        .lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.starts_with('#') && *l != "---");
    let has_kind = head.lines().any(|l| l.starts_with("kind:"));
    first.is_some_and(|l| l.starts_with("apiVersion:") || l.starts_with("kind:")) && has_kind
}

/// Applies `# sealant:ignore [SL001,...]` on the finding's line or the line above, and object
/// annotations. Returns the kept findings and how many were suppressed.
fn apply_inline_suppressions(
    findings: Vec<Finding>,
    source: &Source<'_>,
    ignores: &[(usize, usize, Vec<Code>)],
) -> (Vec<Finding>, usize) {
    let before = findings.len();
    let kept: Vec<Finding> = findings
        .into_iter()
        .filter(|f| {
            let by_object = ignores.iter().any(|(s, e, codes)| {
                f.span.0 >= *s && f.span.0 <= *e && (codes.is_empty() || codes.contains(&f.rule))
            });
            // The finding's line, the line above, and above a list item the value belongs to
            // (`# sealant:ignore` above `- name: DB_PASSWORD`, the value on the next line).
            let above = f.line.saturating_sub(1);
            let item_start = above >= 1 && source.line(above).trim_start().starts_with("- ");
            let mut candidates = vec![f.line, above];
            let two_above = above.saturating_sub(1);
            if item_start && two_above >= 1 && source.line(two_above).trim_start().starts_with('#')
            {
                candidates.push(two_above);
            }
            let by_comment = candidates.iter().filter(|&&l| l >= 1).any(|&l| {
                inline_ignore(source.line(l)).is_some_and(|c| c.is_empty() || c.contains(&f.rule))
            });
            !by_object && !by_comment
        })
        .collect();
    let suppressed = before - kept.len();
    (kept, suppressed)
}

/// The rules an inline `sealant:ignore` comment names (empty: all), if the line has one.
fn inline_ignore(line: &str) -> Option<Vec<Code>> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| Regex::new(r"(?:#|//|;)\s*sealant:ignore(?-u:\b)([A-Za-z0-9, ]*)").ok())
        .as_ref()?;
    let caps = re.captures(line)?;
    Some(parse_codes(caps.get(1).map_or("", |m| m.as_str())))
}

/// One finding per leaked value: where two findings cover the same bytes of one file, the more
/// specific rule wins (structural rules, then token formats, then URLs, then generic config).
fn dedupe(mut findings: Vec<Finding>) -> Vec<Finding> {
    fn rank(code: Code) -> u8 {
        match code {
            Code::SL010 => 0,
            Code::SL008 => 1,
            Code::SL005 => 2,
            Code::SL004 => 3,
            _ => 4,
        }
    }
    findings.sort_by(|a, b| {
        (&a.path, std::cmp::Reverse(rank(a.rule)), a.span).cmp(&(
            &b.path,
            std::cmp::Reverse(rank(b.rule)),
            b.span,
        ))
    });
    let mut kept: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    let mut out = Vec::with_capacity(findings.len());
    for f in findings {
        let spans = kept.entry(f.path.clone()).or_default();
        if spans.iter().any(|&(s, e)| f.span.0 < e && s < f.span.1) {
            continue;
        }
        spans.push(f.span);
        out.push(f);
    }
    out
}

pub(crate) fn excludes(root: &Path, patterns: &[String]) -> Result<Override, ScanError> {
    let mut builder = OverrideBuilder::new(root);
    for p in patterns {
        builder
            .add(&format!("!{p}"))
            .map_err(|e| ScanError::Exclude {
                pattern: p.clone(),
                message: e.to_string(),
            })?;
    }
    builder.build().map_err(|e| ScanError::Exclude {
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to `root` when it is under it, with `/` separators and no `./`.
pub fn display(root: &Path, path: &Path) -> String {
    let normalized = normalize(path);
    let root_n = normalize(root);
    let rel = if root_n.as_os_str().is_empty() {
        normalized.as_path()
    } else {
        normalized.strip_prefix(&root_n).unwrap_or(&normalized)
    };
    let s = rel.to_string_lossy().replace('\\', "/");
    if s.is_empty() { ".".to_string() } else { s }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    /// Test folders and example files are reported at low severity with the reason, and their
    /// fixture spellings not at all; the same text elsewhere is reported at full severity.
    #[test]
    fn test_folders_and_example_files_are_low_severity_with_a_reason() {
        let text = "DB_PASSWORD=Xk9-real-Looking-7\nADMIN_PASSWORD=testpassword\n";
        let settings = Settings::default();
        for (path, reason) in [
            ("services/api/tests/fixtures/app.env", "test data"),
            ("pkg/testdata/app.env", "test data"),
            ("deploy/.env.example", "example file"),
        ] {
            let (findings, _) = scan_text(path, text, &settings);
            assert_eq!(findings.len(), 1, "{path}: {findings:?}");
            assert_eq!(findings[0].line, 1);
            assert_eq!(findings[0].severity, crate::Severity::Low, "{path}");
            assert!(
                findings[0].message.ends_with(&format!("({reason})")),
                "{path}"
            );
        }
        let (findings, _) = scan_text("deploy/app.env", text, &settings);
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(findings.iter().all(|f| f.severity == crate::Severity::High));
    }
}
