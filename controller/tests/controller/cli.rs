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

/// Issue 18 point 6: a log that is not a terminal (a file, a pipe, `kubectl logs`) gets no ANSI
/// colour codes, and neither does one with `NO_COLOR` set.
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    for no_color in [None, Some("1")] {
        let mut command = controller();
        command.args([
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            "--namespace",
            "x",
        ]);
        match no_color {
            Some(value) => command.env("NO_COLOR", value),
            None => command.env_remove("NO_COLOR"),
        };
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("ERROR"), "{stderr}");
        assert!(!stderr.contains('\u{1b}'), "escape codes: {stderr:?}");
    }
}
