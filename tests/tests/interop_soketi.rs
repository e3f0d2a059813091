//! Interop (issue 5, part 1): the real soketi 1.6.1 drives the example function.
//!
//! soketi runs on 127.0.0.1 with one app and two `lambda_function` webhooks (one
//! `RequestResponse`, one `"async": true`), both pointed through `lambda.client_options.endpoint`
//! at a recording proxy that forwards every invocation byte for byte to the example function
//! under `cargo lambda watch`. `tests/interop/driver.mjs` then drives soketi with real
//! Pusher-protocol clients and says which webhook events its actions must cause. From the
//! function's side we assert: every invocation soketi made was verified (summary, no function
//! error), each webhook received exactly the expected events, and the function logged one
//! dispatch line per handled event with the right fields. Once with soketi's webhook batching
//! off, once on.
//!
//! Next to the two Lambda webhooks, the same app has a `url` webhook (soketi's HTTP transport)
//! pointed through a recording HTTP proxy at the function's Function URL under the same watch
//! instance: every HTTP webhook must be answered 200 with its events, the webhook must receive
//! exactly the expected events too, and the function logs each event a third time.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use soketi_e2e_tests::broken;
use soketi_e2e_tests::driver::{Ev, expected_events, payload_events, sorted};
use soketi_e2e_tests::flog;
use soketi_e2e_tests::function_url::{self, HttpProxy, HttpRecord};
use soketi_e2e_tests::lambda::summary_events;
use soketi_e2e_tests::proxy::{Record, RecordingProxy};
use soketi_e2e_tests::soketi::{self, Soketi, run_node_script};
use soketi_e2e_tests::tools::run_dir;
use soketi_e2e_tests::watch::{APPS, Watch};
use soketi_handler_kit::wire::Envelope;

const SYNC_FUNCTION: &str = "example-function";
const ASYNC_FUNCTION: &str = "example-function-async";

/// The events of one recorded invocation, read from the raw payload bytes.
fn recorded_events(record: &Record) -> Vec<Ev> {
    let envelope = Envelope::parse(&record.body)
        .unwrap_or_else(|e| panic!("soketi sent no envelope ({e}): {}", record.body_text()));
    payload_events(envelope.payload_json())
}

/// The events of one HTTP webhook: the body is the payload.
fn http_events(record: &HttpRecord) -> Vec<Ev> {
    payload_events(
        std::str::from_utf8(&record.body)
            .unwrap_or_else(|e| panic!("soketi sent a non-UTF-8 body ({e})")),
    )
}

