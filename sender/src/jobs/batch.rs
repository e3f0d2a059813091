//! A batch of queue messages (an SQS event, a `ReceiveMessage` answer): delivered with FIFO
//! order kept within each message group.

use soketi_handler_kit::wire::QueueJob;
use tokio::task::JoinSet;

use super::JobError;
use super::outcome::{BatchOutcome, JobOutcome};
use crate::Sender;

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
    /// Delivers a batch of queue messages: the messages of one message group one after the
    /// other, in the batch's order, stopping at the group's first failed delivery (the rest of
    /// the group is [`JobOutcome::Skipped`], not delivered, so that FIFO order holds when they
    /// come back); different groups, and messages without a group, at the same time.
    ///
    /// Every message gets an outcome, even if a delivery task panics; rejected jobs are logged
    /// (error level, with the app key escaped and cut).
    ///
    /// ```
    /// use soketi_handler_kit::wire::{Secret, write_job};
    /// use soketi_lambda_sender::config::App;
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
    /// let outcome = sender
    ///     .deliver_jobs(vec![
    ///         JobMessage::new("m1", group.clone(), forged),
    ///         JobMessage::new("m2", group, good),
    ///     ])
    ///     .await;
    /// // The forged job goes back to the queue (and on to its dead-letter queue); it does not
    /// // hold back the next job of its group.
    /// assert_eq!(outcome.failed_ids().collect::<Vec<_>>(), ["m1"]);
    /// assert_eq!(outcome.counts().rejected, 1);
    /// # Ok(()) }
    /// ```
    pub async fn deliver_jobs(&self, messages: Vec<JobMessage>) -> BatchOutcome {
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
            tasks.spawn(async move { sender.deliver_group(group).await });
        }
        let mut outcomes: Vec<Option<JobOutcome>> = (0..total).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(done) => {
                    for (position, outcome) in done {
                        outcomes[position] = Some(outcome);
                    }
                }
                // Deliveries are guarded; a group task ends early only on a bug or a runtime
                // shutting down. Its messages without an outcome go back to the queue.
                Err(e) => tracing::error!("a job group task failed: {e}"),
            }
        }
        let outcomes = ids
            .into_iter()
            .zip(outcomes)
            .map(|(id, outcome)| (id, outcome.unwrap_or(JobOutcome::Skipped)))
            .collect();
        BatchOutcome { outcomes }
    }

    /// One message group, in order, stopping at the first failed delivery.
    async fn deliver_group(&self, group: Vec<(usize, JobMessage)>) -> Vec<(usize, JobOutcome)> {
        let mut done = Vec::with_capacity(group.len());
        let mut failed = false;
        for (position, message) in group {
            if failed {
                done.push((position, JobOutcome::Skipped));
                continue;
            }
            let outcome = self.deliver_message(&message).await;
            failed = matches!(outcome, JobOutcome::Failed(_));
            done.push((position, outcome));
        }
        done
    }

    async fn deliver_message(&self, message: &JobMessage) -> JobOutcome {
        let result = match QueueJob::parse(&message.body) {
            Ok(job) => self.deliver_job(&job).await,
            Err(e) => Err(JobError::from(e)),
        };
        JobOutcome::of(&message.id, result)
    }
}
