//! HTTP webhooks (feature `http`): soketi `url` webhooks and Pusher Channels webhooks arriving
//! through a Lambda Function URL, API Gateway (REST and HTTP APIs) or an Application Load
//! Balancer, verified and dispatched to the same callbacks as soketi's Lambda invocations.
//!
//! # One function, both transports
//!
//! With this feature, [`run`](crate::run) looks at each invocation: a soketi envelope
//! `{"payload":…,"headers":…}` is handled as before; an HTTP event of a Function URL, API
//! Gateway or an ALB is answered with an HTTP response ([`HttpReply`]); anything else fails
//! with `MalformedEnvelope`. The handler code does not change: moving a soketi webhook from
//! `lambda_function` to `url`, or from Pusher to soketi, needs no new callback.
//!
//! The signature is checked over the body bytes as they were sent (a base64 body decoded, never
//! a re-serialization); header names are matched ignoring case; a header sent twice is
//! rejected. Statuses: 200 with the [`Summary`](crate::Summary) as JSON, 401 for signature and
//! key failures, 400 for malformed requests, 405 for anything but `POST`, 413 over the maximum
//! body size ([`HttpWebhooks::max_body_bytes`], 6 MiB by default), 500 when callbacks failed,
//! so that soketi and Pusher see the failure (Pusher retries for a few minutes). See
//! [`HttpReply`] for the table and the error body.
//!
//! ```no_run
//! # async fn example() -> Result<(), soketi_handler_kit::Error> {
//! use soketi_handler_kit::Webhooks;
//! use soketi_handler_kit::http::HttpWebhooks;
//!
//! let webhooks = Webhooks::from_env()?; // and your callbacks
//! // Both transports with the defaults:
//! // soketi_handler_kit::run(webhooks).await
//! // Both transports, HTTP bodies limited to 256 KiB:
//! soketi_handler_kit::http::run(HttpWebhooks::new(webhooks).max_body_bytes(256 * 1024)).await
//! # }
//! ```
//!
//! # In an existing `lambda_http` or axum app
//!
//! [`HttpWebhooks`] is a `tower::Service<http::Request<B>>` for any body type, answering
//! `http::Response<lambda_http::Body>` and never failing. Serve it alone with `lambda_http`:
//!
//! ```no_run
//! # async fn example() -> Result<(), lambda_http::Error> {
//! use soketi_handler_kit::http::HttpWebhooks;
//! let webhooks = soketi_handler_kit::Webhooks::from_env()?; // and your callbacks
//! lambda_http::run(HttpWebhooks::new(webhooks)).await
//! # }
//! ```
//!
//! or mount it on a route of an axum router (then served by `lambda_http::run(app)`):
//!
//! ```text
//! let app = axum::Router::new()
//!     .route_service("/webhooks/soketi", HttpWebhooks::new(webhooks))
//!     .route("/health", axum::routing::get(|| async { "ok" }));
//! ```
//!
//! The complete program is `handler-kit/examples/axum.rs`. Through `lambda_http`'s own event
//! conversion, an API Gateway REST header sent twice reaches the service once (it keeps the
//! last value); the kit's [`run`](crate::run) reads the event itself and rejects it.
//!
//! To verify by hand, [`Verifier::verify_header_map`](crate::Verifier::verify_header_map)
//! takes an `http::HeaderMap` directly, and `Headers` converts from one.
//!
//! # Deploying
//!
//! Give the function a Function URL with `AuthType: NONE` (the HMAC signature is the
//! authentication: anyone can reach the URL, only holders of the app secret get past the
//! verifier), and put the URL into soketi's `url` webhook or Pusher's dashboard. The SAM
//! template of the repository does this when `FunctionUrl` is `true`.

mod event;
mod response;
mod service;

use crate::router::Webhooks;
use crate::wire::Headers;

pub use event::{HttpEvent, HttpEventError, Origin};
pub use response::{
    HttpReply, LambdaHttpResponse, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, status_for,
};
pub use service::{InvocationResponse, run};

/// The router answering HTTP webhook requests: [`Webhooks`] plus the HTTP settings. Cheap to
/// clone.
///
/// ```
/// use soketi_handler_kit::http::HttpWebhooks;
/// use soketi_handler_kit::wire::Headers;
/// use soketi_handler_kit::{Keyring, Verifier, Webhooks};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let webhooks = Webhooks::new(Verifier::new(Keyring::new().app("app2key", "app2secret")));
/// let http = HttpWebhooks::new(webhooks);
/// // A request soketi 1.6.1 sent to a `url` webhook, recorded with its headers.
/// let body = br#"{"time_ms":1795877277270,"events":[{"name":"channel_occupied","channel":"public-chan"}]}"#;
/// let headers = [
///     ("content-type", "application/json"),
///     ("x-pusher-key", "app2key"),
///     ("x-pusher-signature", "6d6223952e758782e8b653b891319f51cdceafe703f49355a6ccb4804042d8f0"),
/// ];
/// let reply = http.handle_request("POST", &Headers::from_pairs(headers), body, "req-1").await;
/// assert_eq!(reply.status(), 200);
/// let forged = http.handle_request("POST", &Headers::from_pairs(headers), b"{}", "req-2").await;
/// assert_eq!((forged.status(), forged.error_type()), (401, Some("InvalidSignature")));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct HttpWebhooks {
    webhooks: Webhooks,
    max_body_bytes: usize,
}

