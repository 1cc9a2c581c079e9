//! The one bounded reader of YAML and JSON input that every program uses: the CLI's files and
//! stdin, the lint's manifests, the controller's `/v1/verify` and `/v1/rotate` bodies.
//!
//! YAML parsers (libyaml under serde_yaml; yaml-rust2) do work that grows with nesting for every
//! token, so a file of nested flow collections takes time quadratic in its length (a 320 KB body
//! held a controller worker for minutes), and aliases can expand a small file into a huge tree.
//! Before any text reaches serde_yaml, [`check`] walks it once with yaml-rust2's event parser and
//! stops at the first event past a bound, so the cost of refusing an input does not grow with
//! how hostile it is:
//!
//! | bound | constant | refusal |
//! | --- | --- | --- |
//! | size | [`MAX_INPUT_BYTES`] | `N bytes is over the M-byte limit` |
//! | nesting (flow `[[`/`{{` and block indentation alike) | [`MAX_DEPTH`] | `nested deeper than 100 levels` |
//! | documents in one stream | [`MAX_DOCUMENTS`] | `more than N documents` |
//! | nodes added by alias expansion | [`MAX_ALIAS_NODES`] | `aliases expand to more than N nodes` |
//!
//! JSON read with [`json_from_slice`] goes through serde_json, whose recursion limit (128) is on
//! (the workspace does not enable `unbounded_depth`), and the same size bound. The limits are
//! documented for users in `docs/limits.md`.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, ScanError};

/// Largest input read, in bytes (a 5 MB `kind: List` of SealedSecrets is ordinary).
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// Deepest nesting of collections (sequences and mappings, flow or block) in one document. Below
/// serde_yaml's and serde_json's own recursion limit (128), so that this refusal, which names the
/// file and the document, is the one users see.
pub const MAX_DEPTH: usize = 100;
/// Most documents in one YAML stream.
pub const MAX_DOCUMENTS: usize = 100_000;
/// Most nodes that aliases (`*name`) may add to a stream when expanded (the "billion laughs"
/// shape: each level of aliases multiplies the tree).
pub const MAX_ALIAS_NODES: usize = 100_000;

/// Which bound an input broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Limit {
    #[error("{bytes} bytes is over the {MAX_INPUT_BYTES}-byte limit")]
    TooLarge { bytes: usize },
    #[error("nested deeper than {MAX_DEPTH} levels (line {line}, column {column})")]
    TooDeep { line: usize, column: usize },
    #[error("more than {MAX_DOCUMENTS} documents (line {line})")]
    TooManyDocuments { line: usize },
    #[error("aliases expand to more than {MAX_ALIAS_NODES} nodes (line {line}, column {column})")]
    AliasExpansion { line: usize, column: usize },
}

/// Why [`check`] refused a text: the bound and the (1-based) document it was broken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {document}: {limit}")]
pub struct Refusal {
    pub document: usize,
    pub limit: Limit,
}

/// An input that could not be read, in one line: `FILE: document N: what`.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A bound of this module.
    #[error("{name}: {refusal}")]
    Refused { name: String, refusal: Refusal },
    /// Not valid YAML or JSON, or not the expected shape.
    #[error("{name}: document {document}: invalid {format}: {message}")]
    Invalid {
        name: String,
        document: usize,
        format: &'static str,
        message: String,
    },
}

impl ReadError {
    /// The bound that was broken, if this is a refusal.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            ReadError::Refused { refusal, .. } => Some(refusal),
            ReadError::Invalid { .. } => None,
        }
    }
}

/// Checks `text` against every bound in one pass that stops at the first event past one. A text
/// that is not valid YAML is not refused here (serde_yaml reports it with its own message), but
/// the part after the syntax error is bounded by [`check_rest`], so no text reaches serde_yaml
/// unbounded.
pub fn check(text: &str) -> Result<(), Refusal> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(Refusal {
            document: 1,
            limit: Limit::TooLarge { bytes: text.len() },
        });
    }
    let mut parser = Parser::new_from_str(text);
    let mut walk = Bounds::default();
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => return Ok(()),
            Ok((event, mark)) => walk.event(&event, mark)?,
            Err(error) => return walk.after_error(text, &error),
        }
    }
}

