//! Reading the Lambda invocation event `{"payload": {...}, "headers": {...}}`.
//!
//! The payload is kept as the raw bytes that arrived (a span of the body): the signature covers
//! exactly those bytes, and nothing here ever re-serializes them. Writing the envelope is
//! [`write_lambda_body`], used by [`SignedPayload::lambda_body`](super::SignedPayload::lambda_body).

use std::borrow::Cow;
use std::fmt;

use super::headers::{X_PUSHER_KEY, X_PUSHER_SIGNATURE};
use super::js_json;
use super::scan::{
    self, DEFAULT_MAX_EVENTS, EnvelopeOutline, HeaderSlot, PayloadOutline, ScanError, Span,
};

/// Writes the Lambda invocation body `{"payload":<payload_json>,"headers":{…}}` as soketi (its
/// AWS SDK's `JSON.stringify`) does: the payload bytes verbatim, the headers in the order given.
///
/// ```
/// use soketi_handler_kit::wire::write_lambda_body;
/// let body = write_lambda_body(r#"{"time_ms":1,"events":[]}"#, &[("X-Pusher-Key", "k")]);
/// assert_eq!(body, r#"{"payload":{"time_ms":1,"events":[]},"headers":{"X-Pusher-Key":"k"}}"#);
/// ```
pub fn write_lambda_body<N: AsRef<str>, V: AsRef<str>>(
    payload_json: &str,
    headers: &[(N, V)],
) -> String {
    let mut out = String::with_capacity(payload_json.len() + 64 * (headers.len() + 1));
    out.push_str("{\"payload\":");
    out.push_str(payload_json);
    out.push_str(",\"headers\":{");
    for (i, (name, value)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        js_json::write_str(&mut out, name.as_ref());
        out.push(':');
        js_json::write_str(&mut out, value.as_ref());
    }
    out.push_str("}}");
    out
}

/// A parsed invocation event, borrowing from the body it was read from.
///
/// Reading is one pass over the bytes: it checks that the body is JSON and records where the
/// payload, the two `X-Pusher-*` headers and each event lie, decoding nothing.
pub struct Envelope<'a> {
    text: &'a str,
    outline: EnvelopeOutline,
}

impl<'a> Envelope<'a> {
    /// Reads an invocation body. The payload must be a JSON object (its contents are checked
    /// only after the signature); `headers` must be an object.
    ///
    /// ```
    /// use soketi_handler_kit::wire::Envelope;
    /// let body = br#"{"payload":{"time_ms":1,"events":[]},"headers":{"x-pusher-key":"k"}}"#;
    /// let envelope = Envelope::parse(body)?;
    /// assert_eq!(envelope.payload_json(), r#"{"time_ms":1,"events":[]}"#);
    /// assert_eq!(envelope.headers().get("X-Pusher-Key")?.as_deref(), Some("k"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(body: &'a [u8]) -> Result<Self, EnvelopeError> {
        Envelope::parse_with_limit(body, DEFAULT_MAX_EVENTS)
    }

    /// [`Envelope::parse`], recording at most `max_events` events (a payload with more is
    /// rejected once it verified).
    pub(crate) fn parse_with_limit(
        body: &'a [u8],
        max_events: usize,
    ) -> Result<Self, EnvelopeError> {
        let text = scan::text(body).map_err(EnvelopeError::json)?;
        let outline = scan::envelope(text, max_events).map_err(EnvelopeError::json)?;
        if !outline.payload.of(text).starts_with('{') {
            return Err(EnvelopeError::PayloadNotObject);
        }
        Ok(Envelope { text, outline })
    }

    /// The payload exactly as it arrived: the bytes the signature covers.
    pub fn payload_json(&self) -> &'a str {
        self.outline.payload.of(self.text)
    }

    /// The headers.
    pub fn headers(&self) -> Headers<'a> {
        Headers(Repr::Scanned {
            text: self.text,
            object: self.outline.headers,
            key: self.outline.key,
            signature: self.outline.signature,
        })
    }

    /// The payload's outline as found (its shape is checked after the signature).
    pub(crate) fn into_payload(self) -> (&'a str, Span, PayloadOutline) {
        (self.text, self.outline.payload, self.outline.outline)
    }

    /// A copy of the payload's outline.
    pub(crate) fn payload_outline(&self) -> (&'a str, Span, PayloadOutline) {
        (
            self.text,
            self.outline.payload,
            self.outline.outline.clone(),
        )
    }
}

