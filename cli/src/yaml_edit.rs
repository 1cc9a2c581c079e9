//! Edits SealedSecret files in place by byte spans, so that everything but the changed values
//! stays byte for byte: comments, key order, quoting, blank lines, a one-item `kind: List`.
//!
//! Built on yaml-rust2's event parser and its start markers. A file whose layout this editor does
//! not handle (a block or multi-line scalar value, a flow-style `encryptedData`, no
//! `spec.recipients` list to update) makes [`plan`] return an error saying why; callers then
//! re-serialise the document and say so.

use std::collections::BTreeMap;
use std::ops::Range;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A parsed node with the byte offset where it starts.
enum Node {
    Scalar {
        value: String,
        style: TScalarStyle,
        start: usize,
    },
    Seq {
        items: Vec<Node>,
        start: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        start: usize,
    },
    Other,
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries.iter().find_map(|(k, v)| match k {
                Node::Scalar { value, .. } if value == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Collect {
    events: Vec<(Event, Marker)>,
}

impl MarkedEventReceiver for Collect {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        self.events.push((ev, mark));
    }
}

/// Parses `text` into one node per non-empty document.
fn parse(text: &str) -> Result<Vec<Node>, String> {
    // The same bounds as every other reader (callers read the file through `io` first; this
    // keeps the editor safe on its own).
    sealant_core::input::check(text).map_err(|e| e.to_string())?;
    let mut collect = Collect::default();
    Parser::new_from_str(text)
        .load(&mut collect, true)
        .map_err(|e| e.to_string())?;
    // Marker indices count characters; edits need bytes.
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let byte = |m: &Marker| offsets.get(m.index()).copied().unwrap_or(text.len());
    let mut docs = Vec::new();
    let mut iter = collect.events.into_iter().peekable();
    while let Some((ev, _)) = iter.next() {
        if ev == Event::DocumentStart {
            if matches!(iter.peek(), Some((Event::DocumentEnd, _))) {
                continue;
            }
            let node = build(&mut iter, &byte)?;
            if !matches!(node, Node::Scalar { ref value, .. } if value.is_empty() || value == "~" || value == "null")
            {
                docs.push(node);
            }
        }
    }
    Ok(docs)
}

fn build(
    iter: &mut std::iter::Peekable<impl Iterator<Item = (Event, Marker)>>,
    byte: &impl Fn(&Marker) -> usize,
) -> Result<Node, String> {
    let Some((ev, mark)) = iter.next() else {
        return Err("unexpected end of the YAML stream".to_string());
    };
    Ok(match ev {
        Event::Scalar(value, style, _, _) => Node::Scalar {
            value,
            style,
            start: byte(&mark),
        },
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            while !matches!(iter.peek(), Some((Event::SequenceEnd, _)) | None) {
                items.push(build(iter, byte)?);
            }
            iter.next();
            Node::Seq {
                items,
                start: byte(&mark),
            }
        }
        Event::MappingStart(..) => {
            let mut entries = Vec::new();
            while !matches!(iter.peek(), Some((Event::MappingEnd, _)) | None) {
                let key = build(iter, byte)?;
                let value = build(iter, byte)?;
                entries.push((key, value));
            }
            iter.next();
            Node::Map {
                entries,
                start: byte(&mark),
            }
        }
        _ => Node::Other,
    })
}

/// Where a SealedSecret's editable parts are.
pub struct SealedSpans {
    /// `spec.encryptedData`: each key's value span (None when its layout is not handled).
    data: BTreeMap<String, Option<Range<usize>>>,
    /// Where a new `key: value` line goes (start of the line after the last entry) and the
    /// indentation of the keys; None when encryptedData is missing, empty or flow style.
    insert_at: Option<(usize, usize)>,
    /// `spec.recipients`: the lines as written and the byte range of the whole block sequence
    /// (from its first line's start to its last line's end) with the item prefix (`  - `).
    recipients: Option<(Vec<String>, Range<usize>, String)>,
}

/// The spans of every SealedSecret in `text`, in the order [`crate::io::documents`] yields the
/// documents (List items expanded), with `None` for documents of other kinds.
pub fn sealed_spans(text: &str) -> Result<Vec<Option<SealedSpans>>, String> {
    let mut out = Vec::new();
    for doc in parse(text)? {
        let kind = doc.get("kind").and_then(Node::str).unwrap_or_default();
        if kind == "List" || kind.ends_with("List") {
            if let Some(Node::Seq { items, .. }) = doc.get("items") {
                for item in items {
                    out.push(spans_of(text, item));
                }
            }
        } else {
            out.push(spans_of(text, &doc));
        }
    }
    Ok(out)
}

fn spans_of(text: &str, doc: &Node) -> Option<SealedSpans> {
    if doc.get("kind").and_then(Node::str) != Some("SealedSecret") {
        return None;
    }
    let spec = doc.get("spec");
    let mut data = BTreeMap::new();
    let mut insert_at = None;
    if let Some(Node::Map { entries, start }) = spec.and_then(|s| s.get("encryptedData")) {
        let block = !text[*start..].starts_with('{');
        for (key, value) in entries {
            if let Some(k) = key.str() {
                data.insert(k.to_string(), scalar_span(text, value));
            }
        }
        if block && let (Some((first, _)), Some((_, last))) = (entries.first(), entries.last()) {
            let key_start = node_start(first);
            let col = key_start - line_start(text, key_start);
            if let Some(span) = scalar_span(text, last) {
                insert_at = Some((line_end(text, span.end), col));
            }
        }
    }
    let recipients = match spec.and_then(|s| s.get("recipients")) {
        Some(Node::Seq { items, .. }) if !items.is_empty() => {
            let spans: Option<Vec<Range<usize>>> =
                items.iter().map(|i| scalar_span(text, i)).collect();
            spans.and_then(|spans| {
                let first = spans.first()?.start;
                let last = spans.last()?.end;
                let from = line_start(text, first);
                let prefix = text[from..first].to_string();
                // A block sequence: each item on its own `- ` line.
                if prefix.trim() != "-" {
                    return None;
                }
                let lines = items
                    .iter()
                    .filter_map(|i| i.str().map(String::from))
                    .collect();
                Some((lines, from..line_end(text, last), prefix))
            })
        }
        _ => None,
    };
    Some(SealedSpans {
        data,
        insert_at,
        recipients,
    })
}

fn node_start(node: &Node) -> usize {
    match node {
        Node::Scalar { start, .. } | Node::Seq { start, .. } | Node::Map { start, .. } => *start,
        Node::Other => 0,
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The offset just after the newline ending the line that holds `at` (or the end of the text).
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// The byte range of a one-line plain or quoted scalar, or None.
fn scalar_span(text: &str, node: &Node) -> Option<Range<usize>> {
    let Node::Scalar {
        value,
        style,
        start,
    } = node
    else {
        return None;
    };
    let rest = &text[*start..];
    let len = match style {
        TScalarStyle::Plain => rest.starts_with(value.as_str()).then_some(value.len())?,
        TScalarStyle::SingleQuoted => {
            let body = rest.strip_prefix('\'')?;
            let mut i = 0;
            loop {
                let j = body[i..].find('\'')? + i;
                if body[j + 1..].starts_with('\'') {
                    i = j + 2;
                } else {
                    break j + 2;
                }
            }
        }
        TScalarStyle::DoubleQuoted => {
            let body = rest.strip_prefix('"')?;
            let mut escaped = false;
            let mut end = None;
            for (i, c) in body.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i + 2);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            end?
        }
        _ => return None,
    };
    (!text[*start..*start + len].contains('\n')).then_some(*start..*start + len)
}

/// A YAML key written plainly when that reads back as the same string, else single-quoted.
fn yaml_key(key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '.' || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !matches!(
            key.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        key.to_string()
    } else {
        format!("'{}'", key.replace('\'', "''"))
    }
}

/// The edits that turn one SealedSecret's values into `data` (changed and added keys; keys not
/// in `data` stay) and its recipients into `recipients` (when they differ).
pub fn plan(
    text: &str,
    spans: &SealedSpans,
    data: &BTreeMap<String, String>,
    old: &BTreeMap<String, String>,
    recipients: &[String],
) -> Result<Vec<(Range<usize>, String)>, String> {
    let mut edits = Vec::new();
    let mut added = String::new();
    for (key, value) in data {
        if old.get(key) == Some(value) {
            continue;
        }
        match spans.data.get(key) {
            Some(Some(span)) => edits.push((span.clone(), value.clone())),
            Some(None) => {
                return Err(format!("spec.encryptedData.{key} is not a one-line value"));
            }
            None => {
                let (_, col) = spans
                    .insert_at
                    .ok_or("spec.encryptedData is empty or in flow style")?;
                added.push_str(&format!("{}{}: {value}\n", " ".repeat(col), yaml_key(key)));
            }
        }
    }
    if !added.is_empty()
        && let Some((at, _)) = spans.insert_at
    {
        let newline = if at > 0 && !text[..at].ends_with('\n') {
            "\n"
        } else {
            ""
        };
        edits.push((at..at, format!("{newline}{added}")));
    }
    match &spans.recipients {
        Some((lines, _, _)) if lines.as_slice() == recipients => {}
        Some((_, range, prefix)) => {
            let block: String = recipients
                .iter()
                .map(|line| format!("{prefix}{line}\n"))
                .collect();
            edits.push((range.clone(), block));
        }
        None if recipients.is_empty() => {}
        None => return Err("spec.recipients is missing, empty or in flow style".to_string()),
    }
    Ok(edits)
}

/// Applies non-overlapping edits.
pub fn apply(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    // From the end backwards; at one offset a replacement goes before an insertion there.
    edits.sort_by_key(|(range, _)| std::cmp::Reverse((range.start, range.end)));
    let mut out = text.to_string();
    for (range, replacement) in edits {
        out.replace_range(range, &replacement);
    }
    out
}

/// Rewrites the SealedSecrets of `text` in place: `changes[i]` is the new values and recipients
/// of the i-th SealedSecret (documents of other kinds are not counted), or None to leave it.
/// Errors (with the reason) when the layout is not one this editor handles.
pub fn edit_sealed(text: &str, changes: &[Option<SealedChange>]) -> Result<String, String> {
    let spans: Vec<SealedSpans> = sealed_spans(text)?.into_iter().flatten().collect();
    if spans.len() != changes.len() {
        return Err(format!(
            "found {} SealedSecrets where {} were expected",
            spans.len(),
            changes.len()
        ));
    }
    let mut edits = Vec::new();
    for (spans, change) in spans.iter().zip(changes) {
        if let Some(change) = change {
            edits.extend(plan(
                text,
                spans,
                &change.data,
                &change.old,
                &change.recipients,
            )?);
        }
    }
    Ok(apply(text, edits))
}

/// The new state of one SealedSecret.
pub struct SealedChange {
    /// Values to write (changed or new keys).
    pub data: BTreeMap<String, String>,
    /// The values as they were (unchanged ones are not touched).
    pub old: BTreeMap<String, String>,
    /// The recipient lines the file should list.
    pub recipients: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(data: &[(&str, &str)], old: &[(&str, &str)], recipients: &[&str]) -> SealedChange {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        SealedChange {
            data: map(data),
            old: map(old),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
        }
    }

    const DOC: &str = "\
kind: SealedSecret # keep
spec:
  encryptedData:
    a: 'AAA'   # quoted
    b: \"BB\\\"B\"
  recipients:
  - r1
";

    #[test]
    fn quoted_values_are_replaced_and_new_keys_appended_after_the_last() {
        let out = edit_sealed(
            DOC,
            &[Some(change(
                &[("a", "NEW"), ("b", "BB\"B"), ("3x", "C")],
                &[("a", "AAA"), ("b", "BB\"B")],
                &["r1"],
            ))],
        )
        .unwrap();
        assert_eq!(
            out,
            "kind: SealedSecret # keep\nspec:\n  encryptedData:\n    a: NEW   # quoted\n    b: \"BB\\\"B\"\n    '3x': C\n  recipients:\n  - r1\n"
        );
    }

    #[test]
    fn block_scalars_and_flow_maps_are_refused_with_the_reason() {
        let block = "kind: SealedSecret\nspec:\n  encryptedData:\n    a: |\n      AAA\n  recipients:\n  - r1\n";
        let err = edit_sealed(
            block,
            &[Some(change(&[("a", "X")], &[("a", "AAA\n")], &["r1"]))],
        )
        .unwrap_err();
        assert_eq!(err, "spec.encryptedData.a is not a one-line value");
        let flow = "kind: SealedSecret\nspec:\n  encryptedData: {}\n  recipients: [r1]\n";
        let err = edit_sealed(flow, &[Some(change(&[("a", "X")], &[], &["r1"]))]).unwrap_err();
        assert_eq!(err, "spec.encryptedData is empty or in flow style");
    }

    #[test]
    fn recipients_are_replaced_as_a_block_with_the_same_prefix() {
        let out = edit_sealed(DOC, &[Some(change(&[], &[], &["r2", "r3"]))]).unwrap();
        assert!(out.ends_with("  recipients:\n  - r2\n  - r3\n"), "{out}");
        assert!(out.starts_with("kind: SealedSecret # keep\n"));
    }
}
