//! The callback builder and dispatch: verified events, in payload order, to typed async
//! callbacks.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;

use crate::error::{BoxError, Error};
use crate::verify::{ConfigError, Verified, Verifier};
use crate::wire::{
    CacheMiss, ChannelOccupied, ChannelVacated, ClientEvent, Event, EventDecodeError, Headers,
    MemberAdded, MemberRemoved, SubscriptionCount, UnknownEvent,
};

/// What a callback returns: `Ok(())`, or any error (`?` converts it).
pub type CallbackResult = Result<(), BoxError>;

type BoxFuture = Pin<Box<dyn Future<Output = CallbackResult> + Send>>;
type Callback<E> = Arc<dyn Fn(E, Context) -> BoxFuture + Send + Sync>;
type ErrorHook = Arc<dyn Fn(&EventFailure, &Context) + Send + Sync>;

fn boxed<E, F, Fut>(f: F) -> Callback<E>
where
    F: Fn(E, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CallbackResult> + Send + 'static,
{
    Arc::new(move |event, cx| Box::pin(f(event, cx)))
}

#[derive(Clone, Default)]
struct Callbacks {
    channel_occupied: Vec<Callback<ChannelOccupied>>,
    channel_vacated: Vec<Callback<ChannelVacated>>,
    member_added: Vec<Callback<MemberAdded>>,
    member_removed: Vec<Callback<MemberRemoved>>,
    client_event: Vec<Callback<ClientEvent>>,
    cache_miss: Vec<Callback<CacheMiss>>,
    subscription_count: Vec<Callback<SubscriptionCount>>,
    unknown: Vec<Callback<UnknownEvent>>,
    any: Vec<Callback<Event>>,
    on_error: Option<ErrorHook>,
}

/// What a callback learns besides its event. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Context {
    shared: Arc<SharedContext>,
    index: usize,
}

#[derive(Debug)]
struct SharedContext {
    app_key: Option<String>,
    time_ms: u64,
    request_id: String,
    event_count: usize,
}

impl Context {
    /// The `X-Pusher-Key` the webhook came with (`None` only in single-secret mode when soketi
    /// sent no key).
    pub fn app_key(&self) -> Option<&str> {
        self.shared.app_key.as_deref()
    }

    /// The payload's `time_ms`: when soketi built it, in milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        self.shared.time_ms
    }

    /// The Lambda request id of this invocation (empty outside Lambda).
    pub fn request_id(&self) -> &str {
        &self.shared.request_id
    }

    /// The position of this event in the payload, from 0.
    pub fn event_index(&self) -> usize {
        self.index
    }

    /// How many events the payload holds.
    pub fn event_count(&self) -> usize {
        self.shared.event_count
    }
}

/// The verified webhook router: typed async callbacks per event type.
///
/// Build it once (it is cheap to clone, `Send` and `Sync`), then hand it to
/// [`run`](crate::run) or call [`Webhooks::handle`] yourself. Events run one at a time in
/// payload order. When callbacks fail, the remaining events still run, and the invocation
/// returns one [`HandlerFailures`] error listing them, so that Lambda's retries or on-failure
/// destination take over: make callbacks idempotent. Several callbacks may be registered for
/// the same type; they run in registration order, after the `on_any` callbacks.
///
/// ```
/// use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};
/// use soketi_handler_kit::wire::{ChannelOccupied, Event};
/// use soketi_handler_kit::testing::SignedEnvelope;
///
/// # tokio_test_block_on(async {
/// let webhooks = Webhooks::new(Verifier::new(Keyring::single_secret("s3cret")))
///     .on_channel_occupied(|ev: ChannelOccupied, _cx: Context| async move {
///         println!("{} is now occupied.", ev.channel);
///         Ok(())
///     });
///
/// let body = SignedEnvelope::new("key", "s3cret")
///     .event(Event::channel_occupied("my-channel"))
///     .to_bytes();
/// let summary = webhooks.handle(&body, "request-1").await?;
/// assert_eq!(summary.handled(), 1);
/// # Ok::<(), soketi_handler_kit::Error>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct Webhooks {
    verifier: Verifier,
    callbacks: Arc<Callbacks>,
}