impl fmt::Debug for Envelope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("payload_bytes", &self.payload_json().len())
            .field("events", &self.outline.outline.events.len())
            .field("headers", &self.headers())
            .finish()
    }
}

/// Header names and values. Lookups ignore ASCII case; a header present twice (in any case)
/// is an error when looked up, never a guess.
pub struct Headers<'a>(Repr<'a>);

enum Repr<'a> {
    /// The `headers` object of an envelope, read in place: nothing is allocated per header.
    Scanned {
        text: &'a str,
        object: Span,
        key: HeaderSlot,
        signature: HeaderSlot,
    },
    /// Name/value pairs, e.g. the real headers of an HTTP webhook.
    Pairs(Vec<(Cow<'a, str>, Cow<'a, str>)>),
}

impl Default for Headers<'_> {
    fn default() -> Self {
        Headers(Repr::Pairs(Vec::new()))
    }
}

impl<'a> Headers<'a> {
    /// Headers from name/value pairs, e.g. the real headers of an HTTP webhook.
    pub fn from_pairs<I, N, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<Cow<'a, str>>,
        V: Into<Cow<'a, str>>,
    {
        Headers(Repr::Pairs(
            pairs
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        ))
    }

    /// The value of header `name`, ignoring ASCII case; `None` when absent. A header present
    /// more than once (in any case), or whose value is not a string, is an error: reading one
    /// of two values would be a guess.
    pub fn get(&self, name: &str) -> Result<Option<Cow<'a, str>>, HeaderError> {
        match &self.0 {
            Repr::Pairs(pairs) => {
                let mut found = None;
                for (n, value) in pairs {
                    if n.eq_ignore_ascii_case(name) {
                        if found.is_some() {
                            return Err(HeaderError::Duplicate(name.to_owned()));
                        }
                        found = Some(value.clone());
                    }
                }
                Ok(found)
            }
            Repr::Scanned {
                text,
                object,
                key,
                signature,
            } => {
                let slot = if name.eq_ignore_ascii_case(X_PUSHER_SIGNATURE) {
                    *signature
                } else if name.eq_ignore_ascii_case(X_PUSHER_KEY) {
                    *key
                } else {
                    let mut slot = HeaderSlot::default();
                    // The object was checked when the envelope was read.
                    let _ = scan::each_member(text, *object, |n, value| {
                        if n.eq_ignore_ascii_case(name) {
                            slot.count = slot.count.saturating_add(1).min(2);
                            slot.value = value;
                            slot.escaped = value.of(text).contains('\\');
                        }
                    });
                    slot
                };
                match slot.count {
                    0 => Ok(None),
                    1 => scan::string_value_scanned(slot.value.of(text), slot.escaped)
                        .map(Some)
                        .ok_or_else(|| HeaderError::NotAString(name.to_owned())),
                    _ => Err(HeaderError::Duplicate(name.to_owned())),
                }
            }
        }
    }

    /// The headers as (name, value JSON or text) pairs, in the order they arrived.
    fn entries(&self) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
        match &self.0 {
            Repr::Pairs(pairs) => pairs.clone(),
            Repr::Scanned { text, object, .. } => {
                let mut out = Vec::new();
                let _ = scan::each_member(text, *object, |name, value| {
                    let raw = value.of(text);
                    let value = scan::string_value(raw).unwrap_or(Cow::Borrowed(raw));
                    out.push((Cow::Owned(name.decoded().into_owned()), value));
                });
                out
            }
        }
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Pairs(pairs) => pairs.len(),
            Repr::Scanned { text, object, .. } => {
                let mut count = 0;
                let _ = scan::each_member(text, *object, |_, _| count += 1);
                count
            }
        }
    }

    /// Whether there is no header at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries()).finish()
    }
}

/// The invocation event is not a soketi envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Not JSON, or not `{"payload": {...}, "headers": {...}}`.
    #[error(
        "the invocation event must be {{\"payload\": {{...}}, \"headers\": {{...}}}} as soketi sends it: {0}"
    )]
    Json(String),
    /// `payload` is not a JSON object.
    #[error("the envelope's `payload` must be a JSON object")]
    PayloadNotObject,
}

impl EnvelopeError {
    fn json(error: ScanError) -> Self {
        EnvelopeError::Json(error.to_string())
    }
}

/// A header could not be read unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The header appears more than once (names compared ignoring case).
    #[error("header `{0}` appears more than once")]
    Duplicate(String),
    /// The header's value is not a string.
    #[error("header `{0}` must be a string")]
    NotAString(String),
}
