//! Reading the Lambda event of an HTTP request: a Function URL or API Gateway HTTP API
//! (payload 2.0), an API Gateway REST API (payload 1.0, also an HTTP API set to 1.0), or an
//! Application Load Balancer.
//!
//! The event is read here rather than through `lambda_http`'s request conversion for two
//! reasons: the body must reach the verifier as exactly the bytes that were sent (a base64 body
//! decoded, a text body unescaped, nothing re-serialized), and a header sent twice must stay
//! visible. API Gateway REST gives such a header as two values in `multiValueHeaders` (and only
//! the last one in `headers`); `lambda_http` merges the two maps and keeps the last value,
//! which would let a second `X-Pusher-Signature` pass unnoticed. Here every value of
//! `multiValueHeaders` is kept, so the verifier rejects the request as it rejects a duplicated
//! header in a soketi envelope. (Function URLs and HTTP APIs join repeated headers with commas
//! before the function sees them: a repeated signature then arrives as one malformed value.)

use std::fmt;

use base64::Engine as _;
use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};

/// Which kind of HTTP event a request arrived as; it decides the shape of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    /// A Lambda Function URL or an API Gateway HTTP API with payload format 2.0.
    FunctionUrlOrHttpApi,
    /// An API Gateway REST API (or an HTTP API with payload format 1.0).
    RestApi,
    /// An Application Load Balancer target group (with or without multi-value headers).
    LoadBalancer,
}

/// An HTTP request read from a Lambda event: its method, headers (every value, in order, names
/// as the event spelled them) and the body bytes exactly as sent.
pub(crate) struct HttpRequest {
    pub(crate) method: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// The Lambda event is an HTTP event, but its request cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HttpEventError {
    /// No method where the event's shape puts it.
    #[error("the HTTP event names no request method")]
    NoMethod,
    /// `isBase64Encoded` is true but the body is not base64.
    #[error("the request body is marked isBase64Encoded but is not valid base64: {0}")]
    Base64(String),
}

/// The HTTP request a Lambda event carries, if it is one — a Function URL or API Gateway
/// (`requestContext.http`), an ALB (`requestContext.elb` with `httpMethod`), an API Gateway
/// REST API (`requestContext` with `httpMethod`) — with the origin its response must be shaped
/// for. `None` for anything else: soketi's envelopes (recognised by their first bytes,
/// `{"payload":`, without a parse) and any event not of those shapes. The event is read once.
pub(crate) fn read(event: &[u8]) -> Option<(Origin, Result<HttpRequest, HttpEventError>)> {
    if event.trim_ascii_start().starts_with(b"{\"payload\":") {
        return None;
    }
    let shape: Shape = serde_json::from_slice(event).ok()?;
    let context = shape.request_context?;
    let (origin, method) = match context.http {
        Some(http) => (Origin::FunctionUrlOrHttpApi, http.method),
        None => {
            shape.http_method.as_ref()?;
            let origin = if context.elb.is_some() {
                Origin::LoadBalancer
            } else {
                Origin::RestApi
            };
            (origin, shape.http_method)
        }
    };
    let request = match method {
        None => Err(HttpEventError::NoMethod),
        Some(method) => body(shape.body, shape.is_base64_encoded).map(|body| HttpRequest {
            method,
            headers: headers(shape.headers, shape.multi_value_headers),
            body,
        }),
    };
    Some((origin, request))
}

/// Every header value. API Gateway REST sends both maps, and `multiValueHeaders` is the
/// complete one (a header sent twice is in it twice, and only once in `headers`).
fn headers(
    single: Option<Pairs<Option<String>>>,
    multi: Option<Pairs<Option<Vec<String>>>>,
) -> Vec<(String, String)> {
    let multi: Vec<(String, String)> = multi
        .map(|pairs| {
            pairs
                .0
                .into_iter()
                .flat_map(|(name, values)| {
                    values
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |value| (name.clone(), value))
                })
                .collect()
        })
        .unwrap_or_default();
    if !multi.is_empty() {
        return multi;
    }
    single
        .map(|pairs| {
            pairs
                .0
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?)))
                .collect()
        })
        .unwrap_or_default()
}

