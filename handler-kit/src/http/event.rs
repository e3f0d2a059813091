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
#[non_exhaustive]
pub enum Origin {
    /// A Lambda Function URL or an API Gateway HTTP API with payload format 2.0.
    FunctionUrlOrHttpApi,
    /// An API Gateway REST API (or an HTTP API with payload format 1.0).
    RestApi,
    /// An Application Load Balancer target group (with or without multi-value headers).
    LoadBalancer,
}

/// An HTTP request read from a Lambda event: its method, headers (every value, in order) and
/// the body bytes exactly as sent.
#[derive(Clone)]
pub struct HttpEvent {
    origin: Origin,
    method: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The Lambda event is not a readable HTTP event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpEventError {
    /// Not JSON of the shape of a Function URL, API Gateway or ALB event.
    #[error(
        "the invocation event is neither a soketi envelope {{\"payload\": {{...}}, \"headers\": {{...}}}} nor an HTTP event of a Function URL, API Gateway or an Application Load Balancer: {0}"
    )]
    NotHttp(String),
    /// `isBase64Encoded` is true but the body is not base64.
    #[error("the request body is marked isBase64Encoded but is not valid base64: {0}")]
    Base64(String),
}

impl HttpEvent {
    /// Reads a Lambda HTTP event.
    ///
    /// ```
    /// use soketi_handler_kit::http::{HttpEvent, Origin};
    /// let event = br#"{"version":"2.0","rawPath":"/","headers":{"x-pusher-key":"k"},
    ///     "requestContext":{"http":{"method":"POST"}},"body":"e30=","isBase64Encoded":true}"#;
    /// let request = HttpEvent::parse(event)?;
    /// assert_eq!(request.origin(), Origin::FunctionUrlOrHttpApi);
    /// assert_eq!(request.method(), "POST");
    /// assert_eq!(request.body(), b"{}");
    /// assert_eq!(request.headers(), [("x-pusher-key".to_string(), "k".to_string())]);
    /// # Ok::<(), soketi_handler_kit::http::HttpEventError>(())
    /// ```
    pub fn parse(event: &[u8]) -> Result<Self, HttpEventError> {
        let shape: Shape =
            serde_json::from_slice(event).map_err(|e| HttpEventError::NotHttp(e.to_string()))?;
        let context = shape
            .request_context
            .ok_or_else(|| HttpEventError::NotHttp("no `requestContext`".into()))?;
        let (origin, method) = if let Some(http) = context.http {
            (Origin::FunctionUrlOrHttpApi, http.method)
        } else if context.elb.is_some() {
            (Origin::LoadBalancer, shape.http_method)
        } else {
            (Origin::RestApi, shape.http_method)
        };
        let method = method.ok_or_else(|| HttpEventError::NotHttp("no HTTP method".into()))?;
        let multi: Vec<(String, String)> = shape
            .multi_value_headers
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
        // API Gateway REST sends both maps; `multiValueHeaders` is the complete one.
        let headers = if multi.is_empty() {
            shape
                .headers
                .map(|pairs| {
                    pairs
                        .0
                        .into_iter()
                        .filter_map(|(name, value)| Some((name, value?)))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            multi
        };
        let text = shape.body.unwrap_or_default();
        let body = if shape.is_base64_encoded.unwrap_or(false) {
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|e| HttpEventError::Base64(e.to_string()))?
        } else {
            text.into_bytes()
        };
        Ok(HttpEvent {
            origin,
            method,
            headers,
            body,
        })
    }

    /// Where it came from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The request method, as sent (`POST` for webhooks).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Every header value, in the order the event listed them (names as the event spelled
    /// them; a header with several values appears once per value).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body bytes, exactly as the client sent them.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

impl fmt::Debug for HttpEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpEvent")
            .field("origin", &self.origin)
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Which kind of HTTP event `event` is, if it is one: judged by the keys only (`requestContext`
/// with `http` or `elb`, or `requestContext` with a top-level `httpMethod`), without reading
/// the body or headers.
pub(crate) fn probe(event: &[u8]) -> Option<Origin> {
    #[derive(Deserialize)]
    struct ProbeShape {
        #[serde(default, rename = "httpMethod")]
        http_method: Option<IgnoredAny>,
        #[serde(default, rename = "requestContext")]
        request_context: Option<ProbeContext>,
    }
    #[derive(Deserialize)]
    struct ProbeContext {
        #[serde(default)]
        http: Option<IgnoredAny>,
        #[serde(default)]
        elb: Option<IgnoredAny>,
    }
    let shape: ProbeShape = serde_json::from_slice(event).ok()?;
    let context = shape.request_context?;
    if context.http.is_some() {
        Some(Origin::FunctionUrlOrHttpApi)
    } else if shape.http_method.is_none() {
        None
    } else if context.elb.is_some() {
        Some(Origin::LoadBalancer)
    } else {
        Some(Origin::RestApi)
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

    #[test]
    fn rest_api_keeps_every_value_of_multi_value_headers() {
        let event = br#"{"httpMethod":"POST","requestContext":{"requestId":"r"},
            "headers":{"X-Pusher-Signature":"b"},
            "multiValueHeaders":{"X-Pusher-Signature":["a","b"]},"body":"{}","isBase64Encoded":false}"#;
        let request = HttpEvent::parse(event).unwrap();
        assert_eq!(request.origin(), Origin::RestApi);
        let values: Vec<&str> = request.headers().iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["a", "b"]);
    }

    #[test]
    fn headers_are_used_when_there_are_no_multi_value_headers() {
        let event = br#"{"httpMethod":"POST","requestContext":{"elb":{"targetGroupArn":"arn"}},
            "headers":{"x-pusher-key":"k","x-null":null},"multiValueHeaders":null,"body":null}"#;
        let request = HttpEvent::parse(event).unwrap();
        assert_eq!(request.origin(), Origin::LoadBalancer);
        assert_eq!(request.headers(), [("x-pusher-key".into(), "k".into())]);
        assert_eq!(request.body(), b"");
    }

    #[test]
    fn bad_base64_and_non_http_events_are_errors() {
        let event =
            br#"{"requestContext":{"http":{"method":"POST"}},"body":"***","isBase64Encoded":true}"#;
        assert!(matches!(
            HttpEvent::parse(event),
            Err(HttpEventError::Base64(_))
        ));
        for event in [
            &br#"{"payload":{},"headers":{}}"#[..],
            br#"[1]"#,
            br#"{"requestContext":{"routeKey":"$connect"}}"#,
            br#"{"requestContext":7,"httpMethod":"POST"}"#,
        ] {
            assert!(
                matches!(HttpEvent::parse(event), Err(HttpEventError::NotHttp(_))),
                "{}",
                String::from_utf8_lossy(event)
            );
            assert_eq!(probe(event), None, "{}", String::from_utf8_lossy(event));
        }
    }

    #[test]
    fn probe_tells_the_shapes_apart() {
        assert_eq!(
            probe(br#"{"version":"2.0","requestContext":{"http":{"method":"GET"}}}"#),
            Some(Origin::FunctionUrlOrHttpApi)
        );
        assert_eq!(
            probe(br#"{"httpMethod":"POST","requestContext":{"stage":"prod"}}"#),
            Some(Origin::RestApi)
        );
        assert_eq!(
            probe(br#"{"httpMethod":"POST","requestContext":{"elb":{}}}"#),
            Some(Origin::LoadBalancer)
        );
    }
}