macro_rules! on_typed {
    ($(#[$doc:meta])* $method:ident, $field:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $method<F, Fut>(mut self, callback: F) -> Self
        where
            F: Fn($ty, Context) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = CallbackResult> + Send + 'static,
        {
            Arc::make_mut(&mut self.callbacks).$field.push(boxed(callback));
            self
        }
    };
}

impl Webhooks {
    /// A router verifying with `verifier`, with no callbacks yet.
    pub fn new(verifier: Verifier) -> Self {
        Webhooks {
            verifier,
            callbacks: Arc::default(),
        }
    }

    /// A router whose verifier comes from the environment: `SOKETI_SECRET` (optional
    /// `SOKETI_APP_KEY`, `SOKETI_PREVIOUS_SECRET`), or `SOKETI_APPS`; optional
    /// `SOKETI_MAX_AGE_SECONDS`. See [`Keyring::from_env`](crate::Keyring::from_env).
    pub fn from_env() -> Result<Self, ConfigError> {
        Verifier::from_env().map(Webhooks::new)
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    on_typed!(
        /// Runs `callback` for each `channel_occupied` event.
        on_channel_occupied, channel_occupied, ChannelOccupied
    );
    on_typed!(
        /// Runs `callback` for each `channel_vacated` event.
        on_channel_vacated, channel_vacated, ChannelVacated
    );
    on_typed!(
        /// Runs `callback` for each `member_added` event.
        on_member_added, member_added, MemberAdded
    );
    on_typed!(
        /// Runs `callback` for each `member_removed` event.
        on_member_removed, member_removed, MemberRemoved
    );
    on_typed!(
        /// Runs `callback` for each `client_event` event.
        on_client_event, client_event, ClientEvent
    );
    on_typed!(
        /// Runs `callback` for each `cache_miss` event.
        on_cache_miss, cache_miss, CacheMiss
    );
    on_typed!(
        /// Runs `callback` for each `subscription_count` event.
        on_subscription_count, subscription_count, SubscriptionCount
    );
    on_typed!(
        /// Runs `callback` for each event whose name this version does not know. Without such
        /// a callback (or `on_any`), unknown events are logged as warnings and counted as
        /// ignored in the summary, never dropped silently.
        on_unknown, unknown, UnknownEvent
    );
    on_typed!(
        /// Runs `callback` for every event, known or not, before the typed callbacks.
        on_any, any, Event
    );

    /// Called once for each failed event (a callback error, or an event that could not be
    /// decoded), before the invocation fails with all of them. The default logs each failure
    /// with `tracing::error!`; a hook replaces that.
    pub fn on_error<F>(mut self, hook: F) -> Self
    where
        F: Fn(&EventFailure, &Context) + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.callbacks).on_error = Some(Arc::new(hook));
        self
    }

    /// Verifies a Lambda invocation body and dispatches its events.
    ///
    /// A rejected webhook runs no callback. `request_id` is passed on in the [`Context`].
    pub async fn handle(&self, body: &[u8], request_id: &str) -> Result<Summary, Error> {
        let verified = self
            .verifier
            .verify_lambda_body(body)
            .inspect_err(|e| log_rejection(e, request_id))?;
        self.dispatch(verified, request_id).await
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
            .verifier
            .verify_http(body, headers)
            .inspect_err(|e| log_rejection(e, request_id))?;
        self.dispatch(verified, request_id).await
    }

    /// Runs the callbacks for the events of an already verified payload.
    pub async fn dispatch(
        &self,
        verified: Verified<'_>,
        request_id: &str,
    ) -> Result<Summary, Error> {
        let payload = verified.payload();
        let shared = Arc::new(SharedContext {
            app_key: verified.app_key().map(str::to_owned),
            time_ms: payload.time_ms(),
            request_id: request_id.to_owned(),
            event_count: payload.len(),
        });
        let mut summary = Summary {
            app_key: shared.app_key.clone(),
            time_ms: shared.time_ms,
            events: Vec::with_capacity(payload.len()),
            handled: 0,
            ignored: 0,
        };
        let mut failures = Vec::new();
        for (index, decoded) in payload.events().enumerate() {
            let cx = Context {
                shared: Arc::clone(&shared),
                index,
            };
            let outcome = match decoded {
                Ok(event) => {
                    summary.events.push(event.name().to_owned());
                    self.run_callbacks(event, &cx).await
                }
                Err(error) => {
                    let name = error.name().unwrap_or("<unreadable>").to_owned();
                    summary.events.push(name.clone());
                    Outcome::Failed(vec![EventFailure {
                        index,
                        name,
                        cause: FailureCause::Decode(error),
                    }])
                }
            };
            match outcome {
                Outcome::Handled => summary.handled += 1,
                Outcome::Ignored => summary.ignored += 1,
                Outcome::Failed(event_failures) => {
                    for failure in &event_failures {
                        self.report(failure, &cx);
                    }
                    failures.extend(event_failures);
                }
            }
        }
        if failures.is_empty() {
            tracing::debug!(
                handled = summary.handled,
                ignored = summary.ignored,
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

    async fn run_callbacks(&self, event: Event, cx: &Context) -> Outcome {
        let callbacks = &self.callbacks;
        let index = cx.index;
        let name = event.name().to_owned();
        let mut results = Vec::new();
        for callback in &callbacks.any {
            results.push(callback(event.clone(), cx.clone()).await);
        }
        match event {
            Event::ChannelOccupied(ev) => {
                run_all(&callbacks.channel_occupied, ev, cx, &mut results).await
            }
            Event::ChannelVacated(ev) => {
                run_all(&callbacks.channel_vacated, ev, cx, &mut results).await
            }
            Event::MemberAdded(ev) => run_all(&callbacks.member_added, ev, cx, &mut results).await,
            Event::MemberRemoved(ev) => {
                run_all(&callbacks.member_removed, ev, cx, &mut results).await
            }
            Event::ClientEvent(ev) => run_all(&callbacks.client_event, ev, cx, &mut results).await,
            Event::CacheMiss(ev) => run_all(&callbacks.cache_miss, ev, cx, &mut results).await,
            Event::SubscriptionCount(ev) => {
                run_all(&callbacks.subscription_count, ev, cx, &mut results).await
            }
            Event::Unknown(ev) => {
                if callbacks.unknown.is_empty() && callbacks.any.is_empty() {
                    tracing::warn!(
                        event = %ev.name,
                        index,
                        "unknown webhook event not handled: register on_unknown or on_any to handle it"
                    );
                }
                run_all(&callbacks.unknown, ev, cx, &mut results).await
            }
        }
        if results.is_empty() {
            return Outcome::Ignored;
        }
        let failures: Vec<EventFailure> = results
            .into_iter()
            .filter_map(Result::err)
            .map(|error| EventFailure {
                index,
                name: name.clone(),
                cause: FailureCause::Callback(error),
            })
            .collect();
        if failures.is_empty() {
            Outcome::Handled
        } else {
            Outcome::Failed(failures)
        }
    }

    fn report(&self, failure: &EventFailure, cx: &Context) {
        match &self.callbacks.on_error {
            Some(hook) => hook(failure, cx),
            None => tracing::error!(
                index = failure.index,
                event = %failure.name,
                request_id = cx.request_id(),
                "webhook event failed: {}",
                failure.cause
            ),
        }
    }
}

async fn run_all<E: Clone>(
    callbacks: &[Callback<E>],
    event: E,
    cx: &Context,
    results: &mut Vec<CallbackResult>,
) {
    // The last callback takes the event itself: a large client event is not copied for it.
    if let Some((last, others)) = callbacks.split_last() {
        for callback in others {
            results.push(callback(event.clone(), cx.clone()).await);
        }
        results.push(last(event, cx.clone()).await);
    }
}

fn log_rejection(error: &crate::verify::Rejection, request_id: &str) {
    tracing::warn!(kind = %error.kind(), request_id, "webhook rejected: {error}");
}

enum Outcome {
    Handled,
    Ignored,
    Failed(Vec<EventFailure>),
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.callbacks;
        f.debug_struct("Webhooks")
            .field("verifier", &self.verifier)
            .field("channel_occupied", &c.channel_occupied.len())
            .field("channel_vacated", &c.channel_vacated.len())
            .field("member_added", &c.member_added.len())
            .field("member_removed", &c.member_removed.len())
            .field("client_event", &c.client_event.len())
            .field("cache_miss", &c.cache_miss.len())
            .field("subscription_count", &c.subscription_count.len())
            .field("unknown", &c.unknown.len())
            .field("any", &c.any.len())
            .field("on_error", &c.on_error.is_some())
            .finish()
    }
}

/// What a successful invocation returns: the response of a `RequestResponse` invocation.
///
/// Serialized as `{"app_key":…,"time_ms":…,"events":[names…],"handled":n,"ignored":m}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    app_key: Option<String>,
    time_ms: u64,
    events: Vec<String>,
    handled: usize,
    ignored: usize,
}

impl Summary {
    /// The app key the webhook came with.
    pub fn app_key(&self) -> Option<&str> {
        self.app_key.as_deref()
    }

    /// The payload's `time_ms`.
    pub fn time_ms(&self) -> u64 {
        self.time_ms
    }

    /// The event names, in payload order.
    pub fn events(&self) -> &[String] {
        &self.events
    }

    /// How many events ran at least one callback, all successfully.
    pub fn handled(&self) -> usize {
        self.handled
    }

    /// How many events had no callback registered for them.
    pub fn ignored(&self) -> usize {
        self.ignored
    }
}

/// One event that failed.
#[derive(Debug)]
pub struct EventFailure {
    index: usize,
    name: String,
    cause: FailureCause,
}

impl EventFailure {
    /// Its position in the payload, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why it failed.
    pub fn cause(&self) -> &FailureCause {
        &self.cause
    }
}

/// Why an event failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FailureCause {
    /// A callback returned an error.
    #[error("callback failed: {0}")]
    Callback(BoxError),
    /// The event is not a valid event of its kind (missing or mistyped field).
    #[error(transparent)]
    Decode(EventDecodeError),
}

/// The events of one invocation whose callbacks failed. The others ran.
#[derive(Debug)]
pub struct HandlerFailures {
    failures: Vec<EventFailure>,
    event_count: usize,
}

impl HandlerFailures {
    /// The failed events, in payload order (an event with several failing callbacks appears
    /// once per failure).
    pub fn failures(&self) -> &[EventFailure] {
        &self.failures
    }
}

impl fmt::Display for HandlerFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut failed: Vec<usize> = self.failures.iter().map(|f| f.index).collect();
        failed.dedup();
        write!(
            f,
            "{} of {} webhook events failed (the others ran): ",
            failed.len(),
            self.event_count
        )?;
        for (i, failure) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "#{} {}: {}", failure.index, failure.name, failure.cause)?;
        }
        Ok(())
    }
}

impl std::error::Error for HandlerFailures {}
