//! The HTTP endpoints every replica serves.
//!
//! | method | path | answer |
//! | --- | --- | --- |
//! | GET | `/healthz` | 200 `ok` while the process runs |
//! | GET | `/readyz` | 200 when keys are loaded (and, on the leader, the caches synced), else 503 |
//! | GET | `/metrics` | OpenMetrics text |
//! | GET | `/v1/public-key` | the newest active public key line (`text/plain`), 503 without keys |
//! | GET | `/v1/public-keys` | JSON list of `{keyId, publicKey, createdAt, state}`, oldest first |
//! | POST | `/v1/verify` | body: a SealedSecret (JSON or YAML). 200 `{"values": [{key, keyId, recipients, scope}]}` when every value opens where the object says it sits; 409 `{reason, message}` when one does not |
//! | POST | `/v1/rotate` | body: a SealedSecret. 200: the same object re-sealed to the newest key (foreign recipients kept), in the request's format; 409 as for verify |
//!
//! Bodies that are not a SealedSecret get 400 `{reason: "InvalidBody", message}`, bodies over the
//! limit 413, requests over the verify/rotate rate limit 429 `{reason: "RateLimited"}`, slow
//! requests 408. No answer ever holds a plaintext value.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};
use tower_http::timeout::TimeoutLayer;

use sealant_core::format::{self, Envelope, Location};
use sealant_core::keys::PublicKey;
use sealant_core::resource::{SealedSecret, recipients_text};

use crate::controller::Context;

/// Limits of the HTTP server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Verify and rotate requests allowed per second, across all clients, on average...
    pub rate_per_second: f64,
    /// ...and in a burst.
    pub burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            rate_per_second: 20.0,
            burst: 40.0,
        }
    }
}

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    context: Arc<Context>,
    bucket: Arc<Mutex<TokenBucket>>,
}

impl AppState {
    pub fn new(context: Arc<Context>, limits: Limits) -> AppState {
        let bucket = TokenBucket {
            tokens: limits.burst,
            last: Instant::now(),
            rate: limits.rate_per_second,
            burst: limits.burst,
        };
        AppState {
            context,
            bucket: Arc::new(Mutex::new(bucket)),
        }
    }
}

/// The router with every endpoint, the body limit and the timeout (the rate limit is in the
/// state, see [`AppState::new`]).
pub fn router(state: AppState, limits: &Limits) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/public-key", get(public_key))
        .route("/v1/public-keys", get(public_keys))
        .route("/v1/verify", post(verify))
        .route("/v1/rotate", post(rotate))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let keys = state.context.keys.current();
    if !keys.loaded {
        return (StatusCode::SERVICE_UNAVAILABLE, "keys not loaded yet\n").into_response();
    }
    if keys.newest_active().is_none() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "no active sealing key yet\n",
        )
            .into_response();
    }
    if state.context.leading() && !state.context.metrics.stores_ready() {
        return (StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet\n").into_response();
    }
    (StatusCode::OK, "ok\n").into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state.context.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding metrics failed\n",
        )
            .into_response(),
    }
}

async fn public_key(State(state): State<AppState>) -> Response {
    let keys = state.context.keys.current();
    match keys.newest_active() {
        Some(key) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", key.public),
        )
            .into_response(),
        None => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "NoKeys",
            "the controller has no active sealing key yet",
        ),
    }
}

async fn public_keys(State(state): State<AppState>) -> Response {
    axum::Json(state.context.keys.current().public_entries()).into_response()
}

/// One value of a verified SealedSecret.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifiedValue {
    key: String,
    /// The key that opens it here.
    key_id: String,
    /// Every recipient key id in the envelope.
    recipients: Vec<String>,
    scope: String,
}

async fn verify(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !state.take_token() {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimited",
            "too many verify/rotate requests; retry later",
        );
    }
    let (sealed, _) = match parse_body(&headers, &body) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    let keys = state.context.keys.current();
    let mut values = Vec::new();
    for (key, text) in &sealed.spec.encrypted_data {
        let at = location(&sealed, key);
        let opened = match open_one(text, &at, &keys.ring) {
            Ok(opened) => opened,
            Err(response) => return *response,
        };
        values.push(VerifiedValue {
            key: key.clone(),
            key_id: opened.key_id,
            recipients: opened
                .envelope
                .key_ids()
                .iter()
                .map(ToString::to_string)
                .collect(),
            scope: opened.envelope.binding.scope().to_string(),
        });
    }
    (StatusCode::OK, axum::Json(json!({ "values": values }))).into_response()
}

