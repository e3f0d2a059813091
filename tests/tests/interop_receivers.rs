//! Interop (issue 5, part 2): our sender's output accepted by receivers nobody here wrote.
//!
//! - HTTP webhooks from the sender library reach a Node server that checks them with the
//!   official `pusher` npm package (`pusher.webhook({headers, rawBody}).isValid()`) and hands
//!   back `JSON.stringify(webhook.getEvents())`: valid, with the events intact.
//! - Lambda invocations from the sender library reach a Node handler written the way soketi's
//!   documentation shows (`createHmac('sha256', secret).update(JSON.stringify(payload))`
//!   compared with `headers['X-Pusher-Signature']`): accepted, i.e. `JSON.stringify` in Node
//!   reproduces our signed bytes, hostile client data included.
//!
//! Negative controls show the receivers really check: a wrong secret is refused by both, and
//! a payload printed by `serde_json` instead of the JavaScript way (see
//! `soketi_e2e_tests::broken`) is refused by the documented handler.

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use soketi_e2e_tests::broken;
use soketi_e2e_tests::lambda;
use soketi_e2e_tests::soketi::NodeReceiver;
use soketi_handler_kit::wire::{
    ClientData, ClientEvent, Envelope, Event, EventKind, Payload, Secret, SignedPayload,
};
use soketi_lambda_sender::Sender;
use soketi_lambda_sender::config::{App, StaticCredentials, Webhook};
use soketi_lambda_sender::deliver::{FailureKind, Outcome, Report, RetryPolicy};

const KEY: &str = "app1key";
const SECRET: &str = "app1secret";

/// Client data full of what serializers disagree on: quotes, backslashes, `</script>`, raw
/// U+2028/U+2029, emoji, a lone surrogate escape, control characters, 1e21, 2^64, -0, 1.50,
/// integer-like keys (which `JSON.stringify` moves to the front).
const HOSTILE: &str = r#"{"z":"last","text":"\"dq\" 'sq' back\\slash </script><b>&amp;</b> a/b   😀 👨‍👩‍👧 lone \ud800 tab\t nl\n nul\u0000 us\u001f del","big":1e21,"two64":18446744073709551616,"neg0":-0,"f":1.50,"tenth":0.1,"small":1e-7,"2":"two","1":"one","nested":{"b":[1,2,{"10":true,"9":null}],"a":"x"}}"#;

