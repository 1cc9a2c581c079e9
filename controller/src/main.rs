//! `sealant-controller`: argument parsing, logging, the Kubernetes client and signals; the rest
//! is in the library ([`sealant_controller::run`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use jiff::Timestamp;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, CustomResourceExt};
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

use sealant_controller::Config;
use sealant_controller::errors::error_chain;
use sealant_controller::leader::LeaseTiming;
use sealant_core::resource::SealedSecret;

/// Where a pod's service account namespace is mounted.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Unseals SealedSecrets into Secrets, manages the sealing keys and serves the public key.
#[derive(Parser, Debug)]
#[command(
    name = "sealant-controller",
    version,
    after_help = "Examples:\n  \
      $ sealant-controller --namespace sealant --log-format json\n  \
      $ sealant-controller --kubeconfig ~/.kube/config --watch-namespaces team-a,team-b --leader-election=false\n  \
      $ sealant-controller crd > deploy/crd.yaml\n\n\
      Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a startup or runtime error, 2 on bad arguments."
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Namespace of the keys, the public-key ConfigMap and the Lease.
    ///
    /// Defaults to $POD_NAMESPACE, else the pod's service account namespace, else the
    /// kubeconfig's namespace.
    #[arg(long, env = "POD_NAMESPACE")]
    namespace: Option<String>,

    /// Namespaces whose SealedSecrets are reconciled, comma separated (empty: all).
    #[arg(long, value_delimiter = ',', default_value = "")]
    watch_namespaces: Vec<String>,

    /// Generate a new sealing key when the newest is this old (e.g. 720h, 30d; 0 disables).
    #[arg(long, default_value = "30d", value_parser = parse_duration)]
    key_renew_period: Duration,

    /// Generate a new key at start if the newest was created before this time (RFC 3339).
    #[arg(long)]
    key_cutoff: Option<Timestamp>,

    /// Address of the HTTP server (health, metrics, public key, verify, rotate).
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen_addr: SocketAddr,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Log filter, e.g. `info` or `sealant_controller=debug,kube=info` (RUST_LOG syntax).
    #[arg(long, default_value = "info")]
    log_level: String,

    /// Kubeconfig file (default: in-cluster config, else $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,

    /// Elect a leader through the Lease `sealant-controller` so several replicas can run.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,

    /// Lease duration (how long a dead leader keeps the lease). Must exceed the renew deadline
    /// by at least a tenth of itself.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    lease_duration: Duration,

    /// How long a leader keeps reconciling without renewing the lease; it then stops writing.
    /// Must exceed 1.2 times the retry period; each Lease call may take at most this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    lease_renew_deadline: Duration,

    /// How often replicas try to acquire or renew the lease.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    lease_retry_period: Duration,

    /// The deadline of each API call except watches (0: none).
    ///
    /// Each call of a reconcile (read, write, status, Event) has its own: over a slow network a
    /// reconcile takes longer but still finishes.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    api_call_timeout: Duration,

    /// /readyz says not-ready when, while leading, reconciles and watches have only failed for
    /// this long (0: never).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    unready_after: Duration,

    /// While the API server is unreachable, log one summary line per this period (0: none).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    outage_summary_period: Duration,

    /// How many SealedSecrets are reconciled at once (0: unlimited).
    #[arg(long, default_value_t = 64)]
    concurrency: u16,

    /// Type of the keys generated from now on: x25519, or xwing (post-quantum hybrid, ML-KEM-768 +
    /// X25519; 1.6 kB public keys, 1.1 kB more per value and recipient). Existing keys keep opening.
    /// A new key is never of a weaker type than the newest existing key (x25519 after xwing)
    /// unless --allow-key-type-downgrade is given.
    #[arg(long, default_value = "x25519")]
    key_type: sealant_core::keys::KeyType,

    /// Let a new key be x25519 although the newest existing key is xwing: new values then lose
    /// their post-quantum protection.
    #[arg(long)]
    allow_key_type_downgrade: bool,

    /// Also unseal SealedSecrets in the controller's own namespace (where the private keys are).
    #[arg(long)]
    reconcile_controller_namespace: bool,

    /// Credential-minting Secret types that SealedSecret templates may use, comma separated
    /// (kubernetes.io/service-account-token, bootstrap.kubernetes.io/token; refused by default).
    #[arg(long, value_delimiter = ',', value_parser = parse_minting_type)]
    allow_secret_types: Vec<String>,

    /// Serve a page at /ui that seals Secrets in the browser with the newest public key (off by
    /// default; the page never sends a plaintext, see docs/web.md).
    #[arg(long)]
    web_ui: bool,
    /// Unseal cluster-wide values only in namespaces whose labels match this selector (key=value
    /// or key, comma separated, all must match; e.g. sealant.dev/cluster-wide=allowed). Default:
    /// every namespace. Others get Synced=False, reason ClusterWideNotAllowed.
    #[arg(long, value_name = "SELECTOR")]
    cluster_wide_namespaces: Option<sealant_controller::policy::NamespaceSelector>,
}

