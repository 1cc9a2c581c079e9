//! Label selectors (equality- and set-based) and field selectors, parsed like the apiserver does.

use serde_json::Value;

use crate::error::ApiError;

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed `labelSelector`; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub(crate) fn parse(text: &str) -> Result<Self, ApiError> {
        let bad = |why: &str| {
            ApiError::bad_request(format!(
                "unable to parse requirement: {why} in label selector {text:?}"
            ))
        };
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::DoesNotExist(valid_key(key.trim()).map_err(|e| bad(&e))?)
            } else if let Some((key, rest)) = split_word(part, " notin ") {
                Requirement::NotIn(
                    valid_key(key).map_err(|e| bad(&e))?,
                    parse_set(rest).map_err(|e| bad(&e))?,
                )
            } else if let Some((key, rest)) = split_word(part, " in ") {
                Requirement::In(
                    valid_key(key).map_err(|e| bad(&e))?,
                    parse_set(rest).map_err(|e| bad(&e))?,
                )
            } else if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotEquals(
                    valid_key(key.trim()).map_err(|e| bad(&e))?,
                    value.trim().to_string(),
                )
            } else if let Some((key, value)) =
                part.split_once("==").or_else(|| part.split_once('='))
            {
                Requirement::Equals(
                    valid_key(key.trim()).map_err(|e| bad(&e))?,
                    value.trim().to_string(),
                )
            } else {
                Requirement::Exists(valid_key(part).map_err(|e| bad(&e))?)
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether an object (its `metadata.labels`) matches.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::In(k, set) => label(k).is_some_and(|l| set.iter().any(|s| s == l)),
            Requirement::NotIn(k, set) => label(k).is_none_or(|l| !set.iter().any(|s| s == l)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::DoesNotExist(k) => label(k).is_none(),
        })
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn split_word<'a>(part: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    let (key, rest) = part.split_once(word)?;
    Some((key.trim(), rest.trim()))
}

fn parse_set(text: &str) -> Result<Vec<String>, String> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set, found {text:?}"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn valid_key(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!("invalid label key {key:?}"))
    }
}

/// A parsed `fieldSelector`: `path=value` / `path==value` / `path!=value`, comma-separated.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldSelector {
    terms: Vec<FieldTerm>,
}

#[derive(Clone, Debug, PartialEq)]
struct FieldTerm {
    field: String,
    /// The JSON pointer of `field`, computed once rather than per object.
    pointer: String,
    value: String,
    equal: bool,
}

impl FieldSelector {
    pub(crate) fn parse(text: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, value, equal) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, v, true)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                )));
            };
            let field = field.trim().to_string();
            let pointer = format!("/{}", field.replace('.', "/"));
            terms.push(FieldTerm {
                field,
                pointer,
                value: value.trim().to_string(),
                equal,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// The `metadata.name=X` term, when there is one (lets lists skip a scan).
    pub(crate) fn exact_name(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.equal && t.field == "metadata.name")
            .map(|t| t.value.as_str())
    }

    /// The `metadata.namespace=X` term, when there is one (narrows an all-namespaces list).
    pub(crate) fn exact_namespace(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.equal && t.field == "metadata.namespace")
            .map(|t| t.value.as_str())
    }

    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|t| {
            let same = match object.pointer(&t.pointer) {
                Some(Value::String(s)) => *s == t.value,
                Some(Value::Null) | None => t.value.is_empty(),
                Some(Value::Number(n)) => n.to_string() == t.value,
                Some(Value::Bool(b)) => b.to_string() == t.value,
                Some(_) => false,
            };
            same == t.equal
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(labels: Value) -> Value {
        json!({ "metadata": { "name": "n", "namespace": "ns", "labels": labels } })
    }

    #[test]
    fn equality_and_set_based_requirements_combine() {
        let sel =
            LabelSelector::parse("app=web,tier in (front, back),!legacy,env notin (prod)").unwrap();
        assert!(sel.matches(&obj(json!({"app": "web", "tier": "front"}))));
        assert!(!sel.matches(&obj(json!({"app": "web", "tier": "db"}))));
        assert!(!sel.matches(&obj(json!({"app": "web", "tier": "back", "legacy": "1"}))));
        assert!(!sel.matches(&obj(json!({"app": "web", "tier": "back", "env": "prod"}))));
        assert!(sel.matches(&obj(json!({"app": "web", "tier": "back", "env": "dev"}))));
    }

    #[test]
    fn exists_and_not_equals() {
        let sel = LabelSelector::parse("owner,app!=db").unwrap();
        assert!(sel.matches(&obj(json!({"owner": "x"}))));
        assert!(!sel.matches(&obj(json!({"owner": "x", "app": "db"}))));
        assert!(!sel.matches(&obj(json!({}))));
    }

    #[test]
    fn malformed_selectors_are_rejected() {
        assert!(LabelSelector::parse("tier in front").is_err());
        assert!(LabelSelector::parse("bad key=1").is_err());
        assert!(FieldSelector::parse("metadata.name").is_err());
    }

    #[test]
    fn field_selector_on_name_and_namespace() {
        let sel = FieldSelector::parse("metadata.name=n,metadata.namespace!=other").unwrap();
        assert!(sel.matches(&obj(json!({}))));
        assert_eq!(sel.exact_name(), Some("n"));
        assert_eq!(
            sel.exact_namespace(),
            None,
            "a != term does not narrow the scan"
        );
        assert_eq!(
            FieldSelector::parse("metadata.namespace=ns")
                .unwrap()
                .exact_namespace(),
            Some("ns")
        );
        assert!(
            !FieldSelector::parse("metadata.namespace=other")
                .unwrap()
                .matches(&obj(json!({})))
        );
    }
}
