//! Reading the Lambda invocation event `{"payload": {...}, "headers": {...}}`.
//!
//! The payload is kept as the raw bytes that arrived (a borrowed [`RawValue`]): the signature
//! covers exactly those bytes, and nothing here ever re-serializes them. Writing the envelope
//! is [`SignedPayload::lambda_body`](super::SignedPayload::lambda_body).

use std::borrow::Cow;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::js_json;

/// Writes the Lambda invocation body `{"payload":<payload_json>,"headers":{…}}` as soketi (its
/// AWS SDK's `JSON.stringify`) does: the payload bytes verbatim, the headers in the order given.
///
/// ```
/// use soketi_handler_kit::wire::envelope::write_lambda_body;
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
#[derive(Debug)]
pub struct Envelope<'a> {
    payload: &'a RawValue,
    headers: Headers<'a>,
}

#[derive(Deserialize)]
struct EnvelopeShape<'a> {
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(borrow)]
    headers: Headers<'a>,
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
        let shape: EnvelopeShape<'a> =
            serde_json::from_slice(body).map_err(|e| EnvelopeError::Json(e.to_string()))?;
        if !shape.payload.get().starts_with('{') {
            return Err(EnvelopeError::PayloadNotObject);
        }
        Ok(Envelope {
            payload: shape.payload,
            headers: shape.headers,
        })
    }

    /// The payload exactly as it arrived: the bytes the signature covers.
    pub fn payload_json(&self) -> &'a str {
        self.payload.get()
    }

    /// The payload as a raw JSON value.
    pub fn payload(&self) -> &'a RawValue {
        self.payload
    }

    /// The headers.
    pub fn headers(&self) -> &Headers<'a> {
        &self.headers
    }
}

/// Header names and values in the order they arrived. Lookups ignore ASCII case.
#[derive(Default)]
pub struct Headers<'a> {
    entries: Vec<(Cow<'a, str>, HeaderValue<'a>)>,
}

enum HeaderValue<'a> {
    Text(Cow<'a, str>),
    /// A value that is not a JSON string (soketi passes custom header values on as given).
    Other(&'a RawValue),
}

impl<'a> Headers<'a> {
    /// Headers from name/value pairs, e.g. the real headers of an HTTP webhook.
    pub fn from_pairs<I, N, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<Cow<'a, str>>,
        V: Into<Cow<'a, str>>,
    {
        Headers {
            entries: pairs
                .into_iter()
                .map(|(n, v)| (n.into(), HeaderValue::Text(v.into())))
                .collect(),
        }
    }

    /// The value of header `name`, ignoring ASCII case; `None` when absent. A header present
    /// more than once (in any case), or whose value is not a string, is an error: reading one
    /// of two values would be a guess.
    pub fn get(&self, name: &str) -> Result<Option<&str>, HeaderError> {
        let mut found = None;
        for (n, value) in &self.entries {
            if !n.eq_ignore_ascii_case(name) {
                continue;
            }
            if found.is_some() {
                return Err(HeaderError::Duplicate(name.to_owned()));
            }
            found = Some(value);
        }
        match found {
            None => Ok(None),
            Some(HeaderValue::Text(text)) => Ok(Some(text)),
            Some(HeaderValue::Other(_)) => Err(HeaderError::NotAString(name.to_owned())),
        }
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no header at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.entries {
            match value {
                HeaderValue::Text(text) => map.entry(name, text),
                HeaderValue::Other(raw) => map.entry(name, &raw.get()),
            };
        }
        map.finish()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for HeadersVisitor<'a> {
            type Value = Headers<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of header names to values")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut entries = Vec::new();
                while let Some(name) = map.next_key::<Cow<'de, str>>()? {
                    let raw: &'de RawValue = map.next_value()?;
                    let value = if raw.get().starts_with('"') {
                        HeaderValue::Text(
                            serde_json::from_str::<Cow<'de, str>>(raw.get())
                                .map_err(serde::de::Error::custom)?,
                        )
                    } else {
                        HeaderValue::Other(raw)
                    };
                    entries.push((name, value));
                }
                Ok(Headers { entries })
            }
        }

        deserializer.deserialize_map(HeadersVisitor(std::marker::PhantomData))
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
