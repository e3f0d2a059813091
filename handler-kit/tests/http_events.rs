//! HTTP webhooks (feature `http`): every recorded soketi 1.6.1 request, sent as the HTTP
//! request it was (or would be, for a `url` webhook), verified through each Lambda event shape
//! that can carry it (Function URL, API Gateway HTTP and REST APIs, ALB with and without
//! multi-value headers, base64 body or not), through `run`'s both-transports service, and
//! through the `tower::Service` that lambda_http and axum apps mount. Then the statuses and
//! error bodies, and the same events reaching the same callbacks both ways.

mod common;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use soketi_handler_kit::http::{HttpWebhooks, InvocationResponse, is_http_event};
use soketi_handler_kit::wire::write_lambda_body;
use soketi_handler_kit::wire::{ChannelOccupied, Event};
use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};
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

fn object(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

fn body_fields(body: &[u8], base64: bool) -> (Value, Value) {
    if base64 {
        let encoded = base64::engine::general_purpose::STANDARD.encode(body);
        (Value::String(encoded), Value::Bool(true))
    } else {
        let text = String::from_utf8(body.to_vec()).expect("a text body");
        (Value::String(text), Value::Bool(false))
    }
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    FunctionUrl,
    HttpApiV2,
    RestApiV1,
    Alb,
    AlbMultiValue,
}

const SHAPES: [Shape; 5] = [
    Shape::FunctionUrl,
    Shape::HttpApiV2,
    Shape::RestApiV1,
    Shape::Alb,
    Shape::AlbMultiValue,
];

/// The Lambda event that `shape` delivers for a request, as AWS documents each: Function URLs,
/// HTTP APIs and ALBs lower-case header names; REST APIs keep them and add
/// `multiValueHeaders`.
fn event(
    shape: Shape,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
    base64: bool,
) -> Vec<u8> {
    let (body, encoded) = body_fields(body, base64);
    let lower = || {
        object(
            headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), Value::String(v.clone()))),
        )
    };
    let event = match shape {
        Shape::FunctionUrl | Shape::HttpApiV2 => {
            let (domain, route) = match shape {
                Shape::FunctionUrl => ("abcdefgh.lambda-url.eu-central-1.on.aws", "$default"),
                _ => (
                    "abc123.execute-api.eu-central-1.amazonaws.com",
                    "POST /webhooks",
                ),
            };
            json!({
                "version": "2.0", "routeKey": route, "rawPath": "/webhooks", "rawQueryString": "",
                "headers": lower(),
                "requestContext": {
                    "accountId": "anonymous", "apiId": "abcdefgh", "domainName": domain,
                    "domainPrefix": "abcdefgh",
                    "http": {"method": method, "path": "/webhooks", "protocol": "HTTP/1.1",
                             "sourceIp": "203.0.113.7", "userAgent": "SoketiWebhooksAxiosClient/1.0"},
                    "requestId": "req-http", "routeKey": route, "stage": "$default",
                    "time": "28/Nov/2026:23:49:00 +0000", "timeEpoch": 1795877277270u64
                },
                "body": body, "isBase64Encoded": encoded
            })
        }
        Shape::RestApiV1 => {
            let single = object(
                headers
                    .iter()
                    .map(|(n, v)| (n.clone(), Value::String(v.clone()))),
            );
            let multi = object(headers.iter().map(|(n, v)| (n.clone(), json!([v]))));
            json!({
                "resource": "/webhooks", "path": "/webhooks", "httpMethod": method,
                "headers": single, "multiValueHeaders": multi,
                "queryStringParameters": null, "multiValueQueryStringParameters": null,
                "pathParameters": null, "stageVariables": null,
                "requestContext": {"resourcePath": "/webhooks", "httpMethod": method,
                                   "requestId": "req-rest", "stage": "prod",
                                   "identity": {"sourceIp": "203.0.113.7"}},
                "body": body, "isBase64Encoded": encoded
            })
        }
        Shape::Alb | Shape::AlbMultiValue => {
            let mut event = json!({
                "requestContext": {"elb": {"targetGroupArn":
                    "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/webhooks/abc"}},
                "httpMethod": method, "path": "/webhooks", "queryStringParameters": {},
                "body": body, "isBase64Encoded": encoded
            });
            if matches!(shape, Shape::Alb) {
                event["headers"] = lower();
            } else {
                event["multiValueHeaders"] = object(
                    headers
                        .iter()
                        .map(|(n, v)| (n.to_ascii_lowercase(), json!([v]))),
                );
            }
            event
        }
    };
    serde_json::to_vec(&event).expect("event JSON")
}