/// Every YAML document of a stream (JSON is YAML), after [`check`]. `name` names the input in
/// errors (a path, `<stdin>`, `request body`). Empty documents are `Value::Null`.
pub fn yaml_documents(name: &str, text: &str) -> Result<Vec<serde_yaml::Value>, ReadError> {
    check(text).map_err(|refusal| ReadError::Refused {
        name: name.to_string(),
        refusal,
    })?;
    serde_yaml::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, de)| {
            serde_yaml::Value::deserialize(de).map_err(|e| ReadError::Invalid {
                name: name.to_string(),
                document: i + 1,
                format: "YAML",
                message: e.to_string(),
            })
        })
        .collect()
}

/// One YAML document (JSON is YAML) as `T`, after [`check`].
pub fn yaml_from_str<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, ReadError> {
    check(text).map_err(|refusal| ReadError::Refused {
        name: name.to_string(),
        refusal,
    })?;
    serde_yaml::from_str(text).map_err(|e| ReadError::Invalid {
        name: name.to_string(),
        document: 1,
        format: "YAML",
        message: e.to_string(),
    })
}

/// One JSON document as `T`: serde_json (whose own recursion limit of 128 stays on as a second
/// line), after [`check`].
pub fn json_from_slice<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, ReadError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ReadError::Refused {
            name: name.to_string(),
            refusal: Refusal {
                document: 1,
                limit: Limit::TooLarge { bytes: bytes.len() },
            },
        });
    }
    // The same walk as YAML (JSON is YAML), so that JSON gets the same bound and message.
    if let Ok(text) = std::str::from_utf8(bytes) {
        check(text).map_err(|refusal| ReadError::Refused {
            name: name.to_string(),
            refusal,
        })?;
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        if message.starts_with("recursion limit exceeded") {
            ReadError::Refused {
                name: name.to_string(),
                refusal: Refusal {
                    document: 1,
                    limit: Limit::TooDeep {
                        line: e.line(),
                        column: e.column(),
                    },
                },
            }
        } else {
            ReadError::Invalid {
                name: name.to_string(),
                document: 1,
                format: "JSON",
                message,
            }
        }
    })
}

/// The hostile shapes of issue 18, each about `size` bytes: nested flow sequences and maps (on
/// one line and over lines), deep block indentation, compact block sequences (`- - - -`) and expanding aliases. For
/// the tests of every program that reads YAML (shared here so that each tries the same attacks).
#[doc(hidden)]
pub fn hostile_samples(size: usize) -> Vec<(&'static str, String)> {
    let indented: String = (0..)
        .map(|i| format!("{}k:\n", " ".repeat(i % 2000)))
        .scan(0, |len, line| {
            *len += line.len();
            (*len <= size).then_some(line)
        })
        .collect();
    let mut laughs = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let mut i = 1;
    while laughs.len() + 200 < size {
        let prev = format!("*a{}", i - 1);
        laughs.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 9].join(", ")));
        i += 1;
    }
    vec![
        ("nested flow sequences", "[".repeat(size)),
        // One per line: libyaml's lookahead for a key spans lines in flow context, so this is the
        // shape that took it 14 s for 80 KB (`sealant verify`, debug build, before the bounds).
        ("nested flow sequences over lines", "[\n".repeat(size / 2)),
        ("nested flow maps", "{a: ".repeat(size / 4)),
        ("nested flow maps over lines", "{a:\n".repeat(size / 4)),
        ("deep block indentation", indented),
        ("compact block sequences", "- ".repeat(size / 2)),
        ("expanding aliases", laughs),
    ]
}

/// The bounds as a walk over yaml-rust2's parser events, for readers that drive the parser
/// themselves (the lint builds its tree from the same events): feed it every event before using
/// it, and stop at the first refusal. [`check`] is this walk with nothing else.
#[derive(Default)]
pub struct Bounds {
    /// Documents started so far (the current one's 1-based index).
    documents: usize,
    /// Open collections; each remembers its anchor and the node count when it opened.
    open: Vec<(usize, usize)>,
    depth: usize,
    /// Nodes seen, counting each alias as the size of what it names.
    nodes: usize,
    /// Nodes added by aliases.
    aliased: usize,
    /// Size in nodes of each anchored node, by the parser's anchor id.
    anchors: HashMap<usize, usize>,
}

