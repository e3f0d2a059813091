//! A batch of queue messages (an SQS event, a `ReceiveMessage` answer): delivered before a
//! deadline, with FIFO order kept within each message group, a group's jobs coalesced.

use std::time::Duration;

use tokio::task::JoinSet;

use super::accept::Accepted;
use super::outcome::{BatchOutcome, JobOutcome};
use crate::Sender;
use crate::deliver::Deadline;

/// One queue message holding a soketi job.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobMessage {
    /// The message id (what a partial batch response names).
    pub id: String,
    /// The FIFO message group (`<appId>_<queue>` from soketi); `None` on a standard queue.
    pub group: Option<String>,
    /// The message body: the job.
    pub body: String,
}

impl JobMessage {
    /// A message `id` of `group` holding `body`.
    pub fn new(id: impl Into<String>, group: Option<String>, body: impl Into<String>) -> Self {
        JobMessage {
            id: id.into(),
            group,
            body: body.into(),
        }
    }
}

impl Sender {
    /// Delivers a batch of queue messages before `deadline`, keeping FIFO order within each
    /// message group; different groups, and messages without a group, at the same time.
    ///
    /// Each job is read and verified first; a job that cannot be delivered at all (unknown
    /// app, no secret verifies, malformed) is [`JobOutcome::Rejected`] and does not hold back
    /// the rest of its group, which it can never be delivered before. The group's other jobs
    /// are then delivered in the batch's order:
    ///
    /// - **coalesced** (the default, [`SenderBuilder::coalesce_jobs`](crate::SenderBuilder)):
    ///   each webhook gets the group's events it wants in one payload (or as few as its size
    ///   limit allows), in order, stamped with the latest of the jobs' `time_ms` — one round
    ///   trip for the whole group;
    /// - or one job after the other, each its own payload.
    ///
    /// Either way every payload carries its events exactly as they stood in the jobs (the
    /// texts soketi wrote, re-signed) and names each event's job in its `job_events` member
    /// (see [`JobEventId`](soketi_handler_kit::wire::JobEventId)): a receiver using the kit's
    /// idempotency recognises an event delivered again whatever payload carries it. A group
    /// stops at its first job not delivered (the rest is [`JobOutcome::Skipped`], not sent,
    /// so that order holds when they come back), and a webhook's later payloads are not sent
    /// once one failed.
    ///
    /// **The deadline**: no delivery attempt starts whose timeout does not fit in the time
    /// left before `deadline` less its margin (a Lambda invocation's end, a worker's visibility
    /// timeout); what was not started is `Skipped`. A job already delivered is never left to
    /// time out with its batch, to be delivered again.
    ///
    /// Every message gets an outcome, even if a delivery task panics; rejected jobs are logged
    /// (error level, with the app key escaped and cut).
    ///
    /// ```
    /// use soketi_handler_kit::wire::{Secret, write_job};
    /// use soketi_lambda_sender::config::App;
    /// use soketi_lambda_sender::deliver::Deadline;
    /// use soketi_lambda_sender::jobs::JobMessage;
    /// use soketi_lambda_sender::{RegionFallback, Sender};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sender = Sender::builder()
    ///     .app(App::new("1", "app1key", "app1secret"))
    ///     .region_fallback(RegionFallback::None)
    ///     .build()
    ///     .await?;
    /// let payload = r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"}]}"#;
    /// let good = write_job("app1key", "1", payload, &Secret::new("app1secret"));
    /// let forged = write_job("app1key", "1", payload, &Secret::new("guess"));
    /// let group = Some("1_channel_occupied_webhooks".to_owned());
    /// let deadline = Deadline::after(std::time::Duration::from_secs(60));
    /// let outcome = sender
    ///     .deliver_jobs(
    ///         vec![
    ///             JobMessage::new("m1", group.clone(), forged),
    ///             JobMessage::new("m2", group, good),
    ///         ],
    ///         deadline,
    ///     )
    ///     .await;
    /// // The forged job does not hold back the next job of its group.
    /// assert_eq!(outcome.failed_ids().collect::<Vec<_>>(), ["m1"]);
    /// assert_eq!(outcome.counts().rejected, 1);
    /// # Ok(()) }
    /// ```
    pub async fn deliver_jobs(
        &self,
        messages: Vec<JobMessage>,
        deadline: Deadline,
    ) -> BatchOutcome {
        // The groups in first-seen order, each with its messages' positions in the batch.
        type Group = (Option<String>, Vec<(usize, JobMessage)>);
        let mut groups: Vec<Group> = Vec::new();
        let total = messages.len();
        let mut ids = Vec::with_capacity(total);
        for (position, message) in messages.into_iter().enumerate() {
            ids.push(message.id.clone());
            let slot = match &message.group {
                Some(group) => groups
                    .iter()
                    .position(|(g, _)| g.as_deref() == Some(group.as_str())),
                None => None,
            };
            match slot {
                Some(i) => groups[i].1.push((position, message)),
                None => groups.push((message.group.clone(), vec![(position, message)])),
            }
        }
        let mut tasks = JoinSet::new();
        for (_, group) in groups {
            let sender = self.clone();
            tasks.spawn(async move { sender.deliver_group(group, deadline).await });
        }
        let mut outcomes: Vec<Option<JobOutcome>> = (0..total).map(|_| None).collect();
        let mut batch = BatchOutcome::default();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(done) => {
                    for (position, outcome) in done.outcomes {
                        outcomes[position] = Some(outcome);
                    }
                    batch.coalesced += done.coalesced;
                    batch.latencies.extend(done.latencies);
                }
                // Deliveries are guarded; a group task ends early only on a bug or a runtime
                // shutting down. Its messages without an outcome go back to the queue.
                Err(e) => tracing::error!("a job group task failed: {e}"),
            }
        }
        batch.outcomes = ids
            .into_iter()
            .zip(outcomes)
            .map(|(id, outcome)| (id, outcome.unwrap_or(JobOutcome::Skipped)))
            .collect();
        batch
    }

    /// One message group: its jobs verified, then delivered in order, in runs (all of its
    /// jobs of one app when coalescing, else one job each), stopping at the first job not
    /// delivered.
    async fn deliver_group(
        &self,
        group: Vec<(usize, JobMessage)>,
        deadline: Deadline,
    ) -> GroupDone {
        let mut done = GroupDone::default();
        // (position in the batch, message id, job)
        let mut accepted: Vec<(usize, &str, Accepted<'_>)> = Vec::with_capacity(group.len());
        for (position, message) in &group {
            match self.accept(&message.body) {
                Ok(job) => accepted.push((*position, &message.id, job)),
                Err(error) => done
                    .outcomes
                    .push((*position, JobOutcome::rejected(&message.id, error))),
            }
        }
        let mut stopped = false;
        let mut rest = accepted.as_slice();
        while let Some((_, _, first)) = rest.first() {
            let len = match self.coalesces_jobs() {
                true => rest
                    .iter()
                    .take_while(|(_, _, job)| job.app == first.app)
                    .count(),
                false => 1,
            };
            let (run, after) = rest.split_at(len);
            rest = after;
            if stopped {
                done.outcomes
                    .extend(run.iter().map(|(p, _, _)| (*p, JobOutcome::Skipped)));
                continue;
            }
            let jobs: Vec<&Accepted<'_>> = run.iter().map(|(_, _, job)| job).collect();
            let result = self.deliver_run(&jobs, deadline).await;
            done.coalesced += result.coalesced;
            done.latencies.push(result.latency);
            for ((position, id, _), outcome) in run.iter().zip(result.outcomes) {
                stopped |= !outcome.is_delivered();
                done.outcomes.push((*position, outcome.logged(id)));
            }
        }
        done
    }
}

/// What a group's task gives back.
#[derive(Default)]
struct GroupDone {
    outcomes: Vec<(usize, JobOutcome)>,
    coalesced: usize,
    latencies: Vec<Duration>,
}