async fn rotate(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !state.take_token() {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimited",
            "too many verify/rotate requests; retry later",
        );
    }
    let (mut sealed, yaml) = match parse_body(&headers, &body) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    let keys = state.context.keys.current();
    let Some(newest) = keys.newest_active() else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "NoKeys",
            "the controller has no active sealing key yet",
        );
    };
    // Keep the recipients of other clusters; replace this cluster's keys by the newest one.
    let mut recipients = vec![newest.public.clone()];
    for line in &sealed.spec.recipients {
        if let Ok(public) = line.trim().parse::<PublicKey>()
            && keys.ring.get(&public.id()).is_none()
        {
            recipients.push(public);
        }
    }
    let mut resealed = std::collections::BTreeMap::new();
    for (key, text) in &sealed.spec.encrypted_data {
        let at = location(&sealed, key);
        let opened = match open_one(text, &at, &keys.ring) {
            Ok(opened) => opened,
            Err(response) => return *response,
        };
        match format::seal(&opened.plaintext, &opened.envelope.binding, &recipients) {
            Ok(text) => resealed.insert(key.clone(), text),
            Err(error) => {
                return problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "SealFailed",
                    &error.to_string(),
                );
            }
        };
    }
    sealed.spec.encrypted_data = resealed;
    sealed.spec.recipients = recipients_text(&recipients);
    sealed.status = None;
    sealed.metadata.managed_fields = None;
    let encoded = if yaml {
        serde_yaml::to_string(&sealed)
            .map(|text| ("application/yaml", text))
            .map_err(|e| e.to_string())
    } else {
        serde_json::to_string_pretty(&sealed)
            .map(|text| ("application/json", text))
            .map_err(|e| e.to_string())
    };
    match encoded {
        Ok((content_type, text)) => ([(header::CONTENT_TYPE, content_type)], text).into_response(),
        Err(message) => problem(StatusCode::INTERNAL_SERVER_ERROR, "EncodeFailed", &message),
    }
}

/// A value opened for verify or rotate; the plaintext is cleared on drop.
struct Opened {
    envelope: Envelope,
    key_id: String,
    plaintext: zeroize::Zeroizing<Vec<u8>>,
}

fn open_one(text: &str, at: &Location, ring: &format::KeyRing) -> Result<Opened, Box<Response>> {
    let not_openable = |error: format::OpenError| {
        Box::new(problem(
            StatusCode::CONFLICT,
            error.reason(),
            &error.to_string(),
        ))
    };
    let envelope = Envelope::from_base64(text).map_err(|source| {
        not_openable(format::OpenError::Malformed {
            key: at.key.clone(),
            source,
        })
    })?;
    let plaintext = format::open(text, at, ring).map_err(not_openable)?;
    let key_id = envelope
        .key_ids()
        .into_iter()
        .find(|id| ring.get(id).is_some())
        .map(|id| id.to_string())
        .unwrap_or_default();
    Ok(Opened {
        envelope,
        key_id,
        plaintext,
    })
}

fn location(sealed: &SealedSecret, key: &str) -> Location {
    Location::new(
        sealed.metadata.namespace.clone().unwrap_or_default(),
        sealed.metadata.name.clone().unwrap_or_default(),
        key,
    )
}

/// Parses a SealedSecret from JSON or YAML (by content type, else by the first character);
/// returns it and whether it was YAML.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<(SealedSecret, bool), Box<Response>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let yaml = if content_type.contains("yaml") {
        true
    } else if content_type.contains("json") {
        false
    } else {
        body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
    };
    let invalid =
        |message: String| Box::new(problem(StatusCode::BAD_REQUEST, "InvalidBody", &message));
    let value: Value = if yaml {
        serde_yaml::from_slice(body)
            .map_err(|e| invalid(format!("not a YAML SealedSecret: {e}")))?
    } else {
        serde_json::from_slice(body)
            .map_err(|e| invalid(format!("not a JSON SealedSecret: {e}")))?
    };
    let kind = value.get("kind").and_then(Value::as_str);
    let api_version = value.get("apiVersion").and_then(Value::as_str);
    if kind != Some("SealedSecret") || api_version != Some("sealant.dev/v1alpha1") {
        return Err(invalid(
            "expected apiVersion sealant.dev/v1alpha1, kind SealedSecret".to_string(),
        ));
    }
    let sealed: SealedSecret =
        serde_json::from_value(value).map_err(|e| invalid(format!("not a SealedSecret: {e}")))?;
    if sealed.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err(invalid("metadata.name is required".to_string()));
    }
    Ok((sealed, yaml))
}

/// A JSON problem answer `{reason, message}`.
fn problem(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "reason": reason, "message": message })),
    )
        .into_response()
}

/// A token bucket shared by verify and rotate.
struct TokenBucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl AppState {
    fn take_token(&self) -> bool {
        let Ok(mut bucket) = self.bucket.lock() else {
            return false;
        };
        let now = Instant::now();
        let refill = now.duration_since(bucket.last).as_secs_f64() * bucket.rate;
        bucket.tokens = (bucket.tokens + refill).min(bucket.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
