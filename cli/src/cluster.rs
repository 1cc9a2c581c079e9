//! Talking to the cluster: the kubeconfig's namespace, fetching the controller's public key, and
//! the controller's `/v1/verify` and `/v1/rotate` endpoints through the API server's service
//! proxy. Everything here is used only when the user did not pass keys, or asked for `--online`.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use sealant_core::PublicKey;
use sealant_core::key_secret::PUBLIC_KEY_DATA;
use sealant_core::keys::KeyId;
use sealant_core::resource::PUBLIC_KEYS_CONFIGMAP;

use crate::error::{CliError, CliResult};
// Subcommands wait for the cluster through `cluster::block_on`.
pub use crate::runtime::block_on;

/// Namespace the deploy manifests install the controller into.
pub const DEFAULT_CONTROLLER_NAMESPACE: &str = "sealant-system";
/// Name of the controller's Service in the deploy manifests.
pub const DEFAULT_CONTROLLER_NAME: &str = "sealant-controller";

/// How to reach the cluster (global flags).
#[derive(clap::Args, Clone, Default)]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
}

/// Where the controller runs. Discovery reads only the configured namespace: a tenant who can
/// create a namespace or a ConfigMap of the expected name must not be able to hand out a key.
#[derive(clap::Args, Clone)]
pub struct ControllerArgs {
    /// Namespace of the sealant controller (default: $SEALANT_CONTROLLER_NAMESPACE, else the
    /// `[seal]` controller-namespace of .sealant.toml, else sealant-system). Only this namespace
    /// is read; other namespaces are never searched.
    #[arg(long, value_name = "NS", env = "SEALANT_CONTROLLER_NAMESPACE")]
    pub controller_namespace: Option<String>,
    /// The key fingerprint (key id) the controller's public key must have; repeatable (also
    /// `controller-fingerprints` in .sealant.toml). A different key is an error.
    #[arg(long = "controller-fingerprint", value_name = "KEY_ID")]
    pub controller_fingerprints: Vec<String>,
    /// Name of the controller's Service, for --online requests.
    #[arg(
        long,
        value_name = "NAME",
        default_value = DEFAULT_CONTROLLER_NAME,
        env = "SEALANT_CONTROLLER_NAME"
    )]
    pub controller_name: String,
}

impl KubeArgs {
    fn kubeconfig(&self) -> Option<Result<Kubeconfig, kube::config::KubeconfigError>> {
        match &self.kubeconfig {
            Some(path) => Some(Kubeconfig::read_from(path)),
            None => match Kubeconfig::read() {
                Ok(config) => Some(Ok(config)),
                Err(_) => None,
            },
        }
    }

    /// The namespace of the kubeconfig's current (or chosen) context, as kubectl uses it.
    pub fn context_namespace(&self) -> Option<String> {
        let config = self.kubeconfig()?.ok()?;
        let context_name = self
            .context
            .clone()
            .or_else(|| config.current_context.clone())?;
        config
            .contexts
            .iter()
            .find(|c| c.name == context_name)
            .and_then(|c| c.context.as_ref())
            .and_then(|c| c.namespace.clone())
    }

