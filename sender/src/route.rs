//! Routing and batching: pure functions from events to signed requests.
//!
//! Unlike soketi (SPEC §6), each webhook receives **only** the events that match its
//! `event_types` and `filter`, in a payload signed over exactly what it receives; batches are
//! per app, so every payload is signed with its own app's secret; and a webhook's events are
//! split over several requests when one would exceed Lambda's request size limit.
//!
//! ```
//! use soketi_handler_kit::wire::{Event, EventKind};
//! use soketi_lambda_sender::config::{App, Filter, Webhook};
//! use soketi_lambda_sender::route::{plan, Limits};
//!
//! let app = App::new("1", "app1key", "app1secret")
//!     .webhook(Webhook::lambda("presence-fn").region("eu-west-1")
//!         .event_types([EventKind::MemberAdded]))
//!     .webhook(Webhook::http("http://127.0.0.1:8080/hook")
//!         .event_types([EventKind::ChannelOccupied])
//!         .filter(Filter::new("private-", "")));
//! let events = [
//!     Event::channel_occupied("private-a"),
//!     Event::member_added("presence-r", "u1"),
//!     Event::channel_occupied("public-b"),
//! ];
//! let plan = plan(&app, 1_700_000_000_000, 42, &events, &Limits::default());
//! assert_eq!(plan.requests.len(), 2);
//! assert_eq!(plan.requests[0].events, [Event::member_added("presence-r", "u1")]);
//! assert_eq!(plan.requests[1].events, [Event::channel_occupied("private-a")]);
//! assert_eq!(plan.unrouted, [Event::channel_occupied("public-b")]);
//! ```

use std::fmt;
use std::time::Duration;

use soketi_handler_kit::wire::headers::{X_PUSHER_SIGNATURE, user_agent};
use soketi_handler_kit::wire::write_lambda_body;
use soketi_handler_kit::wire::{Event, Payload, SignedPayload};

use crate::config::{App, InvocationMode, Target};
use crate::redact;

/// Lambda's request size limit for `RequestResponse` invocations: 6 MB.
pub const LAMBDA_REQUEST_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;
/// Lambda's request size limit for `Event` (asynchronous) invocations: 1 MB.
pub const LAMBDA_EVENT_LIMIT: usize = 1024 * 1024;

/// The default limit for HTTP webhook bodies: 6 MB, what a Lambda Function URL or an API
/// Gateway in front of a function can take.
pub const HTTP_DEFAULT_LIMIT: usize = 6 * 1024 * 1024;

/// The largest request body each transport may carry. Requests are split to stay within them;
/// a single event too large for any request is reported as failed, never sent or dropped.
/// Limits are checked before sending; an endpoint that still answers 413 (or Lambda's
/// `RequestTooLargeException`) gets the request again in two halves (see [`split_request`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// `RequestResponse` Lambda invocations (default [`LAMBDA_REQUEST_RESPONSE_LIMIT`]).
    pub request_response_bytes: usize,
    /// `Event` Lambda invocations (default [`LAMBDA_EVENT_LIMIT`]).
    pub event_bytes: usize,
    /// HTTP webhook bodies (default [`HTTP_DEFAULT_LIMIT`]; soketi has none). Lower it for a
    /// server with a smaller limit (nginx's default `client_max_body_size` is 1 MiB).
    pub http_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_response_bytes: LAMBDA_REQUEST_RESPONSE_LIMIT,
            event_bytes: LAMBDA_EVENT_LIMIT,
            http_bytes: HTTP_DEFAULT_LIMIT,
        }
    }
}

impl Limits {
    /// Sets the `RequestResponse` limit.
    pub fn request_response_bytes(mut self, bytes: usize) -> Self {
        self.request_response_bytes = bytes;
        self
    }

    /// Sets the `Event` limit.
    pub fn event_bytes(mut self, bytes: usize) -> Self {
        self.event_bytes = bytes;
        self
    }

    /// Sets the HTTP limit.
    pub fn http_bytes(mut self, bytes: usize) -> Self {
        self.http_bytes = bytes;
        self
    }

    /// The limit that applies to requests for `target`.
    pub fn for_target(&self, target: &Target) -> usize {
        match target {
            Target::Http(_) => self.http_bytes,
            Target::Lambda(l) => match l.mode {
                InvocationMode::RequestResponse => self.request_response_bytes,
                InvocationMode::Event => self.event_bytes,
            },
        }
    }
}

