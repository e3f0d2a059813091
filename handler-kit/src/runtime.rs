//! The AWS Lambda glue (feature `runtime`): [`Webhooks`] as a `tower::Service` and [`run`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::router::{Summary, Webhooks};

/// The invocation event as Lambda delivered it, kept raw so the payload is verified over the
/// exact bytes that arrived.
pub type RawInvocation = LambdaEvent<Box<RawValue>>;

impl tower::Service<RawInvocation> for Webhooks {
    type Response = Summary;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Summary, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, invocation: RawInvocation) -> Self::Future {
        let webhooks = self.clone();
        Box::pin(async move {
            let (body, context) = invocation.into_parts();
            webhooks
                .handle(body.get().as_bytes(), &context.request_id)
                .await
        })
    }
}

/// Starts the Lambda runtime with `webhooks` and serves invocations until the process ends.
///
/// Unless a `tracing` subscriber is already installed, this installs Lambda's default one,
/// which follows the function's log settings (`AWS_LAMBDA_LOG_FORMAT=JSON` for JSON lines,
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` for the level).
///
/// A successful invocation returns the [`Summary`]; a rejected or failed one returns a
/// function error whose `errorType` is the stable [`ErrorKind`](crate::ErrorKind) name.
///
/// ```no_run
/// # async fn example() -> Result<(), soketi_handler_kit::Error> {
/// let webhooks = soketi_handler_kit::Webhooks::from_env()?;
/// soketi_handler_kit::run(webhooks).await
/// # }
/// ```
pub async fn run(webhooks: Webhooks) -> Result<(), Error> {
    #[cfg(feature = "http")]
    return crate::http::run(crate::http::HttpWebhooks::new(webhooks)).await;
    #[cfg(not(feature = "http"))]
    {
        init_tracing();
        lambda_runtime::run(webhooks).await.map_err(Error::Runtime)
    }
}

/// Installs Lambda's default `tracing` subscriber unless one is already set. [`run`] calls it;
/// call it yourself to log before `run`.
pub fn init_tracing() {
    if !tracing::dispatcher::has_been_set() {
        lambda_runtime::tracing::init_default_subscriber();
    }
}
