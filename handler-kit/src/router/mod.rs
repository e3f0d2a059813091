//! The callback builder: verified events, in payload order, to typed async callbacks.
//!
//! - [`Webhooks`] (here): registering callbacks, indexed by event kind;
//! - `dispatch`: running the callbacks of each event of a verified payload (the entry points
//!   that verify first are the runtime's);
//! - [`Context`] and [`Invocation`]: what a callback learns besides its event;
//! - [`Summary`] and [`HandlerFailures`]: what an invocation ends in.

mod context;
mod dispatch;
mod outcome;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use context::{Context, Invocation};
pub use outcome::{EventFailure, FailureCause, HandlerFailures, Summary};

use crate::verify::Verifier;
use crate::wire::{self, Event, EventKind, KnownEvent, UnknownEvent};

/// A boxed error, as callbacks return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a callback returns: `Ok(())`, or any error (`?` converts it).
pub type CallbackResult = Result<(), BoxError>;

type BoxFuture = Pin<Box<dyn Future<Output = CallbackResult> + Send>>;
/// A callback with its event type erased: it takes the [`Event`] and unwraps its own type.
type Callback = Arc<dyn Fn(Event, Context) -> BoxFuture + Send + Sync>;
type ErrorHook = Arc<dyn Fn(&EventFailure, &Context) + Send + Sync>;

/// Slots of the callback table: one per known kind, then unknown events.
const KINDS: usize = EventKind::ALL.len();
const UNKNOWN_SLOT: usize = KINDS;

fn slot(kind: Option<EventKind>) -> usize {
    kind.map_or(UNKNOWN_SLOT, |kind| kind as usize)
}

#[derive(Clone, Default)]
struct Callbacks {
    /// Typed callbacks, by [`slot`].
    by_kind: [Vec<Callback>; KINDS + 1],
    any: Vec<Callback>,
    on_error: Option<ErrorHook>,
    #[cfg(feature = "idempotency")]
    idempotency: crate::idempotency::Idempotency,
}

/// The verified webhook router: typed async callbacks per event type.
///
/// Build it once (it is cheap to clone, `Send` and `Sync`), then hand it to
/// [`run`](crate::run), mount it as a `tower::Service` in `lambda_http` or axum (feature
/// `http`), or call [`Webhooks::verify_and_receive`] yourself (tests, custom runtimes). Events
/// run one at a time in payload order. When callbacks fail (return an error or panic), the
/// remaining events still run, and the invocation returns one [`HandlerFailures`] error
/// listing them, so that Lambda's retries or on-failure destination take over: make callbacks
/// idempotent. Several callbacks may be registered for the same type; they run in
/// registration order, after the `on_any` callbacks.
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
/// let response = webhooks.verify_and_receive(&body, "request-1").await?;
/// assert_eq!(response.summary().map(|s| s.handled()), Some(1));
/// # Ok::<(), soketi_handler_kit::Error>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
///
/// # Sharing state with callbacks
///
/// A callback is called once per event, so it must not give away what it captured: clone the
/// shared state (an `Arc`) into the closure, then once more per call before `async move`.
/// Moving the captured `Arc` itself into the `async move` block fails with E0507 ("cannot move
/// out of a captured variable in an `Fn` closure").
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};
/// use soketi_handler_kit::wire::MemberAdded;
///
/// let joined = Arc::new(AtomicUsize::new(0)); // a database pool, an HTTP client, …
/// let webhooks = Webhooks::new(Verifier::new(Keyring::single_secret("s3cret")))
///     .on_member_added({
///         let joined = Arc::clone(&joined); // one clone for the closure
///         move |_ev: MemberAdded, _cx: Context| {
///             let joined = Arc::clone(&joined); // one for this call's future
///             async move {
///                 joined.fetch_add(1, Ordering::Relaxed);
///                 Ok(())
///             }
///         }
///     });
/// # let _ = webhooks;
/// ```
#[derive(Clone)]
pub struct Webhooks {
    verifier: Verifier,
    callbacks: Arc<Callbacks>,
    /// The largest HTTP body answered (feature `http`; `None`: the default).
    #[cfg(feature = "http")]
    pub(crate) max_body_bytes: Option<usize>,
}