/// One signed request for one webhook: everything needed to send it, or to send it again
/// later (the body is final; resending it needs no secret).
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
    /// payload itself.
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
    /// The request soketi would send to webhook number `webhook` of `app` for exactly these
    /// `events` (no filtering, no splitting), stamped `time_ms`, with `user_agent` (see
    /// [`user_agent`]). `None` when the app has no such webhook.
    ///
    /// ```
    /// use soketi_handler_kit::wire::{headers::user_agent, Event, EventKind};
    /// use soketi_lambda_sender::config::{App, Webhook};
    /// use soketi_lambda_sender::route::Request;
    /// let app = App::new("1", "app1key", "app1secret")
    ///     .webhook(Webhook::lambda("my-function").region("us-east-1").event_types([EventKind::ChannelOccupied]));
    /// let request = Request::build(&app, 0, vec![Event::channel_occupied("public-chan")],
    ///     1795877256368, &user_agent(26548)).unwrap();
    /// let recorded = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"),
    ///     "/../handler-kit/tests/vectors/soketi-1.6.1/001.json"))?;
    /// assert_eq!(request.body, recorded);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(
        app: &App,
        webhook: usize,
        events: Vec<Event>,
        time_ms: u64,
        user_agent: &str,
    ) -> Option<Self> {
        let config = app.webhooks.get(webhook)?;
        let signed = Payload::new(time_ms, events.clone()).sign(&app.key, &app.secret);
        Some(Request::from_signed(
            &app.id,
            webhook,
            &config.target,
            events,
            time_ms,
            &signed,
            user_agent,
            &config.headers,
        ))
    }

    #[allow(clippy::too_many_arguments)] // private: every part of a request, spelled out
    fn from_signed(
        app_id: &str,
        webhook: usize,
        target: &Target,
        events: Vec<Event>,
        time_ms: u64,
        signed: &SignedPayload,
        user_agent: &str,
        custom_headers: &[(String, String)],
    ) -> Self {
        Request::from_parts(
            app_id,
            signed.app_key(),
            webhook,
            target.clone(),
            time_ms,
            events,
            signed.json().to_owned(),
            signed.headers(user_agent, custom_headers),
        )
    }

    /// A request from what was kept of it (a dead letter): the body is written from the
    /// payload and headers, by the kit's writer, as when it was first built.
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
        let body = match target {
            Target::Http(_) => payload.clone(),
            Target::Lambda(_) => write_lambda_body(&payload, &headers),
        };
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

/// The two halves of a request the endpoint refused as too large, each signed again with
/// `app`'s secret (same target, `time_ms` and headers; a new signature): the first half of
/// the events, then the rest. `None` when the request holds fewer than two events, or when
/// `app` is not the app it was signed for (its secret is needed).
///
/// ```
/// use soketi_handler_kit::wire::{headers::user_agent, Event, EventKind};
/// use soketi_handler_kit::{Keyring, Verifier};
/// use soketi_lambda_sender::config::{App, Webhook};
/// use soketi_lambda_sender::route::{split_request, Request};
/// let app = App::new("1", "app1key", "app1secret")
///     .webhook(Webhook::lambda("f").region("us-east-1").event_types([EventKind::ChannelOccupied]));
/// let events: Vec<Event> = (0..3).map(|i| Event::channel_occupied(format!("c{i}"))).collect();
/// let whole = Request::build(&app, 0, events.clone(), 7, &user_agent(1)).unwrap();
/// let (a, b) = split_request(&app, &whole).unwrap();
/// assert_eq!((a.events.len(), b.events.len()), (1, 2));
/// let verifier = Verifier::new(Keyring::new().app("app1key", "app1secret"));
/// for half in [&a, &b] {
///     verifier.verify_lambda_body(half.body.as_bytes()).unwrap();
/// }
/// assert!(split_request(&app, &a).is_none()); // one event: nothing to split
/// ```
pub fn split_request(app: &App, request: &Request) -> Option<(Request, Request)> {
    if request.events.len() < 2 || app.id != request.app_id || app.key != request.app_key {
        return None;
    }
    let middle = request.events.len() / 2;
    let half = |events: &[Event]| {
        let signed = Payload::new(request.time_ms, events.to_vec()).sign(&app.key, &app.secret);
        let signature = signed.signature().to_string();
        let headers = request
            .headers
            .iter()
            .map(|(name, value)| {
                if name.eq_ignore_ascii_case(X_PUSHER_SIGNATURE) {
                    (name.clone(), signature.clone())
                } else {
                    (name.clone(), value.clone())
                }
            })
            .collect();
        Request::from_parts(
            &request.app_id,
            &request.app_key,
            request.webhook,
            request.target.clone(),
            request.time_ms,
            events.to_vec(),
            signed.json().to_owned(),
            headers,
        )
    };
    Some((
        half(&request.events[..middle]),
        half(&request.events[middle..]),
    ))
}