impl Bounds {
    /// After the parser failed with `error` on `text` (yaml-rust2 also stops at its own nesting
    /// limit, and other parsers may read on where it stopped): the rest of the text bounded by
    /// [`check_rest`]'s over-estimate.
    pub fn after_error(&self, text: &str, error: &ScanError) -> Result<(), Refusal> {
        let at = error.marker().index();
        let rest = text.char_indices().nth(at).map_or("", |(i, _)| &text[i..]);
        let line_offset = error.marker().line().saturating_sub(1);
        check_rest(rest, self.depth).map_err(|limit| Refusal {
            document: self.documents.max(1),
            limit: match limit {
                Limit::TooDeep { line, column } => Limit::TooDeep {
                    line: line + line_offset,
                    column,
                },
                other => other,
            },
        })
    }

    /// Counts one event; the refusal of the first bound it breaks.
    pub fn event(&mut self, event: &Event, mark: Marker) -> Result<(), Refusal> {
        let refuse = |documents: usize, limit| Refusal {
            document: documents.max(1),
            limit,
        };
        let documents = self.documents;
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > MAX_DOCUMENTS {
                    return Err(refuse(
                        self.documents,
                        Limit::TooManyDocuments { line: mark.line() },
                    ));
                }
            }
            &Event::SequenceStart(anchor, _) | &Event::MappingStart(anchor, _) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(refuse(
                        documents,
                        Limit::TooDeep {
                            line: mark.line(),
                            column: mark.col() + 1,
                        },
                    ));
                }
                self.nodes += 1;
                self.open.push((anchor, self.nodes - 1));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.depth = self.depth.saturating_sub(1);
                if let Some((anchor, start)) = self.open.pop()
                    && anchor > 0
                {
                    self.anchors.insert(anchor, self.nodes - start);
                }
            }
            &Event::Scalar(_, _, anchor, _) => {
                self.nodes += 1;
                if anchor > 0 {
                    self.anchors.insert(anchor, 1);
                }
            }
            &Event::Alias(anchor) => {
                let size = self.anchors.get(&anchor).copied().unwrap_or(1);
                self.aliased = self.aliased.saturating_add(size);
                self.nodes = self.nodes.saturating_add(size);
                if self.aliased > MAX_ALIAS_NODES {
                    return Err(refuse(
                        documents,
                        Limit::AliasExpansion {
                            line: mark.line(),
                            column: mark.col() + 1,
                        },
                    ));
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }
}