/// Runs `event` through the service `run` serves; the HTTP response it answers.
fn invoke(service: &mut HttpWebhooks, event: &[u8]) -> Value {
    let raw: Box<RawValue> = serde_json::from_slice(event).expect("event is JSON");
    let mut context = lambda_runtime::Context::default();
    context.request_id = "lambda-req".into();
    let invocation = lambda_runtime::LambdaEvent::new(raw, context);
    match block_on(service.call(invocation)) {
        Ok(InvocationResponse::Http(response)) => serde_json::to_value(response).unwrap(),
        other => panic!("an HTTP event was not answered as one: {other:?}"),
    }
}

fn body_of(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().expect("a string body")).expect("JSON body")
}

#[test]
fn every_recorded_request_verifies_through_every_http_event_shape() {
    let mut service = HttpWebhooks::new(webhooks());
    let all = recorded();
    assert!(all.len() >= 10);
    let mut checked = 0;
    for request in &all {
        for shape in SHAPES {
            for base64 in [false, true] {
                let event = event(shape, "POST", &request.headers, &request.body, base64);
                assert!(is_http_event(&event), "{shape:?}");
                let response = invoke(&mut service, &event);
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
    let mut service = HttpWebhooks::new(webhooks());
    let request = &recorded()[0];
    let mut response = |shape| {
        invoke(
            &mut service,
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
    let mut service = HttpWebhooks::new(webhooks()).max_body_bytes(4096);
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
        let response = invoke(&mut service, &event);
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
    let mut service = HttpWebhooks::new(webhooks());
    for spelling in [
        str::to_ascii_uppercase as fn(&str) -> String,
        str::to_ascii_lowercase,
    ] {
        let event = edited(Shape::RestApiV1, "POST", |h, _| {
            for (n, _) in h.iter_mut() {
                *n = spelling(n);
            }
        });
        assert_eq!(invoke(&mut service, &event)["statusCode"], 200);
    }
}

#[test]
fn failing_callbacks_answer_500_without_their_details() {
    let webhooks = Webhooks::new(Verifier::new(keyring())).on_channel_occupied(
        |_ev: ChannelOccupied, _cx: Context| async move {
            Err("database password hunter2 rejected".into())
        },
    );
    let mut service = HttpWebhooks::new(webhooks);
    let response = invoke(&mut service, &edited(Shape::FunctionUrl, "POST", |_, _| {}));
    assert_eq!(response["statusCode"], 500, "{response}");
    assert_eq!(body_of(&response)["errorType"], "HandlerFailed");
    assert!(!response.to_string().contains("hunter2"), "{response}");
}

#[test]
fn anything_else_is_a_malformed_envelope_and_envelopes_still_work() {
    let mut service = HttpWebhooks::new(webhooks());
    for event in [
        &br#"{"probe":"not an envelope"}"#[..],
        br#"[1,2]"#,
        br#"{"requestContext":{"connectionId":"x"},"body":"{}"}"#,
    ] {
        let raw: Box<RawValue> = serde_json::from_slice(event).unwrap();
        let invocation = lambda_runtime::LambdaEvent::new(raw, lambda_runtime::Context::default());
        let error = block_on(service.call(invocation)).expect_err("not a webhook");
        assert_eq!(error.kind().as_str(), "MalformedEnvelope");
    }
    let vector = common::manifest()
        .files
        .into_iter()
        .find(|v| v.file == "001.json")
        .unwrap();
    let raw: Box<RawValue> = serde_json::from_slice(&vector.bytes()).unwrap();
    let invocation = lambda_runtime::LambdaEvent::new(raw, lambda_runtime::Context::default());
    match block_on(service.call(invocation)) {
        Ok(InvocationResponse::Summary(summary)) => {
            assert_eq!(summary.events(), ["channel_occupied"])
        }
        other => panic!("the envelope was not handled as one: {other:?}"),
    }
}

/// The `tower::Service<http::Request<_>>` that lambda_http and axum apps mount.
#[test]
fn the_http_service_verifies_requests_and_limits_bodies() {
    let mut service = HttpWebhooks::new(webhooks()).max_body_bytes(4096);
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
        block_on(lambda_side.handle(envelope.as_bytes(), "r")).expect("envelope verified");

        let (http_side, by_http) = recording();
        let mut service = HttpWebhooks::new(http_side);
        let response = invoke(
            &mut service,
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