/// The body bytes as sent: a base64 body decoded, a text body as it is.
fn body(text: Option<String>, base64: Option<bool>) -> Result<Vec<u8>, HttpEventError> {
    let text = text.unwrap_or_default();
    if base64.unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| HttpEventError::Base64(e.to_string()))
    } else {
        Ok(text.into_bytes())
    }
}

#[derive(Deserialize)]
struct Shape {
    #[serde(default, rename = "httpMethod")]
    http_method: Option<String>,
    #[serde(default, rename = "requestContext")]
    request_context: Option<ContextShape>,
    #[serde(default)]
    headers: Option<Pairs<Option<String>>>,
    #[serde(default, rename = "multiValueHeaders")]
    multi_value_headers: Option<Pairs<Option<Vec<String>>>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, rename = "isBase64Encoded")]
    is_base64_encoded: Option<bool>,
}

#[derive(Deserialize)]
struct ContextShape {
    #[serde(default)]
    http: Option<HttpContext>,
    #[serde(default)]
    elb: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct HttpContext {
    #[serde(default)]
    method: Option<String>,
}

/// A JSON object read as its name/value pairs, in order, repeated names kept.
struct Pairs<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Pairs<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for PairsVisitor<T> {
            type Value = Pairs<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of header names to values")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, T>()? {
                    pairs.push((name, value));
                }
                Ok(Pairs(pairs))
            }
        }

        deserializer.deserialize_map(PairsVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(event: &[u8]) -> (Origin, HttpRequest) {
        let (origin, request) = read(event).expect("an HTTP event");
        (origin, request.expect("readable"))
    }

    #[test]
    fn rest_api_keeps_every_value_of_multi_value_headers() {
        let event = br#"{"httpMethod":"POST","requestContext":{"requestId":"r"},
            "headers":{"X-Pusher-Signature":"b"},
            "multiValueHeaders":{"X-Pusher-Signature":["a","b"]},"body":"{}","isBase64Encoded":false}"#;
        let (origin, request) = request(event);
        assert_eq!(origin, Origin::RestApi);
        let values: Vec<&str> = request.headers.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["a", "b"]);
    }

    #[test]
    fn headers_are_used_when_there_are_no_multi_value_headers() {
        let event = br#"{"httpMethod":"POST","requestContext":{"elb":{"targetGroupArn":"arn"}},
            "headers":{"x-pusher-key":"k","x-null":null},"multiValueHeaders":null,"body":null}"#;
        let (origin, request) = request(event);
        assert_eq!(origin, Origin::LoadBalancer);
        assert_eq!(request.headers, [("x-pusher-key".into(), "k".into())]);
        assert_eq!(request.body, b"");
    }

    #[test]
    fn a_function_url_event_is_read_with_its_base64_body() {
        let event = br#"{"version":"2.0","rawPath":"/","headers":{"x-pusher-key":"k"},
            "requestContext":{"http":{"method":"POST"}},"body":"e30=","isBase64Encoded":true}"#;
        let (origin, request) = request(event);
        assert_eq!(origin, Origin::FunctionUrlOrHttpApi);
        assert_eq!(
            (request.method.as_str(), request.body.as_slice()),
            ("POST", &b"{}"[..])
        );
    }

    #[test]
    fn broken_http_events_keep_their_origin_and_others_are_not_http() {
        let event =
            br#"{"requestContext":{"http":{"method":"POST"}},"body":"***","isBase64Encoded":true}"#;
        assert!(matches!(
            read(event),
            Some((Origin::FunctionUrlOrHttpApi, Err(HttpEventError::Base64(_))))
        ));
        let no_method = br#"{"requestContext":{"http":{"path":"/"}}}"#;
        assert!(matches!(
            read(no_method),
            Some((Origin::FunctionUrlOrHttpApi, Err(HttpEventError::NoMethod)))
        ));
        for event in [
            &br#"{"payload":{},"headers":{}}"#[..],
            br#" {"headers":{},"payload":{}}"#,
            br#"[1]"#,
            br#"{"requestContext":{"routeKey":"$connect"}}"#,
            br#"{"requestContext":7,"httpMethod":"POST"}"#,
            b"not json",
        ] {
            assert!(read(event).is_none(), "{}", String::from_utf8_lossy(event));
        }
    }
}