/// Bounds text that yaml-rust2 could not parse, without parsing it: an over-estimate of the
/// nesting it could hold. Every `[`/`{` outside a comment counts as an opening (quotes are not
/// trusted: a quote inside a plain scalar is a character), and a line's block depth is at most
/// its indentation plus the `- `/`? `/`: ` indicators on it. Legitimate text is far below the
/// bound either way; `depth` is the nesting already open where the rest starts.
fn check_rest(rest: &str, depth: usize) -> Result<(), Limit> {
    let mut flow = depth;
    for (index, line) in rest.split('\n').enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let mut block = depth + indent;
        let bytes = line.as_bytes();
        let mut previous = b' ';
        for (column, &byte) in bytes.iter().enumerate() {
            let spaced = matches!(bytes.get(column + 1), None | Some(b' ' | b'\t' | b'\r'));
            match byte {
                b'#' if previous == b' ' || previous == b'\t' => break,
                b'[' | b'{' => flow += 1,
                b']' | b'}' => flow = flow.saturating_sub(1),
                b'-' | b'?' | b':' if spaced => block += 1,
                _ => {}
            }
            if flow > MAX_DEPTH || block > MAX_DEPTH * 2 {
                return Err(Limit::TooDeep {
                    line: index + 1,
                    column: column + 1,
                });
            }
            previous = byte;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(text: &str) -> Option<Limit> {
        check(text).err().map(|r| r.limit)
    }

    #[test]
    fn ordinary_yaml_passes() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  labels: {a: b}\n\
                    data:\n  k: dmFsdWU=\nlist: [1, [2, 3], {x: y}]\nblock: |\n  [[[[ {{{{\n";
        assert_eq!(check(text), Ok(()));
        let docs = yaml_documents("f.yaml", text).unwrap_or_default();
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn nesting_is_bounded_flow_and_block() {
        let exactly = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(check(&exactly), Ok(()));
        for text in [
            "[".repeat(MAX_DEPTH + 1),
            "{a: ".repeat(MAX_DEPTH + 1),
            "- ".repeat(MAX_DEPTH + 1) + "x\n",
            (0..=MAX_DEPTH)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect::<String>(),
        ] {
            assert!(
                matches!(limit(&text), Some(Limit::TooDeep { .. })),
                "{}",
                &text[..40]
            );
        }
    }

    #[test]
    fn nesting_hidden_after_a_syntax_error_is_bounded() {
        // yaml-rust2 stops at the second `:`; the nesting after it still counts.
        let text = format!("a: b: c\n{}", "[".repeat(MAX_DEPTH + 1));
        assert!(matches!(limit(&text), Some(Limit::TooDeep { .. })));
        assert_eq!(check("a: b: c\nd: [1, 2]\n"), Ok(()));
    }

    #[test]
    fn alias_expansion_is_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        assert!(matches!(limit(&text), Some(Limit::AliasExpansion { .. })));
        assert_eq!(check("a: &x {b: c}\nd: *x\ne: *x\n"), Ok(()));
    }

    #[test]
    fn documents_are_counted() {
        let text = "---\na: 1\n".repeat(MAX_DOCUMENTS + 1);
        assert!(matches!(
            check(&text),
            Err(Refusal {
                document,
                limit: Limit::TooManyDocuments { .. }
            }) if document == MAX_DOCUMENTS + 1
        ));
    }

    #[test]
    fn errors_name_the_input_the_document_and_the_bound() {
        let text = format!("a: 1\n---\nb: {}", "[".repeat(500));
        let error = yaml_documents("deep.yaml", &text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with("deep.yaml: document 2: nested deeper than 100 levels (line 3, "),
            "{error}"
        );
        let json = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let error = json_from_slice::<serde_json::Value>("body", json.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with("body: document 1: nested deeper than 100"),
            "{error}"
        );
    }

    #[test]
    fn hostile_inputs_are_refused_fast() {
        for (shape, text) in hostile_samples(1024 * 1024) {
            let started = std::time::Instant::now();
            let refused = check(&text).is_err();
            let took = started.elapsed();
            println!("{shape}: {} bytes refused in {took:?}", text.len());
            assert!(refused, "{shape} was not refused");
            assert!(
                took < std::time::Duration::from_secs(1),
                "{shape} took {took:?}"
            );
        }
    }

    #[test]
    fn large_legitimate_input_is_read() {
        let data: String = (0..1000)
            .map(|i| format!("  key{i}: dmFsdWUtbnVtYmVyLXtpfQ==\n"))
            .collect();
        let secret = format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: big\ndata:\n{data}");
        let docs = yaml_documents("secret.yaml", &secret).unwrap_or_default();
        assert_eq!(docs[0]["data"].as_mapping().map(|m| m.len()), Some(1000));

        let value = "QUJD".repeat(1000);
        let item = format!(
            "- apiVersion: sealant.dev/v1alpha1\n  kind: SealedSecret\n  metadata:\n    \
             name: s\n    namespace: ns\n  spec:\n    encryptedData:\n      a: {value}\n      \
             b: {value}\n"
        );
        let list = format!("apiVersion: v1\nkind: List\nitems:\n{}", item.repeat(630));
        assert!(list.len() > 5_000_000);
        let started = std::time::Instant::now();
        let docs = yaml_documents("list.yaml", &list).unwrap_or_default();
        println!("{} byte List read in {:?}", list.len(), started.elapsed());
        assert_eq!(docs[0]["items"].as_sequence().map(Vec::len), Some(630));
    }
}
