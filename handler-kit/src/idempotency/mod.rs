//! Callbacks that run once per event (feature `idempotency`): [`Webhooks::idempotent`].
//!
//! Lambda retries a failed asynchronous invocation (up to twice, for up to six hours) and
//! senders retry timeouts, so the same payload can arrive more than once. Its signature
//! identifies the exact payload bytes (signed with that secret), and an event's index
//! identifies the event in it: each event whose callbacks all succeeded is recorded under
//! (namespace, signature, index) for a time to live, and skipped when it comes again
//! ([`Summary::skipped`](crate::Summary::skipped), and an `info` log line). The namespace (the
//! function's name by default, [`Webhooks::idempotency_namespace`]) keeps functions that share
//! a table from skipping each other's events.
//!
//! **Events from soketi's queue** carry their identity in the payload: a consumer of the queue
//! (the sender's delivery function or worker) delivers a job again after a failure, possibly
//! beside other jobs of its message group in one payload (coalescing), so the payload's
//! signature changes while the event does not. Such payloads name each event's job in their
//! signed member `job_events` (see [`JobEventId`](crate::wire::JobEventId)), and then the key
//! is (namespace, the job's `originalPusherSignature`, the event's index in that job): the same
//! whether the job came alone or coalesced, whatever the batch boundaries of each delivery.
//! (Two payloads sharing a signature hold the same bytes, so a job's signature and a
//! payload's never name different events.)
//!
//! Per event, with a store:
//!
//! 1. **claim**: the store records the event "in progress", owned by this delivery (a random
//!    [`Owner`] token), until a lease ends. A record already "done" means skip; one "in
//!    progress" whose lease has not ended means another delivery is running it now: the event
//!    fails (`InProgress`), the invocation fails and is retried, and by then the record says
//!    "done". A lease that ended (a crashed or timed-out run) is taken over by the next
//!    delivery, under its own token.
//! 2. the callbacks run;
//! 3. **complete** (all succeeded: "done" until the time to live ends) or **release** (one
//!    failed: the record is deleted, so a retry runs the callbacks again) — each only while
//!    the record is still this delivery's claim. A delivery whose lease ended and was taken
//!    over can neither mark the event done under the new holder nor delete its claim, so no
//!    third delivery runs beside the second.
//!
//! **The lease** is the time left before the invocation's deadline plus [`LEASE_MARGIN`],
//! whatever the transport (soketi's envelopes, Function URL, API Gateway, ALB, the tower
//! service): a retry of a timed-out invocation takes over a few seconds after its deadline,
//! and a long-running callback keeps its claim as long as Lambda lets it run. It is at most
//! [`MAX_LEASE`] (Lambda's longest timeout plus the margin). Without a deadline (outside
//! Lambda) it is [`Webhooks::idempotency_lease`], [`DEFAULT_LEASE`] by default.
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
//! [`Webhooks::idempotency_namespace`]: crate::Webhooks::idempotency_namespace

#[cfg(feature = "idempotency-dynamodb")]
mod dynamodb;
mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[cfg(feature = "idempotency-dynamodb")]
pub use dynamodb::DynamoDbStore;
pub use memory::MemoryStore;

use crate::wire::Signature;

/// How long a handled event is remembered by default: longer than Lambda's six hours of
/// retries.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a claim holds when the invocation's deadline is not known (outside Lambda).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5 * 60);
/// Added to the time left before the invocation's deadline to make a claim's lease.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// The longest lease: Lambda's longest timeout (15 minutes) plus [`LEASE_MARGIN`].
pub const MAX_LEASE: Duration = Duration::from_secs(15 * 60 + 5);

/// What a store returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Which event of which payload: the namespace (when there is one), the payload's signature
/// (lowercase hex) and the event's index — or, for a payload naming its events' queue jobs,
/// the job's signature and the event's index in it. Its text form,
/// `[<namespace>#]<signature>#<index>`, is what stores record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    text: String,
}

impl IdempotencyKey {
    /// The key of event `index` of the payload that `signature` signs, in `namespace`.
    ///
    /// ```
    /// use soketi_handler_kit::idempotency::IdempotencyKey;
    /// use soketi_handler_kit::wire::Secret;
    /// let signature = Secret::new("s").sign(b"{}");
    /// let key = IdempotencyKey::new(Some("webhooks-prod"), &signature, 2);
    /// assert_eq!(key.as_str(), format!("webhooks-prod#{signature}#2"));
    /// assert_eq!(IdempotencyKey::new(None, &signature, 0).as_str(), format!("{signature}#0"));
    /// ```
    pub fn new(namespace: Option<&str>, signature: &Signature, index: usize) -> Self {
        let text = match namespace.filter(|n| !n.is_empty()) {
            Some(namespace) => format!("{namespace}#{signature}#{index}"),
            None => format!("{signature}#{index}"),
        };
        IdempotencyKey { text }
    }

