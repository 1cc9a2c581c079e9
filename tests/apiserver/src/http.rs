//! The REST surface: path routing, the verbs, watch streams, discovery.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::discovery;
use crate::error::ApiError;
use crate::faults::Faults;
use crate::fields::{self, Part};
use crate::openapi;
use crate::proxy;
use crate::resources::{ApiResource, present};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Change, ChangeKind, DeleteOpts, Store, WatchStart, WriteOpts};
use crate::tables;

/// Everything a request handler needs.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<Store>,
    pub(crate) faults: Arc<Faults>,
    /// Bumped to end every open watch (fault injection, shutdown).
    pub(crate) watch_epoch: watch::Sender<u64>,
    pub(crate) bookmark_interval: Duration,
    pub(crate) address: String,
}

/// kube-apiserver's request body limit.
const MAX_BODY: usize = 3 * 1024 * 1024;

pub(crate) fn router(state: AppState) -> Router {
    // kube-apiserver accepts request bodies up to 3 MiB (a Secret alone may hold 1 MiB).
    Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

type Params = HashMap<String, String>;

async fn handle(
    State(app): State<AppState>,
    method: Method,
    uri: Uri,
    params: Result<Query<Params>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = match params {
        Ok(Query(params)) => params,
        Err(e) => {
            return ApiError::bad_request(format!("invalid query string: {}", e.body_text()))
                .into_response();
        }
    };
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::too_large(MAX_BODY).into_response();
        }
        Err(e) => {
            return ApiError::bad_request(format!("reading the request body: {}", e.body_text()))
                .into_response();
        }
    };
    match route(&app, &method, &uri, &params, &headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

/// A request for a resource, after the path is parsed.
struct Target {
    res: Arc<ApiResource>,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

async fn route(
    app: &AppState,
    method: &Method,
    uri: &Uri,
    params: &Params,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = uri.path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (group, version, rest): (&str, &str, &[&str]) = match segments.as_slice() {
        ["version"] => return Ok(json_response(StatusCode::OK, &discovery::version())),
        ["healthz"] | ["livez"] | ["readyz"] => return Ok((StatusCode::OK, "ok").into_response()),
        ["api"] => {
            if discovery::wants_aggregated(accept) {
                let doc = discovery::aggregated(&app.store.lock().registry, true);
                return Ok(typed_json(&doc, discovery::AGGREGATED_V2));
            }
            return Ok(json_response(
                StatusCode::OK,
                &discovery::core_versions(&app.address),
            ));
        }
        ["apis"] => {
            let registry = &app.store.lock().registry;
            if discovery::wants_aggregated(accept) {
                return Ok(typed_json(
                    &discovery::aggregated(registry, false),
                    discovery::AGGREGATED_V2,
                ));
            }
            return Ok(json_response(
                StatusCode::OK,
                &discovery::group_list(registry),
            ));
        }
        ["openapi", "v3"] => {
            return Ok(json_response(
                StatusCode::OK,
                &openapi::index(&app.store.lock().registry),
            ));
        }
        ["openapi", "v2"] => return Ok(openapi::v2_document(accept)),
        ["openapi", "v3", rest @ ..] => {
            let doc = openapi::document(&app.store.lock().registry, rest);
            return doc
                .map(|d| json_response(StatusCode::OK, &d))
                .ok_or_else(ApiError::path_not_found);
        }
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::path_not_found()),
    };
    if rest.is_empty() {
        let registry = &app.store.lock().registry;
        if !registry.serves_version(group, version) {
            return Err(ApiError::path_not_found());
        }
        return Ok(json_response(
            StatusCode::OK,
            &discovery::resource_list(registry, group, version),
        ));
    }
    let (namespace, plural, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            (Some(ns.to_string()), *plural, tail)
        }
        [plural, tail @ ..] => (None, *plural, tail),
        [] => return Err(ApiError::path_not_found()),
    };
    let name = tail.first().map(|s| s.to_string());
    let subresource = tail.get(1).map(|s| s.to_string());
    if group.is_empty() && plural == "services" && subresource.as_deref() == Some("proxy") {
        let (Some(ns), Some(service)) = (&namespace, &name) else {
            return Err(ApiError::path_not_found());
        };
        if let Some(err) = app.faults.check("proxy", "services/proxy") {
            return Err(err);
        }
        // The original path keeps its trailing slash, which matters to some servers.
        let marker = format!("/{service}/proxy");
        let forwarded = uri
            .path()
            .split_once(marker.as_str())
            .map_or("/", |(_, after)| after);
        let forwarded = if forwarded.is_empty() { "/" } else { forwarded };
        return proxy::forward(
            &app.store,
            ns,
            service,
            forwarded,
            uri.query(),
            method.clone(),
            headers,
            body,
        )
        .await;
    }
    if tail.len() > 2 {
        return Err(ApiError::path_not_found());
    }
    let Some(res) = app.store.lock().registry.lookup(group, version, plural) else {
        return Err(ApiError::path_not_found());
    };
    if namespace.is_some() && !res.namespaced {
        return Err(ApiError::path_not_found());
    }
    if name.is_some() && res.namespaced && namespace.is_none() {
        return Err(ApiError::path_not_found());
    }
    if let Some(sub) = &subresource
        && (sub != "status" || !res.status_subresource)
    {
        return Err(ApiError::path_not_found());
    }
    let target = Target {
        res,
        namespace,
        name,
        subresource,
    };
    let watching = matches!(params.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match (method, &target.name) {
        (&Method::GET, None) if watching => "watch",
        (&Method::GET, None) => "list",
        (&Method::GET, Some(_)) => "get",
        (&Method::POST, None) => "create",
        (&Method::PUT, Some(_)) => "update",
        (&Method::PATCH, Some(_)) => "patch",
        (&Method::DELETE, Some(_)) => "delete",
        (&Method::DELETE, None) => "deletecollection",
        _ => return Err(ApiError::method_not_allowed(method.as_str())),
    };
    let fault_resource = match &target.subresource {
        Some(sub) => format!("{}/{sub}", target.res.plural),
        None => target.res.plural.clone(),
    };
    if let Some(err) = app.faults.check(verb, &fault_resource) {
        return Err(err);
    }
    let latency = app.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let format = Format::from_accept(accept);
    match verb {
        "get" => get(app, &target, format),
        "list" => list(app, &target, params, format),
        "watch" => watch_stream(app, &target, params, format),
        "create" => create(app, &target, params, headers, &body),
        "update" => update(app, &target, params, headers, &body),
        "patch" => patch(app, &target, params, headers, &body),
        "delete" => delete(app, &target, params, &body),
        _ => delete_collection(app, &target, params, &body),
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn typed_json(value: &Value, content_type: &'static str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        value.to_string(),
    )
        .into_response()
}

fn ns_of(target: &Target) -> &str {
    target.namespace.as_deref().unwrap_or("")
}

fn name_of(target: &Target) -> &str {
    target.name.as_deref().unwrap_or("")
}

/// The representation the client asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Full,
    /// `as=Table` (kubectl get).
    Table,
    /// `as=PartialObjectMetadata` (kube's `list_metadata`/`metadata_watcher`).
    Metadata,
}

impl Format {
    fn from_accept(accept: &str) -> Self {
        if accept.contains("as=Table") {
            Format::Table
        } else if accept.contains("as=PartialObjectMetadata") {
            Format::Metadata
        } else {
            Format::Full
        }
    }

    fn render(self, res: &ApiResource, object: &Arc<Value>) -> Value {
        match self {
            Format::Full => (**object).clone(),
            Format::Table => tables::table(res, std::slice::from_ref(object), None, None),
            Format::Metadata => partial_metadata(object),
        }
    }
}

fn partial_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

fn get(app: &AppState, target: &Target, format: Format) -> Result<Response, ApiError> {
    let stored = app.store.get(&target.res, ns_of(target), name_of(target))?;
    let object = present(&target.res, &stored);
    Ok(json_response(
        StatusCode::OK,
        &format.render(&target.res, &object),
    ))
}

fn selectors(params: &Params) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(params.get("labelSelector").map_or("", String::as_str))?;
    let fields = FieldSelector::parse(params.get("fieldSelector").map_or("", String::as_str))?;
    Ok((labels, fields))
}

