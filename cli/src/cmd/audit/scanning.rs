//! The lint on live objects: each object rendered as the YAML `kubectl get -o yaml` would show
//! (without what the server adds for its own bookkeeping), every line knowing the path of its
//! value, scanned as `sealant lint` scans files, and each finding placed at its field.

use sealant_lint::{Diagnostic, Finding, ObjectRef, Settings};
use serde_json::Value;

use super::listing::Live;

/// Runs the lint on one live object: rendered as YAML without what the server adds for its own
/// bookkeeping (`managedFields`, `status`), each finding placed at the field it is in.
pub(super) fn scan_object(object: Live, settings: &Settings) -> (Vec<Finding>, Vec<Diagnostic>) {
    let whole = ObjectRef {
        namespace: object.meta_str("namespace").to_string(),
        kind: object.kind.kind.to_string(),
        name: object.meta_str("name").to_string(),
        field: String::new(),
    };
    let display = whole.to_string();
    let mut value = object.value;
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
    }
    let rendered = Yaml::render(&value);
    let (mut findings, problems) =
        sealant_lint::scan_text("live-object.yaml", &rendered.text, settings);
    for f in &mut findings {
        let field = rendered.path_at(f.line);
        f.path = display.clone();
        f.message = live_wording(&f.message);
        f.object = Some(ObjectRef {
            field: field.map(display_path).unwrap_or_default(),
            ..whole.clone()
        });
        f.key_path = field.map(jsonpath).unwrap_or_default();
    }
    let problems = problems
        .into_iter()
        .map(|d| Diagnostic {
            path: display.clone(),
            message: d.message,
        })
        .collect();
    (findings, problems)
}

/// The rules speak of files in a repository; a live object holds its values, it does not
/// commit them.
fn live_wording(message: &str) -> String {
    message
        .replace(" commits credential ", " holds credential ")
        .replace(" commits ", " holds ")
        .replace(
            "; seal it with `sealant seal`",
            " outside sealant; move it into a SealedSecret (`sealant audit --fix-plan`)",
        )
}

/// One step of a path into an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    /// A list item: its index, and its `name` when it has one (containers, env, volumes).
    Item(usize, Option<String>),
}

/// `spec.containers[name=app].env[name=DB_PASSWORD].value`; keys that are not plain words
/// (`data[application.properties]`) in brackets.
pub(super) fn display_path(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) if is_word(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Key(key) => out.push_str(&format!("[{key}]")),
            Step::Item(_, Some(name)) => out.push_str(&format!("[name={name}]")),
            Step::Item(index, None) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

fn is_word(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The same path as a kubectl JSONPath expression (`{.spec.containers[?(@.name=="app")]...}`),
/// which `kubectl get -o jsonpath=...` prints without a trailing newline.
pub(super) fn jsonpath(path: &[Step]) -> String {
    let mut out = String::from("{");
    for step in path {
        match step {
            Step::Key(key) => {
                out.push('.');
                for c in key.chars() {
                    if matches!(c, '.' | '[' | ']' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            Step::Item(_, Some(name)) => out.push_str(&format!("[?(@.name==\"{name}\")]")),
            Step::Item(index, None) => out.push_str(&format!("[{index}]")),
        }
    }
    out.push('}');
    out
}

/// A live object as block YAML, and for every line the path of the value on it.
struct Yaml {
    text: String,
    paths: Vec<Vec<Step>>,
}

impl Yaml {
    fn render(value: &Value) -> Yaml {
        let mut yaml = Yaml {
            text: String::new(),
            paths: Vec::new(),
        };
        let mut lines = Vec::new();
        if let Some(map) = value.as_object() {
            // apiVersion, kind and metadata first, as kubectl shows them.
            let mut ordered: Vec<(&String, &Value)> = Vec::new();
            for key in ["apiVersion", "kind", "metadata"] {
                if let Some((k, v)) = map.get_key_value(key) {
                    ordered.push((k, v));
                }
            }
            ordered.extend(
                map.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata")),
            );
            map_lines(ordered, 0, &[], &mut lines);
        }
        for (line, path) in lines {
            yaml.text.push_str(&line);
            yaml.text.push('\n');
            yaml.paths.push(path);
        }
        yaml
    }

    /// The path of the value on 1-based `line`, `None` for the object as a whole.
    fn path_at(&self, line: usize) -> Option<&[Step]> {
        let path = self.paths.get(line.checked_sub(1)?)?;
        // A finding about the whole object sits on its `kind:` line.
        let whole = path.is_empty() || path.as_slice() == [Step::Key("kind".to_string())];
        (!whole).then_some(path.as_slice())
    }
}

type Lines = Vec<(String, Vec<Step>)>;

fn child(path: &[Step], step: Step) -> Vec<Step> {
    let mut out = path.to_vec();
    out.push(step);
    out
}

fn map_lines<'v>(
    entries: impl IntoIterator<Item = (&'v String, &'v Value)>,
    indent: usize,
    path: &[Step],
    out: &mut Lines,
) {
    let pad = " ".repeat(indent);
    for (key, value) in entries {
        let at = child(path, Step::Key(key.clone()));
        let head = format!("{pad}{}:", scalar_key(key));
        value_lines(head, value, indent, at, out);
    }
}

/// Emits `head` (`key:` or `- `) followed by `value`.
fn value_lines(head: String, value: &Value, indent: usize, at: Vec<Step>, out: &mut Lines) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push((head, at.clone()));
            map_lines(map.iter(), indent + 2, &at, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push((head, at.clone()));
            list_lines(items, indent + 2, &at, out);
        }
        Value::String(text) if block_safe(text) => {
            let chomp = if !text.ends_with('\n') {
                "-"
            } else if text.ends_with("\n\n") {
                "+"
            } else {
                ""
            };
            // The first non-empty line sets the block's indentation unless it is given.
            let first = text.split('\n').find(|l| !l.is_empty()).unwrap_or_default();
            let indicator = if first.starts_with([' ', '\t']) {
                "2"
            } else {
                ""
            };
            out.push((format!("{head} |{indicator}{chomp}"), at.clone()));
            let body = text.strip_suffix('\n').unwrap_or(text);
            let pad = " ".repeat(indent + 2);
            for line in body.split('\n') {
                let line = if line.is_empty() {
                    String::new()
                } else {
                    format!("{pad}{line}")
                };
                out.push((line, at.clone()));
            }
        }
        scalar => out.push((format!("{head} {}", scalar_value(scalar)), at)),
    }
}

fn list_lines(items: &[Value], indent: usize, path: &[Step], out: &mut Lines) {
    let pad = " ".repeat(indent);
    for (index, item) in items.iter().enumerate() {
        let name = item.get("name").and_then(Value::as_str).map(str::to_string);
        let at = child(path, Step::Item(index, name));
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first entry shares the `- ` line.
                let mut nested = Vec::new();
                map_lines(map.iter(), indent + 2, &at, &mut nested);
                if let Some(first) = nested.first_mut() {
                    first.0 = format!("{pad}- {}", &first.0[indent + 2..]);
                }
                out.extend(nested);
            }
            other => value_lines(format!("{pad}-"), other, indent, at, out),
        }
    }
}

