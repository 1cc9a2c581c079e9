//! A real Kubernetes control plane for sealant's tests, started the way envtest does it in the
//! Kubernetes ecosystem: from a folder of assets named by an environment variable.
//!
//! # Assets
//!
//! `SEALANT_K8S_ASSETS` (if set), else `KUBEBUILDER_ASSETS` (the envtest convention, so a folder
//! made by `setup-envtest use` works), names a folder holding `kube-apiserver` and, for garbage
//! collection, `kube-controller-manager`. `etcd` is taken from that folder, else from `PATH`
//! (Debian: `apt-get install etcd-server`). In this project's dev environment the Kubernetes
//! binaries are in `../shared/k8s/bin`.
//!
//! Without assets, [`assets_or_skip`] and [`ControlPlane::shared`] print one line saying how to
//! get them and the test returns early; with `CI=true` missing assets fail the test instead.
//!
//! # What runs
//!
//! etcd (plain HTTP on 127.0.0.1), kube-apiserver (HTTPS on 127.0.0.1, client-certificate and
//! ServiceAccount-token authentication, anonymous off, `--authorization-mode=RBAC`, Pod Security
//! admission as built in, privileged Pods allowed as kubeadm does, a Metadata-level JSON audit log)
//! and kube-controller-manager (garbage collector, namespace, serviceaccount, deployment and
//! replicaset controllers). Every port is free-picked, so several
//! control planes (and test binaries) run side by side. Certificates are generated fresh (ECDSA
//! P-256, rcgen).
//!
//! Everything started is stopped when the [`ControlPlane`] is dropped (also while unwinding from
//! a panic). A small `sh` reaper started first holds a pipe from the test process; when the test
//! process ends in any way (a shared control plane is a static and is never dropped, or the
//! process is killed), the pipe closes and the reaper kills every recorded process (SIGKILL: the
//! data is throwaway) and removes the working folder. `SEALANT_ENVTEST_KEEP=1` keeps the folder (logs, audit log, kubeconfigs).

mod pki;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

/// The sealant-named assets variable; wins over [`ASSETS_ENV`] when both are set.
pub const SEALANT_ASSETS_ENV: &str = "SEALANT_K8S_ASSETS";
/// The envtest convention for the assets folder.
pub const ASSETS_ENV: &str = "KUBEBUILDER_ASSETS";
/// Set to `1` to keep the control plane's folder (logs, audit log, kubeconfigs) after it stops.
pub const KEEP_ENV: &str = "SEALANT_ENVTEST_KEEP";

/// How to get the assets, for the skip line and the CI failure.
pub const HOW_TO_GET_ASSETS: &str = "set KUBEBUILDER_ASSETS (or SEALANT_K8S_ASSETS) to a folder \
     with kube-apiserver and kube-controller-manager v1.24+ (`setup-envtest use 1.24.x` fills one \
     that is found without a variable) and install etcd (apt-get install etcd-server); see \
     tests/envtest/README.md";

/// How long the control plane may take to come up before starting fails.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Why the control plane could not be found, started or used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Assets(String),
    #[error("certificates: {0}")]
    Pki(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Start(String),
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let what = what.into();
    move |source| Error::Kube { what, source }
}

/// The binaries a control plane is made of.
#[derive(Debug, Clone)]
pub struct Assets {
    /// The folder the variable named.
    pub dir: PathBuf,
    pub etcd: PathBuf,
    pub kube_apiserver: PathBuf,
    /// Absent: no garbage collector (see [`Options::garbage_collector`]).
    pub kube_controller_manager: Option<PathBuf>,
    /// `kubectl` from the folder, else from `PATH` (if there).
    pub kubectl: Option<PathBuf>,
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| executable(candidate))
}

