//! `sealant lint`: scan files for plaintext credentials and report them as text, JSON or SARIF.
//!
//! The rules, the walk and the report formats live in the `sealant-lint` crate; this module parses
//! flags, loads `.sealant.toml` and the baseline, prints, and chooses the exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use sealant_lint::{Baseline, CONFIG_FILE, Code, Counts, GitScope, RULES, ScanOptions, Settings};

use super::audit::AuditArgs;
use crate::error::CliError;
use crate::report::{FailOn, OutputFormat, RedactMode, failing};

const AFTER_HELP: &str = "\
Suppressions:
  # sealant:ignore SL001          on the finding's line or the line above (no ids: all rules)
  sealant.dev/lint-ignore: \"SL002\" as an annotation of the object
  .sealantignore                  gitignore-style paths not to scan
  .sealant.toml                   [lint] enable/disable, extra-names, ignore-names,
                                  placeholders, exclude, fail-on, max-file-size

Examples:
  $ sealant lint .
  $ sealant lint -o sarif -w sealant.sarif k8s/ charts/
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
    /// Files or directories to scan (directories honour .gitignore and .sealantignore) [default: .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// A file or directory to scan, as kubectl's -f; repeatable. (`-f text|json|sarif` is the
    /// old spelling of -o and still works, with a warning.)
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub filenames: Vec<String>,

    /// Output format: text, json or sarif [default: text]. Write to a file with -w FILE.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", value_parser = parse_format)]
    pub output: Option<OutputFormat>,

    /// Old spelling of -o FORMAT.
    #[arg(long, value_enum, hide = true)]
    pub format: Option<OutputFormat>,

    #[command(flatten)]
    pub write: crate::flags::OutputFile,

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

    /// Also show findings in test data and example files (chart ci/ values, test, tests and
    /// testdata folders, *.example files), which are reported at low severity with the reason
    /// and hidden by default.
    #[arg(long)]
    pub include_fixtures: bool,

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

    /// Scan the live cluster of the current kubeconfig instead of files: the same as `sealant
    /// audit` (see its help).
    #[arg(long, conflicts_with_all = ["history", "staged", "baseline", "write_baseline"])]
    pub cluster: bool,

    /// With --cluster: only this namespace [default: every namespace].
    #[arg(short = 'n', long, value_name = "NS", requires = "cluster")]
    pub namespace: Option<String>,

    /// With --cluster: print the steps that move each finding into a SealedSecret.
    #[arg(long, requires = "cluster")]
    pub fix_plan: bool,
}

/// `sealant lint --cluster ...` as the `sealant audit` it stands for; paths make no sense there.
pub fn as_audit(args: &LintArgs) -> Result<AuditArgs, CliError> {
    let resolved = resolve(args);
    if !args.paths.is_empty() || resolved.paths != [PathBuf::from(".")] {
        return Err(CliError::input(
            "--cluster scans the cluster, not files: drop the paths, or drop --cluster",
        ));
    }
    Ok(AuditArgs {
        namespace: args.namespace.clone(),
        output: Some(resolved.format),
        write: crate::flags::OutputFile {
            write: resolved.output,
        },
        fix_plan: args.fix_plan,
        fail_on: args.fail_on,
        config: args.config.clone(),
        disable: args.disable.clone(),
        redact: args.redact,
        quiet: args.quiet,
    })
}

/// `-o FORMAT`: a format name, never a file. `-o report.sarif` used to write a file (and wrote
/// text into it unless the format was given too); now it is an error that names the choices and
/// the -w spelling.
fn parse_format(value: &str) -> Result<OutputFormat, String> {
    OutputFormat::from_str(value, true).map_err(|_| {
        let choices = "text, json, sarif";
        if value.contains(['.', '/']) {
            format!("-o names an output format ({choices}); to write a file use -w {value}")
        } else {
            format!("unknown output format '{value}': choose one of {choices}")
        }
    })
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

/// The flags after the old spellings are mapped onto the shared vocabulary (-f input, -o format,
/// -w file).
struct Resolved {
    paths: Vec<PathBuf>,
    format: OutputFormat,
    output: Option<PathBuf>,
}

fn resolve(args: &LintArgs) -> Resolved {
    let as_format = |text: &str| OutputFormat::from_str(text, true).ok();
    let mut format = args.format;
    if format.is_some() {
        crate::flags::deprecated("--format FORMAT", "-o FORMAT");
    }
    let output = args.write.path().map(Path::to_path_buf);
    if args.output.is_some() {
        format = args.output;
    }
    let mut paths = Vec::new();
    for value in &args.filenames {
        match as_format(value) {
            Some(f) => {
                crate::flags::deprecated("-f FORMAT", "-o FORMAT");
                format = Some(f);
            }
            None => paths.push(PathBuf::from(value)),
        }
    }
    paths.extend(args.paths.iter().cloned());
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    Resolved {
        paths,
        format: format.unwrap_or(OutputFormat::Text),
        output,
    }
}

fn execute(args: LintArgs) -> Result<u8, String> {
    let resolved = resolve(&args);
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
    let mut settings = load_settings(&args, &resolved.paths, &cwd)?;
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
            let repo = resolved
                .paths
                .first()
                .cloned()
                .unwrap_or_else(|| PathBuf::from("."));
            sealant_lint::scan_git(&repo, &scope, &settings).map_err(|e| e.to_string())?
        }
        None => {
            let options = ScanOptions {
                paths: resolved.paths.clone(),
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
        let text = baseline.to_text().map_err(|e| e.to_string())?;
        crate::io::write_atomic(path, text.as_bytes(), false, true).map_err(|e| e.to_string())?;
        eprintln!(
            "sealant: wrote {} finding(s) to baseline {}",
            baseline.len(),
            path.display()
        );
        return Ok(EXIT_CLEAN);
    }

    let mut counts = Counts::default();
    if !args.include_fixtures {
        let before = report.findings.len();
        report.findings.retain(|f| !f.fixture);
        counts.fixtures_hidden = before - report.findings.len();
    }
    if let Some(path) = &args.baseline {
        let baseline = Baseline::load(path).map_err(|e| e.to_string())?;
        let (kept, accepted) = baseline.filter(std::mem::take(&mut report.findings));
        report.findings = kept;
        counts.baselined = accepted;
    }

    report.redact(args.redact.redaction());
    let rendered = sealant_lint::render(&report, resolved.format.format(), counts);
    match &resolved.output {
        Some(path) => crate::io::write_atomic(path, rendered.as_bytes(), false, true)
            .map_err(|e| e.to_string())?,
        None => print_stdout(&rendered)?,
    }

    Ok(if failing(&report, args.fail_on, &settings) {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

/// `--config`, else `.sealant.toml` in the one scanned directory, else in the current one.
fn load_settings(args: &LintArgs, paths: &[PathBuf], cwd: &Path) -> Result<Settings, String> {
    if let Some(path) = &args.config {
        return Settings::load(path, true).map_err(|e| e.to_string());
    }
    if let [dir] = paths {
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
