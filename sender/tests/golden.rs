//! Golden tests: every request soketi 1.6.1 was recorded making is rebuilt byte for byte from
//! the same inputs (time_ms, events, process id, app key and secret, custom headers).

mod common;

use common::vectors;

use soketi_handler_kit::wire::headers::{
    ACCEPT, CONTENT_TYPE, USER_AGENT, is_reserved, user_agent,
};
use soketi_handler_kit::wire::{Envelope, Event, EventKind, ReceivedPayload};
use soketi_lambda_sender::config::{App, Webhook};
use soketi_lambda_sender::input::parse_event;
use soketi_lambda_sender::route::{Limits, Request, plan};
use soketi_lambda_sender::{RegionFallback, Sender};

/// The process id in a recorded User-Agent (its last number), checked against the wire
/// module's format.
fn pid_of(recorded: &str) -> u32 {
    let pid = recorded
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|part| !part.is_empty())
        .and_then(|digits| digits.parse().ok())
        .expect("a pid in the user agent");
    assert_eq!(user_agent(pid), recorded, "soketi's User-Agent format");
    pid
}

/// The events of a recorded payload, read back as input to the sender.
fn events_of(payload: &ReceivedPayload<'_>) -> Vec<Event> {
    payload
        .raw_events()
        .iter()
        .map(|raw| parse_event(raw.get()).expect("event"))
        .collect()
}

/// The one request the sender builds for `app`'s only webhook from a recorded payload.
fn rebuilt(app: &App, payload: &ReceivedPayload<'_>, recorded_user_agent: &str) -> Request {
    let plan = plan(
        app,
        payload.time_ms(),
        pid_of(recorded_user_agent),
        &events_of(payload),
        &Limits::default(),
    );
    assert_eq!(plan.requests.len(), 1);
    plan.requests.into_iter().next().expect("one request")
}

#[test]
fn every_recorded_request_is_rebuilt_byte_for_byte() {
    let entries = vectors::all();
    assert!(entries.len() >= 15, "the vectors are all there");
    let (mut lambda, mut http) = (0, 0);
    for entry in entries {
        let file = &entry.file;
        let recorded = String::from_utf8(entry.raw()).expect("UTF-8 vector");
        let (key, secret) = (&entry.app_key, &entry.app_secret);
        match entry.transport.as_str() {
            "lambda-invoke" => {
                let envelope = Envelope::parse(recorded.as_bytes()).expect("envelope");
                let payload = ReceivedPayload::parse(envelope.payload_json()).expect("payload");
                let ua = envelope
                    .headers()
                    .get("User-Agent")
                    .expect("ua")
                    .expect("ua");
                let is_async = entry.invocation_type.as_deref() == Some("Event");
                let app = App::new("app", key, secret).webhook(
                    Webhook::lambda(entry.function.as_deref().expect("function"))
                        .region("us-east-1")
                        .async_invocation(is_async)
                        .event_types(EventKind::ALL),
                );
                assert_eq!(rebuilt(&app, &payload, &ua).body, recorded, "{file}");
                lambda += 1;
            }
            "http-post" => {
                let headers = &entry.http_headers;
                let payload = ReceivedPayload::parse(&recorded).expect("payload");
                let ua = entry.http_header("User-Agent").expect("ua");
                let mut webhook =
                    Webhook::http("http://127.0.0.1:1/hook").event_types(EventKind::ALL);
                // Everything but soketi's own headers was configured as a custom header.
                for (name, value) in headers {
                    if ![ACCEPT, CONTENT_TYPE, USER_AGENT].contains(&name.as_str())
                        && !is_reserved(name)
                    {
                        webhook = webhook.header(name, value);
                    }
                }
                let app = App::new("app", key, secret).webhook(webhook);
                let request = rebuilt(&app, &payload, ua);
                assert_eq!(request.body, recorded, "{file}");
                assert_eq!(&request.headers, headers, "{file}");
                http += 1;
            }
            other => panic!("{file}: unexpected transport {other}"),
        }
    }
    assert!(lambda >= 10 && http >= 3, "{lambda} lambda, {http} http");
}

#[tokio::test]
async fn the_sender_injects_pid_and_clock_for_the_same_bytes() {
    let recorded = std::fs::read_to_string(common::vectors_dir().join("076.json")).expect("vector");
    let app = App::from_json(
        r#"{"id":"1","key":"app1key","secret":"app1secret","webhooks":[{"lambda_function":"my-function",
            "event_types":["channel_vacated","member_removed"]}]}"#,
    )
    .expect("app");
    let sender = Sender::builder()
        .app(app)
        .process_id(27652)
        .clock(|| 1795877301429)
        .region_fallback(RegionFallback::Fixed("us-east-1".into()))
        .build()
        .await
        .expect("sender");
    let events = [
        r#"{"name":"channel_vacated","channel":"batch-public"}"#,
        r#"{"name":"channel_vacated","channel":"private-batch"}"#,
        r#"{"name":"channel_vacated","channel":"cache-batch"}"#,
        r#"{"name":"channel_vacated","channel":"presence-batch"}"#,
        r#"{"name":"member_removed","channel":"presence-batch","user_id":"user-1"}"#,
    ]
    .map(|e| parse_event(e).expect("event"));
    let plan = sender
        .plan("app1key", sender.now_ms(), &events)
        .expect("plan");
    assert_eq!(plan.requests[0].body, recorded);
}