/// The requests for one batch of one app's events.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Plan {
    /// The requests, grouped by webhook in configuration order, events in their given order.
    pub requests: Vec<Request>,
    /// Events no webhook wants (unknown names included). Nothing is sent for them; soketi
    /// would not have sent them either.
    pub unrouted: Vec<Event>,
}

/// The serialized length of each event, as it appears in a payload.
fn event_lengths(events: &[&Event]) -> Vec<usize> {
    events.iter().map(|e| e.to_json().len()).collect()
}

/// Builds the signed requests for `events` of `app`, stamped `time_ms`, with `process_id` in
/// the `User-Agent` (soketi sends its own pid).
///
/// Each webhook gets its own matching events, split greedily, in order, so that each request
/// body stays within `limits`. An event that alone exceeds the limit gets a request of its own,
/// which the sender reports as too large instead of sending.
pub fn plan(app: &App, time_ms: u64, process_id: u32, events: &[Event], limits: &Limits) -> Plan {
    let ua = user_agent(process_id);
    let mut requests = Vec::new();
    for (index, webhook) in app.webhooks.iter().enumerate() {
        let mine: Vec<&Event> = events.iter().filter(|e| webhook.matches(e)).collect();
        if mine.is_empty() {
            continue;
        }
        let limit = limits.for_target(&webhook.target);
        let build = |chunk: Vec<Event>| {
            let signed = Payload::new(time_ms, chunk.clone()).sign(&app.key, &app.secret);
            Request::from_signed(
                &app.id,
                index,
                &webhook.target,
                chunk,
                time_ms,
                &signed,
                &ua,
                &webhook.headers,
            )
        };
        // The body of an empty payload is the fixed part; each event adds its length, and
        // every event after the first a comma.
        let overhead = build(Vec::new()).body.len();
        let lengths = event_lengths(&mine);
        let mut chunk: Vec<Event> = Vec::new();
        let mut size = overhead;
        for (event, len) in mine.into_iter().zip(lengths) {
            let added = len + usize::from(!chunk.is_empty());
            if !chunk.is_empty() && size.saturating_add(added) > limit {
                requests.push(build(std::mem::take(&mut chunk)));
                size = overhead;
                chunk.push(event.clone());
                size = size.saturating_add(len);
            } else {
                chunk.push(event.clone());
                size = size.saturating_add(added);
            }
        }
        if !chunk.is_empty() {
            requests.push(build(chunk));
        }
    }
    let unrouted = events
        .iter()
        .filter(|e| !app.webhooks.iter().any(|w| w.matches(e)))
        .cloned()
        .collect();
    Plan { requests, unrouted }
}

/// When an app's batch is sent: after `window` from its first event, or as soon as it holds
/// `max_events` events or `max_bytes` bytes of serialized events, whichever comes first.
/// `max_bytes` triggers a send; the hard per-request limits are [`Limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchLimits {
    /// How long the first event of a batch may wait for others (soketi's default: 50 ms).
    pub window: Duration,
    /// The most events in one batch.
    pub max_events: usize,
    /// The most serialized event bytes in one batch.
    pub max_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            window: Duration::from_millis(50),
            max_events: 100,
            max_bytes: 1024 * 1024,
        }
    }
}

impl BatchLimits {
    /// Limits from their parts (`max_events` and `max_bytes` of 0 are treated as 1).
    pub fn new(window: Duration, max_events: usize, max_bytes: usize) -> Self {
        BatchLimits {
            window,
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(1),
        }
    }
}