    /// `[<namespace>#]<signature>#<index>`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Who holds a claim: a random token (128 bits, hex) made once per delivery. A store completes
/// or releases a claim only for the owner that made it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    token: String,
}

impl Owner {
    /// A new random owner, from the operating system's random source.
    ///
    /// ```
    /// use soketi_handler_kit::idempotency::Owner;
    /// let (a, b) = (Owner::random()?, Owner::random()?);
    /// assert_ne!(a, b);
    /// assert_eq!(a.as_str().len(), 32);
    /// # Ok::<(), soketi_handler_kit::idempotency::StoreError>(())
    /// ```
    pub fn random() -> Result<Self, StoreError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| {
            StoreError::with_source("no random claim token could be made", e.to_string())
        })?;
        Ok(Owner {
            token: hex::encode(bytes),
        })
    }

    /// The token, as stores record it.
    pub fn as_str(&self) -> &str {
        &self.token
    }
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nothing recorded (or only an ended lease, or an expired record): now "in progress"
    /// for this owner, who runs the callbacks.
    Run,
    /// Handled already: skip it.
    Done,
    /// Another delivery holds it "in progress" now.
    InProgress,
}

/// What completing or releasing a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The claim was still this owner's: the record was written (or deleted).
    Recorded,
    /// The claim is not this owner's any more (its lease ended and another delivery took it
    /// over, or it is gone): nothing was changed.
    NotOwner,
}

/// Where handled events are recorded. Implementations must make each call atomic: of
/// concurrent claims of one key, one gets [`Claim::Run`]; `complete` and `release` change the
/// record only while it is the given owner's claim.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Records `key` "in progress" for `owner` for `lease`, unless it is done, or in progress
    /// under a lease that has not ended.
    fn claim<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, Claim>;
    /// Records `key` "done" for `ttl`, if it is still `owner`'s claim.
    fn complete<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        owner: &'a Owner,
        ttl: Duration,
    ) -> StoreFuture<'a, Settled>;
    /// Forgets `key` (its callbacks failed; a retry runs them), if it is still `owner`'s
    /// claim.
    fn release<'a>(&'a self, key: &'a IdempotencyKey, owner: &'a Owner)
    -> StoreFuture<'a, Settled>;
    /// What the store is (a table name), for messages.
    fn describe(&self) -> String;
}

/// The idempotency store failed (it could not be reached, or refused a write).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
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
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        StoreError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// A router's idempotency settings (a store makes them active).
#[derive(Clone)]
pub(crate) struct Idempotency {
    pub(crate) store: Option<Arc<dyn IdempotencyStore>>,
    pub(crate) ttl: Duration,
    pub(crate) lease: Duration,
    pub(crate) namespace: Option<String>,
}

impl Default for Idempotency {
    fn default() -> Self {
        Idempotency {
            store: None,
            ttl: DEFAULT_TTL,
            lease: DEFAULT_LEASE,
            namespace: None,
        }
    }
}

impl Idempotency {
    /// The lease of a claim made with `deadline` the invocation's end, if known: the time left
    /// plus the margin, at most [`MAX_LEASE`]; the configured lease without a deadline (or
    /// with one already past).
    pub(crate) fn lease_until(&self, deadline: Option<SystemTime>) -> Duration {
        deadline
            .and_then(|d| d.duration_since(SystemTime::now()).ok())
            .map_or(self.lease, |left| (left + LEASE_MARGIN).min(MAX_LEASE))
    }
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("store", &self.store.as_ref().map(|store| store.describe()))
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .field("namespace", &self.namespace)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_follows_the_deadline_within_bounds() {
        let settings = Idempotency::default();
        assert_eq!(settings.lease_until(None), DEFAULT_LEASE);
        let soon = SystemTime::now() + Duration::from_secs(60);
        let lease = settings.lease_until(Some(soon));
        assert!(
            lease > Duration::from_secs(60) && lease <= Duration::from_secs(65),
            "{lease:?}"
        );
        let far = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(settings.lease_until(Some(far)), MAX_LEASE);
        let past = SystemTime::now() - Duration::from_secs(1);
        assert_eq!(settings.lease_until(Some(past)), DEFAULT_LEASE);
    }
}
