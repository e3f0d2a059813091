//! Byte-exact reproduction of JavaScript's `JSON.stringify(JSON.parse(text))`.
//!
//! # Why this exists
//!
//! soketi signs webhook bodies that were produced by `JSON.stringify`, and
//! receivers written in Node commonly parse the payload and *re-serialize* it
//! before computing the HMAC. A Rust sender therefore has to emit exactly the
//! bytes Node would print, or every signature check on the other side fails.
//! `serde_json` cannot do that: it refuses lone surrogate escapes, keeps keys in
//! source (or sorted) order instead of JavaScript property order, and formats
//! numbers differently (`1e21` vs `1e+21`, `1.0` vs `1`).
//!
//! # Semantics reproduced
//!
//! * **Parsing** follows `JSON.parse`: RFC 8259 grammar, whitespace is only
//!   space, `\t`, `\n` and `\r`, raw control characters inside strings are
//!   rejected, numbers become correctly rounded `f64` (so `1e400` overflows to
//!   `Infinity`, which prints as `null`).
//! * **Strings** are sequences of UTF-16 code units: an escaped surrogate pair
//!   combines into one character, an unpaired surrogate escape stays a lone code
//!   unit and is printed back as a lowercase `\udxxx` escape (well-formed
//!   `JSON.stringify`, ES2019+).
//! * **Objects** list "array index" keys (`"0"` ..= `"4294967294"` in canonical
//!   form) first in ascending numeric order, then the other keys in insertion
//!   order. A duplicated key keeps the position of its first occurrence and the
//!   value of its last. `__proto__` is an ordinary own property.
//! * **Numbers** print like `Number.prototype.toString` (via `ryu-js`), with
//!   `-0` printed as `0` and non-finite values as `null`.
//!
//! The one deliberate difference: nesting deeper than [`MAX_DEPTH`] is an error
//! (Node's own limit depends on its stack size and is several thousand levels).
//! Parsing is iterative and serialization consumes the tree with an explicit
//! stack, so no input can overflow the thread stack.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Maximum nesting of arrays and objects accepted by [`canonicalize`].
///
/// A document with `MAX_DEPTH` containers open at once is accepted; one more
/// level is a [`JsJsonError`].
pub const MAX_DEPTH: usize = 512;

/// Error for text that is not JSON (or nests deeper than [`MAX_DEPTH`]).
///
/// `offset` is the byte offset in the input where the problem was detected;
/// `reason` is a short human-readable description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {reason}")]
pub struct JsJsonError {
    /// Byte offset into the input at which the error was detected.
    pub offset: usize,
    /// Short description of what was wrong.
    pub reason: &'static str,
}

/// Returns what JavaScript prints for `JSON.stringify(JSON.parse(text))`.
///
/// The output has no insignificant whitespace, object keys in JavaScript
/// property order, duplicate keys collapsed, numbers in JavaScript notation
/// and strings escaped exactly as `JSON.stringify` escapes them.
///
/// # Errors
///
/// Returns [`JsJsonError`] when `JSON.parse` would throw on `text`, or when
/// arrays/objects nest deeper than [`MAX_DEPTH`].
///
/// # Examples
///
/// ```
/// use soketi_handler_kit::wire::js_json::canonicalize;
///
/// let text = r#" { "b": 1.0, "10": [1e21, -0], "2": "\u0041\ud800", "b": 2 } "#;
/// assert_eq!(
///     canonicalize(text).unwrap(),
///     r#"{"2":"A\ud800","10":[1e+21,0],"b":2}"#,
/// );
/// assert!(canonicalize("[1,]").is_err());
/// ```
pub fn canonicalize(text: &str) -> Result<String, JsJsonError> {
    let root = Parser::new(text).parse_document()?;
    let mut out = String::with_capacity(text.len());
    write_node(&mut out, root);
    Ok(out)
}

/// Writes `s` as a JSON string literal, quotes included, exactly as
/// `JSON.stringify` would print it.
///
/// `"` and `\` are backslash-escaped, `\b \f \n \r \t` use their short forms,
/// other characters below U+0020 become lowercase `\u00xx`, and everything
/// else (including `/`, `<`, U+007F, U+2028, U+2029 and emoji) is written raw.
///
/// ```
/// use soketi_handler_kit::wire::js_json::write_str;
///
/// let mut out = String::new();
/// write_str(&mut out, "a\"b\\c\n\u{1f}</script>");
/// assert_eq!(out, r#""a\"b\\c\n\u001f</script>""#);
/// ```
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped_char(out, c);
    }
    out.push('"');
}

/// Formats `n` exactly like JavaScript's `Number.prototype.toString` as used
/// by `JSON.stringify`.
///
/// NaN and ±Infinity print as `null` (as `JSON.stringify` does), `-0` as `0`,
/// `1e21` as `1e+21` and `1.0` as `1`.
///
/// ```
/// use soketi_handler_kit::wire::js_json::write_number;
///
/// let mut out = String::new();
/// for n in [1.0, -0.0, 1e21, 1e-7, f64::NAN, 0.1] {
///     write_number(&mut out, n);
///     out.push(' ');
/// }
/// assert_eq!(out, "1 0 1e+21 1e-7 null 0.1 ");
/// ```
pub fn write_number(out: &mut String, n: f64) {
    if !n.is_finite() {
        out.push_str("null");
    } else if n == 0.0 {
        out.push('0');
    } else {
        out.push_str(ryu_js::Buffer::new().format_finite(n));
    }
}

/// Decodes one JSON string literal (quotes included, exactly as found in JSON
/// text, with no surrounding whitespace) into a Rust `String`.
///
/// Unlike `serde_json`, lone surrogate escapes such as `"\ud800"` do not fail:
/// each unpaired surrogate becomes U+FFFD. Escaped surrogate pairs combine.
///
/// # Errors
///
/// Returns [`JsJsonError`] when `literal` is not exactly one valid JSON string
/// literal.
///
/// ```
/// use soketi_handler_kit::wire::js_json::decode_string_lossy;
///
/// assert_eq!(decode_string_lossy(r#""\ud83d\ude00 \ud800""#).unwrap(), "😀 \u{fffd}");
/// assert!(decode_string_lossy(r#""unterminated"#).is_err());
/// ```
pub fn decode_string_lossy(literal: &str) -> Result<String, JsJsonError> {
    if literal.as_bytes().first() != Some(&b'"') {
        return Err(error(0, "expected a string literal"));
    }
    let mut decoded = String::with_capacity(literal.len());
    let end = scan_string(literal, 0, |piece| match piece {
        Piece::Raw(run) => decoded.push_str(run),
        Piece::Char(c) => decoded.push(c),
        Piece::LoneSurrogate(_) => decoded.push(char::REPLACEMENT_CHARACTER),
    })?;
    if end != literal.len() {
        return Err(error(end, "unexpected characters after the string literal"));
    }
    Ok(decoded)
}

