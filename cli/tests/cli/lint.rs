//! `sealant lint` as a user runs it: output, exit codes, formats, baselines, configuration.

use std::path::Path;

use assert_cmd::Command;

const LEAKY_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: vulnerable-app
spec:
  containers:
  - name: app
    image: myapp:latest
    env:
    - name: DB_PASSWORD
      value: \"supersecret123\"
";

const HELM_VALUES: &str = "auth:\n  password: Pr0d-Helm-Pw\n";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn sealant(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = match Command::cargo_bin("sealant") {
        Ok(c) => c,
        Err(e) => panic!("no sealant binary: {e}"),
    };
    let out = match cmd.current_dir(dir).args(args).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run sealant: {e}"),
    };
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("no temp dir: {e}"),
    };
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::write(&path, text) {
            panic!("cannot write {name}: {e}");
        }
    }
    dir
}

#[test]
fn findings_print_position_rule_and_redacted_value_and_exit_1() {
    let dir = repo(&[
        ("k8s/pod.yaml", LEAKY_POD),
        ("README.md", "# nothing here\n"),
    ]);
    let run = sealant(dir.path(), &["lint"]);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    assert_eq!(
        run.stdout,
        "k8s/pod.yaml:11:15: SL001 [high] container `app` sets `DB_PASSWORD` to a literal credential (value: ********)\n\
         1 finding in 2 files scanned\n"
    );
    assert!(!run.stdout.contains("supersecret123"));
}

#[test]
fn clean_repository_exits_0() {
    let dir = repo(&[(
        "pod.yaml",
        &LEAKY_POD.replace("\"supersecret123\"", "${DB_PASSWORD}"),
    )]);
    let run = sealant(dir.path(), &["lint", "."]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "0 findings in 1 file scanned\n")
    );
}

#[test]
fn fail_on_sets_the_threshold() {
    let dir = repo(&[("chart/values.yaml", HELM_VALUES)]);
    assert_eq!(sealant(dir.path(), &["lint"]).code, 1);
    assert_eq!(sealant(dir.path(), &["lint", "--fail-on", "high"]).code, 0);
    assert_eq!(
        sealant(dir.path(), &["lint", "--fail-on", "medium"]).code,
        1
    );
    std::fs::write(
        dir.path().join(".sealant.toml"),
        "[lint]\nfail-on = \"high\"\n",
    )
    .ok();
    assert_eq!(sealant(dir.path(), &["lint"]).code, 0);
}

