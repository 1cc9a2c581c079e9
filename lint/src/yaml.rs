//! YAML (and JSON, which is YAML) parsed into a small tree that remembers where every node starts,
//! so that findings point at the value's own line and column.
//!
//! Built on yaml-rust2's event parser and its markers; the tree holds only what the rules need.
//! Every event first goes through sealant-core's bounds (`sealant_core::input::Bounds`: nesting,
//! alias expansion, documents), the same ones the CLI and the controller apply, and parsing stops
//! at the first event past one: a hostile file costs what it takes to reach the bound, and no walk
//! over the tree can exhaust the stack.

use sealant_core::input::{Bounds, Refusal};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Line starts of a text, to turn markers into byte offsets and offsets into line/column.
pub struct Source<'a> {
    pub text: &'a str,
    /// Computed on first use: most files are never parsed and have no finding.
    line_starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str) -> Self {
        Source {
            text,
            line_starts: std::cell::OnceCell::new(),
        }
    }

    fn starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0];
            starts.extend(memchr_newlines(self.text));
            starts
        })
    }

    /// Byte offset of a 1-based line and 0-based character column.
    fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.starts().get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        match rest.char_indices().nth(col) {
            Some((i, _)) => start + i,
            None => self.text.len(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts().partition_point(|&s| s <= offset);
        let start = self.starts()[line.saturating_sub(1)];
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        (line, col + 1)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line(&self, line: usize) -> &'a str {
        let Some(&start) = self.starts().get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self.starts().get(line).map_or(self.text.len(), |e| e - 1);
        self.text[start..end.max(start)].trim_end_matches('\r')
    }

    pub fn line_count(&self) -> usize {
        self.starts().len()
    }
}

/// Offsets just after each `\n`.
fn memchr_newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(i, _)| i + 1)
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

/// A node of a YAML document.
#[derive(Debug)]
pub struct Node {
    pub kind: Kind,
    /// Byte offset where the node's content starts (after a quote; the first content line of a
    /// block scalar).
    pub start: usize,
    /// Byte offset where the node ends (for collections; for scalars, `start`).
    pub end: usize,
}

#[derive(Debug)]
pub enum Kind {
    Scalar(String, Style),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    /// An alias (`*anchor`): its target is reported where it is defined.
    Alias,
}

impl Node {
    /// The scalar text, if this is a scalar.
    pub fn str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .find(|(k, _)| k.str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The scalar value of `key` in a mapping.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::str)
    }

    /// Entries of a mapping (none for other nodes).
    pub fn entries(&self) -> impl Iterator<Item = (&Node, &Node)> {
        let slice: &[(Node, Node)] = match &self.kind {
            Kind::Map(m) => m,
            _ => &[],
        };
        slice.iter().map(|(k, v)| (k, v))
    }

    /// Items of a sequence (none for other nodes).
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Seq(s) => s,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }
}

/// A parsed document with its byte range in the file.
pub struct Document {
    pub root: Node,
    pub start: usize,
    pub end: usize,
}

enum Building {
    Seq(Vec<Node>, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize),
}

struct Receiver<'s, 'a> {
    source: &'s Source<'a>,
    stack: Vec<Building>,
    docs: Vec<Document>,
    doc_start: usize,
    root: Option<Node>,
    /// Offset of the previous event's marker.
    prev_at: usize,
}

