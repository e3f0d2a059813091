//! Delivery against a loopback Lambda Invoke API (and HTTP) server that records requests and
//! injects faults: every event ends up delivered exactly as sent, or reported failed with its
//! request — none lost, none altered.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{FakeServer, Recorded, Reply};
use soketi_handler_kit::wire::{ClientData, ClientEvent, Event};
use soketi_handler_kit::{Keyring, Verifier};
use soketi_lambda_sender::config::{App, InvocationMode, Target};
use soketi_lambda_sender::deliver::{
    DeadLetter, DeliveryReport, FailureKind, MAX_RESPONSE_BYTES, Outcome, Replay, RetryPolicy,
};
use soketi_lambda_sender::route::Limits;
use soketi_lambda_sender::{
    BatchLimits, QueueConfig, QueueError, QueueReport, RegionFallback, Sender,
};

const INVOKE_PATH: &str = "/2015-03-31/functions/my-function/invocations";

/// Small and fast: 3 attempts (throttled or not), 10–40 ms waits, 400 ms per attempt, 3 s in
/// all.
fn quick_policy() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(3)
        .max_throttled_attempts(3)
        .backoff(Duration::from_millis(10), Duration::from_millis(40))
        .attempt_timeout(Duration::from_millis(400))
        .connect_timeout(Duration::from_millis(400))
        .max_elapsed(Duration::from_secs(3))
}

fn app_json(webhooks: &str) -> App {
    App::from_json(&format!(
        r#"{{"id":"1","key":"app1key","secret":"app1secret","webhooks":{webhooks}}}"#
    ))
    .expect("app config")
}

/// One Lambda webhook with explicit test credentials (no AWS credential chain is consulted).
fn lambda_app(is_async: bool) -> App {
    app_json(&format!(
        r#"[{{"lambda_function":"my-function","event_types":["channel_occupied","channel_vacated","client_event","member_added"],
            "lambda":{{"async":{is_async},"region":"eu-west-1","client_options":{{
              "credentials":{{"accessKeyId":"AKIDTEST","secretAccessKey":"secret-test"}}}}}}}}]"#
    ))
}

async fn sender_for(app: App, server: &FakeServer) -> Sender {
    Sender::builder()
        .app(app)
        .endpoint_override(&server.url)
        .retry_policy(quick_policy())
        .region_fallback(RegionFallback::None)
        .build()
        .await
        .expect("sender")
}

fn verifier() -> Verifier {
    Verifier::new(Keyring::new().app("app1key", "app1secret"))
}

/// The events of a verified Lambda body, re-read through the kit.
fn verified_events(body: &[u8]) -> Vec<Event> {
    let verified = verifier()
        .verify_lambda_body(body)
        .expect("a valid signed envelope");
    verified
        .payload()
        .events()
        .map(|e| e.expect("event"))
        .collect()
}

fn some_events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| match i % 3 {
            0 => Event::channel_occupied(format!("private-{i}")),
            1 => Event::member_added("presence-room", format!("user-{i}")),
            _ => ClientEvent::new("private-chat", "client-msg")
                .with_data(
                    ClientData::from_json(&format!(r#"{{"n":{i},"t":"é 😀 </script>"}}"#))
                        .expect("data"),
                )
                .with_socket_id("1.2")
                .into(),
        })
        .collect()
}

#[tokio::test]
async fn request_response_and_event_invocations() {
    for (is_async, mode, status) in [(false, "RequestResponse", 200), (true, "Event", 202)] {
        let server = FakeServer::ok().await;
        let sender = sender_for(lambda_app(is_async), &server).await;
        let events = some_events(4);
        let report = sender.send("1", events.clone()).await.expect("known app");
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.deliveries.len(), 1);
        let delivery = &report.deliveries[0];
        match &delivery.outcome {
            Outcome::Delivered(d) => assert_eq!((d.status, d.attempts), (status, 1)),
            other => panic!("{other:?}"),
        }
        let got = server.requests();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].method, "POST");
        assert_eq!(got[0].path, INVOKE_PATH);
        assert_eq!(got[0].invocation_type(), Some(mode));
        assert_eq!(got[0].body_str(), delivery.request.body);
        // Signed with the explicit credentials of client_options.
        let auth = got[0].header("authorization").expect("signed request");
        assert!(auth.contains("Credential=AKIDTEST/"), "{auth}");
        assert!(auth.contains("/eu-west-1/lambda/"), "{auth}");
        assert_eq!(verified_events(&got[0].body), events);
    }
}