    /// "context NAME, server URL" of the configuration a client would use, for messages that
    /// must say what was tried; "in-cluster configuration" inside a Pod.
    pub fn target(&self) -> String {
        let Some(Ok(config)) = self.kubeconfig() else {
            return "in-cluster configuration".to_string();
        };
        let context = self
            .context
            .clone()
            .or_else(|| config.current_context.clone())
            .unwrap_or_default();
        let server = config
            .contexts
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.context.as_ref())
            .and_then(|c| config.clusters.iter().find(|k| k.name == c.cluster))
            .and_then(|k| k.cluster.as_ref())
            .and_then(|k| k.server.clone())
            .unwrap_or_else(|| "?".to_string());
        format!("context {context}, server {server}")
    }

    /// A client for the kubeconfig (or in-cluster configuration). A kubeconfig that is missing or
    /// names no usable context is one line saying which file was read and what to do.
    pub async fn client(&self) -> CliResult<Client> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                    CliError::input(format!("--kubeconfig {}: {}", path.display(), root_cause(&e)))
                        .hint("pass the path of a kubeconfig file (kubectl config view --raw prints the current one)")
                })?;
                Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| root_cause(&e))
            }
            None if self.context.is_some() => {
                Config::from_kubeconfig(&options).await.map_err(|e| root_cause(&e))
            }
            None => Config::infer().await.map_err(|e| root_cause(&e)),
        }
        .map_err(|e| {
            let read = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
                Some(paths) => format!("KUBECONFIG={}", paths.to_string_lossy()),
                None => "~/.kube/config".to_string(),
            };
            let what = match &self.context {
                Some(context) => format!("context {context} in {read}"),
                None => read,
            };
            CliError::input(format!("no cluster to talk to: read {what} and found no usable configuration ({e})"))
                .hint("point KUBECONFIG or --kubeconfig at the cluster's kubeconfig and pick it with --context (kubectl config get-contexts lists them); commands with --public-key work offline")
        })?;
        let mut config = config;
        // A cluster that does not answer must not hang the CLI for the client's default minutes.
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(READ_TIMEOUT);
        Client::try_from(config).map_err(|e| {
            CliError::input(format!(
                "cannot create a Kubernetes client for {}: {}",
                self.target(),
                root_cause(&e)
            ))
        })
    }

    /// The one-line error for a request that failed while `doing` something: an answer of the API
    /// server says what it refused; no answer says which server was tried and how to check it.
    pub fn request_error(&self, doing: &str, error: &kube::Error) -> CliError {
        match error {
            kube::Error::Api(status) if status.code == 401 => CliError::input(format!(
                "{doing}: the cluster ({}) did not accept your credentials: {}",
                self.target(),
                status.message
            ))
            .hint("log in again (your kubeconfig's token or certificate expired or is wrong)"),
            kube::Error::Api(status) => {
                CliError::input(format!("{doing}: {} {}", status.code, status.message))
            }
            other => CliError::input(format!(
                "cannot reach the cluster ({}) while {doing}: {}",
                self.target(),
                root_cause(other)
            ))
            .hint("is the cluster up and is this the right context? `kubectl cluster-info` tries the same server; commands with --public-key work offline"),
        }
    }
}

/// How long the CLI waits to connect to the API server, and for an answer.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The innermost cause of an error ("Connection refused (os error 111)"), which says more than
/// the client's wrapper ("client error (Connect)"); both when they differ.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    let (outer, root) = (error.to_string(), inner.to_string());
    if outer == root || outer.contains(&root) {
        outer
    } else {
        format!("{outer}: {root}")
    }
}

/// The controller's current public key, from its ConfigMap in the configured namespace, and
/// that namespace. The key must have a pinned fingerprint when any is configured.
pub async fn fetch_public_key(
    kube: &KubeArgs,
    controller: &ControllerArgs,
) -> CliResult<(String, PublicKey)> {
    let client = kube.client().await?;
    let (namespace, pins) = controller_config(controller)?;
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let map = api.get(PUBLIC_KEYS_CONFIGMAP).await.map_err(|e| {
        let error = kube.request_error(
            &format!("reading ConfigMap {namespace}/{PUBLIC_KEYS_CONFIGMAP}"),
            &e,
        );
        // The API server answered (not found, forbidden): the namespace may be the wrong one.
        if matches!(&e, kube::Error::Api(status) if status.code == 403 || status.code == 404) {
            error.hint("pass --controller-namespace NS (or set controller-namespace in .sealant.toml); other namespaces are never searched")
        } else {
            error
        }
    })?;
    let line = map
        .data
        .as_ref()
        .and_then(|d| d.get(PUBLIC_KEY_DATA))
        .ok_or_else(|| {
            CliError::input(format!("ConfigMap {namespace}/{PUBLIC_KEYS_CONFIGMAP} has no data.{PUBLIC_KEY_DATA}"))
                .hint("the controller publishes it once it has a key: check `kubectl -n NAMESPACE logs deploy/sealant-controller`")
        })?;
    let key: PublicKey = line.parse().map_err(|e| {
        CliError::input(format!(
            "ConfigMap {namespace}/{PUBLIC_KEYS_CONFIGMAP}: data.{PUBLIC_KEY_DATA}: {e}"
        ))
    })?;
    check_pin(&namespace, &key, &pins)?;
    Ok((namespace, key))
}

