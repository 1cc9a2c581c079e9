//! `--public-key https://...`: fetching a public key over HTTPS (as `kubeseal --cert https://...`),
//! with the rustls stack (ring, the system's root certificates; `SSL_CERT_FILE` adds a CA).

use std::time::Duration;

use bytes_body::{Empty, collect_limited};
use sealant_core::PublicKey;

use crate::error::{CliError, CliResult};
use crate::runtime::block_on;

/// A public key line is at most a few KiB (an X-Wing key is 1643 characters).
const MAX_BODY: usize = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(15);

/// Loads the public key served at `url` (https only).
pub fn public_key_from_url(url: &str) -> CliResult<PublicKey> {
    let ctx = format!("--public-key {url}");
    if url.starts_with("http://") {
        return Err(CliError::input(format!(
            "{ctx}: refusing plain http: anyone on the path could swap the key"
        ))
        .hint("serve the key over https://, or pass the key file or its line"));
    }
    let text = block_on(get(url))?.map_err(|e| CliError::input(format!("{ctx}: {e}")))?;
    PublicKey::from_file_text(&text).map_err(|e| {
        CliError::input(format!(
            "{ctx}: the answer is not a sealant public key: {e}"
        ))
    })
}

async fn get(url: &str) -> Result<String, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
        .https_only()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty>(connector);
    let response = tokio::time::timeout(TIMEOUT, client.get(uri))
        .await
        .map_err(|_| format!("no answer within {} s", TIMEOUT.as_secs()))?
        .map_err(|e| format!("cannot fetch: {}", error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the server answered {status}"));
    }
    let body = tokio::time::timeout(TIMEOUT, collect_limited(response.into_body(), MAX_BODY))
        .await
        .map_err(|_| format!("no complete answer within {} s", TIMEOUT.as_secs()))??;
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8 text".to_string())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

mod bytes_body {
    use http_body_util::BodyExt;

    /// The request body type: none.
    pub type Empty = http_body_util::Empty<hyper::body::Bytes>;

    /// Reads at most `limit` bytes of a body.
    pub async fn collect_limited(
        body: hyper::body::Incoming,
        limit: usize,
    ) -> Result<Vec<u8>, String> {
        let limited = http_body_util::Limited::new(body, limit);
        let collected = limited
            .collect()
            .await
            .map_err(|e| format!("cannot read the answer (over {limit} bytes?): {e}"))?;
        Ok(collected.to_bytes().to_vec())
    }
}