/// One of the credential-minting Secret types (every other type is allowed anyway).
fn parse_minting_type(text: &str) -> Result<String, String> {
    let text = text.trim();
    if sealant_controller::policy::CREDENTIAL_MINTING_TYPES.contains(&text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' is not a restricted type; only {} need allowing",
            sealant_controller::policy::CREDENTIAL_MINTING_TYPES.join(" and ")
        ))
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the SealedSecret CustomResourceDefinition as YAML.
    Crd,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// A duration: whole numbers with units d, h, m, s (e.g. `30d`, `720h`, `1h30m`), or `0`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("unknown unit '{c}' in '{text}' (use d, h, m or s)")),
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("missing number before '{c}' in '{text}'"))?;
        total = total.saturating_add(Duration::from_secs(n.saturating_mul(unit)));
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(format!(
            "'{text}' needs a unit (d, h, m or s), e.g. 30d or 720h"
        ));
    }
    Ok(total)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Crd) = args.command {
        return match serde_yaml::to_string(&SealedSecret::crd()) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("sealant-controller: encoding the CRD: {err}");
                ExitCode::from(1)
            }
        };
    }
    if let Err(message) = init_logging(args.log_format, &args.log_level) {
        eprintln!("sealant-controller: {message}");
        return ExitCode::from(2);
    }
    if args.leader_election
        && let Err(error) = lease_timing(&args).validate()
    {
        eprintln!("sealant-controller: {error}");
        return ExitCode::from(2);
    }
    match start(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::from(1)
        }
    }
}

/// The log filter for `--log-level`. kube's client logs an ERROR line for every failed request
/// (thousands a minute during an outage); the controller reports failures itself, so that
/// target is off unless the filter names it.
fn log_filter(level: &str) -> Result<EnvFilter, String> {
    let directives = if level.contains("kube_client") {
        level.to_string()
    } else {
        format!("{level},kube_client::client::builder=off")
    };
    EnvFilter::try_new(directives).map_err(|e| format!("--log-level {level}: {e}"))
}

