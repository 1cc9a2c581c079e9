//! `sealant web` in a real browser: headless Chromium (Debian's `chromium`) driven by
//! `web/test/browser.mjs` (playwright-core from `web/node_modules`). The page must pass every
//! known-answer vector, seal a pasted Secret and a form to YAML that `sealant verify` accepts and
//! `sealant recover` opens to the same bytes with an X25519 and with an X-Wing key, give bad
//! input the CLI's messages, and make no request but its own files and the keys, none carrying
//! the plaintext. Without node, chromium or `npm ci` in web/ the test prints `skipped:` (and
//! fails under CI=true, where .ci/run installs them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Env, stderr_of};

/// The values the page seals; none may appear in any request.
const PASSWORD: &str = "browser-sealed password 7f3c9a \u{e9}\u{4e16}";
const FORM_TOKEN: &str = "form-token-51d2e8";
/// Raw bytes (not UTF-8) given as `data`, to check the page seals bytes, not text.
const BLOB: &[u8] = &[0, 1, 2, 0xff, 0xfe, 0x80, b'\n'];
/// The pages' own files and the keys: the only requests allowed.
const ALLOWED_PATHS: [&str; 5] = ["/", "/style.css", "/app.js", "/vendor/noble.js", "/keys"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Chromium, node and playwright-core, or why not.
fn browser_tools() -> Result<PathBuf, String> {
    let chromium = std::env::var_os("SEALANT_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return Err(format!(
            "{} not found (apt-get install chromium, or set SEALANT_CHROMIUM)",
            chromium.display()
        ));
    }
    let node = StdCommand::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".to_string());
    }
    if !repo()
        .join("web/node_modules/playwright-core/package.json")
        .exists()
    {
        return Err("playwright-core is not installed (run `npm ci` in web/)".to_string());
    }
    Ok(chromium)
}

/// `sealant web`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(env: &Env, keys: &[&str]) -> Server {
        let mut cmd = StdCommand::new(assert_cmd::cargo::cargo_bin("sealant"));
        cmd.current_dir(env.dir.path())
            .env("KUBECONFIG", env.path("no-kubeconfig"))
            .arg("web")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for key in keys {
            cmd.args(["--public-key", key]);
        }
        let mut child = cmd.spawn().unwrap();
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        let url = url.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
            "sealant web printed {url:?}"
        );
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn secret_yaml() -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-creds\n  namespace: production\n\
         type: Opaque\ndata:\n  blob: {}\nstringData:\n  password: {}\n",
        STANDARD.encode(BLOB),
        serde_json::to_string(PASSWORD).unwrap()
    )
}

/// The `data` of the Secret `sealant recover` opens `file` to, with `key`.
fn recover(env: &Env, file: &str, key: &str) -> serde_yaml::Value {
    let out = env
        .sealant()
        .args(["recover", "--private-key", key, file])
        .assert()
        .success();
    let secret: serde_yaml::Value = serde_yaml::from_slice(&out.get_output().stdout).unwrap();
    secret["data"].clone()
}

fn data_bytes(data: &serde_yaml::Value, key: &str) -> Vec<u8> {
    STANDARD
        .decode(
            data[key]
                .as_str()
                .unwrap_or_else(|| panic!("no data.{key}")),
        )
        .unwrap()
}