/// An app's batch being filled.
///
/// ```
/// use std::time::Duration;
/// use soketi_handler_kit::wire::Event;
/// use soketi_lambda_sender::route::{Batch, BatchLimits};
/// let limits = BatchLimits::new(Duration::from_millis(50), 2, 1 << 20);
/// let mut batch = Batch::default();
/// assert!(!batch.push(Event::channel_occupied("a"), &limits));
/// assert!(batch.push(Event::channel_vacated("a"), &limits)); // full: send it now
/// assert_eq!(batch.take().len(), 2);
/// assert!(batch.is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Batch {
    events: Vec<Event>,
    bytes: usize,
}

impl Batch {
    /// Adds `event`; returns whether the batch is now full and should be sent.
    pub fn push(&mut self, event: Event, limits: &BatchLimits) -> bool {
        self.bytes = self.bytes.saturating_add(event_lengths(&[&event])[0] + 1);
        self.events.push(event);
        self.events.len() >= limits.max_events || self.bytes >= limits.max_bytes
    }

    /// Takes the events out, leaving the batch empty.
    pub fn take(&mut self) -> Vec<Event> {
        self.bytes = 0;
        std::mem::take(&mut self.events)
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Filter, Webhook};
    use soketi_handler_kit::wire::{ClientData, ClientEvent, EventKind};
    use soketi_handler_kit::{Keyring, Verifier};

    fn all_kinds() -> Vec<EventKind> {
        EventKind::ALL.to_vec()
    }

    fn chat(channel: &str, text_len: usize) -> Event {
        ClientEvent::new(channel, "client-msg")
            .with_data(ClientData::string(&"x".repeat(text_len)))
            .into()
    }

