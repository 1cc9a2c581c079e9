//! The subcommands, one file each (`sealant keys` holds `backup` and `restore`). Each reads its
//! inputs completely and checks them before writing anything. To add a subcommand: a file here
//! with its `Args` and `run`, and one variant in `main.rs`'s `Command`.

pub mod audit;
pub mod fetch_key;
pub mod keygen;
pub mod keys;
pub mod lint;
pub mod merge_into;
#[cfg(feature = "migrate")]
pub mod migrate;
pub mod recover;
pub mod reencrypt;
pub mod seal;
pub mod verify;
pub mod web;

use std::cell::OnceCell;
use std::path::PathBuf;

use sealant_core::PublicKey;

use crate::cluster::{self, ControllerArgs, KubeArgs};
use crate::error::{CliError, CliResult};
use crate::io;
use crate::trust::{self, Origin, TrustedSet};

/// The namespace an object without one goes to, resolved as kubectl does: the manifest's, else
/// `--namespace`, else the kubeconfig context's, else `default`. A manifest namespace that
/// contradicts `--namespace` is an error.
pub struct Namespaces<'a> {
    flag: Option<String>,
    kube: &'a KubeArgs,
    context: OnceCell<Option<String>>,
}

impl<'a> Namespaces<'a> {
    pub fn new(flag: Option<String>, kube: &'a KubeArgs) -> Self {
        Namespaces {
            flag,
            kube,
            context: OnceCell::new(),
        }
    }

    /// The namespace for an object whose manifest says `manifest`.
    pub fn resolve(&self, manifest: Option<&str>, ctx: &str) -> CliResult<String> {
        match (manifest, &self.flag) {
            (Some(m), Some(f)) if m != f => Err(CliError::input(format!(
                "{ctx}: metadata.namespace is '{m}' but --namespace is '{f}'"
            ))
            .hint("drop --namespace or make them agree")),
            (Some(m), _) => Ok(m.to_string()),
            (None, Some(f)) => Ok(f.clone()),
            (None, None) => Ok(self.default_namespace()),
        }
    }

    /// The kubeconfig context's namespace, else `default`.
    pub fn default_namespace(&self) -> String {
        self.context
            .get_or_init(|| self.kube.context_namespace())
            .clone()
            .unwrap_or_else(|| "default".to_string())
    }
}

/// The keys to seal to and the set they come from: the trusted set the caller found
/// (`--public-key` or a recipient rule, see [`crate::trust`]), else the controller's key fetched
/// from the configured namespace. A rule that pins a key by fingerprint only takes the
/// controller's key, which must have that fingerprint. Warns when X-Wing and X25519 keys mix.
pub fn sealing_keys(
    set: Option<TrustedSet>,
    kube: &KubeArgs,
    controller: &ControllerArgs,
) -> CliResult<(TrustedSet, Vec<PublicKey>)> {
    let (set, keys) = match set {
        Some(set) => {
            set.check_post_quantum()?;
            let fetched = if set.needs_controller() {
                let mut controller = controller.clone();
                if controller.controller_namespace.is_none() {
                    controller.controller_namespace = set.controller_namespace.clone();
                }
                Some(fetch_controller_key(kube, &controller)?.1)
            } else {
                None
            };
            let keys = set.sealing_keys(fetched.as_ref())?;
            if let Origin::Rule(rule) = &set.origin {
                eprintln!("using {} from {rule}", describe_keys(&keys));
            }
            (set, keys)
        }
        None => {
            let (namespace, key) = fetch_controller_key(kube, controller)?;
            let set = TrustedSet::from_controller(&namespace, key.clone());
            (set, vec![key])
        }
    };
    if let Some(warning) = trust::mixed_types_warning(&keys) {
        eprintln!("{warning}");
    }
    Ok((set, keys))
}

/// The controller's key, fetched from its configured namespace, with a line saying which key
/// (fingerprint) was used and where it was found.
fn fetch_controller_key(
    kube: &KubeArgs,
    controller: &ControllerArgs,
) -> CliResult<(String, PublicKey)> {
    let (namespace, key) = cluster::block_on(cluster::fetch_public_key(kube, controller))?
        .map_err(|e| {
            if e.hint_text().is_some() {
                e
            } else {
                e.hint("pass --public-key FILE to seal offline, or make the controller reachable")
            }
        })?;
    eprintln!(
        "using the controller's key {} ({}) from namespace {namespace}{}",
        key.id(),
        key.key_type(),
        kube.context
            .as_deref()
            .map(|c| format!(" (context {c})"))
            .unwrap_or_default()
    );
    Ok((namespace, key))
}

/// `key 0123… (x25519)` or `keys 0123… (x25519), 4567… (xwing)`, for what-was-done lines.
pub fn describe_keys(keys: &[PublicKey]) -> String {
    let list = keys
        .iter()
        .map(|k| format!("{} ({})", k.id(), k.key_type()))
        .collect::<Vec<_>>()
        .join(", ");
    format!("key{} {list}", if keys.len() == 1 { "" } else { "s" })
}

/// The distinct namespaces, in first-seen order, as `production` or `a, b`; a cluster-wide
/// value without one is `any namespace`.
pub fn describe_namespaces<'n>(namespaces: impl IntoIterator<Item = &'n str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for ns in namespaces {
        let ns = if ns.is_empty() { "any namespace" } else { ns };
        if !seen.contains(&ns) {
            seen.push(ns);
        }
    }
    seen.join(", ")
}

/// Loads every `--private-key` file into one key ring.
pub fn key_ring(paths: &[PathBuf]) -> CliResult<sealant_core::KeyRing> {
    let mut ring = sealant_core::KeyRing::new();
    for path in paths {
        for key in io::load_private_keys(path)? {
            ring.insert(key);
        }
    }
    Ok(ring)
}
