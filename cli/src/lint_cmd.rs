//! `sealant lint`: scan files for plaintext credentials and report them as text, JSON or SARIF.
//!
//! The rules, the walk and the report formats live in the `sealant-lint` crate; this module parses
//! flags, loads `.sealant.toml` and the baseline, prints, and chooses the exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use sealant_lint::{
    Baseline, CONFIG_FILE, Code, Counts, Format, GitScope, RULES, Redaction, ScanOptions, Settings,
    Severity,
};

const AFTER_HELP: &str = "\
Suppressions:
  # sealant:ignore SL001          on the finding's line or the line above (no ids: all rules)
  sealant.dev/lint-ignore: \"SL002\" as an annotation of the object
  .sealantignore                  gitignore-style paths not to scan
  .sealant.toml                   [lint] enable/disable, extra-names, ignore-names,
                                  placeholders, exclude, fail-on, max-file-size

Examples:
  $ sealant lint .
  $ sealant lint --format sarif --output sealant.sarif k8s/ charts/
  $ sealant lint --write-baseline .sealant-baseline.json
  $ sealant lint --baseline .sealant-baseline.json --fail-on high
  $ sealant lint --explain SL001
  $ sealant lint --history                 every commit reachable from HEAD
  $ sealant lint --history=main..feature   the commits of a branch
  $ sealant lint --staged                  what the next commit would add (pre-commit)

Exit codes:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on
  2  error (missing path, invalid configuration or baseline, unwritable output)";

/// Arguments of `sealant lint`.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct LintArgs {
    /// Files or directories to scan (directories honour .gitignore and .sealantignore).
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Lowest severity that makes the exit code 1 [default: low, i.e. any finding].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// Configuration file [default: .sealant.toml in the scanned directory or the current one].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Report only findings that are not in this baseline.
    #[arg(long, value_name = "FILE", conflicts_with = "write_baseline")]
    pub baseline: Option<PathBuf>,

    /// Write every current finding to FILE as a baseline, then exit 0.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Turn rules off (comma-separated ids), on top of the configuration file.
    #[arg(long, value_name = "RULES", value_delimiter = ',')]
    pub disable: Vec<String>,

    /// Print the documentation of a rule (e.g. SL001) and exit.
    #[arg(long, value_name = "RULE", exclusive = true)]
    pub explain: Option<String>,

    /// List every rule with its id, severity and summary, and exit.
    #[arg(long, exclusive = true)]
    pub list_rules: bool,

    /// Scan git history instead of the working tree: every file of every commit reachable in
    /// RANGE (default HEAD; `--history=main..feature` for a range), each unique blob once.
    /// Findings name the commit. The path is the repository (default `.`).
    #[arg(
        long,
        value_name = "RANGE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "HEAD",
        conflicts_with = "staged"
    )]
    pub history: Option<String>,

    /// Scan only what is staged for the next commit (index entries that differ from HEAD), for
    /// pre-commit hooks.
    #[arg(long)]
    pub staged: bool,

    /// How much of a leaked value reports show: `partial` shows nothing of values shorter than 16
    /// characters and the first two characters of longer ones; `full` shows nothing.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = RedactMode::Partial)]
    pub redact: RedactMode,

    /// Do not print warnings about files that could not be read or parsed.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `path:line:col: SL001 [high] message (value: ********)`.
    Text,
    /// One JSON document with findings, diagnostics and a summary.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other dashboards.
    Sarif,
}

/// `--redact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RedactMode {
    /// `********`, or `gh********` for values of 16 characters or more.
    Partial,
    /// `********` for every value.
    Full,
}

/// `--fail-on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
}

const EXIT_CLEAN: u8 = 0;
const EXIT_FINDINGS: u8 = 1;
const EXIT_ERROR: u8 = 2;

/// Runs the lint and returns the process exit code (0 clean, 1 findings, 2 errors).
pub fn run(args: LintArgs) -> u8 {
    match execute(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("sealant: error: {message}");
            EXIT_ERROR
        }
    }
}

