//! `tower::Service` implementations: the HTTP service for `lambda_http` and axum apps, the
//! both-transports service that [`run`](crate::run) serves, and `http::HeaderMap` support.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http_body_util::BodyExt as _;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{HttpReply, HttpWebhooks, LambdaHttpResponse, is_http_event};
use crate::error::{BoxError, Error};
use crate::router::Summary;
use crate::verify::{Rejection, Verified, Verifier};
use crate::wire::Headers;

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

impl HttpWebhooks {
    /// Answers an `http::Request` (from `lambda_http`, axum or hyper): reads the body up to the
    /// maximum size, then verifies and dispatches it. The Lambda request id is taken from the
    /// request's `lambda_http::Context` extension when there is one.
    pub async fn serve<B>(&self, request: http::Request<B>) -> http::Response<lambda_http::Body>
    where
        B: http_body::Body + Send,
        B::Error: Into<BoxError>,
    {
        self.reply(request).await.into_response()
    }

    async fn reply<B>(&self, request: http::Request<B>) -> HttpReply
    where
        B: http_body::Body + Send,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let request_id = parts
            .extensions
            .get::<lambda_http::Context>()
            .map(|cx| cx.request_id.clone())
            .unwrap_or_default();
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let limit = self.max_body_limit();
        if parts.method == http::Method::POST
            && let Some(size) = declared.filter(|&n| n > limit as u64)
        {
            return self.too_large(usize::try_from(size).unwrap_or(usize::MAX), &request_id);
        }
        let bytes = match http_body_util::Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                if error
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    return self.too_large(limit.saturating_add(1), &request_id);
                }
                tracing::warn!(request_id, "webhook request body unreadable: {error}");
                return HttpReply::failure(
                    400,
                    crate::ErrorKind::MalformedEnvelope.as_str(),
                    "the request body could not be read",
                );
            }
        };
        let headers = Headers::from(&parts.headers);
        self.handle_request(parts.method.as_str(), &headers, &bytes, &request_id)
            .await
    }
}

/// For `lambda_http::run`, axum's `Router::route_service`, or any tower stack. Never fails:
/// every outcome is a response with its status.
impl<B> tower::Service<http::Request<B>> for HttpWebhooks
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
        Box::pin(async move { Ok(this.serve(request).await) })
    }
}

/// What [`run`](crate::run) answers an invocation with when the `http` feature is on: the
/// [`Summary`] for a soketi envelope (as without the feature), the HTTP response for an HTTP
/// event.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum InvocationResponse {
    /// A soketi envelope was verified and dispatched.
    Summary(Summary),
    /// An HTTP request was answered (whatever its status).
    Http(LambdaHttpResponse),
}

/// Both transports on raw Lambda invocations: an HTTP event is answered by
/// [`HttpWebhooks::handle_event`] (never a function error: the caller gets the status), any
/// other event goes to [`Webhooks::handle`](crate::Webhooks::handle), as without the feature.
impl tower::Service<lambda_runtime::LambdaEvent<Box<RawValue>>> for HttpWebhooks {
    type Response = InvocationResponse;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<InvocationResponse, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, invocation: lambda_runtime::LambdaEvent<Box<RawValue>>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let (event, context) = invocation.into_parts();
            let bytes = event.get().as_bytes();
            if is_http_event(bytes) {
                Ok(InvocationResponse::Http(
                    this.handle_event(bytes, &context.request_id).await,
                ))
            } else {
                this.webhooks()
                    .handle(bytes, &context.request_id)
                    .await
                    .map(InvocationResponse::Summary)
            }
        })
    }
}

/// Starts the Lambda runtime serving both transports with `http`'s settings (what
/// [`run`](crate::run) does with the defaults).
///
/// ```no_run
/// # async fn example() -> Result<(), soketi_handler_kit::Error> {
/// use soketi_handler_kit::http::HttpWebhooks;
/// let webhooks = soketi_handler_kit::Webhooks::from_env()?;
/// soketi_handler_kit::http::run(HttpWebhooks::new(webhooks).max_body_bytes(1 << 20)).await
/// # }
/// ```
pub async fn run(http: HttpWebhooks) -> Result<(), Error> {
    crate::runtime::run_bytes(http).await
}

/// Both transports from the body bytes (what [`run`] serves): an HTTP event gets its HTTP
/// response, anything else goes to the router as a soketi envelope.
impl crate::runtime::ServeBytes for HttpWebhooks {
    type Response = InvocationResponse;

    fn serve_bytes(
        self,
        body: bytes::Bytes,
        context: lambda_runtime::Context,
    ) -> Pin<Box<dyn Future<Output = Result<InvocationResponse, Error>> + Send>> {
        Box::pin(async move {
            if is_http_event(&body) {
                Ok(InvocationResponse::Http(
                    self.handle_event(&body, &context.request_id).await,
                ))
            } else {
                self.webhooks()
                    .clone()
                    .serve(body, context)
                    .await
                    .map(InvocationResponse::Summary)
            }
        })
    }
}