fn list(
    app: &AppState,
    target: &Target,
    params: &Params,
    format: Format,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(params)?;
    let limit = match params.get("limit") {
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        ),
        None => None,
    };
    let continue_token = params.get("continue").filter(|c| !c.is_empty());
    if params.get("resourceVersionMatch").map(String::as_str) == Some("Exact") {
        let wanted = params
            .get("resourceVersion")
            .and_then(|r| r.parse::<u64>().ok());
        if wanted != Some(app.store.resource_version()) {
            return Err(ApiError::expired(
                "too old resource version: the requested resourceVersion is not available for an exact list",
            ));
        }
    }
    let page = app.store.list(
        &target.res,
        target.namespace.as_deref(),
        &labels,
        &fields,
        limit,
        continue_token.map(String::as_str),
    )?;
    let res = &target.res;
    let rv = page.resource_version.to_string();
    if format == Format::Table {
        let items: Vec<Arc<Value>> = page.items.iter().map(|o| present(res, o)).collect();
        let table = tables::table(res, &items, Some(&rv), page.continue_token.as_deref());
        return Ok(json_response(StatusCode::OK, &table));
    }
    let (list_kind, list_api_version) = match format {
        Format::Metadata => (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        ),
        _ => (res.list_kind.clone(), res.api_version()),
    };
    // Written by hand so a 10,000-item list is one pass of serialization, no intermediate tree.
    let mut metadata = json!({"resourceVersion": rv});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = json!(token);
    }
    let mut out = Vec::with_capacity(64 + page.items.len() * 256);
    out.extend_from_slice(
        format!(
            "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
            json!(list_kind),
            json!(list_api_version),
            metadata
        )
        .as_bytes(),
    );
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let item = present(res, item);
        let written = if format == Format::Metadata {
            serde_json::to_writer(&mut out, &partial_metadata(&item))
        } else {
            serde_json::to_writer(&mut out, &*item)
        };
        written.map_err(|e| ApiError::bad_request(format!("serializing list: {e}")))?;
    }
    out.extend_from_slice(b"]}");
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response())
}