fn execute(args: LintArgs) -> Result<u8, String> {
    if args.list_rules {
        let mut out = String::new();
        for r in &RULES {
            out.push_str(&format!(
                "{}  {:<6}  {:<26}  {}\n",
                r.id,
                r.severity.to_string(),
                r.name,
                r.summary
            ));
        }
        print_stdout(&out)?;
        return Ok(EXIT_CLEAN);
    }
    if let Some(id) = &args.explain {
        let code: Code = id.parse()?;
        let rule = code.rule();
        print_stdout(&format!(
            "{} {} ({})\n\n{}",
            rule.id, rule.name, rule.summary, rule.doc
        ))?;
        return Ok(EXIT_CLEAN);
    }

    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let mut settings = load_settings(&args, &cwd)?;
    for id in &args.disable {
        settings.disable(id.parse::<Code>()?);
    }
    let git_scope = match (&args.history, args.staged) {
        (Some(range), _) => Some(GitScope::History(Some(range.clone()))),
        (None, true) => Some(GitScope::Staged),
        (None, false) => None,
    };
    let mut report = match git_scope {
        Some(scope) => {
            let repo = args
                .paths
                .first()
                .cloned()
                .unwrap_or_else(|| PathBuf::from("."));
            sealant_lint::scan_git(&repo, &scope, &settings).map_err(|e| e.to_string())?
        }
        None => {
            let options = ScanOptions {
                paths: args.paths.clone(),
                root: cwd,
            };
            sealant_lint::scan(&options, &settings).map_err(|e| e.to_string())?
        }
    };

    if !args.quiet {
        for d in &report.diagnostics {
            eprintln!("sealant: warning: {}: {}", d.path, d.message);
        }
    }

    if let Some(path) = &args.write_baseline {
        let baseline = Baseline::from_findings(&report.findings).map_err(|e| e.to_string())?;
        baseline.write(path).map_err(|e| e.to_string())?;
        eprintln!(
            "sealant: wrote {} finding(s) to baseline {}",
            baseline.len(),
            path.display()
        );
        return Ok(EXIT_CLEAN);
    }

    let mut counts = Counts::default();
    if let Some(path) = &args.baseline {
        let baseline = Baseline::load(path).map_err(|e| e.to_string())?;
        let (kept, accepted) = baseline.filter(std::mem::take(&mut report.findings));
        report.findings = kept;
        counts.baselined = accepted;
    }

    report.redact(match args.redact {
        RedactMode::Partial => Redaction::Partial,
        RedactMode::Full => Redaction::Full,
    });
    let format = match args.format {
        OutputFormat::Text => Format::Text,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
    };
    let rendered = sealant_lint::render(&report, format, counts);
    match &args.output {
        Some(path) => write_file(path, &rendered)?,
        None => print_stdout(&rendered)?,
    }

    let fail_on = match args.fail_on {
        Some(FailOn::Low) => Severity::Low,
        Some(FailOn::Medium) => Severity::Medium,
        Some(FailOn::High) => Severity::High,
        None => settings.fail_on.unwrap_or(Severity::Low),
    };
    let failing = report.findings.iter().any(|f| f.severity >= fail_on);
    Ok(if failing { EXIT_FINDINGS } else { EXIT_CLEAN })
}

/// `--config`, else `.sealant.toml` in the one scanned directory, else in the current one.
fn load_settings(args: &LintArgs, cwd: &Path) -> Result<Settings, String> {
    if let Some(path) = &args.config {
        return Settings::load(path, true).map_err(|e| e.to_string());
    }
    if let [dir] = args.paths.as_slice() {
        let candidate = dir.join(CONFIG_FILE);
        if dir.is_dir() && candidate.is_file() {
            return Settings::load(&candidate, true).map_err(|e| e.to_string());
        }
    }
    Settings::load(&cwd.join(CONFIG_FILE), false).map_err(|e| e.to_string())
}

fn print_stdout(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`sealant lint | head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to standard output: {e}")),
    }
}

/// Writes `text` to `path` atomically: a temporary file in the same directory, flushed to disk,
/// then renamed over `path`, so a reader never sees a half-written report.
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    // `/dev/stdout`, `/dev/null`, a FIFO: not a regular file to replace, write it in place.
    if path.exists() && !path.is_file() {
        return std::fs::write(path, text).map_err(|e| fail(&e));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    tmp.write_all(text.as_bytes()).map_err(|e| fail(&e))?;
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}