fn describe(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| {
            format!(
                "{} {} -> {} {:?} {}\n    {}",
                r.function(),
                r.invocation_type,
                r.outcome.status,
                r.outcome.function_error,
                r.outcome.body,
                r.body_text()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn soketi_drives_the_function(batching: bool) {
    let name = if batching {
        "soketi-batching"
    } else {
        "soketi-no-batching"
    };
    let prefix = if batching { "sk-on" } else { "sk-off" };
    let watch = Watch::shared();
    let proxy =
        RecordingProxy::start(move |invocation_type, body| watch.invoke(invocation_type, body));
    let endpoint = proxy.endpoint_url();
    let http_proxy = HttpProxy::start(function_url::url(watch, "webhooks"));
    let mut soketi = Soketi::start(
        name,
        vec![
            soketi::lambda_webhook(SYNC_FUNCTION, &endpoint, false),
            soketi::lambda_webhook(ASYNC_FUNCTION, &endpoint, true),
            soketi::url_webhook(&http_proxy.url()),
        ],
        batching,
    );

    let out = run_dir().join(format!("{name}-expected.json"));
    let driver_args = serde_json::json!({
        "port": soketi.port,
        "key": soketi::APP_KEY,
        "secret": soketi::APP_SECRET,
        "prefix": prefix,
    });
    run_node_script(
        &format!("{name}-driver"),
        "driver.mjs",
        &[driver_args.to_string(), out.display().to_string()],
        Duration::from_secs(120),
    );
    let expected = expected_events(&out);
    assert!(
        expected.len() >= 20,
        "the driver expects too little: {expected:?}"
    );

    // Wait (bounded) until each webhook has received as many events as expected.
    let count = |records: &[Record], function: &str| -> usize {
        records
            .iter()
            .filter(|r| r.function() == function)
            .map(|r| recorded_events(r).len())
            .sum()
    };
    proxy.wait_until(
        "soketi's webhooks to reach the function",
        Duration::from_secs(60),
        |records| {
            count(records, SYNC_FUNCTION) >= expected.len()
                && count(records, ASYNC_FUNCTION) >= expected.len()
        },
        |records| {
            format!(
                "expected {} events per webhook; recorded:\n{}\n{}",
                expected.len(),
                describe(records),
                soketi.log_tail(40)
            )
        },
    );
    let http_count =
        |records: &[HttpRecord]| -> usize { records.iter().map(|r| http_events(r).len()).sum() };
    http_proxy.wait_until(
        "soketi's url webhook to reach the function",
        Duration::from_secs(60),
        |records| http_count(records) >= expected.len(),
        |records| {
            format!(
                "expected {} events over HTTP; recorded {} requests: {records:#?}\n{}",
                expected.len(),
                records.len(),
                soketi.log_tail(40)
            )
        },
    );
    // Every client is gone: nothing more can come. Stop soketi, then judge what arrived.
    soketi.stop();
    let records = proxy.records();
    let http_records = http_proxy.records();
    let context = || format!("{}\n{}", describe(&records), watch.log_tail(10));

    // 1. Every invocation soketi made was verified by the function, which dispatched the
    //    payload's events in order; the invocation type is the webhook's.
    for record in &records {
        let names: Vec<String> = recorded_events(record)
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(
            record.outcome.status == 200 && record.outcome.function_error.is_none(),
            "the function rejected a webhook soketi sent: {} {:?} {}\nrequest: {}",
            record.function(),
            record.outcome.function_error,
            record.outcome.body,
            record.body_text()
        );
        let summary = record.outcome.summary();
        assert_eq!(summary_events(&summary), names, "{summary}");
        assert_eq!(summary["app_key"], soketi::APP_KEY);
        let expected_type = match record.function() {
            SYNC_FUNCTION => "RequestResponse",
            ASYNC_FUNCTION => "Event",
            other => panic!("an invocation of an unknown function {other}"),
        };
        assert_eq!(record.invocation_type, expected_type, "{}", record.path);
    }

    // 2. Each webhook received exactly the events the driver caused: none missing, none extra.
    let expected_sorted = sorted(&expected);
    for function in [SYNC_FUNCTION, ASYNC_FUNCTION] {
        let received: Vec<Ev> = records
            .iter()
            .filter(|r| r.function() == function)
            .flat_map(recorded_events)
            .collect();
        assert_eq!(
            sorted(&received),
            expected_sorted,
            "{function}: the events soketi delivered differ from what the clients did\n{}",
            context()
        );
    }

    // 1b. Every HTTP webhook soketi sent was a POST verified by the function (200, summary of
    //     its events in order), and the url webhook received exactly the expected events.
    for record in &http_records {
        let names: Vec<String> = http_events(record).into_iter().map(|e| e.name).collect();
        assert_eq!(record.method, "POST", "{record:?}");
        assert_eq!(
            record.answer.status,
            200,
            "the function rejected an HTTP webhook soketi sent: {}\nrequest: {}",
            record.answer.body,
            record.body_text()
        );
        let summary = record.answer.summary();
        assert_eq!(summary_events(&summary), names, "{summary}");
        assert_eq!(summary["app_key"], soketi::APP_KEY);
    }
    let over_http: Vec<Ev> = http_records.iter().flat_map(http_events).collect();
    assert_eq!(
        sorted(&over_http),
        sorted(&expected),
        "the url webhook: the events soketi delivered differ from what the clients did\n{}",
        watch.log_tail(10)
    );

    // 3. Batching as configured.
    let sizes: Vec<usize> = records
        .iter()
        .map(|r| recorded_events(r).len())
        .chain(http_records.iter().map(|r| http_events(r).len()))
        .collect();
    if batching {
        assert!(
            sizes.iter().any(|&n| n > 1),
            "batching on, but no batch: {sizes:?}"
        );
    } else {
        assert!(
            sizes.iter().all(|&n| n == 1),
            "batching off, yet batches: {sizes:?}"
        );
    }

    // 4. The function's own log: one dispatch line per handled event per webhook, with the
    //    right fields (user ids as text, client data as the raw JSON soketi sent).
    let channels: BTreeSet<&str> = expected.iter().map(|e| e.channel.as_str()).collect();
    let handled = [
        "channel_occupied",
        "channel_vacated",
        "member_added",
        "member_removed",
        "client_event",
    ];
    let as_logged = |e: &Ev| flog::Dispatched {
        webhook: e.name.clone(),
        channel: Some(e.channel.clone()),
        user_id: e
            .user_id
            .as_ref()
            .map(|u| match serde_json::from_str::<Value>(u) {
                Ok(Value::String(s)) => s,
                _ => u.clone(),
            }),
        client_event: e.event.clone(),
        data: e.data.clone(),
        message: String::new(),
        request_id: None,
    };
    let strip = |d: &flog::Dispatched| flog::Dispatched {
        message: String::new(),
        request_id: None,
        ..d.clone()
    };
    let logged: Vec<flog::Dispatched> = flog::dispatched(&watch.function_log())
        .iter()
        .filter(|d| d.channel.as_deref().is_some_and(|c| channels.contains(c)))
        .map(strip)
        .collect();
    let mut expected_logged: Vec<flog::Dispatched> = expected
        .iter()
        .filter(|e| handled.contains(&e.name.as_str()))
        .map(as_logged)
        .collect();
    // Once for the RequestResponse webhook, once for the async one, once for the url one.
    let once = expected_logged.clone();
    expected_logged.extend(once.clone());
    expected_logged.extend(once);
    assert_eq!(
        sorted(&logged),
        sorted(&expected_logged),
        "the function's dispatch log differs from the events soketi sent"
    );

    // 5. The corpus keeps its teeth: a verifier that re-serializes the payload would have
    //    rejected some of these webhooks (the hostile client data).
    if !broken::enabled() {
        let caught = records
            .iter()
            .filter(|r| broken::check_lambda_body(&r.body, &APPS).is_err())
            .count();
        assert!(
            caught > 0,
            "no webhook of this run would fail a re-serializing verifier: the hostile data lost its teeth"
        );
    }
}

#[test]
fn soketi_webhooks_without_batching_are_all_verified_and_dispatched() {
    soketi_drives_the_function(false);
}

#[test]
fn soketi_webhooks_with_batching_are_all_verified_and_dispatched() {
    soketi_drives_the_function(true);
}