/// The first line `sealant seal -f input ARGS` prints on standard error for `input`.
fn cli_error(env: &Env, input: &str, args: &[String]) -> String {
    env.write("input", input);
    let stderr = stderr_of(env.sealant().args(["seal", "-f", "input"]).args(args), 2);
    // The error line (a warning, e.g. about mixed key types, may come before it).
    stderr
        .lines()
        .find(|l| l.starts_with("sealant: error: "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_page_seals_in_chromium_what_recover_opens_and_sends_no_plaintext() {
    let chromium = match browser_tools() {
        Ok(path) => path,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but the browser test cannot run: {why}")
        }
        Err(why) => {
            eprintln!("skipped: the browser test needs chromium, node and web/node_modules: {why}");
            return;
        }
    };
    let env = Env::new();
    env.sealant()
        .args(["keygen", "--out-dir", "keys", "--name", "pq", "--pq"])
        .assert()
        .success();
    // 31 more keys: with the 2 served ones, one more than a value may be sealed to.
    let mut extra = Vec::new();
    for i in 0..31 {
        let name = format!("k{i}");
        env.sealant()
            .args(["keygen", "--out-dir", "extra", "--name", &name])
            .assert()
            .success();
        extra.push(env.read(&format!("extra/{name}.pub")).trim().to_string());
    }
    let server = Server::start(&env, &["keys/sealant.pub", "keys/pq.pub"]);
    let x25519_line = env.read("keys/sealant.pub").trim().to_string();
    let mut bad_line = x25519_line.clone();
    bad_line.replace_range(20..21, if &bad_line[20..21] == "A" { "B" } else { "A" });

    let no_data = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: empty\n  namespace: a\n";
    let bad_key_name = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  namespace: a\n\
                        stringData:\n  bad/key: v\n";
    let config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n";
    let spec = json!({
        "url": server.url,
        "chromium": chromium,
        "testdata": repo().join("shared/testdata"),
        "screenshot": std::env::var_os("SEALANT_WEB_SCREENSHOT").map(PathBuf::from),
        "seal": { "input": secret_yaml(), "recipients": "", "scope": "strict" },
        "form": {
            "namespace": "staging", "name": "api", "scope": "namespace-wide",
            "rows": [{ "key": "token", "value": FORM_TOKEN }],
        },
        "bad": [
            { "name": "not_a_secret", "input": config_map, "recipients": "" },
            { "name": "bad_key_line", "input": secret_yaml(), "recipients": bad_line },
            { "name": "too_many_keys", "input": secret_yaml(), "recipients": extra.join("\n") },
            { "name": "no_data", "input": no_data, "recipients": "" },
            { "name": "bad_key_name", "input": bad_key_name, "recipients": "" },
        ],
    });
    env.write("spec.json", &spec.to_string());
    let out = StdCommand::new("node")
        .arg(repo().join("web/test/browser.mjs"))
        .arg(env.path("spec.json"))
        .current_dir(repo().join("web"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "browser.mjs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();

    // Every known-answer vector, run in the page.
    let vector_files = std::fs::read_dir(repo().join("shared/testdata"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "txt")
        })
        .count();
    assert!(vector_files >= 79, "{vector_files} vector files");
    assert_eq!(
        result["vectors"]["failures"],
        json!([]),
        "vectors failed in the browser"
    );
    assert_eq!(result["vectors"]["passed"], json!(vector_files));
    let draft =
        std::fs::read(repo().join("shared/testdata/xwing/draft-connolly-cfrg-xwing-kem-06.json"))
            .unwrap();
    let draft: Vec<Value> = serde_json::from_slice(&draft).unwrap();
    assert!(!draft.is_empty());
    assert_eq!(
        result["vectors"]["xwingPassed"],
        json!(draft.len()),
        "X-Wing draft vectors"
    );

    // The pasted Secret: verify accepts it, both keys open it to the same bytes.
    env.write("sealed.yaml", result["sealed"].as_str().unwrap());
    env.sealant()
        .args([
            "verify",
            "--exact-recipients",
            "--public-key",
            "keys/sealant.pub",
        ])
        .args(["--public-key", "keys/pq.pub", "sealed.yaml"])
        .assert()
        .success();
    for key in ["keys/sealant.key", "keys/pq.key"] {
        let data = recover(&env, "sealed.yaml", key);
        assert_eq!(data_bytes(&data, "password"), PASSWORD.as_bytes(), "{key}");
        assert_eq!(data_bytes(&data, "blob"), BLOB, "{key}");
    }
    let sealed: serde_yaml::Value =
        serde_yaml::from_str(result["sealed"].as_str().unwrap()).unwrap();
    assert_eq!(sealed["spec"]["template"]["type"], "Opaque");
    assert_eq!(sealed["metadata"]["namespace"], "production");

    // The form, sealed namespace-wide: it opens under another name in the same namespace.
    let form = result["formSealed"].as_str().unwrap();
    env.write("form.yaml", &form.replace("name: api", "name: api-renamed"));
    let data = recover(&env, "form.yaml", "keys/pq.key");
    assert_eq!(data_bytes(&data, "token"), FORM_TOKEN.as_bytes());

    // Bad input: the page says what `sealant seal` says.
    let bad = |name: &str| result["bad"][name].as_str().unwrap().to_string();
    let keys = |extra: &[String]| {
        let mut args: Vec<String> = ["keys/sealant.pub", "keys/pq.pub"]
            .iter()
            .flat_map(|k| ["--public-key".to_string(), k.to_string()])
            .collect();
        for line in extra {
            args.extend(["--public-key".to_string(), line.clone()]);
        }
        args
    };
    for (name, input) in [
        ("not_a_secret", config_map.to_string()),
        ("too_many_keys", secret_yaml()),
        ("no_data", no_data.to_string()),
        ("bad_key_name", bad_key_name.to_string()),
    ] {
        let extra_keys = if name == "too_many_keys" {
            &extra[..]
        } else {
            &[]
        };
        let cli = cli_error(&env, &input, &keys(extra_keys));
        assert_eq!(format!("sealant: {}", bad(name)), cli, "{name}");
    }
    assert!(bad("too_many_keys").contains("33 public keys given"));
    // A bad key line: the same message after the part naming where the key came from.
    let cli = cli_error(
        &env,
        &secret_yaml(),
        &["--public-key".to_string(), bad_line],
    );
    let cli_detail = cli.strip_prefix("sealant: error: --public-key: ").unwrap();
    assert_eq!(
        bad("bad_key_line"),
        format!("error: recipients line 1: {cli_detail}")
    );
    assert!(
        cli_detail.starts_with("public key checksum mismatch"),
        "{cli}"
    );

    // Only the page's files and the keys were requested, once each, and nothing carried a value.
    let requests = result["requests"].as_array().unwrap();
    let mut paths: Vec<String> = Vec::new();
    for request in requests {
        let url = request["url"].as_str().unwrap();
        let path = url
            .strip_prefix(server.url.trim_end_matches('/'))
            .unwrap_or_else(|| {
                panic!("a request left the page's origin: {url}");
            });
        assert_eq!(request["method"], "GET", "{request}");
        assert!(ALLOWED_PATHS.contains(&path), "unexpected request {url}");
        paths.push(path.to_string());
        let everything = request.to_string();
        let blob_b64 = STANDARD.encode(BLOB);
        for secret in [PASSWORD, "7f3c9a", FORM_TOKEN, blob_b64.as_str()] {
            let escaped = serde_json::to_string(secret).unwrap();
            assert!(
                !everything.contains(secret) && !everything.contains(escaped.trim_matches('"')),
                "a request carries a plaintext value: {everything}"
            );
        }
    }
    paths.sort();
    let mut expected: Vec<String> = ALLOWED_PATHS.iter().map(|p| p.to_string()).collect();
    expected.sort();
    assert_eq!(paths, expected, "each file and the keys exactly once");

    // The plaintext was kept nowhere: not in the URL, storage, cookies or caches.
    let storage = &result["storage"];
    assert_eq!(storage["url"], json!(server.url));
    for (field, empty) in [
        ("localStorage", "{}"),
        ("sessionStorage", "{}"),
        ("cookie", ""),
        ("indexedDB", "[]"),
        ("caches", "[]"),
    ] {
        assert_eq!(storage[field], json!(empty), "{field}");
    }
    assert_eq!(result["cookies"], json!("[]"));

    // Attacks: an injected inline script does not run; a script cannot post to another origin.
    let csp = result["csp"].as_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(result["inlineScriptRan"], json!(false));
    assert!(
        result["crossOriginFetch"]
            .as_str()
            .unwrap()
            .starts_with("blocked"),
        "{}",
        result["crossOriginFetch"]
    );
    assert!(
        result["promise"]
            .as_str()
            .unwrap()
            .contains("never sent anywhere"),
        "the page states where the plaintext goes"
    );
    assert!(
        result["served"].as_str().unwrap().contains("X-Wing"),
        "{}",
        result["served"]
    );
}
