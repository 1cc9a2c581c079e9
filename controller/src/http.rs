//! The HTTP endpoints every replica serves.
//!
//! | method | path | answer |
//! | --- | --- | --- |
//! | GET | `/healthz` | 200 `ok` while the process runs |
//! | GET | `/readyz` | 200 when keys are loaded (and, on the leader, the caches synced), else 503 |
//! | GET | `/metrics` | OpenMetrics text: counters and aggregate gauges only, no object names |
//! | GET | `/v1/public-key` | the newest active public key line (`text/plain`), 503 without keys |
//! | GET | `/v1/public-keys` | JSON list of `{keyId, publicKey, createdAt, state}`, oldest first |
//! | POST | `/v1/verify` | body: a SealedSecret (JSON or YAML). 200 `{"values": [{key, keyId, recipients, scope}]}` when every value opens where the object says it sits; 409 `{reason, message}` when one does not |
//! | POST | `/v1/rotate` | body: a SealedSecret. 200: the same object with each value re-sealed to the controller's newest key and to the other recipients already in that value's authenticated header (public keys from `spec.recipients`), in the request's format; 409 as for verify; 422 when `spec.recipients` names a key that is not a recipient of any value, or a value's other recipient is missing from it |
//!
//! **Threat model.** Anyone who can reach the port may call every endpoint: no answer holds a
//! plaintext, a private key or anything derived from one beyond "this value opens with key id X
//! in scope Y", which the value's clear header says anyway; rotate never seals to a key the value
//! was not already sealed to (the rules are in [`crate::policy`]).
//!
//! **Bounded work** (issue 18). A body is read through `sealant_core::input`, whose bounds
//! (nesting, alias expansion) are checked on an event walk that stops at the first event past
//! one, before serde parses anything: a hostile body costs what it takes to reach the bound, not
//! minutes of a parser's quadratic lookahead. Parsing runs on the blocking pool before a crypto
//! worker is taken; the crypto runs on the blocking pool, at most [`Limits::crypto_workers`]
//! requests at a time, and stops between values once the request's deadline
//! ([`Limits::request_timeout`]) has passed. Each client (source address) has its own rate limit
//! and at most [`Limits::per_client_in_flight`] requests in progress, so one client cannot hold
//! every worker. Probes, metrics and the public keys never touch the blocking pool or the workers,
//! so they never queue behind verify/rotate work.
//!
//! Bodies that are not a SealedSecret get 400 `{reason: "InvalidBody", message}`, bodies past a
//! bound of `sealant_core::input` 400 `{reason: "InputLimit"}`, bodies over the size limit 413
//! (also more than [`crate::policy::MAX_VALUES_PER_REQUEST`] values: `TooManyValues`), requests
//! over the client's rate limit 429 `{reason: "RateLimited"}`, requests beyond the client's
//! in-flight limit 429 `{reason: "TooManyInFlight"}`, requests that find every crypto worker busy
//! for [`BUSY_WAIT`] 503 `{reason: "Busy"}`, requests past their deadline 503
//! `{reason: "DeadlineExceeded"}`, slow requests 408.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tower_http::timeout::TimeoutLayer;

use sealant_core::format::{self, Envelope, Location};
use sealant_core::input::{self, ReadError};
use sealant_core::keys::PublicKey;
use sealant_core::resource::{SealedSecret, recipients_text};

use crate::context::Context;
use crate::keys::KeySet;
use crate::policy;

/// How long a verify or rotate request waits for a free crypto worker before it gets 503.
pub const BUSY_WAIT: Duration = Duration::from_secs(2);
/// Clients remembered by the rate limiter before idle ones are forgotten.
const RATE_LIMITER_CLIENTS: usize = 10_000;

/// Limits of the HTTP server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Verify and rotate requests allowed per second for one client (source address)...
    pub rate_per_second: u32,
    /// ...and in a burst.
    pub burst: u32,
    /// Verify and rotate requests doing crypto at once, on the blocking pool.
    pub crypto_workers: usize,
    /// Verify and rotate requests one client may have in progress (parsing, waiting for a
    /// worker or working); more get 429 at once.
    pub per_client_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Leave a core to the runtime (probes, Lease renewal, reconciles) on small machines.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Limits {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            rate_per_second: 10,
            burst: 20,
            crypto_workers: cores.saturating_sub(1).max(1),
            per_client_in_flight: 2,
        }
    }
}

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    context: Arc<Context>,
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    workers: Arc<Semaphore>,
    in_flight: Arc<InFlight>,
    request_timeout: Duration,
}

/// Verify/rotate requests in progress per client.
struct InFlight {
    per_client: usize,
    clients: Mutex<HashMap<IpAddr, usize>>,
}

/// One request in progress for a client; frees its place when dropped.
struct Slot {
    in_flight: Arc<InFlight>,
    client: IpAddr,
}

