//! What an invocation ends in: a [`Summary`], or the events that failed.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::BoxError;
use crate::wire::EventDecodeError;

/// What a successful invocation returns: the response of a `RequestResponse` invocation.
///
/// Serialized as `{"app_key":…,"time_ms":…,"events":[names…],"handled":n,"ignored":m}`, plus
/// `"skipped":k` when idempotency skipped events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The keyring's copy of the key, shared rather than copied.
    #[serde(serialize_with = "serialize_app_key")]
    pub(super) app_key: Option<Arc<str>>,
    pub(super) time_ms: u64,
    pub(super) events: Vec<Cow<'static, str>>,
    pub(super) handled: usize,
    pub(super) ignored: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub(super) skipped: usize,
}

fn serialize_app_key<S: serde::Serializer>(
    key: &Option<Arc<str>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    key.as_deref().serialize(serializer)
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// The app the webhook came from (`None` in single-secret mode); see
    /// [`Context::app_key`](crate::Context::app_key).
    pub fn app_key(&self) -> Option<&str> {
        self.app_key.as_deref()
    }

    /// The payload's `time_ms`.
    pub fn time_ms(&self) -> u64 {
        self.time_ms
    }

    /// The event names, in payload order.
    pub fn events(&self) -> &[Cow<'static, str>] {
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

    /// How many events were not run because they had been handled already: the same payload
    /// delivered again, with `Webhooks::idempotent` (feature `idempotency`) on.
    pub fn skipped(&self) -> usize {
        self.skipped
    }
}

/// One event that failed.
#[derive(Debug)]
pub struct EventFailure {
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) cause: FailureCause,
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
    /// A callback panicked; the message is the panic's, when it had one.
    #[error("callback panicked: {0}")]
    Panicked(String),
    /// The event is not a valid event of its kind (missing or mistyped field).
    #[error(transparent)]
    Decode(EventDecodeError),
    /// With idempotency on, another delivery of the same payload is running this event now;
    /// its callbacks did not run here. A retry finds it done (or its lease ended).
    #[cfg(feature = "idempotency")]
    #[error(
        "the same event of the same payload is being handled by another delivery right now; \
         retry later"
    )]
    InProgress,
    /// With idempotency on, the store failed: the event is failed rather than run twice or
    /// skipped on a guess (fail-closed; a retry runs it).
    #[cfg(feature = "idempotency")]
    #[error("idempotency store: {0}")]
    Store(crate::idempotency::StoreError),
}

/// The events of one invocation whose callbacks failed. The others ran.
#[derive(Debug)]
pub struct HandlerFailures {
    pub(super) failures: Vec<EventFailure>,
    pub(super) event_count: usize,
}

impl HandlerFailures {
    /// The failed events, in payload order (an event with several failing callbacks appears
    /// once per failure).
    pub fn failures(&self) -> &[EventFailure] {
        &self.failures
    }
}

/// At most this many failures are written out in the message; the rest are counted.
const LISTED_FAILURES: usize = 10;

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
        for (i, failure) in self.failures.iter().take(LISTED_FAILURES).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "#{} {}: {}", failure.index, failure.name, failure.cause)?;
        }
        if self.failures.len() > LISTED_FAILURES {
            write!(
                f,
                "; and {} more failures (see HandlerFailures::failures)",
                self.failures.len() - LISTED_FAILURES
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for HandlerFailures {}