#[tokio::test]
async fn client_options_endpoint_is_used_without_an_override() {
    let server = FakeServer::ok().await;
    let app = app_json(&format!(
        r#"[{{"lambda_function":"my-function","event_types":["channel_occupied"],
            "lambda":{{"client_options":{{"region":"us-west-2","endpoint":"{}",
              "credentials":{{"accessKeyId":"AKID2","secretAccessKey":"s"}}}}}}}}]"#,
        server.url
    ));
    let sender = Sender::builder()
        .app(app)
        .retry_policy(quick_policy())
        .build()
        .await
        .expect("sender");
    let report = sender
        .send("app1key", vec![Event::channel_occupied("c")])
        .await
        .expect("app");
    assert!(report.is_success(), "{report:?}");
    let got = server.requests();
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .header("authorization")
            .expect("auth")
            .contains("/us-west-2/lambda/")
    );
}

/// Answers the first `failures` attempts of each distinct body with `fault`, then `Ok`.
fn fail_first(failures: usize, fault: Reply) -> impl Fn(usize, &Recorded) -> Reply + Send + Sync {
    let seen: Mutex<HashMap<Vec<u8>, usize>> = Mutex::new(HashMap::new());
    move |_, req| {
        let mut seen = seen.lock().expect("seen");
        let n = seen.entry(req.body.clone()).or_insert(0);
        *n += 1;
        if *n <= failures {
            fault.clone()
        } else {
            Reply::Ok
        }
    }
}

#[tokio::test]
async fn transient_faults_are_retried_until_delivered() {
    for fault in [
        Reply::Throttle,
        Reply::ServerError,
        Reply::Drop,
        Reply::Stall,
    ] {
        let server = FakeServer::start(fail_first(2, fault.clone())).await;
        let sender = sender_for(lambda_app(false), &server).await;
        let events = some_events(3);
        let report = sender.send("1", events.clone()).await.expect("app");
        assert!(report.is_success(), "{fault:?}: {report:?}");
        assert_eq!(report.deliveries[0].attempts(), 3, "{fault:?}");
        let got = server.requests();
        assert_eq!(got.len(), 3, "{fault:?}");
        // Every attempt carried the same bytes; the accepted one is what was reported.
        assert!(got.iter().all(|r| r.body == got[0].body), "{fault:?}");
        assert_eq!(
            server.accepted()[0].body_str(),
            report.deliveries[0].request.body
        );
        assert_eq!(verified_events(&got[2].body), events, "{fault:?}");
    }
}