fn error(offset: usize, reason: &'static str) -> JsJsonError {
    JsJsonError { offset, reason }
}

// ---------------------------------------------------------------------------
// Value tree
// ---------------------------------------------------------------------------

/// A parsed JSON value. Strings (and object keys) are stored as their final
/// `JSON.stringify` literal: stringify is injective on UTF-16 strings, so two
/// keys are the same JavaScript property exactly when their literals are equal.
enum Node {
    Literal(&'static str),
    Number(f64),
    Str(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// Members of an object under construction, with `JSON.parse`'s duplicate-key
/// rule (first position, last value).
enum ObjectBuilder {
    /// Few members: duplicates are found by a linear scan.
    Small(Vec<(String, Node)>),
    /// Many members: each key lives once, in the map, next to the position of
    /// its value (insertion order).
    Large {
        positions: HashMap<String, usize>,
        values: Vec<Node>,
    },
}

impl Default for ObjectBuilder {
    fn default() -> Self {
        ObjectBuilder::Small(Vec::new())
    }
}

impl ObjectBuilder {
    const LINEAR_SCAN_LIMIT: usize = 8;

    fn insert(&mut self, key: String, value: Node) {
        match self {
            ObjectBuilder::Small(members) => {
                if let Some(slot) = members.iter_mut().find(|(k, _)| *k == key) {
                    slot.1 = value;
                    return;
                }
                members.push((key, value));
                if members.len() > Self::LINEAR_SCAN_LIMIT {
                    *self = Self::large(std::mem::take(members));
                }
            }
            ObjectBuilder::Large { positions, values } => match positions.entry(key) {
                Entry::Occupied(entry) => {
                    if let Some(slot) = values.get_mut(*entry.get()) {
                        *slot = value;
                    }
                }
                Entry::Vacant(entry) => {
                    entry.insert(values.len());
                    values.push(value);
                }
            },
        }
    }

    /// Switches to the map representation (`members` has no duplicate keys).
    fn large(members: Vec<(String, Node)>) -> Self {
        let mut positions = HashMap::with_capacity(members.len() * 2);
        let mut values = Vec::with_capacity(members.len() * 2);
        for (key, value) in members {
            positions.insert(key, values.len());
            values.push(value);
        }
        ObjectBuilder::Large { positions, values }
    }

    /// The members in insertion order of their first occurrence.
    fn into_members(self) -> Vec<(String, Node)> {
        match self {
            ObjectBuilder::Small(members) => members,
            ObjectBuilder::Large { positions, values } => {
                let mut keys = vec![String::new(); values.len()];
                for (key, pos) in positions {
                    if let Some(slot) = keys.get_mut(pos) {
                        *slot = key;
                    }
                }
                keys.into_iter().zip(values).collect()
            }
        }
    }

    /// Orders the members the way JavaScript enumerates own properties.
    fn into_js_order(self) -> Vec<(String, Node)> {
        let members = self.into_members();
        let mut indexed = Vec::new();
        let mut named = Vec::with_capacity(members.len());
        for member in members {
            match array_index(&member.0) {
                Some(index) => indexed.push((index, member)),
                None => named.push(member),
            }
        }
        if indexed.is_empty() {
            return named;
        }
        // Keys are unique after de-duplication, so an unstable sort is exact.
        indexed.sort_unstable_by_key(|(index, _)| *index);
        indexed
            .into_iter()
            .map(|(_, member)| member)
            .chain(named)
            .collect()
    }
}

/// The numeric value of `key_literal` (a quoted, canonical literal) if the key
/// is an ECMAScript "array index": the canonical decimal form of an integer in
/// `0..=4294967294`.
fn array_index(key_literal: &str) -> Option<u32> {
    const MAX_ARRAY_INDEX: u64 = 4_294_967_294;
    let digits = key_literal.strip_prefix('"')?.strip_suffix('"')?;
    let canonical = !digits.is_empty()
        && digits.len() <= 10
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !canonical {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    if value > MAX_ARRAY_INDEX {
        return None;
    }
    u32::try_from(value).ok()
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// An array or object whose closing bracket has not been seen yet.
enum Frame {
    Array(Vec<Node>),
    Object {
        members: ObjectBuilder,
        /// Key of the member whose value is currently being parsed.
        key: String,
    },
}

/// What to do after a complete value has been attached to its parent.
enum Next {
    /// Parse another value (array element or member value).
    Value,
    /// The innermost container closed and produced this node.
    Closed(Node),
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    /// Parses the whole text as one JSON value, iteratively.
    fn parse_document(mut self) -> Result<Node, JsJsonError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            let Some(mut node) = self.parse_value_or_open(&mut stack)? else {
                continue;
            };
            // Attach the completed value to its parents, closing as many
            // containers as the following brackets say.
            loop {
                let Some(frame) = stack.last_mut() else {
                    self.skip_whitespace();
                    if self.pos != self.bytes.len() {
                        return Err(error(self.pos, "unexpected characters after JSON value"));
                    }
                    return Ok(node);
                };
                match self.attach(frame, node)? {
                    Next::Value => break,
                    Next::Closed(closed) => {
                        stack.pop();
                        node = closed;
                    }
                }
            }
        }
    }

    /// Parses a scalar or an empty container and returns it, or opens a
    /// non-empty container (pushing a frame) and returns `None`.
    fn parse_value_or_open(&mut self, stack: &mut Vec<Frame>) -> Result<Option<Node>, JsJsonError> {
        self.skip_whitespace();
        let start = self.pos;
        let Some(&byte) = self.bytes.get(start) else {
            return Err(error(start, "unexpected end of input, expected a value"));
        };
        match byte {
            b'[' | b'{' if stack.len() >= MAX_DEPTH => {
                Err(error(start, "nesting deeper than MAX_DEPTH"))
            }
            b'[' => {
                self.pos += 1;
                self.skip_whitespace();
                if self.eat(b']') {
                    return Ok(Some(Node::Array(Vec::new())));
                }
                stack.push(Frame::Array(Vec::new()));
                Ok(None)
            }
            b'{' => {
                self.pos += 1;
                self.skip_whitespace();
                if self.eat(b'}') {
                    return Ok(Some(Node::Object(Vec::new())));
                }
                let key = self.parse_member_key()?;
                stack.push(Frame::Object {
                    members: ObjectBuilder::default(),
                    key,
                });
                Ok(None)
            }
            b'"' => self.parse_string().map(|s| Some(Node::Str(s))),
            b'-' | b'0'..=b'9' => self.parse_number().map(|n| Some(Node::Number(n))),
            b't' => self.parse_literal("true").map(Some),
            b'f' => self.parse_literal("false").map(Some),
            b'n' => self.parse_literal("null").map(Some),
            _ => Err(error(start, "expected a JSON value")),
        }
    }

    /// Adds `node` to `frame`, then consumes the separator or closing bracket
    /// that follows it.
    fn attach(&mut self, frame: &mut Frame, node: Node) -> Result<Next, JsJsonError> {
        self.skip_whitespace();
        match frame {
            Frame::Array(items) => {
                items.push(node);
                if self.eat(b',') {
                    Ok(Next::Value)
                } else if self.eat(b']') {
                    Ok(Next::Closed(Node::Array(std::mem::take(items))))
                } else {
                    Err(error(self.pos, "expected ',' or ']' in array"))
                }
            }
            Frame::Object { members, key } => {
                members.insert(std::mem::take(key), node);
                if self.eat(b',') {
                    self.skip_whitespace();
                    *key = self.parse_member_key()?;
                    Ok(Next::Value)
                } else if self.eat(b'}') {
                    Ok(Next::Closed(Node::Object(
                        std::mem::take(members).into_js_order(),
                    )))
                } else {
                    Err(error(self.pos, "expected ',' or '}' in object"))
                }
            }
        }
    }

    /// Parses `"key"` followed by `:` (whitespace allowed around the colon).
    fn parse_member_key(&mut self) -> Result<String, JsJsonError> {
        if self.bytes.get(self.pos) != Some(&b'"') {
            return Err(error(self.pos, "expected a double-quoted property name"));
        }
        let key = self.parse_string()?;
        self.skip_whitespace();
        if !self.eat(b':') {
            return Err(error(self.pos, "expected ':' after property name"));
        }
        Ok(key)
    }

    /// Parses the string literal at the cursor into its canonical
    /// `JSON.stringify` form.
    fn parse_string(&mut self) -> Result<String, JsJsonError> {
        // Exact for strings without escapes, which are the common case.
        let unescaped_len = self
            .bytes
            .get(self.pos + 1..)
            .and_then(|rest| rest.iter().position(|&b| b == b'"'))
            .unwrap_or(0);
        let mut literal = String::with_capacity(unescaped_len + 2);
        literal.push('"');
        self.pos = scan_string(self.text, self.pos, |piece| match piece {
            Piece::Raw(run) => literal.push_str(run),
            Piece::Char(c) => push_escaped_char(&mut literal, c),
            Piece::LoneSurrogate(unit) => push_unit_escape(&mut literal, unit),
        })?;
        literal.push('"');
        Ok(literal)
    }

    fn parse_number(&mut self) -> Result<f64, JsJsonError> {
        let start = self.pos;
        let end = scan_number(self.bytes, start)?;
        self.pos = end;
        // The grammar was validated above; Rust's parser rounds correctly
        // (like JavaScript) and saturates huge exponents to ±inf / ±0.
        slice(self.text, start, end)?
            .parse::<f64>()
            .map_err(|_| error(start, "internal error: unparsable number"))
    }

    fn parse_literal(&mut self, word: &'static str) -> Result<Node, JsJsonError> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) != Some(word.as_bytes()) {
            return Err(error(self.pos, "expected a JSON value"));
        }
        self.pos = end;
        Ok(Node::Literal(word))
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.bytes.get(self.pos) == Some(&byte);
        if matched {
            self.pos += 1;
        }
        matched
    }
}

/// `&text[start..end]` without a panic path.
fn slice(text: &str, start: usize, end: usize) -> Result<&str, JsJsonError> {
    text.get(start..end)
        .ok_or_else(|| error(start, "internal error: not a character boundary"))
}

/// Validates `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` starting at
/// `start` and returns the offset just past it.
fn scan_number(bytes: &[u8], start: usize) -> Result<usize, JsJsonError> {
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match bytes.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits_from(i + 1),
        _ => return Err(error(i, "expected a digit")),
    };
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            return Err(error(i, "expected a digit after the decimal point"));
        }
        i = digits_from(i);
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            return Err(error(i, "expected a digit in the exponent"));
        }
        i = digits_from(i);
    }
    Ok(i)
}

