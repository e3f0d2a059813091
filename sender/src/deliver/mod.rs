//! Transports (Lambda `Invoke`, HTTP `POST`), the retry policy and delivery reports.
//!
//! A request is sent until it is delivered, or until it fails for a reason that retrying
//! cannot fix, or until the retry policy's attempts or total time run out, or until the next
//! attempt would not fit before the [`Deadline`]. Throttling (429,
//! `TooManyRequestsException`, `EC2ThrottledException`; its own attempt budget, `Retry-After`
//! honoured), server errors (5xx and the Lambda errors a retry can cure, such as
//! `ResourceNotReadyException` or 409 `SnapStartNotReadyException`), timeouts and connection
//! errors are retried with exponential backoff and jitter; a function error and the other 4xx
//! are not. A request refused as too large (413, `RequestTooLargeException`) is split in two
//! halves, each signed again, down to one event (see [`Sender::deliver`](crate::Sender::deliver)).
//! Either way the outcome is a [`DeliveryReport`] that carries the signed request, so that a
//! failure can be stored and sent again ([`DeadLetter`]) — nothing is dropped without a
//! record. At most [`MAX_RESPONSE_BYTES`] of a response are kept.
//!
//! The AWS SDK's own retries are turned off, so that this policy is the one in force, and its
//! timeouts are set from the policy.
//!
//! A retried request may reach the function twice (a timeout does not say whether the function
//! ran): delivery is at least once, and handlers should be idempotent.
//!
//! Inside (each item has one public path, this module):
//! - `policy`: the [`RetryPolicy`];
//! - `deadline`: the [`Deadline`] no attempt may run past (a Lambda invocation's, a worker's
//!   visibility timeout);
//! - `report`: [`DeliveryReport`], [`Report`], [`Failure`] and its [`FailureKind`];
//! - `transport`: the retry loop, and the Lambda and HTTP transports (one file each);
//! - `dead_letter`: [`DeadLetter`], a failed delivery stored as one JSON line (no secret in
//!   it), and the line's versions;
//! - `replay`: how letters are sent again ([`Replay`]: to configured webhooks only,
//!   optionally re-signed), a whole file at once ([`Replay::plan`]);
//! - `sink`: dead-letter files — [`DeadLetterSink`] appends whole lines under a lock (or
//!   rewrites the file a replay read, keeping what was appended meanwhile),
//!   [`read_dead_letters`] reads them back, skipping and reporting lines that are not letters.

mod dead_letter;
mod deadline;
mod policy;
mod replay;
mod report;
mod sink;
mod transport;

pub use dead_letter::{DEAD_LETTER_VERSION, DeadLetter, DeadLetterError};
pub use deadline::{DEFAULT_DEADLINE_MARGIN, Deadline};
pub use policy::RetryPolicy;
pub use replay::{Replay, ReplayError, ReplayPlan, Skipped};
pub(crate) use report::truncate_text;
pub use report::{
    Delivered, DeliveryReport, Failure, FailureKind, MAX_RESPONSE_BYTES, Outcome, Report,
};
pub use sink::{
    DeadLetterFile, DeadLetterSink, LineError, ReadError, StoreError, parse_dead_letters,
    read_dead_letters,
};
pub(crate) use transport::Transport;
