//! The payload `{"time_ms":…,"events":[…]}`: written as soketi writes it, read from the raw
//! bytes that arrived.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::envelope;
use super::events::{Event, EventDecodeError};
use super::headers;
use super::signature::{Secret, Signature};

/// The current time as a payload's `time_ms`: milliseconds since the Unix epoch (0 if the
/// system clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A payload to send: serialize it with [`Payload::to_json`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Payload {
    /// Milliseconds since the Unix epoch at which the payload was built.
    pub time_ms: u64,
    /// The events, in order.
    pub events: Vec<Event>,
}

impl Payload {
    /// A payload of `events` stamped `time_ms`.
    pub fn new(time_ms: u64, events: Vec<Event>) -> Self {
        Payload { time_ms, events }
    }

    /// The payload bytes exactly as soketi's `JSON.stringify` prints them.
    ///
    /// ```
    /// use soketi_handler_kit::wire::{Event, Payload};
    /// let p = Payload::new(1795877256368, vec![Event::channel_occupied("public-chan")]);
    /// assert_eq!(
    ///     p.to_json(),
    ///     r#"{"time_ms":1795877256368,"events":[{"name":"channel_occupied","channel":"public-chan"}]}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        // Every field is a string, an integer or already-valid raw JSON: serialization cannot
        // fail, but if it ever did, an empty object would be rejected loudly by any receiver.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Serializes and signs the payload for `app_key`.
    pub fn sign(&self, app_key: &str, secret: &Secret) -> SignedPayload {
        SignedPayload::new(self.to_json(), app_key, secret)
    }
}

/// Payload bytes with the key and signature that go with them: what both transports send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPayload {
    json: String,
    app_key: String,
    signature: Signature,
}

impl SignedPayload {
    /// Signs payload bytes that are already serialized.
    pub fn new(json: String, app_key: &str, secret: &Secret) -> Self {
        let signature = secret.sign(json.as_bytes());
        SignedPayload {
            json,
            app_key: app_key.to_owned(),
            signature,
        }
    }

    /// The signed payload bytes: the whole body of an HTTP webhook.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The app key sent in `X-Pusher-Key`.
    pub fn app_key(&self) -> &str {
        &self.app_key
    }

    /// The signature sent in `X-Pusher-Signature`.
    pub fn signature(&self) -> Signature {
        self.signature
    }

    /// The headers in soketi's order; see [`headers::webhook_headers`].
    pub fn headers<N: AsRef<str>, V: AsRef<str>>(
        &self,
        user_agent: &str,
        custom: &[(N, V)],
    ) -> Vec<(String, String)> {
        headers::webhook_headers(
            user_agent,
            custom,
            &self.app_key,
            &self.signature.to_string(),
        )
    }

    /// The Lambda invocation body `{"payload":…,"headers":{…}}`, byte for byte as soketi
    /// sends it.
    ///
    /// ```
    /// use soketi_handler_kit::wire::{headers::user_agent, Event, Payload, Secret};
    /// let payload = Payload::new(1795877256368, vec![Event::channel_occupied("public-chan")]);
    /// let signed = payload.sign("app1key", &Secret::new("app1secret"));
    /// let body = signed.lambda_body::<&str, &str>(&user_agent(26548), &[]);
    /// assert_eq!(
    ///     body,
    ///     std::fs::read_to_string(concat!(
    ///         env!("CARGO_MANIFEST_DIR"),
    ///         "/tests/vectors/soketi-1.6.1/001.json"
    ///     ))?
    /// );
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lambda_body<N: AsRef<str>, V: AsRef<str>>(
        &self,
        user_agent: &str,
        custom: &[(N, V)],
    ) -> String {
        envelope::write_lambda_body(&self.json, &self.headers(user_agent, custom))
    }
}

/// A payload as received: `time_ms` read, events kept as raw JSON until asked for.
#[derive(Debug, Clone)]
pub struct ReceivedPayload<'a> {
    time_ms: u64,
    events: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct PayloadShape<'a> {
    time_ms: u64,
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

impl<'a> ReceivedPayload<'a> {
    /// Reads the payload's outline from its raw JSON text. Only the shape is checked here
    /// (an object with an integer `time_ms` and an `events` array); each event is decoded by
    /// [`ReceivedPayload::events`].
    pub fn parse(json: &'a str) -> Result<Self, PayloadError> {
        let shape: PayloadShape<'a> =
            serde_json::from_str(json).map_err(|e| PayloadError(e.to_string()))?;
        Ok(ReceivedPayload {
            time_ms: shape.time_ms,
            events: shape.events,
        })
    }

    /// The payload's `time_ms`.
    pub fn time_ms(&self) -> u64 {
        self.time_ms
    }

    /// How many events the payload holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the payload holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events as the raw JSON objects that arrived.
    pub fn raw_events(&self) -> &[&'a RawValue] {
        &self.events
    }

    /// The events, decoded one by one in payload order; one malformed event does not hide the
    /// others.
    pub fn events(&self) -> impl Iterator<Item = Result<Event, EventDecodeError>> + '_ {
        self.events.iter().map(|raw| Event::from_raw(raw))
    }
}

/// The payload is not `{"time_ms": <integer>, "events": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payload must be a JSON object with an integer `time_ms` and an `events` array: {0}")]
pub struct PayloadError(String);

impl PayloadError {
    pub(crate) fn not_utf8(e: std::str::Utf8Error) -> Self {
        PayloadError(format!("the payload is not UTF-8: {e}"))
    }
}
