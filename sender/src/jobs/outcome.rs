//! What became of each message of a batch: [`JobOutcome`], [`BatchOutcome`], [`BatchCounts`].

use std::fmt;
use std::time::Duration;

use super::JobError;
use crate::deliver::Report;

/// What became of one message.
#[derive(Debug)]
#[non_exhaustive]
pub enum JobOutcome {
    /// Every webhook that wanted its events got them (or none wanted any): delete it. A
    /// payload that carried several jobs (coalesced) is in the report of the first of them.
    Delivered(Report),
    /// At least one delivery failed after the retry policy: return it to the queue (the
    /// report says which and why).
    Failed(Report),
    /// The job cannot be delivered (unknown app, no secret verifies, malformed): it is
    /// logged. It does not hold back the later jobs of its group, which it can never be
    /// delivered before. A queue consumer moves it to its dead-letter queue.
    Rejected(JobError),
    /// Not tried: an earlier job of its message group was not delivered and FIFO order must
    /// hold, or the deadline left no time for it. Return it to the queue.
    Skipped,
}

impl JobOutcome {
    /// A rejection of message `id`, logged at error level (the app key escaped and cut).
    pub(super) fn rejected(id: &str, error: JobError) -> JobOutcome {
        tracing::error!(
            message_id = %id,
            kind = error.kind(),
            app_key = %error.app_key_for_log(),
            "a queue job was rejected: {error}"
        );
        JobOutcome::Rejected(error)
    }

    /// This outcome of message `id`, its failures logged.
    pub(super) fn logged(self, id: &str) -> JobOutcome {
        if let JobOutcome::Failed(report) = &self {
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
        }
        self
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

/// The outcome of each message of a batch, in the batch's order, and how its deliveries went.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BatchOutcome {
    /// `(message id, outcome)`, in the order the messages were given.
    pub outcomes: Vec<(String, JobOutcome)>,
    /// Payloads that carried the events of more than one job (coalesced deliveries).
    pub coalesced: usize,
    /// How long each run of a message group's jobs took to deliver (all its webhooks, retries
    /// included): with coalescing one per group, else one per job sent.
    pub latencies: Vec<Duration>,
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
        let mut counts = BatchCounts {
            coalesced: self.coalesced,
            ..BatchCounts::default()
        };
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
    /// Not tried: held back behind a failure of their group, or out of time.
    pub skipped: usize,
    /// Payloads that carried more than one job (not messages: not in [`BatchCounts::total`]).
    pub coalesced: usize,
}

impl BatchCounts {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: BatchCounts) {
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.rejected += other.rejected;
        self.skipped += other.skipped;
        self.coalesced += other.coalesced;
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
            "{} delivered, {} failed, {} rejected, {} skipped; {} coalesced deliveries",
            self.delivered, self.failed, self.rejected, self.skipped, self.coalesced
        )
    }
}
