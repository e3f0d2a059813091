//! The single-pass reader of invocation bodies and payloads.
//!
//! One left-to-right walk over the bytes checks that they are JSON and, at the same time,
//! records where the parts the kit needs lie: the payload's exact byte span (what the signature
//! covers), the two `X-Pusher-*` headers, `time_ms`, and for each event its span and the spans
//! of the fields the event types read. Nothing is decoded here: strings stay escaped, numbers
//! stay text. Decoding happens later, from the recorded spans, and only once the signature has
//! checked out.
//!
//! The walk validates what `serde_json` would (the JSON grammar, string escapes, control
//! characters, UTF-8 once for the whole body, duplicate envelope and payload keys), never
//! recurses (nesting costs a bit per level, not a stack frame) and allocates only the list of
//! events, which is bounded by the caller's maximum event count.

use std::borrow::Cow;

use super::events::Field;
use super::js_json;

/// A byte range of the text that was scanned. A JSON value is never empty, so `end == 0` can
/// mean "absent".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(crate) const NONE: Span = Span { start: 0, end: 0 };

    fn new(start: usize, end: usize) -> Span {
        // Callers checked that the text is shorter than u32::MAX.
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// All of `text`.
    pub(crate) fn whole(text: &str) -> Span {
        Span::new(0, text.len())
    }

    pub(crate) fn is_some(self) -> bool {
        self.end != 0
    }

    /// The spanned text. Spans start and end at ASCII bytes, so this never splits a character.
    pub(crate) fn of(self, text: &str) -> &str {
        text.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// Where one event of a payload lies, and the fields its type reads.
#[derive(Debug, Clone)]
pub(crate) struct EventSpans {
    /// The whole event value.
    pub(crate) span: Span,
    /// Per [`Field`], the span of its value (a string's span includes the quotes).
    pub(crate) fields: [Span; Field::COUNT],
    /// The event is not a JSON object.
    pub(crate) not_object: bool,
    /// A field the event types read appears more than once.
    pub(crate) duplicate: Option<Field>,
}

impl EventSpans {
    fn absent() -> Self {
        EventSpans {
            span: Span::NONE,
            fields: [Span::NONE; Field::COUNT],
            not_object: false,
            duplicate: None,
        }
    }
}

/// `{"time_ms":…,"events":[…]}` as found; shape errors are kept for after the signature check.
#[derive(Debug, Clone, Default)]
pub(crate) struct PayloadOutline {
    pub(crate) time_ms: Span,
    pub(crate) events: Vec<EventSpans>,
    /// Why the payload is not a webhook payload, if it is not (reported only once it verified).
    pub(crate) shape_error: Option<String>,
}

/// One of the two headers the verifier reads.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeaderSlot {
    /// How many times it appeared (names compared ignoring ASCII case), up to 2.
    pub(crate) count: u8,
    /// The value's span (with quotes when it is a string).
    pub(crate) value: Span,
}

/// `{"payload":…,"headers":…}` as found.
#[derive(Debug, Clone)]
pub(crate) struct EnvelopeOutline {
    pub(crate) payload: Span,
    pub(crate) headers: Span,
    pub(crate) key: HeaderSlot,
    pub(crate) signature: HeaderSlot,
    pub(crate) outline: PayloadOutline,
}

/// Why the bytes are not what was expected; `at` is a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError {
    pub(crate) what: String,
    pub(crate) at: Option<usize>,
}

impl ScanError {
    fn at(what: impl Into<String>, at: usize) -> Self {
        ScanError {
            what: what.into(),
            at: Some(at),
        }
    }