impl Assets {
    /// The assets named by [`SEALANT_ASSETS_ENV`] or [`ASSETS_ENV`], else the newest folder that
    /// `setup-envtest use` filled on this machine; `Ok(None)` when there is none.
    pub fn from_env() -> Result<Option<Assets>, Error> {
        for var in [SEALANT_ASSETS_ENV, ASSETS_ENV] {
            if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                return Assets::in_dir(Path::new(&value))
                    .map(Some)
                    .map_err(|e| Error::Assets(format!("{var}: {e}")));
            }
        }
        Ok(setup_envtest_dir().and_then(|dir| Assets::in_dir(&dir).ok()))
    }

    /// The assets in `dir` (etcd and kubectl may come from `PATH` instead).
    pub fn in_dir(dir: &Path) -> Result<Assets, Error> {
        if !dir.is_dir() {
            return Err(Error::Assets(format!(
                "{} is not a folder (it must hold kube-apiserver)",
                dir.display()
            )));
        }
        let kube_apiserver = dir.join("kube-apiserver");
        if !executable(&kube_apiserver) {
            return Err(Error::Assets(format!(
                "{} is missing or not executable",
                kube_apiserver.display()
            )));
        }
        let in_dir = |name: &str| Some(dir.join(name)).filter(|p| executable(p));
        let etcd = in_dir("etcd").or_else(|| on_path("etcd")).ok_or_else(|| {
            Error::Assets(format!(
                "etcd is neither in {} nor on PATH (apt-get install etcd-server)",
                dir.display()
            ))
        })?;
        Ok(Assets {
            dir: dir.to_path_buf(),
            etcd,
            kube_apiserver,
            kube_controller_manager: in_dir("kube-controller-manager"),
            kubectl: in_dir("kubectl").or_else(|| on_path("kubectl")),
        })
    }
}

/// The assets for a test, or `None` after printing a skip line. Panics when the variable names
/// a folder without the binaries, and when no assets are set and `CI=true`: CI must run these
/// tests, not skip them. Each call counts as one real-server test in the run's report.
pub fn assets_or_skip() -> Option<Assets> {
    let assets = find_assets_or_skip();
    record(assets.is_some());
    assets
}

fn find_assets_or_skip() -> Option<Assets> {
    match Assets::from_env() {
        Ok(Some(assets)) => Some(assets),
        Ok(None) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true and no Kubernetes assets: the real-API-server tests must run in CI; \
                 {HOW_TO_GET_ASSETS}"
            )
        }
        Ok(None) => None,
        Err(e) => panic!("{e}"),
    }
}

/// The variable naming the file where each real-server test appends `ran NAME` or
/// `skipped NAME`; `scripts/test.sh` sets it and prints the count as the run's last line.
pub const REPORT_ENV: &str = "SEALANT_TEST_REPORT";

/// Notes that the calling test ran on a real control plane or was skipped: a line in the report
/// file when one is set, and a skip line on the process's real stderr either way (libtest
/// captures `eprintln!` of passing tests, so a skip would otherwise be silent).
fn record(ran: bool) {
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_string();
    if let Some(path) = std::env::var_os(REPORT_ENV).filter(|p| !p.is_empty()) {
        let line = format!("{} {test}\n", if ran { "ran" } else { "skipped" });
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = file.write_all(line.as_bytes());
        }
    }
    if !ran {
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: {test}: no Kubernetes assets for the real-API-server tests; {HOW_TO_GET_ASSETS}"
        );
    }
}

/// The newest `k8s/<version>-<os>-<arch>` folder under setup-envtest's default store
/// (`$XDG_DATA_HOME/kubebuilder-envtest`, else `~/.local/share/kubebuilder-envtest`; on macOS
/// `~/Library/Application Support/io.kubebuilder.envtest`) that holds a kube-apiserver.
fn setup_envtest_dir() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut stores = Vec::new();
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        stores.push(PathBuf::from(data).join("kubebuilder-envtest"));
    }
    if let Some(home) = &home {
        stores.push(home.join(".local/share/kubebuilder-envtest"));
        stores.push(home.join("Library/Application Support/io.kubebuilder.envtest"));
    }
    stores.into_iter().find_map(|store| {
        let mut versions: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(store.join("k8s"))
            .ok()?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|dir| executable(&dir.join("kube-apiserver")))
            .map(|dir| {
                let name = dir.file_name().unwrap_or_default().to_string_lossy();
                let version = name
                    .split('-')
                    .next()
                    .unwrap_or_default()
                    .split('.')
                    .map(|part| part.parse().unwrap_or(0))
                    .collect();
                (version, dir)
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, dir)| dir)
    })
}

/// What to start besides etcd and the API server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Start kube-controller-manager (garbage collector, namespace, serviceaccount, deployment and
    /// replicaset controllers).
    pub garbage_collector: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            garbage_collector: true,
        }
    }
}