#[tokio::test]
async fn permanent_failures_are_reported_with_their_request() {
    let cases = [
        (Reply::FunctionError, FailureKind::FunctionError, 1),
        (Reply::EmulatorFunctionError, FailureKind::FunctionError, 1),
        (Reply::NotFound, FailureKind::Rejected, 1),
        (Reply::ServerError, FailureKind::ServerError, 3),
        (Reply::Throttle, FailureKind::Throttled, 3),
        (Reply::Drop, FailureKind::Connection, 3),
        (Reply::Stall, FailureKind::Timeout, 3),
    ];
    for (fault, kind, attempts) in cases {
        let reply = fault.clone();
        let server = FakeServer::start(move |_, _| reply.clone()).await;
        let sender = sender_for(lambda_app(false), &server).await;
        let events = some_events(2);
        let report = sender.send("1", events.clone()).await.expect("app");
        assert!(!report.is_success());
        let failed = &report.deliveries[0];
        let failure = failed.failure().expect("failed");
        assert_eq!(
            (failure.kind, failure.attempts),
            (kind, attempts),
            "{fault:?}: {failure}"
        );
        assert_eq!(server.requests().len(), attempts as usize, "{fault:?}");
        if kind == FailureKind::FunctionError {
            // Real Lambda and the emulator alike: the report names the function's own error.
            assert!(
                failure
                    .message
                    .contains(r#""errorType":"InvalidSignature""#),
                "{fault:?}: {}",
                failure.message
            );
        }
        // The report carries the signed request: it can be sent again, unchanged.
        assert_eq!(verified_events(failed.request.body.as_bytes()), events);
        let line = DeadLetter::from_report(failed)
            .expect("dead letter")
            .to_json_line();
        assert!(
            !line.contains("secret-test") && !line.contains("app1secret"),
            "{line}"
        );
        let again = DeadLetter::from_json_line(&line)
            .expect("line")
            .to_request(sender.apps(), &Replay::new())
            .expect("its webhook is configured");
        assert_eq!(again.body, failed.request.body);
        assert_eq!(again.target, failed.request.target);
    }
}

#[tokio::test]
async fn emulator_event_replies_of_200_count_as_delivered() {
    let server = FakeServer::start(|_, _| Reply::OkEmulator200).await;
    let sender = sender_for(lambda_app(true), &server).await;
    let report = sender.send("1", some_events(1)).await.expect("app");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(server.requests()[0].invocation_type(), Some("Event"));
}

#[tokio::test]
async fn under_random_faults_no_event_is_lost_or_altered() {
    // A fixed, varied fault pattern over the arrival order.
    let server = FakeServer::start(|n, _| match n % 7 {
        0 => Reply::Throttle,
        2 => Reply::Drop,
        3 => Reply::ServerError,
        5 if n % 3 == 0 => Reply::Stall,
        _ => Reply::Ok,
    })
    .await;
    let app = app_json(
        r#"[{"lambda_function":"my-function","event_types":["channel_occupied","member_added","client_event"],
             "lambda":{"region":"eu-west-1","client_options":{"credentials":{"accessKeyId":"A","secretAccessKey":"B"}}}},
            {"lambda_function":"async-fn","event_types":["member_added"],"filter":{"channel_name_starts_with":"presence-"},
             "lambda":{"async":true,"region":"eu-west-1","client_options":{"credentials":{"accessKeyId":"A","secretAccessKey":"B"}}}}]"#,
    );
    let policy = quick_policy().max_attempts(2).max_throttled_attempts(1);
    let sender = Sender::builder()
        .app(app)
        .endpoint_override(&server.url)
        .retry_policy(policy)
        .limits(
            Limits::default()
                .request_response_bytes(1_500)
                .event_bytes(700),
        )
        .build()
        .await
        .expect("sender");
    let events = some_events(30);
    let report = sender.send("1", events.clone()).await.expect("app");
    assert!(report.deliveries.len() > 4, "split into several requests");
    assert!(
        report.failures().count() > 0,
        "the pattern makes some fail for good"
    );
    assert!(report.deliveries.iter().any(|d| d.is_delivered()));

    // What the server accepted is exactly what was reported delivered, byte for byte.
    let mut accepted: Vec<String> = server
        .accepted()
        .iter()
        .map(|r| r.body_str().to_owned())
        .collect();
    let mut delivered: Vec<String> = report
        .deliveries
        .iter()
        .filter(|d| d.is_delivered())
        .map(|d| d.request.body.clone())
        .collect();
    accepted.sort();
    delivered.sort();
    assert_eq!(accepted, delivered);

    // Per webhook: delivered + failed events are exactly its events, in order, each verified.
    let expected = |webhook: usize| -> Vec<Event> {
        events
            .iter()
            .filter(|e| sender.apps()[0].webhooks[webhook].matches(e))
            .cloned()
            .collect()
    };
    for webhook in [0, 1] {
        let mine: Vec<Event> = report
            .deliveries
            .iter()
            .filter(|d| d.request.webhook == webhook)
            .flat_map(|d| verified_events(d.request.body.as_bytes()))
            .collect();
        assert_eq!(mine, expected(webhook), "webhook {webhook}");
    }
    assert_eq!(expected(1).len(), 10);
    assert!(report.unrouted.is_empty());
}

