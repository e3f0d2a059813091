//! The AWS Lambda runtime (feature `runtime`): [`run`].
//!
//! `lambda_runtime` parses each invocation body into the handler's event type with serde_json
//! before the handler sees it. For a webhook that pass would be a second full read of the
//! body (and a copy of it) before the kit's own one-pass reader. [`run`] avoids it: a layer
//! takes the body bytes as they came from the Runtime API, hands lambda_runtime `null` to
//! parse instead, and the dispatcher reads the bytes itself, with the invocation's Lambda
//! context.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime};
use serde::de::IgnoredAny;

use super::InvocationResponse;
use super::logging::init_tracing;
use crate::error::Error;
use crate::router::{Invocation, Webhooks};

tokio::task_local! {
    /// The body of the invocation being served, taken before lambda_runtime parses it.
    static BODY: Bytes;
}

/// Takes each invocation's body bytes into [`BODY`] for the inner services, and leaves
/// lambda_runtime `null` to parse.
#[derive(Clone)]
struct TakeBody<S>(S);

impl<S: tower::Service<LambdaInvocation>> tower::Service<LambdaInvocation> for TakeBody<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = tokio::task::futures::TaskLocalFuture<Bytes, S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        BODY.scope(body, self.0.call(invocation))
    }
}

struct TakeBodyLayer;

impl<S> tower::Layer<S> for TakeBodyLayer {
    type Service = TakeBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TakeBody(inner)
    }
}

/// The service behind [`TakeBodyLayer`]: the event lambda_runtime parsed is the placeholder;
/// the body is the one taken, and the dispatcher serves it with the Lambda context.
#[derive(Clone)]
struct FromTakenBody(Webhooks);

impl tower::Service<LambdaEvent<IgnoredAny>> for FromTakenBody {
    type Response = InvocationResponse;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<InvocationResponse, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<IgnoredAny>) -> Self::Future {
        let webhooks = self.0.clone();
        Box::pin(async move {
            let body = BODY.try_with(Bytes::clone).map_err(|_| {
                Error::Runtime("the invocation body was not handed to the kit".into())
            })?;
            webhooks
                .verify_and_receive(&body, Invocation::from(event.context))
                .await
        })
    }
}

/// Starts the Lambda runtime with `webhooks` and serves invocations until the process ends.
///
/// Unless a `tracing` subscriber is already installed, this installs the kit's Lambda log
/// ([`init_tracing`](crate::init_tracing)), which follows the function's log settings
/// (`AWS_LAMBDA_LOG_FORMAT=JSON` for JSON lines, `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` for the
/// level).
///
/// A successful invocation returns the [`Summary`](crate::Summary); a rejected or failed one
/// returns a function error whose `errorType` is the stable [`ErrorKind`](crate::ErrorKind)
/// name (lambda_runtime logs it, once). With the `http` feature (on by default), an HTTP
/// event of a Function URL, API Gateway or an ALB is answered with its HTTP response instead
/// (see [`http`](crate::http)). Each body is read once, by the kit, and the callbacks get the
/// invocation's Lambda context on every transport.
///
/// ```no_run
/// # async fn example() -> Result<(), soketi_handler_kit::Error> {
/// let webhooks = soketi_handler_kit::Webhooks::from_env().await?;
/// soketi_handler_kit::run(webhooks).await
/// # }
/// ```
pub async fn run(webhooks: Webhooks) -> Result<(), Error> {
    init_tracing();
    Runtime::new(FromTakenBody(webhooks))
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(TakeBodyLayer)
        .run()
        .await
        .map_err(Error::Runtime)
}