/// A fetched key must be one of the pinned fingerprints, when any is configured.
fn check_pin(namespace: &str, key: &PublicKey, pins: &[(KeyId, String)]) -> CliResult<()> {
    if pins.is_empty() || pins.iter().any(|(id, _)| *id == key.id()) {
        return Ok(());
    }
    let pinned = pins
        .iter()
        .map(|(id, from)| format!("{id} ({from})"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(CliError::failed(format!(
        "the controller's key in ConfigMap {namespace}/{PUBLIC_KEYS_CONFIGMAP} is {} ({}), but the pinned fingerprint is {pinned}: the key changed, or this is not the controller you meant",
        key.id(),
        key.key_type()
    ))
    .hint("if the controller rotated its key on purpose, pin the new fingerprint (--controller-fingerprint or controller-fingerprints in .sealant.toml); otherwise check --context and --controller-namespace"))
}

/// The controller's namespace (the flag or $SEALANT_CONTROLLER_NAMESPACE, else .sealant.toml's
/// `[seal]` controller-namespace, else sealant-system) and the pinned key fingerprints (the
/// flag's and .sealant.toml's), each with where it came from.
fn controller_config(controller: &ControllerArgs) -> CliResult<(String, Vec<(KeyId, String)>)> {
    let config = crate::trust::Rules::default().here()?;
    let mut pins = Vec::new();
    for text in &controller.controller_fingerprints {
        let id = text.trim_ascii().parse::<KeyId>().map_err(|_| {
            CliError::input(format!(
                "--controller-fingerprint {text}: not a key fingerprint (16 lower-case hex digits)"
            ))
        })?;
        pins.push((id, "--controller-fingerprint".to_string()));
    }
    if let Some(config) = &config {
        for id in &config.controller_fingerprints {
            pins.push((*id, config.file.display().to_string()));
        }
    }
    let namespace = controller
        .controller_namespace
        .clone()
        .or_else(|| config.and_then(|c| c.controller_namespace.clone()))
        .unwrap_or_else(|| DEFAULT_CONTROLLER_NAMESPACE.to_string());
    Ok((namespace, pins))
}

/// The controller's namespace: the flag or $SEALANT_CONTROLLER_NAMESPACE, else .sealant.toml's
/// `[seal]` controller-namespace, else sealant-system. No other namespace is ever searched.
/// It reads no cluster object: the namespace is configuration, never discovered.
pub fn controller_namespace(controller: &ControllerArgs) -> CliResult<String> {
    controller_config(controller).map(|(namespace, _)| namespace)
}

/// POSTs a JSON body to one of the controller's endpoints through the service proxy and returns
/// the status code and body.
pub async fn controller_post(
    kube: &KubeArgs,
    controller: &ControllerArgs,
    endpoint: &str,
    body: Vec<u8>,
) -> CliResult<(u16, String)> {
    let client = kube.client().await?;
    let namespace = controller_namespace(controller)?;
    let path = format!(
        "/api/v1/namespaces/{namespace}/services/http:{}:http/proxy{endpoint}",
        controller.controller_name
    );
    let request = http::Request::post(&path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(|e| CliError::input(format!("cannot build the request: {e}")))?;
    let service = format!("{namespace}/{}", controller.controller_name);
    match client.request_text(request).await {
        Ok(text) => Ok((200, text)),
        // The API server's own refusals of the proxy request: say which permission or object is
        // missing instead of its terse message ("services \"...\" not found").
        Err(kube::Error::Api(status)) if status.code == 403 && status.reason == "Forbidden" => {
            Err(CliError::input(format!(
                "not allowed to reach the controller through the API server: --online needs `create` on services/proxy for Service {service} ({})",
                status.message
            ))
            .hint(format!("ask an admin to bind the sealant-user ClusterRole in {namespace}: kubectl create rolebinding sealant-user-NAME -n {namespace} --clusterrole=sealant-user --user=NAME (docs/install.md#letting-users-verify-online)")))
        }
        // The proxy answers NotFound for a missing Service and for a Service whose Endpoints
        // object does not exist (no endpoints controller has written it yet).
        Err(kube::Error::Api(status)) if status.code == 404 && status.reason == "NotFound" => {
            Err(CliError::input(format!(
                "no Service {service} with endpoints to reach the controller through: {}",
                status.message
            ))
            .hint(format!("check `kubectl -n {namespace} get service,endpoints {}`; if the controller is installed under another name pass --controller-name and --controller-namespace", controller.controller_name)))
        }
        Err(kube::Error::Api(status)) if status.code == 503 && status.reason == "ServiceUnavailable" => {
            Err(CliError::input(format!(
                "the controller's Service {service} has no ready endpoint: {}",
                status.message
            ))
            .hint(format!("check the controller: kubectl -n {namespace} get pods -l app.kubernetes.io/name=sealant-controller")))
        }
        // The controller answers errors with `{reason, message}`, which kube reads as a Status
        // without a code; any error status is a failure either way.
        Err(kube::Error::Api(status)) => {
            let code = if status.code == 0 { 409 } else { status.code };
            let message = match status.reason.as_str() {
                "" | "Failed to parse error data" => status.message.clone(),
                reason => format!("{reason}: {}", status.message),
            };
            Ok((code, message))
        }
        Err(e) => Err(kube.request_error(&format!("posting to the controller at {path}"), &e)),
    }
}

/// A short message for an API error (its status message rather than the whole debug form).
pub fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} {}", status.code, status.message),
        other => other.to_string(),
    }
}
