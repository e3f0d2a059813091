//! Dead letters: a failed delivery as one JSON line, and the request to send it again.
//!
//! A line holds the format version `v`, the signed payload exactly as it was signed (a JSON
//! value, byte for byte), the headers in order, where the request was going and why it
//! failed:
//!
//! ```text
//! {"v":2,"app_id":"1","app_key":"k","webhook":0,
//!  "target":{"type":"lambda","function":"f","invocation_type":"Event","region":"eu-west-1","endpoint":null},
//!  "time_ms":1,"events":["cache_miss"],"headers":[["Accept","application/json"],["Authorization",null],…],
//!  "payload":{"time_ms":1,"events":[{"name":"cache_miss","channel":"cache-a"}]},
//!  "failure":{"kind":"Timeout","message":"no answer","status":null,"attempts":3}}
//! ```
//!
//! (one line in the file). `events` lists the event names for people reading the file; the
//! events themselves are read from `payload`. The body sent again is rebuilt from `payload`
//! and `headers` by the kit's [`wire`](soketi_handler_kit::wire) writer, which is how it was
//! built the first time: the same bytes, the same signature, no secret needed.
//!
//! **What is not stored** (see [`redact`](crate::redact)): no app secret, no AWS credential,
//! no URL password (a URL is stored as `https://user:***@host/…`) and no value of a credential
//! header (`Authorization`, `Cookie`, `X-Api-Key`, …: stored as `null`, in its place). Those
//! come from the configuration when the letter is sent again, and only for the webhook the
//! letter names ([`DeadLetter::to_request`]).
//!
//! Lines without `v` (written before the field existed) are read as version 1, which has the
//! same fields; a line of another version is refused with a message saying so.
//!
//! Sending a letter again is [`replay`](super::replay)'s.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use soketi_handler_kit::wire::{Event, EventDecodeError, PayloadError, ReceivedPayload};

use crate::config::Target;
use crate::deliver::{DeliveryReport, Failure};
use crate::redact;

/// The version of the dead-letter lines written (the `v` field).
pub const DEAD_LETTER_VERSION: u32 = 2;

/// A failed delivery, to be stored as one JSON line and sent again later: the signed payload
/// and headers, where they were going and why they did not get there. No secret is stored (not
/// the app secret, not AWS credentials, not a URL password, not a credential header's value).
///
/// ```
/// use soketi_handler_kit::wire::{headers::user_agent, Event, EventKind};
/// use soketi_lambda_sender::config::{App, Webhook};
/// use soketi_lambda_sender::deliver::{DeadLetter, DeliveryReport, Failure, FailureKind, Outcome, Replay};
/// use soketi_lambda_sender::route::Request;
///
/// let app = App::new("1", "k", "s").webhook(
///     Webhook::lambda("f")
///         .region("eu-west-1")
///         .header("Authorization", "Bearer t0k3n")
///         .event_types([EventKind::CacheMiss]),
/// );
/// let request = Request::build(&app, 0, vec![Event::cache_miss("cache-a")], 1, &user_agent(1)).unwrap();
/// let failure = Failure::new(FailureKind::Timeout, "no answer", None, 3);
/// let line = DeadLetter::from_report(&DeliveryReport::new(request.clone(), Outcome::Failed(failure)))
///     .unwrap()
///     .to_json_line();
/// assert!(!line.contains("t0k3n"));
/// let back = DeadLetter::from_json_line(&line)?;
/// // The Authorization header comes back from the app's configuration.
/// assert_eq!(back.to_request(&[app], &Replay::new()).unwrap(), request);
/// # Ok::<(), soketi_lambda_sender::deliver::DeadLetterError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The app's id.
    pub app_id: String,
    /// The app's key.
    pub app_key: String,
    /// The webhook's index in the app's `webhooks`.
    pub webhook: usize,
    /// Where it was going, as stored: no credentials, passwords hidden (see
    /// [`Target::stored`]).
    pub target: Target,
    /// The payload's `time_ms`.
    pub time_ms: u64,
    /// The events it carries, in order.
    pub events: Vec<Event>,
    /// The headers, in order (`X-Pusher-Key` and `X-Pusher-Signature` included); `None` is
    /// the value of a credential header, not stored (see [`redact`](crate::redact)).
    pub headers: Vec<(String, Option<String>)>,
    /// The signed payload bytes, exactly as signed.
    pub payload: String,
    /// Why it failed (its message with any URL password hidden).
    pub failure: Failure,
}