    #[test]
    fn each_webhook_gets_exactly_its_events_signed_over_what_it_receives() {
        let app = App::new("1", "k", "s")
            .webhook(Webhook::lambda("all").region("r").event_types(all_kinds()))
            .webhook(
                Webhook::lambda("presence")
                    .region("r")
                    .event_types([EventKind::MemberAdded, EventKind::MemberRemoved])
                    .filter(Filter::new("presence-", "")),
            )
            .webhook(
                Webhook::http("http://127.0.0.1:1/")
                    .event_types([EventKind::ChannelOccupied])
                    .filter(Filter::new("", "-vip")),
            );
        let events = vec![
            Event::channel_occupied("room-vip"),
            Event::member_added("presence-a", "u1"),
            Event::member_added("private-a", "u2"),
            Event::channel_occupied("room-VIP"),
            Event::member_removed("presence-a", 7u64),
        ];
        let plan = plan(&app, 5, 1, &events, &Limits::default());
        let got: Vec<(usize, Vec<Event>)> = plan
            .requests
            .iter()
            .map(|r| (r.webhook, r.events.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, events.clone()),
                (1, vec![events[1].clone(), events[4].clone()]),
                (2, vec![events[0].clone()]),
            ]
        );
        assert!(plan.unrouted.is_empty());
        let verifier = Verifier::new(Keyring::new().app("k", "s"));
        for r in &plan.requests {
            let payload = &r.payload;
            let v = verifier
                .verify_parts(
                    payload.as_bytes(),
                    r.header("X-Pusher-Key"),
                    r.header("x-pusher-signature"),
                )
                .expect("verifies");
            let names: Vec<String> = v
                .payload()
                .events()
                .map(|e| e.expect("event").name().to_owned())
                .collect();
            let expected: Vec<&str> = r.events.iter().map(Event::name).collect();
            assert_eq!(names, expected);
            if matches!(r.target, Target::Lambda(_)) {
                verifier
                    .verify_lambda_body(r.body.as_bytes())
                    .expect("envelope verifies");
            }
        }
    }

    #[test]
    fn requests_are_split_under_the_limit_in_order_and_nothing_is_lost() {
        let app = App::new("1", "k", "s")
            .webhook(Webhook::lambda("sync").region("r").event_types(all_kinds()))
            .webhook(
                Webhook::lambda("async")
                    .region("r")
                    .async_invocation(true)
                    .event_types(all_kinds()),
            );
        let events: Vec<Event> = (0..40).map(|i| chat("private-c", 50 + i * 7)).collect();
        let limits = Limits::default()
            .request_response_bytes(2_000)
            .event_bytes(1_000);
        let plan = plan(&app, 1, 1, &events, &limits);
        for (webhook, limit) in [(0, 2_000), (1, 1_000)] {
            let mine: Vec<&Request> = plan
                .requests
                .iter()
                .filter(|r| r.webhook == webhook)
                .collect();
            assert!(mine.len() > 2, "split into several requests");
            for r in &mine {
                assert!(r.body.len() <= limit, "{} > {limit}", r.body.len());
            }
            // Greedy: adding the next request's first event would have overflowed.
            for pair in mine.windows(2) {
                let mut grown = pair[0].events.clone();
                grown.push(pair[1].events[0].clone());
                let body = Payload::new(1, grown)
                    .sign("k", &app.secret)
                    .lambda_body::<&str, &str>(&user_agent(1), &[]);
                assert!(body.len() > limit);
            }
            let sent: Vec<Event> = mine.iter().flat_map(|r| r.events.clone()).collect();
            assert_eq!(sent, events);
        }
    }

    #[test]
    fn http_webhooks_have_a_size_limit_and_are_split_under_it() {
        let hook = Webhook::http("http://127.0.0.1:1/").event_types(all_kinds());
        let app = App::new("1", "k", "s").webhook(hook.clone());
        assert_eq!(
            Limits::default().for_target(&hook.target),
            HTTP_DEFAULT_LIMIT,
            "no longer unlimited"
        );
        let events: Vec<Event> = (0..30).map(|i| chat("private-c", 40 + i)).collect();
        let plan = plan(&app, 1, 1, &events, &Limits::default().http_bytes(600));
        assert!(plan.requests.len() > 3);
        assert!(plan.requests.iter().all(|r| r.body.len() <= 600));
        let sent: Vec<Event> = plan
            .requests
            .iter()
            .flat_map(|r| r.events.clone())
            .collect();
        assert_eq!(sent, events);
    }

    #[test]
    fn an_event_too_large_alone_gets_its_own_request() {
        let app = App::new("1", "k", "s")
            .webhook(Webhook::lambda("f").region("r").event_types(all_kinds()));
        let events = vec![chat("c", 10), chat("c", 5_000), chat("c", 10)];
        let plan = plan(
            &app,
            1,
            1,
            &events,
            &Limits::default().request_response_bytes(1_000),
        );
        let sizes: Vec<usize> = plan.requests.iter().map(|r| r.events.len()).collect();
        assert_eq!(sizes, [1, 1, 1]);
        assert!(plan.requests[1].body.len() > 1_000);
    }

    #[test]
    fn exact_fit_is_not_split() {
        let app = App::new("1", "k", "s")
            .webhook(Webhook::lambda("f").region("r").event_types(all_kinds()));
        let events = vec![chat("c", 10), chat("c", 20)];
        let whole = plan(&app, 1, 1, &events, &Limits::default());
        let exact = whole.requests[0].body.len();
        let fits = plan(
            &app,
            1,
            1,
            &events,
            &Limits::default().request_response_bytes(exact),
        );
        assert_eq!(fits.requests.len(), 1);
        assert_eq!(fits.requests[0].body, whole.requests[0].body);
        let split = plan(
            &app,
            1,
            1,
            &events,
            &Limits::default().request_response_bytes(exact - 1),
        );
        assert_eq!(split.requests.len(), 2);
    }

    #[test]
    fn unknown_and_unwanted_events_are_unrouted() {
        let app = App::new("1", "k", "s").webhook(
            Webhook::http("http://127.0.0.1:1/").event_types([EventKind::ChannelOccupied]),
        );
        let unknown =
            crate::input::parse_event(r#"{"name":"future","channel":"c"}"#).expect("event");
        let events = vec![unknown.clone(), Event::channel_vacated("c")];
        let plan = plan(&app, 1, 1, &events, &Limits::default());
        assert!(plan.requests.is_empty());
        assert_eq!(plan.unrouted, events);
    }

    #[test]
    fn batch_fills_by_count_or_bytes() {
        let by_bytes = BatchLimits::new(Duration::from_secs(1), 1_000, 200);
        let mut batch = Batch::default();
        let mut pushes = 0;
        while !batch.push(chat("c", 30), &by_bytes) {
            pushes += 1;
            assert!(pushes < 10, "byte limit never reached");
        }
        assert!(batch.len() >= 2);
        assert_eq!(batch.take().len(), pushes + 1);
        assert!(!batch.push(chat("c", 1), &by_bytes), "bytes reset by take");
    }
}
