//! End to end over HTTP (issue 9): the example function under `cargo lambda watch`, reached
//! through its Function URL (`/lambda-url/example-function/…`, delivered to the function as a
//! Function URL event), fed by the recorded requests of the real soketi 1.6.1 and by the sender
//! library's `url` webhooks; and the same events sent both ways reaching the same callbacks.

use std::collections::BTreeMap;

use soketi_e2e_tests::flog;
use soketi_e2e_tests::function_url::{self, Answer};
use soketi_e2e_tests::lambda::{FUNCTION_NAME, summary_events};
use soketi_e2e_tests::vectors;
use soketi_e2e_tests::watch::Watch;
use soketi_handler_kit::wire::{ClientData, ClientEvent, Event, EventKind};
use soketi_lambda_sender::Sender;
use soketi_lambda_sender::config::{App, StaticCredentials, Webhook};
use soketi_lambda_sender::deliver::{DeliveryReport, FailureKind, Outcome, RetryPolicy};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn webhook_url() -> String {
    function_url::url(Watch::shared(), "webhooks")
}

/// The recorded request as the HTTP request soketi sent (or, for a Lambda invocation, would
/// have sent to a `url` webhook): the payload bytes as the body, the headers in order.
fn as_http(vector: &vectors::Vector) -> (Vec<(String, String)>, Vec<u8>) {
    let raw = vector.raw();
    if vector.transport == "http-post" {
        return (vector.http_headers.clone(), raw);
    }
    let text = String::from_utf8(raw.clone()).expect("UTF-8");
    assert!(text.starts_with("{\"payload\":"), "{}", vector.file);
    let end = text.rfind(",\"headers\":{").expect("headers");
    let value: serde_json::Value = serde_json::from_slice(&raw).expect("envelope JSON");
    let headers = value["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string()))
        .collect();
    (headers, raw["{\"payload\":".len()..end].to_vec())
}

/// Every recorded soketi request, POSTed to the Function URL, is verified by the running
/// function: 200, and the summary lists the recorded events.
#[test]
fn every_recorded_soketi_request_is_verified_through_the_function_url() {
    let watch = Watch::shared();
    let all = vectors::all();
    assert!(all.iter().any(|v| v.transport == "http-post"));
    let mut failures = Vec::new();
    for vector in &all {
        let (headers, body) = as_http(vector);
        let answer = function_url::request("POST", &webhook_url(), &headers, &body);
        if answer.status != 200 {
            failures.push(format!("{} ({}): {answer:?}", vector.file, vector.step));
            continue;
        }
        let summary = answer.summary();
        if summary_events(&summary) != vector.events
            || summary["app_key"] != vector.app_key.as_str()
        {
            failures.push(format!(
                "{}: summary {summary} vs {:?}",
                vector.file, vector.events
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} recorded requests were not verified over HTTP:\n{}\n{}",
        failures.len(),
        all.len(),
        failures.join("\n"),
        watch.log_tail(20)
    );
}

/// Anything but a POST is a 405 naming `MethodNotAllowed`; a forged signature a 401.
#[test]
fn the_function_url_answers_http_statuses() {
    Watch::shared();
    let get = function_url::request("GET", &webhook_url(), &[], b"");
    assert_eq!(
        (get.status, get.error_type().as_str()),
        (405, "MethodNotAllowed"),
        "{get:?}"
    );
    let vector = &vectors::all()[0];
    let (mut headers, body) = as_http(vector);
    for (name, value) in headers.iter_mut() {
        if name.eq_ignore_ascii_case("X-Pusher-Signature") {
            *value = "0".repeat(64);
        }
    }
    let forged = function_url::request("POST", &webhook_url(), &headers, &body);
    assert_eq!(
        (forged.status, forged.error_type().as_str()),
        (401, "InvalidSignature"),
        "{forged:?}"
    );
}

fn http_sender(rt: &tokio::runtime::Runtime, key: &str, secret: &str) -> Sender {
    let webhook = Webhook::http(webhook_url()).event_types(EventKind::ALL);
    rt.block_on(
        Sender::builder()
            .app(App::new("app", key, secret).webhook(webhook))
            .retry_policy(RetryPolicy::no_retry())
            .build(),
    )
    .expect("sender builds")
}

fn delivered(delivery: &DeliveryReport) -> Answer {
    match &delivery.outcome {
        Outcome::Delivered(d) => Answer {
            status: d.status,
            body: d.response.clone(),
        },
        other => panic!(
            "not delivered: {other:?}\nrequest: {}\n{}",
            delivery.request.body,
            Watch::shared().log_tail(10)
        ),
    }
}

fn events(p: &str) -> Vec<Event> {
    vec![
        Event::channel_occupied(format!("presence-{p}room")),
        Event::member_added(format!("presence-{p}room"), "user-1"),
        Event::member_added(format!("presence-{p}room"), 42u64),
        ClientEvent::new(format!("presence-{p}room"), "client-object")
            .with_data(ClientData::from_json(r#"{"text":"hi </script> 😀","n":1e21}"#).unwrap())
            .with_socket_id("123.456")
            .with_user_id(42u64)
            .into(),
        ClientEvent::new(format!("private-{p}chat"), "client-string")
            .with_data(ClientData::string(r#"{"text":"hi"}"#))
            .with_socket_id("123.456")
            .into(),
        ClientEvent::new(format!("private-{p}chat"), "client-nodata")
            .with_socket_id("123.456")
            .into(),
        Event::cache_miss(format!("cache-{p}chan")),
        Event::subscription_count(format!("{p}public"), 3),
        Event::member_removed(format!("presence-{p}room"), "user-1"),
        Event::channel_vacated(format!("presence-{p}room")),
    ]
}

/// The sender's `url` webhooks to the Function URL: each event type alone and all of them in
/// one batch are verified and dispatched; a wrong secret is refused with 401 and reported as
/// rejected by the sender.
#[test]
fn the_senders_url_webhooks_are_verified_and_dispatched() {
    let rt = runtime();
    let sender = http_sender(&rt, "app1key", "app1secret");
    let all = events("e2eh-one-");
    for kind in EventKind::ALL {
        assert!(
            all.iter().any(|e| e.kind() == Some(kind)),
            "no case for {kind:?}"
        );
    }
    for event in &all {
        let report = rt
            .block_on(sender.send("app1key", vec![event.clone()]))
            .unwrap();
        assert_eq!(report.deliveries.len(), 1, "{report:#?}");
        let summary = delivered(&report.deliveries[0]).summary();
        assert_eq!(summary_events(&summary), [event.name()], "{summary}");
    }
    let batch = events("e2eh-batch-");
    let report = rt.block_on(sender.send("app1key", batch.clone())).unwrap();
    assert_eq!(report.deliveries.len(), 1, "{report:#?}");
    let summary = delivered(&report.deliveries[0]).summary();
    let names: Vec<&str> = batch.iter().map(Event::name).collect();
    assert_eq!(summary_events(&summary), names, "{summary}");
    assert_eq!(summary["handled"], 8, "{summary}");

    let wrong = http_sender(&rt, "app1key", "not-app1secret");
    let report = rt
        .block_on(wrong.send("app1key", vec![Event::channel_occupied("e2eh-reject")]))
        .unwrap();
    let failure = report.deliveries[0].failure().expect("refused");
    assert_eq!(
        (failure.kind, failure.status),
        (FailureKind::Rejected, Some(401)),
        "{failure:#?}"
    );
    assert!(failure.message.contains("InvalidSignature"), "{failure:#?}");
    assert!(
        flog::dispatched(&Watch::shared().function_log())
            .iter()
            .all(|d| d.channel.as_deref() != Some("e2eh-reject")),
        "a refused webhook was dispatched"
    );
}

/// One app with a `lambda_function` webhook and a `url` webhook, both to the example function:
/// the same events go both ways, and the callbacks log exactly the same lines for each.
#[test]
fn the_same_events_reach_the_same_callbacks_both_ways() {
    let rt = runtime();
    let watch = Watch::shared();
    let lambda = Webhook::lambda(FUNCTION_NAME)
        .region("us-east-1")
        .credentials(StaticCredentials::new(
            "AKIDE2ETESTS",
            "e2e-secret-key",
            None,
        ))
        .event_types(EventKind::ALL);
    let http = Webhook::http(webhook_url()).event_types(EventKind::ALL);
    let sender = rt
        .block_on(
            Sender::builder()
                .app(
                    App::new("app", "app1key", "app1secret")
                        .webhook(lambda)
                        .webhook(http),
                )
                .endpoint_override(watch.endpoint_url())
                .retry_policy(RetryPolicy::no_retry())
                .build(),
        )
        .expect("sender builds");
    let p = "e2eh-both-";
    let report = rt.block_on(sender.send("app1key", events(p))).unwrap();
    assert_eq!(report.deliveries.len(), 2, "{report:#?}");
    let mut summaries = Vec::new();
    for delivery in &report.deliveries {
        let Outcome::Delivered(d) = &delivery.outcome else {
            panic!("not delivered: {delivery:#?}\n{}", watch.log_tail(10));
        };
        summaries.push(serde_json::from_str::<serde_json::Value>(&d.response).expect("summary"));
    }
    assert_eq!(
        summaries[0], summaries[1],
        "the two transports summarized differently"
    );

    // The dispatch lines of this test, by invocation, without the request id.
    let mut by_invocation: BTreeMap<Option<String>, Vec<flog::Dispatched>> = BTreeMap::new();
    for line in flog::dispatched(&watch.function_log()) {
        if line.channel.as_deref().is_some_and(|c| c.contains(p)) {
            by_invocation
                .entry(line.request_id.clone())
                .or_default()
                .push(flog::Dispatched {
                    request_id: None,
                    ..line
                });
        }
    }
    let runs: Vec<_> = by_invocation.into_values().collect();
    assert_eq!(
        runs.len(),
        2,
        "expected one invocation per transport: {runs:#?}"
    );
    assert_eq!(runs[0].len(), 8, "{runs:#?}");
    assert_eq!(
        runs[0], runs[1],
        "the callbacks saw different things over the two transports"
    );
}
