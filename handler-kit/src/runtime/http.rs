//! HTTP requests answered (feature `http`): from a Lambda event the dispatcher recognised, or
//! as the `tower::Service<http::Request<B>>` that `lambda_http` and axum mount. One place
//! checks the method and the size, verifies, runs the callbacks, logs a rejection (once) and
//! turns the outcome into a status.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http_body_util::BodyExt as _;

use crate::http::event::{HttpEventError, HttpRequest, Origin};
use crate::http::response::HttpReply;
use crate::http::{
    DEFAULT_MAX_BODY_BYTES, LambdaHttpResponse, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE,
};
use crate::kind::ErrorKind;
use crate::router::{BoxError, Invocation, Webhooks};
use crate::untrusted::Untrusted;
use crate::wire::Headers;

impl Webhooks {
    /// Answers 413 to HTTP bodies larger than `limit` bytes (after base64 decoding), without
    /// verifying them (default [`DEFAULT_MAX_BODY_BYTES`], 6 MiB). Soketi's Lambda envelopes
    /// are not affected: Lambda caps those.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = Some(limit);
        self
    }

    fn body_limit(&self) -> usize {
        self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES)
    }

    /// Answers the HTTP request of a Lambda event with the response its origin expects.
    pub(super) async fn answer_http_event(
        &self,
        origin: Origin,
        request: Result<HttpRequest, HttpEventError>,
        invocation: Invocation,
    ) -> LambdaHttpResponse {
        let reply = match request {
            Ok(request) => {
                let headers = Headers::from_pairs(
                    request
                        .headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str())),
                );
                self.answer(&request.method, &headers, &request.body, invocation)
                    .await
            }
            Err(error) => {
                let kind = ErrorKind::MalformedEnvelope;
                let message = error.to_string();
                rejected(kind.as_str(), invocation.request_id(), &message);
                HttpReply::failure(400, kind.as_str(), &message)
            }
        };
        reply.into_lambda(origin)
    }

    /// Verifies and dispatches one HTTP request given by its parts; a failure is a reply with
    /// its status.
    async fn answer(
        &self,
        method: &str,
        headers: &Headers<'_>,
        body: &[u8],
        invocation: Invocation,
    ) -> HttpReply {
        if !method.eq_ignore_ascii_case("POST") {
            let message = format!("webhooks are POST requests, not {}", Untrusted(method));
            rejected(METHOD_NOT_ALLOWED, invocation.request_id(), &message);
            return HttpReply::failure(405, METHOD_NOT_ALLOWED, &message);
        }
        if body.len() > self.body_limit() {
            return self.too_large(body.len(), invocation.request_id());
        }
        let verified = self
            .verifier()
            .verify_refreshing(|verifier| verifier.verify_http(body, headers))
            .await;
        let outcome = match verified {
            Ok(verified) => self.receive(verified, invocation).await.map_err(Into::into),
            Err(rejection) => {
                let kind = rejection.kind();
                rejected(
                    kind.as_str(),
                    invocation.request_id(),
                    &rejection.to_string(),
                );
                Err(rejection.into())
            }
        };
        match outcome {
            Ok(summary) => HttpReply::ok(&summary),
            // Failed callbacks were logged, each, as they failed.
            Err(error) => HttpReply::from_error(&error),
        }
    }

    fn too_large(&self, size: usize, request_id: &str) -> HttpReply {
        let message = format!(
            "the body is {size} bytes, over the limit of {} bytes",
            self.body_limit()
        );
        rejected(PAYLOAD_TOO_LARGE, request_id, &message);
        HttpReply::failure(413, PAYLOAD_TOO_LARGE, &message)
    }

    /// Answers an `http::Request` (from `lambda_http`, axum or hyper): reads the body up to the
    /// maximum size, then verifies and dispatches it. The invocation is the request's Lambda
    /// context (the extension `lambda_http` sets) when there is one.
    async fn serve_request<B>(&self, request: http::Request<B>) -> HttpReply
    where
        B: http_body::Body + Send,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = request.into_parts();
        let invocation = parts
            .extensions
            .remove::<lambda_runtime::Context>()
            .map(Invocation::from)
            .unwrap_or_default();
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let limit = self.body_limit();
        if parts.method == http::Method::POST
            && let Some(size) = declared.filter(|&n| n > limit as u64)
        {
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            return self.too_large(size, invocation.request_id());
        }
        let bytes = match http_body_util::Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                if error
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    return self.too_large(limit.saturating_add(1), invocation.request_id());
                }
                let kind = ErrorKind::MalformedEnvelope.as_str();
                let message = "the request body could not be read";
                rejected(
                    kind,
                    invocation.request_id(),
                    &format!("{message}: {error}"),
                );
                return HttpReply::failure(400, kind, message);
            }
        };
        let headers = Headers::from(&parts.headers);
        self.answer(parts.method.as_str(), &headers, &bytes, invocation)
            .await
    }
}

/// The one log line of a rejected HTTP request (its answer is not a function error, so
/// nothing else logs it).
fn rejected(kind: &str, request_id: &str, message: &str) {
    tracing::warn!(kind, request_id, "webhook request rejected: {message}");
}

/// For `lambda_http::run`, axum's `Router::route_service`, or any tower stack. Never fails:
/// every outcome is a response with its status.
///
/// ```
/// use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};
/// use soketi_handler_kit::wire::ChannelOccupied;
/// use tower::Service as _;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut webhooks = Webhooks::new(Verifier::new(Keyring::new().app("app2key", "app2secret")))
///     .on_channel_occupied(|_ev: ChannelOccupied, _cx: Context| async { Ok(()) });
/// // A request soketi 1.6.1 sent to a `url` webhook, recorded with its headers.
/// let request = http::Request::post("/webhooks")
///     .header("x-pusher-key", "app2key")
///     .header("x-pusher-signature", "6d6223952e758782e8b653b891319f51cdceafe703f49355a6ccb4804042d8f0")
///     .body(r#"{"time_ms":1795877277270,"events":[{"name":"channel_occupied","channel":"public-chan"}]}"#.to_owned())?;
/// assert_eq!(webhooks.call(request).await?.status(), 200);
/// let forged = http::Request::post("/webhooks").body("{}".to_owned())?;
/// assert_eq!(webhooks.call(forged).await?.status(), 401);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
impl<B> tower::Service<http::Request<B>> for Webhooks
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<lambda_http::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.serve_request(request).await.into_response()) })
    }
}
