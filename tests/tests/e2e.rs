//! End to end (issue 4, item 4): the example function under the real Lambda emulator of
//! `cargo lambda watch`, fed by the sender library (endpoint override) and by the recorded
//! requests of the real soketi 1.6.1.
//!
//! One `cargo lambda watch` serves every test of this binary (`Watch::shared`), with the apps
//! `app1key`/`app1secret` and `app2key`/`app2secret` in `SOKETI_APP_SECRETS`. Tests run concurrently
//! and tell their log lines apart by channel names of their own.

use soketi_e2e_tests::flog;
use soketi_e2e_tests::lambda::summary_events;
use soketi_e2e_tests::vectors;
use soketi_e2e_tests::watch::Watch;

/// Every recorded soketi request (Lambda invocations as they were; HTTP POSTs wrapped into an
/// envelope with their recorded headers) is verified by the running function, and its summary
/// lists the recorded events in order.
#[test]
fn every_recorded_soketi_request_is_verified_by_the_running_function() {
    let watch = Watch::shared();
    let all = vectors::all();
    assert!(all.iter().any(|v| v.transport == "lambda-invoke"));
    assert!(all.iter().any(|v| v.transport == "http-post"));
    let mut failures = Vec::new();
    for vector in &all {
        let invocation_type = vector
            .invocation_type
            .as_deref()
            .unwrap_or("RequestResponse");
        let outcome = watch.invoke(invocation_type, &vector.lambda_body());
        if outcome.status != 200 || outcome.function_error.is_some() {
            failures.push(format!("{} ({}): {outcome:?}", vector.file, vector.step));
            continue;
        }
        let summary = outcome.summary();
        if summary_events(&summary) != vector.events
            || summary["app_key"] != vector.app_key.as_str()
            || summary["handled"].as_u64().is_none()
        {
            failures.push(format!(
                "{}: summary {summary} does not match the recorded events {:?} of {}",
                vector.file, vector.events, vector.app_key
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} recorded soketi requests were not verified:\n{}\n{}",
        failures.len(),
        all.len(),
        failures.join("\n"),
        watch.log_tail(20)
    );
}

/// The hostile client event of the recordings (emoji, quotes, `</script>`, ... in object
/// data) is dispatched with its data exactly as soketi sent it.
#[test]
fn recorded_client_data_reaches_the_callback_verbatim() {
    let watch = Watch::shared();
    let vector = vectors::all()
        .into_iter()
        .find(|v| v.file == "029.json")
        .expect("029.json is in the manifest");
    let body = vector.lambda_body();
    let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(envelope["payload"]["events"][0]["channel"], "presence-room");
    let outcome = watch.invoke("RequestResponse", &body);
    assert_eq!(summary_events(&outcome.summary()), ["client_event"]);
    // The raw data text, cut out of the recorded bytes (not re-serialized).
    let text = String::from_utf8(body).unwrap();
    let start = text.find("\"data\":").unwrap() + "\"data\":".len();
    let end = text.find(",\"socket_id\"").unwrap();
    let raw_data = &text[start..end];
    let logged = flog::dispatched(&watch.function_log());
    assert!(
        logged.iter().any(|d| d.webhook == "client_event"
            && d.channel.as_deref() == Some("presence-room")
            && d.client_event.as_deref() == Some("client-typing")
            && d.user_id.as_deref() == Some("user-2")
            && d.data.as_deref() == Some(raw_data)),
        "no client_event log line with data {raw_data}; dispatch lines: {logged:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Through the sender library, endpoint overridden to cargo lambda watch
// ---------------------------------------------------------------------------------------------

use soketi_e2e_tests::lambda::FUNCTION_NAME;
use soketi_handler_kit::wire::headers::{
    ACCEPT, CONTENT_TYPE, USER_AGENT, X_PUSHER_KEY, X_PUSHER_SIGNATURE,
};
use soketi_handler_kit::wire::write_lambda_body;
use soketi_handler_kit::wire::{
    ClientData, ClientEvent, Envelope, Event, EventKind, Secret, SignedPayload,
};
use soketi_lambda_sender::Sender;
use soketi_lambda_sender::config::{App, StaticCredentials, Webhook};
use soketi_lambda_sender::deliver::{DeliveryReport, FailureKind, Outcome, Report, RetryPolicy};

/// A sender for app `key` signing with `secret`, one Lambda webhook for every event type,
/// aimed at the watch instance at `endpoint`. Static test credentials: nothing looks for real
/// ones.
async fn sender_at(endpoint: &str, key: &str, secret: &str, is_async: bool) -> Sender {
    let webhook = Webhook::lambda(FUNCTION_NAME)
        .region("us-east-1")
        .credentials(StaticCredentials::new(
            "AKIDE2ETESTS",
            "e2e-secret-key",
            None,
        ))
        .event_types(EventKind::ALL)
        .async_invocation(is_async);
    Sender::builder()
        .app(App::new("app", key, secret).webhook(webhook))
        .endpoint_override(endpoint)
        .retry_policy(RetryPolicy::no_retry())
        .build()
        .await
        .expect("sender builds")
}

/// [`sender_at`] the shared watch instance.
async fn sender_with(key: &str, secret: &str, is_async: bool) -> Sender {
    sender_at(&Watch::shared().endpoint_url(), key, secret, is_async).await
}

async fn sender(is_async: bool) -> Sender {
    sender_with("app1key", "app1secret", is_async).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The one delivery of a report that must have exactly one.
fn only(report: &Report) -> &DeliveryReport {
    assert_eq!(
        report.deliveries.len(),
        1,
        "expected exactly one request, got {report:#?}"
    );
    assert!(
        report.unrouted.is_empty(),
        "unrouted: {:?}",
        report.unrouted
    );
    &report.deliveries[0]
}

/// The function's summary of a delivered request.
fn delivered_summary(delivery: &DeliveryReport) -> serde_json::Value {
    match &delivery.outcome {
        Outcome::Delivered(d) => serde_json::from_str(&d.response).unwrap_or_else(|e| {
            panic!(
                "the function's answer is no JSON summary ({e}): {}",
                d.response
            )
        }),
        other => panic!(
            "not delivered: {other:?}\nrequest body: {}\n{}",
            delivery.request.body,
            Watch::shared().log_tail(10)
        ),
    }
}

/// The dispatch log lines of events on channels starting with `prefix`.
fn dispatched_on(prefix: &str) -> Vec<flog::Dispatched> {
    flog::dispatched(&Watch::shared().function_log())
        .into_iter()
        .filter(|d| d.channel.as_deref().is_some_and(|c| c.starts_with(prefix)))
        .collect()
}

fn hostile_data() -> ClientData {
    ClientData::from_json(
        r#"{"q":"\"quotes\" 'single' back\\slash </script> line\u2028sep emoji 😀 lone \ud800 nul \u0000","big":1e21,"huge":18446744073709551616,"neg0":-0,"float":1.50,"2":"two","1":"one"}"#,
    )
    .expect("hostile data parses")
}

/// Each event type, delivered alone in `RequestResponse` mode, is verified and dispatched: the
/// summary names it, the callback ran (or it is counted as having none), and the dispatch log
/// line carries its fields.
#[test]
fn every_event_type_is_verified_and_dispatched_in_request_response_mode() {
    let rt = runtime();
    let sender = rt.block_on(sender(false));
    let p = "e2e-types-";
    let cases: Vec<(Event, bool)> = vec![
        (Event::channel_occupied(format!("{p}public")), true),
        (Event::channel_vacated(format!("{p}public")), true),
        (
            Event::member_added(format!("presence-{p}room"), "user-1"),
            true,
        ),
        (
            Event::member_added(format!("presence-{p}room"), 42u64),
            true,
        ),
        (
            Event::member_removed(format!("presence-{p}room"), "user-1"),
            true,
        ),
        (
            Event::member_removed(format!("presence-{p}room"), 42u64),
            true,
        ),
        (
            ClientEvent::new(format!("private-{p}chat"), "client-object")
                .with_data(ClientData::from_json(r#"{"text":"hi","n":1}"#).unwrap())
                .with_socket_id("123.456")
                .into(),
            true,
        ),
        (
            ClientEvent::new(format!("private-{p}chat"), "client-string")
                .with_data(ClientData::string(r#"{"text":"hi"}"#))
                .with_socket_id("123.456")
                .into(),
            true,
        ),
        (
            ClientEvent::new(format!("private-{p}chat"), "client-nodata")
                .with_socket_id("123.456")
                .into(),
            true,
        ),
        (
            ClientEvent::new(format!("presence-{p}room"), "client-hostile")
                .with_data(hostile_data())
                .with_socket_id("123.456")
                .with_user_id(42u64)
                .into(),
            true,
        ),
        (Event::cache_miss(format!("cache-{p}chan")), false),
        (Event::subscription_count(format!("{p}public"), 3), false),
    ];
    for kind in EventKind::ALL {
        assert!(
            cases.iter().any(|(e, _)| e.kind() == Some(kind)),
            "no case for {kind:?}"
        );
    }
    for (event, has_callback) in &cases {
        let report = rt
            .block_on(sender.send("app1key", vec![event.clone()]))
            .unwrap();
        let delivery = only(&report);
        let summary = delivered_summary(delivery);
        assert_eq!(summary_events(&summary), [event.name()], "{summary}");
        assert_eq!(summary["app_key"], "app1key", "{summary}");
        assert_eq!(summary["time_ms"], delivery.request.time_ms, "{summary}");
        let handled = summary["handled"].as_u64().unwrap();
        let ignored = summary["ignored"].as_u64().unwrap_or(0);
        if *has_callback {
            assert_eq!(handled, 1, "{} not handled: {summary}", event.name());
        } else {
            assert_eq!(handled + ignored, 1, "{summary}");
        }
    }
    // The dispatch log lines, one per handled case, with their fields.
    let logged = dispatched_on(p)
        .into_iter()
        .chain(dispatched_on(&format!("presence-{p}")))
        .chain(dispatched_on(&format!("private-{p}")))
        .collect::<Vec<_>>();
    let expect =
        |webhook: &str, channel: &str, user: Option<&str>, ev: Option<&str>, data: Option<&str>| {
            assert!(
                logged.iter().any(|d| d.webhook == webhook
                    && d.channel.as_deref() == Some(channel)
                    && (webhook != "member_added"
                        && webhook != "member_removed"
                        && webhook != "client_event"
                        || d.user_id.as_deref() == user)
                    && (webhook != "client_event"
                        || d.client_event.as_deref() == ev && d.data.as_deref() == data)),
                "no dispatch line {webhook} {channel} {user:?} {ev:?} {data:?} in {logged:#?}"
            );
        };
    expect("channel_occupied", &format!("{p}public"), None, None, None);
    expect("channel_vacated", &format!("{p}public"), None, None, None);
    let room = format!("presence-{p}room");
    expect("member_added", &room, Some("user-1"), None, None);
    expect("member_added", &room, Some("42"), None, None);
    expect("member_removed", &room, Some("user-1"), None, None);
    expect("member_removed", &room, Some("42"), None, None);
    let chat = format!("private-{p}chat");
    expect(
        "client_event",
        &chat,
        None,
        Some("client-object"),
        Some(r#"{"text":"hi","n":1}"#),
    );
    expect(
        "client_event",
        &chat,
        None,
        Some("client-string"),
        Some(r#""{\"text\":\"hi\"}""#),
    );
    expect("client_event", &chat, None, Some("client-nodata"), None);
    expect(
        "client_event",
        &room,
        Some("42"),
        Some("client-hostile"),
        Some(hostile_data().as_json()),
    );
}

/// A batch of events in one payload is dispatched in payload order.
#[test]
fn a_batched_payload_is_dispatched_in_order() {
    let rt = runtime();
    let sender = rt.block_on(sender(false));
    let p = "e2e-batch-";
    let events = vec![
        Event::channel_occupied(format!("presence-{p}a")),
        Event::member_added(format!("presence-{p}a"), "u1"),
        ClientEvent::new(format!("presence-{p}a"), "client-1")
            .with_data(ClientData::string("one"))
            .with_user_id("u1")
            .into(),
        Event::channel_occupied(format!("{p}b")),
        Event::cache_miss(format!("cache-{p}c")),
        Event::member_removed(format!("presence-{p}a"), "u1"),
        Event::channel_vacated(format!("presence-{p}a")),
        Event::channel_vacated(format!("{p}b")),
    ];
    let names: Vec<&str> = events.iter().map(Event::name).collect();
    let report = rt.block_on(sender.send("app1key", events.clone())).unwrap();
    let delivery = only(&report);
    assert_eq!(delivery.request.events, events);
    let summary = delivered_summary(delivery);
    assert_eq!(summary_events(&summary), names, "{summary}");
    assert_eq!(summary["handled"], 7, "{summary}");
    // The callbacks ran in payload order, within the same invocation.
    let logged: Vec<_> = flog::dispatched(&Watch::shared().function_log())
        .into_iter()
        .filter(|d| d.channel.as_deref().is_some_and(|c| c.contains(p)))
        .collect();
    let order: Vec<(&str, &str)> = logged
        .iter()
        .map(|d| (d.webhook.as_str(), d.channel.as_deref().unwrap()))
        .collect();
    let a = format!("presence-{p}a");
    let b = format!("{p}b");
    assert_eq!(
        order,
        [
            ("channel_occupied", a.as_str()),
            ("member_added", a.as_str()),
            ("client_event", a.as_str()),
            ("channel_occupied", b.as_str()),
            ("member_removed", a.as_str()),
            ("channel_vacated", a.as_str()),
            ("channel_vacated", b.as_str()),
        ],
        "dispatch order; lines: {logged:#?}"
    );
    let request_ids: std::collections::BTreeSet<_> = logged.iter().map(|d| &d.request_id).collect();
    assert_eq!(request_ids.len(), 1, "one invocation: {logged:#?}");
}

/// The request body with its headers replaced, the payload bytes kept as they are.
fn with_headers(body: &str, edit: impl FnOnce(&mut Vec<(String, String)>)) -> String {
    let envelope = Envelope::parse(body.as_bytes()).expect("our own envelope parses");
    let mut headers: Vec<(String, String)> = [
        ACCEPT,
        CONTENT_TYPE,
        USER_AGENT,
        X_PUSHER_KEY,
        X_PUSHER_SIGNATURE,
    ]
    .iter()
    .filter_map(|name| {
        let value = envelope.headers().get(name).ok()??;
        Some((name.to_string(), value.to_string()))
    })
    .collect();
    assert_eq!(headers.len(), 5, "{body}");
    edit(&mut headers);
    write_lambda_body(envelope.payload_json(), &headers)
}

/// Delivers a (possibly doctored) request; it must fail as a function error, and the function
/// must have answered with `error_type`.
fn assert_rejected(
    rt: &tokio::runtime::Runtime,
    sender: &Sender,
    request: soketi_lambda_sender::route::Request,
    error_type: &str,
) {
    let body = request.body.clone();
    let mut deliveries = rt.block_on(sender.deliver(request));
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    let delivery = deliveries.remove(0);
    let failure = delivery
        .failure()
        .unwrap_or_else(|| panic!("expected {error_type}, but it was delivered: {delivery:#?}"));
    assert_eq!(failure.kind, FailureKind::FunctionError, "{failure:#?}");
    assert_eq!(
        failure.attempts, 1,
        "function errors are not retried: {failure:#?}"
    );
    // What the function itself answers to the same bytes.
    let direct = Watch::shared().invoke_direct("RequestResponse", body.as_bytes());
    assert_eq!(direct.error_type(), error_type, "{direct:?}");
    assert!(
        failure.message.contains(error_type),
        "the sender's failure does not name {error_type}: {failure:#?}"
    );
}

/// A wrong secret, a tampered payload, a missing or malformed signature, a missing or unknown
/// app key: each is a function error of its stable type, and the sender reports it failed.
#[test]
fn rejections_come_back_as_function_errors_with_stable_types() {
    let rt = runtime();
    let events = vec![Event::channel_occupied("e2e-reject-chan")];

    // Wrong secret: the sender signs with a secret the function does not have for app1key.
    let wrong = rt.block_on(sender_with("app1key", "not-app1secret", false));
    let plan = wrong.plan("app1key", wrong.now_ms(), &events).unwrap();
    assert_rejected(&rt, &wrong, plan.requests[0].clone(), "InvalidSignature");

    // Unknown app key.
    let unknown = rt.block_on(sender_with("app9key", "app9secret", false));
    let plan = unknown.plan("app9key", unknown.now_ms(), &events).unwrap();
    assert_rejected(&rt, &unknown, plan.requests[0].clone(), "UnknownAppKey");

    let good = rt.block_on(sender(false));
    let request = || {
        good.plan("app1key", good.now_ms(), &events)
            .unwrap()
            .requests[0]
            .clone()
    };

    // Tampered payload: one byte of the channel name changed after signing.
    let mut tampered = request();
    assert!(tampered.body.contains("e2e-reject-chan"));
    tampered.body = tampered.body.replace("e2e-reject-chan", "e2e-reject-chap");
    assert_rejected(&rt, &good, tampered, "InvalidSignature");

    // Missing signature.
    let mut unsigned = request();
    unsigned.body = with_headers(&unsigned.body, |h| {
        h.retain(|(k, _)| *k != X_PUSHER_SIGNATURE)
    });
    assert_rejected(&rt, &good, unsigned, "MissingSignature");

    // Malformed signature.
    let mut malformed = request();
    malformed.body = with_headers(&malformed.body, |h| {
        for (k, v) in h.iter_mut() {
            if k == X_PUSHER_SIGNATURE {
                *v = "not-hex".into();
            }
        }
    });
    assert_rejected(&rt, &good, malformed, "MalformedSignature");

    // Missing app key.
    let mut keyless = request();
    keyless.body = with_headers(&keyless.body, |h| h.retain(|(k, _)| *k != X_PUSHER_KEY));
    assert_rejected(&rt, &good, keyless, "MissingAppKey");

    // A correctly signed body that is no soketi payload.
    let mut not_a_payload = request();
    not_a_payload.body = SignedPayload::new(
        r#"{"hello":"world"}"#.into(),
        "app1key",
        &Secret::new("app1secret"),
    )
    .lambda_body::<&str, &str>("e2e", &[]);
    assert_rejected(&rt, &good, not_a_payload, "MalformedPayload");

    // Not an envelope at all.
    let mut garbage = request();
    garbage.body = "[1,2,3]".into();
    assert_rejected(&rt, &good, garbage, "MalformedEnvelope");

    // None of these ran a callback.
    assert!(
        dispatched_on("e2e-reject-").is_empty(),
        "a rejected invocation dispatched: {:#?}",
        dispatched_on("e2e-reject-")
    );

    // The untouched request still goes through (the doctoring, not the request, was at fault).
    let report = rt.block_on(good.send("app1key", events.clone())).unwrap();
    assert_eq!(
        summary_events(&delivered_summary(only(&report))),
        ["channel_occupied"]
    );
}

/// An `Event` (asynchronous) invocation is accepted, and the function runs it.
#[test]
fn an_event_invocation_is_accepted() {
    let rt = runtime();
    let sender = rt.block_on(sender(true));
    let channel = "e2e-async-chan";
    let report = rt
        .block_on(sender.send("app1key", vec![Event::channel_occupied(channel)]))
        .unwrap();
    let delivery = only(&report);
    match &delivery.outcome {
        // Real Lambda answers 202; cargo lambda watch runs the function and answers 200.
        Outcome::Delivered(d) => assert!(d.status == 202 || d.status == 200, "{d:?}"),
        other => panic!("the Event invocation failed: {other:?}"),
    }
    soketi_e2e_tests::process::poll_until(
        "the function to dispatch the Event invocation",
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(50),
        || (!dispatched_on(channel).is_empty()).then_some(()),
        || Watch::shared().log_tail(20),
    );
    assert_eq!(dispatched_on(channel)[0].webhook, "channel_occupied");
}

/// A function configured the single-app way (`SOKETI_SECRET`, `SOKETI_APP_KEY`), in the middle
/// of a secret rotation (`SOKETI_PREVIOUS_SECRET`) and with a maximum age
/// (`SOKETI_MAX_AGE_SECONDS`): both secrets verify, a stale webhook is `Expired`, another
/// app's key is `UnknownAppKey`. Its own watch instance, stopped when the test ends.
#[test]
fn single_app_configuration_with_rotation_and_maximum_age() {
    // Make sure the shared instance compiled the function first: this one then only runs it.
    Watch::shared();
    let watch = Watch::start(
        "watch-single-app",
        &[
            ("SOKETI_SECRET", "app1secret-new"),
            ("SOKETI_PREVIOUS_SECRET", "app1secret"),
            ("SOKETI_APP_KEY", "app1key"),
            ("SOKETI_MAX_AGE_SECONDS", "300"),
        ],
    );
    let rt = runtime();
    let build = |key: &'static str, secret: &'static str| {
        rt.block_on(sender_at(&watch.endpoint_url(), key, secret, false))
    };
    let events = || vec![Event::channel_occupied("e2e-single-chan")];
    let outcome = |sender: &Sender, time_ms: u64| {
        let report = rt
            .block_on(sender.send_at("app", time_ms, events()))
            .unwrap();
        let delivery = only(&report).clone();
        let direct = watch.invoke_direct("RequestResponse", delivery.request.body.as_bytes());
        (delivery, direct)
    };
    let now = |s: &Sender| s.now_ms();

    for secret in ["app1secret-new", "app1secret"] {
        let sender = build("app1key", secret);
        let (delivery, _) = outcome(&sender, now(&sender));
        let summary = delivered_summary(&delivery);
        assert_eq!(
            summary_events(&summary),
            ["channel_occupied"],
            "{secret}: {summary}"
        );
    }

    let sender = build("app1key", "app1secret-new");
    let (delivery, direct) = outcome(&sender, now(&sender) - 3_600_000);
    assert_eq!(
        delivery.failure().map(|f| f.kind),
        Some(FailureKind::FunctionError)
    );
    assert_eq!(direct.error_type(), "Expired", "{direct:?}");

    let (delivery, direct) = outcome(&build("app1key", "app1secret-old"), now(&sender));
    assert_eq!(
        delivery.failure().map(|f| f.kind),
        Some(FailureKind::FunctionError)
    );
    assert_eq!(direct.error_type(), "InvalidSignature", "{direct:?}");

    let (delivery, direct) = outcome(&build("app2key", "app1secret-new"), now(&sender));
    assert_eq!(
        delivery.failure().map(|f| f.kind),
        Some(FailureKind::FunctionError)
    );
    assert_eq!(direct.error_type(), "UnknownAppKey", "{direct:?}");
}
