//! Running the callbacks of each event of a verified payload, in payload order: decoded only
//! when a callback wants it, at most once per event with idempotency, panics contained.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use super::context::{Invocation, SharedContext};
use super::outcome::{EventFailure, FailureCause, HandlerFailures, Summary};
use super::{BoxFuture, Callback, CallbackResult, Context, Webhooks, slot};
use crate::untrusted::Untrusted;
use crate::verify::Verified;
use crate::wire::{Event, Located, Name};

impl Webhooks {
    /// Runs the callbacks for the events of a payload **already verified** (by a
    /// [`Verifier`](crate::Verifier) method: `verify_lambda_body`, `verify_http`,
    /// `verify_parts`, …), in payload order. [`Webhooks::verify_and_receive`] verifies first;
    /// use this one when you verified yourself (a transport of your own).
    ///
    /// ```
    /// use soketi_handler_kit::testing::SignedEnvelope;
    /// use soketi_handler_kit::wire::{ChannelOccupied, Event};
    /// use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let webhooks = Webhooks::new(Verifier::new(Keyring::single_secret("s3cret")))
    ///     .on_channel_occupied(|_ev: ChannelOccupied, _cx: Context| async { Ok(()) });
    /// let signed = SignedEnvelope::new("key", "s3cret")
    ///     .event(Event::channel_occupied("room"))
    ///     .signed();
    /// let verified = webhooks.verifier().verify_parts(
    ///     signed.json().as_bytes(),
    ///     Some(signed.app_key()),
    ///     Some(&signed.signature().to_string()),
    /// )?;
    /// let summary = webhooks.receive(verified, "request-1").await?;
    /// assert_eq!(summary.handled(), 1);
    /// # Ok::<(), soketi_handler_kit::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receive(
        &self,
        verified: Verified<'_>,
        invocation: impl Into<Invocation>,
    ) -> Result<Summary, HandlerFailures> {
        let invocation = invocation.into();
        let payload = verified.payload();
        let app_key = verified.shared_app_key().cloned();
        let shared = Arc::new(SharedContext {
            app_key: app_key.clone(),
            time_ms: payload.time_ms(),
            event_count: payload.len(),
            invocation,
        });
        let mut summary = Summary {
            app_key,
            time_ms: payload.time_ms(),
            events: Vec::with_capacity(payload.len()),
            handled: 0,
            ignored: 0,
            skipped: 0,
        };
        #[cfg(feature = "idempotency")]
        let (signature, job_events, mut owner) =
            (*verified.signature(), payload.job_events(), None);
        let mut failures = Vec::new();
        for (index, located) in payload.located().enumerate() {
            let cx = Context {
                shared: Arc::clone(&shared),
                index,
            };
            let (name, outcome) = match located.identify() {
                Ok(name) => {
                    #[cfg(feature = "idempotency")]
                    let once = Once {
                        signature: &signature,
                        job_events,
                        owner: &mut owner,
                    };
                    let outcome = self
                        .run_event(
                            &located,
                            &name,
                            &cx,
                            #[cfg(feature = "idempotency")]
                            once,
                        )
                        .await;
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
            })
        }
    }

    /// Decodes an event and runs its callbacks, or, when no callback wants it, only checks it
    /// (a malformed event fails the invocation whether or not anyone listens).
    async fn run_event(
        &self,
        located: &Located<'_>,
        name: &Name<'_>,
        cx: &Context,
        #[cfg(feature = "idempotency")] once: Once<'_>,
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
        if let Some(store) = &callbacks.idempotency.store {
            return self.run_once(store.as_ref(), event, slot, cx, once).await;
        }
        if let ([], [callback]) | ([callback], []) = (&callbacks.any[..], &typed[..]) {
            // The usual case, one callback: it takes the event itself, before anything waits
            // (so the event is not kept in this future's state, nor moved through another's).
            let mut causes = Vec::new();
            settle(start(callback, event, cx).await, &mut causes);
            return match causes.is_empty() {
                true => Outcome::Handled,
                false => Outcome::Failed(causes),
            };
        }
        self.run_callbacks(event, slot, cx).await
    }

    /// [`Webhooks::run_callbacks`] at most once per (namespace, signature, index), as the
    /// store records, under this delivery's owner token. The signature and index are those of
    /// the event's queue job when the payload names it (`job_events`), so that an event
    /// delivered again in a payload of another shape is still recognised.
    #[cfg(feature = "idempotency")]
    async fn run_once(
        &self,
        store: &dyn crate::idempotency::IdempotencyStore,
        event: Event,
        slot: usize,
        cx: &Context,
        once: Once<'_>,
    ) -> Outcome {
        use crate::idempotency::{Claim, IdempotencyKey, Owner, Settled};
        let settings = &self.callbacks.idempotency;
        #[cfg(feature = "runtime")]
        let (deadline, function) = (cx.deadline(), cx.invocation().function_name());
        #[cfg(not(feature = "runtime"))]
        let (deadline, function) = (None, None);
        let namespace = settings.namespace.as_deref().or(function);
        let key = match once.job_events.and_then(|ids| ids.get(cx.index)) {
            Some(id) => IdempotencyKey::new(namespace, id.job(), id.index()),
            None => IdempotencyKey::new(namespace, once.signature, cx.index),
        };
        let owner = match once.owner {
            Some(owner) => owner,
            slot @ None => match Owner::random() {
                Ok(owner) => slot.insert(owner),
                Err(error) => return Outcome::Failed(vec![FailureCause::Store(error)]),
            },
        };
        match store
            .claim(&key, owner, settings.lease_until(deadline))
            .await
        {
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
        let settled = match &outcome {
            Outcome::Handled => store.complete(&key, owner, settings.ttl).await,
            _ => store.release(&key, owner).await,
        };
        match (outcome, settled) {
            (outcome, Ok(Settled::Recorded)) => outcome,
            (outcome, Ok(Settled::NotOwner)) => {
                // The lease ended while the callbacks ran, and another delivery took the claim
                // over: it records the outcome of its own run; this one leaves its claim alone.
                tracing::warn!(
                    index = cx.index,
                    request_id = cx.request_id(),
                    "the event's idempotency lease ended before its callbacks finished and \
                     another delivery took it over (its callbacks may run beside these): let \
                     callbacks finish before the function's timeout"
                );
                outcome
            }
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
            settle(start(callback, this, cx).await, &mut causes);
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

/// Calls `callback`: its future, or its panic when the call itself panicked.
fn start(callback: &Callback, event: Event, cx: &Context) -> CatchPanic {
    CatchPanic(catch_unwind(AssertUnwindSafe(|| callback(event, cx.clone()))).map_err(Some))
}

/// Notes a callback's error or panic in `causes`.
fn settle(result: Result<CallbackResult, Box<dyn Any + Send>>, causes: &mut Vec<FailureCause>) {
    match result {
        Ok(Ok(())) => {}
        Ok(Err(error)) => causes.push(FailureCause::Callback(error)),
        Err(panic) => causes.push(FailureCause::Panicked(panic_message(&*panic))),
    }
}

/// Polls a callback's future, turning a panic into an error: one callback's panic fails its
/// event, never the whole batch. When the call that was to make the future panicked, that
/// panic is the output, at the first poll.
struct CatchPanic(Result<BoxFuture, Option<Box<dyn Any + Send>>>);

impl Future for CatchPanic {
    type Output = Result<CallbackResult, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let future = match &mut self.0 {
            Ok(future) => future,
            Err(panic) => {
                let panic = panic
                    .take()
                    .unwrap_or_else(|| Box::new("a callback's run was polled after it ended"));
                return Poll::Ready(Err(panic));
            }
        };
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

/// What running an event at most once needs: the payload's signature and its events' queue
/// jobs (when it names them), and this delivery's owner token (made at the first claim, then
/// shared by the payload's events).
#[cfg(feature = "idempotency")]
struct Once<'d> {
    signature: &'d crate::wire::Signature,
    job_events: Option<&'d [crate::wire::JobEventId]>,
    owner: &'d mut Option<crate::idempotency::Owner>,
}

enum Outcome {
    Handled,
    Ignored,
    /// Handled already (idempotency).
    #[cfg_attr(not(feature = "idempotency"), allow(dead_code))]
    Skipped,
    Failed(Vec<FailureCause>),
}
