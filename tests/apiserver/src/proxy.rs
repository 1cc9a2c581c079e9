//! The service proxy (`/api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/PATH`), which
//! the sealant CLI uses to reach the controller's HTTP endpoints.
//!
//! As in kube-apiserver, the Service's port (by name or number) leads to the Endpoints object of
//! the same name, whose first address and matching port receive the request. Unlike
//! kube-apiserver, which refuses loopback endpoints, this server forwards ONLY to loopback
//! addresses: in tests the controller listens on 127.0.0.1, and a test server must never send
//! traffic anywhere else, whatever an Endpoints object says.

use axum::body::Body;
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::error::ApiError;
use crate::store::Store;

/// Forwards one request to the endpoint behind `service_ref` (`name`, `name:port` or
/// `scheme:name:port`) and streams the answer back.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn forward(
    store: &Store,
    ns: &str,
    service_ref: &str,
    path: &str,
    query: Option<&str>,
    method: Method,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let (scheme, name, port) = match service_ref.split(':').collect::<Vec<_>>().as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => {
            return Err(ApiError::bad_request(format!(
                "invalid service reference {service_ref:?}"
            )));
        }
    };
    if scheme == "https" {
        return Err(unavailable(
            name,
            "https service proxying is not supported by the test apiserver",
        ));
    }
    let address = resolve(store, ns, name, port)?;
    let loopback = address
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if !loopback {
        return Err(unavailable(
            name,
            &format!(
                "error trying to reach service: the test apiserver forwards only to loopback \
                 endpoints, not {address}"
            ),
        ));
    }
    let stream = TcpStream::connect(&address).await.map_err(|e| {
        unavailable(
            name,
            &format!("error trying to reach service: dial tcp {address}: {e}"),
        )
    })?;
    // Only latency is at stake if this fails.
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unavailable(name, &format!("error trying to reach service: {e}")))?;
    tokio::spawn(async move {
        // The connection ends with the response or the client going away; nothing to report.
        let _ = connection.await;
    });
    let uri = match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    };
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, address.as_str());
    for key in [
        header::CONTENT_TYPE,
        header::ACCEPT,
        header::AUTHORIZATION,
        header::USER_AGENT,
    ] {
        if let Some(value) = headers.get(&key) {
            request = request.header(key, value);
        }
    }
    let request = request
        .body(Body::from(body))
        .map_err(|e| ApiError::bad_request(format!("invalid proxied request: {e}")))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| unavailable(name, &format!("error trying to reach service: {e}")))?;
    let (parts, incoming) = response.into_parts();
    let mut out = Response::builder().status(parts.status);
    for (key, value) in &parts.headers {
        if !matches!(
            key.as_str(),
            "connection" | "transfer-encoding" | "keep-alive"
        ) {
            out = out.header(key, value);
        }
    }
    out.body(Body::new(incoming))
        .map_err(|e| unavailable(name, &format!("invalid response from service: {e}")))
}

fn unavailable(name: &str, why: &str) -> ApiError {
    let mut err = ApiError::injected(503);
    err.message = format!("{why} (service {name:?})");
    err
}

/// `ip:port` of the endpoint serving `port` of Service `name`.
fn resolve(store: &Store, ns: &str, name: &str, port: &str) -> Result<String, ApiError> {
    let (services, endpoints) = {
        let state = store.lock();
        (
            state.registry.lookup("", "v1", "services"),
            state.registry.lookup("", "v1", "endpoints"),
        )
    };
    let (Some(services), Some(endpoints)) = (services, endpoints) else {
        return Err(ApiError::path_not_found());
    };
    let service = store.get(&services, ns, name)?;
    let ports = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let chosen = if port.is_empty() {
        match ports.as_slice() {
            [only] => only.clone(),
            _ => {
                return Err(unavailable(
                    name,
                    "no port named in the proxy path and the Service has several (or none)",
                ));
            }
        }
    } else {
        ports
            .iter()
            .find(|p| {
                p["name"].as_str() == Some(port)
                    || p["port"].as_u64().is_some_and(|n| n.to_string() == port)
            })
            .cloned()
            .ok_or_else(|| unavailable(name, &format!("no port {port:?} on the Service")))?
    };
    let port_name = chosen["name"].as_str().unwrap_or_default();
    let endpoints = store.get(&endpoints, ns, name).map_err(|_| {
        unavailable(
            name,
            &format!("no endpoints available for service \"{name}\""),
        )
    })?;
    for subset in endpoints["subsets"].as_array().into_iter().flatten() {
        let Some(ip) = subset.pointer("/addresses/0/ip").and_then(Value::as_str) else {
            continue;
        };
        let ports = subset["ports"].as_array().cloned().unwrap_or_default();
        let matching = ports
            .iter()
            .find(|p| p["name"].as_str().unwrap_or_default() == port_name)
            .or_else(|| {
                if ports.len() == 1 {
                    ports.first()
                } else {
                    None
                }
            });
        if let Some(number) = matching.and_then(|p| p["port"].as_u64()) {
            // IPv6 addresses need brackets to parse as a socket address.
            return Ok(if ip.contains(':') {
                format!("[{ip}]:{number}")
            } else {
                format!("{ip}:{number}")
            });
        }
    }
    Err(unavailable(
        name,
        &format!("no endpoints available for service \"{name}\""),
    ))
}
