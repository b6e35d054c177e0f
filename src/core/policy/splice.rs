//! Written as read: the text of an edited policy document, spliced into the text it was read as.
//!
//! Every statement the edit leaves unchanged keeps its exact bytes, and so do the separators
//! between two statements that stay neighbours and every member other than `Statement`; a new
//! statement is written in the style of the statements around it (one-line documents stay one
//! line, indented ones get the same indentation). The result is checked to parse to exactly the
//! new document; where it would not, [`splice`] returns `None` and the caller writes a plain
//! serialisation instead.

use serde_json::Value;

/// A byte range `start..end` of the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

/// One member of the top-level object: its key and the span of its value.
#[derive(Debug)]
struct Member {
    key: String,
    value: Span,
}

/// A span-aware reader over JSON text (no comments; RFC 8259 grammar).
struct Scanner<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            position: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.position += 1)
    }

    /// Skip one string (the opening quote is next); escapes are skipped whole.
    fn string(&mut self) -> Option<Span> {
        let start = self.position;
        self.expect(b'"')?;
        loop {
            match self.peek()? {
                b'"' => {
                    self.position += 1;
                    return Some(Span {
                        start,
                        end: self.position,
                    });
                }
                b'\\' => self.position += 2,
                _ => self.position += 1,
            }
        }
    }

    /// Skip one value of any kind, returning its span.
    fn value(&mut self) -> Option<Span> {
        let start = self.position;
        match self.peek()? {
            b'"' => return self.string(),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.items(open, close)?;
            }
            _ => {
                // A number or literal: everything up to the next delimiter.
                while let Some(byte) = self.peek() {
                    if matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.position += 1;
                }
                if self.position == start {
                    return None;
                }
            }
        }
        Some(Span {
            start,
            end: self.position,
        })
    }

    /// The items of the object or array starting here: each value's span, with its key for an
    /// object's members.
    fn items(&mut self, open: u8, close: u8) -> Option<Vec<(Option<String>, Span)>> {
        self.expect(open)?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.expect(close).is_some() {
            return Some(items);
        }
        loop {
            let key = if open == b'{' {
                let key_span = self.string()?;
                let key: String =
                    serde_json::from_slice(self.bytes.get(key_span.start..key_span.end)?).ok()?;
                self.skip_whitespace();
                self.expect(b':')?;
                self.skip_whitespace();
                Some(key)
            } else {
                None
            };
            items.push((key, self.value()?));
            self.skip_whitespace();
            match self.peek()? {
                b',' => {
                    self.position += 1;
                    self.skip_whitespace();
                }
                byte if byte == close => {
                    self.position += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    /// The members of the object starting here, with their value spans.
    fn members(&mut self) -> Option<Vec<Member>> {
        let items = self.items(b'{', b'}')?;
        items
            .into_iter()
            .map(|(key, value)| key.map(|key| Member { key, value }))
            .collect()
    }

    /// The element spans of the array starting here.
    fn elements(&mut self) -> Option<Vec<Span>> {
        Some(
            self.items(b'[', b']')?
                .into_iter()
                .map(|(_, span)| span)
                .collect(),
        )
    }
}

/// How statements are laid out in the original text, so a new one looks like its neighbours.
#[derive(Debug, Clone)]
struct Style {
    /// The indentation unit inside a statement (`None`: one line).
    unit: Option<String>,
    /// The indentation of the line a statement starts on.
    base: String,
    /// `":"` or `": "`.
    colon: &'static str,
    /// `","` or `", "` (one-line only).
    comma: &'static str,
}

impl Style {
    /// The style of the value at `statement` in `text`.
    fn of(text: &str, statement: Span) -> Style {
        let body = text.get(statement.start..statement.end).unwrap_or_default();
        let line_start = text
            .get(..statement.start)
            .and_then(|before| before.rfind('\n'))
            .map_or(0, |newline| newline + 1);
        let lead = text.get(line_start..statement.start).unwrap_or_default();
        // The indentation of the line the statement starts on, even where a key precedes it.
        let base: String = lead.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
        let unit = body.split_once('\n').map(|(_, rest)| {
            let indent: String = rest.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
            indent
                .strip_prefix(base.as_str())
                .filter(|unit| !unit.is_empty())
                .unwrap_or("  ")
                .to_string()
        });
        Style {
            unit,
            base,
            colon: if body.contains("\": ") { ": " } else { ":" },
            comma: if body.contains(", \"") || body.contains(", {") || body.contains(", [") {
                ", "
            } else {
                ","
            },
        }
    }

    /// `value` written in this style, as if it started at the statement's position.
    fn write(&self, value: &Value) -> String {
        let mut out = String::new();
        self.write_value(value, 0, &mut out);
        out
    }

    fn newline(&self, depth: usize, out: &mut String) {
        if let Some(unit) = &self.unit {
            out.push('\n');
            out.push_str(&self.base);
            for _ in 0..depth {
                out.push_str(unit);
            }
        }
    }

    fn write_value(&self, value: &Value, depth: usize, out: &mut String) {
        let separator = if self.unit.is_some() { "," } else { self.comma };
        match value {
            Value::Object(map) if !map.is_empty() => {
                out.push('{');
                for (index, (key, member)) in map.iter().enumerate() {
                    if index > 0 {
                        out.push_str(separator);
                    }
                    self.newline(depth + 1, out);
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push_str(self.colon);
                    self.write_value(member, depth + 1, out);
                }
                self.newline(depth, out);
                out.push('}');
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push_str(separator);
                    }
                    self.newline(depth + 1, out);
                    self.write_value(item, depth + 1, out);
                }
                self.newline(depth, out);
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
}

/// The statements of a `Statement` value, as a list.
fn statement_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// For each new statement, the old statement whose text it keeps (a longest common
/// subsequence by value, so a kept statement is never matched out of order).
fn align(old: &[&Value], new: &[&Value]) -> Vec<Option<usize>> {
    let mut lengths = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for (i, old_statement) in old.iter().enumerate().rev() {
        for (j, new_statement) in new.iter().enumerate().rev() {
            let value = if old_statement == new_statement {
                cell(&lengths, i + 1, j + 1) + 1
            } else {
                cell(&lengths, i + 1, j).max(cell(&lengths, i, j + 1))
            };
            if let Some(slot) = lengths.get_mut(i).and_then(|row| row.get_mut(j)) {
                *slot = value;
            }
        }
    }
    let mut matched = vec![None; new.len()];
    let (mut i, mut j) = (0, 0);
    while let (Some(old_statement), Some(new_statement)) = (old.get(i), new.get(j)) {
        if old_statement == new_statement {
            if let Some(slot) = matched.get_mut(j) {
                *slot = Some(i);
            }
            i += 1;
            j += 1;
        } else if cell(&lengths, i + 1, j) >= cell(&lengths, i, j + 1) {
            i += 1;
        } else {
            j += 1;
        }
    }
    matched
}

fn cell(lengths: &[Vec<usize>], i: usize, j: usize) -> usize {
    lengths.get(i).and_then(|row| row.get(j)).copied().unwrap_or(0)
}

/// The original text of `span`.
fn slice(text: &str, span: Span) -> Option<&str> {
    text.get(span.start..span.end)
}

/// The text of the new `Statement` value, spliced into the old one.
fn splice_statements(text: &str, old_span: Span, old: &Value, new: &Value) -> Option<String> {
    if old == new {
        return slice(text, old_span).map(str::to_string);
    }
    let old_list = statement_list(old);
    let mut scanner = Scanner::new(text);
    scanner.position = old_span.start;
    let (old_spans, open, close) = if old.is_array() {
        let spans = scanner.elements()?;
        let open =
            text.get(old_span.start + 1..spans.first().map_or(old_span.end - 1, |first| first.start))?;
        let close = text.get(spans.last().map_or(old_span.end - 1, |last| last.end)..old_span.end - 1)?;
        (spans, open.to_string(), close.to_string())
    } else {
        (vec![old_span], String::new(), String::new())
    };
    if old_spans.len() != old_list.len() {
        return None;
    }
    let style = old_spans
        .first()
        .map(|first| Style::of(text, *first))
        .unwrap_or(Style {
            unit: None,
            base: String::new(),
            colon: ":",
            comma: ",",
        });
    let Value::Array(new_items) = new else {
        // A single object replaced by a single object: in place, in the old one's style.
        return Some(style.write(new));
    };
    let new_list: Vec<&Value> = new_items.iter().collect();
    let matched = align(&old_list, &new_list);
    // The separator between two statements that were not neighbours: the original's first one,
    // or, for a single statement, a comma plus the whitespace that led it in.
    let default_separator = match (old_spans.first(), old_spans.get(1)) {
        (Some(first), Some(second)) => text.get(first.end..second.start)?.to_string(),
        _ if old.is_array() => format!(",{open}"),
        _ if style.unit.is_some() => format!(",\n{}", style.base),
        _ => style.comma.to_string(),
    };
    let mut out = String::from("[");
    out.push_str(&open);
    let mut previous: Option<Option<usize>> = None;
    for (index, item) in new_list.iter().enumerate() {
        let here = matched.get(index).copied().flatten();
        if let Some(before) = previous {
            match (before, here) {
                (Some(a), Some(b)) if b == a + 1 => {
                    out.push_str(text.get(old_spans.get(a)?.end..old_spans.get(b)?.start)?);
                }
                _ => out.push_str(&default_separator),
            }
        }
        match here {
            Some(old_index) => out.push_str(slice(text, *old_spans.get(old_index)?)?),
            None => out.push_str(&style.write(item)),
        }
        previous = Some(here);
    }
    out.push_str(&close);
    out.push(']');
    Some(out)
}

/// Whether two documents are the same value with the same member order.
fn same_document(left: &Value, right: &Value) -> bool {
    // `Value`'s own equality compares maps without regard to member order.
    match (left, right) {
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right.iter())
                    .all(|((left_key, left_value), (right_key, right_value))| {
                        left_key == right_key && same_document(left_value, right_value)
                    })
        }
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right.iter())
                    .all(|(left, right)| same_document(left, right))
        }
        _ => left == right,
    }
}

