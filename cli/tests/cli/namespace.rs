//! One rule for a SealedSecret without `metadata.namespace` (docs/FORMAT.md §9): it sits where
//! kubectl would put it, `--namespace`, else the kubeconfig context's namespace, else `default`,
//! and `seal`, `verify`, `recover` and `reencrypt` all resolve it that way.

#![allow(clippy::unwrap_used)] // Tests fail loudly on any unexpected error.

use assert_cmd::Command;
use tempfile::TempDir;

const SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db-creds
stringData:
  password: hunter2
";

/// A kubeconfig whose current context names a namespace; nothing here contacts its server.
const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
current-context: team
contexts:
- name: team
  context: {cluster: local, user: me, namespace: team-a}
clusters:
- name: local
  cluster: {server: 'https://127.0.0.1:9'}
users:
- name: me
  user: {}
";

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            dir: TempDir::new().unwrap(),
        };
        env.write("kubeconfig", KUBECONFIG);
        env.run(&["keygen", "--out-dir", "keys"], false)
            .assert()
            .success();
        env
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    /// The binary in the temp dir, with the context kubeconfig or with none at all.
    fn run(&self, args: &[&str], with_kubeconfig: bool) -> Command {
        let mut cmd = Command::cargo_bin("sealant").unwrap();
        let kubeconfig = if with_kubeconfig {
            "kubeconfig"
        } else {
            "no-kubeconfig"
        };
        cmd.current_dir(self.dir.path())
            .env("KUBECONFIG", self.dir.path().join(kubeconfig))
            .env("HOME", self.dir.path())
            .args(args);
        cmd
    }

    fn stdout(&self, args: &[&str], with_kubeconfig: bool, stdin: &str) -> String {
        let out = self
            .run(args, with_kubeconfig)
            .write_stdin(stdin)
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    }

    /// Standard output and standard error of a failing run, together.
    fn failure(&self, args: &[&str], with_kubeconfig: bool, code: i32) -> String {
        let out = self.run(args, with_kubeconfig).assert().code(code);
        let output = out.get_output();
        String::from_utf8([output.stdout.clone(), output.stderr.clone()].concat()).unwrap()
    }
}

#[test]
fn seal_takes_the_flag_then_the_context_namespace_then_default() {
    let env = Env::new();
    let seal = ["seal", "--public-key", "keys/sealant.pub"];
    let flagged = env.stdout(&[&seal[..], &["-n", "team-b"]].concat(), true, SECRET);
    assert!(flagged.contains("namespace: team-b"), "{flagged}");
    let context = env.stdout(&seal, true, SECRET);
    assert!(context.contains("namespace: team-a"), "{context}");
    let default = env.stdout(&seal, false, SECRET);
    assert!(default.contains("namespace: default"), "{default}");
}

#[test]
fn verify_recover_and_reencrypt_open_a_namespace_less_file_where_kubectl_puts_it() {
    let env = Env::new();
    // Sealed for team-a, then the namespace dropped from the manifest, as people write them.
    let sealed = env.stdout(
        &["seal", "--public-key", "keys/sealant.pub", "-n", "team-a"],
        false,
        SECRET,
    );
    let bare = sealed.replace("  namespace: team-a\n", "");
    assert!(!bare.contains("namespace:"), "{bare}");
    env.write("sealed.yaml", &bare);
    let recover = [
        "recover",
        "--private-key",
        "keys/sealant.key",
        "sealed.yaml",
    ];

    // The kubeconfig context says team-a: everything works without -n.
    let out = env.stdout(&["verify", "sealed.yaml"], true, "");
    assert!(out.contains("team-a/db-creds"), "{out}");
    let secret = env.stdout(&recover, true, "");
    assert!(secret.contains("namespace: team-a"), "{secret}");
    assert!(secret.contains("password: aHVudGVyMg=="), "{secret}");

    // -n wins over the context.
    let secret = env.stdout(&[&recover[..], &["-n", "team-a"]].concat(), false, "");
    assert!(secret.contains("namespace: team-a"), "{secret}");
    let err = env.failure(&[&recover[..], &["-n", "team-b"]].concat(), true, 2);
    assert!(
        err.contains("sealed for team-a/db-creds (strict) but is being opened as team-b/db-creds"),
        "{err}"
    );

    // No flag, no kubeconfig: kubectl's `default`, never the empty namespace.
    let err = env.failure(&["verify", "sealed.yaml"], false, 1);
    assert!(err.contains("being opened as default/db-creds"), "{err}");
    let err = env.failure(&recover, false, 2);
    assert!(err.contains("being opened as default/db-creds"), "{err}");

    // reencrypt resolves the same way and leaves the manifest without a namespace.
    env.run(
        &[
            "reencrypt",
            "--private-key",
            "keys/sealant.key",
            "--public-key",
            "keys/sealant.pub",
            "sealed.yaml",
        ],
        true,
    )
    .assert()
    .success();
    let rewritten = env.read("sealed.yaml");
    assert_ne!(rewritten, bare, "the values were sealed again");
    assert!(!rewritten.contains("namespace:"), "{rewritten}");
    let secret = env.stdout(&recover, true, "");
    assert!(secret.contains("namespace: team-a"), "{secret}");
    let err = env.failure(
        &[
            "reencrypt",
            "--private-key",
            "keys/sealant.key",
            "--public-key",
            "keys/sealant.pub",
            "sealed.yaml",
        ],
        false,
        2,
    );
    assert!(err.contains("being opened as default/db-creds"), "{err}");
}
