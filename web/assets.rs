//! The sealing page's files, embedded in the binaries that serve it (`sealant web` and the
//! controller's `/ui`), so serving needs no Node and no files on disk. Included by both crates
//! with `#[path]`: one list, one Content-Security-Policy.
//!
//! The page's only request besides these files is [`KEYS_PATH`] (relative to the page), which
//! each server answers with its public key lines, one per line.

/// One file of the page.
pub struct Asset {
    /// Its path relative to the page's base (`""` is the page itself).
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

/// The page and what it loads. `vendor/noble.js` is built by `web/build.sh` from the pinned npm
/// packages; its sha256 is in `web/vendor/noble.js.sha256`.
pub const ASSETS: [Asset; 4] = [
    Asset {
        path: "",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("index.html"),
    },
    Asset {
        path: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("style.css"),
    },
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("app.js"),
    },
    Asset {
        path: "vendor/noble.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("vendor/noble.js"),
    },
];

/// Where the page fetches the public keys, relative to itself.
pub const KEYS_PATH: &str = "keys";

/// No inline script or style, nothing from another origin, and `fetch` only to the page's own
/// origin: even injected markup could not send the plaintext anywhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Headers sent with every answer of the page's server, [`CONTENT_SECURITY_POLICY`] first.
pub const HEADERS: [(&str, &str); 5] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cache-control", "no-store"),
];

/// The file at `path` (relative to the page's base, without a query), if it is one of the page's.
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = if path == "index.html" { "" } else { path };
    ASSETS.iter().find(|asset| asset.path == path)
}