#[tokio::test]
async fn several_webhooks_filters_and_apps_each_get_exactly_their_own_events() {
    let server = FakeServer::ok().await;
    let creds = r#""client_options":{"credentials":{"accessKeyId":"A","secretAccessKey":"B"}}"#;
    let app1 = App::from_json(&format!(
        r#"{{"id":"1","key":"app1key","secret":"app1secret","webhooks":[
            {{"lambda_function":"everything","event_types":["channel_occupied","channel_vacated","member_added","member_removed","client_event","cache_miss"],
              "lambda":{{"region":"eu-west-1",{creds}}}}},
            {{"lambda_function":"presence-only","event_types":["member_added","member_removed"],
              "filter":{{"channel_name_starts_with":"presence-"}},"lambda":{{"async":true,"region":"eu-west-1",{creds}}}}},
            {{"url":"{}/vip","event_types":["channel_occupied","channel_vacated"],
              "filter":{{"channel_name_ends_with":"-vip"}},"headers":{{"X-Custom":"yes"}}}},
            {{"lambda_function":"cache","event_types":["cache_miss"],"lambda":{{"region":"eu-west-1",{creds}}}}}
        ]}}"#,
        server.url
    ))
    .expect("app1");
    let app2 = App::from_json(&format!(
        r#"{{"id":"2","key":"app2key","secret":"app2secret","webhooks":[
            {{"lambda_function":"everything","event_types":["channel_occupied"],"lambda":{{"region":"eu-west-1",{creds}}}}}]}}"#
    ))
    .expect("app2");
    let sender = Sender::builder()
        .apps([app1, app2])
        .endpoint_override(&server.url)
        .retry_policy(quick_policy())
        .build()
        .await
        .expect("sender");
    let batch = vec![
        Event::channel_occupied("room-vip"),
        Event::member_added("presence-lobby", "u1"),
        Event::cache_miss("cache-prices"),
        Event::member_added("private-x", 42u64),
        Event::channel_vacated("room-VIP"),
        Event::channel_vacated("room-vip"),
        Event::member_removed("presence-lobby", "u1"),
    ];
    let report1 = sender.send("1", batch.clone()).await.expect("app 1");
    let report2 = sender
        .send("2", vec![Event::channel_occupied("other-app")])
        .await
        .expect("app 2");
    assert!(report1.is_success() && report2.is_success());

    let by_path = |path: &str| -> Vec<Recorded> {
        server
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    };
    let only = |path: &str| -> Recorded {
        let got = by_path(path);
        assert_eq!(got.len(), 1, "{path}");
        got.into_iter().next().expect("one")
    };
    let app1 = Verifier::new(Keyring::new().app("app1key", "app1secret"));
    let app2 = Verifier::new(Keyring::new().app("app2key", "app2secret"));
    let events_of = |v: &Verifier, body: &[u8]| -> Vec<Event> {
        v.verify_lambda_body(body)
            .expect("verifies")
            .payload()
            .events()
            .map(|e| e.expect("event"))
            .collect()
    };

    let everything = by_path("/2015-03-31/functions/everything/invocations");
    assert_eq!(everything.len(), 2);
    let (first, second) = if app1.verify_lambda_body(&everything[0].body).is_ok() {
        (&everything[0], &everything[1])
    } else {
        (&everything[1], &everything[0])
    };
    assert_eq!(events_of(&app1, &first.body), batch);
    // App 2's batch is signed with app 2's secret, and only that verifies it.
    assert_eq!(
        events_of(&app2, &second.body),
        [Event::channel_occupied("other-app")]
    );
    assert!(app1.verify_lambda_body(&second.body).is_err());

    let presence = only("/2015-03-31/functions/presence-only/invocations");
    assert_eq!(presence.invocation_type(), Some("Event"));
    assert_eq!(
        events_of(&app1, &presence.body),
        [batch[1].clone(), batch[6].clone()]
    );

    let cache = only("/2015-03-31/functions/cache/invocations");
    assert_eq!(events_of(&app1, &cache.body), [batch[2].clone()]);

    let vip = only("/vip");
    assert_eq!(vip.header("x-custom"), Some("yes"));
    assert_eq!(vip.header("content-type"), Some("application/json"));
    let verified = app1
        .verify_parts(
            &vip.body,
            vip.header("X-Pusher-Key"),
            vip.header("X-Pusher-Signature"),
        )
        .expect("HTTP webhook verifies");
    let vip_events: Vec<Event> = verified
        .payload()
        .events()
        .map(|e| e.expect("event"))
        .collect();
    assert_eq!(vip_events, [batch[0].clone(), batch[5].clone()]);
}

#[tokio::test]
async fn http_webhooks_follow_the_same_retry_rules() {
    let server = FakeServer::start(fail_first(1, Reply::ServerError)).await;
    let app = app_json(&format!(
        r#"[{{"url":"{}/hook","event_types":["channel_occupied"]}}]"#,
        server.url
    ));
    let sender = sender_for(app, &server).await;
    let report = sender
        .send("1", vec![Event::channel_occupied("c")])
        .await
        .expect("app");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.deliveries[0].attempts(), 2);
    let got = server.accepted();
    assert_eq!(got[0].path, "/hook");
    assert_eq!(got[0].body_str(), report.deliveries[0].request.body);

    let rejecting = FakeServer::start(|_, _| Reply::NotFound).await;
    let app = app_json(&format!(
        r#"[{{"url":"{}/hook","event_types":["channel_occupied"]}}]"#,
        rejecting.url
    ));
    let report = sender_for(app, &rejecting)
        .await
        .send("1", vec![Event::channel_occupied("c")])
        .await
        .expect("app");
    let failure = report.deliveries[0].failure().expect("failed");
    assert_eq!(
        (failure.kind, failure.status, failure.attempts),
        (FailureKind::Rejected, Some(404), 1)
    );
}