/// A process started by a test through [`ControlPlane::spawn`]: killed when dropped, and by the
/// reaper if the test process dies first.
pub struct Process {
    name: String,
    child: Child,
}

impl Process {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The exit status if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Asks the process to stop (SIGTERM) and waits up to `grace` for it, then kills it. Returns
    /// the exit status when it stopped by itself.
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        None
    }

    /// The child, for its pipes.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running etcd + kube-apiserver (+ kube-controller-manager) on loopback.
pub struct ControlPlane {
    dir: PathBuf,
    server: String,
    assets: Assets,
    authority: pki::Authority,
    admin_kubeconfig: PathBuf,
    audit_log: PathBuf,
    /// The control plane's own processes, in start order.
    processes: Mutex<Vec<Process>>,
    /// How each of them was started (program and arguments), for [`ControlPlane::restart`].
    commands: Mutex<Vec<(String, std::ffi::OsString, Vec<std::ffi::OsString>)>>,
    /// The reaper's stdin: a line per process id to stop should the test process die.
    reaper_pipe: Mutex<Option<ChildStdin>>,
    reaper: Mutex<Option<Child>>,
    files: AtomicUsize,
}

/// A free TCP port on 127.0.0.1 (free when asked; the process binds it right after).
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("picking a port"))?;
    Ok(listener.local_addr().map_err(io("picking a port"))?.port())
}

/// Writes `contents` to `path` atomically, readable by the owner only.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io(path.display().to_string()))?;
    file.write_all(contents)
        .map_err(io(path.display().to_string()))?;
    file.persist(path)
        .map_err(|e| io(path.display().to_string())(e.error))?;
    Ok(())
}

/// Runs a future to completion on a private runtime in its own thread, so it works both from
/// plain tests and from inside another Tokio runtime.
fn block_on<F>(future: F) -> Result<F::Output, Error>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(io("starting a Tokio runtime"))?;
                Ok(runtime.block_on(future))
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The last lines of a log file, for a start failure.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Reads a kubeconfig file into a client configuration.
pub async fn config_from(kubeconfig: &Path) -> Result<kube::Config, Error> {
    let file = Kubeconfig::read_from(kubeconfig)
        .map_err(|e| Error::Start(format!("reading {}: {e}", kubeconfig.display())))?;
    kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Start(format!("loading {}: {e}", kubeconfig.display())))
}

/// A client for a kubeconfig file; must be called inside a Tokio runtime.
pub async fn client_from(kubeconfig: &Path) -> Result<Client, Error> {
    let config = config_from(kubeconfig).await?;
    Client::try_from(config).map_err(kube_err(format!("client for {}", kubeconfig.display())))
}

const REAPER: &str = r#"
trap '' HUP INT TERM PIPE
pids=
while read -r pid; do pids="$pid $pids"; done
for p in $pids; do kill -KILL "$p" 2>/dev/null; done
[ "$2" = 1 ] || rm -rf "$1"
"#;

const AUDIT_POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    users: ["system:apiserver", "system:kube-controller-manager", "system:kube-scheduler"]
  - level: None
    userGroups: ["system:serviceaccounts:kube-system"]
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version"]
  - level: Metadata
"#;

static SHARED: OnceLock<Option<ControlPlane>> = OnceLock::new();