/// One event as it appears on the wire, or `None` when this watch does not see it.
fn watch_line(
    res: &ApiResource,
    ns: Option<&str>,
    labels: &LabelSelector,
    fields: &FieldSelector,
    change: &Change,
) -> Option<(&'static str, Arc<Value>)> {
    if change.storage != res.storage || ns.is_some_and(|ns| change.namespace != ns) {
        return None;
    }
    let matches = |o: &Value| labels.matches(o) && fields.matches(o);
    let now = matches(&change.object);
    let kind = match change.kind {
        ChangeKind::Added => now.then_some("ADDED"),
        ChangeKind::Deleted => now.then_some("DELETED"),
        ChangeKind::Modified => {
            let before = change.old.as_deref().is_none_or(matches);
            match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            }
        }
    }?;
    Some((kind, present(res, &change.object)))
}

fn encode_event(kind: &str, object: &Arc<Value>, res: &ApiResource, format: Format) -> Bytes {
    let object = if kind != "BOOKMARK" && kind != "ERROR" {
        format.render(res, object)
    } else {
        (**object).clone()
    };
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn watch_stream(
    app: &AppState,
    target: &Target,
    params: &Params,
    format: Format,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(params)?;
    let bookmarks = matches!(
        params.get("allowWatchBookmarks").map(String::as_str),
        Some("true" | "1")
    );
    let initial_events_end = matches!(
        params.get("sendInitialEvents").map(String::as_str),
        Some("true" | "1")
    );
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let start = match params.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => WatchStart::Snapshot,
        // A streaming list starts from the current state whatever version it names.
        Some(_) if initial_events_end => WatchStart::Snapshot,
        Some(rv) => WatchStart::After(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    let res = Arc::clone(&target.res);
    let ns = target.namespace.clone();
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(1024);
    let feed = match app.store.watch(&res, ns.as_deref(), start) {
        Ok(feed) => feed,
        Err(err) => {
            // A real apiserver answers 200 and sends the 410 as an ERROR event.
            let line = encode_event("ERROR", &Arc::new(err.status_body()), &res, Format::Full);
            let _ = tx.try_send(Ok(line));
            drop(tx);
            return Ok(stream_response(rx));
        }
    };
    let mut epoch = app.watch_epoch.subscribe();
    epoch.mark_unchanged();
    let interval = app.bookmark_interval;
    tokio::spawn(async move {
        let mut last_rv = feed.resource_version;
        let send = |bytes: Bytes| {
            let tx = tx.clone();
            async move { tx.send(Ok(bytes)).await.is_ok() }
        };
        for change in &feed.initial {
            if let Some((kind, object)) = watch_line(&res, ns.as_deref(), &labels, &fields, change)
                && !send(encode_event(kind, &object, &res, format)).await
            {
                return;
            }
        }
        let bookmark = |rv: u64, end: bool| {
            let mut meta = json!({"resourceVersion": rv.to_string()});
            if end {
                meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            encode_event(
                "BOOKMARK",
                &Arc::new(
                    json!({"kind": res.kind, "apiVersion": res.api_version(), "metadata": meta}),
                ),
                &res,
                Format::Full,
            )
        };
        if initial_events_end && bookmarks && !send(bookmark(last_rv, true)).await {
            return;
        }
        let mut live = feed.live;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                received = live.recv() => match received {
                    Ok(change) => {
                        if change.rv <= last_rv {
                            continue;
                        }
                        last_rv = change.rv;
                        if let Some((kind, object)) = watch_line(&res, ns.as_deref(), &labels, &fields, &change)
                            && !send(encode_event(kind, &object, &res, format)).await
                        {
                            return;
                        }
                    }
                    // Fell behind the live channel: end the watch; the client resumes from its
                    // last resourceVersion through the replay log.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if bookmarks => {
                    if !send(bookmark(last_rv, false)).await {
                        return;
                    }
                }
                _ = epoch.changed() => return,
                _ = tx.closed() => return,
                _ = &mut deadline => return,
            }
        }
    });
    Ok(stream_response(rx))
}

fn stream_response(rx: mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if content_type.contains("yaml") {
        yaml_or_json(body)
    } else if content_type.contains("protobuf") {
        crate::proto::decode(body)
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON body: {e}")))
    }
}

/// A YAML body; most clients (kube among them) send JSON, which parses much faster as JSON.
fn yaml_or_json(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    serde_yaml::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML body: {e}")))
}

/// Checks `apiVersion`/`kind` of a body against the resource and fills them in when absent.
fn check_type(res: &ApiResource, body: &mut Value) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let expected = res.api_version();
    match body["apiVersion"].as_str() {
        None | Some("") => body["apiVersion"] = json!(expected),
        Some(v) if v == expected => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected})"
            )));
        }
    }
    match body["kind"].as_str() {
        None | Some("") => body["kind"] = json!(res.kind),
        Some(k) if k == res.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                res.kind
            )));
        }
    }
    Ok(())
}

