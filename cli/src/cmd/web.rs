//! `sealant web`: serves the sealing page (`web/`, embedded in the binary) on a local port, with
//! the given public keys. The page seals in the browser; this server only hands out the page's
//! files and the public key lines, and never receives a Secret: it answers `GET` and `HEAD`
//! only, reads no request body, and logs nothing about requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::{describe_keys, sealing_keys};
use crate::cluster::{ControllerArgs, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::trust::TrustedSet;

#[path = "../../../web/assets.rs"]
mod assets;

pub const AFTER_HELP: &str = "\
Examples:
  $ sealant web --public-key cluster.pub
  $ sealant web --public-key prod.pub --public-key prod-pq.pub --listen 127.0.0.1:8400
  $ sealant web            # the controller's key, fetched from the current cluster

Prints the page's URL on standard output and serves until interrupted (Ctrl-C). The page seals
in the browser with these keys (and any key lines pasted into it); the plaintext never leaves
the browser. See docs/web.md.";

/// Longest request head read; the page's requests are a few hundred bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long a connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `sealant web`.
#[derive(clap::Args)]
pub struct WebArgs {
    /// Public key the page seals to: a file, the `sealant-pub-v1:`/`sealant-pub-pq1:` line, or an
    /// `https://` URL serving it. Repeat for several clusters. Default: the controller's key.
    #[arg(long = "public-key", value_name = "FILE_OR_KEY")]
    public_keys: Vec<String>,
    /// Address to serve on. The default is a free port on the loopback interface: the page is
    /// for this machine's browser.
    #[arg(long, value_name = "ADDR", default_value_t = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))]
    listen: SocketAddr,
    #[command(flatten)]
    controller: ControllerArgs,
}

/// Serves the page until the process is stopped.
pub fn web(kube: &KubeArgs, args: WebArgs) -> CliResult<()> {
    // The same trusted keys `seal` uses: --public-key, else the controller's key from its
    // configured namespace (pinned fingerprints checked).
    let set = if args.public_keys.is_empty() {
        None
    } else {
        Some(TrustedSet::from_flags(&args.public_keys)?)
    };
    let (_, keys) = sealing_keys(set, kube, &args.controller)?;
    let mut key_text = String::new();
    for line in sealant_core::resource::recipients_text(&keys) {
        key_text.push_str(&line);
        key_text.push('\n');
    }
    let listener = TcpListener::bind(args.listen)
        .map_err(|e| CliError::input(format!("--listen {}: cannot listen: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::input(format!("--listen {}: {e}", args.listen)))?;
    eprintln!(
        "serving the sealing page with {}; Ctrl-C to stop",
        describe_keys(&keys)
    );
    let mut stdout = std::io::stdout();
    writeln!(stdout, "http://{addr}/")
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::input(format!("cannot write to standard output: {e}")))?;
    let key_text: Arc<str> = key_text.into();
    for stream in listener.incoming() {
        // A failed accept (e.g. too many open files) ends one connection, not the server.
        let Ok(stream) = stream else { continue };
        let key_text = Arc::clone(&key_text);
        std::thread::spawn(move || {
            // The client may go away at any point; there is nothing to report then.
            let _ = serve_one(stream, &key_text);
        });
    }
    Ok(())
}

/// Answers one request and closes the connection.
fn serve_one(stream: TcpStream, keys: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?).take(MAX_HEAD_BYTES as u64);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The rest of the head is read (and ignored) so the client sees a clean close.
    let mut complete = false;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if line == "\r\n" || line == "\n" {
            complete = true;
            break;
        }
    }
    let mut out = stream;
    let Some((method, target)) = parse_request_line(&request_line).filter(|_| complete) else {
        return respond(
            &mut out,
            "400 Bad Request",
            "text/plain",
            b"bad request\n",
            false,
        );
    };
    let head = method == "HEAD";
    if method != "GET" && !head {
        return respond(
            &mut out,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET\n",
            head,
        );
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let Some(path) = path.strip_prefix('/') else {
        return respond(
            &mut out,
            "400 Bad Request",
            "text/plain",
            b"bad request\n",
            head,
        );
    };
    if path == assets::KEYS_PATH {
        return respond(
            &mut out,
            "200 OK",
            "text/plain; charset=utf-8",
            keys.as_bytes(),
            head,
        );
    }
    match assets::find(path) {
        Some(asset) => respond(&mut out, "200 OK", asset.content_type, asset.body, head),
        None => respond(
            &mut out,
            "404 Not Found",
            "text/plain",
            b"not found\n",
            head,
        ),
    }
}

/// `GET /path HTTP/1.1` to its method and target.
fn parse_request_line(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.trim_end_matches(['\r', '\n']).split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && version.starts_with("HTTP/1.")).then_some((method, target))
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let mut text = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in assets::HEADERS {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    out.write_all(text.as_bytes())?;
    if !head_only {
        out.write_all(body)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_parse_only_when_well_formed() {
        assert_eq!(
            parse_request_line("GET /app.js HTTP/1.1\r\n"),
            Some(("GET", "/app.js"))
        );
        assert_eq!(parse_request_line("GET /app.js\r\n"), None);
        assert_eq!(parse_request_line("GET / HTTP/1.1 extra\r\n"), None);
        assert_eq!(parse_request_line(""), None);
    }

    #[test]
    fn every_asset_is_found_and_nothing_else() {
        for asset in &assets::ASSETS {
            assert!(assets::find(asset.path).is_some(), "{}", asset.path);
            assert!(!asset.body.is_empty(), "{} is empty", asset.path);
        }
        assert!(assets::find("index.html").is_some());
        for other in ["../Cargo.toml", "vendor/entry.js", "package.json", "keys/"] {
            assert!(assets::find(other).is_none(), "{other}");
        }
    }
}
