//! What became of each message of a batch: [`JobOutcome`], [`BatchOutcome`], [`BatchCounts`].

use std::fmt;

use super::JobError;
use crate::deliver::Report;

/// What became of one message.
#[derive(Debug)]
#[non_exhaustive]
pub enum JobOutcome {
    /// Every webhook that wanted its events got them (or none wanted any): delete it.
    Delivered(Report),
    /// At least one delivery failed after the retry policy: return it to the queue (the
    /// report says which and why).
    Failed(Report),
    /// The job cannot be delivered (unknown app, no secret verifies, malformed): it is logged
    /// and returned to the queue, which moves it to its dead-letter queue after
    /// `maxReceiveCount` receives. It does not hold back the later jobs of its group, which
    /// it can never be delivered before.
    Rejected(JobError),
    /// Not tried: an earlier job of its message group failed, and FIFO order must hold. Return
    /// it to the queue.
    Skipped,
}

impl JobOutcome {
    /// The outcome of message `id` from what delivering its job gave; a failure or a rejection
    /// is logged (a rejection at error level, the app key escaped and cut).
    pub(super) fn of(id: &str, result: Result<Report, JobError>) -> JobOutcome {
        match result {
            Ok(report) if report.is_success() => JobOutcome::Delivered(report),
            Ok(report) => {
                for failed in report.failures() {
                    if let Some(failure) = failed.failure() {
                        tracing::warn!(
                            message_id = %id,
                            webhook = %failed.request.target.describe(),
                            kind = failure.kind.as_str(),
                            "a webhook of a queue job failed; the job returns to the queue: {failure}"
                        );
                    }
                }
                JobOutcome::Failed(report)
            }
            Err(error) => {
                tracing::error!(
                    message_id = %id,
                    kind = error.kind(),
                    app_key = %error.app_key_for_log(),
                    "a queue job was rejected; it returns to the queue and then to its \
                     dead-letter queue: {error}"
                );
                JobOutcome::Rejected(error)
            }
        }
    }

    /// Whether the message is done with (delete it) — only when delivered.
    pub fn is_delivered(&self) -> bool {
        matches!(self, JobOutcome::Delivered(_))
    }

    /// The stable name: `Delivered`, `Failed`, `Rejected`, `Skipped`.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobOutcome::Delivered(_) => "Delivered",
            JobOutcome::Failed(_) => "Failed",
            JobOutcome::Rejected(_) => "Rejected",
            JobOutcome::Skipped => "Skipped",
        }
    }
}

/// The outcome of each message of a batch, in the batch's order.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BatchOutcome {
    /// `(message id, outcome)`, in the order the messages were given.
    pub outcomes: Vec<(String, JobOutcome)>,
}

impl BatchOutcome {
    /// The ids of the messages to return to the queue (every one not delivered): a Lambda
    /// function's `batchItemFailures`.
    pub fn failed_ids(&self) -> impl Iterator<Item = &str> {
        self.outcomes
            .iter()
            .filter(|(_, o)| !o.is_delivered())
            .map(|(id, _)| id.as_str())
    }

    /// How many messages ended in each outcome.
    pub fn counts(&self) -> BatchCounts {
        let mut counts = BatchCounts::default();
        for (_, outcome) in &self.outcomes {
            match outcome {
                JobOutcome::Delivered(_) => counts.delivered += 1,
                JobOutcome::Failed(_) => counts.failed += 1,
                JobOutcome::Rejected(_) => counts.rejected += 1,
                JobOutcome::Skipped => counts.skipped += 1,
            }
        }
        counts
    }
}

/// Counts of a batch's outcomes (see [`JobOutcome`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchCounts {
    /// Delivered.
    pub delivered: usize,
    /// A delivery failed.
    pub failed: usize,
    /// Not deliverable (unknown app, bad signature, malformed).
    pub rejected: usize,
    /// Held back behind a failure of their group.
    pub skipped: usize,
}

impl BatchCounts {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: BatchCounts) {
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.rejected += other.rejected;
        self.skipped += other.skipped;
    }

    /// Messages counted.
    pub fn total(&self) -> usize {
        self.delivered + self.failed + self.rejected + self.skipped
    }
}

impl fmt::Display for BatchCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} delivered, {} failed, {} rejected, {} held back",
            self.delivered, self.failed, self.rejected, self.skipped
        )
    }
}
