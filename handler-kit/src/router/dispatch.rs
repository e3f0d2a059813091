//! Verifying an invocation and running the callbacks of each event, in payload order.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use super::context::SharedContext;
use super::outcome::{EventFailure, FailureCause, HandlerFailures, Summary};
use super::{BoxFuture, CallbackResult, Context, Webhooks, slot};
use crate::error::Error;
use crate::untrusted::Untrusted;
use crate::verify::{Rejection, Verified};
use crate::wire::{Event, Headers, Located, Name, Signature};

/// Where an invocation came from, for the [`Context`].
pub(crate) struct Invocation<'r> {
    pub(crate) request_id: &'r str,
    #[cfg(feature = "runtime")]
    pub(crate) lambda: Option<lambda_runtime::Context>,
}

impl<'r> Invocation<'r> {
    fn with_request_id(request_id: &'r str) -> Self {
        Invocation {
            request_id,
            #[cfg(feature = "runtime")]
            lambda: None,
        }
    }
}

impl Webhooks {
    /// Verifies a Lambda invocation body and dispatches its events.
    ///
    /// A rejected webhook runs no callback. `request_id` is passed on in the [`Context`].
    pub async fn handle(&self, body: &[u8], request_id: &str) -> Result<Summary, Error> {
        self.handle_invocation(body, Invocation::with_request_id(request_id))
            .await
    }

    /// [`Webhooks::handle`] with the whole invocation context.
    pub(crate) async fn handle_invocation(
        &self,
        body: &[u8],
        invocation: Invocation<'_>,
    ) -> Result<Summary, Error> {
        let verified = self
            .verifier()
            .verify_refreshing(|verifier| verifier.verify_lambda_body(body))
            .await
            .inspect_err(|e| log_rejection(e, invocation.request_id))?;
        self.run(verified, invocation).await
    }

    /// Verifies an HTTP webhook (the body is the payload; the request's own headers) and
    /// dispatches its events.
    pub async fn handle_http(
        &self,
        body: &[u8],
        headers: &Headers<'_>,
        request_id: &str,
    ) -> Result<Summary, Error> {
        let verified = self
            .verifier()
            .verify_refreshing(|verifier| verifier.verify_http(body, headers))
            .await
            .inspect_err(|e| log_rejection(e, request_id))?;
        self.dispatch(verified, request_id).await
    }

    /// Runs the callbacks for the events of an already verified payload.
    pub async fn dispatch(
        &self,
        verified: Verified<'_>,
        request_id: &str,
    ) -> Result<Summary, Error> {
        self.run(verified, Invocation::with_request_id(request_id))
            .await
    }

    async fn run(
        &self,
        verified: Verified<'_>,
        invocation: Invocation<'_>,
    ) -> Result<Summary, Error> {
        let payload = verified.payload();
        let app_key = verified.app_key().map(str::to_owned);
        let shared = Arc::new(SharedContext {
            app_key: app_key.clone(),
            time_ms: payload.time_ms(),
            request_id: invocation.request_id.to_owned(),
            event_count: payload.len(),
            #[cfg(feature = "runtime")]
            lambda: invocation.lambda,
        });
        let mut summary = Summary {
            app_key,
            time_ms: payload.time_ms(),
            events: Vec::with_capacity(payload.len()),
            handled: 0,
            ignored: 0,
            skipped: 0,
        };
        let signature = *verified.signature();
        let mut failures = Vec::new();
        for (index, located) in payload.located().enumerate() {
            let cx = Context {
                shared: Arc::clone(&shared),
                index,
            };
            let (name, outcome) = match located.identify() {
                Ok(name) => {
                    let outcome = self.run_event(&located, &name, &cx, &signature).await;
                    (name.to_cow(), outcome)
                }
                Err(error) => {
                    let name = error.name().unwrap_or("<unreadable>").to_owned();
                    (
                        Cow::Owned(name),
                        Outcome::Failed(vec![FailureCause::Decode(error)]),
                    )
                }
            };
            match outcome {
                Outcome::Handled => summary.handled += 1,
                Outcome::Ignored => summary.ignored += 1,
                Outcome::Skipped => summary.skipped += 1,
                Outcome::Failed(causes) => {
                    for cause in causes {
                        let failure = EventFailure {
                            index,
                            name: name.to_string(),
                            cause,
                        };
                        self.report(&failure, &cx);
                        failures.push(failure);
                    }
                }
            }
            summary.events.push(name);
        }
        if failures.is_empty() {
            tracing::debug!(
                handled = summary.handled,
                ignored = summary.ignored,
                skipped = summary.skipped,
                "webhook dispatched"
            );
            Ok(summary)
        } else {
            Err(HandlerFailures {
                failures,
                event_count: payload.len(),
            }
            .into())
        }
    }