impl InFlight {
    /// A place for one more request of `client`, if it has fewer than its limit in progress.
    fn enter(self: &Arc<Self>, client: IpAddr) -> Option<Slot> {
        // A poisoned lock only means another request panicked while counting; the map is valid.
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let count = clients.entry(client).or_insert(0);
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(Slot {
            in_flight: Arc::clone(self),
            client,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut clients = self
            .in_flight
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = clients.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                clients.remove(&self.client);
            }
        }
    }
}

impl AppState {
    pub fn new(context: Arc<Context>, limits: Limits) -> AppState {
        let rate = NonZeroU32::new(limits.rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.burst).unwrap_or(NonZeroU32::MIN);
        AppState {
            context,
            limiter: Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
            workers: Arc::new(Semaphore::new(limits.crypto_workers.max(1))),
            in_flight: Arc::new(InFlight {
                per_client: limits.per_client_in_flight.max(1),
                clients: Mutex::new(HashMap::new()),
            }),
            request_timeout: limits.request_timeout,
        }
    }

    /// Whether `client` may make another verify/rotate request now.
    fn admit(&self, client: IpAddr) -> bool {
        if self.limiter.len() > RATE_LIMITER_CLIENTS {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&client).is_ok()
    }

    /// Runs `work` on the blocking pool once a crypto worker is free; 503 when none frees up in
    /// [`BUSY_WAIT`]. The permit travels with the work, so a request that times out still
    /// holds its worker until the work ends: at most `crypto_workers` run, whatever happens.
    async fn crypto<F>(&self, work: F) -> Response
    where
        F: FnOnce() -> Response + Send + 'static,
    {
        let permit = match tokio::time::timeout(
            BUSY_WAIT,
            Arc::clone(&self.workers).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                return problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "every verify/rotate worker is busy; retry later",
                );
            }
        };
        let task = tokio::task::spawn_blocking(move || {
            let response = work();
            drop(permit);
            response
        });
        task.await.unwrap_or_else(|_| internal())
    }
}

/// The router with every endpoint, the body limit and the timeout (the rate limits are in the
/// state, see [`AppState::new`]). Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: rate limits are per source address.
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
    if state.context.leading()
        && let Some(failing) = state.context.progress.stalled()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "leading, but no reconcile has succeeded for {}s (the API server is slow or unreachable?)\n",
                failing.as_secs()
            ),
        )
            .into_response();
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

/// A body-taking endpoint's work (`verify_body`, `rotate_body`) on a parsed body: the
/// SealedSecret, whether it came as YAML, the keys, and the deadline to stop at.
type Work = fn(SealedSecret, bool, &KeySet, Instant) -> Result<Response, Box<Response>>;

/// Runs `work` for a client that is within its rate and its in-flight limit: the body parsed on
/// the blocking pool (bounded by `sealant_core::input`), then the work on a crypto worker.
async fn guarded(
    state: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Bytes,
    work: Work,
) -> Response {
    let deadline = Instant::now() + state.request_timeout;
    if !state.admit(peer.ip()) {
        return rate_limited();
    }
    let Some(slot) = state.in_flight.enter(peer.ip()) else {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyInFlight",
            "this client has too many verify/rotate requests in progress; retry later",
        );
    };
    let parsed = tokio::task::spawn_blocking(move || parse_body(&headers, &body)).await;
    let (sealed, yaml) = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(response)) => return *response,
        Err(_) => return internal(),
    };
    let keys = state.context.keys.current();
    let response = state
        .crypto(move || work(sealed, yaml, &keys, deadline).unwrap_or_else(|r| *r))
        .await;
    drop(slot);
    response
}

fn internal() -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal",
        "the request failed",
    )
}

/// 503 once a request's deadline has passed: checked between values, so that no request keeps a
/// worker long after its client was answered 408.
fn check_deadline(deadline: Instant) -> Result<(), Box<Response>> {
    if Instant::now() > deadline {
        return Err(Box::new(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "DeadlineExceeded",
            "the request took too long; retry later",
        )));
    }
    Ok(())
}

async fn verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    guarded(state, peer, headers, body, verify_body).await
}

/// Verify's work, on the blocking pool.
fn verify_body(
    sealed: SealedSecret,
    _yaml: bool,
    keys: &KeySet,
    deadline: Instant,
) -> Result<Response, Box<Response>> {
    let mut values = Vec::new();
    for (key, text) in &sealed.spec.encrypted_data {
        check_deadline(deadline)?;
        let at = location(&sealed, key);
        let opened = open_one(text, &at, &keys.ring)?;
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
    Ok((StatusCode::OK, axum::Json(json!({ "values": values }))).into_response())
}

async fn rotate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    guarded(state, peer, headers, body, rotate_body).await
}

