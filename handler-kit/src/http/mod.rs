//! HTTP webhooks (feature `http`): soketi `url` webhooks and Pusher Channels webhooks arriving
//! through a Lambda Function URL, API Gateway (REST and HTTP APIs) or an Application Load
//! Balancer, verified and dispatched to the same callbacks as soketi's Lambda invocations.
//!
//! # One function, both transports
//!
//! With this feature, [`run`](crate::run) looks at each invocation: a soketi envelope
//! `{"payload":…,"headers":…}` is handled as before; an HTTP event of a Function URL, API
//! Gateway or an ALB is answered with an HTTP response ([`LambdaHttpResponse`]); anything else
//! fails with `MalformedEnvelope`. The handler code does not change: moving a soketi webhook
//! from `lambda_function` to `url`, or from Pusher to soketi, needs no new callback, and
//! callbacks see the same [`Context`](crate::Context) — the Lambda context with its deadline
//! included — on every transport.
//!
//! The signature is checked over the body bytes as they were sent (a base64 body decoded, never
//! a re-serialization); header names are matched ignoring case; a header sent twice is
//! rejected. Statuses:
//!
//! | status | when | body |
//! |---|---|---|
//! | 200 | verified and every callback succeeded | the [`Summary`](crate::Summary) as JSON |
//! | 400 | `MalformedEnvelope` (a header sent twice, an unreadable event), `MalformedPayload` | error |
//! | 401 | `MissingSignature`, `MalformedSignature`, `MissingAppKey`, `UnknownAppKey`, `InvalidSignature`, `Expired` | error |
//! | 405 | not a `POST` (`MethodNotAllowed`; with `Allow: POST`) | error |
//! | 413 | body over the maximum (`PayloadTooLarge`; [`Webhooks::max_body_bytes`](crate::Webhooks::max_body_bytes), 6 MiB by default) | error |
//! | 500 | `HandlerFailed` (callbacks failed: the sender should retry; Pusher retries for a few minutes), or any other failure | error |
//!
//! An error body is `{"errorType":"<stable kind>","errorMessage":"…"}`, the same names as a
//! Lambda function error. The message says what was wrong with the request; it never holds a
//! secret, and for a 500 it holds no detail of your callbacks' errors (those go to the log).
//! Each rejected request is logged once, as a warning.
//!
//! ```no_run
//! # async fn example() -> Result<(), soketi_handler_kit::Error> {
//! use soketi_handler_kit::Webhooks;
//! // Both transports, HTTP bodies limited to 256 KiB:
//! let webhooks = Webhooks::from_env().await?.max_body_bytes(256 * 1024); // and your callbacks
//! soketi_handler_kit::run(webhooks).await
//! # }
//! ```
//!
//! # In an existing `lambda_http` or axum app
//!
//! [`Webhooks`](crate::Webhooks) is a `tower::Service<http::Request<B>>` for any body type,
//! answering `http::Response<lambda_http::Body>` and never failing; under `lambda_http` the
//! request's Lambda context reaches the callbacks. Serve it alone with `lambda_http`:
//!
//! ```no_run
//! # async fn example() -> Result<(), lambda_http::Error> {
//! let webhooks = soketi_handler_kit::Webhooks::from_env().await?; // and your callbacks
//! lambda_http::run(webhooks).await
//! # }
//! ```
//!
//! or mount it on a route of an axum router (then served by `lambda_http::run(app)`):
//!
//! ```text
//! let app = axum::Router::new()
//!     .route_service("/webhooks/soketi", webhooks)
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
//!
//! # In this module
//!
//! - `event.rs`: the HTTP request a Lambda event carries (read once: its origin, method,
//!   headers and body);
//! - `response.rs`: the answer, shaped for its origin ([`LambdaHttpResponse`]), and the
//!   statuses ([`status_for`]);
//! - here: `http::HeaderMap` support for the verifier.
//!
//! Serving (the method and size checks, verification, the `tower::Service`) is the
//! runtime's: see `runtime/http.rs`.

pub(crate) mod event;
pub(crate) mod response;

pub use response::{LambdaHttpResponse, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, status_for};

use crate::verify::{Rejection, Verified, Verifier};
use crate::wire::Headers;

/// The default largest HTTP body answered: 6 MiB, Lambda's own limit for a synchronous
/// invocation. See [`Webhooks::max_body_bytes`](crate::Webhooks::max_body_bytes).
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

impl<'a> From<&'a http::HeaderMap> for Headers<'a> {
    /// Every header of the map, each value of a repeated header kept (so the verifier rejects
    /// it). A value that is not UTF-8 is read lossily: such a value can never verify.
    fn from(map: &'a http::HeaderMap) -> Self {
        Headers::from_pairs(
            map.iter()
                .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes()))),
        )
    }
}

impl Verifier {
    /// Verifies an HTTP webhook given its body and the request's `http::HeaderMap` (feature
    /// `http`): what `verify_http` does, without copying headers by hand.
    ///
    /// ```
    /// use soketi_handler_kit::{Keyring, Verifier};
    /// let body = std::fs::read(concat!(
    ///     env!("CARGO_MANIFEST_DIR"),
    ///     "/tests/vectors/soketi-1.6.1/041.json"
    /// ))?;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-pusher-key", "app2key".parse()?);
    /// headers.insert(
    ///     "x-pusher-signature",
    ///     "6d6223952e758782e8b653b891319f51cdceafe703f49355a6ccb4804042d8f0".parse()?,
    /// );
    /// let verifier = Verifier::new(Keyring::new().app("app2key", "app2secret"));
    /// let verified = verifier.verify_header_map(&body, &headers)?;
    /// assert_eq!(verified.app_key(), Some("app2key"));
    ///
    /// // The same header twice is refused, whatever the values.
    /// headers.append("X-Pusher-Signature", "00".repeat(32).parse()?);
    /// assert!(verifier.verify_header_map(&body, &headers).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_header_map<'a>(
        &self,
        body: &'a [u8],
        headers: &http::HeaderMap,
    ) -> Result<Verified<'a>, Rejection> {
        self.verify_http(body, &Headers::from(headers))
    }
}