// ---------------------------------------------------------------------------
// String literals
// ---------------------------------------------------------------------------

/// One decoded part of a string literal.
enum Piece<'a> {
    /// A run of raw characters that need no escaping in `JSON.stringify`
    /// output (no `"`, `\` or control characters).
    Raw(&'a str),
    /// A character written as an escape sequence.
    Char(char),
    /// An unpaired UTF-16 surrogate written as a `\u` escape.
    LoneSurrogate(u16),
}

/// Decodes the string literal whose opening quote is at `start`, feeding its
/// contents to `sink`, and returns the offset just past the closing quote.
fn scan_string<'a>(
    text: &'a str,
    start: usize,
    mut sink: impl FnMut(Piece<'a>),
) -> Result<usize, JsJsonError> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    let mut run_start = i;
    loop {
        let Some(&byte) = bytes.get(i) else {
            return Err(error(i, "unterminated string"));
        };
        match byte {
            b'"' | b'\\' => {
                // Both bytes are ASCII, so the run ends on a char boundary.
                if run_start < i {
                    sink(Piece::Raw(slice(text, run_start, i)?));
                }
                if byte == b'"' {
                    return Ok(i + 1);
                }
                let (piece, next) = decode_escape(bytes, i)?;
                sink(piece);
                i = next;
                run_start = i;
            }
            0x00..=0x1f => return Err(error(i, "control character in string")),
            _ => i += 1,
        }
    }
}