impl Receiver<'_, '_> {
    fn add(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(Building::Seq(items, _)) => items.push(node),
            Some(Building::Map(entries, pending, _)) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => *pending = Some(node),
            },
            None => self.root = Some(node),
        }
    }

    fn scalar_start(&self, mark: Marker, style: TScalarStyle) -> usize {
        let at = self.source.offset(mark.line(), mark.col());
        match style {
            TScalarStyle::Plain => at,
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                // The marker is on the opening quote.
                let text = self.source.text;
                if matches!(text.as_bytes().get(at), Some(b'"' | b'\'')) {
                    at + 1
                } else {
                    at
                }
            }
            TScalarStyle::Literal | TScalarStyle::Folded => {
                // The marker of a block scalar is at its end: find the `|`/`>` indicator after
                // the previous event, and the content on the lines after it.
                self.block_start(self.prev_at).unwrap_or(at)
            }
        }
    }

    fn block_start(&self, from: usize) -> Option<usize> {
        let text = self.source.text;
        let mut line_start = text[..from.min(text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        while line_start < text.len() {
            let line_end = text[line_start..]
                .find('\n')
                .map_or(text.len(), |i| line_start + i);
            let line = &text[line_start..line_end];
            let code = line.split(" #").next().unwrap_or("").trim_end();
            let indicator = code
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
                .ends_with(['|', '>']);
            line_start = line_end + 1;
            if indicator {
                let rest = text.get(line_start..)?;
                let skipped = rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
                return Some(line_start + skipped);
            }
        }
        None
    }
}

impl MarkedEventReceiver for Receiver<'_, '_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = self.source.offset(mark.line(), mark.col());
        let prev_at = std::mem::replace(&mut self.prev_at, at);
        match ev {
            Event::DocumentStart => {
                self.doc_start = at;
                self.root = None;
                self.stack.clear();
            }
            Event::DocumentEnd => {
                if let Some(root) = self.root.take() {
                    self.docs.push(Document {
                        root,
                        start: self.doc_start,
                        end: at,
                    });
                }
            }
            Event::Scalar(value, style, _, _) => {
                self.prev_at = prev_at;
                let start = self.scalar_start(mark, style);
                self.prev_at = at.max(start);
                let style = match style {
                    TScalarStyle::Plain => Style::Plain,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => Style::Quoted,
                    TScalarStyle::Literal | TScalarStyle::Folded => Style::Block,
                };
                self.add(Node {
                    kind: Kind::Scalar(value, style),
                    start,
                    end: start,
                });
            }
            Event::Alias(_) => self.add(Node {
                kind: Kind::Alias,
                start: at,
                end: at,
            }),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                self.stack.push(match ev {
                    Event::SequenceStart(..) => Building::Seq(Vec::new(), at),
                    _ => Building::Map(Vec::new(), None, at),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Building::Seq(items, start)) => Node {
                        kind: Kind::Seq(items),
                        start,
                        end: at,
                    },
                    Some(Building::Map(entries, _, start)) => Node {
                        kind: Kind::Map(entries),
                        start,
                        end: at,
                    },
                    None => return,
                };
                self.add(node);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
    }
}

/// Why a text could not be parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Past one of sealant-core's bounds (too deep, aliases that expand too far): a file to skip
    /// with a warning, not to read line by line.
    Refused(Refusal),
    /// Not valid YAML/JSON (or YAML this parser does not accept).
    Invalid(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Refused(refusal) => refusal.fmt(f),
            ParseError::Invalid(message) => f.write_str(message),
        }
    }
}

/// Parses every document of a YAML or JSON stream, or says why it cannot.
pub fn parse(source: &Source<'_>) -> Result<Vec<Document>, ParseError> {
    let mut receiver = Receiver {
        source,
        stack: Vec::new(),
        docs: Vec::new(),
        doc_start: 0,
        root: None,
        prev_at: 0,
    };
    let mut parser = Parser::new_from_str(source.text);
    let mut bounds = Bounds::default();
    // The parser's own `load` recurses once per level; this loop does not.
    loop {
        let (event, mark) =
            parser
                .next_token()
                .map_err(|e| match bounds.after_error(source.text, &e) {
                    Err(refusal) => ParseError::Refused(refusal),
                    Ok(()) => ParseError::Invalid(e.to_string()),
                })?;
        bounds.event(&event, mark).map_err(ParseError::Refused)?;
        let end = event == Event::StreamEnd;
        receiver.on_event(event, mark);
        if end {
            return Ok(receiver.docs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos_of(text: &str, key: &str) -> (usize, usize) {
        let source = Source::new(text);
        let docs = parse(&source).unwrap_or_default();
        let node = docs[0].root.get(key).map(|n| n.start).unwrap_or(usize::MAX);
        source.position(node)
    }

    #[test]
    fn positions_point_at_the_value() {
        let text = "a: 1\nplain: hello\nquoted:   \"hi\"\nsingle: 'x'\nblock: |\n  line one\n";
        assert_eq!(pos_of(text, "plain"), (2, 8));
        assert_eq!(pos_of(text, "quoted"), (3, 12));
        assert_eq!(pos_of(text, "single"), (4, 10));
        assert_eq!(pos_of(text, "block"), (6, 3));
    }

    #[test]
    fn unicode_columns_count_characters() {
        assert_eq!(pos_of("é: x\nkey: välue\nnext: y\n", "next"), (3, 7));
        assert_eq!(pos_of("name: ünï\nnext: y\n", "next"), (2, 7));
    }

    #[test]
    fn multi_document_and_errors() {
        let source = Source::new("a: 1\n---\nb: 2\n");
        assert_eq!(parse(&source).map(|d| d.len()), Ok(2));
        assert!(parse(&Source::new("a: [1, 2\nb: {")).is_err());
        let deep = "[".repeat(500);
        assert!(parse(&Source::new(&deep)).is_err());
    }
}