/// Why a line is not a dead letter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeadLetterError {
    /// Not JSON, or a field is missing or has the wrong type or value (an unknown
    /// `invocation_type`, say). The JSON reader's message, without the values it quotes (see
    /// [`redact::quoted`]).
    #[error("{0}")]
    Json(String),
    /// The line is not UTF-8.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// The line's `v` is a version this crate does not read.
    #[error(
        "dead-letter line version {0} is not supported (this soketi-lambda reads versions 1 \
         and {DEAD_LETTER_VERSION}): replay it with the version that wrote it"
    )]
    Version(u64),
    /// `payload` is not a webhook payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// An event of `payload` is malformed.
    #[error("payload event {index}: {source}")]
    Event {
        /// The event's 0-based position in the payload.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: EventDecodeError,
    },
}

impl From<serde_json::Error> for DeadLetterError {
    fn from(error: serde_json::Error) -> Self {
        DeadLetterError::Json(redact::quoted(&error.to_string()))
    }
}

/// The line as written.
#[derive(Serialize)]
struct LineOut<'a> {
    v: u32,
    app_id: &'a str,
    app_key: &'a str,
    webhook: usize,
    target: &'a Target,
    time_ms: u64,
    events: Vec<&'a str>,
    headers: &'a [(String, Option<String>)],
    payload: &'a RawValue,
    failure: &'a Failure,
}

/// The line as read (`events`, the names for people, is not read back).
#[derive(Deserialize)]
struct LineIn<'a> {
    #[serde(default)]
    v: Option<serde_json::Value>,
    app_id: String,
    app_key: String,
    webhook: usize,
    target: Target,
    time_ms: u64,
    headers: Vec<(String, Option<String>)>,
    #[serde(borrow)]
    payload: &'a RawValue,
    failure: Failure,
}

/// Only the version: read when a line is not a letter of a version this crate reads, so that
/// a line of another version says so instead of failing on a field it names differently.
#[derive(Deserialize)]
struct VersionIn {
    #[serde(default)]
    v: Option<serde_json::Value>,
}

/// The version a line's `v` names, if this crate does not read it (versions 1 and
/// [`DEAD_LETTER_VERSION`]; no `v` is version 1).
fn unsupported(v: Option<&serde_json::Value>) -> Option<u64> {
    match v {
        None => None,
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(1 | 2) => None,
            Some(n) => Some(n),
            None => Some(u64::MAX),
        },
        Some(_) => Some(u64::MAX),
    }
}

impl DeadLetter {
    /// The dead letter of a failed delivery (`None` if it was delivered): credential header
    /// values left out, URL passwords hidden.
    pub fn from_report(report: &DeliveryReport) -> Option<Self> {
        let mut failure = report.failure()?.clone();
        failure.message = redact::text(&failure.message).into_owned();
        let r = &report.request;
        let headers = r
            .headers
            .iter()
            .map(|(name, value)| {
                let kept = (!redact::is_credential_header(name)).then(|| value.clone());
                (name.clone(), kept)
            })
            .collect();
        Some(DeadLetter {
            app_id: r.app_id.clone(),
            app_key: r.app_key.clone(),
            webhook: r.webhook,
            target: r.target.stored(),
            time_ms: r.time_ms,
            events: r.events.clone(),
            headers,
            payload: r.payload.clone(),
            failure,
        })
    }