/// Decodes the escape sequence whose backslash is at `at`; returns the piece
/// and the offset just past the sequence.
fn decode_escape(bytes: &[u8], at: usize) -> Result<(Piece<'static>, usize), JsJsonError> {
    let simple = match bytes.get(at + 1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return decode_unicode_escape(bytes, at),
        _ => return Err(error(at + 1, "invalid escape sequence")),
    };
    Ok((Piece::Char(simple), at + 2))
}

/// Decodes `\uXXXX` at `at`, combining it with an immediately following
/// `\uXXXX` when the two form a surrogate pair.
fn decode_unicode_escape(bytes: &[u8], at: usize) -> Result<(Piece<'static>, usize), JsJsonError> {
    let unit = hex4(bytes, at + 2).ok_or_else(|| error(at + 2, "invalid \\u escape"))?;
    let after = at + 6;
    if is_high_surrogate(unit)
        && let Some(low) = low_surrogate_escape_at(bytes, after)
        && let Some(c) = combine_surrogates(unit, low)
    {
        return Ok((Piece::Char(c), after + 6));
    }
    let piece = match char::from_u32(u32::from(unit)) {
        Some(c) => Piece::Char(c),
        None => Piece::LoneSurrogate(unit),
    };
    Ok((piece, after))
}

/// The low surrogate written as `\uXXXX` at `at`, if there is one.
fn low_surrogate_escape_at(bytes: &[u8], at: usize) -> Option<u16> {
    if bytes.get(at..at + 2) != Some(b"\\u".as_slice()) {
        return None;
    }
    hex4(bytes, at + 2).filter(|&unit| is_low_surrogate(unit))
}

fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    bytes.get(at..at + 4)?.iter().try_fold(0u16, |acc, &b| {
        let digit = char::from(b).to_digit(16)?;
        Some((acc << 4) | u16::try_from(digit).ok()?)
    })
}

fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..=0xDBFF).contains(&unit)
}

fn is_low_surrogate(unit: u16) -> bool {
    (0xDC00..=0xDFFF).contains(&unit)
}

fn combine_surrogates(high: u16, low: u16) -> Option<char> {
    let code = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
    char::from_u32(code)
}

/// Appends `c` as `JSON.stringify` writes it inside a string literal.
fn push_escaped_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // Lossless: every control character is a single code unit.
        '\u{0}'..='\u{1f}' => push_unit_escape(out, c as u16),
        _ => out.push(c),
    }
}

/// Appends `\uxxxx` with lowercase hex digits.
fn push_unit_escape(out: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[usize::from((unit >> shift) & 0xF)]));
    }
}

// ---------------------------------------------------------------------------
// Serialization
// ---------------------------------------------------------------------------

/// The remaining children of a container being written.
enum Children {
    Array(std::vec::IntoIter<Node>),
    Object(std::vec::IntoIter<(String, Node)>),
}

/// A container being written.
struct Open {
    children: Children,
    wrote_child: bool,
}

impl Open {
    fn new(children: Children) -> Self {
        Open {
            children,
            wrote_child: false,
        }
    }

    /// The next child, with its key literal when it is an object member.
    fn next_child(&mut self) -> Option<(Option<String>, Node)> {
        match &mut self.children {
            Children::Array(items) => items.next().map(|item| (None, item)),
            Children::Object(members) => members.next().map(|(key, value)| (Some(key), value)),
        }
    }

    fn closing_bracket(&self) -> char {
        match self.children {
            Children::Array(_) => ']',
            Children::Object(_) => '}',
        }
    }
}

