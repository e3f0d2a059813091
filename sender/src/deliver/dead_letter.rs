//! Dead letters: a failed delivery as one JSON line, and the request to send it again.
//!
//! A line holds the signed payload exactly as it was signed (a JSON value, byte for byte),
//! the headers in order, where the request was going and why it failed:
//!
//! ```text
//! {"app_id":"1","app_key":"k","webhook":0,
//!  "target":{"type":"lambda","function":"f","invocation_type":"Event","region":"eu-west-1","endpoint":null},
//!  "time_ms":1,"events":["cache_miss"],"headers":[["Accept","application/json"],…],
//!  "payload":{"time_ms":1,"events":[{"name":"cache_miss","channel":"cache-a"}]},
//!  "failure":{"kind":"Timeout","message":"no answer","status":null,"attempts":3}}
//! ```
//!
//! (one line in the file). `events` lists the event names for people reading the file; the
//! events themselves are read from `payload`. The body sent again is rebuilt from `payload`
//! and `headers` by the kit's [`wire`](soketi_handler_kit::wire) writer, which is how it was
//! built the first time: the same bytes, the same signature, no secret needed.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use soketi_handler_kit::wire::{Event, EventDecodeError, PayloadError, ReceivedPayload};

use crate::config::{App, HttpTarget, InvocationMode, LambdaTarget, Target};
use crate::deliver::{DeliveryReport, Failure};
use crate::route::Request;

/// A failed delivery, to be stored as one JSON line and sent again later: the signed payload
/// and headers, where they were going and why they did not get there. No secret is stored (not
/// the app secret, not AWS credentials).
///
/// ```
/// use soketi_handler_kit::wire::{headers::user_agent, Event, EventKind};
/// use soketi_lambda_sender::config::{App, Webhook};
/// use soketi_lambda_sender::deliver::{DeadLetter, DeliveryReport, Failure, FailureKind, Outcome};
/// use soketi_lambda_sender::route::Request;
///
/// let app = App::new("1", "k", "s")
///     .webhook(Webhook::lambda("f").region("eu-west-1").event_types([EventKind::CacheMiss]));
/// let request = Request::build(&app, 0, vec![Event::cache_miss("cache-a")], 1, &user_agent(1)).unwrap();
/// let failure = Failure::new(FailureKind::Timeout, "no answer", None, 3);
/// let line = DeadLetter::from_report(&DeliveryReport::new(request.clone(), Outcome::Failed(failure)))
///     .unwrap()
///     .to_json_line();
/// let back = DeadLetter::from_json_line(&line)?;
/// assert_eq!(back.to_request(&[app]), request);
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
    /// Where it was going.
    pub target: DeadLetterTarget,
    /// The payload's `time_ms`.
    pub time_ms: u64,
    /// The events it carries, in order.
    pub events: Vec<Event>,
    /// The headers, in order (`X-Pusher-Key` and `X-Pusher-Signature` included).
    pub headers: Vec<(String, String)>,
    /// The signed payload bytes, exactly as signed.
    pub payload: String,
    /// Why it failed.
    pub failure: Failure,
}

/// Where a dead letter was going (credentials are not stored; see [`DeadLetter::to_request`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadLetterTarget {
    /// A Lambda function.
    Lambda {
        /// Name or ARN.
        function: String,
        /// `RequestResponse` or `Event` (`invocation_type` in the file; any other value is an
        /// error when the line is read).
        #[serde(rename = "invocation_type")]
        mode: InvocationMode,
        /// The region.
        region: Option<String>,
        /// The endpoint, if not AWS's.
        endpoint: Option<String>,
    },
    /// An HTTP URL.
    Http {
        /// The URL.
        url: String,
    },
}

/// Why a line is not a dead letter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeadLetterError {
    /// Not JSON, or a field is missing or has the wrong type or value (an unknown
    /// `invocation_type`, say).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
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

/// The line as written.
#[derive(Serialize)]
struct LineOut<'a> {
    app_id: &'a str,
    app_key: &'a str,
    webhook: usize,
    target: &'a DeadLetterTarget,
    time_ms: u64,
    events: Vec<&'a str>,
    headers: &'a [(String, String)],
    payload: &'a RawValue,
    failure: &'a Failure,
}

/// The line as read (`events`, the names for people, is not read back).
#[derive(Deserialize)]
struct LineIn<'a> {
    app_id: String,
    app_key: String,
    webhook: usize,
    target: DeadLetterTarget,
    time_ms: u64,
    headers: Vec<(String, String)>,
    #[serde(borrow)]
    payload: &'a RawValue,
    failure: Failure,
}

impl DeadLetter {
    /// The dead letter of a failed delivery (`None` if it was delivered).
    pub fn from_report(report: &DeliveryReport) -> Option<Self> {
        let failure = report.failure()?.clone();
        let r = &report.request;
        let target = match &r.target {
            Target::Http(http) => DeadLetterTarget::Http {
                url: http.url.clone(),
            },
            Target::Lambda(l) => DeadLetterTarget::Lambda {
                function: l.function.clone(),
                mode: l.mode,
                region: l.region.clone(),
                endpoint: l.endpoint.clone(),
            },
        };
        Some(DeadLetter {
            app_id: r.app_id.clone(),
            app_key: r.app_key.clone(),
            webhook: r.webhook,
            target,
            time_ms: r.time_ms,
            events: r.events.clone(),
            headers: r.headers.clone(),
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

    /// Reads one line. The events are decoded from its `payload`; an unknown invocation type,
    /// a payload that is not one or a malformed event is an error.
    pub fn from_json_line(line: &str) -> Result<Self, DeadLetterError> {
        let line: LineIn<'_> = serde_json::from_str(line)?;
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

    /// The request to send again, byte for byte. When `apps` holds the app (same id) with a
    /// Lambda webhook at the same index for the same function, its credentials and endpoint
    /// are used; otherwise the AWS default credential chain.
    pub fn to_request(&self, apps: &[App]) -> Request {
        let configured = apps
            .iter()
            .find(|a| a.id == self.app_id)
            .and_then(|a| a.webhooks.get(self.webhook))
            .map(|w| &w.target);
        let target = match &self.target {
            DeadLetterTarget::Http { url } => Target::Http(HttpTarget::new(url.clone())),
            DeadLetterTarget::Lambda {
                function,
                mode,
                region,
                endpoint,
            } => {
                let mut target = match configured {
                    Some(Target::Lambda(l)) if &l.function == function => l.clone(),
                    _ => LambdaTarget::new(function.clone()),
                };
                target.mode = *mode;
                if region.is_some() {
                    target.region = region.clone();
                }
                if endpoint.is_some() {
                    target.endpoint = endpoint.clone();
                }
                Target::Lambda(target)
            }
        };
        Request::from_parts(
            &self.app_id,
            &self.app_key,
            self.webhook,
            target,
            self.time_ms,
            self.events.clone(),
            self.payload.clone(),
            self.headers.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::EventKind;
    use soketi_handler_kit::wire::headers::user_agent;

    use super::*;
    use crate::config::Webhook;
    use crate::deliver::{FailureKind, Outcome};

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
            assert_eq!(back.to_request(&[app]), request);
            assert_eq!(back.to_request(&[]).body, request.body, "no app needed");
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
}