fn events() -> Vec<Event> {
    let hostile = ClientData::from_json(HOSTILE).expect("hostile data parses");
    vec![
        Event::channel_occupied("presence-interop-room"),
        Event::member_added("presence-interop-room", "user-1"),
        Event::member_added("presence-interop-room", 42u64),
        ClientEvent::new("private-interop-chat", "client-object")
            .with_data(ClientData::from_json(r#"{"text":"hi","n":1}"#).unwrap())
            .with_socket_id("123.456")
            .into(),
        ClientEvent::new("private-interop-chat", "client-string")
            .with_data(ClientData::string(HOSTILE))
            .with_socket_id("123.456")
            .into(),
        ClientEvent::new("private-interop-chat", "client-nodata")
            .with_socket_id("123.456")
            .into(),
        ClientEvent::new("presence-interop-room", "client-hostile")
            .with_data(hostile.clone())
            .with_socket_id("123.456")
            .with_user_id(42u64)
            .into(),
        ClientEvent::new("presence-interop-room", "client-hostile-2")
            .with_data(hostile)
            .with_socket_id("123.456")
            .with_user_id("user-1")
            .into(),
        Event::member_removed("presence-interop-room", 42u64),
        Event::channel_vacated("presence-interop-room"),
        Event::cache_miss("cache-interop"),
        Event::subscription_count("interop-public", 3),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn credentials() -> StaticCredentials {
    StaticCredentials::new("AKIDINTEROPTEST", "interop-secret-key", None)
}

async fn build(app: App, endpoint: Option<String>) -> Sender {
    let mut builder = Sender::builder()
        .app(app)
        .retry_policy(RetryPolicy::no_retry());
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_override(endpoint);
    }
    builder.build().await.expect("sender builds")
}

/// Sends the whole list as one batch, then each event alone.
fn send_all(rt: &tokio::runtime::Runtime, sender: &Sender) -> Report {
    let mut report = rt.block_on(sender.send(KEY, events())).unwrap();
    for event in events() {
        report.extend(rt.block_on(sender.send(KEY, vec![event])).unwrap());
    }
    report
}

/// The raw text of a payload's `events` array and its `time_ms`.
fn events_text(payload_json: &str) -> (String, u64) {
    #[derive(Deserialize)]
    struct P<'a> {
        time_ms: u64,
        #[serde(borrow)]
        events: &'a RawValue,
    }
    let p: P = serde_json::from_str(payload_json).expect("payload");
    (p.events.get().to_string(), p.time_ms)
}

#[test]
fn our_http_webhooks_are_valid_for_the_official_pusher_package_with_events_intact() {
    let rt = runtime();
    let receiver = NodeReceiver::start(
        "pusher-receiver",
        "pusher_receiver.mjs",
        &json!({"appId": "app", "key": KEY, "secret": SECRET}),
    );
    let url = format!("{}/webhooks/pusher", receiver.url());
    let app = App::new("app", KEY, SECRET).webhook(Webhook::http(&url).event_types(EventKind::ALL));
    let sender = rt.block_on(build(app, None));
    let report = send_all(&rt, &sender);
    assert_eq!(report.deliveries.len(), events().len() + 1);
    let results = receiver.results();
    assert_eq!(
        results.len(),
        report.deliveries.len(),
        "one result per request: {results:#?}\n{}",
        receiver.log_tail(20)
    );
    for (delivery, result) in report.deliveries.iter().zip(&results) {
        assert!(
            matches!(&delivery.outcome, Outcome::Delivered(d) if d.status == 200),
            "not delivered: {delivery:#?}\n{result}"
        );
        assert_eq!(
            result["valid"], true,
            "pusher rejected {}",
            delivery.request.body
        );
        assert_eq!(
            result["raw"],
            delivery.request.body.as_str(),
            "the body arrived altered"
        );
        let (events, time_ms) = events_text(&delivery.request.body);
        assert_eq!(
            result["events_json"].as_str(),
            Some(events.as_str()),
            "JSON.stringify(webhook.getEvents()) differs from what we signed"
        );
        assert_eq!(result["time_ms"], time_ms);
        assert_eq!(result["key"], KEY);
    }

    // Negative control: signed with another secret, pusher says invalid and the sender
    // reports the webhook as rejected.
    let wrong = App::new("app", KEY, "not-the-secret")
        .webhook(Webhook::http(&url).event_types(EventKind::ALL));
    let wrong = rt.block_on(build(wrong, None));
    let report = rt
        .block_on(wrong.send(KEY, vec![Event::channel_occupied("interop-wrong")]))
        .unwrap();
    let failure = report.deliveries[0]
        .failure()
        .expect("a webhook with a wrong signature is refused");
    assert_eq!(failure.kind, FailureKind::Rejected, "{failure:#?}");
    assert_eq!(failure.status, Some(401), "{failure:#?}");
    assert_eq!(receiver.results().last().unwrap()["valid"], false);
}

#[test]
fn our_lambda_envelopes_are_accepted_by_the_handler_from_soketis_docs() {
    let rt = runtime();
    let handler = NodeReceiver::start(
        "docs-lambda-handler",
        "lambda_handler.mjs",
        &json!({"secret": SECRET}),
    );
    let lambda_webhook = |is_async: bool| {
        Webhook::lambda("docs-handler")
            .region("us-east-1")
            .credentials(credentials())
            .event_types(EventKind::ALL)
            .async_invocation(is_async)
    };
    for is_async in [false, true] {
        let app = App::new("app", KEY, SECRET).webhook(lambda_webhook(is_async));
        let sender = rt.block_on(build(app, Some(handler.url())));
        let before = handler.results().len();
        let report = send_all(&rt, &sender);
        let results = handler.results()[before..].to_vec();
        assert_eq!(results.len(), report.deliveries.len(), "{results:#?}");
        for (delivery, result) in report.deliveries.iter().zip(&results) {
            assert!(
                delivery.is_delivered(),
                "the documented handler refused our envelope: {delivery:#?}\n{result}"
            );
            assert_eq!(result["ok"], true, "{result}");
            assert_eq!(
                result["invocation_type"],
                if is_async { "Event" } else { "RequestResponse" }
            );
            let envelope = Envelope::parse(delivery.request.body.as_bytes()).unwrap();
            let (events, _) = events_text(envelope.payload_json());
            assert_eq!(result["events_json"].as_str(), Some(events.as_str()));
        }
    }

    // Negative controls, straight to the handler: a wrong secret, and a payload printed by
    // serde_json (signed over its own bytes) instead of the JavaScript way.
    let agent = lambda::agent(std::time::Duration::from_secs(30));
    let invoke = |body: &str| {
        lambda::invoke(
            &agent,
            &handler.url(),
            "docs-handler",
            "RequestResponse",
            body.as_bytes(),
        )
        .expect("the handler answers")
    };
    let envelope = |json: String, secret: &str| {
        SignedPayload::new(json, KEY, &Secret::new(secret)).lambda_body::<&str, &str>("test", &[])
    };
    let plain = Payload::new(
        1_700_000_000_000,
        vec![Event::channel_occupied("interop-plain")],
    );
    assert_eq!(
        invoke(&envelope(plain.to_json(), SECRET)).function_error,
        None
    );
    assert_eq!(
        invoke(&envelope(plain.to_json(), "not-the-secret"))
            .function_error
            .as_deref(),
        Some("Error")
    );
    // serde_json agrees with JSON.stringify on plain events...
    let naive_plain = broken::reserialize_payload(&plain.to_json()).unwrap();
    assert_eq!(naive_plain, plain.to_json());
    assert_eq!(invoke(&envelope(naive_plain, SECRET)).function_error, None);
    // ...and not on client data with numbers and integer-like keys: the handler refuses it.
    let data =
        ClientData::from_json(r#"{"b":1,"a":1e21,"2":"two","n":18446744073709551616}"#).unwrap();
    let tricky = Payload::new(
        1_700_000_000_000,
        vec![
            ClientEvent::new("private-interop", "client-x")
                .with_data(data)
                .into(),
        ],
    );
    let naive = broken::reserialize_payload(&tricky.to_json()).unwrap();
    assert_ne!(naive, tricky.to_json());
    assert_eq!(
        invoke(&envelope(tricky.to_json(), SECRET)).function_error,
        None
    );
    let refused = invoke(&envelope(naive, SECRET));
    assert_eq!(
        refused.function_error.as_deref(),
        Some("Error"),
        "{refused:?}"
    );
    assert!(refused.body.contains("Invalid signature"), "{refused:?}");
}
