//! The one dispatcher. Every way in comes here: [`run`](crate::run) (feature `runtime`), the
//! `tower::Service` that `lambda_http` and axum mount (feature `http`), and
//! [`Webhooks::verify_and_receive`] for tests and custom runtimes. The transport of an
//! invocation is decided here, once, from one read of the event, and the [`Invocation`] (under
//! Lambda, the whole Lambda context) is handed on to the callbacks on every transport.
//!
//! - here: choosing the transport, [`Webhooks::verify_and_receive`], [`InvocationResponse`];
//! - `http.rs` (feature `http`): an HTTP request answered (method, size, verification, status),
//!   from a Lambda event or as the `tower::Service<http::Request<B>>`;
//! - `lambda.rs` (feature `runtime`): [`run`](crate::run), the Lambda runtime with each body
//!   taken before lambda_runtime would parse it;
//! - `logging.rs` (feature `runtime`): [`init_tracing`](crate::init_tracing), the function's
//!   log as Lambda's log settings ask for it.
//!
//! Without the `runtime` feature this module knows one transport, soketi's envelope.

#[cfg(feature = "http")]
mod http;
#[cfg(feature = "runtime")]
mod lambda;
#[cfg(feature = "runtime")]
mod logging;

#[cfg(feature = "runtime")]
pub use lambda::run;
#[cfg(feature = "runtime")]
pub use logging::init_tracing;
use serde::Serialize;

use crate::error::Error;
use crate::router::{Invocation, Summary, Webhooks};

/// What an invocation answers: the [`Summary`] of a soketi envelope, or (feature `http`) the
/// HTTP response to an HTTP event — whatever its status: an HTTP request's failures are
/// answers, not function errors. Serialized as the one or the other, which is what Lambda
/// returns to the invoker.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum InvocationResponse {
    /// A soketi envelope was verified and its events dispatched.
    Summary(Summary),
    /// An HTTP request was answered (whatever its status).
    #[cfg(feature = "http")]
    Http(crate::http::LambdaHttpResponse),
}

impl InvocationResponse {
    /// The summary, when the invocation was a soketi envelope.
    pub fn summary(&self) -> Option<&Summary> {
        match self {
            InvocationResponse::Summary(summary) => Some(summary),
            #[cfg(feature = "http")]
            InvocationResponse::Http(_) => None,
        }
    }

    /// The summary, when the invocation was a soketi envelope.
    pub fn into_summary(self) -> Option<Summary> {
        match self {
            InvocationResponse::Summary(summary) => Some(summary),
            #[cfg(feature = "http")]
            InvocationResponse::Http(_) => None,
        }
    }

    /// The HTTP response, when the invocation was an HTTP event (feature `http`).
    #[cfg(feature = "http")]
    pub fn http(&self) -> Option<&crate::http::LambdaHttpResponse> {
        match self {
            InvocationResponse::Http(response) => Some(response),
            InvocationResponse::Summary(_) => None,
        }
    }
}

impl Webhooks {
    /// Verifies one Lambda invocation event and runs the callbacks of its events: what
    /// [`run`](crate::run) does with each invocation, for tests and custom runtimes. The event
    /// is soketi's envelope `{"payload":…,"headers":…}` or, with the `http` feature, the event
    /// of a Function URL, API Gateway or an ALB (answered with its HTTP response, failures
    /// included). `invocation` is a request id, or a `lambda_runtime::Context` (the callbacks
    /// then see its deadline, ARN, …).
    ///
    /// A rejected envelope runs no callback and is returned as [`Error::Rejected`], not logged
    /// here: returned from a Lambda handler, it is the function error lambda_runtime logs
    /// once.
    ///
    /// ```
    /// use soketi_handler_kit::testing::SignedEnvelope;
    /// use soketi_handler_kit::wire::{ChannelOccupied, Event};
    /// use soketi_handler_kit::{Context, ErrorKind, Keyring, Verifier, Webhooks};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let webhooks = Webhooks::new(Verifier::new(Keyring::new().app("key", "s3cret")))
    ///     .on_channel_occupied(|_ev: ChannelOccupied, _cx: Context| async { Ok(()) });
    /// let body = SignedEnvelope::new("key", "s3cret")
    ///     .event(Event::channel_occupied("room"))
    ///     .to_bytes();
    /// let summary = webhooks.verify_and_receive(&body, "req-1").await?.into_summary();
    /// assert_eq!(summary.map(|s| s.handled()), Some(1));
    ///
    /// let forged = SignedEnvelope::new("key", "guessed")
    ///     .event(Event::channel_occupied("room"))
    ///     .to_bytes();
    /// let error = webhooks.verify_and_receive(&forged, "req-2").await.unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::InvalidSignature);
    /// # Ok::<(), soketi_handler_kit::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn verify_and_receive(
        &self,
        event: &[u8],
        invocation: impl Into<Invocation>,
    ) -> Result<InvocationResponse, Error> {
        let invocation = invocation.into();
        #[cfg(feature = "http")]
        if let Some((origin, request)) = crate::http::event::read(event) {
            let response = self.answer_http_event(origin, request, invocation).await;
            return Ok(InvocationResponse::Http(response));
        }
        let verified = self
            .verifier()
            .verify_refreshing(|verifier| verifier.verify_lambda_body(event))
            .await?;
        let summary = self.receive(verified, invocation).await?;
        Ok(InvocationResponse::Summary(summary))
    }
}
