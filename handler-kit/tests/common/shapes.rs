//! The Lambda events of an HTTP request in each shape AWS delivers it (feature `http`).

use base64::Engine as _;
use serde_json::{Map, Value, json};

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
pub enum Shape {
    FunctionUrl,
    HttpApiV2,
    RestApiV1,
    Alb,
    AlbMultiValue,
}

pub const SHAPES: [Shape; 5] = [
    Shape::FunctionUrl,
    Shape::HttpApiV2,
    Shape::RestApiV1,
    Shape::Alb,
    Shape::AlbMultiValue,
];

/// The Lambda event that `shape` delivers for a request, as AWS documents each: Function URLs,
/// HTTP APIs and ALBs lower-case header names; REST APIs keep them and add
/// `multiValueHeaders`.
pub fn event(
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
