//! A small, deterministic YAML emitter for the AsyncAPI document.
//!
//! The document is a fixed tree of maps, sequences and scalars, so a general
//! YAML library is not needed: block style throughout, keys in insertion
//! order, and any string that could be read as something other than itself
//! (numbers, booleans, `#`, `:`, leading symbols, control characters) is
//! written double-quoted with JSON-compatible escapes.

use std::fmt;

use serde::{
    Deserialize, Deserializer,
    de::{MapAccess, SeqAccess, Visitor},
};

/// A YAML (or JSON) value whose maps keep their insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    /// A number, kept as its JSON text so nothing is lost or reformatted.
    Number(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    /// An empty map, to be filled with [`Node::with`].
    pub fn map() -> Node {
        Node::Map(Vec::new())
    }

    /// Appends `key: value` to a map (no-op on anything else).
    pub fn with(mut self, key: &str, value: impl Into<Node>) -> Node {
        if let Node::Map(entries) = &mut self {
            entries.push((key.to_owned(), value.into()));
        }
        self
    }

    /// Parses JSON text, keeping object keys in their order in the text.
    pub fn from_json(text: &str) -> Result<Node, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The value as a YAML document (ends with a newline).
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        match self {
            Node::Map(entries) if !entries.is_empty() => write_map(&mut out, entries, 0, false),
            Node::Seq(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
            scalar => {
                write_inline(&mut out, scalar);
                out.push('\n');
            }
        }
        out
    }
}

impl From<&str> for Node {
    fn from(text: &str) -> Node {
        Node::Str(text.to_owned())
    }
}

impl From<String> for Node {
    fn from(text: String) -> Node {
        Node::Str(text)
    }
}

impl From<i64> for Node {
    fn from(number: i64) -> Node {
        Node::Number(number.to_string())
    }
}

impl From<bool> for Node {
    fn from(value: bool) -> Node {
        Node::Bool(value)
    }
}

impl From<Vec<Node>> for Node {
    fn from(items: Vec<Node>) -> Node {
        Node::Seq(items)
    }
}

/// Writes map entries at `indent`; with `continues_line` the first entry
/// goes on the current line (after a sequence's `- `).
fn write_map(out: &mut String, entries: &[(String, Node)], indent: usize, continues_line: bool) {
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 || !continues_line {
            push_indent(out, indent);
        }
        write_scalar_text(out, key);
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

fn write_value_after_key(out: &mut String, value: &Node, indent: usize) {
    match value {
        Node::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            write_map(out, entries, indent + 2, false);
        }
        Node::Seq(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2, false);
        }
        scalar => {
            out.push(' ');
            write_inline(out, scalar);
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, items: &[Node], indent: usize, continues_line: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !continues_line {
            push_indent(out, indent);
        }
        out.push_str("- ");
        match item {
            Node::Map(entries) if !entries.is_empty() => write_map(out, entries, indent + 2, true),
            Node::Seq(inner) if !inner.is_empty() => write_seq(out, inner, indent + 2, true),
            scalar => {
                write_inline(out, scalar);
                out.push('\n');
            }
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Scalars and empty collections.
fn write_inline(out: &mut String, node: &Node) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        Node::Number(text) => out.push_str(text),
        Node::Str(text) => write_scalar_text(out, text),
        Node::Seq(_) => out.push_str("[]"),
        Node::Map(_) => out.push_str("{}"),
    }
}

fn write_scalar_text(out: &mut String, text: &str) {
    if is_plain_safe(text) {
        out.push_str(text);
    } else {
        write_double_quoted(out, text);
    }
}

/// Whether `text` reads back as the same string when written unquoted, in
/// any YAML 1.1 or 1.2 parser. Deliberately conservative.
fn is_plain_safe(text: &str) -> bool {
    const RESERVED_WORDS: [&str; 10] = [
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
    ];
    let Some(first) = text.chars().next() else {
        return false;
    };
    let first_ok = first.is_ascii_alphabetic() || first == '_' || first == '/';
    let rest_ok = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-./+;=,()'`<>*&!?%@|\"".contains(c));
    first_ok
        && rest_ok
        && !text.ends_with(' ')
        && !RESERVED_WORDS
            .iter()
            .any(|word| word.eq_ignore_ascii_case(text))
}

fn write_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Node, E> {
        Ok(Node::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Number(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Node, E> {
        Ok(Node::Number(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Node, E> {
        Ok(Node::Number(value.to_string()))
    }

    fn visit_str<E>(self, value: &str) -> Result<Node, E> {
        Ok(Node::Str(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Node, E> {
        Ok(Node::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_block_structures() {
        let doc = Node::map()
            .with("name", "orders")
            .with("partitions", 12)
            .with("empty", Node::map())
            .with(
                "list",
                vec![
                    Node::from("a"),
                    Node::map().with("k", "v").with("none", Node::Null),
                ],
            )
            .with(
                "nested",
                Node::map().with("deep", vec![Node::from(vec![Node::from("x")])]),
            );
        assert_eq!(
            doc.to_yaml(),
            "name: orders\npartitions: 12\nempty: {}\nlist:\n  - a\n  - k: v\n    none: null\n\
             nested:\n  deep:\n    - - x\n"
        );
    }

    #[test]
    fn quotes_strings_that_would_read_as_something_else() {
        let cases = [
            ("3.0.0", "\"3.0.0\""),
            ("true", "\"true\""),
            ("No", "\"No\""),
            ("", "\"\""),
            ("#/components/messages/X", "\"#/components/messages/X\""),
            ("localhost:9092", "\"localhost:9092\""),
            ("$ref", "\"$ref\""),
            ("- item", "\"- item\""),
            ("line\nbreak \"q\" \\", "\"line\\nbreak \\\"q\\\" \\\\\""),
            ("bell\u{7}", "\"bell\\u0007\""),
            ("trailing ", "\"trailing \""),
            (
                "plain text, with (punctuation).",
                "plain text, with (punctuation).",
            ),
            ("/tributary/orders", "/tributary/orders"),
        ];
        for (text, expected) in cases {
            let mut out = String::new();
            write_scalar_text(&mut out, text);
            assert_eq!(out, expected, "for {text:?}");
        }
    }

    #[test]
    fn json_parsing_keeps_key_order() {
        let node = Node::from_json(r#"{"z":1,"a":[true,null,"s",1.5]}"#).expect("valid JSON");
        assert_eq!(
            node.to_yaml(),
            "z: 1\na:\n  - true\n  - null\n  - s\n  - 1.5\n"
        );
    }
}
