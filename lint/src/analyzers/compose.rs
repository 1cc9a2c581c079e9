//! docker-compose files: `services.*.environment` (map and list) through the generic walker.

use crate::yaml::Node;

/// `services:` whose entries look like compose services.
pub(crate) fn looks_like_compose(root: &Node) -> bool {
    root.get("services").is_some_and(|s| {
        s.entries().any(|(_, svc)| {
            svc.get("image").is_some()
                || svc.get("build").is_some()
                || svc.get("environment").is_some()
        })
    })
}
