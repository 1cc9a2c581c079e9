//! `sealant audit` (also `sealant lint --cluster`): the lint's rules on what already runs.
//!
//! With the current kubeconfig it lists (and only lists: no get of single objects, no watch, no
//! write) workloads, ConfigMaps and Secrets, renders each live object as the YAML `kubectl get -o
//! yaml` would show, and runs the same analysis `sealant lint` runs on files. Findings name
//! `namespace/Kind/name` and the field (`spec.containers[name=app].env[name=DB_PASSWORD].value`),
//! values redacted as everywhere else. `--fix-plan` prints the steps that move each finding into a
//! SealedSecret: values are read by `kubectl` straight into `kubectl create secret` through a
//! pipe or `<(...)`, so the plan holds none of them and neither does the terminal.
//!
//! What is left out, and why, is decided in one place, [`listing::exemption`]: Secrets sealant
//! writes, its key Secrets, Secrets Kubernetes or Helm mint for themselves, and Secrets generated
//! by an owning controller are not hand-made and have no business in a SealedSecret. Pods,
//! ReplicaSets and Jobs whose owner is also listed are reported once, at the owner.
//!
//! SealedSecrets are listed too, not to be scanned (they hold no plaintext) but to name those
//! sealed cluster-wide: their values open in every namespace, so anyone who can read one can
//! have it unsealed wherever they may create a SealedSecret.
//!
//! Three parts, none importing the one that uses it: [`listing`] (what is in the cluster, and what
//! is left out), [`scanning`] (the lint on each live object, placed at its field) and
//! [`fix_plan`] (the script that moves findings into SealedSecrets); [`audit`] below joins them.

mod fix_plan;
mod listing;
mod scanning;

use std::path::PathBuf;

use sealant_lint::{CONFIG_FILE, Code, Counts, Report, Settings, Unit};

use self::listing::Listed;
use crate::cluster::{self, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::report::{FailOn, OutputFormat, RedactMode, failing};

pub const AFTER_HELP: &str = "\
What it reads (list only; `deploy/optional/audit-rbac.yaml` is a ClusterRole with exactly this):
  Pods, ReplicationControllers, ConfigMaps, Secrets, Deployments, ReplicaSets, StatefulSets,
  DaemonSets, Jobs, CronJobs. A kind it may not list is reported as a warning and skipped.
  SealedSecrets too, to name those sealed cluster-wide (their values open in every namespace).

Not reported: Secrets written by the sealant controller and its key Secrets, service account
and bootstrap tokens, Helm release records, Secrets with an owning controller; Pods, ReplicaSets
and Jobs are reported at their listed owner.

Examples:
  $ sealant audit                          every namespace
  $ sealant audit -n production -o json
  $ sealant audit -o sarif -w audit.sarif
  $ sealant audit --fix-plan -w move-to-sealant.sh
  $ sealant lint --cluster                 the same as `sealant audit`

Exit codes:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on
  2  error (no cluster, nothing could be listed, invalid configuration, unwritable output)";

/// Arguments of `sealant audit`.
#[derive(clap::Args, Clone)]
#[command(after_help = AFTER_HELP)]
pub struct AuditArgs {
    /// Audit only this namespace [default: every namespace].
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,

    /// Output format: text, json or sarif [default: text].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    #[command(flatten)]
    pub write: crate::flags::OutputFile,

    /// Print a bash script that moves each finding into a SealedSecret instead of the report.
    /// It reads the values from the cluster itself; it contains none of them.
    #[arg(long)]
    pub fix_plan: bool,

    /// Lowest severity that makes the exit code 1 [default: low, i.e. any finding].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// Lint configuration (rules to enable or disable, extra names, placeholders) [default:
    /// .sealant.toml in the current directory, if any].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Turn rules off (comma-separated ids), on top of the configuration file.
    #[arg(long, value_name = "RULES", value_delimiter = ',')]
    pub disable: Vec<String>,

    /// How much of a leaked value reports show (see `sealant lint --help`).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = RedactMode::Partial)]
    pub redact: RedactMode,

    /// Do not print what was skipped and why.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Runs `sealant audit`; the exit code is 0, 1 (findings) or 2 (errors).
pub fn audit(kube: &KubeArgs, args: AuditArgs) -> CliResult<u8> {
    let mut settings = load_settings(args.config.as_deref())?;
    for id in &args.disable {
        settings.disable(id.parse::<Code>().map_err(CliError::input)?);
    }
    let mut report = Report {
        unit: Unit::Objects,
        ..Report::default()
    };
    let mut each = |found: Listed| match found {
        Listed::Object(object) => {
            let (findings, problems) = scanning::scan_object(object, &settings);
            report.files_scanned += 1;
            report.findings.extend(findings);
            report.diagnostics.extend(problems);
        }
        Listed::Note(note) => report.diagnostics.push(note),
    };
    let skipped = cluster::block_on(listing::list_all(
        kube,
        args.namespace.as_deref(),
        &mut each,
    ))??;
    report.redact(args.redact.redaction());

    if !args.quiet {
        for d in &report.diagnostics {
            eprintln!("sealant: warning: {}: {}", d.path, d.message);
        }
        for (what, count) in &skipped {
            eprintln!("sealant: skipped {count} × {what}");
        }
    }
    let rendered = if args.fix_plan {
        fix_plan::fix_plan(&report.findings)
    } else {
        let format = args.output.unwrap_or(OutputFormat::Text).format();
        sealant_lint::render(&report, format, Counts::default())
    };
    args.write.emit(&rendered)?;
    Ok(u8::from(failing(&report, args.fail_on, &settings)))
}

fn load_settings(path: Option<&std::path::Path>) -> CliResult<Settings> {
    match path {
        Some(path) => Settings::load(path, true),
        None => Settings::load(std::path::Path::new(CONFIG_FILE), false),
    }
    .map_err(|e| CliError::input(e.to_string()))
}