#[tokio::test]
async fn an_event_too_large_for_lambda_is_reported_not_sent() {
    let server = FakeServer::ok().await;
    let sender = Sender::builder()
        .app(lambda_app(true))
        .endpoint_override(&server.url)
        .retry_policy(quick_policy())
        .limits(Limits::default().event_bytes(2_000))
        .build()
        .await
        .expect("sender");
    let huge: Event = ClientEvent::new("private-c", "client-big")
        .with_data(ClientData::string(&"x".repeat(5_000)))
        .into();
    let small = Event::channel_occupied("c");
    let report = sender
        .send("1", vec![small.clone(), huge.clone()])
        .await
        .expect("app");
    assert_eq!(report.deliveries.len(), 2);
    assert!(report.deliveries[0].is_delivered());
    let failure = report.deliveries[1].failure().expect("too large");
    assert_eq!((failure.kind, failure.attempts), (FailureKind::TooLarge, 0));
    assert_eq!(report.deliveries[1].request.events, [huge]);
    assert_eq!(server.requests().len(), 1);
    assert_eq!(verified_events(&server.requests()[0].body), [small]);
}

#[tokio::test]
async fn a_lambda_webhook_without_any_region_is_a_build_error() {
    let app = app_json(
        r#"[{"url":"http://127.0.0.1:1/","event_types":["cache_miss"]},
                          {"lambda_function":"f","event_types":["cache_miss"],"lambda":{}}]"#,
    );
    let err = Sender::builder()
        .app(app.clone())
        .region_fallback(RegionFallback::None)
        .build()
        .await
        .expect_err("no region");
    assert_eq!(err.kind(), "NoRegion");
    assert!(err.to_string().contains("webhooks[1]"), "{err}");
    let sender = Sender::builder()
        .app(app)
        .region_fallback(RegionFallback::Fixed("ap-south-1".into()))
        .build()
        .await
        .expect("fallback region");
    let Target::Lambda(l) = &sender.apps()[0].webhooks[1].target else {
        panic!("lambda")
    };
    assert_eq!(
        (l.region.as_deref(), l.mode),
        (Some("ap-south-1"), InvocationMode::RequestResponse)
    );
}

async fn queue_events(server: &FakeServer, config: QueueConfig, events: &[Event]) -> QueueReport {
    let sender = sender_for(lambda_app(false), server).await;
    let queue = sender.queue(config);
    for event in events {
        queue.push("1", event.clone()).await.expect("queued");
    }
    queue.shutdown().await.expect("the worker reports")
}

#[tokio::test]
async fn the_queue_batches_per_app_and_flush_sends_everything() {
    let server = FakeServer::ok().await;
    let events = some_events(10);
    let config = QueueConfig::default()
        .batch(BatchLimits::new(Duration::from_secs(60), 4, 1 << 20))
        .max_in_flight(1);
    let report = queue_events(&server, config, &events).await;
    assert!(report.is_success(), "{report:?}");
    let sizes: Vec<usize> = server
        .requests()
        .iter()
        .map(|r| verified_events(&r.body).len())
        .collect();
    // Full batches go at once; the window is long, so the last two go on shutdown.
    assert_eq!(sizes, [4, 4, 2]);
    let sent: Vec<Event> = server
        .requests()
        .iter()
        .flat_map(|r| verified_events(&r.body))
        .collect();
    assert_eq!(sent, events);
}