fn check_namespace(target: &Target, body: &Value) -> Result<(), ApiError> {
    if let (Some(ns), Some(sent)) = (
        &target.namespace,
        body.pointer("/metadata/namespace").and_then(Value::as_str),
    ) && !sent.is_empty()
        && sent != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

/// The field manager of an update-style write: `fieldManager`, else the user agent's program.
fn manager(params: &Params, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(m) = params.get("fieldManager") {
        if m.len() > 128 {
            return Err(ApiError::bad_request(
                "fieldManager: Too long: must have at most 128 bytes",
            ));
        }
        return Ok(m.clone());
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    Ok(agent.split('/').next().unwrap_or("unknown").to_string())
}

fn dry_run(params: &Params) -> bool {
    params.get("dryRun").is_some_and(|d| d == "All")
}

fn part(target: &Target) -> Part {
    match (&target.subresource, target.res.status_subresource) {
        (Some(_), _) => Part::StatusOnly,
        (None, true) => Part::MainOnly,
        (None, false) => Part::Whole,
    }
}

fn create(
    app: &AppState,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let res = &target.res;
    if res.namespaced && target.namespace.is_none() {
        return Err(ApiError::path_not_found());
    }
    let mut object = parse_body(headers, body)?;
    check_type(res, &mut object)?;
    check_namespace(target, &object)?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let opts = WriteOpts {
        part: Part::Whole,
        manager: Some(manager(params, headers)?),
        dry_run: dry_run(params),
    };
    let stored = app.store.write(
        res,
        ns_of(target),
        &name,
        &opts,
        |existing| match existing {
            Some(_) => Err(ApiError::already_exists(&res.plural, &res.group, &name)),
            None => Ok(object),
        },
    )?;
    Ok(json_response(StatusCode::CREATED, &present(res, &stored)))
}

fn update(
    app: &AppState,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let res = &target.res;
    let mut object = parse_body(headers, body)?;
    check_type(res, &mut object)?;
    check_namespace(target, &object)?;
    let name = name_of(target);
    if let Some(sent) = object.pointer("/metadata/name").and_then(Value::as_str)
        && sent != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({sent}) does not match the name on the URL ({name})"
        )));
    }
    let opts = WriteOpts {
        part: part(target),
        manager: Some(manager(params, headers)?),
        dry_run: dry_run(params),
    };
    let stored = app
        .store
        .write(res, ns_of(target), name, &opts, |existing| match existing {
            None => Err(ApiError::not_found(&res.plural, &res.group, name)),
            Some(_) => Ok(object),
        })?;
    Ok(json_response(StatusCode::OK, &present(res, &stored)))
}

