//! Which webhook gets which events: [`plan`], split under the size limits, and the halves of a
//! request refused as too large ([`split_request`]).

use soketi_handler_kit::wire::headers::user_agent;
use soketi_handler_kit::wire::{DEFAULT_MAX_EVENTS, Event};

use super::limits::Limits;
use super::request::Request;
use super::sign::{Signer, WrittenEvents};
use crate::config::App;

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
    let (count, half) = (request.events.len(), request.events.len() / 2);
    Some((
        request.signed_again(app, 0, half, request.time_ms),
        request.signed_again(app, half, count, request.time_ms),
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

/// Builds the signed requests for `events` of `app`, stamped `time_ms`, with `process_id` in
/// the `User-Agent` (soketi sends its own pid).
///
/// Each webhook gets its own matching events, split greedily, in order, so that each request
/// body stays within `limits`. An event that alone exceeds the limit gets a request of its own,
/// which the sender reports as too large instead of sending.
pub fn plan(app: &App, time_ms: u64, process_id: u32, events: &[Event], limits: &Limits) -> Plan {
    plan_written(
        app,
        time_ms,
        process_id,
        events,
        &WrittenEvents::of(events),
        limits,
    )
}

/// [`plan`], for `events` already written in `written` (in the same order).
pub(crate) fn plan_written(
    app: &App,
    time_ms: u64,
    process_id: u32,
    events: &[Event],
    written: &WrittenEvents,
    limits: &Limits,
) -> Plan {
    plan_indexed(app, time_ms, process_id, events, written, limits).0
}

/// [`plan_written`], and for each request the numbers of the events it carries (positions in
/// `events`), in order: what the queue path maps back to its jobs.
pub(crate) fn plan_indexed(
    app: &App,
    time_ms: u64,
    process_id: u32,
    events: &[Event],
    written: &WrittenEvents,
    limits: &Limits,
) -> (Plan, Vec<Vec<usize>>) {
    let ua = user_agent(process_id);
    let signer = Signer::new(app, time_ms);
    let mut routed = vec![false; events.len()];
    let mut requests = Vec::new();
    let mut carried = Vec::new();
    for (index, webhook) in app.webhooks.iter().enumerate() {
        let mine: Vec<usize> = (0..events.len())
            .filter(|&i| webhook.matches(&events[i]))
            .collect();
        if mine.is_empty() {
            continue;
        }
        for &i in &mine {
            routed[i] = true;
        }
        let limit = limits.for_target(&webhook.target);
        let overhead = signer.overhead(webhook, &ua, written.has_jobs());
        for chunk in chunks(&mine, written, overhead, limit) {
            let events = chunk.iter().map(|&i| events[i].clone()).collect();
            requests.push(signer.request(index, webhook, events, written, chunk, &ua));
            carried.push(chunk.to_vec());
        }
    }
    let unrouted = events
        .iter()
        .zip(routed)
        .filter(|(_, routed)| !routed)
        .map(|(event, _)| event.clone())
        .collect();
    (Plan { requests, unrouted }, carried)
}

/// The events `mine` (numbers of events in `written`) cut greedily, in order, so that each
/// request's body (`overhead`, each event's size, less the commas of the first) stays within
/// `limit` and holds at most the kit's [`DEFAULT_MAX_EVENTS`] (what a receiver takes by
/// default); an event too large alone is a chunk of its own.
fn chunks<'m>(
    mine: &'m [usize],
    written: &WrittenEvents,
    overhead: usize,
    limit: usize,
) -> Vec<&'m [usize]> {
    let mut chunks = Vec::new();
    let commas = written.commas();
    let (mut start, mut size) = (0, overhead);
    for (at, &event) in mine.iter().enumerate() {
        let len = written.size(event) - commas;
        let full = at - start >= DEFAULT_MAX_EVENTS;
        if at > start && (full || size.saturating_add(len + commas) > limit) {
            chunks.push(&mine[start..at]);
            start = at;
            size = overhead.saturating_add(len);
        } else {
            size = size.saturating_add(len + if at > start { commas } else { 0 });
        }
    }
    if start < mine.len() {
        chunks.push(&mine[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::{ClientData, ClientEvent, EventKind, Payload};
    use soketi_handler_kit::{Keyring, Verifier};

    use super::*;
    use crate::config::{Filter, Target, Webhook};
    use crate::route::HTTP_DEFAULT_LIMIT;

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
}
