//! Properties of the send path, over generated events: what the sender batches, splits and
//! signs reads back, with the kit's verifier, as the same events in the same order with the
//! same `time_ms`, and re-parses as JSON to the same value; a dead letter written and read
//! back is the same record.

use proptest::prelude::*;
use serde_json::Value;
use soketi_handler_kit::testing::strategy::event;
use soketi_handler_kit::wire::{Event, EventKind};
use soketi_handler_kit::{Keyring, Verifier};
use soketi_lambda_sender::config::{App, Target, Webhook};
use soketi_lambda_sender::deliver::{
    DeadLetter, DeliveryReport, Failure, FailureKind, Outcome, Replay, parse_dead_letters,
};
use soketi_lambda_sender::route::{Limits, plan};

const KEY: &str = "app1key";
const SECRET: &str = "app1secret";

/// An app with a synchronous and an asynchronous Lambda webhook and an HTTP webhook, each
/// wanting every event type, with custom headers.
fn app() -> App {
    let webhook = |w: Webhook| w.event_types(EventKind::ALL.iter().copied());
    App::new("1", KEY, SECRET)
        .webhook(webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .header("X-Env", "prod"),
        ))
        .webhook(webhook(
            Webhook::lambda("g")
                .region("eu-west-1")
                .async_invocation(true),
        ))
        .webhook(webhook(
            Webhook::http("https://hooks.example/in").header("Authorization", "Bearer t"),
        ))
}

fn failure() -> impl Strategy<Value = Failure> {
    (
        prop::sample::select(vec![
            FailureKind::TooLarge,
            FailureKind::Throttled,
            FailureKind::ServerError,
            FailureKind::Timeout,
            FailureKind::Connection,
            FailureKind::FunctionError,
            FailureKind::Rejected,
            FailureKind::Config,
            FailureKind::Internal,
        ]),
        "\\PC{0,40}",
        prop::option::of(100..600u16),
        any::<u32>(),
    )
        .prop_map(|(kind, message, status, attempts)| Failure::new(kind, message, status, attempts))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any events, batched and split by the sender (small size limits force splits), read
    /// back with the kit's verifier as the same events, in order, with the same `time_ms`; the
    /// payload and the Lambda envelope re-parse as JSON to the same values.
    #[test]
    fn what_the_sender_signs_reads_back_the_same(
        events in prop::collection::vec(event(), 0..16),
        time_ms in any::<u64>(),
        limit in 300..3000usize,
    ) {
        let app = app();
        let limits = Limits::default().request_response_bytes(limit).event_bytes(limit).http_bytes(limit);
        let planned = plan(&app, time_ms, 7, &events, &limits);
        let verifier = Verifier::new(Keyring::new().app(KEY, SECRET));
        let routed: Vec<&Event> = events.iter().filter(|e| e.kind().is_some()).collect();
        let unrouted: Vec<&Event> = events.iter().filter(|e| e.kind().is_none()).collect();
        prop_assert_eq!(planned.unrouted.iter().collect::<Vec<_>>(), unrouted);
        for webhook in 0..app.webhooks.len() {
            let mut read = Vec::new();
            for request in planned.requests.iter().filter(|r| r.webhook == webhook) {
                let verified = match &request.target {
                    Target::Lambda(_) => verifier.verify_lambda_body(request.body.as_bytes()),
                    _ => verifier.verify_parts(
                        request.body.as_bytes(),
                        request.header("X-Pusher-Key"),
                        request.header("X-Pusher-Signature"),
                    ),
                }.expect("verifies");
                prop_assert_eq!(verified.payload().time_ms(), time_ms);
                let decoded: Vec<Event> =
                    verified.payload().events().collect::<Result<_, _>>().expect("decodes");
                prop_assert_eq!(&decoded, &request.events);
                read.extend(decoded);

                let payload: Value = serde_json::from_str(&request.payload).expect("JSON");
                prop_assert_eq!(payload["time_ms"].as_u64(), Some(time_ms));
                let expected: Vec<Value> = request
                    .events
                    .iter()
                    .map(|e| serde_json::from_str(&e.to_json()).expect("event JSON"))
                    .collect();
                prop_assert_eq!(&payload["events"], &Value::Array(expected));
                prop_assert_eq!(payload.as_object().map(|o| o.len()), Some(2));
                if let Target::Lambda(_) = request.target {
                    let body: Value = serde_json::from_str(&request.body).expect("JSON");
                    prop_assert_eq!(&body["payload"], &payload);
                    let headers: serde_json::Map<String, Value> = request
                        .headers
                        .iter()
                        .map(|(n, v)| (n.clone(), Value::from(v.as_str())))
                        .collect();
                    prop_assert_eq!(&body["headers"], &Value::Object(headers));
                }
            }
            prop_assert_eq!(read.iter().collect::<Vec<_>>(), routed.clone(), "webhook {}", webhook);
        }
    }

    /// A dead letter written as a line and read back is the same record, and sent again is
    /// the same request; a file of such lines reads back in order.
    #[test]
    fn dead_letters_read_back_the_same(
        events in prop::collection::vec(event(), 1..8),
        time_ms in any::<u64>(),
        failures in prop::collection::vec(failure(), 1..4),
    ) {
        let app = app();
        let planned = plan(&app, time_ms, 7, &events, &Limits::default());
        let mut letters = Vec::new();
        for (request, failure) in planned.requests.iter().zip(failures.iter().cycle()) {
            let report = DeliveryReport::new(request.clone(), Outcome::Failed(failure.clone()));
            let letter = DeadLetter::from_report(&report).expect("failed");
            let line = letter.to_json_line();
            prop_assert!(!line.contains('\n'));
            let back = DeadLetter::from_json_line(&line).expect("reads");
            prop_assert_eq!(&back, &letter);
            let again = back.to_request(std::slice::from_ref(&app), &Replay::new());
            prop_assert_eq!(again.as_ref(), Ok(request));
            letters.push((line, letter));
        }
        let text: String = letters.iter().map(|(line, _)| format!("{line}\n")).collect();
        let file = parse_dead_letters(text);
        prop_assert!(file.skipped.is_empty());
        let read: Vec<&DeadLetter> = file.letters.iter().map(|(_, l)| l).collect();
        let written: Vec<&DeadLetter> = letters.iter().map(|(_, l)| l).collect();
        prop_assert_eq!(read, written);
    }
}

/// The fuzzer's seeds (`fuzz/seeds/`) stay current: the dead-letter lines, written by the
/// sender, read as letters of this version, and the apps files read (`errors*` as errors).
#[test]
fn the_fuzz_seeds_are_current() {
    let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds");
    let read = |dir: &str| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(format!("{seeds}/{dir}"))
            .expect("seeds")
            .map(|e| {
                let path = e.expect("entry").path();
                let name = path
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned();
                (name, std::fs::read(&path).expect("seed"))
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{dir}");
        files
    };
    for (name, bytes) in read("dead_letter_line") {
        let file = parse_dead_letters(bytes);
        assert!(file.skipped.is_empty(), "{name}: {:?}", file.skipped);
        assert!(!file.letters.is_empty(), "{name}");
    }
    for (name, bytes) in read("sender_apps_file") {
        let text = String::from_utf8(bytes).expect("UTF-8");
        let result = soketi_lambda_sender::config::parse_apps_file(&text);
        assert_eq!(
            result.is_err(),
            name.starts_with("errors"),
            "{name}: {result:?}"
        );
    }
}
