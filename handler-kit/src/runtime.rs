//! The AWS Lambda glue (feature `runtime`): [`Webhooks`] as a `tower::Service` and [`run`].
//!
//! `lambda_runtime` parses each invocation body into the handler's event type with serde_json
//! before the handler sees it. For a webhook that pass would be a second full read of the
//! body (and a copy of it) before the kit's own one-pass reader. [`run`] avoids it: a layer
//! takes the body bytes as they came from the Runtime API, hands lambda_runtime `null` to
//! parse instead, and the kit reads the bytes itself.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime};
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::router::{Invocation, Summary, Webhooks};

/// The invocation event as Lambda delivered it, kept raw so the payload is verified over the
/// exact bytes that arrived. Use it to mount [`Webhooks`] as a `tower::Service` in a runtime of
/// your own; [`run`] does better (it skips lambda_runtime's parse of the body).
pub type RawInvocation = LambdaEvent<Box<RawValue>>;

type BoxFuture = Pin<Box<dyn Future<Output = Result<Summary, Error>> + Send>>;

impl Webhooks {
    pub(crate) fn serve(self, body: Bytes, context: lambda_runtime::Context) -> BoxFuture {
        Box::pin(async move {
            let request_id = context.request_id.clone();
            let invocation = Invocation {
                request_id: &request_id,
                lambda: Some(context),
            };
            self.handle_invocation(&body, invocation).await
        })
    }
}

impl tower::Service<RawInvocation> for Webhooks {
    type Response = Summary;
    type Error = Error;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, invocation: RawInvocation) -> Self::Future {
        let (body, context) = invocation.into_parts();
        let body = Bytes::from(String::from(Box::<str>::from(body)));
        self.clone().serve(body, context)
    }
}

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

/// What serves an invocation from its body bytes: the router (soketi envelopes), or with the
/// `http` feature the router behind both transports.
pub(crate) trait ServeBytes: Clone + Send + 'static {
    /// What a successful invocation answers.
    type Response: serde::Serialize + Send + 'static;
    /// Serves one invocation.
    fn serve_bytes(
        self,
        body: Bytes,
        context: lambda_runtime::Context,
    ) -> Pin<Box<dyn Future<Output = Result<Self::Response, Error>> + Send>>;
}

impl ServeBytes for Webhooks {
    type Response = Summary;

    fn serve_bytes(self, body: Bytes, context: lambda_runtime::Context) -> BoxFuture {
        self.serve(body, context)
    }
}

/// The service behind [`TakeBodyLayer`]: the event lambda_runtime parsed is the placeholder;
/// the body is the one taken.
#[derive(Clone)]
struct FromTakenBody<S>(S);

impl<S: ServeBytes> tower::Service<LambdaEvent<IgnoredAny>> for FromTakenBody<S> {
    type Response = S::Response;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<IgnoredAny>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move {
            let body = BODY.try_with(Bytes::clone).map_err(|_| {
                Error::Runtime("the invocation body was not handed to the kit".into())
            })?;
            server.serve_bytes(body, event.context).await
        })
    }
}

/// Serves invocations with `server` until the process ends, each body read once, by the kit.
pub(crate) async fn run_bytes<S: ServeBytes>(server: S) -> Result<(), Error> {
    init_tracing();
    Runtime::new(FromTakenBody(server))
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(TakeBodyLayer)
        .run()
        .await
        .map_err(Error::Runtime)
}

/// Starts the Lambda runtime with `webhooks` and serves invocations until the process ends.
///
/// Unless a `tracing` subscriber is already installed, this installs Lambda's default one,
/// which follows the function's log settings (`AWS_LAMBDA_LOG_FORMAT=JSON` for JSON lines,
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` for the level).
///
/// A successful invocation returns the [`Summary`]; a rejected or failed one returns a
/// function error whose `errorType` is the stable [`ErrorKind`](crate::ErrorKind) name.
/// With the `http` feature (on by default), an HTTP event of a Function URL, API Gateway or an
/// ALB is answered with its HTTP response instead (see [`http`](crate::http)). Each body is
/// read once, by the kit (see the module docs).
///
/// ```no_run
/// # async fn example() -> Result<(), soketi_handler_kit::Error> {
/// let webhooks = soketi_handler_kit::Webhooks::from_env()?;
/// soketi_handler_kit::run(webhooks).await
/// # }
/// ```
pub async fn run(webhooks: Webhooks) -> Result<(), Error> {
    #[cfg(feature = "http")]
    return run_bytes(crate::http::HttpWebhooks::new(webhooks)).await;
    #[cfg(not(feature = "http"))]
    run_bytes(webhooks).await
}

/// Installs Lambda's default `tracing` subscriber unless one is already set. [`run`] calls it;
/// call it yourself to log before `run`.
pub fn init_tracing() {
    if !tracing::dispatcher::has_been_set() {
        lambda_runtime::tracing::init_default_subscriber();
    }
}