fn patch(
    app: &AppState,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let res = &target.res;
    let name = name_of(target).to_string();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let media = content_type.split(';').next().unwrap_or("").trim();
    let dry = dry_run(params);
    if media == "application/apply-patch+yaml" || media == "application/apply-patch+json" {
        return server_side_apply(app, target, params, body, dry);
    }
    let kind = match media {
        "application/json-patch+json" => PatchKind::Json(
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding JSON patch: {e}")))?,
        ),
        "application/merge-patch+json" => PatchKind::Merge(
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding merge patch: {e}")))?,
        ),
        "application/strategic-merge-patch+json" if res.builtin => {
            PatchKind::Strategic(serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("error decoding strategic merge patch: {e}"))
            })?)
        }
        "application/strategic-merge-patch+json" => {
            return Err(ApiError::unsupported_media_type(
                "strategic merge patch is not supported for custom resources; use application/merge-patch+json",
            ));
        }
        other => {
            return Err(ApiError::unsupported_media_type(&format!(
                "{other:?} is not a patch type; accepted: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
            )));
        }
    };
    let opts = WriteOpts {
        part: part(target),
        manager: Some(manager(params, headers)?),
        dry_run: dry,
    };
    let stored = app
        .store
        .write(res, ns_of(target), &name, &opts, |existing| {
            let Some(existing) = existing else {
                return Err(ApiError::not_found(&res.plural, &res.group, &name));
            };
            let mut object = (*present(res, existing)).clone();
            match &kind {
                PatchKind::Json(ops) => apply_json_patch(&mut object, ops)?,
                PatchKind::Merge(p) => fields::merge_patch(&mut object, p, false),
                PatchKind::Strategic(p) => fields::merge_patch(&mut object, p, true),
            }
            Ok(object)
        })?;
    Ok(json_response(StatusCode::OK, &present(res, &stored)))
}

/// RFC 6902 as the apiserver's JSON-patch library applies it: a `test` for `null` passes on a
/// missing path (kube's finalizer helper relies on this to add the first finalizer). The
/// object is a copy, so a failure part-way leaves nothing behind.
fn apply_json_patch(object: &mut Value, ops: &json_patch::Patch) -> Result<(), ApiError> {
    for (index, op) in ops.0.iter().enumerate() {
        if let json_patch::PatchOperation::Test(test) = op
            && test.value.is_null()
            && object.pointer(test.path.as_str()).is_none()
        {
            continue;
        }
        json_patch::patch(object, std::slice::from_ref(op)).map_err(|e| {
            ApiError::unprocessable(format!(
                "the server rejected our request due to an error in our request: operation {index}: {}",
                e.kind
            ))
        })?;
    }
    Ok(())
}

enum PatchKind {
    Json(json_patch::Patch),
    Merge(Value),
    Strategic(Value),
}