    fn whole(what: impl Into<String>) -> Self {
        ScanError {
            what: what.into(),
            at: None,
        }
    }
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at {
            Some(at) => write!(f, "{} at byte {at}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

type Result<T> = std::result::Result<T, ScanError>;

/// Checks that `bytes` are UTF-8 and small enough for 32-bit spans.
pub(crate) fn text(bytes: &[u8]) -> Result<&str> {
    if bytes.len() >= u32::MAX as usize {
        return Err(ScanError::whole("the body is larger than 4 GiB"));
    }
    // The fast check first; the slower one only to say where a bad byte is.
    simdutf8::basic::from_utf8(bytes).map_err(|_| {
        let at = std::str::from_utf8(bytes)
            .err()
            .map_or(0, |e| e.valid_up_to());
        ScanError::at("the body is not UTF-8 (JSON must be)", at)
    })
}

/// Scans a Lambda invocation body `{"payload":{…},"headers":{…}}`. Keys other than those two
/// are skipped (checked as JSON); either given twice is an error.
pub(crate) fn envelope(text: &str, max_events: usize) -> Result<EnvelopeOutline> {
    let mut s = Scanner::new(text);
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(s.unexpected("the invocation event must be a JSON object"));
    }
    let mut payload = None;
    let mut headers = None;
    let mut key = HeaderSlot::default();
    let mut signature = HeaderSlot::default();
    let mut outline = PayloadOutline::default();
    s.members(|s, name| {
        match name {
            Key::Plain(b"payload") => {
                if payload.is_some() {
                    return Err(ScanError::at("duplicate field `payload`", s.pos));
                }
                let start = s.pos;
                if s.peek() == Some(b'{') {
                    outline = s.payload(max_events)?;
                } else {
                    s.value()?;
                }
                payload = Some(Span::new(start, s.pos));
            }
            Key::Plain(b"headers") => {
                if headers.is_some() {
                    return Err(ScanError::at("duplicate field `headers`", s.pos));
                }
                let start = s.pos;
                if s.peek() != Some(b'{') {
                    return Err(ScanError::at(
                        "`headers` must be an object of header names to values",
                        start,
                    ));
                }
                s.headers(&mut key, &mut signature)?;
                headers = Some(Span::new(start, s.pos));
            }
            _ => s.value()?,
        }
        Ok(())
    })?;
    s.end()?;
    let payload = payload.ok_or_else(|| ScanError::whole("missing field `payload`"))?;
    let headers = headers.ok_or_else(|| ScanError::whole("missing field `headers`"))?;
    Ok(EnvelopeOutline {
        payload,
        headers,
        key,
        signature,
        outline,
    })
}

/// Scans a payload on its own (the body of an HTTP webhook). Syntax errors are errors; shape
/// errors are in the outline's `shape_error`.
pub(crate) fn payload(text: &str, max_events: usize) -> Result<PayloadOutline> {
    let mut s = Scanner::new(text);
    s.ws();
    let outline = if s.peek() == Some(b'{') {
        s.payload(max_events)?
    } else {
        s.value()?;
        PayloadOutline {
            shape_error: Some("the payload is not a JSON object".to_owned()),
            ..PayloadOutline::default()
        }
    };
    s.end()?;
    Ok(outline)
}

/// Scans one event on its own (e.g. an event read from a file).
pub(crate) fn event(text: &str) -> Result<EventSpans> {
    let mut s = Scanner::new(text);
    s.ws();
    let start = s.pos;
    let mut event = EventSpans::absent();
    if s.peek() == Some(b'{') {
        s.event_fields(&mut event)?;
    } else {
        s.value()?;
        event.not_object = true;
    }
    event.span = Span::new(start, s.pos);
    s.end()?;
    Ok(event)
}

/// Calls `f(name, value_span)` for each member of a JSON object that is already known to be
/// valid (it was scanned before), e.g. to look up a header by any name.
pub(crate) fn each_member<'t>(
    text: &'t str,
    object: Span,
    mut f: impl FnMut(Key<'t>, Span),
) -> Result<()> {
    let mut s = Scanner::new(text);
    s.pos = object.start as usize;
    s.members(|s, name| {
        s.ws();
        let start = s.pos;
        s.value()?;
        f(name, Span::new(start, s.pos));
        Ok(())
    })
}

/// An object key as it appears: its raw bytes between the quotes, and whether they hold an
/// escape (then [`Key::decoded`] gives the text).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'t> {
    /// No escapes: the bytes are the name.
    Plain(&'t [u8]),
    /// With escapes: the literal, quotes included.
    Escaped(&'t str),
}

impl Key<'_> {
    /// The key's text, escapes decoded (lone surrogates become U+FFFD).
    pub(crate) fn decoded(&self) -> Cow<'_, str> {
        match self {
            Key::Plain(bytes) => String::from_utf8_lossy(bytes),
            Key::Escaped(literal) => string_value(literal).unwrap_or_default(),
        }
    }

    /// Whether the key is `name`, comparing ASCII letters without case.
    pub(crate) fn eq_ignore_ascii_case(&self, name: &str) -> bool {
        match self {
            Key::Plain(bytes) => bytes.eq_ignore_ascii_case(name.as_bytes()),
            Key::Escaped(_) => self.decoded().eq_ignore_ascii_case(name),
        }
    }

    /// Whether the key is exactly `name`.
    pub(crate) fn is(&self, name: &str) -> bool {
        match self {
            Key::Plain(bytes) => *bytes == name.as_bytes(),
            Key::Escaped(_) => self.decoded() == name,
        }
    }
}

/// The text of a string literal that was scanned (quotes included): escapes decoded only if
/// there are any, so the common case borrows. `None` if `literal` is not a string. Lone
/// surrogate escapes become U+FFFD (see [`js_json::decode_string_lossy`]).
pub(crate) fn string_value(literal: &str) -> Option<Cow<'_, str>> {
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        js_json::decode_string_lossy(literal).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Flags (high bit of each byte) the bytes of `w` that end or interrupt a string: `"`, `\` or
/// a control character. Only the lowest flag is exact, which is the one used.
#[inline(always)]
fn string_stops(w: u64) -> u64 {
    let quote = w ^ (LO * u64::from(b'"'));
    let backslash = w ^ (LO * u64::from(b'\\'));
    let zero_quote = quote.wrapping_sub(LO) & !quote;
    let zero_backslash = backslash.wrapping_sub(LO) & !backslash;
    let control = w.wrapping_sub(LO * 0x20) & !w;
    (zero_quote | zero_backslash | control) & HI
}

struct Scanner<'t> {
    bytes: &'t [u8],
    pos: usize,
    /// Whether the text holds any control character (below 0x20) at all. `JSON.stringify`
    /// writes none (no whitespace, and escapes them in strings), so usually strings need no
    /// check for them and are skipped with a vectorized search for `"` and `\`.
    has_controls: bool,
}

