//! The sealing page at `/ui`, behind `--web-ui` (off by default): the same embedded files as
//! `sealant web` (`web/`), and at `/ui/keys` the controller's newest active public key, the one
//! `sealant seal` would fetch. The page seals in the browser; nothing it serves, and nothing it
//! sends, holds a plaintext, and the only request it makes is for that key (see `docs/web.md`).
//!
//! | method | path | answer |
//! | --- | --- | --- |
//! | GET | `/ui` | 308 to `/ui/` (the page's files are relative to it) |
//! | GET | `/ui/`, `/ui/style.css`, `/ui/app.js`, `/ui/vendor/noble.js` | the page's files |
//! | GET | `/ui/keys` | the newest active public key line (`text/plain`), 503 without keys |
//!
//! Every answer carries the page's Content-Security-Policy and the other headers of
//! [`assets::HEADERS`].

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::context::Context;

#[path = "../../web/assets.rs"]
mod assets;

/// The `/ui` routes, with their own state: merged into the HTTP router only when enabled.
pub fn router(context: Arc<Context>) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(|| async { file("") }))
        .route("/ui/{*path}", get(path))
        .with_state(context)
}

async fn path(State(context): State<Arc<Context>>, Path(path): Path<String>) -> Response {
    if path != assets::KEYS_PATH {
        return file(&path);
    }
    let keys = context.keys.current();
    match keys.newest_active() {
        Some(key) => answer(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            format!("{}\n", key.public).into_bytes(),
        ),
        None => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            b"the controller has no active sealing key yet\n".to_vec(),
        ),
    }
}

fn file(path: &str) -> Response {
    match assets::find(path) {
        Some(asset) => answer(StatusCode::OK, asset.content_type, asset.body.to_vec()),
        None => answer(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            b"not found\n".to_vec(),
        ),
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in assets::HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    (status, headers, body).into_response()
}