#[tokio::test]
async fn the_queue_window_sends_without_a_flush() {
    let server = FakeServer::ok().await;
    let sender = sender_for(lambda_app(false), &server).await;
    let queue = sender.queue(QueueConfig::default().batch(BatchLimits::new(
        Duration::from_millis(20),
        100,
        1 << 20,
    )));
    queue
        .push("1", Event::channel_occupied("a"))
        .await
        .expect("queued");
    queue
        .push("app1key", Event::channel_vacated("a"))
        .await
        .expect("queued");
    // Poll (bounded) until the window has elapsed and the batch arrived.
    for _ in 0..200 {
        if !server.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = server.requests();
    assert_eq!(got.len(), 1, "sent by the window alone");
    assert_eq!(
        verified_events(&got[0].body),
        [Event::channel_occupied("a"), Event::channel_vacated("a")]
    );
    let report = queue.flush().await.expect("the worker reports");
    assert!(report.is_success(), "{report:?}");
    assert_eq!((report.delivered_requests, report.delivered_events), (1, 2));
    assert!(matches!(
        queue.push("nope", Event::channel_occupied("a")).await,
        Err(QueueError::UnknownApp(_))
    ));
}

#[tokio::test]
async fn the_queue_pushes_back_when_full() {
    // The first request waits at the gate: with one delivery in flight, one batch waiting for
    // it and a queue of one, the next event has no room.
    let server = FakeServer::start(|n, _| if n == 0 { Reply::Gated } else { Reply::Ok }).await;
    let sender = sender_for(lambda_app(false), &server).await;
    let config = QueueConfig::default()
        .capacity(1)
        .max_in_flight(1)
        .batch(BatchLimits::new(Duration::from_secs(60), 1, 1 << 20));
    let queue = sender.queue(config);
    let events = some_events(4);
    for event in &events[..3] {
        queue.push("1", event.clone()).await.expect("room");
    }
    // Wait (bounded) until the first request is at the server, so the worker is stuck behind it.
    for _ in 0..500 {
        if !server.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    match queue.try_push("1", events[3].clone()) {
        Err(QueueError::Full(event)) => assert_eq!(event, events[3]),
        other => panic!("expected backpressure, got {other:?}"),
    }
    server.gate.notify_one();
    queue
        .push("1", events[3].clone())
        .await
        .expect("room again");
    let report = queue.shutdown().await.expect("the worker reports");
    assert!(report.is_success(), "{report:?}");
    let sent: Vec<Event> = server
        .requests()
        .iter()
        .flat_map(|r| verified_events(&r.body))
        .collect();
    assert_eq!(sent, events);
}

/// Collects what reaches a sender's `on_unclaimed` handler.
#[derive(Clone, Default)]
struct Unclaimed(Arc<Mutex<Vec<DeliveryReport>>>);

impl Unclaimed {
    fn handler(&self) -> impl Fn(DeliveryReport) + Send + Sync + 'static {
        let kept = self.0.clone();
        move |report| kept.lock().expect("unclaimed").push(report)
    }

    fn take(&self) -> Vec<DeliveryReport> {
        std::mem::take(&mut *self.0.lock().expect("unclaimed"))
    }
}

/// Defect: deliveries ran as detached tasks, so dropping the future of `send` (a timeout
/// around it) left their retries running, with no report and no dead letter.
#[tokio::test]
async fn a_cancelled_send_stops_its_retries_and_reports_every_request() {
    // The Lambda webhook's requests stall; the HTTP webhook's request fails at once, before
    // the send is cancelled: its report must not be lost with the send either.
    let server = FakeServer::start(|_, r| {
        if r.function().is_some() {
            Reply::Stall
        } else {
            Reply::NotFound
        }
    })
    .await;
    let app = app_json(&format!(
        r#"[{{"lambda_function":"my-function","event_types":["channel_occupied","member_added","client_event"],
              "lambda":{{"region":"eu-west-1","client_options":{{"credentials":{{"accessKeyId":"A","secretAccessKey":"B"}}}}}}}},
            {{"url":"{}/hook","event_types":["member_added"]}}]"#,
        server.url
    ));
    let unclaimed = Unclaimed::default();
    let sender = Sender::builder()
        .app(app)
        .endpoint_override(&server.url)
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(50)
                .backoff(Duration::from_millis(10), Duration::from_millis(20))
                .attempt_timeout(Duration::from_millis(100))
                .max_elapsed(Duration::from_secs(60)),
        )
        .on_unclaimed(unclaimed.handler())
        .build()
        .await
        .expect("sender");
    let events = some_events(6);
    let cancelled =
        tokio::time::timeout(Duration::from_millis(350), sender.send("1", events.clone())).await;
    assert!(
        cancelled.is_err(),
        "the stalling server keeps the send busy"
    );

    // Every request of the send is reported, whole and signed: the stalled one as cancelled,
    // the failed one with its failure.
    let reports = unclaimed.take();
    assert_eq!(reports.len(), 2, "{reports:#?}");
    for report in &reports {
        let failure = report.failure().expect("failed");
        let kind = match report.request.target {
            Target::Lambda(_) => FailureKind::Cancelled,
            _ => FailureKind::Rejected,
        };
        assert_eq!(failure.kind, kind, "{failure}");
        let webhook = &sender.apps()[0].webhooks[report.request.webhook];
        let expected: Vec<Event> = events
            .iter()
            .filter(|e| webhook.matches(e))
            .cloned()
            .collect();
        assert_eq!(report.request.events, expected);
        verifier()
            .verify_parts(
                report.request.payload.as_bytes(),
                report.request.header("X-Pusher-Key"),
                report.request.header("X-Pusher-Signature"),
            )
            .expect("the kept request is signed");
    }

    // And the work stopped: no attempt after the cancellation (a detached retry loop would
    // send one every ~120 ms). The first wait lets an attempt already written reach the server.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_cancel = server.request_count();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        server.request_count(),
        after_cancel,
        "retries went on after cancel"
    );
    assert!(unclaimed.take().is_empty(), "reported once");
}