/// Rotate's work, on the blocking pool. Which keys a value may be re-sealed to is decided by
/// [`policy::rotate_recipients`] before anything is opened.
fn rotate_body(
    mut sealed: SealedSecret,
    yaml: bool,
    keys: &KeySet,
    deadline: Instant,
) -> Result<Response, Box<Response>> {
    let Some(newest) = keys.newest_active() else {
        return Err(Box::new(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "NoKeys",
            "the controller has no active sealing key yet",
        )));
    };
    let mut listed = Vec::with_capacity(sealed.spec.recipients.len());
    for (index, line) in sealed.spec.recipients.iter().enumerate() {
        let public = line.trim().parse::<PublicKey>().map_err(|error| {
            Box::new(problem(
                StatusCode::BAD_REQUEST,
                "InvalidBody",
                &format!("spec.recipients[{index}]: {error}"),
            ))
        })?;
        listed.push(public);
    }
    // Every value's header first, and every refusal, before any value is opened.
    let mut plans = Vec::with_capacity(sealed.spec.encrypted_data.len());
    for (key, text) in &sealed.spec.encrypted_data {
        let envelope = Envelope::from_base64(text).map_err(|source| {
            not_openable(format::OpenError::Malformed {
                key: key.clone(),
                source,
            })
        })?;
        let recipients =
            policy::rotate_recipients(key, &envelope, &listed, &keys.ring, &newest.public)
                .map_err(refused)?;
        plans.push((key.clone(), envelope.key_ids(), recipients));
    }
    let headers: Vec<_> = plans.iter().map(|(_, ids, _)| ids.clone()).collect();
    policy::check_listed_recipients(&listed, &headers, &keys.ring).map_err(refused)?;

    let mut resealed = std::collections::BTreeMap::new();
    let mut all_recipients: Vec<PublicKey> = Vec::new();
    for (key, _, recipients) in plans {
        check_deadline(deadline)?;
        let at = location(&sealed, &key);
        let opened = open_one(&sealed.spec.encrypted_data[&key], &at, &keys.ring)?;
        let text = format::seal(&opened.plaintext, &opened.envelope.binding, &recipients).map_err(
            |error| {
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "SealFailed",
                    &error.to_string(),
                )
            },
        )?;
        resealed.insert(key, text);
        for recipient in recipients {
            if !all_recipients.contains(&recipient) {
                all_recipients.push(recipient);
            }
        }
    }
    sealed.spec.encrypted_data = resealed;
    sealed.spec.recipients = recipients_text(&all_recipients);
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
        Ok((content_type, text)) => {
            Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
        }
        Err(message) => Err(Box::new(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "EncodeFailed",
            &message,
        ))),
    }
}

fn refused(refusal: policy::RotateRefusal) -> Box<Response> {
    Box::new(problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        refusal.reason,
        &refusal.message,
    ))
}

fn rate_limited() -> Response {
    problem(
        StatusCode::TOO_MANY_REQUESTS,
        "RateLimited",
        "too many verify/rotate requests from this client; retry later",
    )
}

fn not_openable(error: format::OpenError) -> Box<Response> {
    Box::new(problem(
        StatusCode::CONFLICT,
        error.reason(),
        &error.to_string(),
    ))
}

/// A value opened for verify or rotate; the plaintext is cleared on drop.
struct Opened {
    envelope: Envelope,
    key_id: String,
    plaintext: zeroize::Zeroizing<Vec<u8>>,
}

fn open_one(text: &str, at: &Location, ring: &format::KeyRing) -> Result<Opened, Box<Response>> {
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

/// How errors name a request's body.
const BODY: &str = "request body";

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
    let read = |error: ReadError| match error {
        ReadError::Refused { .. } => Box::new(problem(
            StatusCode::BAD_REQUEST,
            "InputLimit",
            &error.to_string(),
        )),
        ReadError::Invalid { .. } => invalid(format!("not a SealedSecret: {error}")),
    };
    let value: Value = if yaml {
        let text = std::str::from_utf8(body)
            .map_err(|_| invalid("not a YAML SealedSecret: not UTF-8".to_string()))?;
        input::yaml_from_str(BODY, text).map_err(read)?
    } else {
        input::json_from_slice(BODY, body).map_err(read)?
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
    policy::check_request_size(sealed.spec.encrypted_data.len()).map_err(|message| {
        Box::new(problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "TooManyValues",
            &message,
        ))
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_cannot_take_more_than_its_places() {
        let in_flight = Arc::new(InFlight {
            per_client: 2,
            clients: Mutex::new(HashMap::new()),
        });
        let greedy = IpAddr::from([10, 0, 0, 1]);
        let first = in_flight.enter(greedy);
        let second = in_flight.enter(greedy);
        assert!(first.is_some() && second.is_some());
        assert!(in_flight.enter(greedy).is_none(), "a third place was given");
        // Another client still gets in; a finished request frees its place.
        assert!(in_flight.enter(IpAddr::from([10, 0, 0, 2])).is_some());
        drop(first);
        assert!(in_flight.enter(greedy).is_some());
        drop(second);
        let clients = in_flight
            .clients
            .lock()
            .map(|c| c.len())
            .unwrap_or(usize::MAX);
        assert_eq!(clients, 0, "finished clients are forgotten");
    }
}
