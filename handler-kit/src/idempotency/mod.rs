//! Callbacks that run once per event (feature `idempotency`): [`Webhooks::idempotent`].
//!
//! Lambda retries a failed asynchronous invocation (up to twice, for up to six hours) and
//! senders retry timeouts, so the same payload can arrive more than once. Its signature
//! identifies the exact payload bytes (signed with that secret), and an event's index
//! identifies the event in it: each event whose callbacks all succeeded is recorded under
//! (signature, index) for a time to live, and skipped when it comes again
//! ([`Summary::skipped`](crate::Summary::skipped), and an `info` log line).
//!
//! Per event, with a store:
//!
//! 1. **claim**: the store records the event "in progress" until a lease ends (the
//!    invocation's deadline under Lambda, plus a margin; [`Webhooks::idempotency_lease`]
//!    otherwise). A record already "done" means skip; one "in progress" whose lease has not
//!    ended means another delivery is running it now: the event fails (`InProgress`), the
//!    invocation fails and is retried, and by then the record says "done". A lease that ended
//!    (a crashed run) is taken over, so a crash never blocks an event for longer than a lease.
//! 2. the callbacks run;
//! 3. **complete** (all succeeded: "done" until the time to live ends) or **release** (one
//!    failed: the record is deleted, so a retry runs the callbacks again).
//!
//! **Fail-closed**: when the store cannot be read or written, the event fails (its callbacks
//! do not run when the claim failed) and so does the invocation, which Lambda retries. An
//! event is never skipped on a guess. If recording "done" fails after the callbacks ran, the
//! event is reported failed and a retry after the lease runs it again: delivery stays
//! at-least-once, never at-most-once.
//!
//! Stores: [`MemoryStore`] (one process: tests, or a long-running server) and, with the
//! feature `idempotency-dynamodb`, [`DynamoDbStore`].
//!
//! [`Webhooks::idempotent`]: crate::Webhooks::idempotent
//! [`Webhooks::idempotency_lease`]: crate::Webhooks::idempotency_lease

#[cfg(feature = "idempotency-dynamodb")]
mod dynamodb;
mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "idempotency-dynamodb")]
pub use dynamodb::DynamoDbStore;
pub use memory::MemoryStore;

use crate::error::BoxError;
use crate::wire::Signature;

/// How long a handled event is remembered by default: longer than Lambda's six hours of
/// retries.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a claim holds when the invocation's deadline is not known.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5 * 60);
/// Added to the time left before the invocation's deadline to make a claim's lease.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// What a store returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Which event of which payload: the payload's signature (lowercase hex) and the event's
/// index. Its text form, `<signature>#<index>`, is what stores record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    text: String,
}

impl IdempotencyKey {
    /// The key of event `index` of the payload that `signature` signs.
    ///
    /// ```
    /// use soketi_handler_kit::idempotency::IdempotencyKey;
    /// use soketi_handler_kit::wire::Secret;
    /// let signature = Secret::new("s").sign(b"{}");
    /// let key = IdempotencyKey::new(&signature, 2);
    /// assert_eq!(key.as_str(), format!("{signature}#2"));
    /// ```
    pub fn new(signature: &Signature, index: usize) -> Self {
        IdempotencyKey {
            text: format!("{signature}#{index}"),
        }
    }

    /// `<signature>#<index>`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nothing recorded (or only an ended lease, or an expired record): now "in progress"
    /// for this caller, who runs the callbacks.
    Run,
    /// Handled already: skip it.
    Done,
    /// Another delivery holds it "in progress" now.
    InProgress,
}

/// Where handled events are recorded. Implementations must make [`claim`](Self::claim)
/// atomic: of concurrent claims of one key, one gets [`Claim::Run`].
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Records `key` "in progress" for `lease` unless it is done, or in progress under a lease
    /// that has not ended.
    fn claim<'a>(&'a self, key: &'a IdempotencyKey, lease: Duration) -> StoreFuture<'a, Claim>;
    /// Records `key` "done" for `ttl`.
    fn complete<'a>(&'a self, key: &'a IdempotencyKey, ttl: Duration) -> StoreFuture<'a, ()>;
    /// Forgets an "in progress" record of `key` (its callbacks failed; a retry runs them).
    fn release<'a>(&'a self, key: &'a IdempotencyKey) -> StoreFuture<'a, ()>;
    /// What the store is (a table name), for messages.
    fn describe(&self) -> String;
}

/// The idempotency store failed (it could not be reached, or refused a write).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl StoreError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError {
            message: message.into(),
            source: None,
        }
    }

    /// An error saying `message`, caused by `source`.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// A router's idempotency settings.
#[derive(Clone)]
pub(crate) struct Idempotency {
    pub(crate) store: Arc<dyn IdempotencyStore>,
    pub(crate) ttl: Duration,
    pub(crate) lease: Duration,
}

impl Idempotency {
    pub(crate) fn new(store: Arc<dyn IdempotencyStore>) -> Self {
        Idempotency {
            store,
            ttl: DEFAULT_TTL,
            lease: DEFAULT_LEASE,
        }
    }

    /// The lease of a claim made with `deadline` the invocation's end, if known.
    pub(crate) fn lease_until(&self, deadline: Option<std::time::SystemTime>) -> Duration {
        deadline
            .and_then(|d| d.duration_since(std::time::SystemTime::now()).ok())
            .map_or(self.lease, |left| left + LEASE_MARGIN)
    }
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("store", &self.store.describe())
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .finish()
    }
}
