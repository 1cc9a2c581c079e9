//! The binary's command line: the `crd` subcommand and argument errors.

#![allow(clippy::unwrap_used)]

use std::process::Command;

fn controller() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sealant-controller"))
}

#[test]
fn crd_prints_the_committed_crd() {
    let output = controller().arg("crd").output().unwrap();
    assert!(output.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/crd.yaml"))
            .unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), committed);
}

#[test]
fn bad_arguments_exit_with_2_and_say_what_is_wrong() {
    let output = controller()
        .args(["--key-renew-period", "3w"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown unit 'w'"));
    let output = controller()
        .args(["--key-cutoff", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_lists_every_flag_and_examples() {
    let output = controller().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--namespace",
        "--watch-namespaces",
        "--key-renew-period",
        "--key-cutoff",
        "--listen-addr",
        "--log-format",
        "--log-level",
        "--kubeconfig",
        "--leader-election",
        "$ sealant-controller crd > deploy/crd.yaml",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}
