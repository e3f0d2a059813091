//! HTTP webhooks (feature `http`): every recorded soketi 1.6.1 request, sent as the HTTP
//! request it was (or would be, for a `url` webhook), verified through each Lambda event shape
//! that can carry it (Function URL, API Gateway HTTP and REST APIs, ALB with and without
//! multi-value headers, base64 body or not), through the dispatcher `run` serves, and through
//! the `tower::Service` that lambda_http and axum apps mount. Then the statuses and error
//! bodies, the Lambda context (its deadline) reaching the callbacks on every transport both
//! ways, and the same events reaching the same callbacks both ways. (`run` itself, against a
//! Runtime API: `tests/run_in_lambda.rs`.)

mod common;

use std::sync::{Arc, Mutex};

use common::shapes::{SHAPES, Shape, event};
use lambda_http::RequestExt as _;
use serde_json::{Value, json};
use soketi_handler_kit::wire::write_lambda_body;
use soketi_handler_kit::wire::{ChannelOccupied, Event};
use soketi_handler_kit::{Context, InvocationResponse, Keyring, Verifier, Webhooks};
use tower::Service as _;

fn keyring() -> Keyring {
    Keyring::new()
        .app("app1key", "app1secret")
        .app("app2key", "app2secret")
}

fn webhooks() -> Webhooks {
    Webhooks::new(Verifier::new(keyring())).on_any(|_ev: Event, _cx: Context| async move { Ok(()) })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// One recorded request as an HTTP request: the body soketi POSTed (for Lambda invocations,
/// the payload bytes inside the envelope) and its headers in order.
struct Recorded {
    file: String,
    app_key: String,
    events: Vec<String>,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

fn recorded() -> Vec<Recorded> {
    common::manifest()
        .files
        .into_iter()
        .map(|v| {
            let raw = v.bytes();
            let (body, headers) = if v.is_lambda() {
                // soketi's envelope is `{"payload":<payload>,"headers":{…}}`: cut the payload
                // bytes out as they are.
                let text = std::str::from_utf8(&raw).expect("UTF-8");
                let start = "{\"payload\":".len();
                let end = text.rfind(",\"headers\":{").expect("headers");
                assert!(text.starts_with("{\"payload\":"), "{}", v.file);
                let value: Value = serde_json::from_slice(&raw).expect("envelope JSON");
                let pairs: Vec<(String, String)> = value["headers"]
                    .as_object()
                    .expect("headers object")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("string header").to_owned()))
                    .collect();
                (raw[start..end].to_vec(), pairs)
            } else {
                assert!(!v.http_headers.is_empty(), "{}: no headers", v.file);
                (raw, v.http_headers.clone())
            };
            Recorded {
                file: v.file,
                app_key: v.app_key,
                events: v.events,
                body,
                headers,
            }
        })
        .collect()
}

/// Runs `event` through the dispatcher `run` serves; the HTTP response it answers.
fn invoke(webhooks: &Webhooks, event: &[u8]) -> Value {
    let mut context = lambda_runtime::Context::default();
    context.request_id = "lambda-req".into();
    match block_on(webhooks.verify_and_receive(event, context)) {
        Ok(InvocationResponse::Http(response)) => serde_json::to_value(response).unwrap(),
        other => panic!("an HTTP event was not answered as one: {other:?}"),
    }
}

fn body_of(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().expect("a string body")).expect("JSON body")
}

