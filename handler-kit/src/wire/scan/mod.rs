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
//!
//! `grammar` holds the JSON grammar; this module, what is recorded: the envelope's parts, the
//! headers the verifier reads, the payload's outline and each event's fields.

mod grammar;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use super::js_json;
use super::names::{EVENTS, Field, HEADERS, JOB_EVENTS, PAYLOAD, TIME_MS};
use grammar::Scanner;

/// The default maximum number of events in one payload: more than a 6 MiB payload (Lambda's
/// synchronous limit) can hold of the smallest valid events. It bounds what an unverified
/// request can make the kit allocate; see [`Verifier::max_events`](crate::Verifier::max_events).
pub const DEFAULT_MAX_EVENTS: usize = 200_000;

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
    /// Per [`Field`] (bit `field as usize`), whether its value is a string holding an escape:
    /// the others are their own text between the quotes, with nothing to search or decode.
    pub(crate) escaped: u8,
}

impl EventSpans {
    fn absent() -> Self {
        EventSpans {
            span: Span::NONE,
            fields: [Span::NONE; Field::COUNT],
            not_object: false,
            duplicate: None,
            escaped: 0,
        }
    }
}

/// `{"time_ms":…,"events":[…]}` as found; shape errors are kept for after the signature check.
#[derive(Debug, Clone, Default)]
pub(crate) struct PayloadOutline {
    pub(crate) time_ms: Span,
    pub(crate) events: Vec<EventSpans>,
    /// The value of `job_events`, when present (read once the signature checked out).
    pub(crate) job_events: Span,
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
    /// The value is a string holding an escape.
    pub(crate) escaped: bool,
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

/// Why the bytes are not what was expected. Boxed, so that every `Result` of the reader is one
/// word (returned in a register, not through memory: the reader returns one per token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError(Box<ScanErrorDetail>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct ScanErrorDetail {
    what: String,
    /// A byte offset, when the error has one place.
    at: Option<usize>,
}

impl ScanError {
    #[cold]
    #[inline(never)]
    fn at(what: impl Into<String>, at: usize) -> Self {
        ScanError(Box::new(ScanErrorDetail {
            what: what.into(),
            at: Some(at),
        }))
    }

    #[cold]
    #[inline(never)]
    fn whole(what: impl Into<String>) -> Self {
        ScanError(Box::new(ScanErrorDetail {
            what: what.into(),
            at: None,
        }))
    }

    /// What was wrong, without the place.
    #[cfg(test)]
    pub(crate) fn what(&self) -> &str {
        &self.0.what
    }
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.at {
            Some(at) => write!(f, "{} at byte {at}", self.0.what),
            None => f.write_str(&self.0.what),
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
    // Names are compared after unescaping: a second `"p\u0061yload"` is the same member as
    // `"payload"` to every other JSON reader (serde_json, `JSON.parse`), so it is a duplicate
    // here too, never an unknown member to skip.
    s.members(|s, name| {
        if name.is(PAYLOAD) {
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
        } else if name.is(HEADERS) {
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
        } else {
            s.value()?;
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
    #[inline]
    pub(crate) fn eq_ignore_ascii_case(&self, name: &str) -> bool {
        match self {
            Key::Plain(bytes) => bytes.eq_ignore_ascii_case(name.as_bytes()),
            Key::Escaped(_) => self.decoded().eq_ignore_ascii_case(name),
        }
    }

    /// Whether the key is exactly `name`, escapes decoded (`"p\u0061yload"` is `payload`).
    #[inline(always)]
    pub(crate) fn is(&self, name: &str) -> bool {
        match self {
            Key::Plain(bytes) => *bytes == name.as_bytes(),
            Key::Escaped(_) => self.decoded() == name,
        }
    }

    /// The event field this key names, if it is one the event types read (compared exactly,
    /// escapes decoded).
    #[inline]
    pub(crate) fn field(&self) -> Option<Field> {
        match self {
            Key::Plain(bytes) => Field::from_name(bytes),
            Key::Escaped(_) => Field::from_name(self.decoded().as_bytes()),
        }
    }
}

/// The text of a string literal that was scanned (quotes included): escapes decoded only if
/// there are any, so the common case borrows. `None` if `literal` is not a string. Lone
/// surrogate escapes become U+FFFD (see [`js_json::decode_string_lossy`]).
pub(crate) fn string_value(literal: &str) -> Option<Cow<'_, str>> {
    string_value_scanned(literal, literal.contains('\\'))
}

/// [`string_value`] of a literal the reader already knows to hold an escape or not
/// (`escaped`), so that it is not searched again.
pub(crate) fn string_value_scanned(literal: &str, escaped: bool) -> Option<Cow<'_, str>> {
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    if escaped {
        js_json::decode_string_lossy(literal).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// What the kit records while the grammar walks the text.
impl Scanner<'_> {
    /// Reads the headers object, noting where `X-Pusher-Key` and `X-Pusher-Signature` are and
    /// how often they appear; other headers are checked and skipped, never stored.
    fn headers(&mut self, key: &mut HeaderSlot, signature: &mut HeaderSlot) -> Result<()> {
        use super::headers::{X_PUSHER_KEY, X_PUSHER_SIGNATURE};
        self.members(|s, name| {
            let start = s.pos;
            let escaped = s.value_noting_escapes()?;
            let slot = if name.eq_ignore_ascii_case(X_PUSHER_SIGNATURE) {
                &mut *signature
            } else if name.eq_ignore_ascii_case(X_PUSHER_KEY) {
                &mut *key
            } else {
                return Ok(());
            };
            slot.count = slot.count.saturating_add(1).min(2);
            slot.value = Span::new(start, s.pos);
            slot.escaped = escaped;
            Ok(())
        })
    }

    /// Reads a payload object whose `{` is next, recording `time_ms`, the events and
    /// `job_events`.
    fn payload(&mut self, max_events: usize) -> Result<PayloadOutline> {
        let mut outline = PayloadOutline::default();
        let mut saw_events = false;
        let mut shape_error = None;
        self.members(|s, name| {
            let start = s.pos;
            if name.is(TIME_MS) {
                s.value()?;
                if outline.time_ms.is_some() {
                    shape_error.get_or_insert_with(|| "duplicate field `time_ms`".to_owned());
                }
                outline.time_ms = Span::new(start, s.pos);
            } else if name.is(JOB_EVENTS) {
                s.value()?;
                if outline.job_events.is_some() {
                    shape_error.get_or_insert_with(|| format!("duplicate field `{JOB_EVENTS}`"));
                }
                outline.job_events = Span::new(start, s.pos);
            } else if name.is(EVENTS) {
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
        // Room for the events a text of this length usually holds (soketi's smallest are
        // about 60 bytes), so that the list rarely grows by copying.
        let rest = self.bytes.len().saturating_sub(self.pos);
        events.reserve((rest / 64).clamp(1, max_events.clamp(1, 4096)));
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
            let escaped = s.value_noting_escapes()?;
            if let Some(field) = name.field() {
                let slot = &mut event.fields[field as usize];
                if slot.is_some() {
                    event.duplicate.get_or_insert(field);
                }
                *slot = Span::new(start, s.pos);
                let bit = 1u8 << field as u8;
                event.escaped = if escaped {
                    event.escaped | bit
                } else {
                    event.escaped & !bit
                };
            }
            Ok(())
        })
    }
}