    /// One line of JSON (no newline).
    pub fn to_json_line(&self) -> String {
        // The payload was written by the kit's serializer: it is JSON. If it ever were not,
        // it is stored as a JSON string, so that the line stays readable and reading it back
        // says what is wrong instead of the record being lost.
        let fallback;
        let payload: &RawValue = match serde_json::from_str::<&RawValue>(&self.payload) {
            Ok(raw) => raw,
            Err(_) => {
                fallback = serde_json::value::to_raw_value(&self.payload).unwrap_or_default();
                &fallback
            }
        };
        let line = LineOut {
            v: DEAD_LETTER_VERSION,
            app_id: &self.app_id,
            app_key: &self.app_key,
            webhook: self.webhook,
            target: &self.target,
            time_ms: self.time_ms,
            events: self.events.iter().map(Event::name).collect(),
            headers: &self.headers,
            payload,
            failure: &self.failure,
        };
        // Strings, integers, raw JSON and plain structs only: serializing cannot fail.
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Reads one line, in one pass (its payload is then read as the kit reads a payload). The
    /// events are decoded from its `payload`; an unknown version, an unknown invocation type,
    /// a payload that is not one or a malformed event is an error.
    pub fn from_json_line(line: &str) -> Result<Self, DeadLetterError> {
        let read = serde_json::from_str::<LineIn<'_>>(line);
        let version = match &read {
            Ok(line) => unsupported(line.v.as_ref()),
            // Not a letter as this version writes them: perhaps one of another version.
            Err(_) => serde_json::from_str::<VersionIn>(line)
                .ok()
                .and_then(|only| unsupported(only.v.as_ref())),
        };
        if let Some(version) = version {
            return Err(DeadLetterError::Version(version));
        }
        let line = read?;
        let payload = ReceivedPayload::parse(line.payload.get())?;
        let events = payload
            .events()
            .enumerate()
            .map(|(index, event)| event.map_err(|source| DeadLetterError::Event { index, source }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DeadLetter {
            app_id: line.app_id,
            app_key: line.app_key,
            webhook: line.webhook,
            target: line.target,
            time_ms: line.time_ms,
            events,
            headers: line.headers,
            payload: line.payload.get().to_owned(),
            failure: line.failure,
        })
    }
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::EventKind;
    use soketi_handler_kit::wire::headers::user_agent;

    use super::*;
    use crate::config::{App, Webhook};
    use crate::deliver::{FailureKind, Outcome, Replay};
    use crate::route::Request;

    fn letter(is_async: bool) -> (App, Request, String) {
        let app = App::new("1", "k", "s").webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .async_invocation(is_async)
                .event_types([EventKind::CacheMiss, EventKind::ClientEvent]),
        );
        let events = vec![
            Event::cache_miss("cache-a"),
            crate::input::parse_event(
                r#"{"name":"client_event","channel":"c","event":"client-x","data":{"s":"\ud800 é"}}"#,
            )
            .expect("event"),
        ];
        let request = Request::build(&app, 0, events, 7, &user_agent(1)).expect("request");
        let failure = Failure::new(FailureKind::Timeout, "no answer", None, 3);
        let report = DeliveryReport::new(request.clone(), Outcome::Failed(failure));
        let line = DeadLetter::from_report(&report)
            .expect("failed")
            .to_json_line();
        (app, request, line)
    }

    #[test]
    fn a_line_gives_back_the_same_request_byte_for_byte() {
        for is_async in [false, true] {
            let (app, request, line) = letter(is_async);
            assert!(!line.contains('\n'), "{line}");
            assert!(
                line.contains(r#""payload":{"time_ms":7,"#),
                "stored as JSON: {line}"
            );
            let back = DeadLetter::from_json_line(&line).expect("reads");
            assert_eq!(back.to_request(&[app], &Replay::new()), Ok(request.clone()));
            let unconfigured = Replay::new().unconfigured_targets(true);
            assert_eq!(
                back.to_request(&[], &unconfigured).expect("allowed").body,
                request.body,
                "no app needed when allowed"
            );
        }
    }

    #[test]
    fn an_unknown_invocation_type_is_an_error_not_request_response() {
        let (_, _, line) = letter(true);
        assert!(line.contains(r#""invocation_type":"Event""#), "{line}");
        let bad = line.replace(
            r#""invocation_type":"Event""#,
            r#""invocation_type":"event""#,
        );
        let error = DeadLetter::from_json_line(&bad).expect_err("unknown mode");
        assert!(matches!(error, DeadLetterError::Json(_)), "{error:?}");
        assert!(
            error.to_string().contains("unknown variant `event`"),
            "{error}"
        );
        let missing = line.replace(r#""invocation_type":"Event","#, "");
        assert!(DeadLetter::from_json_line(&missing).is_err());
    }

    #[test]
    fn a_malformed_payload_is_an_error_not_an_empty_request() {
        let (_, _, line) = letter(false);
        let bad = line.replace(
            r#"{"name":"cache_miss","channel":"cache-a"}"#,
            r#"{"name":"cache_miss"}"#,
        );
        assert_ne!(bad, line);
        assert!(matches!(
            DeadLetter::from_json_line(&bad),
            Err(DeadLetterError::Event { index: 0, .. })
        ));
    }

    #[test]
    fn a_line_of_another_version_says_so() {
        let (_, _, line) = letter(false);
        let error = DeadLetter::from_json_line(&line.replace(r#"{"v":2,"#, r#"{"v":3,"#))
            .expect_err("version 3");
        assert!(matches!(error, DeadLetterError::Version(3)), "{error:?}");
        assert!(error.to_string().contains("version 3"), "{error}");
        let old = line.replace(r#"{"v":2,"#, "{");
        assert!(DeadLetter::from_json_line(&old).is_ok(), "version 1");
    }
}
