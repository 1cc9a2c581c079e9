//! Helpers for the end-to-end tests: locating the real binaries the workspace builds, and running
//! kubectl and the sealant CLI against a cluster.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Serialises fallback builds so parallel tests do not start several `cargo build`s.
static BUILD: Mutex<()> = Mutex::new(());

/// The path of a workspace binary (`sealant`, `sealant-controller`, `test-apiserver`).
///
/// `cargo test --workspace` builds every binary before running tests, and they sit next to the
/// test's own `deps/` directory. When a test is run alone (`cargo test -p sealant-e2e`), the
/// binary is built on first use.
pub fn binary(name: &str) -> PathBuf {
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .and_then(|deps| deps.parent())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("target/debug"));
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .args(["build", "--bin", name])
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
        assert!(status.success(), "building {name} failed");
    }
    assert!(
        path.exists(),
        "{} does not exist after building",
        path.display()
    );
    path
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether `kubectl` runs.
pub fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A child process killed when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Asserts that a command succeeded and returns its stdout.
pub fn succeeded(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Standard base64, as Secret data holds it.
pub fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// How long [`Kube::wait_for`] and [`Kube::wait_gone`] wait.
const WAIT: Duration = Duration::from_secs(90);
/// How long the polls below rest between two looks (each look is a kubectl or sealant run).
pub const POLL: Duration = Duration::from_millis(100);

/// kubectl and the sealant CLI run against one cluster as one identity (a kubeconfig), in a
/// work directory.
#[derive(Clone)]
pub struct Kube {
    pub kubeconfig: PathBuf,
    pub dir: PathBuf,
    pub kubectl: PathBuf,
}

impl Kube {
    pub fn new(kubeconfig: &Path, dir: &Path) -> Kube {
        Kube {
            kubeconfig: kubeconfig.to_path_buf(),
            dir: dir.to_path_buf(),
            kubectl: PathBuf::from("kubectl"),
        }
    }

    /// The same cluster and directory as another identity.
    pub fn as_user(&self, kubeconfig: &Path) -> Kube {
        Kube {
            kubeconfig: kubeconfig.to_path_buf(),
            ..self.clone()
        }
    }

    /// Runs `program --kubeconfig KC args...` in the work directory, feeding `stdin`.
    pub fn run(&self, program: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
        self.run_with_env(program, args, stdin, &[], &[])
    }

    /// [`Kube::run`] with the environment variables `remove` unset and `set` set.
    pub fn run_with_env(
        &self,
        program: &Path,
        args: &[&str],
        stdin: Option<&[u8]>,
        set: &[(&str, &str)],
        remove: &[&str],
    ) -> Output {
        let mut command = Command::new(program);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in remove {
            command.env_remove(var);
        }
        command.envs(set.iter().copied());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
        let mut input = child.stdin.take().expect("piped stdin");
        if let Some(bytes) = stdin {
            input.write_all(bytes).expect("write stdin");
        }
        drop(input);
        child.wait_with_output().expect("the command finishes")
    }

    /// kubectl with the command line split on spaces.
    pub fn kubectl(&self, command: &str, stdin: Option<&[u8]>) -> Output {
        let args: Vec<&str> = command.split_whitespace().collect();
        self.run(&self.kubectl, &args, stdin)
    }

    /// kubectl with explicit arguments (for values with spaces).
    pub fn kubectl_args(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        self.run(&self.kubectl, args, stdin)
    }

    /// Runs kubectl (the command line split on spaces), asserts success, returns stdout.
    pub fn kubectl_ok(&self, command: &str, stdin: Option<&[u8]>) -> String {
        succeeded(&format!("kubectl {command}"), self.kubectl(command, stdin))
    }

    /// Runs `sealant` (split on spaces), asserts success, returns stdout.
    pub fn sealant(&self, command: &str, stdin: Option<&[u8]>) -> String {
        let args: Vec<&str> = command.split_whitespace().collect();
        let out = self.run(&binary("sealant"), &args, stdin);
        succeeded(&format!("sealant {command}"), out)
    }

    /// Polls `kubectl get ...` until it prints `want` (or anything, when `want` is None).
    pub fn wait_for(&self, command: &str, want: Option<&str>, what: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            let out = self.kubectl(command, None);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            last = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
            let matched = match want {
                Some(w) => text == w,
                None => !text.is_empty(),
            };
            if out.status.success() && matched {
                return text;
            }
            std::thread::sleep(POLL);
        }
        panic!("timed out waiting for {what}; last output: {last}");
    }

    /// Polls `kubectl get ...` until the object is NotFound.
    pub fn wait_gone(&self, command: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let out = self.kubectl(command, None);
            if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound") {
                return;
            }
            std::thread::sleep(POLL);
        }
        panic!("timed out waiting for {what} to be deleted");
    }
}

/// `count` Secrets `PREFIX0..` in `namespace` with `v` = `VALUE<i>`, sealed to the cluster's
/// published key in one `sealant seal` run (a multi-document stream).
pub fn seal_many(admin: &Kube, namespace: &str, prefix: &str, count: usize, value: &str) -> String {
    let mut stream = String::new();
    for i in 0..count {
        stream.push_str(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {prefix}{i}\n  namespace: {namespace}\nstringData:\n  v: {value}{i}\n---\n"
        ));
    }
    admin.sealant("seal", Some(stream.as_bytes()))
}

/// How many Secrets in `namespace` the controller manages whose `v` is `VALUE<i>` for their name
/// `PREFIX<i>`.
pub fn secrets_with(admin: &Kube, namespace: &str, prefix: &str, value: &str) -> usize {
    let out = admin.kubectl(
        &format!(
            "get secrets -n {namespace} -l sealant.dev/managed-by=sealant-controller -o jsonpath={{range.items[*]}}{{.metadata.name}}={{.data.v}}{{\"\\n\"}}{{end}}"
        ),
        None,
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| {
            line.split_once('=').is_some_and(|(name, data)| {
                name.strip_prefix(prefix)
                    .is_some_and(|i| data == b64(&format!("{value}{i}")))
            })
        })
        .count()
}

/// Asserts that `check` holds at every look (every [`POLL`]) for `window`, panicking naming
/// `what` the first time it does not: for what must *not* happen (a retry that must not come),
/// where nothing the test can see says the controller has had its chance. The window is the
/// claim under test, not a wait for something to finish.
pub fn holds_for(what: &str, window: Duration, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + window;
    loop {
        assert!(check(), "{what}");
        if Instant::now() >= end {
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `sample` until it has answered the same for `quiet` (at most `limit` in all), and returns
/// that answer: e.g. a log's line count once the controller has stopped writing about something.
pub fn settled<T: PartialEq + std::fmt::Debug>(
    what: &str,
    quiet: Duration,
    limit: Duration,
    mut sample: impl FnMut() -> T,
) -> T {
    let start = Instant::now();
    let mut last = sample();
    let mut since = Instant::now();
    loop {
        std::thread::sleep(POLL);
        let now = sample();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return last;
        }
        assert!(
            start.elapsed() < limit,
            "{what} never settled within {limit:?} (last: {last:?})"
        );
    }
}

/// Polls until `check` holds, for at most `limit`; returns how long it took.
pub fn converge(what: &str, limit: Duration, check: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return start.elapsed();
        }
        std::thread::sleep(POLL);
    }
    panic!("{what} did not converge within {limit:?}");
}