    /// Decodes an event and runs its callbacks, or, when no callback wants it, only checks it
    /// (a malformed event fails the invocation whether or not anyone listens).
    async fn run_event(
        &self,
        located: &Located<'_>,
        name: &Name<'_>,
        cx: &Context,
        signature: &Signature,
    ) -> Outcome {
        let callbacks = &self.callbacks;
        let slot = slot(name.kind());
        let typed = &callbacks.by_kind[slot];
        let total = callbacks.any.len() + typed.len();
        if total == 0 {
            if let Err(error) = located.check(name) {
                return Outcome::Failed(vec![FailureCause::Decode(error)]);
            }
            if let Name::Unknown(name) = name {
                tracing::warn!(
                    event = %Untrusted(name),
                    index = cx.index,
                    "unknown webhook event not handled: register on_unknown or on_any to handle it"
                );
            }
            return Outcome::Ignored;
        }
        let event = match located.decode(name.clone()) {
            Ok(event) => event,
            Err(error) => return Outcome::Failed(vec![FailureCause::Decode(error)]),
        };
        #[cfg(feature = "idempotency")]
        if let Some(idempotency) = &callbacks.idempotency {
            return self.run_once(idempotency, event, slot, cx, signature).await;
        }
        let _ = signature;
        self.run_callbacks(event, slot, cx).await
    }

    /// [`Webhooks::run_callbacks`] at most once per (signature, index), as the store records.
    #[cfg(feature = "idempotency")]
    async fn run_once(
        &self,
        idempotency: &crate::idempotency::Idempotency,
        event: Event,
        slot: usize,
        cx: &Context,
        signature: &Signature,
    ) -> Outcome {
        use crate::idempotency::{Claim, IdempotencyKey};
        let key = IdempotencyKey::new(signature, cx.index);
        let store = &idempotency.store;
        #[cfg(feature = "runtime")]
        let deadline = cx.deadline();
        #[cfg(not(feature = "runtime"))]
        let deadline = None;
        match store.claim(&key, idempotency.lease_until(deadline)).await {
            Ok(Claim::Run) => {}
            Ok(Claim::Done) => {
                tracing::info!(
                    index = cx.index,
                    event = event.name(),
                    request_id = cx.request_id(),
                    "webhook event skipped: this event of this payload was handled already"
                );
                return Outcome::Skipped;
            }
            Ok(Claim::InProgress) => return Outcome::Failed(vec![FailureCause::InProgress]),
            Err(error) => return Outcome::Failed(vec![FailureCause::Store(error)]),
        }
        let outcome = self.run_callbacks(event, slot, cx).await;
        let recorded = match &outcome {
            Outcome::Handled => store.complete(&key, idempotency.ttl).await,
            _ => store.release(&key).await,
        };
        match (outcome, recorded) {
            (outcome, Ok(())) => outcome,
            (Outcome::Handled, Err(error)) => Outcome::Failed(vec![FailureCause::Store(error)]),
            (outcome, Err(error)) => {
                tracing::warn!(
                    index = cx.index,
                    request_id = cx.request_id(),
                    "the failed event's idempotency claim could not be released (a retry runs \
                     it once its lease ends): {error}"
                );
                outcome
            }
        }
    }

    /// Runs the `on_any` callbacks, then those of the event's type, on a decoded event.
    async fn run_callbacks(&self, event: Event, slot: usize, cx: &Context) -> Outcome {
        let callbacks = &self.callbacks;
        let typed = &callbacks.by_kind[slot];
        let total = callbacks.any.len() + typed.len();
        // The last callback takes the event itself, so a large client event is not copied
        // for it.
        let mut event = Some(event);
        let mut causes = Vec::new();
        for (i, callback) in callbacks.any.iter().chain(typed).enumerate() {
            let this = if i + 1 == total {
                event.take()
            } else {
                event.clone()
            };
            let Some(this) = this else { break };
            let result = match catch_unwind(AssertUnwindSafe(|| callback(this, cx.clone()))) {
                Ok(future) => CatchPanic(future).await,
                Err(panic) => Err(panic),
            };
            match result {
                Ok(Ok(())) => {}
                Ok(Err(error)) => causes.push(FailureCause::Callback(error)),
                Err(panic) => causes.push(FailureCause::Panicked(panic_message(&*panic))),
            }
        }
        if causes.is_empty() {
            Outcome::Handled
        } else {
            Outcome::Failed(causes)
        }
    }

    fn report(&self, failure: &EventFailure, cx: &Context) {
        match &self.callbacks.on_error {
            Some(hook) => hook(failure, cx),
            None => tracing::error!(
                index = failure.index,
                event = %Untrusted(&failure.name),
                request_id = cx.request_id(),
                "webhook event failed: {}",
                failure.cause
            ),
        }
    }
}

/// Polls a callback's future, turning a panic into an error: one callback's panic fails its
/// event, never the whole batch.
struct CatchPanic(BoxFuture);

impl Future for CatchPanic {
    type Output = Result<CallbackResult, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

fn log_rejection(error: &Rejection, request_id: &str) {
    tracing::warn!(kind = %error.kind(), request_id, "webhook rejected: {error}");
}

enum Outcome {
    Handled,
    Ignored,
    /// Handled already (idempotency).
    #[cfg_attr(not(feature = "idempotency"), allow(dead_code))]
    Skipped,
    Failed(Vec<FailureCause>),
}