fn server_side_apply(
    app: &AppState,
    target: &Target,
    params: &Params,
    body: &[u8],
    dry: bool,
) -> Result<Response, ApiError> {
    let res = &target.res;
    let name = name_of(target).to_string();
    let Some(manager) = params.get("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(ApiError::bad_request(
            "PATCH requests with apply content type require fieldManager",
        ));
    };
    let mut config = yaml_or_json(body)?;
    if config["apiVersion"].as_str().is_none_or(str::is_empty)
        || config["kind"].as_str().is_none_or(str::is_empty)
    {
        return Err(ApiError::bad_request(
            "apiVersion and kind must be set in an apply configuration",
        ));
    }
    check_type(res, &mut config)?;
    check_namespace(target, &config)?;
    if let Some(sent) = config.pointer("/metadata/name").and_then(Value::as_str)
        && sent != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({sent}) does not match the name on the URL ({name})"
        )));
    }
    let force = matches!(params.get("force").map(String::as_str), Some("true" | "1"));
    let part = part(target);
    let now = crate::store::now();
    let api_version = res.api_version();
    let opts = WriteOpts {
        part,
        manager: None,
        dry_run: dry,
    };
    let stored = app
        .store
        .write(res, ns_of(target), &name, &opts, |existing| {
            let current = existing.map(|e| present(res, e));
            let mut skeleton =
                json!({"apiVersion": api_version, "kind": res.kind, "metadata": {"name": name}});
            if let Some(ns) = &target.namespace {
                skeleton["metadata"]["namespace"] = json!(ns);
            }
            let request = fields::Apply {
                config: &config,
                manager,
                force,
                api_version: &api_version,
                part,
                now: &now,
            };
            fields::apply(current.as_deref(), skeleton, &request).map_err(|conflicts| {
                ApiError::apply_conflict(&res.plural, &res.group, &name, &conflicts)
            })
        })?;
    Ok(json_response(StatusCode::OK, &present(res, &stored)))
}

fn delete_opts(params: &Params, body: &[u8]) -> Result<DeleteOpts, ApiError> {
    let mut opts = DeleteOpts {
        dry_run: dry_run(params),
        propagation: params.get("propagationPolicy").cloned(),
        ..DeleteOpts::default()
    };
    if !body.iter().all(u8::is_ascii_whitespace) {
        let options: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?;
        opts.uid = options
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        opts.resource_version = options
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        opts.propagation = options["propagationPolicy"].as_str().map(str::to_string);
        if options["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == "All"))
        {
            opts.dry_run = true;
        }
    }
    Ok(opts)
}

fn delete(
    app: &AppState,
    target: &Target,
    params: &Params,
    body: &[u8],
) -> Result<Response, ApiError> {
    let res = &target.res;
    let opts = delete_opts(params, body)?;
    let result = app
        .store
        .delete(res, ns_of(target), name_of(target), &opts)?;
    let still_there = result.pointer("/metadata/deletionTimestamp").is_some()
        && !crate::store::finalizers(&result).is_empty();
    if still_there {
        return Ok(json_response(StatusCode::OK, &present(res, &result)));
    }
    Ok(json_response(StatusCode::OK, &success_status(res, &result)))
}

fn success_status(res: &ApiResource, deleted: &Value) -> Value {
    let mut details = json!({"name": deleted["metadata"]["name"], "kind": res.plural, "uid": deleted["metadata"]["uid"]});
    if !res.group.is_empty() {
        details["group"] = json!(res.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

fn delete_collection(
    app: &AppState,
    target: &Target,
    params: &Params,
    body: &[u8],
) -> Result<Response, ApiError> {
    let res = &target.res;
    let (labels, fields) = selectors(params)?;
    let opts = delete_opts(params, body)?;
    let page = app.store.list(
        res,
        target.namespace.as_deref(),
        &labels,
        &fields,
        None,
        None,
    )?;
    let mut items = Vec::new();
    for object in page.items {
        let ns = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match app.store.delete(res, ns, name, &opts) {
            Ok(last) => items.push(present(res, &last)),
            Err(err) if err.code == 404 => {}
            Err(err) => return Err(err),
        }
    }
    let list = json!({"kind": res.list_kind, "apiVersion": res.api_version(), "metadata": {"resourceVersion": app.store.resource_version().to_string()}, "items": items.iter().map(|i| (**i).clone()).collect::<Vec<_>>()});
    Ok(json_response(StatusCode::OK, &list))
}
