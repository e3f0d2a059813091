//! One signed request: everything needed to send it, or to send it again later.

use std::fmt;

use soketi_handler_kit::wire::Event;

use crate::config::Target;
use crate::redact;

/// One signed request for one webhook: everything needed to send it, or to send it again
/// later (the body is final; resending it needs no secret). Built and signed by
/// [`Request::build`], [`plan`](super::plan) and [`split_request`](super::split_request).
///
/// `Debug` shows no secret: the target's credentials, its URL's password and the values of
/// credential headers are hidden (see [`crate::redact`]), and the body (a Lambda
/// envelope holds the headers) is shown by its length only.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// The app's id.
    pub app_id: String,
    /// The app's key (`X-Pusher-Key`).
    pub app_key: String,
    /// The index of the webhook in the app's `webhooks`.
    pub webhook: usize,
    /// Where it goes.
    pub target: Target,
    /// The payload's `time_ms`.
    pub time_ms: u64,
    /// The events it carries, in order.
    pub events: Vec<Event>,
    /// The signed payload bytes `{"time_ms":…,"events":[…]}`, exactly as signed: the whole
    /// body of an HTTP request, the `payload` of a Lambda envelope.
    pub payload: String,
    /// The headers, in soketi's order (the envelope's `headers` for Lambda, real HTTP headers
    /// for `url` webhooks).
    pub headers: Vec<(String, String)>,
    /// The exact bytes sent: the Lambda envelope `{"payload":…,"headers":…}`, or for HTTP the
    /// payload itself (see [`Target::body`]).
    pub body: String,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("app_id", &self.app_id)
            .field("app_key", &self.app_key)
            .field("webhook", &self.webhook)
            .field("target", &self.target)
            .field("time_ms", &self.time_ms)
            .field("events", &self.events)
            .field("payload", &self.payload)
            .field("headers", &redact::Headers(&self.headers))
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl Request {
    /// A request from its signed parts (a new one, or what a dead letter kept of one): the
    /// body is written from the payload and headers as the target wants it.
    #[allow(clippy::too_many_arguments)] // crate-private: every part of a request, spelled out
    pub(crate) fn from_parts(
        app_id: &str,
        app_key: &str,
        webhook: usize,
        target: Target,
        time_ms: u64,
        events: Vec<Event>,
        payload: String,
        headers: Vec<(String, String)>,
    ) -> Self {
        let body = target.body(&payload, &headers);
        Request {
            app_id: app_id.to_owned(),
            app_key: app_key.to_owned(),
            webhook,
            target,
            time_ms,
            events,
            payload,
            headers,
            body,
        }
    }

    /// The value of header `name` (ASCII case ignored).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