/// Colours only on a terminal, and never with `NO_COLOR` set (https://no-color.org).
fn ansi(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

fn init_logging(format: LogFormat, level: &str) -> Result<(), String> {
    use std::io::IsTerminal;
    let filter = log_filter(level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    }
    .map_err(|e| format!("initialising logging: {e}"))
}

async fn start(args: Args) -> Result<(), String> {
    let client = client(args.kubeconfig.as_ref()).await?;
    // Its own connections for the Lease (see `sealant_controller::run`).
    let lease_client = self::client(args.kubeconfig.as_ref()).await?;
    let namespace = args
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .ok()
                .map(|n| n.trim().to_string())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| client.default_namespace().to_string());
    let mut config = Config::new(namespace, identity());
    config.lease = lease_timing(&args);
    config.watch_namespaces = args
        .watch_namespaces
        .into_iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    config.key_renew_period = Some(args.key_renew_period).filter(|p| !p.is_zero());
    if let Some(cutoff) = args.key_cutoff {
        sealant_controller::policy::check_key_cutoff(cutoff, Timestamp::now())?;
    }
    config.key_cutoff = args.key_cutoff;
    config.leader_election = args.leader_election;
    config.concurrency = args.concurrency;
    config.api_call_timeout = args.api_call_timeout;
    config.unready_after = args.unready_after;
    config.outage_summary_period = args.outage_summary_period;
    config.key_type = args.key_type;
    config.allow_key_type_downgrade = args.allow_key_type_downgrade;
    config.policy.reconcile_controller_namespace = args.reconcile_controller_namespace;
    config.policy.allowed_secret_types = args.allow_secret_types.into_iter().collect();
    config.web_ui = args.web_ui;
    config.policy.cluster_wide_namespaces = args.cluster_wide_namespaces;
    info!(
        namespace = %config.namespace,
        watch_namespaces = ?config.watch_namespaces,
        identity = %config.identity,
        listen = %args.listen_addr,
        "starting sealant-controller {}",
        env!("CARGO_PKG_VERSION")
    );
    sealant_controller::run(
        config,
        client,
        lease_client,
        args.listen_addr,
        shutdown_signal(),
    )
    .await
    .map_err(|e| error_chain(&e))?;
    info!("stopped");
    Ok(())
}

/// The lease timings from the flags (checked in `main` before anything starts).
fn lease_timing(args: &Args) -> LeaseTiming {
    LeaseTiming {
        duration: args.lease_duration,
        renew_deadline: args.lease_renew_deadline,
        retry_period: args.lease_retry_period,
    }
}

/// A client from `--kubeconfig`, else the usual inference (in-cluster, then $KUBECONFIG or
/// ~/.kube/config).
async fn client(kubeconfig: Option<&PathBuf>) -> Result<Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| format!("reading kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("loading kubeconfig {}: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("finding a Kubernetes configuration: {e}"))?,
    };
    Client::try_from(config).map_err(|e| format!("building the Kubernetes client: {e}"))
}

/// This replica's name: $POD_NAME, else hostname and process id.
fn identity() -> String {
    if let Ok(name) = std::env::var("POD_NAME")
        && !name.is_empty()
    {
        return name;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sealant-controller".to_string());
    format!("{host}-{}", std::process::id())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => info!("SIGTERM: shutting down"),
                _ = tokio::signal::ctrl_c() => info!("SIGINT: shutting down"),
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_days_hours_minutes_seconds_and_zero() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("720h"), Ok(Duration::from_secs(720 * 3_600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn flags_parse_with_their_defaults() {
        let args = Args::try_parse_from(["sealant-controller", "--namespace", "sealant"]).unwrap();
        assert_eq!(args.key_renew_period, Duration::from_secs(30 * 86_400));
        assert!(args.leader_election);
        assert!(args.watch_namespaces.iter().all(String::is_empty));
        let args = Args::try_parse_from([
            "sealant-controller",
            "--watch-namespaces",
            "a,b",
            "--leader-election=false",
            "--key-cutoff",
            "2026-01-01T00:00:00Z",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(args.watch_namespaces, vec!["a", "b"]);
        assert!(!args.leader_election);
        assert!(args.key_cutoff.is_some());
        assert!(Args::try_parse_from(["sealant-controller", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(ansi(true, None));
        assert!(
            ansi(true, Some("".into())),
            "an empty NO_COLOR does not count"
        );
        assert!(!ansi(true, Some("1".into())));
        assert!(!ansi(false, None), "a file or a pipe gets no escape codes");
    }

    #[test]
    fn the_client_per_request_error_lines_are_off_unless_asked_for() {
        let filter = log_filter("info").unwrap().to_string();
        assert!(
            filter.contains("kube_client::client::builder=off"),
            "{filter}"
        );
        let filter = log_filter("info,kube_client=debug").unwrap().to_string();
        assert!(!filter.contains("=off"), "{filter}");
        assert!(log_filter("info,[").is_err());
    }
}