/// A literal block keeps a multi-line string as it is, so the embedded config files of
/// ConfigMaps keep their lines; strings with other control characters, or only line breaks,
/// are quoted instead.
fn block_safe(text: &str) -> bool {
    text.contains('\n')
        && !text.trim_matches('\n').is_empty()
        && !text
            .chars()
            .any(|c| needs_escape(c) && c != '\n' && c != '\t')
}

fn scalar_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b))
        && !key.starts_with(['-', '.', '/'])
        && !is_yaml_keyword(key);
    if plain { key.to_string() } else { quote(key) }
}

fn scalar_value(value: &Value) -> String {
    match value {
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
        Value::String(text) => {
            let plain = !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-./@+=".contains(&b))
                && text.as_bytes()[0].is_ascii_alphabetic()
                && !is_yaml_keyword(text);
            if plain { text.clone() } else { quote(text) }
        }
        other => other.to_string(),
    }
}

/// A YAML double-quoted scalar: what YAML does not allow raw or would read as a line break (C0
/// and C1 controls, DEL, U+2028/U+2029, the BOM, U+FFFE/U+FFFF) escaped, the rest as it is.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(super) fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

fn is_yaml_keyword(text: &str) -> bool {
    matches!(
        text.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::cmd::audit::listing::tests::pod;

    #[test]
    fn rendered_yaml_parses_back_to_the_same_object() {
        for value in [
            pod(),
            json!({"a": "", "b": " lead", "c": "tab\tin", "d": "x\n\ty", "e": "yes", "f": "1.5",
                   "g": [[1, 2], {"h": null}], "i": "multi\nline", "j": "end\n\n", "k": "-dash",
                   "weird key: x": "v", "l": "\u{1}ctl\nx", "m": " two\nlines"}),
        ] {
            let rendered = Yaml::render(&value);
            let back: Value = serde_yaml::from_str(&rendered.text).unwrap();
            assert_eq!(back, value, "{}", rendered.text);
            assert_eq!(rendered.paths.len(), rendered.text.lines().count());
        }
    }

    /// Any JSON value (keys and strings with YAML indicators, control characters, line breaks
    /// in every position, leading spaces and tabs) renders as YAML that parses back to itself,
    /// with one path per line.
    mod roundtrip {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-z]{0,8}",
                "[ -~]{0,12}",
                r#"[ \t\n\r:#\-|>'"{}\[\],&*!%@`?a-z0-9\x{01}\x{7f}\x{e9}\x{2028}]{0,16}"#,
                Just("yes".to_string()),
                Just("- x".to_string()),
                Just("\n".to_string()),
                Just(" a\n b\n".to_string()),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                text().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::btree_map(text(), inner, 0..5)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn renders_and_parses_back(map in prop::collection::btree_map(text(), value(), 0..6)) {
                let value = Value::Object(map.into_iter().collect());
                let rendered = Yaml::render(&value);
                let back: Value = serde_yaml::from_str(&rendered.text)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{}", rendered.text)))?;
                let back = if back.is_null() { json!({}) } else { back };
                prop_assert_eq!(&back, &value, "{}", rendered.text);
                prop_assert_eq!(rendered.paths.len(), rendered.text.lines().count());
            }
        }
    }

    #[test]
    fn each_line_knows_its_field() {
        let rendered = Yaml::render(&pod());
        let line = rendered
            .text
            .lines()
            .position(|l| l.contains("supersecret123"))
            .unwrap();
        let path = rendered.path_at(line + 1).unwrap();
        assert_eq!(
            display_path(path),
            "spec.containers[name=app].env[name=DB_PASSWORD].value"
        );
        assert_eq!(
            jsonpath(path),
            "{.spec.containers[?(@.name==\"app\")].env[?(@.name==\"DB_PASSWORD\")].value}"
        );
        let note = rendered
            .text
            .lines()
            .position(|l| l.contains("line two"))
            .unwrap();
        assert_eq!(
            display_path(rendered.path_at(note + 1).unwrap()),
            "metadata.annotations.note"
        );
        let kind_line = rendered
            .text
            .lines()
            .position(|l| l == "kind: Pod")
            .unwrap();
        // A finding on the `kind:` line is about the object as a whole.
        assert_eq!(rendered.path_at(kind_line + 1), None);
    }
}
