//! The payload `{"time_ms":…,"events":[…]}`: written as soketi writes it, read from the raw
//! bytes that arrived.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;

use super::envelope;
use super::events::{Event, EventDecodeError, Located};
use super::headers;
use super::job_events::{JobEventId, read_job_events};
use super::names::{EVENTS, TIME_MS};
/// The default maximum number of events in one payload (the scanner's bound; see
/// [`Verifier::max_events`](crate::Verifier::max_events)).
pub use super::scan::DEFAULT_MAX_EVENTS;
use super::scan::{self, EventSpans, PayloadOutline, Span};
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
#[derive(Debug, Clone, PartialEq)]
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
        use std::fmt::Write as _;
        let mut out = String::with_capacity(32 + 64 * self.events.len());
        // Writing to a String cannot fail.
        let _ = write!(out, "{{\"{TIME_MS}\":{},\"{EVENTS}\":[", self.time_ms);
        for (i, event) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            event.write_json(&mut out);
        }
        out.push_str("]}");
        out
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

/// A payload as received: `time_ms` read, each event located but decoded only when asked for.
#[derive(Debug, Clone)]
pub struct ReceivedPayload<'a> {
    /// The text the spans point into (the whole body for a Lambda envelope).
    text: &'a str,
    json: Span,
    time_ms: u64,
    events: Vec<EventSpans>,
    /// Each event's queue job, when the payload says (`job_events`).
    job_events: Option<Vec<JobEventId>>,
}

impl<'a> ReceivedPayload<'a> {
    /// Reads the payload's outline from its raw JSON text. Only the shape is checked here
    /// (an object with an integer `time_ms` and an `events` array); each event is decoded by
    /// [`ReceivedPayload::events`].
    ///
    /// ```
    /// use soketi_handler_kit::wire::{Event, ReceivedPayload};
    /// let payload = ReceivedPayload::parse(
    ///     r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"},{"name":"x"}]}"#,
    /// )?;
    /// assert_eq!((payload.time_ms(), payload.len()), (1, 2));
    /// let events: Vec<Event> = payload.events().collect::<Result<_, _>>()?;
    /// assert_eq!(events[0], Event::channel_occupied("c"));
    /// assert_eq!(events[1].name(), "x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(json: &'a str) -> Result<Self, PayloadError> {
        ReceivedPayload::parse_with_limit(json, DEFAULT_MAX_EVENTS)
    }

    /// [`ReceivedPayload::parse`] with a maximum number of events.
    pub(crate) fn parse_with_limit(json: &'a str, max_events: usize) -> Result<Self, PayloadError> {
        let outline = scan::payload(json, max_events).map_err(|e| PayloadError(e.to_string()))?;
        ReceivedPayload::from_outline(json, Span::whole(json), outline)
    }

    /// The payload at `json` in `text`, from the outline the scanner recorded: its shape is
    /// checked, and `time_ms` and `job_events` read, now.
    pub(crate) fn from_outline(
        text: &'a str,
        json: Span,
        outline: PayloadOutline,
    ) -> Result<Self, PayloadError> {
        if let Some(error) = outline.shape_error {
            return Err(PayloadError(error));
        }
        let raw = outline.time_ms.of(text);
        let time_ms = raw.parse::<u64>().map_err(|_| {
            PayloadError(format!(
                "`time_ms` must be a non-negative integer (milliseconds), found {}",
                raw.chars().take(40).collect::<String>()
            ))
        })?;
        let job_events = match outline.job_events.is_some() {
            true => Some(
                read_job_events(outline.job_events.of(text), outline.events.len())
                    .map_err(PayloadError)?,
            ),
            false => None,
        };
        Ok(ReceivedPayload {
            text,
            json,
            time_ms,
            events: outline.events,
            job_events,
        })
    }

    /// The payload's JSON text, exactly as it arrived.
    pub fn as_json(&self) -> &'a str {
        self.json.of(self.text)
    }

    /// The payload's `time_ms`.
    pub fn time_ms(&self) -> u64 {
        self.time_ms
    }

    /// Which queue job each event came from, in the order of the events, when the payload
    /// says (its `job_events` member, written by consumers of soketi's queue; see
    /// [`write_job_events`](super::write_job_events)). `None` for soketi's own payloads.
    pub fn job_events(&self) -> Option<&[JobEventId]> {
        self.job_events.as_deref()
    }

    /// How many events the payload holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the payload holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events as the JSON text of each, exactly as it arrived.
    pub fn event_texts(&self) -> impl ExactSizeIterator<Item = &'a str> + '_ {
        self.events.iter().map(|spans| spans.span.of(self.text))
    }

    /// The events as raw JSON values, exactly as they arrived (for serde users; each is
    /// checked again as it is wrapped, so prefer [`ReceivedPayload::event_texts`] when text
    /// will do).
    pub fn raw_events(&self) -> Vec<&'a RawValue> {
        self.event_texts()
            .filter_map(|text| serde_json::from_str(text).ok())
            .collect()
    }

    /// The events, located but not decoded, for the router.
    pub(crate) fn located(&self) -> impl ExactSizeIterator<Item = Located<'_>> + '_ {
        self.events.iter().map(|spans| Located {
            text: self.text,
            spans,
        })
    }

    /// The events, decoded one by one in payload order; one malformed event does not hide the
    /// others.
    pub fn events(&self) -> impl ExactSizeIterator<Item = Result<Event, EventDecodeError>> + '_ {
        self.events
            .iter()
            .map(|spans| Event::decode(self.text, spans))
    }
}

/// The payload is not `{"time_ms": <integer>, "events": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payload must be a JSON object with an integer `time_ms` and an `events` array: {0}")]
pub struct PayloadError(String);

impl PayloadError {
    pub(crate) fn new(reason: impl fmt::Display) -> Self {
        PayloadError(reason.to_string())
    }
}