impl ControlPlane {
    /// The control plane shared by every test of this test binary (started on first use, with
    /// the garbage collector), or `None` after printing a skip line. Tests sharing it keep to
    /// their own namespaces. Panics if it cannot start.
    pub fn shared() -> Option<&'static ControlPlane> {
        let plane = SHARED
            .get_or_init(|| {
                find_assets_or_skip().map(|assets| {
                    ControlPlane::start(&assets, Options::default())
                        .unwrap_or_else(|e| panic!("starting the shared control plane: {e}"))
                })
            })
            .as_ref();
        record(plane.is_some());
        plane
    }

    /// Starts a control plane of its own (stopped when dropped).
    pub fn start(assets: &Assets, options: Options) -> Result<ControlPlane, Error> {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("sealant-envtest-")
            .tempdir()
            .map_err(io("creating the control plane's folder"))?
            .keep();
        let keep = std::env::var(KEEP_ENV).is_ok_and(|v| v == "1");
        let mut reaper = Command::new("sh")
            .arg("-c")
            .arg(REAPER)
            .arg("sealant-envtest-reaper")
            .arg(&dir)
            .arg(if keep { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C meant for the tests must not stop the reaper.
            .process_group(0)
            .spawn()
            .map_err(io("starting the reaper (sh)"))?;
        let reaper_pipe = reaper.stdin.take();

        let authority = pki::Authority::new()?;
        let port = free_port()?;
        let server = format!("https://127.0.0.1:{port}");
        let plane = ControlPlane {
            admin_kubeconfig: dir.join("admin.kubeconfig"),
            audit_log: dir.join("audit.log"),
            dir,
            server,
            assets: assets.clone(),
            authority,
            processes: Mutex::new(Vec::new()),
            commands: Mutex::new(Vec::new()),
            reaper_pipe: Mutex::new(reaper_pipe),
            reaper: Mutex::new(Some(reaper)),
            files: AtomicUsize::new(0),
        };
        plane.boot(port, &options)?;
        if std::env::var_os("SEALANT_ENVTEST_VERBOSE").is_some() {
            eprintln!(
                "envtest: control plane at {} ready in {:.1}s ({})",
                plane.server,
                started.elapsed().as_secs_f64(),
                plane.dir.display()
            );
        }
        Ok(plane)
    }

    fn boot(&self, apiserver_port: u16, options: &Options) -> Result<(), Error> {
        let dir = &self.dir;
        let pki_dir = dir.join("pki");
        std::fs::create_dir_all(&pki_dir).map_err(io("creating pki/"))?;
        let file = |name: &str| pki_dir.join(name);
        write_private(&file("ca.crt"), self.authority.cert_pem.as_bytes())?;
        let serving = self.authority.serving()?;
        write_private(&file("apiserver.crt"), serving.cert_pem.as_bytes())?;
        write_private(&file("apiserver.key"), serving.key_pem.as_bytes())?;
        let (sa_key, sa_pub) = pki::service_account_key()?;
        write_private(&file("sa.key"), sa_key.as_bytes())?;
        write_private(&file("sa.pub"), sa_pub.as_bytes())?;
        let policy = dir.join("audit-policy.yaml");
        write_private(&policy, AUDIT_POLICY.as_bytes())?;

        let admin = self
            .authority
            .client("kubernetes-admin", &["system:masters"])?;
        self.write_kubeconfig(&self.admin_kubeconfig, "admin", Credential::Cert(&admin))?;

        // ---- etcd ----
        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let client_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut etcd = Command::new(&self.assets.etcd);
        etcd.args(["--name", "envtest", "--data-dir"])
            .arg(dir.join("etcd"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("envtest={peer_url}")])
            .args(["--listen-metrics-urls", ""]);
        self.start_process("etcd", etcd)?;
        self.wait_until("etcd", || Ok(etcd_healthy(etcd_port)))?;

        // ---- kube-apiserver ----
        let mut apiserver = Command::new(&self.assets.kube_apiserver);
        apiserver
            .arg(format!("--etcd-servers={client_url}"))
            .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
            .arg(format!("--secure-port={apiserver_port}"))
            .arg(format!(
                "--tls-cert-file={}",
                file("apiserver.crt").display()
            ))
            .arg(format!(
                "--tls-private-key-file={}",
                file("apiserver.key").display()
            ))
            .arg(format!("--client-ca-file={}", file("ca.crt").display()))
            .args(["--anonymous-auth=false", "--authorization-mode=RBAC"])
            // As kubeadm and kind set it: privileged Pods are Pod Security's business, so the
            // seed guide's vulnerable Pod can exist in a test cluster as it does in real ones.
            .arg("--allow-privileged=true")
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!(
                "--service-account-signing-key-file={}",
                file("sa.key").display()
            ))
            .arg(format!(
                "--service-account-key-file={}",
                file("sa.pub").display()
            ))
            .arg("--service-cluster-ip-range=10.96.0.0/16")
            .arg(format!("--audit-policy-file={}", policy.display()))
            .arg(format!("--audit-log-path={}", self.audit_log.display()))
            .args(["--audit-log-format=json", "--audit-log-mode=blocking"])
            .args(["--profiling=false", "--v=1"]);
        self.start_process("kube-apiserver", apiserver)?;
        let admin_kubeconfig = self.admin_kubeconfig.clone();
        self.wait_until("kube-apiserver /readyz", || {
            block_on(async {
                let Ok(client) = client_from(&admin_kubeconfig).await else {
                    return false;
                };
                let request = http::Request::get("/readyz").body(Vec::new());
                let Ok(request) = request else { return false };
                // The RBAC bootstrap roles come from a post-start hook; wait for them too.
                client.request_text(request).await.is_ok_and(|t| t == "ok")
                    && Api::<ClusterRole>::all(client)
                        .get_opt("system:kube-controller-manager")
                        .await
                        .is_ok_and(|r| r.is_some())
            })
        })?;

        // ---- kube-controller-manager ----
        if options.garbage_collector {
            let Some(kcm) = &self.assets.kube_controller_manager else {
                return Err(Error::Assets(format!(
                    "{}/kube-controller-manager is missing (the garbage collector needs it)",
                    self.assets.dir.display()
                )));
            };
            let identity = self
                .authority
                .client("system:kube-controller-manager", &[])?;
            let kubeconfig = dir.join("controller-manager.kubeconfig");
            self.write_kubeconfig(
                &kubeconfig,
                "system:kube-controller-manager",
                Credential::Cert(&identity),
            )?;
            let mut command = Command::new(kcm);
            command
                .arg(format!("--kubeconfig={}", kubeconfig.display()))
                .arg("--use-service-account-credentials=true")
                // The workload controllers too, so a Deployment has its ReplicaSet and Pods
                // (Pending: there is no scheduler or kubelet) as in a real cluster.
                .arg(
                    "--controllers=garbagecollector,namespace,serviceaccount,deployment,replicaset",
                )
                .args(["--leader-elect=false", "--bind-address=127.0.0.1"])
                .args(["--secure-port=0", "--v=1"]);
            self.start_process("kube-controller-manager", command)?;
        }
        Ok(())
    }

    /// Polls `ready` every 100 ms until it holds, failing early (with the log's tail) if one of
    /// the control plane's processes exits.
    fn wait_until(
        &self,
        what: &str,
        mut ready: impl FnMut() -> Result<bool, Error>,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ready()? {
                return Ok(());
            }
            {
                let mut processes = self.processes.lock().unwrap_or_else(|e| e.into_inner());
                for process in processes.iter_mut() {
                    if let Some(status) = process.try_wait() {
                        let log = self.dir.join(format!("{}.log", process.name));
                        return Err(Error::Start(format!(
                            "{} exited ({status}) while waiting for {what}; {}:\n{}",
                            process.name,
                            log.display(),
                            tail(&log)
                        )));
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(Error::Start(format!(
                    "{what} not ready after {}s; logs in {}",
                    START_TIMEOUT.as_secs(),
                    self.dir.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn start_process(&self, name: &str, mut command: Command) -> Result<(), Error> {
        {
            let mut commands = self.commands.lock().unwrap_or_else(|e| e.into_inner());
            commands.retain(|(n, _, _)| n != name);
            commands.push((
                name.to_string(),
                command.get_program().to_os_string(),
                command.get_args().map(|a| a.to_os_string()).collect(),
            ));
        }
        let log_path = self.dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).map_err(io(log_path.display().to_string()))?;
        let err = log
            .try_clone()
            .map_err(io(log_path.display().to_string()))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err));
        let process = self.spawn(name, command)?;
        self.processes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(process);
        Ok(())
    }

    /// Starts `command` as a process this control plane's reaper stops should the test process
    /// die; the returned [`Process`] kills it when dropped. stdio is left as the command sets it.
    pub fn spawn(&self, name: &str, mut command: Command) -> Result<Process, Error> {
        let child = command
            .spawn()
            .map_err(io(format!("starting {name} ({:?})", command.get_program())))?;
        if let Some(pipe) = self
            .reaper_pipe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            // A reaper that is gone cannot help; the Process still stops on drop.
            let _ = writeln!(pipe, "{}", child.id());
        }
        Ok(Process {
            name: name.to_string(),
            child,
        })
    }

    /// Kills the control plane's own process `name` and starts it again with the same command
    /// line (for kube-apiserver: waits until it serves again). Its watch cache starts afresh, so
    /// clients watching from an older resourceVersion get 410 Gone and must list again.
    pub fn restart(&self, name: &str) -> Result<(), Error> {
        let (program, args) = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, p, a)| (p.clone(), a.clone()))
            .ok_or_else(|| Error::Start(format!("no control plane process named {name}")))?;
        {
            let mut processes = self.processes.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(index) = processes.iter().position(|p| p.name == name) {
                let mut old = processes.remove(index);
                old.kill();
            }
        }
        let mut command = Command::new(program);
        command.args(args);
        self.start_process(name, command)?;
        if name == "kube-apiserver" {
            let admin_kubeconfig = self.admin_kubeconfig.clone();
            self.wait_until("kube-apiserver /readyz after a restart", || {
                block_on(async {
                    let Ok(client) = client_from(&admin_kubeconfig).await else {
                        return false;
                    };
                    let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else {
                        return false;
                    };
                    client.request_text(request).await.is_ok_and(|t| t == "ok")
                })
            })?;
        }
        Ok(())
    }

    /// Freezes (`SIGSTOP`) the control plane's own process `name` (`etcd`, `kube-apiserver`,
    /// `kube-controller-manager`), as a frozen VM or a stalled disk would; [`ControlPlane::resume`]
    /// thaws it. Fault tests use it.
    pub fn pause(&self, name: &str) -> Result<(), Error> {
        self.signal(name, "-STOP")
    }

    /// Thaws a process [`ControlPlane::pause`] froze (`SIGCONT`).
    pub fn resume(&self, name: &str) -> Result<(), Error> {
        self.signal(name, "-CONT")
    }

    fn signal(&self, name: &str, signal: &str) -> Result<(), Error> {
        let pid = self
            .processes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.child.id())
            .ok_or_else(|| Error::Start(format!("no control plane process named {name}")))?;
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .map_err(io(format!("kill {signal} {name}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Start(format!(
                "kill {signal} {name} ({pid}) failed: {status}"
            )))
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The working folder (logs, kubeconfigs, audit log); removed when the control plane stops.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A kubeconfig for `kubernetes-admin` in `system:masters`.
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// The assets this control plane runs.
    pub fn assets(&self) -> &Assets {
        &self.assets
    }

    /// `kubectl` from the assets folder or `PATH`, if there is one.
    pub fn kubectl(&self) -> Option<&Path> {
        self.assets.kubectl.as_deref()
    }

    /// The CA certificate (PEM) the API server's serving certificate chains to.
    pub fn ca_pem(&self) -> &str {
        &self.authority.cert_pem
    }

    /// An admin client; call inside a Tokio runtime.
    pub async fn admin_client(&self) -> Result<Client, Error> {
        client_from(&self.admin_kubeconfig).await
    }

    fn next_file(&self, stem: &str) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        let safe: String = stem
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.dir.join(format!("{safe}-{n}.kubeconfig"))
    }

    /// A kubeconfig for `user` in `groups` (a client certificate: CN = user, O = group; at most
    /// two groups). Every authenticated user is also in `system:authenticated`.
    pub fn user_kubeconfig(&self, user: &str, groups: &[&str]) -> Result<PathBuf, Error> {
        let pair = self.authority.client(user, groups)?;
        let path = self.next_file(&format!("user-{user}"));
        self.write_kubeconfig(&path, user, Credential::Cert(&pair))?;
        Ok(path)
    }

    /// A client for `user` in `groups`; call inside a Tokio runtime.
    pub async fn user_client(&self, user: &str, groups: &[&str]) -> Result<Client, Error> {
        client_from(&self.user_kubeconfig(user, groups)?).await
    }

    /// A token of the ServiceAccount `namespace/name` (TokenRequest, valid one hour). The
    /// ServiceAccount must exist.
    pub fn service_account_token(&self, namespace: &str, name: &str) -> Result<String, Error> {
        let admin = self.admin_kubeconfig.clone();
        block_on(async move {
            let client = client_from(&admin).await?;
            let api: Api<ServiceAccount> = Api::namespaced(client, namespace);
            let request = TokenRequest {
                spec: TokenRequestSpec {
                    audiences: vec![],
                    expiration_seconds: Some(3600),
                    ..TokenRequestSpec::default()
                },
                ..TokenRequest::default()
            };
            let response: TokenRequest = api
                .create_subresource("token", name, &PostParams::default(), &request)
                .await
                .map_err(kube_err(format!(
                    "requesting a token for ServiceAccount {namespace}/{name}"
                )))?;
            response
                .status
                .map(|s| s.token)
                .ok_or_else(|| Error::Start(format!("no token in the TokenRequest for {name}")))
        })?
    }

    /// A kubeconfig authenticating as the ServiceAccount `namespace/name` with a fresh token, its
    /// namespace as the default.
    pub fn service_account_kubeconfig(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<PathBuf, Error> {
        let token = self.service_account_token(namespace, name)?;
        let path = self.next_file(&format!("sa-{namespace}-{name}"));
        let user = format!("system:serviceaccount:{namespace}:{name}");
        self.write_kubeconfig_ns(&path, &user, Credential::Token(&token), Some(namespace))?;
        Ok(path)
    }

    /// A client for the ServiceAccount `namespace/name`; call inside a Tokio runtime.
    pub async fn service_account_client(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Client, Error> {
        client_from(&self.service_account_kubeconfig(namespace, name)?).await
    }

    fn write_kubeconfig(&self, path: &Path, user: &str, cred: Credential) -> Result<(), Error> {
        self.write_kubeconfig_ns(path, user, cred, None)
    }

    fn write_kubeconfig_ns(
        &self,
        path: &Path,
        user: &str,
        cred: Credential,
        namespace: Option<&str>,
    ) -> Result<(), Error> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let credentials = match cred {
            Credential::Cert(pair) => serde_json::json!({
                "client-certificate-data": b64(&pair.cert_pem),
                "client-key-data": b64(&pair.key_pem),
            }),
            Credential::Token(token) => serde_json::json!({ "token": token }),
        };
        let mut context = serde_json::json!({ "cluster": "envtest", "user": user });
        if let Some(ns) = namespace {
            context["namespace"] = ns.into();
        }
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": "envtest", "cluster": {
                "server": self.server,
                "certificate-authority-data": b64(&self.authority.cert_pem),
            }}],
            "users": [{ "name": user, "user": credentials }],
            "contexts": [{ "name": "envtest", "context": context }],
            "current-context": "envtest",
        });
        let text = serde_json::to_vec_pretty(&config)
            .map_err(|e| Error::Start(format!("encoding {}: {e}", path.display())))?;
        write_private(path, &text)
    }

    /// The audit log so far: one JSON object per request (Metadata level: user, verb, resource,
    /// response code), excluding the control plane's own components and health checks.
    pub fn audit_events(&self) -> Result<Vec<serde_json::Value>, Error> {
        let text = match std::fs::read_to_string(&self.audit_log) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(self.audit_log.display().to_string())(e)),
        };
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }

    /// How many requests `user` made, by verb (`get`, `list`, `watch`, `create`, `patch`, ...).
    /// A ServiceAccount's user is `system:serviceaccount:NAMESPACE:NAME`.
    pub fn requests_by_verb(&self, user: &str) -> Result<BTreeMap<String, u64>, Error> {
        let mut counts = BTreeMap::new();
        for event in self.audit_events()? {
            if event["user"]["username"] == user
                && let Some(verb) = event["verb"].as_str()
            {
                *counts.entry(verb.to_string()).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    /// Stops everything (the same as dropping it).
    pub fn stop(self) {}
}

enum Credential<'a> {
    Cert(&'a pki::Pair),
    Token(&'a str),
}

fn etcd_healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.contains(r#""health":"true""#)
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let mut processes =
            std::mem::take(&mut *self.processes.lock().unwrap_or_else(|e| e.into_inner()));
        while let Some(mut process) = processes.pop() {
            process.kill();
        }
        // Closing the pipe lets the reaper finish: nothing left to stop, it removes the folder.
        drop(
            self.reaper_pipe
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        if let Some(mut reaper) = self.reaper.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = reaper.wait();
        }
        if std::env::var(KEEP_ENV).is_ok_and(|v| v == "1") {
            eprintln!("envtest: kept {}", self.dir.display());
        }
    }
}