/// Writes `root` compactly, consuming the tree with an explicit stack so that
/// neither writing nor dropping recurses.
fn write_node(out: &mut String, root: Node) {
    let mut stack: Vec<Open> = Vec::new();
    let mut next = Some(root);
    loop {
        if let Some(node) = next.take() {
            match node {
                Node::Literal(word) => out.push_str(word),
                Node::Number(n) => write_number(out, n),
                Node::Str(literal) => out.push_str(&literal),
                Node::Array(items) => {
                    out.push('[');
                    stack.push(Open::new(Children::Array(items.into_iter())));
                }
                Node::Object(members) => {
                    out.push('{');
                    stack.push(Open::new(Children::Object(members.into_iter())));
                }
            }
        }
        let Some(open) = stack.last_mut() else {
            return;
        };
        match open.next_child() {
            Some((key, child)) => {
                if open.wrote_child {
                    out.push(',');
                }
                open.wrote_child = true;
                if let Some(key) = key {
                    out.push_str(&key);
                    out.push(':');
                }
                next = Some(child);
            }
            None => {
                out.push(open.closing_bracket());
                stack.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    /// Inputs with the output Node prints for `JSON.stringify(JSON.parse(input))`
    /// (generated with Node v20 and re-checked against node by
    /// `matches_node_on_random_documents`).
    const VALID_CASES: &[(&str, &str)] = &[
        (r#"-0"#, r#"0"#),
        (r#"0"#, r#"0"#),
        (r#"1.0"#, r#"1"#),
        (r#"1e21"#, r#"1e+21"#),
        (r#"1e-7"#, r#"1e-7"#),
        (r#"123e-20"#, r#"1.23e-18"#),
        (r#"0.1"#, r#"0.1"#),
        (r#"5e-324"#, r#"5e-324"#),
        (r#"9007199254740993"#, r#"9007199254740992"#),
        (r#"18446744073709551616"#, r#"18446744073709552000"#),
        (r#"1e400"#, r#"null"#),
        (r#"-1e400"#, r#"null"#),
        (r#"1E+2"#, r#"100"#),
        (r#"1e-400"#, r#"0"#),
        (r#"-1e-400"#, r#"0"#),
        (r#"1e999999999999999999999999"#, r#"null"#),
        (r#"0e99999999"#, r#"0"#),
        (r#"1e20"#, r#"100000000000000000000"#),
        (r#"0.000001"#, r#"0.000001"#),
        (r#"1.5e-7"#, r#"1.5e-7"#),
        (r#"-12.50"#, r#"-12.5"#),
        (r#"1.7976931348623157e308"#, r#"1.7976931348623157e+308"#),
        (r#"2.5e-324"#, r#"5e-324"#),
        (r#"100e-2"#, r#"1"#),
        (
            r#"[0.1,0.2,0.30000000000000004]"#,
            r#"[0.1,0.2,0.30000000000000004]"#,
        ),
        (
            r#"123456789012345678901234567890"#,
            r#"1.2345678901234568e+29"#,
        ),
        (r#"true"#, r#"true"#),
        (r#"false"#, r#"false"#),
        (r#"null"#, r#"null"#),
        (r#""x""#, r#""x""#),
        (" \t\n\r 42 \r\n\t ", r#"42"#),
        (r#""""#, r#""""#),
        (
            r#""say \"hi\" \\ back\\slash""#,
            r#""say \"hi\" \\ back\\slash""#,
        ),
        (
            r#""</script><script>alert(1)</script>""#,
            r#""</script><script>alert(1)</script>""#,
        ),
        (r#""\/\/ slash""#, r#""// slash""#),
        ("\"\u{2028}\u{2029}\"", "\"\u{2028}\u{2029}\""),
        (r#""\u2028\u2029""#, "\"\u{2028}\u{2029}\""),
        ("\"\u{7f}\\u007f\"", "\"\u{7f}\u{7f}\""),
        (
            "\"\u{1f600} \u{e9} \u{fc} \u{4e2d}\"",
            "\"\u{1f600} \u{e9} \u{fc} \u{4e2d}\"",
        ),
        (r#""\ud83d\ude00""#, "\"\u{1f600}\""),
        (r#""\uD83D\uDE00""#, "\"\u{1f600}\""),
        (r#""\ud800""#, r#""\ud800""#),
        (r#""\uDFFF""#, r#""\udfff""#),
        (r#""\udc00\ud800""#, r#""\udc00\ud800""#),
        (r#""\ud83d\ud83d\ude00""#, "\"\\ud83d\u{1f600}\""),
        (r#""\ud83dx""#, r#""\ud83dx""#),
        (r#""\ude00\ud83d""#, r#""\ude00\ud83d""#),
        (r#""a\ud800\u0041""#, r#""a\ud800A""#),
        (r#""\u0000\u0001\u001f\u0020""#, r#""\u0000\u0001\u001f ""#),
        (r#""\b\f\n\r\t""#, r#""\b\f\n\r\t""#),
        (
            r#""\u0008\u000C\u000a\u000D\u0009\u000b""#,
            r#""\b\f\n\r\t\u000b""#,
        ),
        (r#""\u0041\u00e9\u4E2D""#, "\"A\u{e9}\u{4e2d}\""),
        (r#""\uFFFF\uFEFF""#, "\"\u{ffff}\u{feff}\""),
        (
            r#"{"b":1,"a":2,"10":3,"2":4,"01":5,"-1":6,"4294967295":7,"4294967294":8,"0":9,"1.0":10,"+1":11," 1":12}"#,
            r#"{"0":9,"2":4,"10":3,"4294967294":8,"b":1,"a":2,"01":5,"-1":6,"4294967295":7,"1.0":10,"+1":11," 1":12}"#,
        ),
        (r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#),
        (r#"{"1":1,"x":2,"1":3}"#, r#"{"1":3,"x":2}"#),
        (r#"{"\ud800":1,"\uD800":2}"#, r#"{"\ud800":2}"#),
        (r#"{"\u0031":"one","1":"uno"}"#, r#"{"1":"uno"}"#),
        (r#"{"__proto__":1,"a":2}"#, r#"{"__proto__":1,"a":2}"#),
        (
            r#"{"__proto__":{"x":1},"__proto__":[2]}"#,
            r#"{"__proto__":[2]}"#,
        ),
        (r#"{"":1,"":2}"#, r#"{"":2}"#),
        (r#"{"k\n\"":"v"}"#, r#"{"k\n\"":"v"}"#),
        (
            r#"{"9007199254740993":1,"4294967296":2,"00":3,"5":4}"#,
            r#"{"5":4,"9007199254740993":1,"4294967296":2,"00":3}"#,
        ),
        (
            r#"{"z":{"2":2,"1":1},"a":[{"b":1,"a":2}]}"#,
            r#"{"z":{"1":1,"2":2},"a":[{"b":1,"a":2}]}"#,
        ),
        (r#"[]"#, r#"[]"#),
        (r#"{}"#, r#"{}"#),
        (r#"[[]]"#, r#"[[]]"#),
        (r#"[{}]"#, r#"[{}]"#),
        (r#"{"a":[],"b":{}}"#, r#"{"a":[],"b":{}}"#),
        (r#"[[[[1]]],[[2]]]"#, r#"[[[[1]]],[[2]]]"#),
        (
            r#" [ 1 , 2 , [ 3 , { "a" : null } ] ] "#,
            r#"[1,2,[3,{"a":null}]]"#,
        ),
        (r#"[null,true,false,"",0]"#, r#"[null,true,false,"",0]"#),
    ];

    /// Texts `JSON.parse` rejects (each also re-checked against node).
    const INVALID_CASES: &[&str] = &[
        "",
        " ",
        "\u{feff}1",
        "\u{a0}1",
        "\u{b}1",
        "\u{c}1",
        "[1,]",
        r#"{"a":1,}"#,
        "[,]",
        "{,}",
        "[1,,2]",
        r#"{"a":}"#,
        r#"{"a" 1}"#,
        "{a:1}",
        "{'a':1}",
        r#"{"a":1"#,
        "[1",
        "[",
        "{",
        "]",
        "[1]]",
        "{}}",
        "[1 2]",
        "1 2",
        "NaN",
        "Infinity",
        "-Infinity",
        "undefined",
        "'a'",
        "tru",
        "nul",
        "truex",
        "True",
        "01",
        "-01",
        "00",
        "1.",
        ".5",
        "+1",
        "-",
        "1e",
        "1e+",
        "1.e3",
        "0x10",
        "1_000",
        "//c\n1",
        "/*c*/1",
        r#""abc"#,
        "\"\\",
        "\"\\u",
        r#""\x41""#,
        r#""\'""#,
        r#""\0""#,
        r#""\v""#,
        r#""\U0041""#,
        r#""\u12""#,
        r#""\u12g4""#,
        r#""\ud800\u""#,
        r#""\u{41}""#,
        "\"a\u{0}\"",
        "\"a\u{1f}\"",
        "\"tab\there\"",
        "\"line\nbreak\"",
        "\"cr\rx\"",
        "{\"k\u{1}\":1}",
    ];

    fn canon(text: &str) -> Result<String, JsJsonError> {
        canonicalize(text)
    }

    #[test]
    fn valid_cases_match_node_output() {
        for &(input, expected) in VALID_CASES {
            assert_eq!(canon(input).as_deref(), Ok(expected), "input: {input:?}");
        }
    }

    #[test]
    fn invalid_cases_are_errors() {
        for &input in INVALID_CASES {
            assert!(canon(input).is_err(), "accepted invalid input {input:?}");
        }
    }

    #[test]
    fn error_reports_offset_and_reason() {
        let err = canon("[1,]").unwrap_err();
        assert_eq!(err.offset, 3);
        assert_eq!(
            err.to_string(),
            "invalid JSON at byte 3: expected a JSON value"
        );
        assert_eq!(canon("[1] x").unwrap_err().offset, 4);
        assert_eq!(canon("\"ab\u{1}\"").unwrap_err().offset, 3);
    }

    fn nested(open: &str, close: &str, depth: usize) -> String {
        format!("{}1{}", open.repeat(depth), close.repeat(depth))
    }

    /// Runs `f` on a thread with a 2 MiB stack (the usual spawned-thread size).
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .expect("spawn test thread")
            .join()
            .expect("test thread panicked");
    }

    #[test]
    fn depth_limit_is_enforced_without_overflowing_a_2_mib_stack() {
        on_small_stack(|| {
            let arrays = nested("[", "]", MAX_DEPTH);
            assert_eq!(canon(&arrays).as_deref(), Ok(arrays.as_str()));
            let objects = nested("{\"a\":", "}", MAX_DEPTH);
            assert_eq!(canon(&objects).as_deref(), Ok(objects.as_str()));
            let mixed = nested("[{\"k\":", "}]", MAX_DEPTH / 2);
            assert_eq!(canon(&mixed).as_deref(), Ok(mixed.as_str()));
            let empty_innermost = format!(
                "{}[]{}",
                "[".repeat(MAX_DEPTH - 1),
                "]".repeat(MAX_DEPTH - 1)
            );
            assert!(canon(&empty_innermost).is_ok());

            let too_deep = nested("[", "]", MAX_DEPTH + 1);
            let err = canon(&too_deep).unwrap_err();
            assert_eq!(err.offset, MAX_DEPTH);
            assert!(canon(&nested("{\"a\":", "}", MAX_DEPTH + 1)).is_err());
            assert!(
                canon(&format!(
                    "{}[]{}",
                    "[".repeat(MAX_DEPTH),
                    "]".repeat(MAX_DEPTH)
                ))
                .is_err()
            );
            assert!(canon(&"[".repeat(1_000_000)).is_err());
            assert!(canon(&"{\"a\":[".repeat(200_000)).is_err());
        });
    }

    #[test]
    fn write_str_escapes_like_json_stringify() {
        let all_ascii: String = (0u8..0x80).map(char::from).collect();
        let mut out = String::new();
        write_str(&mut out, &all_ascii);
        assert_eq!(
            out,
            concat!(
                r#""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#,
                r#"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#,
                r##" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"##,
                "\u{7f}\""
            )
        );
        let mut out = String::from("prefix:");
        write_str(&mut out, "</script>\u{2028}\u{2029}😀");
        assert_eq!(out, "prefix:\"</script>\u{2028}\u{2029}😀\"");
    }

    #[test]
    fn write_number_matches_number_to_string() {
        let cases: &[(f64, &str)] = &[
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
            (f64::NEG_INFINITY, "null"),
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (1e-6, "0.000001"),
            (123e-20, "1.23e-18"),
            (0.1, "0.1"),
            (5e-324, "5e-324"),
            (9_007_199_254_740_993_f64, "9007199254740992"),
            (18_446_744_073_709_551_616_f64, "18446744073709552000"),
            (f64::MAX, "1.7976931348623157e+308"),
        ];
        for &(n, expected) in cases {
            let mut out = String::new();
            write_number(&mut out, n);
            assert_eq!(out, expected, "number {n:e}");
        }
    }

    #[test]
    fn decode_string_lossy_decodes_and_replaces_lone_surrogates() {
        let ok = |literal: &str| decode_string_lossy(literal);
        assert_eq!(ok(r#""plain text""#).as_deref(), Ok("plain text"));
        assert_eq!(ok(r#""""#).as_deref(), Ok(""));
        assert_eq!(
            ok(r#""q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9""#).as_deref(),
            Ok("q\" b\\ s/ \u{8}\u{c}\n\r\t A\u{e9}")
        );
        assert_eq!(ok("\"raw 😀 \u{2028}\"").as_deref(), Ok("raw 😀 \u{2028}"));
        assert_eq!(ok(r#""\ud83d\ude00\uD83D\uDE00""#).as_deref(), Ok("😀😀"));
        assert_eq!(ok(r#""\ud800""#).as_deref(), Ok("\u{fffd}"));
        assert_eq!(ok(r#""\udc00x""#).as_deref(), Ok("\u{fffd}x"));
        assert_eq!(ok(r#""\ud83d\ud83d\ude00""#).as_deref(), Ok("\u{fffd}😀"));
        assert_eq!(ok(r#""\ude00\ud83d""#).as_deref(), Ok("\u{fffd}\u{fffd}"));

        for invalid in [
            "",
            "abc",
            " \"a\"",
            "\"a\" ",
            "\"a\"\"b\"",
            "\"unterminated",
            "\"",
            r#""\x""#,
            r#""\u12""#,
            "\"ctrl\u{1}\"",
            "\"new\nline\"",
        ] {
            assert!(
                decode_string_lossy(invalid).is_err(),
                "accepted {invalid:?}"
            );
        }
    }

    #[test]
    fn array_index_recognises_only_canonical_indices() {
        assert_eq!(array_index(r#""0""#), Some(0));
        assert_eq!(array_index(r#""10""#), Some(10));
        assert_eq!(array_index(r#""4294967294""#), Some(4_294_967_294));
        for key in [
            "4294967295",
            "99999999999",
            "01",
            "00",
            "-1",
            "+1",
            "1.0",
            "",
            " 1",
            "1e3",
        ] {
            assert_eq!(array_index(&format!("\"{key}\"")), None, "key {key:?}");
        }
    }

    #[test]
    fn large_objects_deduplicate_through_the_index() {
        let members: Vec<String> = (0..100).map(|i| format!("\"k{}\":{i}", i % 30)).collect();
        let text = format!("{{{}}}", members.join(","));
        let expected: Vec<String> = (0..30)
            .map(|k| format!("\"k{k}\":{}", 90 + k - if k >= 10 { 30 } else { 0 }))
            .collect();
        assert_eq!(canon(&text), Ok(format!("{{{}}}", expected.join(","))));
    }

    // -----------------------------------------------------------------------
    // Differential test against node
    // -----------------------------------------------------------------------

    /// SplitMix64: small, seeded, reproducible.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }

        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    fn gen_whitespace(rng: &mut Rng, out: &mut String) {
        if rng.chance(25) {
            for _ in 0..=rng.below(3) {
                out.push_str(rng.pick(&[" ", "\t", "\n", "\r", "  "]));
            }
        }
    }

    fn gen_digits(rng: &mut Rng, out: &mut String, max: usize) {
        for _ in 0..=rng.below(max) {
            out.push(char::from(b'0' + rng.below(10) as u8));
        }
    }

    fn gen_number(rng: &mut Rng, out: &mut String) {
        match rng.below(4) {
            0 => {
                let n = f64::from_bits(rng.next_u64());
                if n.is_finite() {
                    out.push_str(&if rng.chance(50) {
                        format!("{n:e}")
                    } else {
                        format!("{n:?}")
                    });
                } else {
                    out.push_str("-0");
                }
            }
            1 => out.push_str(rng.pick(&[
                "0",
                "-0",
                "1e21",
                "1e-7",
                "123e-20",
                "5e-324",
                "9007199254740993",
                "18446744073709551616",
                "1e400",
                "-1e400",
                "1E+2",
                "2.5e-324",
                "4294967295",
                "1.7976931348623157e308",
                "1.7976931348623158e308",
                "0.000001",
                "1e-6",
                "1e999999999999999999",
            ])),
            _ => {
                if rng.chance(30) {
                    out.push('-');
                }
                if rng.chance(20) {
                    out.push('0');
                } else {
                    out.push(char::from(b'1' + rng.below(9) as u8));
                    gen_digits(rng, out, 25);
                }
                if rng.chance(40) {
                    out.push('.');
                    gen_digits(rng, out, 20);
                }
                if rng.chance(40) {
                    out.push_str(rng.pick(&["e", "E", "e+", "e-", "E-", "E+"]));
                    gen_digits(rng, out, 3);
                }
            }
        }
    }

    fn gen_string_body(rng: &mut Rng, out: &mut String) {
        for _ in 0..rng.below(8) {
            match rng.below(6) {
                0 => out.push_str(rng.pick(&[
                    "\\\"",
                    "\\\\",
                    "\\/",
                    "\\b",
                    "\\f",
                    "\\n",
                    "\\r",
                    "\\t",
                    "</script>",
                    "'",
                    "/",
                ])),
                1 => out.push_str(rng.pick(&[
                    "\\ud800",
                    "\\uDBFF",
                    "\\udc00",
                    "\\uDFFF",
                    "\\ud83d\\ude00",
                    "\\uD83D\\uDE00",
                    "\\ud83d\\ud83d",
                    "\\ude00\\ud83d",
                    "\\ud83d\\u0041",
                    "\\ud83d\\\\u",
                ])),
                2 => {
                    let unit = match rng.below(3) {
                        0 => rng.below(0x80),
                        1 => 0xD800 + rng.below(0x800),
                        _ => rng.below(0x10000),
                    };
                    let hex = format!("{unit:04x}");
                    out.push_str("\\u");
                    out.push_str(&if rng.chance(50) {
                        hex.to_uppercase()
                    } else {
                        hex
                    });
                }
                3 => out.push_str(rng.pick(&[
                    "é", "中", "😀", "\u{2028}", "\u{2029}", "\u{7f}", "\u{feff}", "\u{ffff}",
                ])),
                _ => {
                    out.push_str(rng.pick(&["a", "b", "key", "0", "1", " ", "x y", "<", ">", "&"]))
                }
            }
        }
    }

    fn gen_key(rng: &mut Rng, out: &mut String) {
        out.push('"');
        if rng.chance(60) {
            out.push_str(rng.pick(&[
                "a",
                "b",
                "c",
                "__proto__",
                "constructor",
                "0",
                "1",
                "2",
                "10",
                "01",
                "00",
                "-1",
                "+1",
                "1.0",
                "4294967294",
                "4294967295",
                "4294967296",
                "9007199254740993",
                "\\u0031",
                "\\u0030",
                "\\ud800",
                "\\uD800",
                "",
                " ",
                "\\u0000",
            ]));
        } else if rng.chance(50) {
            gen_digits(rng, out, 11);
        } else {
            gen_string_body(rng, out);
        }
        out.push('"');
    }

    fn gen_value(rng: &mut Rng, out: &mut String, depth: usize) {
        gen_whitespace(rng, out);
        let kind = if depth >= 5 {
            rng.below(5)
        } else {
            rng.below(7)
        };
        match kind {
            0 => out.push_str(rng.pick(&["true", "false", "null"])),
            1 | 2 => gen_number(rng, out),
            3 | 4 => {
                out.push('"');
                gen_string_body(rng, out);
                out.push('"');
            }
            5 => {
                out.push('[');
                for i in 0..rng.below(5) {
                    if i > 0 {
                        out.push(',');
                    }
                    gen_value(rng, out, depth + 1);
                }
                gen_whitespace(rng, out);
                out.push(']');
            }
            _ => {
                out.push('{');
                let members = if rng.chance(15) {
                    rng.below(20)
                } else {
                    rng.below(6)
                };
                for i in 0..members {
                    if i > 0 {
                        out.push(',');
                    }
                    gen_whitespace(rng, out);
                    gen_key(rng, out);
                    gen_whitespace(rng, out);
                    out.push(':');
                    gen_value(rng, out, depth + 1);
                }
                gen_whitespace(rng, out);
                out.push('}');
            }
        }
        gen_whitespace(rng, out);
    }

    /// Damages a document so that it is usually (not always) invalid.
    fn mutate(rng: &mut Rng, text: &str) -> String {
        let boundaries: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let at = boundaries[rng.below(boundaries.len())];
        let (head, tail) = text.split_at(at);
        match rng.below(3) {
            0 => head.to_owned(),
            1 => {
                let mut chars = tail.chars();
                chars.next();
                format!("{head}{}", chars.as_str())
            }
            _ => {
                let junk = rng.pick(&[
                    ",", "]", "}", "[", "{", "\"", "\\", ":", "\u{0}", "\n", "x", "0", "-", ".",
                    "e", " ", "\u{a0}",
                ]);
                format!("{head}{junk}{tail}")
            }
        }
    }

    const NODE_SCRIPT: &str = r#"
        const lines = require('fs').readFileSync(process.argv[1], 'utf8').split('\n');
        const results = lines.filter(l => l.length > 0).map(line => {
            const text = JSON.parse(line);
            try { return JSON.stringify(JSON.parse(text)); } catch (e) { return null; }
        });
        process.stdout.write(JSON.stringify(results));
    "#;

    /// `JSON.stringify(JSON.parse(t))` for each text according to node,
    /// `None` where `JSON.parse` throws. One node process for the whole batch.
    fn node_canonicalize(texts: &[String]) -> Vec<Option<String>> {
        let mut input = String::new();
        for text in texts {
            input.push_str(&serde_json::to_string(text).expect("encode test text"));
            input.push('\n');
        }
        let path = std::env::temp_dir().join(format!(
            "js_json_differential_{}_{:?}.txt",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::File::create(&path)
            .and_then(|mut file| file.write_all(input.as_bytes()))
            .expect("write temp file for node");
        let output = Command::new("node")
            .arg("-e")
            .arg(NODE_SCRIPT)
            .arg(&path)
            .stdin(Stdio::null())
            .output();
        let _ = std::fs::remove_file(&path);
        let output = match output {
            Ok(output) => output,
            Err(err) => panic!(
                "this test needs Node.js: could not run `node` ({err}); install Node.js and put `node` on PATH"
            ),
        };
        assert!(
            output.status.success(),
            "node failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let results: Vec<Option<String>> =
            serde_json::from_slice(&output.stdout).expect("node printed a JSON array");
        assert_eq!(
            results.len(),
            texts.len(),
            "node returned one result per text"
        );
        results
    }

    #[test]
    fn matches_node_on_random_documents() {
        let mut rng = Rng(0x50CE_7150_1234_ABCD);
        let mut texts: Vec<String> = VALID_CASES
            .iter()
            .map(|(input, _)| (*input).to_owned())
            .collect();
        texts.extend(INVALID_CASES.iter().map(|input| (*input).to_owned()));
        // Escaped Rust strings: checks write_str against JSON.stringify(string).
        let string_cases_start = texts.len();
        for _ in 0..300 {
            let s: String = (0..rng.below(12))
                .filter_map(|_| {
                    char::from_u32(match rng.below(3) {
                        0 => rng.below(0x80) as u32,
                        1 => rng.below(0x3000) as u32,
                        _ => rng.below(0x11_0000) as u32,
                    })
                })
                .collect();
            texts.push(serde_json::to_string(&s).expect("encode string"));
        }
        let string_cases_end = texts.len();
        for _ in 0..4000 {
            let mut doc = String::new();
            gen_value(&mut rng, &mut doc, 0);
            if rng.chance(20) {
                doc = mutate(&mut rng, &doc);
            }
            texts.push(doc);
        }

        let expected = node_canonicalize(&texts);
        let mut failures = Vec::new();
        for (text, node) in texts.iter().zip(&expected) {
            let ours = canonicalize(text).ok();
            if &ours != node {
                failures.push(format!(
                    "input {text:?}\n  node: {node:?}\n  ours: {ours:?}"
                ));
            }
        }
        for (text, node) in texts[string_cases_start..string_cases_end]
            .iter()
            .zip(&expected[string_cases_start..string_cases_end])
        {
            let decoded: String = serde_json::from_str(text).expect("decode string");
            let mut ours = String::new();
            write_str(&mut ours, &decoded);
            if Some(&ours) != node.as_ref() {
                failures.push(format!(
                    "write_str {decoded:?}\n  node: {node:?}\n  ours: {ours:?}"
                ));
            }
        }
        let valid = expected.iter().filter(|e| e.is_some()).count();
        assert!(
            valid > 3000 && expected.len() - valid > 300,
            "generator lost variety: {valid} valid"
        );
        assert!(
            failures.is_empty(),
            "{} of {} texts differ from node, first ones:\n{}",
            failures.len(),
            texts.len(),
            failures[..failures.len().min(10)].join("\n")
        );
    }

    // -----------------------------------------------------------------------
    // Properties
    // -----------------------------------------------------------------------

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = canonicalize(&text);
            let _ = decode_string_lossy(&text);
        }

        #[test]
        fn json_like_text_is_idempotent(text in r#"[\[\]{}",:0-9eE.+\- tnrufals\\/u]{0,48}"#) {
            if let Ok(once) = canonicalize(&text) {
                prop_assert_eq!(canonicalize(&once), Ok(once.clone()));
            }
        }

        #[test]
        fn numbers_round_trip(bits in any::<u64>()) {
            let n = f64::from_bits(bits);
            let mut printed = String::new();
            write_number(&mut printed, n);
            if n.is_finite() {
                let back: f64 = printed.parse().expect("write_number output parses");
                prop_assert_eq!(back, if n == 0.0 { 0.0 } else { n });
                prop_assert_eq!(canonicalize(&format!("{n:e}")), Ok(printed));
            } else {
                prop_assert_eq!(printed, "null");
            }
        }

        #[test]
        fn strings_round_trip_through_write_str(s in any::<String>()) {
            let mut literal = String::new();
            write_str(&mut literal, &s);
            prop_assert_eq!(decode_string_lossy(&literal), Ok(s.clone()));
            prop_assert_eq!(serde_json::from_str::<String>(&literal).ok(), Some(s));
            prop_assert_eq!(canonicalize(&literal), Ok(literal));
        }
    }
}