impl HttpWebhooks {
    /// The default maximum body: 6 MiB, Lambda's own limit for a synchronous invocation.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

    /// Answers HTTP requests with `webhooks`, bodies up to [`Self::DEFAULT_MAX_BODY_BYTES`].
    pub fn new(webhooks: Webhooks) -> Self {
        HttpWebhooks {
            webhooks,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Answers 413 to bodies larger than `limit` bytes (after base64 decoding), without
    /// verifying them.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// The maximum body size.
    pub fn max_body_limit(&self) -> usize {
        self.max_body_bytes
    }

    /// The router.
    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    /// Verifies and dispatches one HTTP request given by its parts; never fails (a failure is
    /// a reply with its status).
    pub async fn handle_request(
        &self,
        method: &str,
        headers: &Headers<'_>,
        body: &[u8],
        request_id: &str,
    ) -> HttpReply {
        if !method.eq_ignore_ascii_case("POST") {
            tracing::warn!(
                method = %crate::untrusted::Untrusted(method),
                request_id,
                "webhook request rejected: not a POST"
            );
            return HttpReply::failure(
                405,
                METHOD_NOT_ALLOWED,
                &format!(
                    "webhooks are POST requests, not {}",
                    crate::untrusted::Untrusted(method)
                ),
            );
        }
        if body.len() > self.max_body_bytes {
            return self.too_large(body.len(), request_id);
        }
        match self.webhooks.handle_http(body, headers, request_id).await {
            Ok(summary) => HttpReply::ok(&summary),
            Err(error) => HttpReply::from_error(&error),
        }
    }

    pub(crate) fn too_large(&self, size: usize, request_id: &str) -> HttpReply {
        tracing::warn!(
            size,
            limit = self.max_body_bytes,
            request_id,
            "webhook request rejected: body too large"
        );
        HttpReply::failure(
            413,
            PAYLOAD_TOO_LARGE,
            &format!(
                "the body is {size} bytes, over the limit of {} bytes",
                self.max_body_bytes
            ),
        )
    }

    /// Answers the Lambda event of an HTTP request (Function URL, API Gateway, ALB) with the
    /// response that event's origin expects. An event that is no readable HTTP event gets a
    /// 400 (`MalformedEnvelope`); check with [`is_http_event`] first.
    pub async fn handle_event(&self, event: &[u8], request_id: &str) -> LambdaHttpResponse {
        let origin = event::probe(event).unwrap_or(Origin::FunctionUrlOrHttpApi);
        let reply = match HttpEvent::parse(event) {
            Ok(request) => {
                let headers = Headers::from_pairs(
                    request
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str())),
                );
                self.handle_request(request.method(), &headers, request.body(), request_id)
                    .await
            }
            Err(error) => {
                tracing::warn!(request_id, "webhook request rejected: {error}");
                HttpReply::failure(
                    400,
                    crate::ErrorKind::MalformedEnvelope.as_str(),
                    &error.to_string(),
                )
            }
        };
        reply.to_lambda(origin)
    }
}

/// Whether a Lambda invocation event is an HTTP request of a Function URL, API Gateway (REST or
/// HTTP API) or an ALB, rather than a soketi envelope. Cheap for soketi's envelopes (which
/// start with `{"payload":`); other events are scanned once for their top-level keys.
///
/// ```
/// use soketi_handler_kit::http::is_http_event;
/// assert!(is_http_event(br#"{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":""}"#));
/// assert!(!is_http_event(br#"{"payload":{"time_ms":1,"events":[]},"headers":{}}"#));
/// assert!(!is_http_event(b"not json"));
/// ```
pub fn is_http_event(event: &[u8]) -> bool {
    if event.trim_ascii_start().starts_with(b"{\"payload\":") {
        return false;
    }
    event::probe(event).is_some()
}

/// [`HttpWebhooks::handle_event`] with the default settings.
pub async fn handle_event(
    webhooks: &Webhooks,
    event: &[u8],
    request_id: &str,
) -> LambdaHttpResponse {
    HttpWebhooks::new(webhooks.clone())
        .handle_event(event, request_id)
        .await
}
