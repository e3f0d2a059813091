//! Dead letters: a failed delivery as one JSON line, and the request to send it again.

use serde::{Deserialize, Serialize};
use soketi_handler_kit::wire::{Event, ReceivedPayload};

use crate::config::{App, HttpTarget, InvocationMode, LambdaTarget, Target};
use crate::deliver::{DeliveryReport, Failure};
use crate::route::Request;

/// A failed delivery as one JSON line: the exact body and headers, where they were going and
/// why they did not get there. No secret is stored (not the app secret, not AWS credentials).
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
/// assert_eq!(back.to_request(&[app]).body, request.body);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// The names of the events it carries, for people reading the file.
    pub events: Vec<String>,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The exact body.
    pub body: String,
    /// Why it failed.
    pub failure: Failure,
}

/// Where a dead letter was going (credentials are not stored; see [`DeadLetter::to_request`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadLetterTarget {
    /// A Lambda function.
    Lambda {
        /// Name or ARN.
        function: String,
        /// `RequestResponse` or `Event`.
        invocation_type: String,
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
                invocation_type: l.mode.as_str().to_owned(),
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
            events: r.events.iter().map(|e| e.name().to_owned()).collect(),
            headers: r.headers.clone(),
            body: r.body.clone(),
            failure,
        })
    }

    /// One line of JSON (no newline).
    pub fn to_json_line(&self) -> String {
        // Strings, integers and plain structs only: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads one line.
    pub fn from_json_line(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line)
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
                invocation_type,
                region,
                endpoint,
            } => {
                let mut target = match configured {
                    Some(Target::Lambda(l)) if &l.function == function => l.clone(),
                    _ => LambdaTarget::new(function.clone()),
                };
                target.mode = if invocation_type == InvocationMode::Event.as_str() {
                    InvocationMode::Event
                } else {
                    InvocationMode::RequestResponse
                };
                if region.is_some() {
                    target.region = region.clone();
                }
                if endpoint.is_some() {
                    target.endpoint = endpoint.clone();
                }
                Target::Lambda(target)
            }
        };
        let events = self.decode_events();
        Request {
            app_id: self.app_id.clone(),
            app_key: self.app_key.clone(),
            webhook: self.webhook,
            target,
            time_ms: self.time_ms,
            events,
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    fn decode_events(&self) -> Vec<Event> {
        let payload = match &self.target {
            DeadLetterTarget::Http { .. } => Some(self.body.as_str()),
            DeadLetterTarget::Lambda { .. } => {
                soketi_handler_kit::wire::Envelope::parse(self.body.as_bytes())
                    .ok()
                    .map(|e| e.payload_json())
            }
        };
        payload
            .and_then(|p| ReceivedPayload::parse(p).ok())
            .map(|p| p.events().filter_map(Result::ok).collect())
            .unwrap_or_default()
    }
}