/// Counts the events of a request body as the receiver reads them (Lambda or HTTP).
fn events_in(recorded: &Recorded) -> usize {
    if recorded.function().is_some() {
        verified_events(&recorded.body).len()
    } else {
        verifier()
            .verify_parts(
                &recorded.body,
                recorded.header("X-Pusher-Key"),
                recorded.header("X-Pusher-Signature"),
            )
            .expect("verifies")
            .payload()
            .len()
    }
}

/// Defect: a 413 / `RequestTooLargeException` was a final rejection of the whole batch.
#[tokio::test]
async fn a_request_refused_as_too_large_is_split_and_resigned_down_to_one_event() {
    // The endpoint takes at most two events per request; a single event of channel "big" it
    // never takes.
    let script = |_: usize, r: &Recorded| {
        let big = String::from_utf8_lossy(&r.body).contains("private-big");
        if events_in(r) > 2 || big {
            Reply::TooLarge
        } else {
            Reply::Ok
        }
    };
    for http in [false, true] {
        let server = FakeServer::start(script).await;
        let app = if http {
            app_json(&format!(
                r#"[{{"url":"{}/hook","event_types":["channel_occupied","member_added","client_event"]}}]"#,
                server.url
            ))
        } else {
            lambda_app(false)
        };
        let sender = sender_for(app, &server).await;
        let mut events = some_events(7);
        events.insert(3, Event::channel_occupied("private-big"));
        let report = sender.send("1", events.clone()).await.expect("app");

        // Every event but the big one delivered, in order, at most two per request, each
        // request verifying with the app's secret; the big one alone reported too large.
        let mut delivered = Vec::new();
        for delivery in &report.deliveries {
            match &delivery.outcome {
                Outcome::Delivered(_) => {
                    assert!(delivery.request.events.len() <= 2);
                    delivered.extend(delivery.request.events.clone());
                }
                Outcome::Failed(failure) => {
                    assert_eq!(
                        delivery.request.events,
                        [Event::channel_occupied("private-big")]
                    );
                    assert_eq!(
                        (failure.kind, failure.status, failure.attempts),
                        (FailureKind::TooLarge, Some(413), 1),
                        "http={http}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        let mut expected = events.clone();
        expected.remove(3);
        assert_eq!(delivered, expected, "http={http}");
        assert_eq!(report.failures().count(), 1, "http={http}");
        for accepted in server.accepted() {
            assert!(events_in(&accepted) <= 2);
        }
    }
}

/// Defect: `Retry-After` was never read.
#[tokio::test]
async fn retry_after_is_honoured() {
    let server = FakeServer::start(fail_first(1, Reply::ThrottleRetryAfter(1))).await;
    let sender = sender_for(lambda_app(false), &server).await;
    let report = sender.send("1", some_events(1)).await.expect("app");
    assert!(report.is_success(), "{report:?}");
    let got = server.requests();
    assert_eq!(got.len(), 2);
    // The backoff alone would wait 10–40 ms; the server asked for a second. (A lower bound:
    // a sleep never ends early.)
    let waited = got[1].at.duration_since(got[0].at);
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
}

/// Defect: throttling gave up after about a second with the default policy (5 attempts).
#[tokio::test]
async fn throttling_is_retried_beyond_the_other_errors_attempts_by_default() {
    let server = FakeServer::start(fail_first(8, Reply::Throttle)).await;
    let policy = RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5));
    assert_eq!(policy.max_attempts, 5);
    let sender = Sender::builder()
        .app(lambda_app(false))
        .endpoint_override(&server.url)
        .retry_policy(policy)
        .build()
        .await
        .expect("sender");
    let report = sender.send("1", some_events(2)).await.expect("app");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.deliveries[0].attempts(), 9);
}

/// Defect: a response body was read and kept whole (a synchronous Lambda may answer 6 MB).
#[tokio::test]
async fn response_bodies_are_kept_up_to_the_cap_and_marked_truncated() {
    for http in [false, true] {
        let server = FakeServer::start(|_, _| Reply::BigOk(200_000)).await;
        let app = if http {
            app_json(&format!(
                r#"[{{"url":"{}/hook","event_types":["channel_occupied"]}}]"#,
                server.url
            ))
        } else {
            lambda_app(false)
        };
        let sender = sender_for(app, &server).await;
        let report = sender
            .send("1", vec![Event::channel_occupied("c")])
            .await
            .expect("app");
        let Outcome::Delivered(delivered) = &report.deliveries[0].outcome else {
            panic!("{report:?}");
        };
        assert_eq!(delivered.response.len(), MAX_RESPONSE_BYTES, "http={http}");
        assert!(delivered.response_truncated, "http={http}");
    }
    let small = FakeServer::ok().await;
    let report = sender_for(lambda_app(false), &small)
        .await
        .send("1", vec![Event::channel_occupied("c")])
        .await
        .expect("app");
    let Outcome::Delivered(delivered) = &report.deliveries[0].outcome else {
        panic!("{report:?}");
    };
    assert!(!delivered.response_truncated && delivered.response.starts_with("{\"received\""));
}

/// Defect: the queue kept every report (delivered ones too) until `flush`. Now it keeps
/// counts, and failures up to a bound; the rest go to `on_unclaimed`.
#[tokio::test]
async fn the_queue_keeps_counts_and_at_most_max_failures_kept() {
    let server = FakeServer::start(|n, _| {
        if n % 2 == 0 {
            Reply::NotFound
        } else {
            Reply::Ok
        }
    })
    .await;
    let unclaimed = Unclaimed::default();
    let sender = Sender::builder()
        .app(lambda_app(false))
        .endpoint_override(&server.url)
        .retry_policy(quick_policy())
        .on_unclaimed(unclaimed.handler())
        .build()
        .await
        .expect("sender");
    let queue = sender.queue(
        QueueConfig::default()
            .max_in_flight(1)
            .max_failures_kept(2)
            .batch(BatchLimits::new(Duration::from_secs(60), 1, 1 << 20)),
    );
    let events = some_events(10);
    for event in &events {
        queue.push("1", event.clone()).await.expect("queued");
    }
    let report = queue.flush().await.expect("report");
    assert_eq!((report.delivered_requests, report.delivered_events), (5, 5));
    assert_eq!((report.failed_requests, report.failed_events), (5, 5));
    assert_eq!(report.failures.len(), 2);
    assert_eq!(report.failures_handed_off, 3);
    let handed = unclaimed.take();
    assert_eq!(handed.len(), 3);
    // Every failed event is in a kept failure or a handed-off one.
    let mut failed: Vec<Event> = report
        .failures
        .iter()
        .chain(&handed)
        .flat_map(|d| d.request.events.clone())
        .collect();
    let mut expected: Vec<Event> = events.iter().step_by(2).cloned().collect();
    failed.sort_by_key(Event::to_json);
    expected.sort_by_key(Event::to_json);
    assert_eq!(failed, expected);
    let next = queue.shutdown().await.expect("report");
    assert_eq!(next, QueueReport::default(), "counts restart after a flush");
}

#[tokio::test]
async fn a_queue_dropped_without_shutdown_still_sends_its_batch() {
    let server = FakeServer::ok().await;
    let sender = sender_for(lambda_app(false), &server).await;
    let queue = sender.queue(QueueConfig::default().batch(BatchLimits::new(
        Duration::from_secs(3600),
        100,
        1 << 20,
    )));
    let events = some_events(3);
    for event in &events {
        queue.push("1", event.clone()).await.expect("queued");
    }
    drop(queue);
    for _ in 0..500 {
        if !server.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = server.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(verified_events(&got[0].body), events);
}

/// Defect: a queue whose runtime stopped (the end of `main` without `shutdown`) lost its
/// batched events without a word.
#[test]
fn a_queue_stopped_with_its_runtime_hands_its_events_to_on_unclaimed() {
    let unclaimed = Unclaimed::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let events = some_events(5);
    let queue = runtime.block_on(async {
        let sender = Sender::builder()
            .app(lambda_app(false))
            .endpoint_override("http://127.0.0.1:1")
            .on_unclaimed(unclaimed.handler())
            .build()
            .await
            .expect("sender");
        let queue = sender.queue(QueueConfig::default().batch(BatchLimits::new(
            Duration::from_secs(3600),
            100,
            1 << 20,
        )));
        for event in &events {
            queue.push("1", event.clone()).await.expect("queued");
        }
        queue
    });
    drop(runtime);
    drop(queue);
    let handed = unclaimed.take();
    assert_eq!(handed.len(), 1, "{handed:#?}");
    let failure = handed[0].failure().expect("failed");
    assert_eq!(failure.kind, FailureKind::Cancelled);
    assert_eq!(verified_events(handed[0].request.body.as_bytes()), events);
}