/// Wraps a typed callback so that it takes an [`Event`]: the router only hands it events of
/// its own slot, so the unwrapping always succeeds.
fn erase<E, F, Fut>(callback: F) -> Callback
where
    E: TryFrom<Event, Error = Event>,
    F: Fn(E, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CallbackResult> + Send + 'static,
{
    Arc::new(move |event, cx| match E::try_from(event) {
        Ok(event) => Box::pin(callback(event, cx)),
        Err(other) => {
            let message = format!(
                "event `{}` reached a callback of another type",
                other.name()
            );
            Box::pin(std::future::ready(Err(message.into())))
        }
    })
}

macro_rules! define_on_methods {
    ($($ty:ident => $name:literal, $on:ident, $doc:literal;)*) => {
        /// The `on_*` shortcuts, one per known event type: each is [`Webhooks::on`] for its type.
        impl Webhooks {
            $(
                #[doc = concat!("Runs `callback` for each `", $name, "` event ([`wire::", stringify!($ty), "`]).")]
                pub fn $on<F, Fut>(self, callback: F) -> Self
                where
                    F: Fn(wire::$ty, Context) -> Fut + Send + Sync + 'static,
                    Fut: Future<Output = CallbackResult> + Send + 'static,
                {
                    self.on::<wire::$ty, F, Fut>(callback)
                }
            )*
        }
    };
}

wire::with_event_types!(define_on_methods);

impl Webhooks {
    /// A router verifying with `verifier`, with no callbacks yet.
    pub fn new(verifier: Verifier) -> Self {
        Webhooks {
            verifier,
            callbacks: Arc::default(),
            #[cfg(feature = "http")]
            max_body_bytes: None,
        }
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Runs `callback` for each event of type `E`; the `on_*` methods are shortcuts for it.
    ///
    /// ```
    /// use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};
    /// use soketi_handler_kit::wire::MemberAdded;
    /// let webhooks = Webhooks::new(Verifier::new(Keyring::single_secret("s3cret")))
    ///     .on(|ev: MemberAdded, _cx: Context| async move {
    ///         println!("{} joined {}", ev.user_id, ev.channel);
    ///         Ok(())
    ///     });
    /// ```
    pub fn on<E, F, Fut>(self, callback: F) -> Self
    where
        E: KnownEvent,
        F: Fn(E, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CallbackResult> + Send + 'static,
    {
        self.push(E::KIND as usize, erase(callback))
    }

    /// Runs `callback` for each event whose name this version does not know. Without such
    /// a callback (or `on_any`), unknown events are logged as warnings and counted as
    /// ignored in the summary, never dropped silently.
    pub fn on_unknown<F, Fut>(self, callback: F) -> Self
    where
        F: Fn(UnknownEvent, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CallbackResult> + Send + 'static,
    {
        self.push(UNKNOWN_SLOT, erase(callback))
    }

    /// Runs `callback` for every event, known or not, before the typed callbacks.
    pub fn on_any<F, Fut>(mut self, callback: F) -> Self
    where
        F: Fn(Event, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CallbackResult> + Send + 'static,
    {
        let callback: Callback = Arc::new(move |event, cx| Box::pin(callback(event, cx)));
        Arc::make_mut(&mut self.callbacks).any.push(callback);
        self
    }

    fn push(mut self, slot: usize, callback: Callback) -> Self {
        Arc::make_mut(&mut self.callbacks).by_kind[slot].push(callback);
        self
    }

    /// Called once for each failed event (a callback error or panic, or an event that could
    /// not be decoded), before the invocation fails with all of them. The default logs each
    /// failure with `tracing::error!`; a hook replaces that.
    pub fn on_error<F>(mut self, hook: F) -> Self
    where
        F: Fn(&EventFailure, &Context) + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.callbacks).on_error = Some(Arc::new(hook));
        self
    }
}

/// Callbacks that run once per event (feature `idempotency`; see [`crate::idempotency`]). The
/// settings may be given in any order.
#[cfg(feature = "idempotency")]
impl Webhooks {
    /// Records each event whose callbacks all succeeded in `store`, under the payload's
    /// signature and the event's index, and skips it when the same payload comes again
    /// (counted in [`Summary::skipped`]). Two concurrent deliveries of one payload do not both
    /// run a callback: the second fails its event with [`FailureCause::InProgress`] and is
    /// retried. A store error fails the event (fail-closed). Events without callbacks are not
    /// recorded.
    ///
    /// ```
    /// use soketi_handler_kit::idempotency::MemoryStore;
    /// use soketi_handler_kit::testing::SignedEnvelope;
    /// use soketi_handler_kit::wire::{ChannelOccupied, Event};
    /// use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let webhooks = Webhooks::new(Verifier::new(Keyring::single_secret("s3cret")))
    ///     .on_channel_occupied(|_ev: ChannelOccupied, _cx: Context| async { Ok(()) })
    ///     .idempotent(MemoryStore::new());
    /// let body = SignedEnvelope::new("key", "s3cret")
    ///     .event(Event::channel_occupied("room"))
    ///     .to_bytes();
    /// let first = webhooks.verify_and_receive(&body, "first").await?;
    /// assert_eq!(first.summary().map(|s| s.handled()), Some(1));
    /// let again = webhooks.verify_and_receive(&body, "redelivered").await?;
    /// assert_eq!(again.summary().map(|s| (s.handled(), s.skipped())), Some((0, 1)));
    /// # Ok::<(), soketi_handler_kit::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn idempotent(mut self, store: impl crate::idempotency::IdempotencyStore) -> Self {
        Arc::make_mut(&mut self.callbacks).idempotency.store = Some(Arc::new(store));
        self
    }

    /// How long a handled event is remembered (default
    /// [`DEFAULT_TTL`](crate::idempotency::DEFAULT_TTL), 24 hours): longer than any
    /// redelivery (Lambda retries for up to six hours).
    pub fn idempotency_ttl(mut self, ttl: std::time::Duration) -> Self {
        Arc::make_mut(&mut self.callbacks).idempotency.ttl = ttl;
        self
    }

    /// How long a claim holds when the invocation's deadline is not known (outside Lambda;
    /// default [`DEFAULT_LEASE`](crate::idempotency::DEFAULT_LEASE), 5 minutes): a delivery
    /// that crashed blocks its events for that long at most. Under Lambda, on every
    /// transport, the lease is the time left before the invocation's deadline plus
    /// [`LEASE_MARGIN`](crate::idempotency::LEASE_MARGIN).
    pub fn idempotency_lease(mut self, lease: std::time::Duration) -> Self {
        Arc::make_mut(&mut self.callbacks).idempotency.lease = lease;
        self
    }

    /// The prefix of this router's records (default: the function's name, from the Lambda
    /// context; none outside Lambda), so that functions sharing a table do not skip each
    /// other's events. Give two functions the same namespace only if they handle the same
    /// events the same way.
    pub fn idempotency_namespace(mut self, namespace: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.callbacks).idempotency.namespace = Some(namespace.into());
        self
    }
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.callbacks;
        let mut s = f.debug_struct("Webhooks");
        s.field("verifier", &self.verifier);
        for kind in EventKind::ALL {
            s.field(kind.as_str(), &c.by_kind[kind as usize].len());
        }
        s.field("unknown", &c.by_kind[UNKNOWN_SLOT].len())
            .field("any", &c.any.len())
            .field("on_error", &c.on_error.is_some());
        #[cfg(feature = "idempotency")]
        s.field("idempotency", &c.idempotency);
        #[cfg(feature = "http")]
        s.field("max_body_bytes", &self.max_body_bytes);
        s.finish()
    }
}