/// Whether any byte is below 0x20 (a loop the compiler vectorizes: no early exit).
fn has_controls(bytes: &[u8]) -> bool {
    bytes
        .chunks(4096)
        .any(|chunk| chunk.iter().fold(false, |found, &b| found | (b < 0x20)))
}

impl<'t> Scanner<'t> {
    fn new(text: &'t str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            pos: 0,
            has_controls: has_controls(text.as_bytes()),
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &str) -> ScanError {
        match self.peek() {
            None => ScanError::at(format!("{what}, but the text ended"), self.pos),
            Some(b) if b.is_ascii_graphic() => {
                ScanError::at(format!("{what}, found `{}`", char::from(b)), self.pos)
            }
            Some(b) => ScanError::at(format!("{what}, found byte 0x{b:02x}"), self.pos),
        }
    }

    /// After the top-level value: only whitespace may follow.
    fn end(&mut self) -> Result<()> {
        self.ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.unexpected("expected the end of the JSON text"))
        }
    }

    /// Walks the members of an object whose `{` is next: for each, reads the key and the `:`,
    /// then lets `f` read the value.
    fn members(&mut self, mut f: impl FnMut(&mut Self, Key<'t>) -> Result<()>) -> Result<()> {
        self.expect(b'{', "expected an object")?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.key()?;
            self.ws();
            self.expect(b':', "expected `:` after an object key")?;
            self.ws();
            f(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("expected `,` or `}` in an object")),
            }
        }
    }

    fn key(&mut self) -> Result<Key<'t>> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("expected a string key"));
        }
        let start = self.pos;
        let escaped = self.string()?;
        Ok(if escaped {
            // The text is UTF-8 and the literal lies between ASCII quotes.
            Key::Escaped(std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default())
        } else {
            Key::Plain(&self.bytes[start + 1..self.pos - 1])
        })
    }

    /// Reads a string whose `"` is next; returns whether it holds an escape.
    #[inline]
    fn string(&mut self) -> Result<bool> {
        self.pos += 1;
        // Most strings are short: look at the first eight bytes at once.
        if let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let stops = string_stops(u64::from_le_bytes(word));
            if stops != 0 {
                let at = self.pos + (stops.trailing_zeros() / 8) as usize;
                if self.bytes[at] == b'"' {
                    self.pos = at + 1;
                    return Ok(false);
                }
            }
        }
        if self.has_controls {
            self.string_checking_controls()
        } else {
            self.string_without_controls()
        }
    }

    /// The rest of a string, in a text with no control character: only `"` and `\` stop.
    fn string_without_controls(&mut self) -> Result<bool> {
        let mut escaped = false;
        loop {
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            match memchr::memchr2(b'"', b'\\', rest) {
                Some(i) if rest[i] == b'"' => {
                    self.pos += i + 1;
                    return Ok(escaped);
                }
                Some(i) => {
                    self.pos += i;
                    escaped = true;
                    self.escape()?;
                }
                None => return Err(ScanError::at("a string is not closed", self.bytes.len())),
            }
        }
    }

    /// The rest of a string, eight bytes at a time to the next quote, backslash or control
    /// character.
    fn string_checking_controls(&mut self) -> Result<bool> {
        let mut escaped = false;
        loop {
            while let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                let stops = string_stops(u64::from_le_bytes(word));
                if stops != 0 {
                    self.pos += (stops.trailing_zeros() / 8) as usize;
                    break;
                }
                self.pos += 8;
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(b) if b < 0x20 => {
                    return Err(ScanError::at(
                        "a control character must be escaped in a string",
                        self.pos,
                    ));
                }
                Some(_) => self.pos += 1,
                None => return Err(ScanError::at("a string is not closed", self.pos)),
            }
        }
    }

    fn escape(&mut self) -> Result<()> {
        let at = self.pos;
        match self.bytes.get(self.pos + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let digits = self.bytes.get(self.pos + 2..self.pos + 6);
                if digits.is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit)) {
                    self.pos += 6;
                    Ok(())
                } else {
                    Err(ScanError::at("a \\u escape needs four hex digits", at))
                }
            }
            _ => Err(ScanError::at("invalid escape in a string", at)),
        }
    }

    fn number(&mut self) -> Result<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(ScanError::at("invalid number", start)),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(ScanError::at("invalid number", start));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(ScanError::at("invalid number", start));
            }
            self.digits();
        }
        Ok(())
    }

    #[inline]
    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(ScanError::at("expected a JSON value", self.pos))
        }
    }

    /// Reads one value that is not an object or an array.
    #[inline]
    fn scalar(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(self.unexpected("expected a JSON value")),
        }
    }

    /// Reads any value, of any depth, without recursion: open containers are bits on a stack.
    #[inline]
    fn value(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'{' | b'[') => self.container(),
            _ => self.scalar(),
        }
    }

    /// Reads an object or array and everything in it.
    fn container(&mut self) -> Result<()> {
        // One bit per open container: 1 = object, 0 = array.
        let mut stack: Vec<u64> = Vec::new();
        let mut depth = 0usize;
        loop {
            // A value starts here.
            self.ws();
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.pos += 1;
                    self.ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                    } else {
                        let (word, bit) = (depth / 64, depth % 64);
                        if word == stack.len() {
                            stack.push(0);
                        }
                        if open == b'{' {
                            stack[word] |= 1 << bit;
                            self.ws();
                            self.key()?;
                            self.ws();
                            self.expect(b':', "expected `:` after an object key")?;
                        } else {
                            stack[word] &= !(1 << bit);
                        }
                        depth += 1;
                        continue;
                    }
                }
                _ => self.scalar()?,
            }
            // A value ended: close containers until one continues.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let top = depth - 1;
                let in_object = stack[top / 64] & (1 << (top % 64)) != 0;
                self.ws();
                match (self.peek(), in_object) {
                    (Some(b','), true) => {
                        self.pos += 1;
                        self.ws();
                        self.key()?;
                        self.ws();
                        self.expect(b':', "expected `:` after an object key")?;
                        break;
                    }
                    (Some(b','), false) => {
                        self.pos += 1;
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.pos += 1;
                        depth -= 1;
                    }
                    (_, true) => return Err(self.unexpected("expected `,` or `}` in an object")),
                    (_, false) => return Err(self.unexpected("expected `,` or `]` in an array")),
                }
            }
        }
    }

    /// Reads the headers object, noting where `X-Pusher-Key` and `X-Pusher-Signature` are and
    /// how often they appear; other headers are checked and skipped, never stored.
    fn headers(&mut self, key: &mut HeaderSlot, signature: &mut HeaderSlot) -> Result<()> {
        use super::headers::{X_PUSHER_KEY, X_PUSHER_SIGNATURE};
        self.members(|s, name| {
            let start = s.pos;
            s.value()?;
            let slot = if name.eq_ignore_ascii_case(X_PUSHER_SIGNATURE) {
                &mut *signature
            } else if name.eq_ignore_ascii_case(X_PUSHER_KEY) {
                &mut *key
            } else {
                return Ok(());
            };
            slot.count = slot.count.saturating_add(1).min(2);
            slot.value = Span::new(start, s.pos);
            Ok(())
        })
    }

    /// Reads a payload object whose `{` is next, recording `time_ms` and the events.
    fn payload(&mut self, max_events: usize) -> Result<PayloadOutline> {
        let mut outline = PayloadOutline::default();
        let mut saw_events = false;
        let mut shape_error = None;
        self.members(|s, name| {
            let start = s.pos;
            if name.is(super::payload::TIME_MS) {
                s.value()?;
                if outline.time_ms.is_some() {
                    shape_error.get_or_insert_with(|| "duplicate field `time_ms`".to_owned());
                }
                outline.time_ms = Span::new(start, s.pos);
            } else if name.is(super::payload::EVENTS) {
                if saw_events {
                    shape_error.get_or_insert_with(|| "duplicate field `events`".to_owned());
                }
                saw_events = true;
                if s.peek() == Some(b'[') {
                    let count = s.events(&mut outline.events, max_events)?;
                    if count > max_events {
                        shape_error.get_or_insert_with(|| {
                            format!(
                                "the payload holds {count} events, more than the configured \
                                 maximum of {max_events}"
                            )
                        });
                    }
                } else {
                    s.value()?;
                    shape_error.get_or_insert_with(|| "`events` must be an array".to_owned());
                }
            } else {
                s.value()?;
            }
            Ok(())
        })?;
        if shape_error.is_none() {
            if !outline.time_ms.is_some() {
                shape_error = Some("missing field `time_ms`".to_owned());
            } else if !saw_events {
                shape_error = Some("missing field `events`".to_owned());
            }
        }
        outline.shape_error = shape_error;
        Ok(outline)
    }

    /// Reads the events array whose `[` is next, recording at most `max_events` of them;
    /// returns how many there are.
    fn events(&mut self, events: &mut Vec<EventSpans>, max_events: usize) -> Result<usize> {
        self.pos += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(0);
        }
        let mut count = 0usize;
        loop {
            self.ws();
            let start = self.pos;
            let mut event = EventSpans::absent();
            if self.peek() == Some(b'{') {
                self.event_fields(&mut event)?;
            } else {
                self.value()?;
                event.not_object = true;
            }
            event.span = Span::new(start, self.pos);
            count += 1;
            if count <= max_events {
                events.push(event);
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(count);
                }
                _ => return Err(self.unexpected("expected `,` or `]` in an array")),
            }
        }
    }

    /// Reads an event object whose `{` is next, recording the span of each field the event
    /// types read.
    fn event_fields(&mut self, event: &mut EventSpans) -> Result<()> {
        self.members(|s, name| {
            let start = s.pos;
            s.value()?;
            if let Some(field) = Field::from_key(name) {
                let slot = &mut event.fields[field as usize];
                if slot.is_some() {
                    event.duplicate.get_or_insert(field);
                }
                *slot = Span::new(start, s.pos);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::de::IgnoredAny;

    use super::*;

    /// JSON values of a bounded depth (serde_json stops at 128 levels; the scanner does not).
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::vec(("\\PC{0,6}", inner), 0..6)
                    .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// Characters that matter to a JSON reader, for mutations.
    const ALPHABET: &[char] = &[
        '{', '}', '[', ']', '"', ',', ':', '\\', ' ', '\n', '\t', '\u{1}', '0', '1', '9', '-', '+',
        '.', 'e', 'E', 't', 'r', 'u', 'f', 'a', 'l', 's', 'n', 'x', '/', 'b', 'é', '😀',
    ];

    /// Valid JSON text, then up to four edits at random places.
    fn mutated_json() -> impl Strategy<Value = String> {
        let edit = (
            any::<prop::sample::Index>(),
            0..3u8,
            prop::sample::select(ALPHABET),
        );
        (json_value(), prop::collection::vec(edit, 0..5)).prop_map(|(value, edits)| {
            let mut chars: Vec<char> = value.to_string().chars().collect();
            for (at, op, c) in edits {
                let i = at.index(chars.len() + 1);
                match op {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ if i < chars.len() => chars[i] = c,
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The scanner accepts exactly the texts serde_json accepts (as one JSON value).
        #[test]
        fn accepts_exactly_what_serde_json_accepts(text in mutated_json()) {
            let ours = event(&text).is_ok();
            let theirs = serde_json::from_str::<IgnoredAny>(&text).is_ok();
            prop_assert_eq!(ours, theirs, "{:?}", text);
        }

        /// Spans of a payload's events are exactly the elements serde_json finds.
        #[test]
        fn event_spans_are_the_array_elements(values in prop::collection::vec(json_value(), 0..8)) {
            let events: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            let text = format!(r#"{{"time_ms":5,"events":[{}]}}"#, events.join(" , "));
            let outline = payload(&text, usize::MAX).expect("valid payload");
            prop_assert!(outline.shape_error.is_none());
            let found: Vec<&str> = outline.events.iter().map(|e| e.span.of(&text)).collect();
            prop_assert_eq!(found, events.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }

    #[test]
    fn invalid_utf8_and_control_characters_are_rejected() {
        assert!(text(b"{\"a\":\"\xff\"}").is_err());
        assert!(event("\"a\u{1}b\"").is_err());
        assert!(event("\"a\\u00e9b\"").is_ok());
        // Whitespace outside strings is fine; inside, it must be escaped.
        assert!(event("{ \"a\" :\n[1,\t2] }").is_ok());
        assert!(event("\"a\tb\"").is_err());
    }

    #[test]
    fn deep_nesting_costs_no_stack() {
        let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert!(event(&deep).is_ok());
        assert!(event(&deep[1..]).is_err());
    }

    #[test]
    fn duplicate_envelope_and_payload_keys_are_caught() {
        let twice = r#"{"payload":{"time_ms":1,"events":[]},"headers":{},"payload":{}}"#;
        assert!(envelope(twice, 10).is_err());
        let time_twice = r#"{"time_ms":1,"events":[],"time_ms":2}"#;
        let outline = payload(time_twice, 10).expect("valid JSON");
        assert_eq!(
            outline.shape_error.as_deref(),
            Some("duplicate field `time_ms`")
        );
    }

    #[test]
    fn events_beyond_the_maximum_are_counted_not_recorded() {
        let text = r#"{"time_ms":1,"events":[{},{},{}]}"#;
        let outline = payload(text, 2).expect("valid JSON");
        assert_eq!(outline.events.len(), 2);
        assert!(outline.shape_error.is_some_and(|e| e.contains("3 events")));
    }
}
