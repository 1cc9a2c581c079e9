//! Errors as a real kube-apiserver reports them: a `metav1.Status` with `code`, `reason`,
//! `message` and `details`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed request, rendered as a `kind: Status` body.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, name: &str, group: &str, kind: &str) -> Self {
        let mut details = json!({ "kind": kind });
        if !name.is_empty() {
            details["name"] = json!(name);
        }
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        self.details = Some(details);
        self
    }

    /// `secrets "x" not found`.
    pub(crate) fn not_found(plural: &str, group: &str, name: &str) -> Self {
        let what = qualified(plural, group);
        Self::new(404, "NotFound", format!("{what} \"{name}\" not found"))
            .with_details(name, group, plural)
    }

    /// The path names no resource at all.
    pub(crate) fn path_not_found() -> Self {
        let mut err = Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
        err.details = Some(json!({}));
        err
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub(crate) fn already_exists(plural: &str, group: &str, name: &str) -> Self {
        let what = qualified(plural, group);
        Self::new(
            409,
            "AlreadyExists",
            format!("{what} \"{name}\" already exists"),
        )
        .with_details(name, group, plural)
    }

    /// Optimistic concurrency failure (stale `resourceVersion`, failed precondition).
    pub(crate) fn conflict(plural: &str, group: &str, name: &str, why: &str) -> Self {
        let what = qualified(plural, group);
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {what} \"{name}\": {why}"),
        )
        .with_details(name, group, plural)
    }

    /// Server-side apply conflicts with other field managers.
    pub(crate) fn apply_conflict(
        plural: &str,
        group: &str,
        name: &str,
        conflicts: &[(String, String)],
    ) -> Self {
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(manager, field)| format!("conflict with \"{manager}\": {field}"))
            .collect();
        let message = if lines.len() == 1 {
            format!("Apply failed with 1 conflict: {}", lines[0])
        } else {
            format!(
                "Apply failed with {} conflicts: {}",
                lines.len(),
                lines.join("\n")
            )
        };
        let mut err = Self::new(409, "Conflict", message).with_details(name, group, plural);
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(manager, field)| {
                json!({ "type": "FieldManagerConflict", "message": format!("conflict with \"{manager}\""), "field": field })
            })
            .collect();
        if let Some(details) = err.details.as_mut() {
            details["causes"] = Value::Array(causes);
        }
        err
    }

    /// 422: the object does not pass validation.
    pub(crate) fn invalid(kind: &str, group: &str, name: &str, field: &str, message: &str) -> Self {
        let mut err = Self::new(
            422,
            "Invalid",
            format!(
                "{kind}{} \"{name}\" is invalid: {field}: {message}",
                dotted(group)
            ),
        )
        .with_details(name, group, kind);
        if let Some(details) = err.details.as_mut() {
            details["causes"] =
                json!([{ "reason": "FieldValueInvalid", "message": message, "field": field }]);
        }
        err
    }

    /// 422 with one or more field errors, worded as Kubernetes aggregates them.
    pub(crate) fn invalid_causes(
        kind: &str,
        group: &str,
        name: &str,
        causes: &[crate::validation::Cause],
    ) -> Self {
        let each: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let what = match each.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let mut err = Self::new(
            422,
            "Invalid",
            format!("{kind}{} \"{name}\" is invalid: {what}", dotted(group)),
        )
        .with_details(name, group, kind);
        if let Some(details) = err.details.as_mut() {
            details["causes"] = causes
                .iter()
                .map(|c| json!({ "reason": c.reason, "message": c.message, "field": c.field }))
                .collect();
        }
        err
    }

    /// 422 without a field: the request cannot be applied (e.g. a failed JSON patch `test`).
    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub(crate) fn unsupported_media_type(what: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {what}"),
        )
    }

    pub(crate) fn method_not_allowed(verb: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({verb})"),
        )
    }

    /// 410: the requested resourceVersion (or continue token) is no longer available.
    pub(crate) fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub(crate) fn forbidden(plural: &str, group: &str, name: &str, why: &str) -> Self {
        let what = qualified(plural, group);
        Self::new(
            403,
            "Forbidden",
            format!("{what} \"{name}\" is forbidden: {why}"),
        )
        .with_details(name, group, plural)
    }

    /// An injected failure with the given HTTP status.
    pub(crate) fn injected(code: u16) -> Self {
        let reason = match code {
            409 => "Conflict",
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            404 => "NotFound",
            403 => "Forbidden",
            _ => "Unknown",
        };
        Self::new(
            code,
            reason,
            format!("injected failure (test-apiserver fault injection, code {code})"),
        )
    }

    pub(crate) fn status_body(&self) -> Value {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            body["details"] = details.clone();
        }
        body
    }
}

fn qualified(plural: &str, group: &str) -> String {
    format!("{plural}{}", dotted(group))
}

fn dotted(group: &str) -> String {
    if group.is_empty() {
        String::new()
    } else {
        format!(".{group}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.status_body().to_string();
        (
            code,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_group_and_resource_like_kubernetes() {
        let err = ApiError::not_found("leases", "coordination.k8s.io", "l1");
        let body = err.status_body();
        assert_eq!(
            body["message"],
            "leases.coordination.k8s.io \"l1\" not found"
        );
        assert_eq!(body["details"]["group"], "coordination.k8s.io");
        assert_eq!(body["code"], 404);
    }

    #[test]
    fn apply_conflict_lists_each_manager_and_field() {
        let err =
            ApiError::apply_conflict("secrets", "", "s", &[("kubectl".into(), ".data.a".into())]);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl\": .data.a"
        );
        assert_eq!(
            err.status_body()["details"]["causes"][0]["field"],
            ".data.a"
        );
    }
}