#[test]
fn json_and_sarif_go_to_the_output_file() {
    let dir = repo(&[("pod.yaml", LEAKY_POD)]);
    // The shared vocabulary: -o FORMAT, -w FILE, -f PATH.
    let run = sealant(
        dir.path(),
        &["lint", "-o", "json", "-w", "out.json", "-f", "pod.yaml"],
    );
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(!run.stderr.contains("deprecated"), "{}", run.stderr);
    std::fs::remove_file(dir.path().join("out.json")).unwrap_or_default();
    // -o never names a file: the old `--output FILE` is refused and writes nothing; the old
    // `--format` still works, with a warning.
    let run = sealant(
        dir.path(),
        &["lint", "--format", "json", "--output", "out.json"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("to write a file use -w out.json"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("out.json").exists());
    let run = sealant(dir.path(), &["lint", "--format", "json", "-w", "out.json"]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(run.stderr.contains("deprecated"), "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(json["findings"][0]["path"], "pod.yaml");
    assert_eq!(json["findings"][0]["line"], 11);
    assert_eq!(json["findings"][0]["value"], "********");

    for old_or_new in [["-f", "sarif"], ["-o", "sarif"]] {
        let run = sealant(dir.path(), &["lint", old_or_new[0], old_or_new[1]]);
        let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
        assert_eq!(sarif["version"], "2.1.0");
        let result = &sarif["runs"][0]["results"][0];
        assert_eq!(result["ruleId"], "SL001");
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "pod.yaml"
        );
    }
}

#[test]
fn baseline_accepts_known_findings_only() {
    let dir = repo(&[("pod.yaml", LEAKY_POD)]);
    let run = sealant(dir.path(), &["lint", "--write-baseline", "baseline.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stored = std::fs::read_to_string(dir.path().join("baseline.json")).unwrap_or_default();
    assert!(!stored.contains("supersecret"));
    let run = sealant(dir.path(), &["lint", "--baseline", "baseline.json"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "0 findings in 2 files scanned (1 in baseline)\n")
    );
    std::fs::write(dir.path().join("more.env"), "API_TOKEN=n3w-T0ken-value\n").ok();
    let run = sealant(dir.path(), &["lint", "--baseline", "baseline.json"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("more.env:1:11: SL008"),
        "{}",
        run.stdout
    );
}

#[test]
fn explain_and_list_rules() {
    let dir = repo(&[]);
    let run = sealant(dir.path(), &["lint", "--list-rules"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.lines().count(), 11);
    assert!(run.stdout.starts_with("SL001  high"));
    let run = sealant(dir.path(), &["lint", "--explain", "sl005"]);
    assert_eq!(run.code, 0);
    for section in [
        "## What it does",
        "## Why is this bad",
        "## Example",
        "## Use instead",
    ] {
        assert!(run.stdout.contains(section), "missing {section}");
    }
    let run = sealant(dir.path(), &["lint", "--explain", "SL999"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("sealant: error: unknown rule `SL999`"),
        "{}",
        run.stderr
    );
}

#[test]
fn errors_exit_2_with_one_line() {
    let dir = repo(&[("pod.yaml", LEAKY_POD)]);
    let run = sealant(dir.path(), &["lint", "missing-dir"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "sealant: error: missing-dir: no such file or directory\n"
    );
    std::fs::write(
        dir.path().join(".sealant.toml"),
        "[lint]\ndisable = [\"SL404\"]\n",
    )
    .ok();
    let run = sealant(dir.path(), &["lint"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("sealant: error: "), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1);
}

#[test]
fn unparsable_files_warn_and_the_scan_goes_on() {
    let dir = repo(&[
        ("broken.yaml", "password: [oops\n"),
        ("pod.yaml", LEAKY_POD),
    ]);
    let run = sealant(dir.path(), &["lint"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("sealant: warning: broken.yaml: not valid YAML/JSON"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("pod.yaml:11:15: SL001"));
    let quiet = sealant(dir.path(), &["lint", "--quiet"]);
    assert_eq!(quiet.stderr, "");
}

#[test]
fn help_documents_exit_codes_and_examples() {
    let run = sealant(Path::new("."), &["lint", "--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Exit codes:"));
    assert!(
        run.stdout
            .contains("$ sealant lint -o sarif -w sealant.sarif")
    );
}

#[test]
fn redact_full_shows_no_character_of_long_values() {
    let token = "ghp_Zq7Wx2Cv9Bn4Mk6Lp1Jh3Gf5Ds8Ae0Rt2Yu4I";
    let dir = repo(&[(".env", &format!("GITHUB_TOKEN={token}\n"))]);
    let partial = sealant(dir.path(), &["lint"]);
    assert!(
        partial.stdout.contains("(value: gh********)"),
        "{}",
        partial.stdout
    );
    let full = sealant(dir.path(), &["lint", "--redact", "full"]);
    assert_eq!(full.code, 1);
    assert!(full.stdout.contains("(value: ********)"), "{}", full.stdout);
    assert!(!full.stdout.contains("gh*") && !full.stdout.contains(&token[..6]));
}

#[test]
fn output_file_is_replaced_whole() {
    let dir = repo(&[("k8s/pod.yaml", LEAKY_POD), ("report.json", "stale")]);
    let run = sealant(
        dir.path(),
        &["lint", "-o", "json", "-w", "report.json", "k8s"],
    );
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let written = std::fs::read_to_string(dir.path().join("report.json")).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&written).unwrap_or_default();
    assert_eq!(json["summary"]["findings"], 1);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "git {args:?} failed in {}",
        dir.display()
    );
}

/// The hooks of `.pre-commit-hooks.yaml`, run the way pre-commit runs them: `sealant-lint` with the
/// staged file names appended, `sealant-lint-staged` with none (it reads the index itself, so a
/// leak that is only in the working tree does not fail the commit).
#[test]
fn pre_commit_hooks_run_as_defined() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.pre-commit-hooks.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let hooks: Vec<serde_yaml::Value> = match serde_yaml::from_str(&text) {
        Ok(h) => h,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let hook = |id: &str| -> (Vec<String>, bool) {
        let Some(h) = hooks.iter().find(|h| h["id"].as_str() == Some(id)) else {
            panic!("no hook {id}");
        };
        let entry: Vec<String> = h["entry"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        assert_eq!(entry.first().map(String::as_str), Some("sealant"), "{id}");
        (
            entry[1..].to_vec(),
            h["pass_filenames"].as_bool() != Some(false),
        )
    };
    let dir = repo(&[("README.md", "clean\n")]);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "README.md"]);
    git(dir.path(), &["commit", "-q", "-m", "init"]);
    std::fs::write(dir.path().join("app.env"), "API_TOKEN=St4ged-T0ken-Value\n")
        .unwrap_or_else(|e| panic!("{e}"));
    git(dir.path(), &["add", "app.env"]);

    let (args, pass_filenames) = hook("sealant-lint");
    assert!(pass_filenames);
    let mut with_files: Vec<&str> = args.iter().map(String::as_str).collect();
    with_files.push("app.env");
    assert_eq!(sealant(dir.path(), &with_files).code, 1);

    let (args, pass_filenames) = hook("sealant-lint-staged");
    assert!(
        !pass_filenames,
        "sealant-lint-staged must not get file names"
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let staged = sealant(dir.path(), &args);
    assert_eq!(staged.code, 1, "{}{}", staged.stdout, staged.stderr);
    assert!(staged.stdout.contains("app.env"), "{}", staged.stdout);
    // Unstaged again: the next commit adds nothing, whatever the working tree holds.
    git(dir.path(), &["reset", "-q", "app.env"]);
    assert_eq!(sealant(dir.path(), &args).code, 0);
}

/// Issue 18: a repository holding files built to make YAML parsers spin (512 KiB each) and a real
/// leak: each hostile file gets a warning naming it, the document and the bound; the leak in the
/// other file is still reported; the whole run takes well under a second per file.
#[test]
fn hostile_yaml_files_are_skipped_with_a_warning_and_the_rest_is_scanned() {
    // A first document with a literal credential, so that the lint's prefilter parses the file.
    let head = "kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - name: a\n    env:\n    \
                - name: API_TOKEN\n      value: tok-9f8e7d6c5b4a\n---\n";
    let samples = sealant_core::input::hostile_samples(512 * 1024);
    let hostile: Vec<(String, String)> = samples
        .iter()
        .enumerate()
        .map(|(i, (_, text))| (format!("deploy/hostile-{i}.yaml"), format!("{head}{text}")))
        .collect();
    let mut files: Vec<(&str, &str)> = vec![("k8s/pod.yaml", LEAKY_POD)];
    files.extend(hostile.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let dir = repo(&files);
    let started = std::time::Instant::now();
    let run = sealant(dir.path(), &["lint", "."]);
    let took = started.elapsed();
    println!(
        "lint over {} hostile files and a leak: {took:?}",
        hostile.len()
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("k8s/pod.yaml:11:"), "{}", run.stdout);
    for (name, _) in &hostile {
        assert!(
            run.stderr.lines().any(|l| l.starts_with(&format!(
                "sealant: warning: {name}: skipped as YAML: document 2: "
            ))),
            "{name}: {}",
            run.stderr
        );
    }
    assert!(
        took < std::time::Duration::from_secs(hostile.len() as u64),
        "{took:?}"
    );
}

/// Findings in test data and examples (a chart's `ci/` values, a `tests/` folder, an `.example`
/// file) are hidden by default, counted in the summary, and shown at low severity with their
/// reason under `--include-fixtures`; they never make the default run fail.
#[test]
fn fixtures_are_hidden_unless_included() {
    let dir = repo(&[
        ("k8s/pod.yaml", LEAKY_POD),
        (
            "charts/app/ci/ha-values.yaml",
            "auth:\n  password: Ci-Fixture-Pw9\n",
        ),
        ("tests/fixtures/app.env", "API_TOKEN=Zk8Lm2Qp9Rt4Vw7Xy1Bc\n"),
        ("config/.env.example", "DB_PASSWORD=Ex4mple-But-Real-7\n"),
    ]);
    let default = sealant(dir.path(), &["lint", "."]);
    assert_eq!(default.code, 1, "{}{}", default.stdout, default.stderr);
    let lines: Vec<&str> = default.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", default.stdout);
    assert!(
        lines[0].starts_with("k8s/pod.yaml:11:"),
        "{}",
        default.stdout
    );
    assert!(
        lines[1].contains("3 in test data or examples hidden; --include-fixtures shows them"),
        "{}",
        default.stdout
    );
    let json = sealant(dir.path(), &["lint", "-o", "json", "."]);
    let doc: serde_json::Value = match serde_json::from_str(&json.stdout) {
        Ok(v) => v,
        Err(e) => panic!("json: {e}: {}", json.stdout),
    };
    assert_eq!(doc["summary"]["fixtures_hidden"], 3);
    assert_eq!(doc["summary"]["findings"], 1);

    let all = sealant(dir.path(), &["lint", "--include-fixtures", "."]);
    assert_eq!(all.code, 1);
    let fixtures: Vec<&str> = all.stdout.lines().filter(|l| l.contains("[low]")).collect();
    assert_eq!(fixtures.len(), 3, "{}", all.stdout);
    for (path, reason) in [
        ("charts/app/ci/ha-values.yaml:2:", "(chart test values)"),
        ("config/.env.example:1:", "(example file)"),
        ("tests/fixtures/app.env:1:", "(test data)"),
    ] {
        assert!(
            fixtures
                .iter()
                .any(|l| l.starts_with(path) && l.contains(reason)),
            "{path} {reason}: {}",
            all.stdout
        );
    }
    // Only the fixtures: the default run passes, --include-fixtures fails on them.
    let only = repo(&[("tests/app.env", "API_TOKEN=Zk8Lm2Qp9Rt4Vw7Xy1Bc\n")]);
    assert_eq!(sealant(only.path(), &["lint", "."]).code, 0);
    assert_eq!(
        sealant(only.path(), &["lint", "--include-fixtures", "."]).code,
        1
    );
}