/// The text of `new` spliced into `original`: unchanged statements and members keep their bytes.
/// `None` when `original` is not a JSON object, when members other than `Statement` were added,
/// removed or reordered, or when the spliced text would not parse to exactly `new`.
pub fn splice(original: &str, new: &Value) -> Option<String> {
    let old: Value = serde_json::from_str(original).ok()?;
    let (Value::Object(old_map), Value::Object(new_map)) = (&old, new) else {
        return None;
    };
    if !old_map.keys().eq(new_map.keys()) {
        return None;
    }
    let mut scanner = Scanner::new(original);
    scanner.skip_whitespace();
    let members = scanner.members()?;
    if members.len() != old_map.len() {
        // Duplicate keys: the text holds members the value does not.
        return None;
    }
    let mut out = String::new();
    let mut cursor = 0;
    for member in &members {
        let (old_value, new_value) = (old_map.get(&member.key)?, new_map.get(&member.key)?);
        out.push_str(original.get(cursor..member.value.start)?);
        if same_document(old_value, new_value) {
            out.push_str(slice(original, member.value)?);
        } else if member.key == "Statement" {
            out.push_str(&splice_statements(original, member.value, old_value, new_value)?);
        } else {
            out.push_str(&Style::of(original, member.value).write(new_value));
        }
        cursor = member.value.end;
    }
    out.push_str(original.get(cursor..)?);
    let reparsed: Value = serde_json::from_str(&out).ok()?;
    same_document(&reparsed, new).then_some(out)
}

/// The text to write for `new`: spliced into `original` where there is one, else `new`
/// serialised pretty. The flag is `false` only where there was an original and the splice was not
/// possible (the caller warns: the whole document is re-serialised).
pub fn text_for(original: Option<&str>, new: &Value) -> (String, bool) {
    if let Some(spliced) = original.and_then(|text| splice(text, new)) {
        return (spliced, true);
    }
    (
        serde_json::to_string_pretty(new).unwrap_or_else(|_| new.to_string()),
        original.is_none(),
    )
}

#[cfg(test)]
#[path = "splice_tests.rs"]
mod tests;
