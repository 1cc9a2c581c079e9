//! `--public-key https://...` (as `kubeseal --cert https://...`): a key served over HTTPS by a
//! local server with its own CA seals; plain http and answers that are not keys are refused.

#![allow(clippy::unwrap_used)] // Tests fail loudly on any unexpected error.

use std::sync::Arc;

use assert_cmd::Command;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db-creds
  namespace: production
stringData:
  password: hunter2
";

/// A CA (written to `ca.pem`) and a serving certificate for 127.0.0.1 signed by it.
fn pki(dir: &TempDir) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "sealant-test-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    params.subject_alt_names = vec![SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// Serves `body` with status 200 to every connection on 127.0.0.1; returns the port.
async fn serve(dir: &TempDir, body: String) -> u16 {
    let (cert, key) = pki(dir);
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

fn sealant(dir: &TempDir) -> Command {
    let mut cmd = Command::cargo_bin("sealant").unwrap();
    cmd.current_dir(dir.path())
        .env("KUBECONFIG", dir.path().join("no-kubeconfig"))
        .env("HOME", dir.path())
        .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
        .env_remove("SSL_CERT_DIR");
    cmd
}

async fn run(mut cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_served_over_https_seals_like_the_key_file() {
    let dir = TempDir::new().unwrap();
    sealant(&dir)
        .args(["keygen", "--out-dir", "keys"])
        .assert()
        .success();
    let line = std::fs::read_to_string(dir.path().join("keys/sealant.pub")).unwrap();
    let port = serve(&dir, line).await;
    let mut seal = sealant(&dir);
    seal.args(["seal", "-w", "sealed.yaml", "--public-key"])
        .arg(format!("https://127.0.0.1:{port}/v1/public-key"))
        .write_stdin(SECRET);
    let out = run(seal).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sealant(&dir)
        .args([
            "recover",
            "--private-key",
            "keys/sealant.key",
            "sealed.yaml",
        ])
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_is_not_a_public_key_is_refused_clearly() {
    let dir = TempDir::new().unwrap();
    let port = serve(&dir, "<html>login</html>\n".to_string()).await;
    let url = format!("https://127.0.0.1:{port}/key");
    let mut seal = sealant(&dir);
    seal.args(["seal", "--public-key", &url])
        .write_stdin(SECRET);
    let out = run(seal).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "--public-key {url}: the answer is not a sealant public key"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_and_plain_http_are_refused() {
    let dir = TempDir::new().unwrap();
    let port = serve(&dir, "x".to_string()).await;
    // Trust nothing but an unrelated CA: the server's certificate does not verify.
    let other_key = KeyPair::generate().unwrap();
    let mut other = CertificateParams::default();
    other
        .distinguished_name
        .push(DnType::CommonName, "unrelated-ca");
    other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = other.self_signed(&other_key).unwrap();
    std::fs::write(dir.path().join("ca.pem"), other.pem()).unwrap();
    let mut seal = sealant(&dir);
    seal.args(["seal", "--public-key"])
        .arg(format!("https://127.0.0.1:{port}/key"))
        .write_stdin(SECRET);
    let out = run(seal).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cannot fetch"), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    let mut seal = sealant(&dir);
    seal.args(["seal", "--public-key", "http://127.0.0.1:1/key"])
        .write_stdin(SECRET);
    let out = run(seal).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("refusing plain http"), "{stderr}");
}