#[test]
fn every_recorded_request_verifies_through_every_http_event_shape() {
    let service = webhooks();
    let all = recorded();
    assert!(all.len() >= 10);
    let mut checked = 0;
    for request in &all {
        for shape in SHAPES {
            for base64 in [false, true] {
                let event = event(shape, "POST", &request.headers, &request.body, base64);
                let response = invoke(&service, &event);
                let what = format!("{} as {shape:?} (base64: {base64})", request.file);
                assert_eq!(response["statusCode"], 200, "{what}: {response}");
                let summary = body_of(&response);
                assert_eq!(summary["events"], json!(request.events), "{what}");
                assert_eq!(summary["app_key"], request.app_key.as_str(), "{what}");
                assert_eq!(
                    summary["handled"].as_u64(),
                    Some(request.events.len() as u64),
                    "{what}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, all.len() * SHAPES.len() * 2);
}

#[test]
fn the_responses_have_the_shape_each_origin_expects() {
    let service = webhooks();
    let request = &recorded()[0];
    let response = |shape| {
        invoke(
            &service,
            &event(shape, "POST", &request.headers, &request.body, false),
        )
    };
    let url = response(Shape::FunctionUrl);
    assert_eq!(url["headers"]["content-type"], "application/json");
    assert!(url.get("statusDescription").is_none(), "{url}");
    let rest = response(Shape::RestApiV1);
    assert_eq!(
        rest["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    let alb = response(Shape::AlbMultiValue);
    assert_eq!(alb["statusDescription"], "200 OK");
    assert_eq!(alb["isBase64Encoded"], false);
}

/// The recorded HTTP request 041 with its headers changed by `edit`, sent as `shape`.
fn edited(
    shape: Shape,
    method: &str,
    edit: impl FnOnce(&mut Vec<(String, String)>, &mut Vec<u8>),
) -> Vec<u8> {
    let request = recorded()
        .into_iter()
        .find(|r| r.file == "041.json")
        .expect("041.json");
    let (mut headers, mut body) = (request.headers, request.body);
    edit(&mut headers, &mut body);
    event(shape, method, &headers, &body, false)
}

fn set(headers: &mut [(String, String)], name: &str, value: &str) {
    for (n, v) in headers.iter_mut() {
        if n.eq_ignore_ascii_case(name) {
            *v = value.to_owned();
        }
    }
}

#[test]
fn failures_have_their_status_and_stable_kind_and_no_secret() {
    let service = webhooks().max_body_bytes(4096);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "wrong signature",
            edited(Shape::FunctionUrl, "POST", |h, _| {
                set(h, "X-Pusher-Signature", &"0".repeat(64))
            }),
            401,
            "InvalidSignature",
        ),
        (
            "tampered body",
            edited(Shape::RestApiV1, "POST", |_, b| {
                *b = String::from_utf8(b.clone())
                    .unwrap()
                    .replace("public-chan", "public-chap")
                    .into_bytes()
            }),
            401,
            "InvalidSignature",
        ),
        (
            "no signature",
            edited(Shape::Alb, "POST", |h, _| {
                h.retain(|(n, _)| n != "X-Pusher-Signature")
            }),
            401,
            "MissingSignature",
        ),
        (
            "malformed signature",
            edited(Shape::HttpApiV2, "POST", |h, _| {
                set(h, "X-Pusher-Signature", "not-hex")
            }),
            401,
            "MalformedSignature",
        ),
        (
            "no app key",
            edited(Shape::FunctionUrl, "POST", |h, _| {
                h.retain(|(n, _)| n != "X-Pusher-Key")
            }),
            401,
            "MissingAppKey",
        ),
        (
            "unknown app key",
            edited(Shape::FunctionUrl, "POST", |h, _| {
                set(h, "X-Pusher-Key", "app9key")
            }),
            401,
            "UnknownAppKey",
        ),
        (
            "a signature sent twice (REST API multiValueHeaders)",
            {
                let request = recorded()
                    .into_iter()
                    .find(|r| r.file == "041.json")
                    .unwrap();
                let sig = request
                    .headers
                    .iter()
                    .find(|(n, _)| n == "X-Pusher-Signature")
                    .unwrap()
                    .1
                    .clone();
                let mut event: Value = serde_json::from_slice(&event(
                    Shape::RestApiV1,
                    "POST",
                    &request.headers,
                    &request.body,
                    false,
                ))
                .unwrap();
                // API Gateway lists both values in multiValueHeaders and the last in headers.
                event["multiValueHeaders"]["X-Pusher-Signature"] = json!([sig.clone(), sig]);
                serde_json::to_vec(&event).unwrap()
            },
            400,
            "MalformedEnvelope",
        ),
        (
            "a key sent twice (ALB with multi-value headers)",
            {
                let mut event: Value =
                    serde_json::from_slice(&edited(Shape::AlbMultiValue, "POST", |_, _| {}))
                        .unwrap();
                event["multiValueHeaders"]["x-pusher-key"] = json!(["app2key", "app1key"]);
                serde_json::to_vec(&event).unwrap()
            },
            400,
            "MalformedEnvelope",
        ),
        (
            "signed, but not a soketi payload",
            {
                let body = br#"{"hello":"world"}"#.to_vec();
                let signed = soketi_handler_kit::wire::SignedPayload::new(
                    String::from_utf8(body.clone()).unwrap(),
                    "app2key",
                    &soketi_handler_kit::wire::Secret::new("app2secret"),
                );
                let headers = vec![
                    ("X-Pusher-Key".to_owned(), "app2key".to_owned()),
                    (
                        "X-Pusher-Signature".to_owned(),
                        signed.signature().to_string(),
                    ),
                ];
                event(Shape::FunctionUrl, "POST", &headers, &body, false)
            },
            400,
            "MalformedPayload",
        ),
        (
            "invalid base64",
            {
                let mut event: Value =
                    serde_json::from_slice(&edited(Shape::FunctionUrl, "POST", |_, _| {})).unwrap();
                event["isBase64Encoded"] = json!(true);
                event["body"] = json!("not base64 at all!");
                serde_json::to_vec(&event).unwrap()
            },
            400,
            "MalformedEnvelope",
        ),
        (
            "a GET",
            edited(Shape::FunctionUrl, "GET", |_, _| {}),
            405,
            "MethodNotAllowed",
        ),
        (
            "a PUT (REST API)",
            edited(Shape::RestApiV1, "PUT", |_, _| {}),
            405,
            "MethodNotAllowed",
        ),
        (
            "over the configured size",
            edited(Shape::FunctionUrl, "POST", |_, b| {
                b.extend(std::iter::repeat_n(b' ', 5000))
            }),
            413,
            "PayloadTooLarge",
        ),
    ];
    for (what, event, status, kind) in cases {
        let response = invoke(&service, &event);
        assert_eq!(response["statusCode"], status, "{what}: {response}");
        let body = body_of(&response);
        assert_eq!(body["errorType"], kind, "{what}: {body}");
        assert!(
            body["errorMessage"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        let text = response.to_string();
        assert!(
            !text.contains("app2secret") && !text.contains("app1secret"),
            "{what}: {text}"
        );
        if status == 405 {
            assert_eq!(response["headers"]["allow"], "POST", "{what}");
        }
    }
}

#[test]
fn header_names_are_matched_ignoring_case() {
    let service = webhooks();
    for spelling in [
        str::to_ascii_uppercase as fn(&str) -> String,
        str::to_ascii_lowercase,
    ] {
        let event = edited(Shape::RestApiV1, "POST", |h, _| {
            for (n, _) in h.iter_mut() {
                *n = spelling(n);
            }
        });
        assert_eq!(invoke(&service, &event)["statusCode"], 200);
    }
}

#[test]
fn failing_callbacks_answer_500_without_their_details() {
    let webhooks = Webhooks::new(Verifier::new(keyring())).on_channel_occupied(
        |_ev: ChannelOccupied, _cx: Context| async move {
            Err("database password hunter2 rejected".into())
        },
    );
    let response = invoke(&webhooks, &edited(Shape::FunctionUrl, "POST", |_, _| {}));
    assert_eq!(response["statusCode"], 500, "{response}");
    assert_eq!(body_of(&response)["errorType"], "HandlerFailed");
    assert!(!response.to_string().contains("hunter2"), "{response}");
}

#[test]
fn anything_else_is_a_malformed_envelope_and_envelopes_still_work() {
    let service = webhooks();
    for event in [
        &br#"{"probe":"not an envelope"}"#[..],
        br#"[1,2]"#,
        br#"{"requestContext":{"connectionId":"x"},"body":"{}"}"#,
    ] {
        let error = block_on(service.verify_and_receive(event, "r")).expect_err("not a webhook");
        assert_eq!(error.kind().as_str(), "MalformedEnvelope");
    }
    let vector = common::manifest()
        .files
        .into_iter()
        .find(|v| v.file == "001.json")
        .unwrap();
    match block_on(service.verify_and_receive(&vector.bytes(), "r")) {
        Ok(InvocationResponse::Summary(summary)) => {
            assert_eq!(summary.events(), ["channel_occupied"])
        }
        other => panic!("the envelope was not handled as one: {other:?}"),
    }
}

/// The `tower::Service<http::Request<_>>` that lambda_http and axum apps mount.
#[test]
fn the_http_service_verifies_requests_and_limits_bodies() {
    let mut service = webhooks().max_body_bytes(4096);
    for request in recorded() {
        let mut builder = http::Request::builder().method("POST").uri("/webhooks");
        for (n, v) in &request.headers {
            builder = builder.header(n, v);
        }
        let req = builder
            .body(String::from_utf8(request.body.clone()).unwrap())
            .unwrap();
        let response = block_on(service.call(req)).unwrap();
        assert_eq!(response.status(), 200, "{}", request.file);
        assert_eq!(response.headers()["content-type"], "application/json");
    }
    let get = http::Request::builder()
        .method("GET")
        .body(String::new())
        .unwrap();
    let response = block_on(service.call(get)).unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let big = http::Request::builder()
        .method("POST")
        .body("x".repeat(5000))
        .unwrap();
    assert_eq!(block_on(service.call(big)).unwrap().status(), 413);
    let mut twice = http::Request::builder().method("POST");
    for (n, v) in &recorded()[0].headers {
        twice = twice.header(n, v);
    }
    let sig = recorded()[0]
        .headers
        .iter()
        .find(|(n, _)| n == "X-Pusher-Signature")
        .unwrap()
        .1
        .clone();
    let req = twice
        .header("x-pusher-signature", sig)
        .body(String::from_utf8(recorded()[0].body.clone()).unwrap())
        .unwrap();
    assert_eq!(block_on(service.call(req)).unwrap().status(), 400);
}

/// What a callback saw: the event and its context.
type Seen = Arc<Mutex<Vec<(Event, Option<String>, u64, usize, usize)>>>;

fn recording() -> (Webhooks, Seen) {
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let webhooks = Webhooks::new(Verifier::new(keyring())).on_any(move |ev: Event, cx: Context| {
        let sink = Arc::clone(&sink);
        async move {
            sink.lock().unwrap().push((
                ev,
                cx.app_key().map(str::to_owned),
                cx.time_ms(),
                cx.event_index(),
                cx.event_count(),
            ));
            Ok(())
        }
    });
    (webhooks, seen)
}

/// Every recorded request sent both ways — as soketi's Lambda envelope and as an HTTP request
/// through a Function URL — reaches the callbacks with the same events and context.
#[test]
fn the_same_events_reach_the_same_callbacks_both_ways() {
    for request in recorded() {
        let (lambda_side, by_lambda) = recording();
        let envelope = write_lambda_body(
            std::str::from_utf8(&request.body).unwrap(),
            &request.headers,
        );
        block_on(lambda_side.verify_and_receive(envelope.as_bytes(), "r"))
            .expect("envelope verified");

        let (http_side, by_http) = recording();
        let response = invoke(
            &http_side,
            &event(
                Shape::FunctionUrl,
                "POST",
                &request.headers,
                &request.body,
                true,
            ),
        );
        assert_eq!(response["statusCode"], 200, "{}", request.file);

        let (a, b) = (
            by_lambda.lock().unwrap().clone(),
            by_http.lock().unwrap().clone(),
        );
        assert_eq!(a.len(), request.events.len(), "{}", request.file);
        assert_eq!(a, b, "{}: the callbacks saw different things", request.file);
    }
}

/// The deadline and request id each callback saw.
type Deadlines = Arc<Mutex<Vec<(Option<std::time::SystemTime>, String)>>>;

/// Webhooks recording the deadline and request id each callback saw.
fn deadlines() -> (Webhooks, Deadlines) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let webhooks =
        Webhooks::new(Verifier::new(keyring())).on_any(move |_ev: Event, cx: Context| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock()
                    .unwrap()
                    .push((cx.deadline(), cx.request_id().to_owned()));
                Ok(())
            }
        });
    (webhooks, seen)
}

fn lambda_context(request_id: &str, deadline_ms: u64) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = deadline_ms;
    context
}

/// The invocation's deadline reaches the callbacks of a soketi envelope and of an HTTP
/// request in each event shape, as the dispatcher `run` serves them: the idempotency lease is
/// taken from it on every transport.
#[test]
fn the_deadline_reaches_callbacks_on_every_transport() {
    let (webhooks, seen) = deadlines();
    let request = recorded()
        .into_iter()
        .find(|r| r.file == "041.json")
        .expect("041.json");
    let mut expected = Vec::new();
    let envelope = write_lambda_body(
        std::str::from_utf8(&request.body).unwrap(),
        &request.headers,
    );
    let mut invocations = vec![("envelope".to_owned(), envelope.into_bytes())];
    for shape in SHAPES {
        let event = event(shape, "POST", &request.headers, &request.body, false);
        invocations.push((format!("{shape:?}"), event));
    }
    for (i, (what, event)) in invocations.iter().enumerate() {
        let deadline_ms = 1_900_000_000_000 + i as u64;
        let context = lambda_context(what, deadline_ms);
        let response = block_on(webhooks.verify_and_receive(event, context)).expect(what);
        if let InvocationResponse::Http(http) = &response {
            assert_eq!(http.status_code(), 200, "{what}: {}", http.body());
        }
        let deadline = std::time::UNIX_EPOCH + std::time::Duration::from_millis(deadline_ms);
        expected.push((Some(deadline), what.clone()));
    }
    assert_eq!(*seen.lock().unwrap(), expected);
}

/// The same through the `tower::Service` under `lambda_http`: each event converted to an
/// `http::Request` by lambda_http itself, with the Lambda context as the extension it sets.
#[test]
fn the_deadline_reaches_callbacks_through_the_tower_service() {
    let (mut webhooks, seen) = deadlines();
    let request = recorded()
        .into_iter()
        .find(|r| r.file == "041.json")
        .expect("041.json");
    let mut expected = Vec::new();
    for (i, shape) in SHAPES.into_iter().enumerate() {
        let what = format!("{shape:?}");
        let event = event(shape, "POST", &request.headers, &request.body, false);
        let http_request = lambda_http::request::from_str(std::str::from_utf8(&event).unwrap())
            .expect("lambda_http reads the event");
        let deadline_ms = 1_900_000_001_000 + i as u64;
        let http_request = http_request.with_lambda_context(lambda_context(&what, deadline_ms));
        let response = block_on(webhooks.call(http_request)).unwrap();
        assert_eq!(response.status(), 200, "{what}");
        let deadline = std::time::UNIX_EPOCH + std::time::Duration::from_millis(deadline_ms);
        expected.push((Some(deadline), what));
    }
    // Outside Lambda (axum on a server): no context, no deadline.
    let mut plain = http::Request::builder().method("POST").uri("/webhooks");
    for (n, v) in &request.headers {
        plain = plain.header(n, v);
    }
    let plain = plain
        .body(String::from_utf8(request.body.clone()).unwrap())
        .unwrap();
    assert_eq!(block_on(webhooks.call(plain)).unwrap().status(), 200);
    expected.push((None, String::new()));
    assert_eq!(*seen.lock().unwrap(), expected);
}
